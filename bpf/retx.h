/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retransmissions (docs/DESIGN.md §2): bytes before the flow's next sequence number were
 * decided already. The last KG_RETX_SLOTS segments the decoder read are remembered in
 * the flow (kg_retx): where the decoder had read fields, a retransmission of them must
 * hash the same, and the rewrites made the first time are made again; bytes the decoder
 * skipped by length (record data) cannot change framing or names and pass. Anything
 * else is dropped, so overlapping bytes that differ from what was decided never reach
 * the broker.
 */
#ifndef KGATE_RETX_H
#define KGATE_RETX_H

#include "enforce.h"
#include "parse.h"

/*
 * A keyed hash of payload bytes [off, off + len), len <= 65535, so that nobody can make
 * a retransmission with other bytes hash the same. It is NH, as in UMAC: with the
 * bytes as 32-bit words x_i (the last 8 bytes zero-padded) and random 32-bit keys k_i,
 *
 *     NH(x) = sum over j of (x_2j + k_2j mod 2^32) * (x_2j+1 + k_2j+1 mod 2^32)  mod 2^64
 *
 * For two different strings of one length, NH collides with probability <= 2^-32 over
 * the key (Black et al., UMAC, 1999); a second sum with the keys shifted by one 8-byte
 * word (two key words: Toeplitz) makes the pair collide with probability <= 2^-64.
 * Only strings of one length are ever compared (a retransmission is hashed over the
 * length remembered). The key is random per datapath load (64 KB, kg_nhkey, written by
 * whoever loads it before it sees a packet); only root can read it (or the hashes)
 * from the pinned maps: all a client learns from a retransmission tried is "dropped"
 * or "passed", and a pass needs a collision. No PRF is needed on top (measured:
 * SipHash over the NH sums cost ~40 ns a segment; SipHash over the bytes alone, before
 * NH, ~380 ns for ten topics).
 */
struct kg_hash_ctx {
	KG_CTX *ctx;
	struct kd_src *src;         /* its window (the blocks are read from there), h_off, h_end */
	const struct kg_nhkey *key;
	__u64 a, b;
};

/*
 * Word j of a block (w, with the block's keys k) into both NH sums a and b. The empty
 * asm after it keeps clang from loading every word first and spilling what BPF's ten
 * registers cannot hold past the 512-byte stack of the call chain.
 */
#define KG_NH_WORD(w, k, j)                                                                        \
	do {                                                                                       \
		__u32 lo_ = (__u32)(w), hi_ = (__u32)((w) >> 32);                                  \
		a += (__u64)(__u32)(lo_ + (k)[2 * (j)]) * (__u32)(hi_ + (k)[2 * (j) + 1]);         \
		b += (__u64)(__u32)(lo_ + (k)[2 * (j) + 2]) * (__u32)(hi_ + (k)[2 * (j) + 3]);     \
		asm volatile("" : "+r"(a), "+r"(b));                                               \
	} while (0)

/*
 * min(max(t, 0), 64) by arithmetic: written in C, clang makes branches of it (BPF has no
 * conditional move), and every branch doubles the verifier's paths through the block.
 */
static __always_inline __u64 kg_clamp64(__s64 t)
{
#ifdef __bpf__
	__s64 s, d;

	asm("%[s] = %[t]\n\t"
	    "%[s] s>>= 63\n\t"
	    "%[s] ^= -1\n\t"
	    "%[t] &= %[s]\n\t" /* t = max(t, 0) */
	    "%[d] = 64\n\t"
	    "%[d] -= %[t]\n\t"
	    "%[s] = %[d]\n\t"
	    "%[s] s>>= 63\n\t"
	    "%[d] &= %[s]\n\t"
	    "%[t] += %[d]" /* t += min(64 - t, 0) */
	    : [t] "+r"(t), [s] "=&r"(s), [d] "=&r"(d));
	return (__u64)t;
#else
	return t < 0 ? 0 : t > 64 ? 64 : (__u64)t;
#endif
}

/* 64 bytes: from the decoder's window, moved along when the block is not in it. */
static long kg_hash_step(__u32 i, void *data)
{
	struct kg_hash_ctx *hc = data;
	struct kd_src *s = hc->src;
	const __u32 *k;
	const __u8 *p;
	__u64 a = hc->a, b = hc->b;
	__u32 n, rel, kw;

	if (!s || s->h_off >= s->h_end || !hc->key)
		return 1;
	n = s->h_end - s->h_off;
	if (n > KG_NH_BLOCK)
		n = KG_NH_BLOCK;
	rel = s->h_off - s->win_off;
	/* the window must hold the whole block where a block may start (a short last block too) */
	if (s->h_off < s->win_off || rel > KG_WIN - KG_NH_BLOCK || rel + n > s->win_len) {
		if (kg_wfill(hc->ctx, s, s->h_off) < (int)n)
			return 1;
		rel = 0;
	}
	KD_CLAMP(rel, KG_WIN - KG_NH_BLOCK);
	p = &s->win[rel];
	/*
	 * The block's first key: block i of the region (i, not the offset: the verifier sees
	 * one unknown index, not a range per iteration to verify again).
	 */
	kw = i * (KG_NH_BLOCK / 4);
	KD_CLAMP(kw, KG_NH_KEY_WORDS - KG_NH_BLOCK / 4 - 2);
	k = &hc->key->k[kw];
	if (n == KG_NH_BLOCK) {
		/* a whole block: straight through (the common case, kept free of branches) */
		KD_UNROLL
		for (int j = 0; j < KG_NH_BLOCK / 8; j++)
			KG_NH_WORD(KD_LD64(p + j * 8), k, j);
	} else {
		/*
		 * The last block: zero past the end. Without branches: each one would
		 * double the verifier's paths through the block.
		 */
		KD_UNROLL
		for (int j = 0; j < KG_NH_BLOCK / 8; j++) {
			/* bits of the block from this word on, at most 64 */
			__u64 c = kg_clamp64((__s64)n * 8 - j * 64);
			/* 2^c - 1, also for c = 64 (a shift by 64 is not one) */
			__u64 w = KD_LD64(p + j * 8) & (((1ull << (c >> 1)) << (c - (c >> 1))) - 1);

			KG_NH_WORD(w, k, j);
		}
	}
	hc->a = a;
	hc->b = b;
	s->h_off += n;
	return 0;
}

struct kg_hash2 {
	__u64 h[2];
};

/*
 * The hash into *out. 0, or -1 when there is no key yet (the loader has not written
 * it): then no retransmission can be recognised, and none passes. A global function:
 * verified once, not once per caller and slot.
 */
__attribute__((noinline)) int kg_hash(KG_CTX *ctx, struct kd_src *src, __u32 off, __u32 len,
				      struct kg_hash2 *out)
{
	__u32 zero = 0;
	struct kg_hash_ctx hc = { .ctx = ctx, .src = src };

	if (!src || !out)
		return -1;
	src->h_off = off;
	src->h_end = off + len;
	hc.key = bpf_map_lookup_elem(&kg_nhkey, &zero);
	if (!hc.key || !hc.key->ready)
		return -1;
	bpf_loop(65536 / KG_NH_BLOCK, kg_hash_step, &hc, 0);
	if (src->h_off != src->h_end)
		return -1; /* a block could not be read */
	out->h[0] = hc.a;
	out->h[1] = hc.b;
	return 0;
}

/*
 * Bytes [seq, seq + len) were decided before. Returns 0 to pass them (after making
 * the remembered rewrites again), -1 to drop.
 */
__attribute__((noinline)) int kg_retransmission(KG_CTX *ctx, struct kg_flow *f,
						struct kg_pkt *p, __u32 len, struct kd_src *src)
{
	struct kg_hash2 h;
	__u32 end;

	if (!f || !p || !src)
		return -1;
	end = p->seq + len;
	for (int i = 0; i < KG_RETX_SLOTS; i++) {
		struct kg_retx *r = &f->retx[i];
		__u32 rs = r->seq, re = r->seq + r->len;

		if (!r->len)
			continue;
		/* does this slot's read region overlap [seq, end)? */
		if ((__s32)(re - p->seq) <= 0 || (__s32)(end - rs) <= 0)
			continue;
		/* it must be wholly inside and start where it started */
		if ((__s32)(rs - p->seq) < 0 || (__s32)(end - re) < 0)
			return -1;
		if (r->npoison > KG_RETX_POISONS)
			return -1;
		for (int k = 0; k < KG_RETX_POISONS; k++) {
			__u32 off;

			if (k >= r->npoison)
				break;
			off = p->payload_off + (rs - p->seq) + r->poison_off[k];
			if (r->poison_len[k] == 16	? kg_rewrite(ctx, p->tcp_off, off, 16)
			    : r->poison_len[k] == 4 ? kg_rewrite(ctx, p->tcp_off, off, 4)
						    : kg_rewrite(ctx, p->tcp_off, off, 1))
				return -1;
		}
		/* the hash was taken after the rewrites: compare after making them again */
		if (kg_hash(ctx, src, p->payload_off + (rs - p->seq), r->len, &h) ||
		    h.h[0] != r->hash[0] || h.h[1] != r->hash[1])
			return -1;
	}
	return 0;
}

/*
 * Older decided bytes are not remembered: passing them is safe only if the decoder
 * skipped them, which cannot be known any more. Conservatively, a retransmission whose
 * bytes from start on (before start: acknowledged or holes) reach back beyond the
 * remembered window is dropped (true).
 */
static __always_inline bool kg_retx_too_old(const struct kg_flow *f, const struct kg_pkt *p,
					    __u32 start, __u32 next_seq)
{
	__u32 oldest = next_seq;

	for (int i = 0; i < KG_RETX_SLOTS; i++)
		if (f->retx[i].len && (__s32)(f->retx[i].seq - oldest) < 0)
			oldest = f->retx[i].seq;
	return (__s32)(start - oldest) < 0 && (__s32)(next_seq - oldest) > 0;
}

/* What in-order normalization makes of a segment's bytes. */
enum kg_seq {
	KG_SEQ_NEW,   /* new bytes from src->off on: decode them */
	KG_SEQ_OLD,   /* only bytes decided before, as they were (rewrites made again): pass */
	KG_SEQ_DROP,  /* beyond the next expected byte, or old bytes that differ: drop */
	KG_SEQ_AHEAD, /* beyond it, but wholly inside bytes the decoder skips: pass */
	KG_SEQ_PROBE, /* beyond a gap with bytes to read, far past it: passes, checked later */
};

/*
 * How many bytes from next_seq on the decoder will pass over by length before it reads
 * again: the skip it armed (a record set, the rest of a client id, a tagged field's
 * value, the rest of an undecodable frame, a SASL token past the user name) and, once
 * the body is read, the rest of the frame. 0 when it reads next (a frame's size, a
 * field) or reads nothing more (decoding ended). It is derived from bytes already read
 * in order, so it is the broker's too.
 */
static __always_inline __u32 kg_skip_region(const struct kd_state *d)
{
	if (d->phase == KD_PH_DEAD || d->phase == KD_PH_SIZE)
		return 0;
	return d->skip + (d->phase == KD_PH_TRAIL ? d->frame_left : 0);
}

/*
 * The index of a free hole entry, or -1. A global function: its answer is one unknown
 * number to the caller (not one verifier state per entry).
 */
__attribute__((noinline)) int kg_hole_free(struct kg_flow *f)
{
	if (!f)
		return -1;
	for (int i = 0; i < KG_HOLES; i++)
		if (f->holes[i].seq == f->holes[i].end)
			return i;
	return -1;
}

/*
 * A segment ahead of next_seq: the bytes before it, [next_seq, seq), have not arrived.
 * When they all lie inside the skip region, the decoder does not need them: it goes on
 * from the segment (told it skipped them), the flow remembers them as a hole (any copy
 * of them passes when it comes: neither side reads them; kg_hole_fill), and the segment
 * is decoded like any in order (KG_SEQ_NEW). The broker holds it out of order until the
 * hole is filled, then reads what kgate decided. Anything else ahead is dropped (the
 * sender retransmits): bytes the decoder must read are missing before it. A global
 * function (enum kg_seq): verified once, off the hot path's stack.
 */
__attribute__((noinline)) int kg_ahead(struct kg_conn *cn, struct kg_flow *f, struct kg_pkt *p)
{
	struct kd_state *d;
	__u32 gap, region;
	int i;

	if (!cn || !f || !p)
		return KG_SEQ_DROP;
	d = &f->dec;
	gap = p->seq - cn->next_seq;
	region = kg_skip_region(d);
	if ((f->flags & KG_FLOW_DEAD) || gap > region) {
		/* far enough past where the decoder reads again: a probe (kg_probe_reached) */
		if (!(f->flags & (KG_FLOW_DEAD | KG_FLOW_SASL)) && !f->probe && !p->fin &&
		    d->phase != KD_PH_DEAD && gap - region >= KG_PROBE_AFTER && gap <= KG_PROBE_MAX)
			return KG_SEQ_PROBE;
		kg_count(KG_C_OOO_DROPS);
		return KG_SEQ_DROP;
	}
	/*
	 * One that starts inside a probe still held is dropped: the broker holds the probe
	 * out of order, and for the bytes where the two overlap it keeps the probe's (Linux
	 * drops a copy that starts inside an earlier one, or at its start and no longer, as
	 * a duplicate, and keeps the earlier one's bytes where a later start overlaps): bytes
	 * kgate never decoded, so decoding this copy would decide bytes the broker does not
	 * read. (A copy at its start and longer replaces it; dropping that is safe too.) One
	 * that starts before the probe is read before it, by both; what it leaves of the
	 * probe is checked as ever (kg_probe_reached).
	 */
	if (f->probe && (__s32)(p->seq - f->probe_seq) >= 0 && (__s32)(p->seq - f->probe_end) < 0) {
		kg_count(KG_C_PROBE_SHADOW_DROPS);
		return KG_SEQ_DROP;
	}
	if (f->nholes >= KG_HOLES) {
		kg_count(KG_C_AHEAD_FULL_DROPS);
		return KG_SEQ_DROP;
	}
	i = kg_hole_free(f);
	if (i < 0 || i >= KG_HOLES) {
		kg_count(KG_C_AHEAD_FULL_DROPS);
		return KG_SEQ_DROP;
	}
	f->holes[i].seq = cn->next_seq;
	f->holes[i].end = p->seq;
	f->nholes++;
	if (d->phase == KD_PH_TRAIL && d->frame_left) {
		d->skip += d->frame_left;
		d->frame_left = 0;
	}
	d->skip -= gap;
	d->frame_rem -= gap;
	cn->next_seq = p->seq;
	kg_count(KG_C_AHEAD_PASSED);
	return KG_SEQ_NEW;
}

/*
 * Where old bytes from seq on stop being known as passable: past what the broker
 * acknowledged (its TCP discards a second copy) and past a hole (bytes skipped unread).
 * Holes never touch each other (one opens at next_seq, after decided bytes, and filling
 * only shrinks them), nor lie below what the broker acknowledged (it cannot acknowledge
 * past a hole): one pass finds the hole pos is in, and its end is decided bytes.
 */
__attribute__((noinline)) int kg_known_until(struct kg_conn *cn, struct kg_flow *f, __u32 seq)
{
	__u32 pos, end = 0;

	if (!cn || !f)
		return seq;
	pos = (__s32)(cn->lack - seq) > 0 ? cn->lack : seq;
	for (int i = 0; i < KG_HOLES; i++) {
		const struct kg_hole *h = &f->holes[i];

		if (h->seq != h->end && (__s32)(pos - h->seq) >= 0 && (__s32)(h->end - pos) > 0)
			end = h->end;
	}
	return end ? end : pos;
}

/*
 * Old bytes [seq, end) passed: the holes they cover shrink. One they cut in two keeps
 * its first part; its second part takes a free entry, and when there is none, it is
 * forgotten: a later copy of those bytes is then checked as decided bytes (bytes the
 * decoder skipped pass as ever; the broker holds the first copy already). A global
 * function: verified once.
 */
__attribute__((noinline)) int kg_hole_fill(struct kg_flow *f, __u32 seq, __u32 end)
{
	int filled = 0, freei;

	if (!f)
		return 0;
	freei = kg_hole_free(f);
	for (int i = 0; i < KG_HOLES; i++) {
		struct kg_hole *h = &f->holes[i];
		__u32 hs = h->seq, he = h->end;

		if (hs == he || (__s32)(end - hs) <= 0 || (__s32)(he - seq) <= 0)
			continue;
		filled = 1;
		if ((__s32)(seq - hs) <= 0) {
			/* its front, or all of it */
			if ((__s32)(end - he) >= 0) {
				h->seq = h->end = 0;
				if (f->nholes)
					f->nholes--;
			} else {
				h->seq = end;
			}
		} else {
			/* its back, or its middle (the part after end into the free entry) */
			h->end = seq;
			if ((__s32)(end - he) < 0 && freei >= 0 && freei < KG_HOLES) {
				f->holes[freei].seq = end;
				f->holes[freei].end = he;
				f->nholes++;
				freei = -1;
			}
		}
	}
	if (filled)
		kg_count(KG_C_HOLES_FILLED);
	return filled;
}

/*
 * A probe segment: a segment ahead of a gap that holds bytes the decoder must read cannot
 * be decided, and is dropped; but with nothing past the gap, the broker's TCP acknowledges
 * nothing new, and the sender retransmits the gap only after its retransmission timeout
 * (200 ms or more: most of the throughput under loss). So one segment far enough past
 * where the decoder reads again (KG_PROBE_AFTER) passes undecided, one at a time: the
 * broker holds it out of order and acknowledges it selectively, and the sender
 * retransmits the gap at once (RACK). A selective acknowledgment counts only whole
 * segments as the sender sent them, so the segment passes whole.
 *
 * The broker reads those bytes only when every byte before them has come: kgate sees
 * those first, in order. When a segment brings next_seq into [probe_seq, probe_end)
 * (exactly to its start, or into it: the broker then reads the probe's copy from there
 * on), the decoder must be skipping every byte of it left: they are accounted as skipped
 * (next_seq to probe_end). If the decoder would read one, the segment's outcome becomes
 * undecodable (probe_read: on_undecodable, a reset by default, before the broker has the
 * bytes before them). A segment that brings next_seq to probe_end or past covers it: the
 * broker keeps that copy (Linux drops an out-of-order segment behind its next byte, and
 * replaces one a later one covers), which is the one kgate decoded, or skipped inside a
 * hole. Returns 0, or -1 when a byte of the probe would be read. cn->next_seq has moved.
 */
static __always_inline int kg_probe_reached(struct kg_conn *cn, struct kg_flow *f)
{
	struct kd_state *d = &f->dec;
	__u32 left = f->probe_end - cn->next_seq;

	if (!f->probe || (__s32)(cn->next_seq - f->probe_seq) < 0)
		return 0;
	f->probe = 0;
	if ((__s32)left <= 0)
		return 0;
	if (kg_skip_region(d) < left)
		return -1;
	if (d->phase == KD_PH_TRAIL && d->frame_left) {
		d->skip += d->frame_left;
		d->frame_left = 0;
	}
	d->skip -= left;
	d->frame_rem -= left;
	cn->next_seq += left;
	cn->bytes += left;
	kg_count(KG_C_PROBES_CHECKED);
	return 0;
}

/*
 * In-order normalization: the decoder only advances on in-order bytes. A segment that
 * starts beyond next_seq passes over a gap of skipped bytes (kg_ahead). Bytes before
 * next_seq were decided, or skipped unread: those the broker acknowledged it discards,
 * those of a hole pass, the rest are checked against what the flow remembers.
 */
static __always_inline enum kg_seq kg_in_order(KG_CTX *ctx, struct kg_conn *cn,
					       struct kg_flow *f, struct kg_pkt *p,
					       struct kd_src *src)
{
	__s32 d = (__s32)(p->seq - cn->next_seq);
	__u32 old = -d, known;

	if (d > 0)
		return (enum kg_seq)kg_ahead(cn, f, p);
	if (d == 0)
		return KG_SEQ_NEW;
	if (old > p->payload_len)
		old = p->payload_len;
	known = f->nholes || (__s32)(cn->lack - p->seq) > 0
			? (__u32)kg_known_until(cn, f, p->seq)
			: p->seq;
	if ((__s32)(known - (p->seq + old)) < 0) {
		/* decided bytes among them: as they were, or dropped */
		if (kg_retx_too_old(f, p, known, cn->next_seq) ||
		    kg_retransmission(ctx, f, p, old, src)) {
			kg_count(old == p->payload_len ? KG_C_RETX_DROPS : KG_C_OVERLAP_DROPS);
			return KG_SEQ_DROP;
		}
		kg_count(KG_C_RETX_REPLAYED);
	} else if ((__s32)(cn->lack - p->seq) > 0) {
		kg_count(KG_C_RETX_ACKED);
	}
	if (f->nholes)
		kg_hole_fill(f, p->seq, p->seq + old);
	if (old == p->payload_len)
		return KG_SEQ_OLD;
	/* old bytes followed by new: decode the new */
	src->off += old;
	return KG_SEQ_NEW;
}

/*
 * Remembers what the decoder read of this packet, and what was rewritten, for its
 * retransmissions: from the first byte read (lead: the bytes from start on it passed
 * over by length first) to the last, not the bytes skipped around them. A copy that
 * starts later than the packet did (another segmentation: a hole's fill, a sender that
 * re-segments) then needs only to hold the bytes read, unchanged.
 */
static __always_inline void kg_retx_remember(KG_CTX *ctx, struct kg_flow *f,
					     const struct kg_pkt *p, struct kd_src *src,
					     const struct kg_out *out, __u32 start, __u32 lead)
{
	struct kg_retx *rx;
	__u32 rlen, first;

	if (src->rd_end <= start && !out->npoison)
		return;
	/* the slot starts at the first byte read; a rewrite is of bytes read (kept in, anyway) */
	first = start - p->payload_off + lead;
	if (first > src->rd_end - p->payload_off)
		first = src->rd_end - p->payload_off;
	for (int k = 0; k < KG_RETX_POISONS; k++)
		if (k < out->npoison && out->poison_off[k] < first)
			first = out->poison_off[k];
	rx = &f->retx[f->retx_next & (KG_RETX_SLOTS - 1)];
	rlen = src->rd_end - p->payload_off - first;
	f->retx_next++;
	rx->seq = p->seq + first;
	rx->len = rlen;
	rx->npoison = out->npoison;
	for (int k = 0; k < KG_RETX_POISONS; k++) {
		rx->poison_off[k] = out->poison_off[k] - first;
		rx->poison_len[k] = out->poison_len[k];
	}
	/* no key, or unreadable: a retransmission of these bytes is dropped */
	if (kg_hash(ctx, src, p->payload_off + first, rlen, (struct kg_hash2 *)rx->hash))
		rx->npoison = KG_RETX_POISONS + 1;
}

#endif /* KGATE_RETX_H */
