// SPDX-License-Identifier: Apache-2.0
/*
 * jit_lines PROG_ID: the loaded program's JIT address of each source line, one per
 * line ("ADDR FILE:LINE<TAB>SOURCE"), from its jited_line_info and BTF. With perf's
 * sample addresses (perf script -F ip,sym) this gives a line-level profile of the
 * JIT-compiled code without a disassembler (bench/profile.sh does both).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n, nj, rs, btf_id;
	struct btf *btf;
	void *li;
	__u64 *jli;
	int fd;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: jit_lines PROG_ID\n"
			"Prints ADDR FILE:LINE<TAB>SOURCE for every line-info record of a loaded\n"
			"BPF program (root). Exit 1 on errors.\n");
		return argc == 2 ? 0 : 2;
	}
	fd = bpf_prog_get_fd_by_id(atoi(argv[1]));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jit_lines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = info.nr_line_info;
	nj = info.nr_jited_line_info;
	rs = info.line_info_rec_size;
	btf_id = info.btf_id;
	if (!n || n != nj) {
		fprintf(stderr, "jit_lines: program %s has no JIT line info\n", argv[1]);
		return 1;
	}
	li = calloc(n, rs);
	jli = calloc(nj, sizeof(*jli));
	memset(&info, 0, sizeof(info));
	info.nr_line_info = n;
	info.line_info_rec_size = rs;
	info.line_info = (unsigned long)li;
	info.nr_jited_line_info = nj;
	info.jited_line_info_rec_size = sizeof(*jli);
	info.jited_line_info = (unsigned long)jli;
	len = sizeof(info);
	btf = btf__load_from_kernel_by_id(btf_id);
	if (!li || !jli || !btf || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jit_lines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (__u32 i = 0; i < n; i++) {
		const struct bpf_line_info *l = (const void *)((const char *)li + (size_t)i * rs);
		const char *file = btf__name_by_offset(btf, l->file_name_off);
		const char *src = btf__name_by_offset(btf, l->line_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		printf("%llx %s:%u\t%s\n", (unsigned long long)jli[i],
		       base ? base + 1 : file ? file : "?", l->line_col >> 10, src ? src : "");
	}
	btf__free(btf);
	free(li);
	free(jli);
	return 0;
}
