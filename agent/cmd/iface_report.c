// SPDX-License-Identifier: Apache-2.0
/*
 * What the per-interface commands share: the interfaces to act on (--iface IF, or every
 * one pinned), their maps, their option tables, and for the reports (kgate flows, kgate
 * stats) the walk.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

int kg_target_ifaces(const struct kg_cmd *cmd, const char *iface, char out[][IF_NAMESIZE])
{
	int n;

	if (iface) {
		snprintf(out[0], IF_NAMESIZE, "%s", iface);
		return 1;
	}
	n = kg_runtime_list(out, KG_REPORT_MAX_IFACES);
	if (!n)
		fprintf(stderr, "kgate %s: no kgate datapath is pinned under %s (start 'kgate run' "
				"first)\n",
			cmd->name, kg_pin_root());
	if (n <= KG_REPORT_MAX_IFACES)
		return n;
	fprintf(stderr, "kgate %s: %d interfaces are pinned under %s, more than the %d one command "
			"walks: name one with --iface\n",
		cmd->name, n, kg_pin_root(), KG_REPORT_MAX_IFACES);
	return 0;
}

int kg_cmd_open_maps(const struct kg_cmd *cmd, const char *iface, struct kg_maps *m)
{
	char err[600];

	if (!kg_runtime_maps(iface, m, err, sizeof(err)))
		return 0;
	fprintf(stderr, "kgate %s: %s: no kgate datapath (%s)\n", cmd->name, iface, err);
	return -1;
}

const struct kg_opt kg_iface_report_opts[] = {
	KG_OPT_STR("iface", "IF", struct kg_iface_args, iface,
		   "the interface (default: every pinned one)"),
	KG_OPT_OUTPUT(struct kg_iface_args, output, kg_output_text_json,
		      "text (default), or json: with --iface one object,\n"
		      "else an array of one per pinned interface"),
	KG_OPT_END,
};

int kg_iface_report(const struct kg_cmd *cmd, int argc, char **argv, kg_iface_report_fn one)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE];
	struct kg_iface_args a = {0};
	struct kg_names_cache *nc;
	int n, rc;

	if ((rc = kg_opt_parse(cmd, argc, argv, &a)))
		return rc;
	/* --iface IF: its object; every pinned interface: an array of them */
	kg_json_doc(!a.iface);
	n = kg_target_ifaces(cmd, a.iface, ifaces);
	if (!n)
		return 1;
	nc = kg_names_cache_new();
	if (!nc)
		return 1;
	for (int i = 0; i < n; i++)
		if (one(ifaces[i], nc, a.output == 1))
			rc = 1;
	kg_names_cache_free(nc);
	return rc;
}
