// SPDX-License-Identifier: Apache-2.0
/*
 * Connections and their state (docs/DESIGN.md §7): handshakes apart from established
 * connections, a small entry per connection and a pool slot only while it is needed, and
 * each limit's stated outcome: a SYN flood evicts no established connection, a full pool
 * drops (the client retransmits), a full table refuses the handshake with a RST, a
 * connection idle past the timeout is forgotten (mid-stream), one holding a slot without
 * progress is reset, one source holds a quarter of the pool at most, and a reject beyond
 * what can be answered (KG_PEND_CONN a connection) resets that connection alone. Run with
 * the harness's small tables (DP_SLOTS, DP_FLOWS).
 */
#include <time.h>
#include <arpa/inet.h>

#include "agent/datapath/datapath.h"
#include "harness.h"
#include "kgate_tc.skel.h"

int conn_entry(const struct conn *c, struct kg_conn *out)
{
	struct kg_flow_key k;

	conn_key(c, &k);
	return bpf_map_lookup_elem(dp.m.flows, &k, out) ? -1 : 0;
}

/* A connection of the case's own (not the harness's ring of recent ones): saddr, sport. */
static void own_conn(struct conn *c, const char *saddr, uint16_t sport)
{
	memset(c, 0, sizeof(*c));
	c->s = (struct pkt_spec){ .family = 4, .saddr = saddr, .daddr = BROKER4, .sport = sport,
				  .dport = PORT };
}

/* A bare segment of c (flags, no payload) at seq; the verdict. */
static int bare(struct conn *c, uint32_t seq, uint8_t flags)
{
	uint8_t pkt[PKT_CAP];

	c->s.seq = seq;
	c->s.flags = flags;
	return rv_run(pkt, pkt_build(pkt, &c->s, NULL, 0), c->out, &c->outlen);
}

void broker_ack(const struct conn *c, uint32_t seq, uint32_t ack)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec br = { .family = c->s.family, .saddr = c->s.daddr, .daddr = c->s.saddr,
			       .sport = c->s.dport, .dport = c->s.sport, .seq = seq, .ack = ack,
			       .flags = PKT_ACK };
	size_t outlen;

	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, NULL, 0), out, &outlen), TC_ACT_OK);
}

/* A valid RST at c's next byte: the connection ends (its slot back to the pool). */
static void conn_rst(struct conn *c)
{
	CU_ASSERT_EQUAL(bare(c, c->next, PKT_RST | PKT_ACK), XDP_PASS);
}

/*
 * The handshake: a SYN alone, or with the broker's SYN-ACK, makes no established
 * connection; only the client's ACK of that SYN-ACK, at the SYN's next byte, does. Data
 * before it (or acknowledging something else) is dropped.
 */
void test_handshake_completes_on_ack(void)
{
	uint8_t b[PKT_CAP];
	__u64 fresh = counter(KG_C_FLOWS_NEW), unconf = counter(KG_C_UNCONFIRMED_DROPS);
	struct kg_conn e;
	struct conn c;
	size_t n = produce("public", b);

	apply_base(KG_MODE_ENFORCE);
	own_conn(&c, "10.10.7.1", 50000);
	CU_ASSERT_EQUAL(bare(&c, 700, PKT_SYN), XDP_PASS);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), -1);
	c.next = 701;
	syn_ack(&c, 701);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), -1);
	c.s.ack = 4000; /* not the SYN-ACK's */
	CU_ASSERT_EQUAL(conn_send_at(&c, 701, b, n), XDP_DROP);
	c.s.ack = 4001;
	CU_ASSERT_EQUAL(bare(&c, 702, PKT_ACK), XDP_PASS); /* not the SYN's next byte */
	CU_ASSERT_EQUAL(conn_entry(&c, &e), -1);
	CU_ASSERT_EQUAL(counter(KG_C_UNCONFIRMED_DROPS), unconf + 1);
	hs_ack(&c);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.next_seq, 701);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0); /* idle: no slot yet */
	CU_ASSERT_EQUAL(counter(KG_C_FLOWS_NEW), fresh + 1);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	conn_rst(&c);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), -1);
}

/*
 * Twice as many spoofed SYNs as kg_syns holds, while an established connection is in the
 * middle of a request and another is half open: the established one goes on with the
 * same frame (nothing evicted it), the half-open one may be forgotten (its data is then
 * mid-stream), and the SYNs made no established connection.
 */
void test_syn_flood_spares_established(void)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	size_t n = produce("eu.orders", b), half = name_end(b, n, "eu.orders") - 3, outlen;
	__u64 hs, fresh;
	struct kg_conn before, after;
	struct conn a, h;
	char src[32];
	struct pkt_spec s = { .family = 4, .daddr = BROKER4, .dport = PORT, .flags = PKT_SYN };
	bool half_open_kept;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&a, 4, "10.20.0.5", 0); /* us: eu.orders rejected */
	CU_ASSERT_EQUAL(conn_send(&a, b, half), XDP_PASS);
	CU_ASSERT_EQUAL(conn_entry(&a, &before), 0);
	own_conn(&h, "10.10.7.2", 50001);
	CU_ASSERT_EQUAL(bare(&h, 900, PKT_SYN), XDP_PASS);
	h.next = 901;
	syn_ack(&h, 901);
	fresh = counter(KG_C_FLOWS_NEW);
	hs = counter(KG_C_HANDSHAKES);
	for (int i = 0; i < 2 * KG_MAX_SYNS; i++) {
		snprintf(src, sizeof(src), "10.10.%d.%d", 128 + (i >> 12), (i >> 4) & 0xff);
		s.saddr = src;
		s.sport = 1024 + (i & 0xf);
		s.seq = i;
		dp_run(pkt, pkt_build(pkt, &s, NULL, 0), out, &outlen);
	}
	CU_ASSERT_EQUAL(counter(KG_C_HANDSHAKES) - hs, 2 * KG_MAX_SYNS);
	CU_ASSERT_EQUAL(counter(KG_C_FLOWS_NEW), fresh);
	CU_ASSERT_EQUAL(conn_entry(&a, &after), 0);
	CU_ASSERT_EQUAL(after.next_seq, before.next_seq);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&a, b + half, n - half), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT); /* the same frame */
	hs_ack(&h);
	half_open_kept = conn_entry(&h, &after) == 0;
	printf("\n    after %d SYNs: the established connection decided its frame; the "
	       "half-open one was %s",
	       2 * KG_MAX_SYNS, half_open_kept ? "kept" : "forgotten (its data: mid-stream)");
	conn_rst(&a);
	if (half_open_kept)
		conn_rst(&h);
	/*
	 * The full LRU would go on churning: under a flood, a handshake just begun may be
	 * forgotten at once (the stated outcome); the cases after this one want none.
	 */
	{
		struct kg_flow_key k, nk, *prev = NULL;

		while (!bpf_map_get_next_key(dp.m.syns, prev, &nk)) {
			k = nk;
			bpf_map_delete_elem(dp.m.syns, &k);
		}
	}
}

/* Connections of the case's own, each holding a pool slot (half a request sent). */
static struct conn holders[DP_SLOTS];
static char holder_addr[DP_SLOTS][32];

/* How many hold one until none is free; *limit: limit records of the one refused. */
static int hold_slots(const uint8_t *b, size_t half, int *limit)
{
	int n = 0;

	for (int i = 0; i < DP_SLOTS; i++) {
		snprintf(holder_addr[i], sizeof(holder_addr[i]), "10.10.8.%d", 1 + i / 200);
		own_conn(&holders[i], holder_addr[i], 20000 + i);
		conn_syn(&holders[i], 1000);
		if (conn_send(&holders[i], b, half) != XDP_PASS) {
			for (int k = 0; k < dp.nev; k++)
				*limit += dp.ev[k].kind == KG_EV_LIMIT &&
					  dp.ev[k].reason == KG_LIMIT_POOL;
			conn_rst(&holders[i]);
			break;
		}
		n++;
	}
	return n;
}

/*
 * The pool exhausted: the segment of a connection that needs a slot is dropped (its
 * client retransmits; nothing undecided passes), counted, and audited as a limit record
 * (at most one per CPU and second); a broker segment that needs one is dropped too. Once
 * a slot is back, the retransmission is decided.
 */
void test_pool_exhausted(void)
{
	uint8_t b[PKT_CAP], r[256], pkt[PKT_CAP], out[PKT_CAP];
	size_t n = produce("public", b), half = n / 2, outlen, rn;
	__u64 ex = counter(KG_C_POOL_EXHAUSTED);
	struct pkt_spec br;
	struct conn x, y;
	int held, limit = 0;

	apply_base(KG_MODE_ENFORCE);
	/* y: a connection with a request answered later, its slot given back meanwhile */
	own_conn(&y, "10.10.9.1", 30000);
	conn_syn(&y, 1000);
	CU_ASSERT_EQUAL(conn_send(&y, b, n), XDP_PASS);
	broker_ack(&y, 4001, y.next);
	held = hold_slots(b, half, &limit);
	CU_ASSERT(held > 0 && held < DP_SLOTS);
	own_conn(&x, "10.10.9.2", 30001);
	conn_syn(&x, 1000);
	CU_ASSERT_EQUAL(conn_send(&x, b, n), XDP_DROP);
	CU_ASSERT(counter(KG_C_POOL_EXHAUSTED) > ex);
	for (int i = 0; i < dp.nev; i++)
		limit += dp.ev[i].kind == KG_EV_LIMIT && dp.ev[i].reason == KG_LIMIT_POOL;
	printf("\n    %d slots held; new requests dropped, %d limit record(s)", held, limit);
	CU_ASSERT_EQUAL(limit, 1); /* one per CPU and second */
	/* the broker's answer to y needs a slot: dropped too (the broker retransmits) */
	{
		const char *name = "public";
		static const int ok[] = { 0 };

		rn = produce_response(7, &name, ok, 1, r);
		br = (struct pkt_spec){ .family = 4, .saddr = BROKER4, .daddr = y.s.saddr,
					.sport = PORT, .dport = y.s.sport, .seq = 4001,
					.ack = y.next, .flags = PKT_ACK | PKT_PSH };
		CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, r, rn), out, &outlen),
				TC_ACT_SHOT);
	}
	conn_rst(&holders[0]);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send_at(&x, x.next - n, b, n), XDP_PASS); /* retransmitted */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	for (int i = 1; i < held; i++)
		conn_rst(&holders[i]);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, r, rn), out, &outlen), TC_ACT_OK);
	conn_rst(&x);
	conn_rst(&y);
}

/*
 * kg_flows full (DP_FLOWS connections held, none evicted): the handshake-completing ACK
 * of one more becomes a RST toward the broker, the client's next segment a RST back to it;
 * counted and audited. Every connection held is still there.
 */
void test_flow_table_full(void)
{
	uint8_t b[PKT_CAP];
	__u64 full = counter(KG_C_FLOW_TABLE_FULL), fresh = counter(KG_C_FLOWS_NEW);
	struct kg_flow_key k, nk, *prev = NULL;
	struct kg_conn e;
	struct conn c, x;
	char src[32];
	int held = 0, limit = 0, kept = 0, others;

	apply_base(KG_MODE_ENFORCE);
	/* what the harness's recent connections hold, then new ones until one is refused */
	while (!bpf_map_get_next_key(dp.m.flows, prev, &nk)) {
		k = nk;
		prev = &k;
		kept++;
	}
	others = kept;
	for (int i = 0; i < DP_FLOWS; i++) {
		snprintf(src, sizeof(src), "10.10.%d.%d", 20 + i / 250, 1 + i % 250);
		own_conn(&c, src, 40000);
		dp.nev = 0;
		conn_syn(&c, 1000);
		if (conn_entry(&c, &e)) {
			/* the one refused: its ACK became a RST toward the broker, and a record */
			pkt_parse(c.out, c.outlen, &c.v);
			CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
			for (int k = 0; k < dp.nev; k++)
				limit += dp.ev[k].kind == KG_EV_LIMIT &&
					 dp.ev[k].reason == KG_LIMIT_FLOWS;
			break;
		}
		held++;
	}
	CU_ASSERT_EQUAL(others + held, DP_FLOWS);
	CU_ASSERT_EQUAL(counter(KG_C_FLOWS_NEW) - fresh, (__u64)held);
	full = counter(KG_C_FLOW_TABLE_FULL);
	own_conn(&x, "10.10.99.1", 40001);
	CU_ASSERT_EQUAL(bare(&x, 1000, PKT_SYN), XDP_PASS);
	x.next = 1001;
	syn_ack(&x, 1001);
	dp.nev = 0;
	CU_ASSERT_EQUAL(bare(&x, 1001, PKT_ACK), XDP_PASS);
	pkt_parse(x.out, x.outlen, &x.v);
	CU_ASSERT_EQUAL(x.v.flags & PKT_RST, PKT_RST); /* toward the broker */
	CU_ASSERT_EQUAL(counter(KG_C_FLOW_TABLE_FULL), full + 1);
	for (int i = 0; i < dp.nev; i++)
		limit += dp.ev[i].kind == KG_EV_LIMIT && dp.ev[i].reason == KG_LIMIT_FLOWS;
	CU_ASSERT_EQUAL(limit, 1); /* one per CPU and second */
	CU_ASSERT_EQUAL(conn_send(&x, b, produce("public", b)), XDP_REDIRECT); /* RST back */
	CU_ASSERT_EQUAL(x.v.flags & PKT_RST, PKT_RST);
	/* nothing held was evicted for it; then the case's own end */
	kept = 0;
	prev = NULL;
	while (!bpf_map_get_next_key(dp.m.flows, prev, &nk)) {
		k = nk;
		prev = &k;
		kept++;
	}
	printf("\n    %d connections held (%d of the case's), the next refused", kept, held);
	CU_ASSERT_EQUAL(kept, DP_FLOWS);
	for (int i = 0; i < held; i++) {
		snprintf(src, sizeof(src), "10.10.%d.%d", 20 + i / 250, 1 + i % 250);
		own_conn(&c, src, 40000);
		c.next = 1001;
		c.s.ack = 4001;
		conn_rst(&c);
	}
}

/*
 * Sets c's last segment back by idle_s seconds (as if it had been idle that long), and
 * its last progress by stall_s.
 */
static void rewind_conn(const struct conn *c, __u32 idle_s, __u16 stall_s)
{
	struct kg_flow_key k;
	struct kg_conn e;

	conn_key(c, &k);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(dp.m.flows, &k, &e), 0);
	e.last_seen -= idle_s;
	e.progress -= stall_s;
	CU_ASSERT_EQUAL(bpf_map_update_elem(dp.m.flows, &k, &e, BPF_EXIST), 0);
}

/* Sets c's last_seen back by secs (as if it had been idle that long). */
static void age(const struct conn *c, __u32 secs)
{
	rewind_conn(c, secs, 0);
}

/*
 * Two connections of the case's own (from addresses fmt with 1 and 2, ports port and
 * port + 1), each holding a pool slot: the first half bytes of request b sent.
 */
static void hold_two(struct conn *x, struct conn *y, const char *fmt, uint16_t port,
		     const uint8_t *b, size_t half)
{
	static char addr[2][2][32];
	struct conn *c[2] = { x, y };
	static int turn;

	turn ^= 1;
	for (int i = 0; i < 2; i++) {
		snprintf(addr[turn][i], sizeof(addr[turn][i]), fmt, i + 1);
		own_conn(c[i], addr[turn][i], port + i);
		conn_syn(c[i], 1000);
		CU_ASSERT_EQUAL(conn_send(c[i], b, half), XDP_PASS); /* holds a slot */
	}
}

/*
 * The agent's sweep (kgate_sweep, as `kgate run` runs it): a connection idle past the
 * flow timeout is ended, its slot back in the pool; its next data is mid-stream, and
 * on_undecodable (reset) applies. One that is not idle stays.
 */
void test_idle_timeout(void)
{
	uint8_t b[PKT_CAP];
	size_t n = produce("public", b), half = name_end(b, n, "public") - 2;
	__u64 given = counter(KG_C_SLOTS_GIVEN), out = counter(KG_C_FLOWS_TIMED_OUT);
	struct kg_sweep_stats st;
	struct kg_conn e;
	struct conn idle, busy;

	apply_base(KG_MODE_ENFORCE);
	hold_two(&idle, &busy, "10.10.10.%d", 31000, b, half);
	age(&idle, 1300);
	CU_ASSERT_EQUAL(dp_sweep(&st), 0);
	CU_ASSERT(st.ended >= 1);
	CU_ASSERT_EQUAL(conn_entry(&idle, &e), -1);
	CU_ASSERT_EQUAL(conn_entry(&busy, &e), 0);
	CU_ASSERT_EQUAL(counter(KG_C_FLOWS_TIMED_OUT), out + 1);
	CU_ASSERT_EQUAL(counter(KG_C_SLOTS_GIVEN), given + 1);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&idle, b + half, n - half), XDP_PASS);
	CU_ASSERT_EQUAL(idle.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].reason == KD_ERR_MIDSTREAM);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&busy, b + half, n - half), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	conn_rst(&busy);
}

/* How many kg_pend entries (rejections awaiting their answers) c's connection has. */
static int pend_entries(const struct conn *c)
{
	struct kg_pend_key k, nk, *prev = NULL;
	struct kg_flow_key fk;
	int n = 0;

	conn_key(c, &fk);
	while (!bpf_map_get_next_key(dp.m.pend, prev, &nk)) {
		k = nk;
		prev = &k;
		n += !memcmp(&k.flow, &fk, sizeof(fk));
	}
	return n;
}

/* A FetchResponse v11 of one topic (name, as the broker echoes it) with error err. */
static size_t fetch_response(const char *name, int err, uint8_t *r)
{
	struct wbuf w = { r, 4 };

	w32(&w, 7);
	w32(&w, 0), w16(&w, 0), w32(&w, 0); /* throttle, error, session */
	w32(&w, 1);
	wstr(&w, 0, name);
	w32(&w, 1);
	w32(&w, 0), w16(&w, err);           /* partition 0, error */
	w32(&w, 0), w32(&w, 0);             /* high watermark */
	w32(&w, 0), w32(&w, 0);             /* last stable offset */
	w32(&w, 0), w32(&w, 0);             /* log start offset */
	w32(&w, 0);                         /* aborted transactions */
	w32(&w, -1);                        /* preferred read replica */
	w32(&w, 0);                         /* records: empty */
	wframe_end(&w);
	return w.n;
}

/*
 * A slot goes back when the connection is idle: at a frame boundary, its requests
 * answered or waiting in its small entry, no rejection awaiting its answer, everything
 * acknowledged both ways. A consumer's request waits for its answer without one. A
 * rejected one keeps the slot (its kg_pend entry: KG_PEND_CONN a slot) until its answer,
 * rewritten, has passed and the client acknowledged it. An open SASL exchange keeps its
 * slot.
 */
void test_slot_given_back(void)
{
	static const char *const eu[] = { "eu.orders" }, *const pub[] = { "public" };
	uint8_t b[PKT_CAP], r[512], pkt[PKT_CAP], out[PKT_CAP];
	size_t n, rn, outlen;
	struct pkt_spec br;
	struct pkt_view v;
	struct kg_conn e;
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	broker_open(&c, "10.20.0.5", &br, 9100); /* us: eu.* rejected */
	/* an allowed Fetch, acknowledged by the broker: it waits without a slot */
	n = req(KAFKA_FETCH, 11, pub, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT); /* the broker has not acknowledged it yet */
	broker_ack(&c, br.seq, c.next);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0);
	CU_ASSERT_EQUAL(e.req_no - e.resp_no, 1);
	rn = fetch_response("public", 0, r);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, r, rn), out, &outlen), TC_ACT_OK);
	br.seq += rn;
	c.s.ack = br.seq;
	CU_ASSERT_EQUAL(bare(&c, c.next, PKT_ACK), XDP_PASS);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0);
	CU_ASSERT_EQUAL(e.req_no, e.resp_no);

	/* a rejected Fetch: its slot stays, acknowledged or not, while its answer is awaited */
	n = req(KAFKA_FETCH, 11, eu, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
	broker_ack(&c, br.seq, c.next);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT);
	CU_ASSERT_EQUAL(pend_entries(&c), 1);
	/* its answer, with the poisoned name and the broker's own error: rewritten */
	rn = fetch_response("eu.order!", 3, r);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, r, rn), out, &outlen), TC_ACT_OK);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
	CU_ASSERT(name_end(out + v.payload_off, rn, "eu.orders") > 0);
	br.seq += rn;
	CU_ASSERT_EQUAL(pend_entries(&c), 0);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT); /* the client has not acknowledged the answer yet */
	c.s.ack = br.seq;
	CU_ASSERT_EQUAL(bare(&c, c.next, PKT_ACK), XDP_PASS);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0);
	CU_ASSERT_EQUAL(e.req_no, e.resp_no);
	/* the next request: a slot again, decided as usual */
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	conn_rst(&c);

	/* a SaslHandshake answered and acknowledged: the exchange is open, the slot stays */
	{
		struct kf_req h = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = 1, .corr = 1,
				    .client_id = "app", .mechanism = "PLAIN" };

		conn_open(&c, 4, "10.10.0.5", 0);
		n = kf_build(&h, b, sizeof(b));
		CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
		broker_ack(&c, 4001, c.next);
		CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
		CU_ASSERT(e.own & KG_OWN_SLOT);
		CU_ASSERT(e.give_hint == 0);
		conn_rst(&c);
	}
}

/*
 * Two data segments of one connection at once (TC ingress and generic XDP run each where
 * the stack received it: two CPUs for one connection): the second finds the first's mark
 * (KG_OWN_INGRESS, set here as the first would hold it while decoding) and is dropped,
 * moving neither the decoder nor next_seq; once the mark is gone, the same segment is
 * decided. A segment leaves no mark behind.
 */
void test_ingress_one_at_a_time(void)
{
	uint8_t b[PKT_CAP];
	__u64 busy = counter(KG_C_INGRESS_BUSY);
	struct kg_flow_key k;
	struct kg_conn e;
	struct conn c;
	size_t n = produce("public", b), half = 10;
	uint32_t at;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, half), XDP_PASS); /* the decoder inside the header */
	at = c.next;
	CU_ASSERT_EQUAL_FATAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_INGRESS, 0);
	conn_key(&c, &k);
	e.own |= KG_OWN_INGRESS;
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.flows, &k, &e, BPF_EXIST), 0);
	CU_ASSERT_EQUAL(conn_send_at(&c, at, b + half, n - half), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_INGRESS_BUSY), busy + 1);
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL_FATAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.next_seq, at);
	e.own &= ~KG_OWN_INGRESS;
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.flows, &k, &e, BPF_EXIST), 0);
	CU_ASSERT_EQUAL(conn_send(&c, b + half, n - half), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL_FATAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_INGRESS, 0);
	CU_ASSERT_EQUAL(e.next_seq, c.next);
}

/* Entries in kg_pend, of every connection. */
static int pend_all(void)
{
	struct kg_pend_key k, nk, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(dp.m.pend, prev, &nk)) {
		k = nk;
		prev = &k;
		n++;
	}
	return n;
}

/*
 * As many connections as it took to fill the shared table before (65,536 entries, up to
 * 128 rejected requests in flight on each): each pipelines 128 rejected requests, none
 * answered.
 */
#define PEND_HOGS (65536 / 128 + 4)

/*
 * Rejections awaiting their answers are held per connection: at most KG_PEND_CONN, past
 * which a rejected topic resets its own connection (pending_cap_resets), and only while
 * the connection holds its pool slot, so kg_pend has room for KG_PEND_CONN for each slot.
 * PEND_HOGS connections each pipeline 128 rejected requests whose answers never come:
 * each gets 64 rejections and is reset at its 65th; a bystander's rejected request is
 * still rejected (answered with the error), not reset; an ended connection leaves no
 * entry behind.
 */
void test_pend_per_connection(void)
{
	static struct conn hog[PEND_HOGS];
	static char addr[PEND_HOGS][32];
	uint8_t b[PKT_CAP], one[256];
	size_t n1 = produce("eu.orders", one), per = 16;
	__u64 cap = counter(KG_C_PEND_CAP), full = counter(KG_C_PEND_FULL);
	int rejected = 0, reset = 0, resets_seen = 0, before = pend_all();
	struct conn victim;

	apply_base(KG_MODE_ENFORCE); /* us: eu.* rejected */
	CU_ASSERT_EQUAL(max_entries(dp.m.pend), DP_SLOTS * KG_PEND_CONN);
	for (size_t i = 0; i < per; i++)
		memcpy(b + i * n1, one, n1);
	for (int h = 0; h < PEND_HOGS; h++) {
		snprintf(addr[h], sizeof(addr[h]), "10.20.%d.%d", 100 + h / 200, 1 + h % 200);
		own_conn(&hog[h], addr[h], 32000);
		conn_syn(&hog[h], 1000);
		for (int sent = 0; sent < KG_INFLIGHT; sent += per) {
			CU_ASSERT_EQUAL(conn_send(&hog[h], b, per * n1), XDP_PASS);
			for (int i = 0; i < dp.nev; i++) {
				rejected += dp.ev[i].verdict == KG_ACT_REJECT;
				reset += dp.ev[i].verdict == KG_ACT_RESET;
			}
			if (hog[h].v.flags & PKT_RST) {
				resets_seen++;
				break;
			}
		}
	}
	CU_ASSERT_EQUAL(pend_entries(&hog[0]), KG_PEND_CONN);
	own_conn(&victim, "10.20.200.7", 32001);
	conn_syn(&victim, 1000);
	CU_ASSERT_EQUAL(conn_send(&victim, one, n1), XDP_PASS);
	printf("\n    %d connections x 128 unanswered rejected requests: %d rejected, %d reset "
	       "(pending_cap_resets +%llu); a bystander's rejected request: %s",
	       PEND_HOGS, rejected, reset, (unsigned long long)(counter(KG_C_PEND_CAP) - cap),
	       (victim.v.flags & PKT_RST) ? "reset" : "rejected");
	CU_ASSERT_EQUAL(rejected, PEND_HOGS * KG_PEND_CONN);
	CU_ASSERT_EQUAL(reset, PEND_HOGS);
	CU_ASSERT_EQUAL(resets_seen, PEND_HOGS);
	CU_ASSERT_EQUAL(counter(KG_C_PEND_CAP) - cap, PEND_HOGS);
	CU_ASSERT_EQUAL(victim.v.flags & PKT_RST, 0);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
	CU_ASSERT_EQUAL(counter(KG_C_PEND_FULL), full);
	/* every connection's end takes its entries with it (not the agent's sweep) */
	for (int h = 0; h < PEND_HOGS; h++)
		conn_rst(&hog[h]);
	conn_rst(&victim);
	CU_ASSERT_EQUAL(pend_entries(&hog[0]), 0);
	CU_ASSERT_EQUAL(pend_entries(&victim), 0);
	printf("; kg_pend entries: %d before, %d after their ends", before, pend_all());
	CU_ASSERT_EQUAL(pend_all(), before);
}

/*
 * A connection holding a pool slot without progress (half a request sent, then only
 * keep-alive ACKs, which keep it from looking idle) past KG_SLOT_STALL_S is ended by the
 * sweep: its slot back at once, counted; its next segment, a keep-alive ACK, becomes a
 * RST toward the broker at the broker's next expected byte, audited (a slot_stalled limit
 * record); the one after it a RST back to the client. One that holds its slot as long
 * but made progress lately is not touched.
 */
void test_slot_stalled_reset(void)
{
	static uint8_t r[8192];
	struct kf_topic t = { .name = "public", .partitions = 1, .record_bytes = 3000 };
	struct kf_req q = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 3,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	__u64 given = counter(KG_C_SLOTS_GIVEN), stalled = counter(KG_C_SLOTS_STALLED);
	size_t n = kf_build(&q, r, sizeof(r)), part = n - 1000; /* stalled inside the records */
	struct kg_sweep_stats st;
	struct conn hold, busy;
	struct kg_conn e;

	apply_base(KG_MODE_ENFORCE);
	hold_two(&hold, &busy, "10.10.12.%d", 33000, r, part);
	rewind_conn(&hold, 0, KG_SLOT_STALL_S + 5);
	CU_ASSERT_EQUAL(bare(&hold, hold.next, PKT_ACK), XDP_PASS); /* keep-alive: no progress */
	CU_ASSERT_EQUAL(conn_entry(&hold, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT);
	CU_ASSERT_EQUAL(dp_sweep(&st), 0);
	printf("\n    swept: %llu ended, %llu stalled", (unsigned long long)st.ended,
	       (unsigned long long)st.stalled);
	CU_ASSERT_EQUAL(st.stalled, 1);
	CU_ASSERT_EQUAL(counter(KG_C_SLOTS_STALLED), stalled + 1);
	CU_ASSERT_EQUAL(counter(KG_C_SLOTS_GIVEN), given + 1);
	CU_ASSERT_EQUAL(conn_entry(&hold, &e), -1);
	CU_ASSERT_EQUAL(conn_entry(&busy, &e), 0);
	/* the next keep-alive: a RST toward the broker, at its next expected byte */
	CU_ASSERT_EQUAL(bare(&hold, hold.next, PKT_ACK), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(hold.out, hold.outlen, &hold.v), 0);
	CU_ASSERT_EQUAL(hold.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(hold.v.seq, hold.next);
	CU_ASSERT_EQUAL(limit_records(KG_LIMIT_STALLED), 1);
	CU_ASSERT_EQUAL(conn_send(&hold, r + part, n - part), XDP_REDIRECT); /* to the client */
	CU_ASSERT_EQUAL(hold.v.flags & PKT_RST, PKT_RST);
	/* the other goes on: the rest of its records, then a request decided as ever */
	CU_ASSERT_EQUAL(conn_send(&busy, r + part, n - part), XDP_PASS);
	CU_ASSERT_EQUAL(conn_send(&busy, r, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	conn_rst(&busy);
}

/*
 * One source (an IPv4 address) holds at most 1 / KG_SRC_SHARE of the pool: its next
 * connection that needs a slot has its segment dropped (the client retransmits),
 * counted and audited; another source still gets one; a slot the source gives back lets
 * the retransmission through.
 */
void test_source_quota(void)
{
	static struct conn mine[DP_SLOTS / KG_SRC_SHARE + 1];
	const int share = DP_SLOTS / KG_SRC_SHARE;
	uint8_t b[PKT_CAP];
	size_t n = produce("public", b), half = n / 2;
	__u64 quota = counter(KG_C_SRC_QUOTA);
	struct conn other;
	int held = 0;

	apply_base(KG_MODE_ENFORCE);
	for (int i = 0; i <= share; i++) {
		own_conn(&mine[i], "10.10.13.1", 34000 + i);
		conn_syn(&mine[i], 1000);
		if (conn_send(&mine[i], b, half) != XDP_PASS)
			break;
		held++;
	}
	printf("\n    one source: %d slots held, the next connection's segment dropped "
	       "(%d limit record)", held, limit_records(KG_LIMIT_SOURCE));
	CU_ASSERT_EQUAL(held, share);
	CU_ASSERT_EQUAL(counter(KG_C_SRC_QUOTA), quota + 1);
	CU_ASSERT_EQUAL(limit_records(KG_LIMIT_SOURCE), 1);
	own_conn(&other, "10.10.13.2", 34000);
	conn_syn(&other, 1000);
	CU_ASSERT_EQUAL(conn_send(&other, b, n), XDP_PASS);
	conn_rst(&mine[0]);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send_at(&mine[share], mine[share].next - half, b, half), XDP_PASS);
	for (int i = 1; i <= share; i++)
		conn_rst(&mine[i]);
	conn_rst(&other);
}

/*
 * Bytes inside a record set take the fast path (no decoding) through the connection's
 * slot, counted in on it as every use is (the word's version moves by one; nobody is left
 * counted in): a connection ended meanwhile (the sweep, the broker's RST) gives its slot
 * back only when its last user leaves, so the path never writes a slot another connection
 * took.
 */
void test_skip_fast_counts_in(void)
{
	static uint8_t s[8192];
	struct kf_topic t = { .name = "public", .partitions = 1, .record_bytes = 6000 };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 3,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	size_t n = kf_build(&r, s, sizeof(s));
	struct kg_conn before, after;
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	own_conn(&c, "10.10.14.1", 35000);
	conn_syn(&c, 1000);
	CU_ASSERT_EQUAL(conn_send(&c, s, 1400), XDP_PASS); /* the header, into the records */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(conn_entry(&c, &before), 0);
	CU_ASSERT(before.own & KG_OWN_SLOT);
	CU_ASSERT_EQUAL(conn_send(&c, s + 1400, 1400), XDP_PASS); /* inside the records */
	CU_ASSERT_EQUAL(conn_entry(&c, &after), 0);
	CU_ASSERT_EQUAL(after.next_seq, before.next_seq + 1400);
	CU_ASSERT_EQUAL(after.own & KG_OWN_SLOT, before.own & KG_OWN_SLOT);
	CU_ASSERT_EQUAL(after.own & KG_OWN_USERS, 0);
	CU_ASSERT_EQUAL((after.own - before.own) / KG_OWN_VER, 1);
	CU_ASSERT_EQUAL(conn_send(&c, s + 2800, n - 2800), XDP_PASS); /* to the frame's end */
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL(conn_entry(&c, &after), 0);
	CU_ASSERT_EQUAL(after.next_seq, before.next_seq + n - 1400);
	conn_rst(&c);
}

/*
 * A SYN with another initial sequence number on the 5-tuple of a handshake the broker
 * answered leaves it as it is (the broker keeps its half-open connection too): a spoofed
 * SYN cannot take the place of a client's, which completes. After KG_SYN_KEEP_S the new
 * SYN starts over. One the broker has not answered yet is replaced.
 */
void test_syn_keeps_answered_handshake(void)
{
	uint8_t b[PKT_CAP];
	size_t n = produce("public", b);
	struct kg_flow_key k;
	struct kg_syn sy;
	struct kg_conn e;
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	own_conn(&c, "10.10.15.1", 36000);
	CU_ASSERT_EQUAL(bare(&c, 700, PKT_SYN), XDP_PASS);
	c.next = 701;
	syn_ack(&c, 701);
	CU_ASSERT_EQUAL(bare(&c, 90000, PKT_SYN), XDP_PASS); /* spoofed */
	hs_ack(&c);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	conn_rst(&c);

	/* answered long ago: a new SYN starts over, and completes */
	own_conn(&c, "10.10.15.1", 36001);
	CU_ASSERT_EQUAL(bare(&c, 700, PKT_SYN), XDP_PASS);
	c.next = 701;
	syn_ack(&c, 701);
	conn_key(&c, &k);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(dp.m.syns, &k, &sy), 0);
	sy.born -= KG_SYN_KEEP_S + 1;
	CU_ASSERT_EQUAL(bpf_map_update_elem(dp.m.syns, &k, &sy, BPF_EXIST), 0);
	conn_syn(&c, 5000);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.next_seq, 5001);
	conn_rst(&c);

	/* not answered yet: replaced */
	own_conn(&c, "10.10.15.1", 36002);
	CU_ASSERT_EQUAL(bare(&c, 700, PKT_SYN), XDP_PASS);
	conn_syn(&c, 6000);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.next_seq, 6001);
	conn_rst(&c);
}
