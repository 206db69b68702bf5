// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath tests' harness (see harness.h): loading, policies, packets through
 * BPF_PROG_RUN on the suite's ingress hook and on TC egress, events read back.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent/datapath/datapath.h"
#include "kgate_tc.skel.h"
#include "kgate_tci.skel.h"
#include "kgate_xdp.skel.h"
#include "harness.h"

struct dp_state dp;

/*
 * The tables sized down (the load-time knob `kgate run` has), so that the cases can fill
 * them: the pool and the connections table (DP_SLOTS, DP_FLOWS in harness.h).
 */
static const struct kg_sizes dp_sizes = { .max_flows = DP_FLOWS, .pool_slots = DP_SLOTS };


static void on_event(void *ctx, const struct kg_event *e)
{
	(void)ctx;
	dp.seen[e->verdict == KG_ACT_ALLOW ? KG_LOST_ALLOW : KG_LOST_DENY]++;
	if (dp.nev < MAXEV)
		dp.ev[dp.nev++] = *e;
}

static int on_record(void *ctx, void *data, size_t size)
{
	dp.nrec++;
	if (kg_events_each(data, size, on_event, ctx) < 0)
		dp.bad_rec++;
	return 0;
}

int dp_setup(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, o);
	char err[256];

	snprintf(dp.pin, sizeof(dp.pin), "/sys/fs/bpf/kgtest-%d", getpid());
	if (kg_bpffs_ensure(dp.pin, err, sizeof(err))) {
		fprintf(stderr, "test_datapath: %s\n", err);
		return -1;
	}
	if (mkdir(dp.pin, 0700) && errno != EEXIST)
		return -1;
	o.pin_root_path = dp.pin;
	dp.skel = kgate_xdp_bpf__open_opts(&o);
	if (!dp.skel || kg_sizes_apply(dp.skel->obj, &dp_sizes) || kgate_xdp_bpf__load(dp.skel)) {
		fprintf(stderr, "kgate_xdp: load failed: %s\n", strerror(errno));
		dp_teardown();
		return -1;
	}
	if (kg_maps_from_object(&dp.m, dp.skel->obj) || kg_nhkey_init(dp.m.nhkey) ||
	    kg_pool_fill(dp.m.pool_free)) {
		fprintf(stderr, "kg_nhkey, kg_pool_free: not written: %s\n", strerror(errno));
		dp_teardown();
		return -1;
	}
	dp.tc = kgate_tc_bpf__open_opts(&o);
	if (!dp.tc || kg_sizes_apply(dp.tc->obj, &dp_sizes) || kgate_tc_bpf__load(dp.tc)) {
		fprintf(stderr, "kgate_tc: load failed: %s\n", strerror(errno));
		dp_teardown(); /* CUnit runs no teardown after a failed setup: leave nothing */
		return -1;
	}
	dp.tci = kgate_tci_bpf__open_opts(&o);
	if (!dp.tci || kg_sizes_apply(dp.tci->obj, &dp_sizes) || kgate_tci_bpf__load(dp.tci)) {
		fprintf(stderr, "kgate_tc_ingress: load failed: %s\n", strerror(errno));
		dp_teardown();
		return -1;
	}
	dp.xdp_fd = bpf_program__fd(dp.skel->progs.kgate_xdp);
	dp.tci_fd = bpf_program__fd(dp.tci->progs.kgate_tc_ingress);
	dp.tc_fd = bpf_program__fd(dp.tc->progs.kgate_tc_egress);
	dp.redirect_fd = bpf_map__fd(dp.skel->maps.kg_redirect);
	dp.rb = ring_buffer__new(dp.m.events, on_record, NULL, NULL);
	dp.next_port = 30000;
	return dp.rb ? 0 : -1;
}

int dp_sweep(struct kg_sweep_stats *st)
{
	const struct kg_sweep_limits lim = { .idle_s = 1200, .closed_s = 10,
					     .stall_s = KG_SLOT_STALL_S };

	return kg_flows_sweep(&dp.m, bpf_program__fd(dp.tc->progs.kgate_sweep), &lim, st);
}

__u32 max_entries(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

int limit_records(int limit)
{
	int n = 0;

	for (int i = 0; i < dp.nev; i++)
		n += dp.ev[i].kind == KG_EV_LIMIT && dp.ev[i].reason == limit;
	return n;
}

int dp_setup_tci(void)
{
	memset(&dp, 0, sizeof(dp));
	if (dp_setup())
		return -1;
	dp.use_tci = 1;
	return 0;
}

int dp_teardown(void)
{
	char path[128];

	ring_buffer__free(dp.rb);
	kgate_tci_bpf__destroy(dp.tci);
	kgate_tc_bpf__destroy(dp.tc);
	kgate_xdp_bpf__destroy(dp.skel);
	{
		DIR *d = opendir(dp.pin);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", dp.pin, de->d_name);
				unlink(path);
			}
		if (d)
			closedir(d);
	}
	rmdir(dp.pin);
	return 0;
}

int dp_apply(const struct kg_policy *p)
{
	struct kg_compiled c;
	char err[256];
	int gen, rc;

	if (kg_compile(p, &c, err, sizeof(err))) {
		fprintf(stderr, "compile: %s\n", err);
		kg_compiled_free(&c);
		return -1;
	}
	gen = 1 - kg_policy_active(&dp.m);
	rc = kg_policy_write(&dp.m, &c, gen, ++dp.version, err, sizeof(err));
	if (rc)
		fprintf(stderr, "write: %s\n", err);
	else
		rc = kg_policy_activate(&dp.m, gen);
	kg_compiled_free(&c);
	return rc;
}

int dp_run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_CAP, .repeat = 1);

	int fd = dp.use_tci ? dp.tci_fd : dp.xdp_fd;

	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	*outlen = o.data_size_out;
	if (!dp.hold)
		ring_buffer__consume(dp.rb);
	CU_ASSERT_EQUAL(dp.bad_rec, 0); /* every record the datapath sent splits cleanly */
	if (!dp.use_tci)
		return o.retval;
	switch (o.retval) {
	case TC_ACT_OK:
		return XDP_PASS;
	case TC_ACT_SHOT:
		return XDP_DROP;
	case TC_ACT_REDIRECT:
		return XDP_REDIRECT;
	}
	return 1000 + o.retval; /* no XDP counterpart: fails any expectation */
}

int tc_run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_CAP, .repeat = 1);

	if (bpf_prog_test_run_opts(dp.tc_fd, &o))
		return -1;
	*outlen = o.data_size_out;
	return o.retval;
}

__u64 percpu_sum(int fd, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu], sum = 0;

	if (bpf_map_lookup_elem(fd, &idx, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

__u64 counter(__u32 idx)
{
	return percpu_sum(dp.m.counters, idx);
}

/* ---- connections ----------------------------------------------------------- */

/* The broker's initial sequence number in the harness's handshakes. */
#define BROKER_ISN 4000

/*
 * The broker's SYN-ACK (acknowledging ack) for c, through TC egress; c's segments
 * acknowledge it from now on.
 */
void syn_ack(struct conn *c, uint32_t ack)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec br = { .family = c->s.family, .vlan = c->s.vlan, .saddr = c->s.daddr,
			       .daddr = c->s.saddr, .sport = c->s.dport, .dport = c->s.sport,
			       .seq = c->bisn ? c->bisn : BROKER_ISN, .flags = PKT_SYN | PKT_ACK,
			       .ack = ack };
	size_t outlen;

	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, NULL, 0), out, &outlen), TC_ACT_OK);
	c->s.ack = br.seq + 1;
}

/* The client's ACK of the broker's SYN-ACK, which completes the handshake (passed). */
void hs_ack(struct conn *c)
{
	uint8_t pkt[PKT_CAP];

	c->s.seq = c->next;
	c->s.flags = PKT_ACK;
	CU_ASSERT_EQUAL(dp_run(pkt, pkt_build(pkt, &c->s, NULL, 0), c->out, &c->outlen), XDP_PASS);
}

/*
 * A SYN at isn on c's addresses (passed), the broker's SYN-ACK, the client's ACK; data
 * follows at isn + 1.
 */
void conn_syn(struct conn *c, uint32_t isn)
{
	uint8_t pkt[PKT_CAP];

	c->s.seq = isn;
	c->s.flags = PKT_SYN;
	CU_ASSERT_EQUAL(dp_run(pkt, pkt_build(pkt, &c->s, NULL, 0), c->out, &c->outlen), XDP_PASS);
	c->next = isn + 1;
	syn_ack(c, isn + 1);
	hs_ack(c);
}

void conn_key(const struct conn *c, struct kg_flow_key *k)
{
	int af = c->s.family == 6 ? AF_INET6 : AF_INET;

	memset(k, 0, sizeof(*k));
	k->family = c->s.family;
	inet_pton(af, c->s.saddr, k->saddr);
	inet_pton(af, c->s.daddr, k->daddr);
	k->sport = htons(c->s.sport);
	k->dport = htons(c->s.dport);
}

/*
 * Ends what the datapath holds for k's 5-tuple as a client would: a valid RST at the
 * connection's next sequence number (its pool slot goes back), and forgets a handshake or
 * a stray there.
 */
static void tuple_end(const struct kg_flow_key *k, int family, const char *saddr,
		      const char *daddr, int vlan)
{
	struct pkt_spec s = { .family = family, .vlan = vlan, .saddr = saddr, .daddr = daddr,
			      .sport = ntohs(k->sport), .dport = ntohs(k->dport),
			      .flags = PKT_RST | PKT_ACK };
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct kg_conn cn;
	size_t outlen;

	if (!bpf_map_lookup_elem(dp.m.flows, k, &cn)) {
		s.seq = cn.next_seq;
		dp_run(pkt, pkt_build(pkt, &s, NULL, 0), out, &outlen);
	}
	bpf_map_delete_elem(dp.m.syns, k);
	bpf_map_delete_elem(bpf_map__fd(dp.skel->maps.kg_flow_strays), k);
}

/*
 * Connections the cases opened, the oldest ended when a new one is opened past
 * DP_OPEN_MAX: the long cases open hundreds of thousands, and each one still in the
 * middle of a request (the tests send no broker ACKs) would keep its pool slot.
 */
#define DP_OPEN_MAX 256
static struct {
	struct kg_flow_key k;
	char saddr[64], daddr[64];
	int family, vlan;
} dp_open[DP_OPEN_MAX];
static unsigned dp_nopen;

/* conn_open, the broker's initial sequence number bisn. */
static void conn_open_at(struct conn *c, int family, const char *saddr, int vlan, uint32_t bisn)
{
	unsigned slot = dp_nopen++ % DP_OPEN_MAX;

	memset(c, 0, sizeof(*c));
	c->bisn = bisn;
	c->s.family = family;
	c->s.vlan = vlan;
	c->s.saddr = saddr;
	c->s.daddr = family == 6 ? BROKER6 : BROKER4;
	c->s.sport = dp.next_port++;
	c->s.dport = PORT;
	if (dp_nopen > DP_OPEN_MAX)
		tuple_end(&dp_open[slot].k, dp_open[slot].family, dp_open[slot].saddr,
			  dp_open[slot].daddr, dp_open[slot].vlan);
	conn_key(c, &dp_open[slot].k);
	snprintf(dp_open[slot].saddr, sizeof(dp_open[slot].saddr), "%s", saddr);
	snprintf(dp_open[slot].daddr, sizeof(dp_open[slot].daddr), "%s", c->s.daddr);
	dp_open[slot].family = family;
	dp_open[slot].vlan = vlan;
	/* a reused port must not meet an earlier connection's state */
	tuple_end(&dp_open[slot].k, family, saddr, c->s.daddr, vlan);
	conn_syn(c, 1000);
}

void conn_open(struct conn *c, int family, const char *saddr, int vlan)
{
	conn_open_at(c, family, saddr, vlan, BROKER_ISN);
}

/* Sends bytes at seq (c->next when seq is 0); returns the XDP action. */
int conn_send_at(struct conn *c, uint32_t seq, const uint8_t *data, size_t len)
{
	uint8_t pkt[PKT_CAP];
	size_t n;
	int rc;

	c->s.seq = seq;
	c->s.flags = PKT_ACK | PKT_PSH;
	n = pkt_build(pkt, &c->s, data, len);
	dp.nev = 0;
	dp.nrec = 0;
	rc = dp_run(pkt, n, c->out, &c->outlen);
	pkt_parse(c->out, c->outlen, &c->v);
	return rc;
}

int conn_send(struct conn *c, const uint8_t *data, size_t len)
{
	int rc = conn_send_at(c, c->next, data, len);

	c->next += len;
	return rc;
}

size_t rv_seg(struct conn *c, uint32_t seq, uint8_t flags, const uint8_t *d, size_t len,
	      uint8_t *pkt)
{
	c->s.seq = seq;
	c->s.flags = flags;
	return pkt_build(pkt, &c->s, d, len);
}

int rv_run(const uint8_t *pkt, size_t n, uint8_t *out, size_t *outlen)
{
	dp.nev = 0;
	return dp_run(pkt, n, out, outlen);
}

size_t secret_segment(struct conn *c, int family, const char *saddr, int vlan, uint8_t *pkt)
{
	uint8_t b[PKT_CAP];

	apply_base(KG_MODE_ENFORCE);
	conn_open(c, family, saddr, vlan);
	return rv_seg(c, c->next, PKT_ACK | PKT_PSH, b, produce("secret", b), pkt);
}

/* ---- requests -------------------------------------------------------------- */

size_t req(int key, int ver, const char *const *topics, int n, uint8_t *out)
{
	struct kf_topic t[8] = {};
	struct kf_req r = { .api_key = key, .api_version = ver, .corr = 7, .client_id = "app",
			    .topics = t, .ntopics = n, .group = "g" };

	for (int i = 0; i < n; i++) {
		t[i].name = topics[i];
		t[i].partitions = 1;
		t[i].record_bytes = 40;
	}
	return kf_build(&r, out, PKT_CAP);
}

size_t produce(const char *topic, uint8_t *out)
{
	return req(KAFKA_PRODUCE, 7, &topic, 1, out);
}

/* Offset of the end of the first occurrence of name in buf, or 0. */
size_t name_end(const uint8_t *buf, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(buf + i, name, n))
			return i + n;
	return 0;
}

/* ---- responses ------------------------------------------------------------- */

/* ProduceResponse v7: per topic one partition 0 with the given error. */
size_t produce_response(int32_t corr, const char *const *names, const int *errs, int n,
			uint8_t *out)
{
	struct wbuf w = { out, 4 };

	w32(&w, corr);
	w32(&w, n);
	for (int i = 0; i < n; i++) {
		w16(&w, strlen(names[i]));
		memcpy(w.p + w.n, names[i], strlen(names[i]));
		w.n += strlen(names[i]);
		w32(&w, 1);
		w32(&w, 0);        /* index */
		w16(&w, errs[i]);  /* error_code */
		w32(&w, -1), w32(&w, -1); /* base_offset */
		w32(&w, -1), w32(&w, -1); /* log_append_time_ms */
		w32(&w, 0), w32(&w, 0);   /* log_start_offset */
	}
	w32(&w, 0); /* throttle_time_ms */
	wframe_end(&w);
	return w.n;
}


void w16(struct wbuf *w, int v)
{
	w->p[w->n++] = v >> 8;
	w->p[w->n++] = v;
}

void w32(struct wbuf *w, int32_t v)
{
	for (int i = 3; i >= 0; i--)
		w->p[w->n++] = (uint32_t)v >> (8 * i);
}

/* Compact lengths stay below 127 here: one uvarint byte. */
void wstr(struct wbuf *w, int flex, const char *s)
{
	size_t n = strlen(s);

	if (flex)
		w->p[w->n++] = n + 1;
	else
		w16(w, n);
	memcpy(w->p + w->n, s, n), w->n += n;
}

void wnull(struct wbuf *w, int flex)
{
	if (flex)
		w->p[w->n++] = 0;
	else
		w16(w, -1);
}

void warr(struct wbuf *w, int flex, int n)
{
	if (flex)
		w->p[w->n++] = n + 1;
	else
		w32(w, n);
}

void wtf(struct wbuf *w, int flex)
{
	if (flex)
		w->p[w->n++] = 0; /* no tagged fields */
}

/* Closes a frame written from w->p: its i32 size prefix. */
void wframe_end(struct wbuf *w)
{
	uint32_t size = w->n - 4;

	w->p[0] = size >> 24, w->p[1] = size >> 16, w->p[2] = size >> 8, w->p[3] = size;
}

void wreq_flex(struct wbuf *w, int key, int ver)
{
	w->n = 4;
	w16(w, key);
	w16(w, ver);
	w32(w, 7);
	w16(w, 3);
	memcpy(w->p + w->n, "app", 3), w->n += 3;
	wtf(w, 1);
}

size_t wreq_end(struct wbuf *w)
{
	wtf(w, 1);
	wframe_end(w);
	return w->n;
}

/*
 * A client connection from saddr (IPv4), and its broker side: the SYN-ACK (initial
 * sequence number isn) through TC, then br ready for the broker's first data segment.
 */
void broker_open(struct conn *c, const char *saddr, struct pkt_spec *br, uint32_t isn)
{
	conn_open_at(c, 4, saddr, 0, isn);
	*br = (struct pkt_spec){ .family = 4, .saddr = BROKER4, .daddr = saddr, .sport = PORT,
				 .dport = c->s.sport, .seq = isn + 1, .ack = c->next,
				 .flags = PKT_ACK | PKT_PSH };
}

void tc_send(struct pkt_spec *br, struct wbuf *w)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	size_t outlen;

	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, br, w->p, w->n), out, &outlen), TC_ACT_OK);
	br->seq += w->n;
}

/* ---- the policy used by most cases ------------------------------------------ */

void push(char ***v, int *n, const char *s)
{
	CU_ASSERT_EQUAL_FATAL(kg_strv_push(v, n, s), 0);
}

void policy_start(struct kg_policy *p, const char *version, int default_action)
{
	kg_policy_init(p);
	if (version)
		snprintf(p->version, sizeof(p->version), "%s", version);
	p->default_action = default_action;
	p->audit_allow = 1;
	/* every decision its own event: the cases read them one by one (storms.c folds) */
	p->fold_window_ms = 0;
	p->budget = 0;
	p->listeners[0].port = PORT;
	p->listeners[0].on_undecodable = KG_ACT_RESET;
	p->nlisteners = 1;
}

void base_policy(struct kg_policy *p, int mode)
{
	struct kg_pregion *r;
	struct kg_pidentity *id;
	struct kg_prule *x;

	policy_start(p, NULL, KG_ACT_REJECT);
	snprintf(p->version, sizeof(p->version), "test-%d", mode);
	p->mode = mode;
	p->unknown_id_action = KG_ACT_REJECT;
	r = kg_policy_add_region(p, "eu", 1, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.10.0.0/16", 1, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "fd00:10::/32", 1, 1);
	r = kg_policy_add_region(p, "us", 2, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.20.0.0/16", 2, 1);
	id = kg_policy_add_identity(p, "orders-svc", 3, 1);
	kg_cidrs_push(&id->cidrs, &id->ncidrs, "10.10.1.0/24", 3, 1);

	x = kg_policy_add_rule(p, "eu-data-stays-in-eu", 10, 1); /* 0 */
	push(&x->topics, &x->ntopics, "eu.*");
	push(&x->regions_not, &x->nregions_not, "eu");
	x->action = KG_ACT_REJECT;
	x = kg_policy_add_rule(p, "secret-resets", 11, 1); /* 1 */
	push(&x->topics, &x->ntopics, "secret");
	x->action = KG_ACT_RESET;
	x = kg_policy_add_rule(p, "blackhole-drops", 12, 1); /* 2 */
	push(&x->topics, &x->ntopics, "blackhole");
	x->action = KG_ACT_DROP;
	x = kg_policy_add_rule(p, "svc-may-admin", 13, 1); /* 3 */
	push(&x->principals, &x->nprincipals, "orders-svc");
	x->ops = 1 << KG_OP_ADMIN;
	x->action = KG_ACT_ALLOW;
	x = kg_policy_add_rule(p, "no-admin", 14, 1); /* 4 */
	x->ops = 1 << KG_OP_ADMIN;
	x->action = KG_ACT_REJECT;
	x = kg_policy_add_rule(p, "audited", 15, 1); /* 5 */
	push(&x->topics, &x->ntopics, "audited");
	x->action = KG_ACT_REJECT;
	x->audit = true;
	x = kg_policy_add_rule(p, "rest", 16, 1); /* 6 */
	x->action = KG_ACT_ALLOW;
}

void apply_base(int mode)
{
	struct kg_policy p;

	base_policy(&p, mode);
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

void check_event(int i, int verdict, __u32 rule, int enforced, int op, const char *topic)
{
	struct kg_event *e;

	CU_ASSERT_FATAL(i < dp.nev);
	e = &dp.ev[i];
	CU_ASSERT_EQUAL(e->verdict, verdict);
	CU_ASSERT_EQUAL(e->rule_id, rule);
	CU_ASSERT_EQUAL(e->enforced, enforced);
	CU_ASSERT_EQUAL(e->op, op);
	CU_ASSERT_EQUAL(e->version_id, dp.version);
	if (topic) {
		CU_ASSERT_EQUAL(e->topic_len, strlen(topic));
		CU_ASSERT(!memcmp(e->topic, topic, strlen(topic)));
	}
	if (e->verdict != verdict || e->rule_id != rule)
		fprintf(stderr, "\n    event %d: verdict %u rule %d (want %d, %d)\n", i, e->verdict,
			(int)e->rule_id, verdict, (int)rule);
}
