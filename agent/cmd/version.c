// SPDX-License-Identifier: Apache-2.0
/*
 * kgate version: the semantic version (the VERSION file), the commit it was built from (git
 * describe), and what this host's kernel offers the datapath, probed the way libbpf does
 * (loading a trivial program or creating a small map and seeing whether the kernel takes
 * it). Nothing is attached and no interface is touched, so what depends on an interface
 * -- native XDP is the driver's to give -- is said to be unknown, never guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "agent/cmd/cmd.h"
#include "version.h" /* build/version.h, made by the Makefile */

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define BPFFS_PATH "/sys/fs/bpf"

struct version_args {
	int output;
};

static const struct kg_opt version_opts[] = {
	KG_OPT_OUTPUT(struct version_args, output, kg_output_text_json,
		      "text (default) or json: one object with version,\n"
		      "commit, libbpf and kernel (every probe's result)"),
	KG_OPT_END,
};

static int cmd_version(int argc, char **argv);

const struct kg_cmd kg_cmd_version = {
	.name = "version",
	.summary = "print the version and the kernel features kgate needs",
	.about = "Prints kgate's version (semantic version and the commit it was built from), the\n"
		 "libbpf it runs with, and what this host's kernel offers the datapath: BTF, a\n"
		 "BPF filesystem at " BPFFS_PATH ", the program types (XDP, XDP with fragments,\n"
		 "TC), the map types and the helpers kgate's programs use. Each is probed by\n"
		 "loading a trivial program or creating a small map, as libbpf's probes do; no\n"
		 "interface is touched. Probing needs CAP_BPF: without it a probe says unknown.\n"
		 "Native XDP is the interface driver's to give and is not probed here: 'kgate\n"
		 "run' reports an attach it cannot make (then --xdp-mode generic, or\n"
		 "--tc-ingress).\n",
	.opts = version_opts,
	.epilog = "Exit 0 (also when a feature is missing: the report says which).\n",
	.run = cmd_version,
};

/* A probe's answer: 1 yes, 0 no, < 0 unknown (-errno: the probe itself failed). */
struct feature {
	const char *name; /* JSON key */
	const char *text; /* what the text report calls it */
	bool needed;	  /* the datapath cannot load without it */
	bool bpf;	  /* the probe calls bpf(2): it means nothing without the right to */
	int (*probe)(const struct feature *);
	int arg, arg2;
	int got;
};

static int probe_prog(const struct feature *f)
{
	return libbpf_probe_bpf_prog_type(f->arg, NULL);
}

static int probe_map(const struct feature *f)
{
	return libbpf_probe_bpf_map_type(f->arg, NULL);
}

static int probe_helper(const struct feature *f)
{
	return libbpf_probe_bpf_helper(f->arg, f->arg2, NULL);
}

/* kgate_xdp is SEC("xdp.frags"): the kernel must take BPF_F_XDP_HAS_FRAGS (5.18+). */
static int probe_xdp_frags(const struct feature *f)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = BPF_F_XDP_HAS_FRAGS);
	int fd;

	(void)f;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", insns, 2, &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno == EINVAL ? 0 : -errno;
}

static int probe_btf(const struct feature *f)
{
	(void)f;
	return access(BTF_PATH, R_OK) == 0 ? 1 : errno == ENOENT ? 0 : -errno;
}

static int probe_bpffs(const struct feature *f)
{
	struct statfs st;

	(void)f;
	if (statfs(BPFFS_PATH, &st))
		return errno == ENOENT ? 0 : -errno;
	return st.f_type == BPF_FS_MAGIC;
}

#define PROG(n, t, type)                                                                           \
	{.name = n, .text = t, .needed = true, .bpf = true, .probe = probe_prog, .arg = type}
#define MAP(n, t, type)                                                                            \
	{.name = n, .text = t, .needed = true, .bpf = true, .probe = probe_map, .arg = type}
#define XDP_HELPER(fn)                                                                             \
	{.name = "bpf_" #fn, .text = "helper bpf_" #fn " (XDP)", .needed = true, .bpf = true,      \
	 .probe = probe_helper, .arg = BPF_PROG_TYPE_XDP, .arg2 = BPF_FUNC_##fn}

/* What the datapath's programs use that a kernel may lack (bpf/: program types, map
 * types, and the helpers newer than the ring buffer's 5.8; the TC side's skb helpers are
 * all older). BTF is reported but not needed: the programs use no CO-RE relocation. */
static struct feature features[] = {
	{.name = "btf", .text = "BTF (" BTF_PATH ")", .probe = probe_btf},
	{.name = "bpffs", .text = "BPF filesystem at " BPFFS_PATH, .probe = probe_bpffs},
	PROG("xdp", "XDP programs", BPF_PROG_TYPE_XDP),
	{.name = "xdp_frags", .text = "XDP with fragments (xdp.frags)", .needed = true, .bpf = true,
	 .probe = probe_xdp_frags},
	PROG("tc", "TC programs (sched_cls)", BPF_PROG_TYPE_SCHED_CLS),
	MAP("ringbuf", "ring buffer maps", BPF_MAP_TYPE_RINGBUF),
	MAP("lru_hash", "LRU hash maps", BPF_MAP_TYPE_LRU_HASH),
	MAP("stack", "stack maps (the flow pool)", BPF_MAP_TYPE_STACK),
	MAP("lpm_trie", "LPM trie maps", BPF_MAP_TYPE_LPM_TRIE),
	MAP("percpu_array", "per-CPU array maps", BPF_MAP_TYPE_PERCPU_ARRAY),
	MAP("devmap", "device maps (redirect)", BPF_MAP_TYPE_DEVMAP),
	XDP_HELPER(loop),
	XDP_HELPER(xdp_load_bytes),
	XDP_HELPER(xdp_store_bytes),
	XDP_HELPER(xdp_get_buff_len),
	XDP_HELPER(ringbuf_reserve),
	XDP_HELPER(probe_read_kernel),
};

#define NFEATURES (sizeof(features) / sizeof(features[0]))

/* libbpf says why a probe failed on stderr; the report says it once instead. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/*
 * Whether this process may use bpf(2) at all: libbpf's probes read a refusal (EPERM) as
 * "not supported" for program and map types and as "supported" for helpers, so without
 * the right every such probe is reported unknown instead. 0, or -errno.
 */
static int bpf_allowed(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static const char *answer(int got)
{
	return got > 0 ? "yes" : got == 0 ? "no" : "unknown";
}

static int cmd_version(int argc, char **argv)
{
	struct version_args a = {0};
	libbpf_print_fn_t old;
	struct utsname u;
	int rc = kg_opt_parse(&kg_cmd_version, argc, argv, &a), unknown = 0, missing = 0, allowed;

	if (rc)
		return rc;
	kg_json_doc(false);
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	old = libbpf_set_print(quiet);
	allowed = bpf_allowed();
	for (size_t i = 0; i < NFEATURES; i++) {
		features[i].got = features[i].bpf && allowed ? allowed : features[i].probe(&features[i]);
		unknown += features[i].got < 0;
		missing += features[i].needed && features[i].got == 0;
	}
	libbpf_set_print(old);
	if (kg_json_on()) {
		kg_json_item();
		printf("{\"version\":\"%s\",\"commit\":\"%s\",\"libbpf\":\"%s\",\"kernel\":{"
		       "\"release\":",
		       KGATE_SEMVER, KGATE_COMMIT, libbpf_version_string());
		kg_json_fput(stdout, u.release);
		printf(",\"machine\":");
		kg_json_fput(stdout, u.machine);
		for (size_t i = 0; i < NFEATURES; i++)
			printf(",\"%s\":%s", features[i].name,
			       features[i].got > 0 ? "true" : features[i].got ? "null" : "false");
		printf(",\"xdp_native\":null,\"datapath_ready\":%s}}\n",
		       missing ? "false" : unknown ? "null" : "true");
		return 0;
	}
	printf("kgate %s (commit %s), libbpf %s\n", KGATE_SEMVER, KGATE_COMMIT,
	       libbpf_version_string());
	printf("kernel %s (%s)\n", u.release, u.machine);
	for (size_t i = 0; i < NFEATURES; i++) {
		char err[64] = "";

		if (features[i].got < 0)
			snprintf(err, sizeof(err), " (%s)", strerror(-features[i].got));
		printf("  %-34s %s%s%s\n", features[i].text, answer(features[i].got), err,
		       !features[i].needed && !strcmp(features[i].name, "btf")
			       ? ", not needed: no CO-RE in kgate's programs"
			       : "");
	}
	printf("  %-34s %s\n", "XDP native mode",
	       "per interface, the driver's to give: not probed");
	if (missing)
		printf("datapath: this kernel lacks %d feature%s marked no above; kgate run "
		       "cannot load\n",
		       missing, missing == 1 ? "" : "s");
	else if (unknown)
		printf("datapath: %d probe%s could not run (as root, or with CAP_BPF, they can)\n",
		       unknown, unknown == 1 ? "" : "s");
	else
		printf("datapath: every feature kgate run needs is there\n");
	return 0;
}
