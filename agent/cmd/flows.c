// SPDX-License-Identifier: Apache-2.0
/*
 * kgate flows: the connections the datapath holds (the pinned kg_flows map: a small entry
 * per connection), with the names of their ids taken from the policy generation that
 * assigned them. Usable at a million: the table is read in batches, filters pick what is
 * shown, --limit bounds it, --count prints only how many.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

/* Connections listed when --limit is not given. */
#define FLOWS_LIMIT_DEFAULT 100

struct flows_args {
	const char *iface;
	int output; /* 1: json */
	const char *principal, *region, *state, *client;
	unsigned long port, limit;
	bool count;
};

static const char *const flow_state_names[] = {"ok",	 "reset",  "drop",   "undecodable",
					       "active", "idle",   "closed", "sasl", NULL};
enum { ST_OK, ST_RESET, ST_DROP, ST_DEAD, ST_ACTIVE, ST_IDLE, ST_CLOSED, ST_SASL };

static const struct kg_opt flows_opts[] = {
	KG_OPT_STR("iface", "IF", struct flows_args, iface,
		   "the interface (default: every pinned one)"),
	KG_OPT_OUTPUT(struct flows_args, output, kg_output_text_json,
		      "text (default), or json: with --iface one object,\n"
		      "else an array of one per pinned interface"),
	KG_OPT_STR("principal", "NAME", struct flows_args, principal,
		   "only this principal (a SASL user, an identity, ANONYMOUS)"),
	KG_OPT_STR("region", "NAME", struct flows_args, region, "only sources in this region"),
	KG_OPT_STR("state", "STATE", struct flows_args, state,
		   "only: ok, reset, drop, undecodable, active (holds a\n"
		   "pool slot), idle (holds none), closed (by the broker), sasl"),
	KG_OPT_STR("client", "ADDR", struct flows_args, client, "only this client address"),
	KG_OPT_UINT("port", "PORT", struct flows_args, port, 1, 65535, "only this client port"),
	KG_OPT_UINT("limit", "N", struct flows_args, limit, 0, 4294967295ul,
		    "show at most N (default 100; 0: all)"),
	KG_OPT_FLAG("count", struct flows_args, count, "print only how many are held and match"),
	KG_OPT_END,
};

static int cmd_flows(int argc, char **argv);

const struct kg_cmd kg_cmd_flows = {
	.name = "flows",
	.summary = "connections the datapath tracks",
	.about = "Lists the connections held on IF (every pinned interface when omitted):\n"
		 "client and broker address and port, the principal and where it came from\n"
		 "(anonymous, identity CIDR, SASL), the source region, requests decoded, topic\n"
		 "decisions made, payload bytes passed, and the connection's state (ok, reset,\n"
		 "drop: black-holed, undecodable: passed undecided; active: it holds a pool slot,\n"
		 "a request or response in progress). Names come from the policy generation the\n"
		 "connection was classified under. The filters combine; a topic cannot be one (a\n"
		 "connection is not tied to topics: see 'kgate observe --topic'). The table is\n"
		 "read in batches; a million connections take about a second.\n",
	.opts = flows_opts,
	.epilog = "Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n",
	.run = cmd_flows,
};

struct flows_walk {
	const struct flows_args *a;
	struct kg_names_cache *nc;
	struct kg_maps *m;
	__u32 version[2];
	int state;           /* ST_*, or -1 */
	__u8 client[16];     /* --client, parsed */
	int client_family;   /* 0: no --client */
	unsigned long limit; /* 0: all */
	bool json;
	__u64 held, matched, shown, with_slot;
};

static void addr_port(char *out, size_t len, const __u8 *addr, __u16 port_be, __u8 family)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(out, len, family == 6 ? "[%s]:%u" : "%s:%u", a, ntohs(port_be));
}

/* The states a connection is in, as names (ok when none of reset, drop, undecodable). */
static bool in_state(const struct kg_conn *c, int st)
{
	switch (st) {
	case ST_OK:
		return !(c->flags & (KG_FLOW_RESET | KG_FLOW_DROP | KG_FLOW_DEAD));
	case ST_RESET:
		return c->flags & KG_FLOW_RESET;
	case ST_DROP:
		return c->flags & KG_FLOW_DROP;
	case ST_DEAD:
		return c->flags & KG_FLOW_DEAD;
	case ST_ACTIVE:
		return c->own & KG_OWN_SLOT;
	case ST_IDLE:
		return !(c->own & KG_OWN_SLOT);
	case ST_CLOSED:
		return c->rclosed;
	case ST_SASL:
		return c->principal_src == KG_PSRC_SASL;
	}
	return false;
}

/* The principal's name: a SASL user's own bytes, else the policy's name for its id. */
static void principal_of(struct flows_walk *w, const struct kg_flow_key *k, const struct kg_conn *c,
			 const struct kg_stored_policy *sp, char *out, size_t len)
{
	struct kg_principal pn;

	out[0] = 0;
	if (c->principal_src == KG_PSRC_SASL && c->principal_len &&
	    !bpf_map_lookup_elem(w->m->principals, k, &pn)) {
		size_t n = c->principal_len < KD_USER_MAX ? c->principal_len : KD_USER_MAX;

		snprintf(out, len, "%.*s", (int)n, (const char *)pn.name);
	} else if (sp && c->principal_id < KG_MAX_PRINCIPALS) {
		snprintf(out, len, "%s", sp->c.principal_names[c->principal_id]);
	}
}

static void print_one(struct flows_walk *w, const struct kg_flow_key *k, const struct kg_conn *c,
		      const char *princ, const char *region)
{
	char cli[64], srv[64], state[96] = "";
	size_t n = 0;

	addr_port(cli, sizeof(cli), k->saddr, k->sport, k->family);
	addr_port(srv, sizeof(srv), k->daddr, k->dport, k->family);
	for (int i = ST_RESET; i <= ST_DEAD; i++)
		if (in_state(c, i))
			n += snprintf(state + n, sizeof(state) - n, "%s%s", n ? "," : "",
				      flow_state_names[i]);
	if (!n)
		n = snprintf(state, sizeof(state), "ok");
	snprintf(state + n, sizeof(state) - n, "%s%s", in_state(c, ST_ACTIVE) ? ",active" : "",
		 c->rclosed ? ",closed" : "");
	if (!w->json) {
		printf("  %-22s %-22s %-16s %-9s %-10s %8u %7u %12llu %s\n", cli, srv,
		       *princ ? princ : "-", kg_psrc_name(c->principal_src), *region ? region : "-",
		       c->requests, c->topics, (unsigned long long)c->bytes, state);
		return;
	}
	printf("%s{\"client\":", w->shown ? "," : "");
	kg_json_fput(stdout, cli);
	printf(",\"broker\":");
	kg_json_fput(stdout, srv);
	printf(",\"family\":%u,\"principal\":", k->family);
	kg_json_fput(stdout, princ);
	printf(",\"principal_id\":%u,\"principal_source\":\"%s\",\"region\":", c->principal_id,
	       kg_psrc_name(c->principal_src));
	kg_json_fput(stdout, region);
	printf(",\"region_id\":%u,\"requests\":%u,\"topic_decisions\":%u,\"bytes\":%llu,"
	       "\"generation\":%u,\"version_id\":%u,\"slot\":%s,\"idle_s\":%u,\"state\":[",
	       c->region_id, c->requests, c->topics, (unsigned long long)c->bytes, c->gen & 1,
	       w->version[c->gen & 1], in_state(c, ST_ACTIVE) ? "true" : "false",
	       kg_flow_now() - c->last_seen);
	n = 0;
	for (int i = ST_OK; i <= ST_SASL; i++)
		if (i != ST_IDLE && in_state(c, i))
			printf("%s\"%s\"", n++ ? "," : "", flow_state_names[i]);
	printf("]}");
}

static int flows_one_conn(void *ctx, const struct kg_flow_key *k, const struct kg_conn *c)
{
	struct flows_walk *w = ctx;
	const struct flows_args *a = w->a;
	const struct kg_stored_policy *sp;
	char princ[KD_USER_MAX + 1];
	const char *region = "";

	w->held++;
	w->with_slot += !!(c->own & KG_OWN_SLOT);
	if (c->own & KG_OWN_DYING)
		return 0; /* ending: as good as gone */
	if ((w->state >= 0 && !in_state(c, w->state)) || (a->port && ntohs(k->sport) != a->port))
		return 0;
	if (w->client_family && (k->family != w->client_family ||
				 memcmp(k->saddr, w->client, k->family == 6 ? 16 : 4)))
		return 0;
	sp = kg_names_lookup(w->nc, w->version[c->gen & 1]);
	if (sp && c->region_id < KG_MAX_REGIONS && c->region_id != KG_REGION_NONE)
		region = sp->c.region_names[c->region_id];
	if (a->region && strcmp(region, a->region))
		return 0;
	/* a name is looked up only for connections shown, or when it filters */
	if (a->principal || (!a->count && (!w->limit || w->shown < w->limit))) {
		principal_of(w, k, c, sp, princ, sizeof(princ));
		if (a->principal && strcmp(princ, a->principal))
			return 0;
	}
	w->matched++;
	if (a->count || (w->limit && w->shown >= w->limit))
		return 0;
	print_one(w, k, c, princ, region);
	w->shown++;
	return 0;
}

static int flows_iface(const char *iface, struct flows_walk *w)
{
	struct bpf_map_info info = {0};
	__u32 ilen = sizeof(info);
	struct kg_maps m;
	long long n;

	if (kg_cmd_open_maps(&kg_cmd_flows, iface, &m))
		return -1;
	/* a datapath built from another ABI would be misread: refuse */
	if (bpf_obj_get_info_by_fd(m.flows, &info, &ilen) ||
	    info.value_size != sizeof(struct kg_conn) ||
	    info.key_size != sizeof(struct kg_flow_key)) {
		fprintf(stderr,
			"kgate flows: %s: kg_flows holds %u-byte entries, this kgate knows "
			"%zu-byte ones (a datapath of another version)\n",
			iface, info.value_size, sizeof(struct kg_conn));
		kg_maps_close(&m);
		return -1;
	}
	w->m = &m;
	w->held = w->matched = w->shown = w->with_slot = 0;
	for (__u32 g = 0; g < 2; g++) {
		struct kg_config cfg;

		w->version[g] = bpf_map_lookup_elem(m.config, &g, &cfg) ? 0 : cfg.version_id;
	}
	if (w->json) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, iface);
		printf(",\"flows\":[");
	} else if (!w->a->count) {
		printf("%s:\n  %-22s %-22s %-16s %-9s %-10s %8s %7s %12s %s\n", iface, "CLIENT",
		       "BROKER", "PRINCIPAL", "SOURCE", "REGION", "REQUESTS", "TOPICS", "BYTES",
		       "STATE");
	}
	n = kg_flows_each(m.flows, flows_one_conn, w);
	if (n < 0)
		fprintf(stderr, "kgate flows: %s: reading kg_flows: %s\n", iface,
			strerror((int)-n));
	if (w->json)
		printf("],\"held\":%llu,\"with_slot\":%llu,\"matched\":%llu,\"shown\":%llu,"
		       "\"count\":%llu}\n",
		       (unsigned long long)w->held, (unsigned long long)w->with_slot,
		       (unsigned long long)w->matched, (unsigned long long)w->shown,
		       (unsigned long long)w->shown);
	else if (w->a->count)
		printf("%s: %llu held (%llu holding a pool slot), %llu match\n", iface,
		       (unsigned long long)w->held, (unsigned long long)w->with_slot,
		       (unsigned long long)w->matched);
	else
		printf("  %llu shown of %llu matching (%llu held, %llu holding a pool slot)%s\n",
		       (unsigned long long)w->shown, (unsigned long long)w->matched,
		       (unsigned long long)w->held, (unsigned long long)w->with_slot,
		       w->matched > w->shown ? "; --limit N for more" : "");
	kg_maps_close(&m);
	return n < 0 ? -1 : 0;
}

static int cmd_flows(int argc, char **argv)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE];
	struct flows_args a = {0};
	struct flows_walk w = {.a = &a, .state = -1};
	int n, rc;

	a.limit = FLOWS_LIMIT_DEFAULT;
	if ((rc = kg_opt_parse(&kg_cmd_flows, argc, argv, &a)))
		return rc;
	w.json = a.output == 1;
	w.limit = a.limit;
	if (a.state && (w.state = kg_name_index(flow_state_names, ST_SASL + 1, a.state)) < 0)
		return kg_usage_error(&kg_cmd_flows, "--state %s: not one of the states", a.state);
	if (a.client) {
		if (inet_pton(AF_INET, a.client, w.client) == 1)
			w.client_family = 4;
		else if (inet_pton(AF_INET6, a.client, w.client) == 1)
			w.client_family = 6;
		else
			return kg_usage_error(&kg_cmd_flows, "--client %s: not an address",
					      a.client);
	}
	/* --iface IF: its object; every pinned interface: an array of them */
	kg_json_doc(!a.iface);
	n = kg_target_ifaces(&kg_cmd_flows, a.iface, ifaces);
	if (!n)
		return 1;
	w.nc = kg_names_cache_new();
	if (!w.nc)
		return 1;
	for (int i = 0; i < n; i++)
		if (flows_iface(ifaces[i], &w))
			rc = 1;
	kg_names_cache_free(w.nc);
	return rc;
}
