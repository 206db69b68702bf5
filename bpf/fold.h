/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Folding repeated decisions, and each connection's event budget: a client that retries a
 * denied write in a tight loop must neither flood the audit topic nor push other clients'
 * records out of the ring buffer, so its identical decisions leave as one record with a
 * count, in BPF, before the ring buffer.
 *
 * A run: decisions on one connection identical to the one its last record showed (the
 * record's every field but the correlation id, the frame size and the time). The first
 * leaves at once (events.h, kg_emit); those after it within the policy's fold window are
 * counted here, and their summary -- the same record with count, first and last time --
 * leaves when a different decision comes, when the window ended (at the connection's next
 * decision, which then counts towards the next summary), when the connection ends, when
 * another connection takes the entry, or, for a connection that went quiet, when the
 * agent's sweep (kgate_sweep with folds set) finds the window ended. Each send takes what
 * is pending and clears it under the entry's lock, so nothing is sent twice or lost.
 *
 * The budget: a connection may send audit.budget records per second (GCRA, bursts of a
 * second's worth). A decision whose record would pass it is counted instead: in the run's
 * count when identical, else in `folded` (and `folded_deny`), which the connection's next
 * record carries. What a connection that ends or goes quiet has pending is sent whatever
 * its budget, so every decision is in some record's count or folded, or counted lost with
 * the record that carried it (gap records: ring-buffer loss only).
 *
 * Where it lives: kg_folds, an entry chosen by the connection's keyed hash (maps/
 * kgate_maps.h, KG_FOLD_SLOTS, says why neither the pool slot nor the small entry). Here:
 * the entry and its sends, for every program that ends connections or sweeps; deciding
 * what a decision does to it is the ingress programs' (events.h, kg_fold_dec).
 */
#ifndef KGATE_FOLD_H
#define KGATE_FOLD_H

#include "kgate_maps.bpf.h"

/*
 * KD_CLAMP, but the verifier walks the unclamped path first, so that the clamped one (a
 * constant, inside the range already verified) is pruned where they meet instead of being
 * verified on its own to the end: the fold code clamps several values in a row.
 */
#ifdef __bpf__
#define KG_CLAMP(v, max) asm volatile("if %0 > %1 goto +1; goto +1; %0 = %1" : "+r"(v) : "i"(max))
#else
#define KG_CLAMP(v, max) KD_CLAMP(v, max)
#endif

/* The entry of connection fk: by its keyed hash's top bits (a multiplicative spread). */
static __always_inline __u32 kg_fold_index(const struct kg_flow_key *fk)
{
	return (kg_khash(fk) * 0x9e3779b1u) >> (32 - KG_FOLD_BITS);
}

static __always_inline struct kg_fold *kg_fold_of(const struct kg_flow_key *fk)
{
	__u32 i = kg_fold_index(fk);

	return bpf_map_lookup_elem(&kg_folds, &i);
}

/* Taken, or false when another program holds it (never waited for). */
static __always_inline bool kg_fold_lock(struct kg_fold *e)
{
	return __sync_val_compare_and_swap(&e->lock, 0, 1) == 0;
}

static __always_inline void kg_fold_unlock(struct kg_fold *e)
{
	__sync_lock_test_and_set(&e->lock, 0); /* an exchange: ordered after the writes */
}

static __always_inline bool kg_key_eq(const struct kg_flow_key *a, const struct kg_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

/* Nothing pending in e any more. */
static __always_inline void kg_fold_clear(struct kg_fold *e)
{
	e->count = 0;
	e->folded = 0;
	e->folded_deny = 0;
}

/*
 * Sends what e has pending (its lock held): the record of its run with count, first and
 * last time, and the decisions folded past the budget; cleared after. A record the ring
 * buffer cannot take is counted lost, every decision it carried by class.
 */
static __always_inline void kg_fold_send(struct kg_fold *e)
{
	struct kg_rec_ctx *c;
	struct kg_rec_dec *d;
	__u32 size, cs, allow;

	if (!e->count && !e->folded)
		return;
	size = e->size;
	cs = e->ctx_size;
	KG_CLAMP(cs, KG_REC_CTX_MAX);
	KG_CLAMP(size, KG_REC_CTX_MAX + KG_REC_DEC_MAX);
	c = (struct kg_rec_ctx *)e->rec;
	d = (struct kg_rec_dec *)((__u8 *)e->rec + cs);
	/* no record to carry them (never expected: a count follows a record): lost, counted */
	allow = size >= cs + sizeof(*d) && d->verdict == KG_ACT_ALLOW;
	if (size < cs + sizeof(*d)) {
		kg_count_n(KG_C_EVENTS_LOST_DENY, e->count + e->folded_deny);
		kg_count_n(KG_C_EVENTS_LOST_ALLOW, e->folded - e->folded_deny);
		goto out;
	}
	c->ts_ns = e->last_ts;
	d->count = e->count;
	d->first_ts = e->count ? e->first_ts : e->last_ts;
	d->folded = e->folded;
	d->folded_deny = e->folded_deny;
	/* no wakeup: the agent polls */
	if (bpf_ringbuf_output(&kg_event_recs, e->rec, size, BPF_RB_NO_WAKEUP)) {
		kg_count_n(allow ? KG_C_EVENTS_LOST_ALLOW : KG_C_EVENTS_LOST_DENY, e->count);
		kg_count_n(KG_C_EVENTS_LOST_DENY, e->folded_deny);
		kg_count_n(KG_C_EVENTS_LOST_ALLOW, e->folded - e->folded_deny);
	}
	kg_count(KG_C_FOLD_SUMMARIES);
out:
	kg_fold_clear(e);
}

/* kg_fold_send as a global function (verified once) for the programs that end or sweep. */
__attribute__((noinline)) int kg_fold_flush(struct kg_fold *e)
{
	if (e)
		kg_fold_send(e);
	return 0;
}

/* e becomes fk's, empty: no run, a full budget. */
static __always_inline void kg_fold_reset(struct kg_fold *e, const struct kg_flow_key *fk)
{
	kg_key_copy(&e->key, fk);
	kg_fold_clear(e);
	e->size = 0;
	e->ctx_size = 0;
	e->tat = 0;
	e->window_end = 0;
}

/*
 * Connection fk ended: what its entry has pending leaves, and the entry forgets it (a new
 * connection on the same 5-tuple starts its own runs). An entry in use elsewhere keeps its
 * counts for the sweep or the next taker.
 */
__attribute__((noinline)) int kg_fold_end(struct kg_flow_key *fk)
{
	struct kg_fold *e;

	if (!fk)
		return 0;
	e = kg_fold_of(fk);
	if (!e || !kg_fold_lock(e))
		return 0;
	if (kg_key_eq(&e->key, fk)) {
		kg_fold_flush(e);
		e->size = 0;
		e->ctx_size = 0;
		__builtin_memset(&e->key, 0, sizeof(e->key));
	}
	kg_fold_unlock(e);
	return 0;
}

#endif /* KGATE_FOLD_H */
