// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy apply: a policy file swapped in on the running datapath through the pinned
 * maps (agent or no agent): agent/policy/store.h does the apply.
 */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

static int policy_apply(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_apply = {
	.name = "policy apply",
	.summary = "swap a policy in atomically on the running datapath",
	.about = "Validates FILE, then swaps it in atomically on the running datapath of IF (every\n"
		 "interface pinned under /sys/fs/bpf/kgate when --iface is omitted), with or\n"
		 "without 'kgate run': the new policy is written into the inactive generation and\n"
		 "one word flips. Established connections are re-evaluated under the new policy.\n"
		 "The policy is kept in the store (/var/lib/kgate/IF/policies/ID.yaml) under a new\n"
		 "version id. Prints, per interface, the old and the new version, generation and\n"
		 "version id, the time the write took and the time the swap took (us). With\n"
		 "-o json also load_ms: reading, parsing and compiling FILE.\n",
	.opts = kg_iface_file_opts,
	.epilog = "A broken FILE is refused with FILE:LINE:COL: message and the running policy\n"
		  "stays. Exit 0 when applied everywhere, 1 on an error, 2 on usage errors.\n",
	.run = policy_apply,
};

static int policy_apply(int argc, char **argv)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE], err[1024];
	struct kg_iface_args a = {0};
	struct kg_policy_file f;
	double load_ms;
	__u64 t0;
	int n, rc, load_fail;

	if ((rc = kg_opt_parse(&kg_cmd_policy_apply, argc, argv, &a)))
		return rc;
	kg_json_doc(!a.iface);
	t0 = kg_mono_ns();
	load_fail = kg_policy_file_load(&f, a.file, err, sizeof(err));
	load_ms = (kg_mono_ns() - t0) / 1e6;
	if (load_fail) {
		fprintf(stderr, "%s\n", err);
		fprintf(stderr, "kgate policy apply: %s refused; the running policy stays\n",
			a.file);
		kg_policy_file_free(&f);
		return 1;
	}
	n = kg_target_ifaces(&kg_cmd_policy_apply, a.iface, ifaces);
	if (!n)
		rc = 1;
	for (int i = 0; i < n; i++) {
		struct kg_apply_result r;
		struct kg_maps m;

		if (kg_cmd_open_maps(&kg_cmd_policy_apply, ifaces[i], &m)) {
			rc = 1;
			continue;
		}
		if (kg_policy_apply(ifaces[i], &m, &f, false, &r, err, sizeof(err))) {
			fprintf(stderr, "kgate policy apply: %s: %s\n", ifaces[i], err);
			rc = 1;
		} else if (a.output) {
			kg_json_item();
			printf("{\"iface\":");
			kg_json_fput(stdout, ifaces[i]);
			printf(",\"old\":{\"version\":");
			kg_json_fput(stdout, r.old_id ? r.old_version : NULL);
			printf(",\"version_id\":%u,\"generation\":%d},\"new\":{\"version\":",
			       r.old_id, r.old_gen);
			kg_json_fput(stdout, r.new_version);
			printf(",\"version_id\":%u,\"generation\":%d},\"rules\":%u,"
			       "\"load_ms\":%.1f,\"write_us\":%.1f,\"swap_us\":%.1f}\n",
			       r.new_id, r.new_gen, f.c.nrules, load_ms, r.write_us, r.swap_us);
		} else {
			printf("%s: \"%s\" (version id %u, generation %d) -> \"%s\" (version id "
			       "%u, "
			       "generation %d): %u rules written in %.0f us, swapped in %.1f us\n",
			       ifaces[i], r.old_id ? r.old_version : "none", r.old_id, r.old_gen,
			       r.new_version, r.new_id, r.new_gen, f.c.nrules, r.write_us,
			       r.swap_us);
		}
		kg_maps_close(&m);
	}
	kg_policy_file_free(&f);
	return rc;
}
