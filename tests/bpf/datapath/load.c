// SPDX-License-Identifier: Apache-2.0
/*
 * The programs load: every one passes the verifier (its counts printed); pins get a BPF
 * filesystem where there is none.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "agent/datapath/datapath.h"
#include "kgate_tc.skel.h"
#include "harness.h"
#include "kgate_tc.skel.h"

void test_verifier(void)
{
	const struct {
		const char *name;
		int fd;
	} progs[] = { { "kgate_xdp", dp.xdp_fd },
		      { "kgate_tc_egress", dp.tc_fd },
		      { "kgate_tc_ingress", dp.tci_fd },
		      { "kgate_sweep", bpf_program__fd(dp.tc->progs.kgate_sweep) } };

	printf("\n");
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		CU_ASSERT_EQUAL_FATAL(bpf_obj_get_info_by_fd(progs[i].fd, &info, &len), 0);
		printf("    %s: verifier processed %u instructions; %u xlated insns\n",
		       progs[i].name, info.verified_insns, info.xlated_prog_len / 8);
		CU_ASSERT(info.verified_insns > 0);
	}
}

/*
 * Pins need a BPF filesystem: in a mount namespace of its own (nothing outside sees it),
 * with /sys/fs/bpf unmounted, the default pin root gets one mounted; a directory on
 * another filesystem is refused with what to do.
 */
void test_bpffs_ensure(void)
{
	pid_t pid = fork();
	int status = -1;

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct statfs fs;
		char err[512];

		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    umount2("/sys/fs/bpf", MNT_DETACH))
			_exit(10);
		if (!statfs("/sys/fs/bpf", &fs) && (__u32)fs.f_type == 0xcafe4a11)
			_exit(11); /* still mounted: the case is not set up */
		if (kg_bpffs_ensure("/sys/fs/bpf/kgate/eth0", err, sizeof(err)))
			_exit(12);
		if (statfs("/sys/fs/bpf", &fs) || (__u32)fs.f_type != 0xcafe4a11)
			_exit(13);
		if (kg_bpffs_ensure("/tmp/kgate-not-bpffs/x", err, sizeof(err)) != -ENOTSUP ||
		    !strstr(err, "is not on a BPF filesystem") ||
		    !strstr(err, "mount -t bpf bpf /tmp"))
			_exit(14);
		_exit(0);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	if (WEXITSTATUS(status))
		printf("\n    bpffs case: step %d failed\n", WEXITSTATUS(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}
