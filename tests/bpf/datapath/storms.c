// SPDX-License-Identifier: Apache-2.0
/*
 * Deny storms (bpf/fold.h): identical decisions on a connection fold into one record with
 * a count, a connection's records are held to its budget, and no decision is lost or
 * counted twice on the way: the counts the records carry add up to the datapath's own
 * counters, whichever way a run's summary leaves (a different decision, its window
 * ended, the connection ended, another connection took the entry, the agent's sweep).
 */
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>

#include "agent/datapath/datapath.h"
#include "kgate_tc.skel.h"
#include "harness.h"

/* What the records read so far carry, by verdict class (KG_LOST_*). */
struct tally {
	int recs, summaries;
	__u64 count[2], folded, folded_deny;
};

/* Adds the last packet's records (dp.ev) to t. */
static void take(struct tally *t)
{
	for (int i = 0; i < dp.nev; i++) {
		const struct kg_event *e = &dp.ev[i];

		t->recs++;
		t->summaries += e->count != 1;
		t->count[e->verdict == KG_ACT_ALLOW ? KG_LOST_ALLOW : KG_LOST_DENY] += e->count;
		t->folded += e->folded;
		t->folded_deny += e->folded_deny;
		/* a record's first decision is never after its last */
		CU_ASSERT(e->first_ts <= e->ts_ns);
	}
}

/* The base policy with a fold window (ms, 0 off) and a budget (records/s, 0 off). */
static void apply_fold(__u32 window_ms, __u32 budget)
{
	struct kg_policy p;

	base_policy(&p, KG_MODE_ENFORCE);
	p.fold_window_ms = window_ms;
	p.budget = budget;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * A Produce of topic on c and the broker's answer to it (the name as the broker echoes
 * it: poisoned when rejected), so that nothing stays in flight; t gets the records.
 */
static void produce_answered(struct conn *c, struct pkt_spec *br, const char *topic,
			     struct tally *t)
{
	static const int errs[] = { 3 };
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	char echoed[64];
	const char *e = echoed;
	size_t n = produce(topic, b), rn, outlen;

	CU_ASSERT_EQUAL(conn_send(c, b, n), XDP_PASS);
	take(t);
	snprintf(echoed, sizeof(echoed), "%s", topic);
	if (!strncmp(topic, "eu.", 3))
		echoed[strlen(echoed) - 1] = '!'; /* rejected (us client): poisoned */
	rn = produce_response(7, &e, errs, 1, b);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, br, b, rn), out, &outlen), TC_ACT_OK);
	br->seq += rn;
}

/* The datapath counters the cases compare the records with. */
struct ctrs {
	__u64 reject, allow, folded, over, summaries, rule0;
};

/* The active generation's hits of rule (kg_rule_hits). */
static __u64 rule_hits(__u32 rule)
{
	return percpu_sum(dp.m.rule_hits, (__u32)kg_policy_active(&dp.m) * KG_MAX_RULES + rule);
}

static void ctrs_read(struct ctrs *c)
{
	c->reject = counter(KG_C_VERDICT_BASE + KG_ACT_REJECT);
	c->allow = counter(KG_C_VERDICT_BASE + KG_ACT_ALLOW);
	c->folded = counter(KG_C_FOLDED);
	c->over = counter(KG_C_OVER_BUDGET);
	c->summaries = counter(KG_C_FOLD_SUMMARIES);
	c->rule0 = rule_hits(0);
}

/*
 * A storm of 300 rejected writes on one connection, a neighbour's allowed writes between
 * them: the storm's first decision is a record at once, the 299 after it one summary when
 * a different decision comes; every decision of the neighbour is a record of its own.
 * The counts equal the datapath's verdict counters and the rule's hits exactly.
 */
void test_storm_folds_exactly(void)
{
	struct tally st = {}, nb = {};
	struct ctrs a, b;
	struct pkt_spec sbr, nbr;
	struct conn s, n;
	int nrecs_after_first = -1;

	apply_fold(60000, 0);
	broker_open(&s, "10.20.0.5", &sbr, 9100); /* us: eu.* rejected (rule 0) */
	broker_open(&n, "10.10.0.7", &nbr, 9200); /* nb.*: allowed (rule 6) */
	ctrs_read(&a);
	for (int i = 0; i < 300; i++) {
		produce_answered(&s, &sbr, "eu.orders", &st);
		if (i == 0) {
			CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1);
			check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
			nrecs_after_first = st.recs;
		}
		if (i % 10 == 0) {
			char topic[16];

			/* each another topic: none folds, so each must be a record */
			snprintf(topic, sizeof(topic), "nb.%03d", i);
			produce_answered(&n, &nbr, topic, &nb);
			CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1 &&
				  dp.ev[0].verdict == KG_ACT_ALLOW);
		}
	}
	CU_ASSERT_EQUAL(st.recs, nrecs_after_first); /* nothing more left meanwhile */
	CU_ASSERT_EQUAL(nb.recs, 30);
	ctrs_read(&b);
	CU_ASSERT_EQUAL(b.folded - a.folded, 299);
	/* a different decision: the storm's summary, then its own record */
	produce_answered(&s, &sbr, "public", &st);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 2);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT_EQUAL(dp.ev[0].count, 299);
	CU_ASSERT(dp.ev[0].first_ts < dp.ev[0].ts_ns);
	CU_ASSERT(dp.ev[0].client_id_len == 3 && !memcmp(dp.ev[0].client_id, "app", 3));
	check_event(1, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");
	CU_ASSERT_EQUAL(dp.ev[1].count, 1);
	ctrs_read(&b);
	printf("\n    300 rejects in %d records (their counts %llu), 30 neighbour records",
	       st.recs - 1, (unsigned long long)st.count[KG_LOST_DENY]);
	CU_ASSERT_EQUAL(st.count[KG_LOST_DENY], 300);
	CU_ASSERT_EQUAL(b.reject - a.reject, st.count[KG_LOST_DENY]);
	CU_ASSERT_EQUAL(b.rule0 - a.rule0, 300);
	CU_ASSERT_EQUAL(b.allow - a.allow, nb.count[KG_LOST_ALLOW] + 1);
	CU_ASSERT_EQUAL(b.summaries - a.summaries, 1);
	CU_ASSERT_EQUAL(st.recs, 3);
}

/*
 * The window: identical decisions within it of the record that showed the first fold;
 * the first decision after it sends their summary and starts the next window's count; a
 * decision identical to the run's when nothing is pending is a record at once.
 */
void test_storm_window_expiry(void)
{
	struct tally t = {};
	struct pkt_spec br;
	struct conn c;
	__u64 first_ts, last_ts;

	apply_fold(50, 0);
	broker_open(&c, "10.20.0.6", &br, 9100);
	for (int i = 0; i < 10; i++)
		produce_answered(&c, &br, "eu.orders", &t);
	CU_ASSERT_EQUAL(t.recs, 1);
	sleep_ms(70);
	produce_answered(&c, &br, "eu.orders", &t); /* the window ended: 2..10 leave */
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].count, 9);
	first_ts = dp.ev[0].first_ts;
	last_ts = dp.ev[0].ts_ns;
	CU_ASSERT(first_ts < last_ts && last_ts - first_ts < 50000000ull);
	sleep_ms(70);
	produce_answered(&c, &br, "public", &t); /* 11 leaves, then public */
	CU_ASSERT_EQUAL_FATAL(dp.nev, 2);
	CU_ASSERT(dp.ev[0].count == 1 && dp.ev[0].verdict == KG_ACT_REJECT &&
		  dp.ev[0].first_ts == dp.ev[0].ts_ns && dp.ev[0].ts_ns > last_ts + 50000000ull);
	CU_ASSERT(dp.ev[1].count == 1 && dp.ev[1].verdict == KG_ACT_ALLOW);
	sleep_ms(70);
	produce_answered(&c, &br, "public", &t); /* nothing pending: a record at once */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY], 11);
	CU_ASSERT_EQUAL(t.count[KG_LOST_ALLOW], 2);
}

/*
 * A different decision ends a run (its summary leaves before the new record); runs of
 * one leave nothing more; a connection that ends sends what it has pending.
 */
void test_storm_runs_broken_and_ended(void)
{
	struct tally t = {};
	struct ctrs a, b;
	struct pkt_spec br;
	struct conn c;
	uint8_t pkt[PKT_CAP];

	apply_fold(60000, 0);
	broker_open(&c, "10.20.0.8", &br, 9100);
	ctrs_read(&a);
	for (int i = 0; i < 5; i++)
		produce_answered(&c, &br, "eu.orders", &t); /* A: 1 record, 4 pending */
	produce_answered(&c, &br, "eu.payments", &t);      /* B: A's 4, then B */
	CU_ASSERT(dp.nev == 2 && dp.ev[0].count == 4 && dp.ev[1].count == 1);
	check_event(1, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.payments");
	produce_answered(&c, &br, "eu.orders", &t);        /* A again: B had none pending */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	for (int i = 0; i < 7; i++)
		produce_answered(&c, &br, "eu.orders", &t); /* 7 pending */
	CU_ASSERT_EQUAL(t.recs, 4);
	/* the client's RST at the connection's next byte ends it: the 7 leave */
	dp.nev = 0;
	CU_ASSERT_EQUAL(dp_run(pkt, rv_seg(&c, c.next, PKT_RST | PKT_ACK, NULL, 0, pkt), c.out,
			       &c.outlen),
			XDP_PASS);
	take(&t);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 7);
	ctrs_read(&b);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY], 14);
	CU_ASSERT_EQUAL(b.reject - a.reject, 14);
	CU_ASSERT_EQUAL(b.folded - a.folded, 4 + 7);
}

/*
 * A policy applied in the middle of a run: the run ends there. Decisions made under the
 * new version are never counted in a record that names the old one (its rule ids index
 * the old policy's rules): the first is a record of its own, the next ones its run.
 */
void test_storm_run_ends_at_policy_change(void)
{
	struct tally t = {};
	struct pkt_spec br;
	struct conn c;
	__u32 va, vb, under_b = 0;
	struct kg_policy p;

	apply_fold(60000, 0);
	va = dp.version;
	broker_open(&c, "10.20.0.41", &br, 9100);
	produce_answered(&c, &br, "eu.orders", &t);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].version_id == va);
	base_policy(&p, KG_MODE_ENFORCE);
	snprintf(p.version, sizeof(p.version), "%s", "storm-b");
	p.fold_window_ms = 60000;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
	vb = dp.version;
	CU_ASSERT_NOT_EQUAL_FATAL(va, vb);
	for (int i = 0; i < 5; i++) {
		produce_answered(&c, &br, "eu.orders", &t);
		for (int j = 0; j < dp.nev; j++) {
			CU_ASSERT(dp.ev[j].count == 0 || dp.ev[j].version_id == vb);
			under_b += dp.ev[j].version_id == vb ? dp.ev[j].count : 0;
		}
	}
	produce_answered(&c, &br, "public", &t); /* a different decision: the run's summary */
	for (int j = 0; j < dp.nev; j++)
		if (dp.ev[j].verdict == KG_ACT_REJECT) {
			CU_ASSERT_EQUAL(dp.ev[j].version_id, vb);
			under_b += dp.ev[j].count;
		}
	CU_ASSERT_EQUAL(under_b, 5);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY], 6);
}

/*
 * The budget: past it a connection's decisions are counted, not recorded; the next record
 * carries how many (folded, folded_deny); identical ones go on their run's count; at the
 * connection's end, a record of count 0 carries what is left.
 */
void test_storm_budget(void)
{
	struct tally t = {};
	struct ctrs a, b;
	struct pkt_spec br;
	struct conn c;
	uint8_t pkt[PKT_CAP];
	char topic[16];
	__u64 last_ts = 0;
	int burst;

	apply_fold(0, 10); /* no window: only the budget, 10 records a second */
	broker_open(&c, "10.20.0.9", &br, 9100);
	ctrs_read(&a);
	for (int i = 0; i < 40; i++) {
		snprintf(topic, sizeof(topic), "eu.t%02d", i); /* each decision another */
		produce_answered(&c, &br, topic, &t);
	}
	burst = t.recs;
	ctrs_read(&b);
	printf("\n    40 different rejects at once: %d records, %llu past the budget", burst,
	       (unsigned long long)(b.over - a.over));
	/* a second's worth (10), and what the clock gave back while they were sent */
	CU_ASSERT(burst >= 10 && burst < 20);
	CU_ASSERT_EQUAL(b.over - a.over, (__u64)(40 - burst));
	CU_ASSERT_EQUAL(t.folded, 0);
	sleep_ms(250); /* two records' worth */
	produce_answered(&c, &br, "eu.last", &t);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].count, 1);
	CU_ASSERT_EQUAL(dp.ev[0].folded, (__u32)(40 - burst));
	CU_ASSERT_EQUAL(dp.ev[0].folded_deny, (__u32)(40 - burst));
	ctrs_read(&b);
	/* every reject is in a record: its count, or the folded another carried */
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY] + t.folded_deny, 41);
	CU_ASSERT_EQUAL(b.reject - a.reject, 41);
	/* identical decisions past the budget go on their run's count instead */
	sleep_ms(1100);
	for (int i = 0; i < 30; i++)
		produce_answered(&c, &br, "eu.same", &t);
	CU_ASSERT(t.recs - burst - 1 >= 10 && t.recs - burst - 1 < 20);
	produce_answered(&c, &br, "eu.other", &t); /* over budget too: folded */
	sleep_ms(250);
	produce_answered(&c, &br, "public", &t); /* eu.same's summary, then public with 1 */
	CU_ASSERT_EQUAL_FATAL(dp.nev, 2);
	CU_ASSERT(dp.ev[0].count > 1 && dp.ev[0].folded == 1 && dp.ev[0].folded_deny == 1);
	CU_ASSERT(dp.ev[1].count == 1 && dp.ev[1].folded == 0);
	ctrs_read(&b);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY] + t.folded_deny, 41 + 31);
	CU_ASSERT_EQUAL(b.reject - a.reject, 41 + 31);
	CU_ASSERT_EQUAL(t.count[KG_LOST_ALLOW], 1);
	/* past the budget, then the end: a record of count 0 carries them, at the last's time */
	sleep_ms(1100);
	for (int i = 0; i < 25; i++) {
		snprintf(topic, sizeof(topic), "eu.u%02d", i);
		produce_answered(&c, &br, topic, &t);
	}
	last_ts = dp.ev[0].ts_ns;
	ctrs_read(&a);
	CU_ASSERT(a.over - b.over >= 5);
	dp.nev = 0;
	CU_ASSERT_EQUAL(dp_run(pkt, rv_seg(&c, c.next, PKT_RST | PKT_ACK, NULL, 0, pkt), c.out,
			       &c.outlen),
			XDP_PASS);
	take(&t);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT(dp.ev[0].count == 0 && dp.ev[0].folded == a.over - b.over &&
		  dp.ev[0].folded_deny == a.over - b.over);
	CU_ASSERT(dp.ev[0].ts_ns > last_ts && dp.ev[0].first_ts == dp.ev[0].ts_ns);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY] + t.folded_deny, 41 + 31 + 25);
	CU_ASSERT_EQUAL(a.reject - b.reject, 25);
}

/*
 * Runs the agent's fold sweep; dp.ev keeps the records of c it sent (other connections'
 * summaries, left by earlier cases, are not this case's). Returns how many.
 */
static int swept(int prog, const struct conn *c, __u64 *sent)
{
	int n = 0;

	dp.nev = 0;
	CU_ASSERT_EQUAL(kg_folds_sweep(prog, false, sent), 0);
	ring_buffer__consume(dp.rb);
	for (int i = 0; i < dp.nev; i++)
		if (dp.ev[i].flow.sport == htons(c->s.sport))
			dp.ev[n++] = dp.ev[i];
	dp.nev = n;
	return n;
}

/*
 * The agent's sweep (kgate_sweep with folds set, as `kgate run` runs it every second):
 * a connection that went quiet after a run gets its summary once its window ended, and
 * only once; the connection's next identical decision is a record at once.
 */
void test_storm_sweep(void)
{
	struct tally t = {};
	struct pkt_spec br;
	struct conn c;
	__u64 sent;
	int sweep = bpf_program__fd(dp.tc->progs.kgate_sweep);

	apply_fold(50, 0);
	broker_open(&c, "10.20.0.10", &br, 9100);
	for (int i = 0; i < 5; i++)
		produce_answered(&c, &br, "eu.orders", &t);
	CU_ASSERT_EQUAL(swept(sweep, &c, &sent), 0); /* still inside its window */
	sleep_ms(70);
	CU_ASSERT_EQUAL(swept(sweep, &c, &sent), 1);
	take(&t);
	CU_ASSERT(sent >= 1);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 4);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT_EQUAL(swept(sweep, &c, &sent), 0); /* sent once */
	produce_answered(&c, &br, "eu.orders", &t);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY], 6);
}

/*
 * The datapath's fold entry index of connection c (bpf/fold.h, kg_khash), from the random
 * key the datapath was loaded with (key: read by the caller).
 */
static __u32 fold_index(const struct kg_nhkey *key, const struct conn *c)
{
	struct kg_flow_key k = {};
	const __u32 *w = (const __u32 *)&k;
	__u32 h32;
	__u64 h = 0;
	int af = AF_INET;

	k.family = 4;
	inet_pton(af, c->s.saddr, k.saddr);
	inet_pton(af, c->s.daddr, k.daddr);
	k.sport = htons(c->s.sport);
	k.dport = htons(c->s.dport);
	for (int j = 0; j < 5; j++)
		h += (__u64)(__u32)(w[2 * j] + key->k[KG_NH_KEY_WORDS - 10 + 2 * j]) *
		     (__u32)(w[2 * j + 1] + key->k[KG_NH_KEY_WORDS - 9 + 2 * j]);
	h32 = (__u32)(h ^ (h >> 32));
	return (h32 * 0x9e3779b1u) >> (32 - KG_FOLD_BITS);
}

/*
 * Two connections whose keyed hashes share a fold entry: the one that decides takes the
 * entry and sends the other's pending count first; nothing is lost or doubled.
 */
void test_storm_shared_entry(void)
{
	struct tally t = {};
	struct ctrs a, b;
	struct kg_nhkey *key = calloc(1, sizeof(*key));
	/* the other connection's source: one of these addresses (each a different search) */
	static const char *const srcs[] = { "10.20.0.12", "10.20.0.13", "10.20.0.14",
					    "10.20.0.15" };
	struct pkt_spec br, br2;
	struct conn c, d;
	__u32 idx, zero = 0;
	uint16_t port = 0;
	int src = 0;

	CU_ASSERT_FATAL(key && !bpf_map_lookup_elem(dp.m.nhkey, &zero, key));
	apply_fold(60000, 0);
	broker_open(&c, "10.20.0.11", &br, 9100);
	idx = fold_index(key, &c);
	/*
	 * A connection that lands on the same entry (one in KG_FOLD_SLOTS of them does): about
	 * four among 64,000 ports of one address; 2% of the addresses have none.
	 */
	d.s = c.s;
	for (; src < 4 && !port; src++) {
		d.s.saddr = srcs[src];
		for (int p = 1024; p < 65024 && !port; p++) {
			d.s.sport = (uint16_t)p;
			if (fold_index(key, &d) == idx)
				port = (uint16_t)p;
		}
	}
	free(key);
	CU_ASSERT_FATAL(port != 0);
	dp.next_port = port;
	broker_open(&d, srcs[src - 1], &br2, 9300);
	CU_ASSERT_EQUAL_FATAL(d.s.sport, port);
	ctrs_read(&a);
	for (int i = 0; i < 6; i++)
		produce_answered(&c, &br, "eu.orders", &t); /* 1 record, 5 pending */
	produce_answered(&d, &br2, "eu.orders", &t);       /* c's 5, then d's own */
	CU_ASSERT_EQUAL_FATAL(dp.nev, 2);
	CU_ASSERT(dp.ev[0].count == 5 && dp.ev[0].flow.sport == htons(c.s.sport));
	CU_ASSERT(dp.ev[1].count == 1 && dp.ev[1].flow.sport == htons(d.s.sport));
	produce_answered(&c, &br, "eu.orders", &t); /* c again: its run was taken, a record */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].count == 1);
	ctrs_read(&b);
	CU_ASSERT_EQUAL(t.count[KG_LOST_DENY], 8);
	CU_ASSERT_EQUAL(b.reject - a.reject, 8);
	CU_ASSERT(counter(KG_C_FOLD_TAKEOVERS) >= 2);
}
