// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy show: the active policy of each interface, read from the pinned maps (the
 * generation and its config) and the policy store (the rules as written).
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

static int policy_show(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_show = {
	.name = "policy show",
	.summary = "the active policy: version, generation, rules",
	.about = "The active policy of IF (every pinned interface when omitted): version, version\n"
		 "id, generation, mode, default action, listeners, the quarantine interface and\n"
		 "the rules in evaluation order, read from the maps and the policy store; whether\n"
		 "it is paused ('kgate policy pause': mode monitor) and an apply that awaits its\n"
		 "confirm.\n",
	.opts = kg_iface_report_opts,
	.epilog = "Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n",
	.run = policy_show,
};

static int show_one(const char *iface, struct kg_names_cache *nc, bool json)
{
	const struct kg_stored_policy *sp;
	struct kg_store_state st;
	struct kg_config cfg;
	char when[40] = "";
	struct kg_maps m;
	char qname[IF_NAMESIZE] = "";
	int gen, e;

	if (kg_cmd_open_maps(&kg_cmd_policy_show, iface, &m))
		return -1;
	e = kg_active_config(&m, &gen, &cfg);
	kg_maps_close(&m);
	if (e) {
		fprintf(stderr, "kgate policy show: %s: reading the active policy: %s\n", iface,
			strerror(-e));
		return -1;
	}
	if (cfg.redirect_ifindex && !if_indextoname(cfg.redirect_ifindex, qname))
		snprintf(qname, sizeof(qname), "#%u", cfg.redirect_ifindex);
	sp = kg_names_lookup(nc, cfg.version_id);
	kg_store_state(iface, &st);
	if (st.has_pending)
		kg_time_text(st.pending.deadline_ns, when, sizeof(when));
	if (json) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, iface);
		printf(",\"generation\":%d,\"version_id\":%u,\"version\":", gen, cfg.version_id);
		kg_json_fput(stdout, sp ? sp->p.version : NULL);
		printf(",\"mode\":\"%s\",\"default\":\"%s\",\"quarantine_ifindex\":%u,"
		       "\"listeners\":[",
		       kg_mode_name(cfg.mode), kg_action_names[cfg.default_action % KG_ACT__COUNT],
		       cfg.redirect_ifindex);
		for (int i = 0, first = 1; i < KG_MAX_LISTENERS; i++) {
			if (!cfg.listeners[i])
				continue;
			printf("%s{\"port\":%u,\"on_undecodable\":\"%s\"}", first ? "" : ",",
			       cfg.listeners[i],
			       kg_action_names[cfg.on_undecodable[i] % KG_ACT__COUNT]);
			first = 0;
		}
		printf("],\"paused\":%s,\"pending\":", st.paused ? "true" : "false");
		if (st.has_pending)
			printf("{\"version_id\":%u,\"revert_to\":%u,\"confirm_by\":\"%s\"}",
			       st.pending.id, st.pending.revert_to, when);
		else
			printf("null");
		printf(",\"stored\":");
		kg_json_fput(stdout, sp ? sp->path : NULL);
		printf(",\"rules\":");
		if (sp) {
			printf("[");
			for (int i = 0; i < sp->p.nrules; i++) {
				if (i)
					printf(",");
				printf("{\"id\":%d,\"name\":", i);
				kg_json_fput(stdout, sp->p.rules[i].name);
				kg_policy_rule_print(stdout, &sp->p.rules[i], true);
			}
			printf("]");
		} else {
			printf("null");
		}
		printf("}\n");
		return 0;
	}
	if (!cfg.version_id) {
		printf("%s: no policy applied (generation %d): every connection passes\n", iface,
		       gen);
		return 0;
	}
	printf("%s: policy \"%s\" (version id %u), generation %d, mode %s, default %s\n", iface,
	       sp ? sp->p.version : "?", cfg.version_id, gen, kg_mode_name(cfg.mode),
	       kg_action_names[cfg.default_action % KG_ACT__COUNT]);
	printf("  listeners:");
	for (int i = 0; i < KG_MAX_LISTENERS; i++)
		if (cfg.listeners[i])
			printf(" %u (on_undecodable %s)", cfg.listeners[i],
			       kg_action_names[cfg.on_undecodable[i] % KG_ACT__COUNT]);
	printf("\n");
	if (st.paused)
		printf("  paused: decides in monitor mode, enforces nothing ('kgate policy resume')\n");
	if (st.has_pending)
		printf("  awaits 'kgate policy confirm' until %s, else back to version id %u\n", when,
		       st.pending.revert_to);
	if (*qname)
		printf("  quarantine: %s\n", qname);
	if (!sp) {
		printf("  rules: not in the policy store (%s)\n", kg_state_dir());
		return 0;
	}
	printf("  stored: %s\n  rules (%d, first match wins):\n", sp->path, sp->p.nrules);
	for (int i = 0; i < sp->p.nrules; i++) {
		printf("    %d %s:", i, sp->p.rules[i].name);
		kg_policy_rule_print(stdout, &sp->p.rules[i], false);
		printf("\n");
	}
	return 0;
}

static int policy_show(int argc, char **argv)
{
	return kg_iface_report(&kg_cmd_policy_show, argc, argv, show_one);
}
