// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the event record splitter (agent/datapath/events.c): a kg_event_recs record of a
 * context and several compact decision entries gives back whole events, in order, each
 * with its context; a record cut anywhere, or whose lengths do not add up, gives the
 * events before the fault and -EBADMSG, never a read past the record (records are heap
 * copies of their exact size: the sanitizer the unit tests run under catches an overrun).
 * The ring reader (kg_evring) on a real ring buffer that a two-instruction-long BPF
 * program fills: every record once, in order, discarded ones skipped, the kernel's
 * consumer position moved only after a commit, a refused record read again.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "agent/datapath/events.h"

#define REC_MAX 4096
#define NEV 6

static char longest_topic[KD_TOPIC_MAX + 1], longest_cid[KD_CLIENT_ID_MAX + 1];

/* The events of the record: a client id (NULL: null) and a topic each. */
static const char *cids[NEV], *topics[NEV];

static void cases(void)
{
	static const char *const c[NEV] = { "app", NULL, "", "app-1234", "app", NULL };
	static const char *const t[NEV] = { "", "t", "seven.7", "eight.88", "x", NULL };

	memset(longest_topic, 'x', KD_TOPIC_MAX);
	memset(longest_cid, 'c', KD_CLIENT_ID_MAX);
	for (int i = 0; i < NEV; i++) {
		cids[i] = c[i];
		topics[i] = t[i];
	}
	cids[4] = longest_cid;
	topics[5] = longest_topic;
}

/* Context id at rec + off, as the datapath writes it; returns the offset after it. */
static size_t put_ctx(__u8 *rec, size_t off, int id)
{
	static const char *const principals[] = { "alice", "" };
	const char *pr = principals[id & 1];
	struct kg_rec_ctx c;
	size_t size = KG_REC_CTX_SIZE(strlen(pr));

	memset(&c, 0, sizeof(c));
	c.h.size = size;
	c.h.type = KG_REC_CTX;
	c.version_id = 40 + id;
	c.ts_ns = 1000 + id;
	c.flow.family = 4;
	c.flow.sport = 5000 + id;
	c.principal_id = 3 + id;
	c.region_id = 2;
	c.principal_len = strlen(pr);
	c.gen = id & 1;
	memcpy(rec + off, &c, sizeof(c));
	memset(rec + off + sizeof(c), 0xa5, size - sizeof(c));
	memcpy(rec + off + sizeof(c), pr, strlen(pr));
	return off + size;
}

/* Decision entry i; its padding gets garbage (the splitter must not pass it on). */
static size_t put_dec(__u8 *rec, size_t off, int i)
{
	struct kg_rec_dec d;
	size_t tl = strlen(topics[i]), cl = cids[i] ? strlen(cids[i]) : 0, size, at;

	memset(&d, 0, sizeof(d));
	d.h.type = KG_REC_DEC;
	d.rule_id = i;
	d.corr = -i;
	d.kind = tl ? KG_EV_TOPIC : KG_EV_REQUEST;
	d.verdict = i % KG_ACT__COUNT;
	d.client_id_len = cids[i] ? cl : 0xff;
	d.topic_len = tl;
	d.flags = i == 2 || i == 3 ? KG_REC_F_UUID : 0; /* topics by id */
	size = KG_REC_DEC_SIZE(d.flags, d.client_id_len, tl);
	d.h.size = size;
	memcpy(rec + off, &d, sizeof(d));
	memset(rec + off + sizeof(d), 0xa5, size - sizeof(d));
	at = off + sizeof(d);
	if (d.flags & KG_REC_F_UUID) {
		memset(rec + at, 0x10 + i, 16);
		at += 16;
	}
	memcpy(rec + at, cids[i] ? cids[i] : "", cl);
	memcpy(rec + at + ((cl + 7) & ~7u), topics[i], tl);
	return off + size;
}

/* ctx 0, events 0-2, ctx 1, events 3-5; ends[i] = offset after event i. */
static size_t build(__u8 *rec, size_t *ends)
{
	size_t off = 0;

	cases();
	for (int i = 0; i < NEV; i++) {
		if (i == 0 || i == 3)
			off = put_ctx(rec, off, i / 3);
		off = put_dec(rec, off, i);
		ends[i] = off;
	}
	return off;
}

struct got {
	int n;
	struct kg_event ev[NEV];
};

static void collect(void *ctx, const struct kg_event *e)
{
	struct got *g = ctx;

	if (g->n < NEV)
		g->ev[g->n] = *e;
	g->n++;
}

/* Splits a heap copy of exactly len bytes of rec. */
static int split(const __u8 *rec, size_t len, struct got *g)
{
	__u8 *copy = malloc(len ? len : 1);
	int r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, rec, len);
	memset(g, 0, sizeof(*g));
	r = kg_events_each(copy, len, collect, g);
	free(copy);
	return r;
}

static bool zero_from(const __u8 *p, size_t from, size_t end)
{
	for (size_t k = from; k < end; k++)
		if (p[k])
			return false;
	return true;
}

static void test_several_events_in_order(void)
{
	static __u8 rec[REC_MAX];
	size_t ends[NEV], size = build(rec, ends);
	struct got g;

	CU_ASSERT_EQUAL(split(rec, size, &g), NEV);
	CU_ASSERT_EQUAL_FATAL(g.n, NEV);
	for (int i = 0; i < NEV; i++) {
		const struct kg_event *e = &g.ev[i];
		size_t tl = strlen(topics[i]), cl = cids[i] ? strlen(cids[i]) : 0;

		/* from its context: the second one (no principal) for events 3-5 */
		CU_ASSERT_EQUAL(e->ts_ns, 1000u + i / 3);
		CU_ASSERT_EQUAL(e->version_id, 40u + i / 3);
		CU_ASSERT_EQUAL(e->flow.sport, 5000 + i / 3);
		CU_ASSERT_EQUAL(e->gen, (i / 3) & 1);
		CU_ASSERT_EQUAL(e->principal_id, 3 + i / 3);
		CU_ASSERT(e->region_id == 2 && e->flow.family == 4);
		if (i < 3)
			CU_ASSERT(e->principal_len == 5 && !memcmp(e->principal, "alice", 5));
		CU_ASSERT_EQUAL(e->principal_len, i < 3 ? 5 : 0);
		CU_ASSERT(zero_from(e->principal, i < 3 ? 5 : 0, sizeof(e->principal)));
		/* its own */
		CU_ASSERT_EQUAL(e->rule_id, (__u32)i);
		CU_ASSERT_EQUAL(e->corr, -i);
		CU_ASSERT_EQUAL(e->kind, tl ? KG_EV_TOPIC : KG_EV_REQUEST);
		CU_ASSERT_EQUAL(e->verdict, i % KG_ACT__COUNT);
		/* the topic id where the entry has one, else zeroes */
		CU_ASSERT(zero_from(e->uuid, 0, 16) == !(i == 2 || i == 3));
		if (i == 2 || i == 3)
			CU_ASSERT(e->uuid[0] == 0x10 + i && e->uuid[15] == 0x10 + i);
		CU_ASSERT_EQUAL(e->client_id_len, cids[i] ? cl : 0xff);
		CU_ASSERT(!memcmp(e->client_id, cids[i] ? cids[i] : "", cl));
		CU_ASSERT(zero_from(e->client_id, cl, sizeof(e->client_id)));
		CU_ASSERT_EQUAL(e->topic_len, tl);
		CU_ASSERT(!memcmp(e->topic, topics[i], tl));
		/* zero past the name, whatever the record's padding held */
		CU_ASSERT(zero_from(e->topic, tl, sizeof(e->topic)));
	}
	/* an empty record holds no events */
	CU_ASSERT_EQUAL(split(rec, 0, &g), 0);
	CU_ASSERT_EQUAL(g.n, 0);
}

/* Cut at every length: the whole events before the cut, then -EBADMSG unless at a boundary. */
static void test_truncated_record(void)
{
	static __u8 rec[REC_MAX];
	size_t ends[NEV], size = build(rec, ends);
	int bad = 0;

	for (size_t cut = 1; cut < size; cut++) {
		struct got g;
		int whole = 0, r = split(rec, cut, &g);
		bool boundary = false;

		for (int i = 0; i < NEV; i++) {
			if (ends[i] <= cut)
				whole = i + 1;
			if (ends[i] == cut)
				boundary = true;
		}
		/* a cut right after a context is a whole record too */
		if (cut == KG_REC_CTX_SIZE(5) || cut == ends[2] + KG_REC_CTX_SIZE(0))
			boundary = true;
		if (g.n != whole || r != (boundary ? whole : -EBADMSG))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* A good record with the 16-bit field at offset field of event i's entry rewritten. */
static int with_field(int i, size_t field, __u16 val, struct got *g)
{
	static __u8 rec[REC_MAX];
	size_t ends[NEV], size = build(rec, ends), start = i ? ends[i - 1] : 0;

	if (i == 0 || i == 3)
		start += KG_REC_CTX_SIZE(i ? 0 : 5);
	memcpy(rec + start + field, &val, sizeof(val));
	return split(rec, size, g);
}

/* A good record with the byte at offset field of event i's entry rewritten. */
static int with_byte(int i, size_t field, __u8 val, struct got *g)
{
	static __u8 rec[REC_MAX];
	size_t ends[NEV], size = build(rec, ends), start = i ? ends[i - 1] : 0;

	if (i == 0 || i == 3)
		start += KG_REC_CTX_SIZE(i ? 0 : 5);
	rec[start + field] = val;
	return split(rec, size, g);
}

static void test_bad_lengths(void)
{
	const size_t sz = __builtin_offsetof(struct kg_rec_dec, h.size);
	const size_t tl = __builtin_offsetof(struct kg_rec_dec, topic_len);
	const size_t cl = __builtin_offsetof(struct kg_rec_dec, client_id_len);
	const size_t fl = __builtin_offsetof(struct kg_rec_dec, flags);
	struct got g;

	/* the sizes as written are accepted (each case below fails for its own reason) */
	CU_ASSERT_EQUAL(with_field(3, sz, KG_REC_DEC_SIZE(KG_REC_F_UUID, 8, 8), &g), NEV);
	/* a zero size would never advance; one that is too big reaches past the record */
	CU_ASSERT_EQUAL(with_field(0, sz, 0, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(with_field(NEV - 1, sz, 0xffff, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, NEV - 1);
	/* sizes that disagree with the contents: a word short, a word long, unaligned */
	CU_ASSERT_EQUAL(with_field(3, sz, KG_REC_DEC_SIZE(KG_REC_F_UUID, 8, 8) - 8, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 3);
	CU_ASSERT_EQUAL(with_field(1, sz, KG_REC_DEC_SIZE(0, 0xff, 1) + 8, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 1);
	CU_ASSERT_EQUAL(with_field(2, sz, KG_REC_DEC_SIZE(KG_REC_F_UUID, 0, 7) + 1, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 2);
	CU_ASSERT_EQUAL(with_field(0, sz, sizeof(struct kg_rec_dec) - 8, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 0);
	/* contents that disagree with the size: topic, client id, a topic id flag */
	CU_ASSERT_EQUAL(with_byte(5, tl, 200, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 5);
	CU_ASSERT_EQUAL(with_byte(4, cl, 8, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 4);
	CU_ASSERT_EQUAL(with_byte(1, fl, KG_REC_F_UUID, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 1);
	/* a context whose principal length is not its size's */
	{
		static __u8 rec[REC_MAX];
		size_t ends[NEV], size = build(rec, ends);

		rec[__builtin_offsetof(struct kg_rec_ctx, principal_len)] = 9;
		CU_ASSERT_EQUAL(split(rec, size, &g), -EBADMSG);
		CU_ASSERT_EQUAL(g.n, 0);
	}
}

static void test_bad_entries(void)
{
	static __u8 rec[REC_MAX];
	size_t ends[NEV], size = build(rec, ends);
	struct kg_rec_hdr h;
	struct got g;

	/* an event before any context */
	CU_ASSERT_EQUAL(split(rec + KG_REC_CTX_SIZE(5), ends[0] - KG_REC_CTX_SIZE(5), &g),
			-EBADMSG);
	CU_ASSERT_EQUAL(g.n, 0);
	/* a context of the wrong size */
	memcpy(&h, rec, sizeof(h));
	h.size += 8;
	memcpy(rec, &h, sizeof(h));
	CU_ASSERT_EQUAL(split(rec, size, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 0);
	/* an entry of a type this agent does not know (the second context's place) */
	build(rec, ends);
	memcpy(&h, rec + ends[2], sizeof(h));
	h.type = 9;
	memcpy(rec + ends[2], &h, sizeof(h));
	CU_ASSERT_EQUAL(split(rec, size, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 3);
	/* fewer bytes than an entry header */
	CU_ASSERT_EQUAL(split(rec, 3, &g), -EBADMSG);
	CU_ASSERT_EQUAL(g.n, 0);
}

/* ---- the ring reader ------------------------------------------------------------------ */

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), \
					       .off = (o), .imm = (i)})
#define CALL(fn)	     INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define MOV_K(d, i)	     INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define LD_MAP(d, fd)                                                                              \
	INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)
#define EXIT		     INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* A socket filter that submits one 8-byte record (the time: each larger than the last),
 * or (discard) reserves one and discards it. Run by BPF_PROG_RUN. */
static int ring_prog(int map, bool discard)
{
	const struct bpf_insn out[] = {
		CALL(BPF_FUNC_ktime_get_ns),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_0, -8, 0),
		LD_MAP(BPF_REG_1, map),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
		MOV_K(BPF_REG_3, 8),
		MOV_K(BPF_REG_4, 0),
		CALL(BPF_FUNC_ringbuf_output),
		MOV_K(BPF_REG_0, 0),
		EXIT,
	};
	const struct bpf_insn dis[] = {
		LD_MAP(BPF_REG_1, map),
		MOV_K(BPF_REG_2, 8),
		MOV_K(BPF_REG_3, 0),
		CALL(BPF_FUNC_ringbuf_reserve),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 3, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_0, 0, 0),
		MOV_K(BPF_REG_2, 0),
		CALL(BPF_FUNC_ringbuf_discard),
		MOV_K(BPF_REG_0, 0),
		EXIT,
	};

	return discard ? bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "t_rb_dis", "GPL", dis,
				       sizeof(dis) / sizeof(dis[0]), NULL)
		       : bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "t_rb_out", "GPL", out,
				       sizeof(out) / sizeof(out[0]), NULL);
}

static void prog_runs(int prog, int n)
{
	static __u8 pkt[64];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(bpf_prog_test_run_opts(prog, &o), 0);
}

struct ring_seen {
	int n, stop_at, commits[8], ncommits;
	__u64 last;
	const unsigned long *cons; /* the kernel's consumer position, as a second mapping */
	unsigned long pos;	    /* where it was last seen */
	bool committed;		    /* a commit happened since: it may have moved once */
	bool moved_early;	    /* it moved without a commit before */
};

static void ring_check_pos(struct ring_seen *t)
{
	if (*t->cons != t->pos) {
		t->moved_early |= !t->committed;
		t->pos = *t->cons;
	}
	t->committed = false;
}

static int ring_rec(void *ctx, const void *data, size_t size)
{
	struct ring_seen *t = ctx;
	__u64 v;

	ring_check_pos(t);
	if (t->n == t->stop_at)
		return -7;
	CU_ASSERT_EQUAL(size, 8);
	memcpy(&v, data, sizeof(v));
	CU_ASSERT(v > t->last); /* in order, none twice */
	t->last = v;
	t->n++;
	return 0;
}

static void ring_commit(void *ctx)
{
	struct ring_seen *t = ctx;

	ring_check_pos(t);
	if (t->ncommits < 8)
		t->commits[t->ncommits++] = t->n;
	t->committed = true;
}

static void test_evring(void)
{
	long page = sysconf(_SC_PAGESIZE);
	int map = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "t_ring", 0, 0, 1 << 16, NULL);
	int out, dis, total = KG_EVRING_BATCH * 2 + 100;
	struct ring_seen t = {.stop_at = -1};
	struct kg_evring *er;
	void *cons;

	if (map < 0) {
		fprintf(stderr, "(skipped: no BPF ring buffer here: %s) ", strerror(errno));
		return;
	}
	out = ring_prog(map, false);
	dis = ring_prog(map, true);
	CU_ASSERT_FATAL(out >= 0 && dis >= 0);
	cons = mmap(NULL, page, PROT_READ, MAP_SHARED, map, 0);
	CU_ASSERT_FATAL(cons != MAP_FAILED);
	t.cons = cons;
	t.pos = *t.cons;
	er = kg_evring_new(ring_rec, ring_commit, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(er);
	CU_ASSERT_EQUAL(kg_evring_add(er, map), 0);
	/* not a ring buffer: refused */
	{
		int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_arr", 4, 4, 1, NULL);

		CU_ASSERT_EQUAL(kg_evring_add(er, arr), -EINVAL);
		close(arr);
	}

	/* every record once, in order; discarded ones never reach rec; a commit per batch and
	 * at the end, the position moved only after one */
	for (int i = 0; i < total; i++) {
		prog_runs(out, 1);
		if (i % 7 == 0)
			prog_runs(dis, 1);
	}
	CU_ASSERT_EQUAL(kg_evring_consume(er), total);
	CU_ASSERT_EQUAL(t.n, total);
	CU_ASSERT_EQUAL(t.ncommits, 3);
	CU_ASSERT_EQUAL(t.commits[0], KG_EVRING_BATCH);
	CU_ASSERT_EQUAL(t.commits[1], 2 * KG_EVRING_BATCH);
	CU_ASSERT_EQUAL(t.commits[2], total);
	CU_ASSERT(!t.moved_early);
	/* nothing new: nothing read, nothing committed */
	CU_ASSERT_EQUAL(kg_evring_consume(er), 0);
	CU_ASSERT_EQUAL(t.ncommits, 3);

	/* a record refused: those before it are committed and gone, it is read again next */
	prog_runs(out, 10);
	t.stop_at = total + 4;
	t.ncommits = 0;
	CU_ASSERT_EQUAL(kg_evring_consume(er), -7);
	CU_ASSERT_EQUAL(t.n, total + 4);
	CU_ASSERT(t.ncommits == 1 && t.commits[0] == total + 4);
	t.stop_at = -1;
	CU_ASSERT_EQUAL(kg_evring_consume(er), 6);
	CU_ASSERT_EQUAL(t.n, total + 10);
	CU_ASSERT(!t.moved_early);

	kg_evring_free(er);
	munmap(cons, page);
	close(out);
	close(dis);
	close(map);
}

int register_events_tests(void)
{
	CU_pSuite s = CU_add_suite("event records", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "several events come back whole, in order, with their context",
			 test_several_events_in_order) ||
	    !CU_add_test(s, "a record cut anywhere: events before the cut, then an error",
			 test_truncated_record) ||
	    !CU_add_test(s, "lengths that do not add up are refused", test_bad_lengths) ||
	    !CU_add_test(s, "entries out of place or unknown are refused", test_bad_entries) ||
	    !CU_add_test(s, "ring reader: once, in order, let go only after a commit",
			 test_evring))
		return -1;
	return 0;
}
