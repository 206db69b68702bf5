// SPDX-License-Identifier: Apache-2.0
/*
 * What the per-interface reports (kgate flows, kgate stats) share: their options
 * (--iface IF, -o text|json) and the walk over every pinned interface when no --iface
 * is given.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"

#define KG_REPORT_MAX_IFACES 64

int kg_iface_report(const struct kg_cmd *cmd, int argc, char **argv, kg_iface_report_fn one)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE];
	struct kg_names_cache *nc;
	const char *iface = NULL;
	bool json = false;
	int n, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iface") || !strcmp(argv[i], "-o")) {
			if (i + 1 >= argc)
				return kg_usage_error(cmd, "option '%s' needs a value", argv[i]);
			if (argv[i][1] == 'o') {
				if (!strcmp(argv[i + 1], "json"))
					json = true;
				else if (strcmp(argv[i + 1], "text"))
					return kg_usage_error(cmd, "unknown output format '%s'",
							      argv[i + 1]);
			} else {
				iface = argv[i + 1];
			}
			i++;
		} else {
			return kg_usage_error(cmd, "unexpected argument '%s'", argv[i]);
		}
	}
	if (iface) {
		snprintf(ifaces[0], IF_NAMESIZE, "%s", iface);
		n = 1;
	} else if (!(n = kg_runtime_list(ifaces, KG_REPORT_MAX_IFACES))) {
		fprintf(stderr, "kgate %s: no kgate datapath is pinned under %s\n", cmd->name,
			kg_pin_root());
		return 1;
	}
	nc = kg_names_cache_new();
	if (!nc)
		return 1;
	for (int i = 0; i < n; i++)
		if (one(ifaces[i], nc, json))
			rc = 1;
	kg_names_cache_free(nc);
	return rc;
}
