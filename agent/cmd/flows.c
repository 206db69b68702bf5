// SPDX-License-Identifier: Apache-2.0
/*
 * kgate flows: the connections the datapath tracks (the pinned kg_flows map), with the
 * names of their ids taken from the policy generation that assigned them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

static int cmd_flows(int argc, char **argv);

const struct kg_cmd kg_cmd_flows = {
	.name = "flows",
	.summary = "connections the datapath tracks",
	.about = "Lists the connections tracked on IF (every pinned interface when omitted):\n"
		 "client and broker address and port, the principal and where it came from\n"
		 "(anonymous, identity CIDR, SASL), the source region, requests decoded, topic\n"
		 "decisions made, payload bytes decided, and the flow's state (reset, drop:\n"
		 "black-holed, undecodable: passed undecided, midstream: first seen without a\n"
		 "SYN, redirect: sent to quarantine). Names come from the policy generation the\n"
		 "flow was classified under.\n",
	.opts = kg_iface_report_opts,
	.epilog = "Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n",
	.run = cmd_flows,
};

static const struct {
	__u8 bit;
	const char *name;
} flow_states[] = {
	{KG_FLOW_RESET, "reset"},	{KG_FLOW_DROP, "drop"},
	{KG_FLOW_DEAD, "undecodable"},	{KG_FLOW_MIDSTREAM, "midstream"},
	{KG_FLOW_REDIRECT, "redirect"},
};

static void addr_port(char *out, size_t len, const __u8 *addr, __u16 port_be, __u8 family)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(out, len, family == 6 ? "[%s]:%u" : "%s:%u", a, ntohs(port_be));
}

static void state_text(char *out, size_t len, __u8 flags)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < sizeof(flow_states) / sizeof(flow_states[0]); i++)
		if (flags & flow_states[i].bit)
			n += snprintf(out + n, len > n ? len - n : 0, "%s%s", n ? "," : "",
				      flow_states[i].name);
	if (!n)
		snprintf(out, len, "ok");
}

static int flows_one(const char *iface, struct kg_names_cache *nc, bool json)
{
	struct bpf_map_info info = {0};
	__u32 ilen = sizeof(info);
	struct kg_flow_key key, *prev = NULL;
	struct kg_flow *f = NULL;
	struct kg_maps m;
	__u32 version[2] = {0, 0};
	int n = 0, rc = 0;

	if (kg_cmd_open_maps(&kg_cmd_flows, iface, &m))
		return -1;
	/* a datapath built from another ABI would be misread: refuse */
	if (bpf_obj_get_info_by_fd(m.flows, &info, &ilen) ||
	    info.value_size != sizeof(struct kg_flow) || info.key_size != sizeof(key)) {
		fprintf(stderr,
			"kgate flows: %s: kg_flows holds %u-byte flows, this kgate knows %zu-byte "
			"ones (a datapath of another version)\n",
			iface, info.value_size, sizeof(struct kg_flow));
		kg_maps_close(&m);
		return -1;
	}
	for (__u32 g = 0; g < 2; g++) {
		struct kg_config cfg;

		if (!bpf_map_lookup_elem(m.config, &g, &cfg))
			version[g] = cfg.version_id;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		kg_maps_close(&m);
		return -1;
	}
	if (json) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, iface);
		printf(",\"flows\":[");
	} else {
		printf("%s:\n  %-22s %-22s %-16s %-9s %-10s %8s %7s %12s %s\n", iface, "CLIENT",
		       "BROKER", "PRINCIPAL", "SOURCE", "REGION", "REQUESTS", "TOPICS", "BYTES",
		       "STATE");
	}
	while (!bpf_map_get_next_key(m.flows, prev, &key)) {
		const struct kg_stored_policy *sp;
		char cli[64], srv[64], princ[KD_USER_MAX + 1] = "", state[64];
		const char *region = "";

		prev = &key;
		if (bpf_map_lookup_elem(m.flows, &key, f))
			continue; /* evicted between the two calls */
		sp = kg_names_lookup(nc, version[f->gen & 1]);
		addr_port(cli, sizeof(cli), f->key.saddr, f->key.sport, f->key.family);
		addr_port(srv, sizeof(srv), f->key.daddr, f->key.dport, f->key.family);
		if (f->principal_len)
			memcpy(princ, f->principal,
			       f->principal_len < KD_USER_MAX ? f->principal_len : KD_USER_MAX);
		else if (sp && f->principal_id < KG_MAX_PRINCIPALS)
			snprintf(princ, sizeof(princ), "%s",
				 sp->c.principal_names[f->principal_id]);
		if (sp && f->region_id < KG_MAX_REGIONS && f->region_id != KG_REGION_NONE)
			region = sp->c.region_names[f->region_id];
		state_text(state, sizeof(state), f->flags);
		if (json) {
			printf("%s{\"client\":", n ? "," : "");
			kg_json_fput(stdout, cli);
			printf(",\"broker\":");
			kg_json_fput(stdout, srv);
			printf(",\"family\":%u,\"principal\":", f->key.family);
			kg_json_fput(stdout, princ);
			printf(",\"principal_id\":%u,\"principal_source\":\"%s\",\"region\":",
			       f->principal_id, kg_psrc_name(f->principal_src));
			kg_json_fput(stdout, region);
			printf(",\"region_id\":%u,\"requests\":%u,\"topic_decisions\":%u,"
			       "\"bytes\":%llu,\"generation\":%u,\"version_id\":%u,\"state\":[",
			       f->region_id, f->requests, f->topics, (unsigned long long)f->bytes,
			       f->gen & 1, version[f->gen & 1]);
			for (size_t i = 0, k = 0; i < sizeof(flow_states) / sizeof(flow_states[0]);
			     i++)
				if (f->flags & flow_states[i].bit)
					printf("%s\"%s\"", k++ ? "," : "", flow_states[i].name);
			printf("]}");
		} else {
			printf("  %-22s %-22s %-16s %-9s %-10s %8u %7u %12llu %s\n", cli, srv,
			       *princ ? princ : "-", kg_psrc_name(f->principal_src),
			       *region ? region : "-", f->requests, f->topics,
			       (unsigned long long)f->bytes, state);
		}
		n++;
	}
	if (json)
		printf("],\"count\":%d}\n", n);
	else
		printf("  %d flow%s\n", n, n == 1 ? "" : "s");
	free(f);
	kg_maps_close(&m);
	return rc;
}

static int cmd_flows(int argc, char **argv)
{
	return kg_iface_report(&kg_cmd_flows, argc, argv, flows_one);
}
