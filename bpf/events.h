/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision events: one record of kg_event_recs per packet, holding the packet's
 * decisions (the format is in maps/kgate_maps.h). They are staged per CPU in kg_evbatch:
 * kg_ev_begin before the decode loop, kg_ev_end after it. An event outside that scope
 * (at SYN, for a flow whose decoding had ended) leaves at once, a record of one. A full
 * staging buffer is sent early. Within the scope every event is of the packet's flow,
 * so one context entry serves them all.
 */
#ifndef KGATE_EVENTS_H
#define KGATE_EVENTS_H

#include "decide.h"
#include "fold.h"

/* kg_emit's enforced_gen: the policy generation in bit 0, and this bit when applied. */
#define KG_ENFORCED 2

/*
 * The per-CPU staging of a packet's events (kg_emit): while a packet is decoded its
 * events are written here compactly and leave as one kg_event_recs record. Not pinned:
 * each ingress object has its own, and its one program does not nest on a CPU (it runs
 * in softirq), so nothing but the packet at hand is ever staged. Only the ingress
 * programs send events (TC egress has none: no 8 KB per CPU for it).
 */
struct kg_evbatch {
	__u32 len;     /* bytes staged in data: whole entries (maps/kgate_maps.h, KG_REC_*) */
	__u32 nallow;  /* staged decisions by verdict class (with those their entries carry as
			* folded), counted lost if the record is */
	__u32 ndeny;
	__u16 ctx_off; /* where the context entry is */
	__u8 open;     /* a packet's decode loop runs: events wait for kg_ev_end */
	__u8 ctx;      /* data holds a context entry, for policy generation ctx_gen */
	__u8 ctx_gen;
	__u8 pad[7];
	__u8 data[KG_EVBATCH_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_evbatch);
} kg_evbatch SEC(".maps");

/* Sends what is staged as one record; if the ring buffer is full, counts it lost. */
static __always_inline void kg_ev_send(struct kg_evbatch *b)
{
	__u32 len = b->len;

	if (len) {
		KD_CLAMP(len, KG_EVBATCH_BYTES);
		/* no wakeup: the agent polls (a wakeup per record costs ~1 us) */
		if (bpf_ringbuf_output(&kg_event_recs, b->data, len, BPF_RB_NO_WAKEUP)) {
			if (b->nallow)
				kg_count_n(KG_C_EVENTS_LOST_ALLOW, b->nallow);
			if (b->ndeny)
				kg_count_n(KG_C_EVENTS_LOST_DENY, b->ndeny);
		}
	}
	b->len = 0;
	b->nallow = 0;
	b->ndeny = 0;
	b->ctx = 0; /* every record starts with its context */
}

/* From here to kg_ev_end, events are staged. */
static __always_inline void kg_ev_begin(void)
{
	__u32 zero = 0;
	struct kg_evbatch *b = bpf_map_lookup_elem(&kg_evbatch, &zero);

	if (b)
		b->open = 1;
}

/* Sends the events staged since kg_ev_begin; later events leave one by one. */
__attribute__((noinline)) int kg_ev_end(void)
{
	__u32 zero = 0;
	struct kg_evbatch *b = bpf_map_lookup_elem(&kg_evbatch, &zero);

	if (!b)
		return 0;
	b->open = 0;
	kg_ev_send(b);
	return 0;
}

/*
 * Copies len (<= max) bytes of src to dst zero-padded to 8, src and dst 8-aligned: all
 * max bytes are copied (straight-line code: a loop to len would multiply the verifier's
 * paths), then the word holding the end rewritten from src with the bytes past len
 * cleared (from src, not dst: reading back what was just stored would stall). Bytes past
 * the padding are left for the next entry to overwrite, or unsent. Little endian: the
 * first bytes of a word are its low.
 */
static __always_inline void kg_copy_pad8(__u8 *dst, const __u8 *src, __u32 len, const __u32 max)
{
	KD_COPY64(dst, src, max);
	if (len & 7) {
		__u32 w = (len & ~7u) & (max - 8);

		*(__u64 *)&dst[w] = *(const __u64 *)&src[w] & ((1ull << ((len & 7) * 8)) - 1);
	}
}

/* The context entry of f's events at b->data[off]; returns its size. */
static __always_inline __u32 kg_ev_ctx(struct kg_evbatch *b, __u32 off, struct kg_flow *f,
				       struct kg_config *cfg, __u32 gen)
{
	struct kg_rec_ctx *c = (struct kg_rec_ctx *)&b->data[off];
	__u32 pl = KG_REC_PRINCIPAL_BYTES(f->principal_len), size;

	KD_CLAMP(pl, KD_USER_MAX); /* it is: for the verifier */
	size = KG_REC_CTX_SIZE(pl);
	c->h.size = size;
	c->h.type = KG_REC_CTX;
	c->h.pad = 0;
	c->version_id = cfg->version_id;
	c->ts_ns = f->ts_pkt;
	kg_key_copy(&c->flow, &f->key);
	c->principal_id = f->principal_id;
	c->region_id = f->region_id;
	c->principal_src = f->principal_src;
	c->principal_len = f->principal_len;
	c->gen = gen;
	c->pad[0] = 0;
	c->pad[1] = 0;
	kg_copy_pad8((__u8 *)(c + 1), f->principal, pl, KD_USER_MAX);
	b->ctx = 1;
	b->ctx_gen = gen;
	b->ctx_off = off;
	return size;
}

/*
 * All ones when a < b, else 0, without a branch: hidden from clang, which would otherwise
 * turn `x & mask` back into a branch (a state of its own for the verifier each time).
 */
static __always_inline __u64 kg_below(__s64 a, __s64 b)
{
	__s64 m = a - b;

#ifdef __bpf__
	asm volatile("%0 s>>= 63" : "+r"(m));
#else
	m >>= 63;
#endif
	return (__u64)m;
}

/* kg_fold_same's answer: which part of the staged record is e's. */
#define KG_SAME_CTX 1 /* the context: flow, principal, region, policy version */
#define KG_SAME_DEC 2 /* the decision entry (only when its size is e's) */

/*
 * Which parts of the record staged in b (its context at b->ctx_off, its decision at off),
 * when their sizes are e's, show what e's do: every word but the time, the correlation id
 * and frame size, and the counts. Both were written by kg_emit, padding zeroed, so words
 * compare exactly. A decision whose first words already differ (another topic, rule or
 * verdict: the usual case in a request of many topics) is not compared further. A global
 * function: its own small stack frame, not kg_fold_dec's (the deepest call chain's).
 */
__attribute__((noinline)) int kg_fold_same(struct kg_fold *e, struct kg_evbatch *b, __u32 off)
{
	const __u64 *c, *d, *r, *rd;
	__u32 rw, coff = b ? b->ctx_off : 0;
	__s64 cs, ds;
	__u64 diff = 0;
	bool dec;
	int same;

	if (!e || !b)
		return 0;
	r = e->rec;
	KG_CLAMP(coff, KG_EVBATCH_BYTES - KG_REC_CTX_MAX);
	KG_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_DEC_MAX);
	c = (const __u64 *)&b->data[coff];
	d = (const __u64 *)&b->data[off];
	/* the sizes must be e's: the context's to compare it, the decision's to compare that */
	if (!e->size || ((const struct kg_rec_hdr *)c)->size != e->ctx_size)
		return 0;
	dec = ((const struct kg_rec_hdr *)d)->size == e->size - e->ctx_size;
	cs = e->ctx_size;
	ds = e->size - e->ctx_size;
	rw = e->ctx_size / 8;
	KG_CLAMP(rw, KG_REC_CTX_MAX / 8);
	rd = &r[rw]; /* the stored decision entry */
	/*
	 * Every word up to the largest entries, without a branch on the data: a word past the
	 * entry's size is masked off (reading it stays inside both buffers). A loop that
	 * stopped at the size would be verified once for every size it can stop at; unrolled,
	 * clang would spill its loads to the stack.
	 */
#pragma clang loop unroll(disable)
	for (int w = 0; w < (int)KG_REC_CTX_MAX / 8; w++)
		if (w != 1) /* ts_ns */
			diff |= (c[w] ^ r[w]) & kg_below(w * 8, cs);
	same = diff ? 0 : KG_SAME_CTX;
	/* rule; key, version, kind, verdict...; lengths; the first bytes of client id, topic */
	if (!dec || ((d[0] ^ rd[0]) | (d[2] ^ rd[2]) | (d[3] ^ rd[3]) |
		     ((d[7] ^ rd[7]) & kg_below(7 * 8, ds)) | ((d[8] ^ rd[8]) & kg_below(8 * 8, ds))))
		return same;
	diff = 0;
	/* 1: corr, frame_size; 4-6: count, folded, folded_deny, first_ts */
#pragma clang loop unroll(disable)
	for (int w = 0; w < (int)KG_REC_DEC_MAX / 8; w++)
		if (w != 1 && (w < 4 || w > 6))
			diff |= (d[w] ^ rd[w]) & kg_below(w * 8, ds);
	return diff ? same : same | KG_SAME_DEC;
}

/*
 * The budget (GCRA): whether n more records may leave at now, and if so they are paid
 * for. A connection that sent nothing for a second has a second's worth.
 */
static __always_inline bool kg_budget_take(struct kg_fold *e, __u64 now, __u64 cost, __u32 n)
{
	__u64 t = e->tat > now ? e->tat : now;

	if (t + n * cost > now + KG_BUDGET_BURST_NS)
		return false;
	e->tat = t + n * cost;
	return true;
}

/*
 * The fold entry of flow f's decisions under policy generation gen, taken (locked) and
 * made f's (another connection's pending counts sent first): its index, or -1 when the
 * policy neither folds nor budgets, or the entry is in use elsewhere (then the decision
 * is a record of its own). A global function, verified once.
 */
__attribute__((noinline)) int kg_fold_open(struct kg_flow *f, __u32 gen)
{
	struct kg_config *cfg;
	struct kg_fold *e;
	__u32 i;

	if (!f)
		return -1;
	gen &= 1;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg || (!cfg->fold_window_ms && !cfg->budget_cost_ns))
		return -1; /* neither folds nor budgets: every decision a record */
	i = kg_fold_index(&f->key);
	e = bpf_map_lookup_elem(&kg_folds, &i);
	if (!e)
		return -1;
	if (!kg_fold_lock(e)) {
		kg_count(KG_C_FOLD_BUSY);
		return -1;
	}
	if (!kg_key_eq(&e->key, &f->key)) {
		/* another connection's: what it has pending leaves first */
		if (e->size)
			kg_count(KG_C_FOLD_TAKEOVERS);
		kg_fold_send(e);
		kg_fold_reset(e, &f->key);
	}
	return i;
}

/* kg_fold_dec's answers. */
#define KG_FOLD_SEND 0 /* the staged entry leaves (its folded counts written into it) */
#define KG_FOLD_KEEP 1 /* counted here: the staged entry is taken back */

/*
 * The decision staged in b at off (its context at b->ctx_off), of flow f, under the
 * generation in bit 0 of gs and kg_fold_same's answer above it, against f's fold entry i
 * (taken by kg_fold_open; let go here): folded into the connection's run, counted past the
 * budget, or sent (then what was pending leaves first, and it becomes the run). kg_emit
 * calls the three apart, so that none is deeper than one call below it.
 */
__attribute__((noinline)) int kg_fold_dec(struct kg_flow *f, struct kg_evbatch *b, __u32 off,
					  __u32 gs, __u32 i)
{
	__u32 size, cs, coff, need, gen = gs & 1;
	struct kg_config *cfg;
	struct kg_rec_dec *d;
	struct kg_fold *e;
	__u64 ts, window, cost;
	/* identical decision and context: a policy applied since (its version and
	 * generation), a new region or principal starts a new run */
	bool same = ((gs >> 1) & (KG_SAME_DEC | KG_SAME_CTX)) == (KG_SAME_DEC | KG_SAME_CTX);
	bool deny;

	e = bpf_map_lookup_elem(&kg_folds, &i);
	if (!e)
		return KG_FOLD_SEND;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!f || !b || !cfg) {
		kg_fold_unlock(e);
		return KG_FOLD_SEND;
	}
	window = cfg->fold_window_ms * 1000000ull;
	cost = cfg->budget_cost_ns;
	KG_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_DEC_MAX);
	d = (struct kg_rec_dec *)&b->data[off];
	size = d->h.size;
	KG_CLAMP(size, KG_REC_DEC_MAX);
	coff = b->ctx_off;
	KG_CLAMP(coff, KG_EVBATCH_BYTES - KG_REC_CTX_MAX);
	cs = ((struct kg_rec_ctx *)&b->data[coff])->h.size;
	KG_CLAMP(cs, KG_REC_CTX_MAX);
	ts = f->ts_pkt;
	deny = d->verdict != KG_ACT_ALLOW;
	if (same && ts < e->window_end)
		goto fold;
	/* a record would leave: the run's summary, if it has one, and this one unless it goes
	 * on the run (identical, the window ended: it starts the next window's count) */
	need = (e->count ? 1 : 0) + (same && e->count ? 0 : 1);
	if (cost && !kg_budget_take(e, ts, cost, need)) {
		if (same)
			goto fold; /* the window stays ended: its summary leaves when it can */
		e->folded++;
		e->folded_deny += deny;
		/* the time a record that carries only them will have */
		if (!e->count)
			e->last_ts = ts;
		kg_count(KG_C_OVER_BUDGET);
		kg_fold_unlock(e);
		return KG_FOLD_KEEP;
	}
	if (e->count) {
		kg_fold_send(e);
		if (same) {
			e->window_end = ts + window;
			goto fold;
		}
	}
	/* this decision leaves, carrying what was folded past the budget, and is the run now */
	d->folded = e->folded;
	d->folded_deny = e->folded_deny;
	e->folded = 0;
	e->folded_deny = 0;
	e->ctx_size = cs;
	e->size = cs + size;
	e->window_end = ts + window;
	/* the context only when it changed (a principal bound, a policy applied) */
	if (!((gs >> 1) & KG_SAME_CTX))
		bpf_probe_read_kernel(e->rec, cs, &b->data[coff]);
	bpf_probe_read_kernel((__u8 *)e->rec + cs, size, d);
	kg_fold_unlock(e);
	return KG_FOLD_SEND;
fold:
	if (!e->count)
		e->first_ts = ts;
	e->count++;
	e->last_ts = ts;
	kg_count(KG_C_FOLDED);
	kg_fold_unlock(e);
	return KG_FOLD_KEEP;
}

/*
 * One decision event. kind KG_EV_*; dec = kg_decide's result; enforced as applied.
 * Deny and undecodable events are always recorded; allows per the policy's audit_allow.
 * Recorded: staged as an entry of the packet's record, unless it folds into the
 * connection's run or passes its budget (kg_fold_dec), when the entry is taken back.
 */
__attribute__((noinline)) int kg_emit(struct kg_flow *f, __u32 kind, __u32 dec, __u32 enforced_gen)
{
	__u32 gen = enforced_gen & 1, action = dec & KG_DEC_ACT_MASK, zero = 0, off, cl, tl, size;
	__u64 undo; /* what a fold takes back: len, ctx_off, ctx, ctx_gen (one stack slot) */
	int fi, sm, fold = KG_FOLD_SEND;
	struct kg_config *cfg;
	struct kg_evbatch *b;
	struct kg_rec_dec *e;
	__u8 *var;

	if (!f)
		return 0;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return 0;
	if (kind == KG_EV_TOPIC || kind == KG_EV_REQUEST) {
		if (action == KG_ACT_ALLOW && cfg->audit_allow != 1) {
			if (cfg->audit_allow == 0)
				return 0;
			if (f->topics % cfg->audit_allow)
				return 0;
		}
	}
	/* one clock read per packet: its decisions are made at the same time */
	if (!f->ts_pkt)
		f->ts_pkt = bpf_ktime_get_ns();
	b = bpf_map_lookup_elem(&kg_evbatch, &zero);
	if (!b) {
		kg_count(action == KG_ACT_ALLOW ? KG_C_EVENTS_LOST_ALLOW : KG_C_EVENTS_LOST_DENY);
		return 0;
	}
	/* room for a context and the largest decision, or what is staged goes first */
	off = b->len;
	if (off > KG_EVBATCH_BYTES - KG_REC_CTX_MAX - KG_REC_DEC_MAX) {
		kg_ev_send(b);
		off = 0;
	}
	KG_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_CTX_MAX - KG_REC_DEC_MAX);
	undo = off | (__u64)b->ctx_off << 16 | (__u64)b->ctx << 32 | (__u64)b->ctx_gen << 40;
	if (!b->ctx || b->ctx_gen != gen)
		off += kg_ev_ctx(b, off, f, cfg, gen);
	KG_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_DEC_MAX);
	e = (struct kg_rec_dec *)&b->data[off];
	e->h.type = KG_REC_DEC;
	e->h.pad = 0;
	e->rule_id = (dec >> KG_DEC_RULE_SHIFT) ? (dec >> KG_DEC_RULE_SHIFT) - 1 : ~0u;
	e->corr = f->dec.corr;
	e->frame_size = f->dec.frame_size;
	e->api_key = f->dec.api_key;
	e->api_version = f->dec.api_version;
	e->kind = kind;
	e->verdict = action;
	e->enforced = (enforced_gen & KG_ENFORCED) >> 1;
	e->op = f->dec.opclass;
	e->reason = f->dec.reason;
	e->tkind = kind == KG_EV_TOPIC ? f->dec.tkind : 0;
	e->client_id_len = f->dec.client_id_null == 1 ? 0xff : f->dec.client_id_len;
	tl = kind == KG_EV_TOPIC ? f->dec.name_len : 0;
	KG_CLAMP(tl, 255);
	e->topic_len = tl;
	e->flags = (e->tkind & KD_TK_ID) ? KG_REC_F_UUID : 0;
	e->pad[0] = 0;
	e->pad[1] = 0;
	e->pad[2] = 0;
	e->count = 1;
	e->folded = 0;
	e->folded_deny = 0;
	e->pad2 = 0;
	e->first_ts = f->ts_pkt;
	size = KG_REC_DEC_SIZE(e->flags, e->client_id_len, tl);
	e->h.size = size;
	/*
	 * The topic id only where the event names one, the client id, the topic and its
	 * NUL, each zero-padded to 8. The strings sit at odd offsets in the decoder's state,
	 * where BPF copies byte by byte: the kernel's copy of just their bytes is cheaper.
	 * The word holding each end is cleared first, then the bytes written over it.
	 */
	var = (__u8 *)(e + 1);
	if (e->flags & KG_REC_F_UUID) {
		__builtin_memcpy(var, f->dec.uuid, sizeof(f->dec.uuid));
		var += sizeof(f->dec.uuid);
	}
	cl = KG_REC_CID_BYTES(e->client_id_len);
	KG_CLAMP(cl, KD_CLIENT_ID_MAX); /* it is: for the verifier */
	if (cl) {
		*(__u64 *)&var[(cl - 1) & 0x38] = 0;
		bpf_probe_read_kernel(var, cl, f->dec.client_id);
	}
	cl = KG_REC_PAD8(cl);
	KG_CLAMP(cl, KD_CLIENT_ID_MAX);
	var += cl;
	*(__u64 *)&var[tl & 0xf8] = 0;
	if (tl)
		bpf_probe_read_kernel(var, tl, f->dec.name);
	/*
	 * Does it fold (bpf/fold.h)? The entry taken, compared, decided on: three calls side
	 * by side, so that none is more than one call below this one (the stack of the deepest
	 * call chain has 512 bytes).
	 */
	fi = kg_fold_open(f, gen);
	if (fi >= 0) {
		struct kg_fold *fe = bpf_map_lookup_elem(&kg_folds, &fi);

		sm = fe ? kg_fold_same(fe, b, off) : 0;
		fold = kg_fold_dec(f, b, off, gen | sm << 1, fi);
	}
	if (fold == KG_FOLD_KEEP) {
		b->len = undo & 0xffff;
		b->ctx_off = (undo >> 16) & 0xffff;
		b->ctx = (undo >> 32) & 0xff;
		b->ctx_gen = (undo >> 40) & 0xff;
		return 0;
	}
	b->len = off + size;
	if (action == KG_ACT_ALLOW)
		b->nallow++;
	else
		b->ndeny++;
	b->ndeny += e->folded_deny;
	b->nallow += e->folded - e->folded_deny;
	if (!b->open)
		kg_ev_send(b);
	return 0;
}

#endif /* KGATE_EVENTS_H */
