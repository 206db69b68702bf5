/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections and their pool slots, for both sides (ingress.h, kgate_tc.bpf.c).
 *
 * Every established connection has a small entry in kg_flows (struct kg_conn, 104 bytes):
 * where both byte streams stand, its counters, its ids and state. The decoders and
 * everything else a connection needs while it is doing something (a frame in progress,
 * requests in flight, passed-ahead segments, bytes the broker has not acknowledged,
 * rewrites the client has not acknowledged) live in a slot of the pool (kg_pool, struct
 * kg_flow). A program takes the connection's slot with kg_flow_get (a free one from
 * kg_pool_free when it holds none, cleared and loaded from the small entry) and ends its
 * use with kg_flow_put, which gives the slot back when the connection is idle: both
 * decoders at a frame boundary with nothing carried, no SASL exchange open, at most
 * KG_CONN_INFLIGHT plain requests in flight, no hole of skipped bytes, every byte the
 * client sent acknowledged by the broker (a retransmission of those the broker discards:
 * the retransmission slots are no longer needed), every byte the broker sent
 * acknowledged by the client (nor the response rewrites).
 *
 * XDP (client segments) and TC egress (broker segments) of one connection run on
 * different CPUs at the same time, so the slot is owned through one word (kg_conn.own,
 * KG_OWN_*) changed only by atomic instructions: users count themselves in (and count
 * its version up), and only the last user gives the slot back, by a compare-and-swap
 * against the word it read before it looked at the slot, so nobody can have used the slot
 * in between. The kept fields are written into the small entry before that swap: once
 * the word says "no slot", the next taker loads them.
 */
#ifndef KGATE_CONN_H
#define KGATE_CONN_H

#include "fold.h"

/* Coarse seconds: last_seen, and the rate of limit events. */
static __always_inline __u32 kg_now(void)
{
	return bpf_ktime_get_coarse_ns() >> KG_NOW_SHIFT;
}

/*
 * The small entry was used now: written at most once a second (its cache line is shared).
 * Returns now.
 */
static __always_inline __u32 kg_conn_seen(struct kg_conn *cn)
{
	__u32 now = kg_now();

	if (cn->last_seen != now)
		cn->last_seen = now;
	return now;
}

/* The connection made progress now (KG_SLOT_STALL_S): likewise at most once a second. */
static __always_inline void kg_conn_progress(struct kg_conn *cn, __u32 now)
{
	if (cn->progress != (__u16)now)
		cn->progress = now;
}

/*
 * The counter of pool slots held by fk's source (KG_SRC_SHARE): an IPv4 address, or an
 * IPv6 address's /64 (the first two words of the address either way: an IPv4 key has
 * zeros after its four bytes), through a keyed hash (NH over the two words, with key
 * words of its own from the tail of the retransmission hash's), so nobody can choose a
 * source that shares another's counter.
 */
static __always_inline __u32 *kg_src_count(const struct kg_flow_key *fk)
{
	const __u32 *w = (const __u32 *)fk->saddr;
	const struct kg_nhkey *key;
	__u32 zero = 0, b;
	__u64 h;

	key = bpf_map_lookup_elem(&kg_nhkey, &zero);
	if (!key)
		return 0;
	h = (__u64)(__u32)(w[0] + key->k[KG_NH_KEY_WORDS - 12]) *
	    (__u32)(w[1] + key->k[KG_NH_KEY_WORDS - 11]);
	b = ((__u32)(h >> 32) ^ (__u32)h) & (KG_SRC_BUCKETS - 1);
	return bpf_map_lookup_elem(&kg_src_slots, &b);
}

/*
 * One slot more for fk's source, unless it holds its share of the pool already: 0, or -1
 * (then not counted). Counted first and checked after, so that sources racing on other
 * CPUs never pass the share together. A global function: verified once.
 */
__attribute__((noinline)) int kg_src_enter(struct kg_flow_key *fk)
{
	__u32 *c, share = kg_pool_slots / KG_SRC_SHARE;

	if (!fk)
		return 0;
	c = kg_src_count(fk);
	if (!c)
		return 0;
	if (__sync_fetch_and_add(c, 1) < (share ? share : 1))
		return 0;
	__sync_fetch_and_sub(c, 1);
	return -1;
}

/* One slot less for fk's source (a slot of a datapath adopted before it counted: none). */
static __always_inline void kg_src_leave(const struct kg_flow_key *fk)
{
	__u32 *c = kg_src_count(fk);

	if (c && __sync_fetch_and_sub(c, 1) == 0)
		__sync_fetch_and_add(c, 1);
}

/* kg_pend_clear's loop (its state on the stack, as bpf_loop wants). */
struct kg_pend_loop {
	struct kg_flow *f;
	struct kg_scratch *sc; /* its pkey: the connection's key */
};

/* Entry r (a request number modulo KG_INFLIGHT) of the connection. */
static long kg_pend_clear_one(__u32 r, void *data)
{
	struct kg_pend_loop *lp = data;
	struct kg_scratch *sc = lp->sc;

	if (!sc || !lp->f)
		return 1;
	sc->pkey.req = r;
	if (!bpf_map_delete_elem(&kg_pend, &sc->pkey))
		__sync_fetch_and_sub(&lp->f->pend_n, 1);
	return 0;
}

/*
 * Removes f's connection's kg_pend entries (it ended, or its answers are no longer
 * followed: none of them would be rewritten). A global function: verified once.
 */
__attribute__((noinline)) int kg_pend_clear(struct kg_flow *f)
{
	__u32 zero = 0;
	struct kg_pend_loop lp = { .f = f, .sc = bpf_map_lookup_elem(&kg_scratch, &zero) };

	if (!f || !lp.sc)
		return 0;
	kg_key_copy(&lp.sc->pkey.flow, &f->key);
	lp.sc->pkey.pad = 0;
	bpf_loop(KG_INFLIGHT, kg_pend_clear_one, &lp, 0);
	return 0;
}

/* The word's slot index, or -1 when it names none. */
static __always_inline int kg_own_slot(__u64 own)
{
	return (int)(own & KG_OWN_SLOT) - 1;
}

static __always_inline __u64 kg_own_read(const struct kg_conn *cn)
{
	return *(volatile const __u64 *)&cn->own;
}

/*
 * Whether in-flight request e can wait in the small entry (cif) without a slot: its
 * answer needs no SASL step and its kind is a plain response. Rejections are in kg_pend.
 */
static __always_inline bool kg_if_compact(const struct kg_inflight *e)
{
	return e->kind == KG_IF_NORMAL && !e->step && e->api_version < 0x8000;
}

/*
 * Whether the slot could be given back but for the acknowledgments (the part of
 * kg_flow_idle that does not change when only ACKs arrive). A connection that was reset
 * or black-holed decodes nothing more.
 */
static __always_inline bool kg_flow_quiet(const struct kg_conn *cn, const struct kg_flow *f)
{
	const struct kd_state *d = &f->dec, *r = &f->rdec;
	bool closed = f->flags & (KG_FLOW_RESET | KG_FLOW_DROP | KG_FLOW_DEAD);
	__u32 inflight = f->req_no - f->resp_no;

	if (!closed && (d->phase != KD_PH_SIZE || d->carry_len || d->skip || d->sasl_raw ||
			f->nholes || f->probe || (f->flags & KG_FLOW_SASL)))
		return false;
	if (!(f->rflags & KG_RF_DEAD) &&
	    (r->phase != KD_PH_SIZE || r->carry_len || r->skip || r->sasl_raw))
		return false;
	/* rejections awaiting their answers: kg_pend holds at most KG_PEND_CONN a slot */
	if (inflight > KG_CONN_INFLIGHT || f->pend_n)
		return false;
	KD_UNROLL
	for (__u32 i = 0; i < KG_CONN_INFLIGHT; i++)
		if (i < inflight &&
		    !kg_if_compact(&f->inflight[(f->resp_no + i) & (KG_INFLIGHT - 1)]))
			return false;
	return true;
}

/*
 * Whether the slot is idle: quiet, and every byte either side sent acknowledged by the
 * other. The broker's acknowledgment (seen by TC egress) is what lets the retransmission
 * slots go: a retransmission of bytes the broker acknowledged is discarded by its TCP.
 */
static __always_inline bool kg_flow_idle(const struct kg_conn *cn, const struct kg_flow *f)
{
	bool closed = f->flags & (KG_FLOW_RESET | KG_FLOW_DROP | KG_FLOW_DEAD);

	if (!kg_flow_quiet(cn, f))
		return false;
	if (!closed && (__s32)(cn->lack - cn->next_seq) < 0)
		return false;
	return (f->rflags & KG_RF_DEAD) || (__s32)(cn->rack - f->rnext_seq) >= 0;
}

/*
 * The kept fields, from the slot into the small entry (before the slot is given back).
 * Not flags: XDP, their one writer, writes them back after every client segment.
 */
static __always_inline void kg_flow_save(struct kg_conn *cn, const struct kg_flow *f)
{
	cn->rnext_seq = f->rnext_seq;
	cn->req_no = f->req_no;
	cn->resp_no = f->resp_no;
	cn->epoch = f->epoch;
	cn->sess_epoch = f->sess_epoch;
	cn->share_epoch = f->share_epoch;
	cn->share_salt = f->share_salt;
	cn->share_key = f->share_key;
	cn->requests = f->requests;
	cn->topics = f->topics;
	cn->principal_id = f->principal_id;
	cn->rflags = f->rflags;
	cn->listener = f->listener;
	cn->gen = f->gen;
	cn->region_id = f->region_id;
	cn->principal_src = f->principal_src;
	cn->principal_len = f->principal_len;
	cn->principal_opaque = f->principal_opaque;
	cn->dead_reason = f->dec.phase == KD_PH_DEAD ? f->dec.reason : 0;
	KD_UNROLL
	for (__u32 i = 0; i < KG_CONN_INFLIGHT; i++) {
		const struct kg_inflight *e = &f->inflight[(f->resp_no + i) & (KG_INFLIGHT - 1)];

		cn->cif[i][0] = e->api_key;
		cn->cif[i][1] = e->api_version | (e->pend ? 0x8000 : 0);
	}
}

/*
 * What `kgate flows` shows of a connection, from its slot into its small entry after each
 * client segment (the kept copies are otherwise written only when the slot goes back).
 */
static __always_inline void kg_conn_show(struct kg_conn *cn, const struct kg_flow *f)
{
	cn->flags = f->flags;
	cn->requests = f->requests;
	cn->topics = f->topics;
	cn->principal_id = f->principal_id;
	cn->principal_src = f->principal_src;
	cn->principal_len = f->principal_len;
	cn->region_id = f->region_id;
	cn->gen = f->gen;
}

/*
 * A slot taken by cn: cleared up to KG_FLOW_CLEARED (nothing of its last connection there
 * may remain: its rewrites, retransmission slots or decoder states would be taken for
 * this one's), then the kept fields, the requests in flight the small entry kept, and a
 * SASL principal's name.
 */
static __always_inline int kg_flow_load(struct kg_flow *f, const struct kg_conn *cn,
					const struct kg_flow_key *fk, __u32 slot)
{
	__u32 zero = 0, inflight = cn->req_no - cn->resp_no;
	struct kg_flow *tmpl = bpf_map_lookup_elem(&kg_flow_zero, &zero);
	struct kg_principal *pn;

	if (!tmpl || bpf_probe_read_kernel(f, KG_FLOW_CLEARED, tmpl))
		return -1;
	kg_key_copy(&f->key, fk);
	f->slot = slot;
	f->rnext_seq = cn->rnext_seq;
	f->req_no = cn->req_no;
	f->resp_no = cn->resp_no;
	f->epoch = cn->epoch;
	f->sess_epoch = cn->sess_epoch;
	f->share_epoch = cn->share_epoch;
	f->share_salt = cn->share_salt;
	f->share_key = cn->share_key;
	f->requests = cn->requests;
	f->topics = cn->topics;
	f->principal_id = cn->principal_id;
	f->flags = cn->flags;
	f->rflags = cn->rflags;
	f->listener = cn->listener;
	f->gen = cn->gen;
	f->region_id = cn->region_id;
	f->principal_src = cn->principal_src;
	f->principal_len = cn->principal_len;
	f->principal_opaque = cn->principal_opaque;
	f->rdec.resp = 1;
	if (cn->flags & KG_FLOW_DEAD) {
		f->dec.phase = KD_PH_DEAD;
		f->dec.reason = cn->dead_reason;
	}
	KD_UNROLL
	for (__u32 i = 0; i < KG_CONN_INFLIGHT; i++) {
		struct kg_inflight *e = &f->inflight[(cn->resp_no + i) & (KG_INFLIGHT - 1)];

		if (i >= inflight)
			break;
		e->idx = cn->resp_no + i;
		e->kind = KG_IF_NORMAL;
		e->api_key = cn->cif[i][0];
		e->api_version = cn->cif[i][1] & 0x7fff;
		e->pend = cn->cif[i][1] >> 15;
	}
	if (cn->principal_src == KG_PSRC_SASL) {
		pn = bpf_map_lookup_elem(&kg_flow_principals, fk);
		if (pn) {
			KD_COPY64(f->principal, pn->name, KD_USER_MAX);
		} else if (f->principal_opaque != KG_PRINCIPAL_LOST) {
			/* its name is gone: never decided as another principal (reset) */
			f->principal_opaque = KG_PRINCIPAL_LOST;
			kg_count(KG_C_PRINCIPALS_FULL);
		}
	}
	return 0;
}

/*
 * Leaves cn's word after a use that gives nothing back: one user less. The last user of
 * an ended connection gives its slot back (its pending rejections removed) and removes
 * its entry and a SASL name. Whether there is a name, the slot says while it is held: TC
 * egress binds a user there, and the small entry learns it only when the slot goes back.
 */
static __always_inline void kg_own_leave(struct kg_conn *cn, const struct kg_flow_key *fk,
					 __u64 old)
{
	bool named = cn->principal_src == KG_PSRC_SASL;
	struct kg_flow *f;
	__u32 slot;

	if ((old & KG_OWN_USERS) != KG_OWN_USER || !(old & KG_OWN_DYING))
		return;
	if (old & KG_OWN_SLOT) {
		slot = kg_own_slot(old);
		f = bpf_map_lookup_elem(&kg_pool, &slot);
		if (f) {
			named |= f->principal_src == KG_PSRC_SASL;
			if (f->pend_n)
				kg_pend_clear(f);
		}
		bpf_map_push_elem(&kg_pool_free, &slot, 0);
		kg_src_leave(fk);
		kg_count(KG_C_SLOTS_GIVEN);
	}
	if (named)
		bpf_map_delete_elem(&kg_flow_principals, fk);
	bpf_map_delete_elem(&kg_flows, fk);
}

/*
 * One user less on cn's word, f unknown (a use that failed): the last user of an ended
 * connection gives its slot back and removes its entry. A global function (verified once).
 */
__attribute__((noinline)) int kg_own_out(struct kg_conn *cn, struct kg_flow_key *fk)
{
	__u64 old, nw;

	if (!cn || !fk)
		return 0;
	for (int i = 0; i < 4; i++) {
		old = kg_own_read(cn);
		nw = old - KG_OWN_USER;
		if ((old & (KG_OWN_USERS | KG_OWN_DYING)) == (KG_OWN_USER | KG_OWN_DYING))
			nw &= ~KG_OWN_SLOT;
		if (__sync_val_compare_and_swap(&cn->own, old, nw) == old) {
			kg_own_leave(cn, fk, old);
			return 0;
		}
	}
	__sync_fetch_and_sub(&cn->own, KG_OWN_USER);
	kg_count(KG_C_OWN_CONTENTION);
	return 0;
}

/*
 * Ends this program's use of cn's slot f. The last user gives the slot back when the
 * connection ended (dying: the entry is removed too) or, with give, when the slot is idle
 * (its kept fields written into cn first). Returns 1 when the slot was given back.
 */
__attribute__((noinline)) int kg_flow_put(struct kg_conn *cn, struct kg_flow *f,
					  struct kg_flow_key *fk, int give)
{
	__u64 old, nw;
	bool last, back;

	if (!cn || !f || !fk)
		return 0;
	for (int i = 0; i < 4; i++) {
		old = kg_own_read(cn);
		last = (old & KG_OWN_USERS) == KG_OWN_USER && (old & KG_OWN_SLOT);
		back = last && !(old & KG_OWN_DYING) && give && kg_flow_idle(cn, f);
		if (back)
			kg_flow_save(cn, f);
		else if (give)
			cn->give_hint = !(old & KG_OWN_DYING) && kg_flow_quiet(cn, f);
		nw = back ? old & ~(KG_OWN_SLOT | KG_OWN_USERS) : old - KG_OWN_USER;
		if (last && (old & KG_OWN_DYING))
			nw &= ~KG_OWN_SLOT;
		if (__sync_val_compare_and_swap(&cn->own, old, nw) != old)
			continue;
		if (!back) {
			kg_own_leave(cn, fk, old);
			return 0;
		}
		{
			__u32 slot = kg_own_slot(old);

			bpf_map_push_elem(&kg_pool_free, &slot, 0);
		}
		kg_src_leave(fk);
		kg_count(KG_C_SLOTS_GIVEN);
		cn->give_hint = 0;
		return 1;
	}
	__sync_fetch_and_sub(&cn->own, KG_OWN_USER);
	kg_count(KG_C_OWN_CONTENTION);
	return 0;
}

/* kg_flow_take's failures (negated). */
#define KG_GET_GONE 1  /* the connection is ending */
#define KG_GET_POOL 2  /* no slot free */
#define KG_GET_QUOTA 3 /* its source holds its share of the pool (KG_SRC_SHARE) */

/*
 * Counts this program in on cn's slot: the one it holds, or a free one taken and loaded
 * (unless the other side took one meanwhile), counted for its source. The slot's index,
 * or -KG_GET_* (then not counted in). A global function: verified once.
 */
__attribute__((noinline)) int kg_flow_take(struct kg_conn *cn, struct kg_flow_key *fk)
{
	__u64 old, cur;
	struct kg_flow *f;
	__u32 slot;
	int why = KG_GET_GONE;

	if (!cn || !fk)
		return -KG_GET_GONE;
	old = __sync_fetch_and_add(&cn->own, KG_OWN_USER | KG_OWN_VER);
	if (old & KG_OWN_DYING)
		goto out;
	if (old & KG_OWN_SLOT)
		return kg_own_slot(old);
	why = KG_GET_QUOTA;
	if (kg_src_enter(fk))
		goto out;
	why = KG_GET_POOL;
	if (bpf_map_pop_elem(&kg_pool_free, &slot))
		goto left;
	f = bpf_map_lookup_elem(&kg_pool, &slot);
	if (!f || kg_flow_load(f, cn, fk, slot)) {
		bpf_map_push_elem(&kg_pool_free, &slot, 0);
		goto left;
	}
	for (int i = 0; i < 4; i++) {
		cur = kg_own_read(cn);
		if (cur & (KG_OWN_SLOT | KG_OWN_DYING)) {
			/* the other side took one meanwhile (or the connection ended) */
			bpf_map_push_elem(&kg_pool_free, &slot, 0);
			kg_src_leave(fk);
			if (cur & KG_OWN_DYING) {
				why = KG_GET_GONE;
				goto out;
			}
			return kg_own_slot(cur);
		}
		if (__sync_val_compare_and_swap(&cn->own, cur, cur | (slot + 1)) == cur) {
			/* a slot's stall is counted from when it was taken, at the earliest */
			kg_conn_progress(cn, kg_now());
			kg_count(KG_C_SLOTS_TAKEN);
			return slot;
		}
	}
	bpf_map_push_elem(&kg_pool_free, &slot, 0);
	kg_count(KG_C_OWN_CONTENTION);
left:
	kg_src_leave(fk);
out:
	kg_own_out(cn, fk);
	return -why;
}

/*
 * cn's large state for this program until kg_flow_put (see kg_flow_take). NULL, *why
 * KG_GET_*, when the connection is ending or no slot is free.
 */
static __always_inline struct kg_flow *kg_flow_get(struct kg_conn *cn, struct kg_flow_key *fk,
						   __u32 *why)
{
	int slot = kg_flow_take(cn, fk);
	struct kg_flow *f;
	__u32 s;

	if (slot < 0) {
		*why = -slot;
		return NULL;
	}
	s = slot;
	f = bpf_map_lookup_elem(&kg_pool, &s);
	if (!f) {
		kg_own_out(cn, fk);
		*why = KG_GET_GONE;
	}
	return f;
}

/*
 * The connection ended (RST, FIN both ways, a new SYN after the broker closed, the
 * agent's sweep): marked dying, so nobody takes its slot again; the last user (this
 * program, when nobody else is using it) gives the slot back and removes the entry. What
 * its decisions have pending in their fold entry leaves at once (fold.h).
 */
static __always_inline void kg_conn_end(struct kg_conn *cn, struct kg_flow_key *fk)
{
	__u64 old;

	__sync_fetch_and_add(&cn->own, KG_OWN_USER | KG_OWN_VER);
	old = __sync_fetch_and_or(&cn->own, KG_OWN_DYING);
	if (!(old & KG_OWN_DYING)) {
		kg_count(KG_C_FLOWS_ENDED);
		kg_fold_end(fk); /* its decisions' pending counts leave now */
	}
	kg_own_out(cn, fk);
}

/*
 * The broker's next expected byte (its rcv_nxt): the first hole's start when bytes were
 * skipped before they arrived (kg_ahead), else next_seq. A RST must carry it to end the
 * connection (RFC 5961), and kgate's own RST toward the broker is sent at it.
 */
static __always_inline __u32 kg_rcv_next(const struct kg_conn *cn, const struct kg_flow *f)
{
	__u32 r = cn->next_seq;

	if (!f || !f->nholes)
		return r;
	KD_UNROLL
	for (int i = 0; i < KG_HOLES; i++)
		if (f->holes[i].seq != f->holes[i].end && (__s32)(f->holes[i].seq - r) < 0)
			r = f->holes[i].seq;
	return r;
}

/*
 * kg_pend's key for request req of f's connection, in the per-CPU scratch. Keyed by the
 * request's number modulo KG_INFLIGHT: a connection's entries are of requests in flight
 * (kg_pend_open refuses more than KG_INFLIGHT), so no two of them share a key, and it
 * has at most KG_INFLIGHT keys to remove (kg_pend_clear).
 */
static __always_inline struct kg_pend_key *kg_pend_key(const struct kg_flow *f, __u32 req)
{
	__u32 zero = 0;
	struct kg_scratch *sc = bpf_map_lookup_elem(&kg_scratch, &zero);

	if (!sc)
		return 0;
	kg_key_copy(&sc->pkey.flow, &f->key);
	sc->pkey.req = req & (KG_INFLIGHT - 1);
	sc->pkey.pad = 0;
	return &sc->pkey;
}

/* The pending rejections of request req of f's connection (TC egress rewrites by them). */
static __always_inline struct kg_pend *kg_pend_of(const struct kg_flow *f, __u32 req)
{
	struct kg_pend_key *k = kg_pend_key(f, req);
	struct kg_pend *pe;

	if (!k)
		return 0;
	pe = bpf_map_lookup_elem(&kg_pend, k);
	return pe && pe->req == req ? pe : 0;
}

#endif /* KGATE_CONN_H */
