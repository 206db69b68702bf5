/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client->broker enforcement on the broker-facing interface, one source for two hooks:
 * XDP (bpf/kgate_xdp.bpf.c) and, for interfaces without XDP, TC ingress
 * (bpf/kgate_tci.bpf.c, built with KG_SKB). What differs between them is below the
 * KG_SKB switches: how bytes are loaded and stored, how checksums follow, the verdict
 * codes, and how a connection is sent to the quarantine interface.
 *
 * Per packet: L2/L3/L4 parse (IPv4, IPv6, one VLAN tag) -> listener port filter (the
 * fast path: anything else passes after a few instructions) -> flow lookup ->
 * in-order normalization -> the Kafka stream decoder (bpf/kafka_decode.h) -> one
 * decision per topic (or per request for requests without topics) against the
 * active policy generation -> enforcement in place -> decision events (one ring-buffer
 * record for the packet's decisions).
 *
 * In-order normalization (DESIGN §2): the decoder only advances on in-order bytes.
 *  - a segment that starts beyond next_seq is dropped (the sender retransmits);
 *  - bytes before next_seq were decided: a segment carrying them is checked against
 *    the recent segments remembered in the flow (kg_retx): where the decoder had read
 *    fields, the retransmitted bytes must hash the same, and the rewrites made the
 *    first time are made again; bytes the decoder skipped by length (record data)
 *    cannot change framing or names and pass. Anything else is dropped, so
 *    overlapping bytes that differ from what was decided never reach the broker.
 */
#ifndef KGATE_INGRESS_H
#define KGATE_INGRESS_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifdef KG_SKB
#include <linux/pkt_cls.h>
#define KG_CTX struct __sk_buff
#define KG_LOAD bpf_skb_load_bytes
#define KG_V_PASS TC_ACT_OK
#define KG_V_DROP TC_ACT_SHOT
#else
#define KG_XDP 1
#define KG_CTX struct xdp_md
#define KG_LOAD bpf_xdp_load_bytes
#define KG_V_PASS XDP_PASS
#define KG_V_DROP XDP_DROP
#endif
#define KG_INGRESS 1 /* kgate_maps.bpf.h: this program sends decision events */
#define KD_CTX KG_CTX *
/*
 * The decoder reads the packet through a window: KG_WIN bytes copied out with one
 * helper call and read from there, field after field, until a field lies past it.
 * (A helper call per field cost more than the field.) Reset for every packet.
 */
#define KG_WIN 256
#define KD_SRC_EXTRA                                                                               \
	__u32 rd_end; /* after the last byte the decoder read (not skipped by length) */      \
	__u32 win_off;                                                                             \
	__u32 win_len;                                                                             \
	/* kg_step's last event: in a map, not on the stack, where the verifier would tell */   \
	/* the events apart and verify the step once per event instead of once */            \
	__s32 last_ev;                                                                             \
	__u32 h_off; /* kg_hash's cursor and end: in the map for the same reason */              \
	__u32 h_end;                                                                               \
	__u8 win[KG_WIN + KD_WIN];
#define KD_LOAD(ctx, s, off, dst, len) kg_wload((ctx), (s), (off), (dst), (len))
struct kd_src;
static __always_inline int kg_wload(KG_CTX *ctx, struct kd_src *s, __u32 off, __u8 *dst,
				    __u32 len);
#include "kafka_decode.h"
#ifdef KG_SKB
#include "kgate_skb.h"
#endif
#include "kgate_maps.bpf.h"


/* The byte written over the last byte of a rejected topic name: never valid in a name. */
#define KG_POISON '!'

/* Packet-level outcomes, strongest last. */
#define KG_OUT_PASS 0
#define KG_OUT_RESET 1
#define KG_OUT_DROP 2

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Where the parsed headers are. */
struct kg_pkt {
	__u32 l3_off;
	__u32 tcp_off;
	__u32 payload_off;
	__u32 payload_len;
	__u32 seq;
	__u8 family;
	__u8 syn, rst, fin, urg;
};

/* IPv6 extension headers walked before TCP; more -> dropped. */
#define KG_MAX_EXT_HDRS 4

/*
 * What decisions did to the current packet. Kept apart from kg_loop's pointers: the
 * global functions that write it would otherwise make the verifier forget them.
 */
struct kg_out {
	__u32 gen;        /* epoch & 1 */
	__u32 epoch;      /* kg_active when the packet arrived */
	__u32 tcp_off;
	__u32 payload_off;
	__u8 outcome;     /* KG_OUT_* */
	__u8 npoison;
	__u8 pad[2];
	__u16 poison_off[KG_RETX_POISONS];
	__u16 poison_len[KG_RETX_POISONS];
};

/* The decoder's source and window: per CPU (too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kd_src);
} kg_src SEC(".maps");

/* Moves the window to packet offset off. Returns the bytes it holds (0: none). */
__attribute__((noinline)) int kg_wfill(KG_CTX *ctx, struct kd_src *s, __u32 off)
{
	__u32 n;

	if (!s)
		return 0;
	n = s->end > off ? s->end - off : 0;
	KD_CLAMP(n, KG_WIN);
	if (n == 0 || KG_LOAD(ctx, off, s->win, n))
		return 0;
	s->win_off = off;
	s->win_len = n;
	return n;
}

/*
 * Copies len (1..KD_WIN) bytes at packet offset off to dst, from the window; a read
 * past the window first moves the window to off. Whole words are copied, 16 or 32
 * bytes: dst has KD_WIN bytes of slack (kd_state's buffers do), only len of them matter.
 */
static __always_inline int kg_wload(KG_CTX *ctx, struct kd_src *s, __u32 off, __u8 *dst,
				    __u32 len)
{
	__u32 rel = off - s->win_off;

	if (off < s->win_off || rel + len > s->win_len) {
		if (kg_wfill(ctx, s, off) < (int)len)
			return -1;
		rel = 0;
	}
	s->rd_end = off + len;
	KD_CLAMP(rel, KG_WIN - 1);
	if (len == 1) {
		*dst = s->win[rel];
		return 0;
	}
	/* two words or all four: a branch per word would multiply the verifier's paths */
	_Static_assert(KD_WIN == 32, "four words at most");
	KD_ST64(dst, KD_LD64(&s->win[rel]));
	KD_ST64(dst + 8, KD_LD64(&s->win[rel + 8]));
	if (len > 16) {
		KD_ST64(dst + 16, KD_LD64(&s->win[rel + 16]));
		KD_ST64(dst + 24, KD_LD64(&s->win[rel + 24]));
	}
	return 0;
}

struct kg_loop {
	KG_CTX *ctx;
	struct kg_flow *f;
	struct kg_scratch *sc;
	struct kd_src *src; /* ->last_ev: the last step's event */
	struct kg_out out;
};

/* ---- checksums ------------------------------------------------------------- */

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

#ifndef KG_SKB
/*
 * Incremental TCP checksum update (RFC 1624) for bytes changed in place: off is the
 * packet offset of the first byte; its parity relative to the TCP header decides
 * which half of a 16-bit word each byte is.
 */
static __always_inline void kg_csum_bytes(KG_CTX *ctx, __u32 tcp_off, __u32 off,
					  const __u8 *old, const __u8 *new, const __u32 n)
{
	bool high = ((off - tcp_off) & 1) == 0;
	__u32 sum;
	__u16 check;

	if (KG_LOAD(ctx, tcp_off + 16, &check, 2))
		return;
	sum = (__u16)~check;
	KD_UNROLL
	for (__u32 i = 0; i < n; i++) {
		/* byte i sits in the high half of its 16-bit word when (off + i) is even */
		bool h = (i & 1) ? !high : high;
		__u16 o = h ? old[i] << 8 : old[i];
		__u16 w = h ? new[i] << 8 : new[i];

		sum += (__u16)~bpf_htons(o);
		sum += bpf_htons(w);
	}
	check = ~csum_fold(sum);
	bpf_xdp_store_bytes(ctx, tcp_off + 16, &check, 2);
}

/*
 * Rewrites n bytes at off and fixes the checksum: n = 1, a topic name's last byte ->
 * '!'; n = 16, a topic id -> zeroes; n = 4, a Fetch session epoch -> 0x7fffffff (no
 * session ever reaches it: the broker answers INVALID_FETCH_SESSION_EPOCH).
 */
static __always_inline int kg_rewrite_n(KG_CTX *ctx, __u32 tcp_off, __u32 off, const __u32 n)
{
	__u8 old[16], new[16] = {};

	if (n == 1)
		new[0] = KG_POISON;
	if (n == 4)
		new[0] = 0x7f, new[1] = 0xff, new[2] = 0xff, new[3] = 0xff;
	if (KG_LOAD(ctx, off, old, n) || bpf_xdp_store_bytes(ctx, off, new, n))
		return -1;
	kg_csum_bytes(ctx, tcp_off, off, old, new, n);
	return 0;
}
#else
/* The same rewrite on an skb (kgate_skb.h fixes the checksum for every skb state). */
static __always_inline int kg_rewrite_n(KG_CTX *ctx, __u32 tcp_off, __u32 off, const __u32 n)
{
	__u8 val[16] = {};

	if (n == 1)
		val[0] = KG_POISON;
	if (n == 4)
		val[0] = 0x7f, val[1] = 0xff, val[2] = 0xff, val[3] = 0xff;
	return kg_skb_patch(ctx, tcp_off, off, val, n);
}
#endif

/*
 * kg_rewrite_n for n = 1, 4 or 16 (any other n is taken as 1): a global function, so
 * that its buffers are not on the stack of every caller.
 */
__attribute__((noinline)) int kg_rewrite(KG_CTX *ctx, __u32 tcp_off, __u32 off, __u32 n)
{
	__u32 zero = 0;
	struct kd_src *s = bpf_map_lookup_elem(&kg_src, &zero);

	/* the window holds the bytes as they were: read them afresh after this */
	if (s)
		s->win_len = 0;
	if (n == 16)
		return kg_rewrite_n(ctx, tcp_off, off, 16);
	if (n == 4)
		return kg_rewrite_n(ctx, tcp_off, off, 4);
	return kg_rewrite_n(ctx, tcp_off, off, 1);
}

/* ---- decisions ------------------------------------------------------------- */

/*
 * First match in file order over a class's candidates: the rule's principals and
 * regions must hold the flow's, and (unless at_syn) its operations and client ids the
 * request's. At SYN only rules that name no operation and no client.id can decide;
 * others are passed over. Returns action | (rule index + 1) << 4, or 0 for no match.
 * A global function: verified once, on its own.
 */
__attribute__((noinline)) int kg_first_match(struct kg_flow *f, __u32 gen, __u32 class_id,
					     __u32 op, __u32 at_syn)
{
	struct kg_class *cls;
	__u32 key, pid, opbit;

	if (!f)
		return 0;
	gen &= 1;
	key = gen * KG_MAX_PATTERNS + class_id;
	cls = bpf_map_lookup_elem(&kg_classes, &key);
	if (!cls)
		return 0;
	pid = f->principal_id & (KG_MAX_PRINCIPALS - 1);
	opbit = 1u << (op & 7);
	for (__u32 i = 0; i < KG_MAX_CANDIDATES; i++) {
		struct kg_rule *r;
		__u32 ri;

		if (i >= cls->n)
			break;
		ri = cls->rules[i];
		if (ri >= KG_MAX_RULES)
			break;
		key = gen * KG_MAX_RULES + ri;
		r = bpf_map_lookup_elem(&kg_rules, &key);
		if (!r)
			break;
		if (at_syn) {
			if (r->ops != 0xff || r->client_ids != ~0ull)
				continue; /* depends on requests: not decidable at SYN */
		} else if (!(r->ops & opbit) || !((r->client_ids >> (f->client_cid & 63)) & 1)) {
			continue;
		}
		if (!((r->regions >> (f->region_id & 63)) & 1) ||
		    !((r->principals[(pid >> 6) & 3] >> (pid & 63)) & 1))
			continue;
		return (r->action & 0xf) | ((ri + 1) << 4);
	}
	return 0;
}

/*
 * The decision for the topic in f->dec.name (or, has_topic 0, for a request naming no
 * topic: the "no pattern" class): first match, else the policy's default.
 */
static __always_inline __u32 kg_dc_stamp(const struct kg_flow *f)
{
	return f->principal_id | (__u32)f->region_id << 16 | (__u32)f->client_cid << 24;
}

/*
 * The memo's slot index for the topic in f->dec.name, or -1 when the name is not
 * memoized. A name may sit in that slot or its neighbour (index ^ 1).
 */
static __always_inline int kg_dc_slot(struct kg_flow *f)
{
	__u32 len = f->dec.name_len, tail;
	__u64 a, b;

	if (len == 0 || len > KG_DCACHE_NAME)
		return -1;
	/* the first and the last 8 bytes (bytes past the name masked off: they are stale) */
	a = KD_LD64(f->dec.name);
	if (len < 8) {
		a &= (1ull << (len * 8)) - 1;
		b = 0;
	} else {
		tail = len - 8;
		KD_CLAMP(tail, KG_DCACHE_NAME - 8);
		b = KD_LD64(&f->dec.name[tail]);
	}
	a = (a ^ (b << 7 | b >> 57) ^ len) * 0x9e3779b97f4a7c15ull;
	a = (a ^ (a >> 32)) * 0x9e3779b97f4a7c15ull;
	return a >> 60; /* the top bits: KG_DCACHE is 16 */
}

/* Whether slot holds the topic in f->dec.name for op: its bytes are compared. */
/*
 * Whether the first len bytes of a and b are equal (len <= max, max a multiple of 8),
 * a word at a time; bytes past len are not compared.
 */
static __always_inline bool kg_bytes_eq(const __u8 *a, const __u8 *b, __u32 len, const int max)
{
	__u64 x, y, diff = 0;

	KD_UNROLL
	for (int w = 0; w < max / 8; w++) {
		if (w * 8 >= (int)len)
			break;
		x = KD_LD64(&a[w * 8]);
		y = KD_LD64(&b[w * 8]);
		if (len < (__u32)(w + 1) * 8)
			diff |= (x ^ y) & ((1ull << ((len - w * 8) * 8)) - 1);
		else
			diff |= x ^ y;
	}
	return diff == 0;
}

static __always_inline bool kg_dc_hit(const struct kg_flow *f, const struct kg_dcache *e, __u32 op)
{
	return e->len == f->dec.name_len && e->op == op &&
	       kg_bytes_eq(f->dec.name, e->name, e->len, KG_DCACHE_NAME);
}

/*
 * The decision for the topic in f->dec.name (has_topic 0: for a request naming no
 * topic, the "no pattern" class): first match, else the policy's default. Topics this
 * connection already decided under the same epoch, principal, region and client id
 * come from its memo.
 */
__attribute__((noinline)) int kg_decide(struct kg_flow *f, __u32 epoch, __u32 op, __u32 has_topic)
{
	__u32 gen = epoch & 1, stamp;
	struct kg_class_ref *ref;
	struct kg_dcache *e = NULL;
	struct kg_config *cfg;
	int dec, slot;

	if (!f)
		return KG_ACT_DROP;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return KG_ACT_DROP;
	if (has_topic) {
		stamp = kg_dc_stamp(f);
		if (f->dc_epoch != epoch + 1 || f->dc_stamp != stamp) {
			__builtin_memset(f->dcache, 0, sizeof(f->dcache));
			f->dc_epoch = epoch + 1;
			f->dc_stamp = stamp;
		}
		slot = kg_dc_slot(f);
		if (slot >= 0) {
			struct kg_dcache *e2 = &f->dcache[(slot ^ 1) & (KG_DCACHE - 1)];

			e = &f->dcache[slot & (KG_DCACHE - 1)];
			if (kg_dc_hit(f, e, op))
				return e->dec;
			if (kg_dc_hit(f, e2, op))
				return e2->dec;
			/* a miss goes to the free one of the two, else over the first */
			if (e->len && !e2->len)
				e = e2;
		}
	}
	f->dec.name_key_gen = gen;
	f->dec.name_key_len = has_topic ? 8 * (1 + (f->dec.name_len & 0xff) + 1) : 8;
	ref = bpf_map_lookup_elem(&kg_topics, &f->dec.name_key_len);
	dec = ref ? kg_first_match(f, gen, ref->class_id, op, 0) : 0;
	if (!dec)
		dec = cfg->default_action;
	if (e) {
		KD_COPY64(e->name, f->dec.name, KG_DCACHE_NAME);
		e->len = f->dec.name_len;
		e->op = op;
		e->dec = dec;
	}
	return dec;
}

/*
 * Connection-level decision at SYN: the first rule of the "no pattern" class that
 * names no operation and no client.id and matches the connection's principal and
 * region. 0 when none does (requests decide later).
 */
static __always_inline int kg_syn_decide(struct kg_flow *f, __u32 gen)
{
	return kg_first_match(f, gen, 0, 0, 1);
}

/*
 * Decision events are staged per CPU in kg_evbatch and leave as one kg_event_recs record per
 * packet (the format is in maps/kgate_maps.h): kg_ev_begin before the decode loop,
 * kg_ev_end after it. An event outside that scope (at SYN, for a flow whose decoding had
 * ended) leaves at once, a record of one. A full staging buffer is sent early. Within
 * the scope every event is of the packet's flow, so one context entry serves them all.
 */

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
	__builtin_memcpy(&c->flow, &f->key, sizeof(c->flow));
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
	return size;
}

/*
 * One decision event. kind KG_EV_*; dec = kg_decide's result; enforced as applied.
 * Deny and undecodable events are always sent; allows per the policy's audit_allow.
 */
__attribute__((noinline)) int kg_emit(struct kg_flow *f, __u32 kind, __u32 dec, __u32 enforced_gen)
{
	__u32 gen = enforced_gen & 1, action = dec & 0xf, zero = 0, off, cl, tl, size;
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
	KD_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_CTX_MAX - KG_REC_DEC_MAX);
	if (!b->ctx || b->ctx_gen != gen)
		off += kg_ev_ctx(b, off, f, cfg, gen);
	KD_CLAMP(off, KG_EVBATCH_BYTES - KG_REC_DEC_MAX);
	e = (struct kg_rec_dec *)&b->data[off];
	e->h.type = KG_REC_DEC;
	e->h.pad = 0;
	e->rule_id = (dec >> 4) ? (dec >> 4) - 1 : ~0u;
	e->corr = f->dec.corr;
	e->frame_size = f->dec.frame_size;
	e->api_key = f->dec.api_key;
	e->api_version = f->dec.api_version;
	e->kind = kind;
	e->verdict = action;
	e->enforced = (enforced_gen >> 1) & 1;
	e->op = f->dec.opclass;
	e->reason = f->dec.reason;
	e->tkind = kind == KG_EV_TOPIC ? f->dec.tkind : 0;
	e->client_id_len = f->dec.client_id_null == 1 ? 0xff : f->dec.client_id_len;
	tl = kind == KG_EV_TOPIC ? f->dec.name_len : 0;
	KD_CLAMP(tl, 255);
	e->topic_len = tl;
	e->flags = (e->tkind & KD_TK_ID) ? KG_REC_F_UUID : 0;
	e->pad[0] = 0;
	e->pad[1] = 0;
	e->pad[2] = 0;
	size = KG_REC_DEC_SIZE(e->flags, e->client_id_len, tl);
	e->h.size = size;
	b->len = off + size;
	if (action == KG_ACT_ALLOW)
		b->nallow++;
	else
		b->ndeny++;
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
	KD_CLAMP(cl, KD_CLIENT_ID_MAX); /* it is: for the verifier */
	if (cl) {
		*(__u64 *)&var[(cl - 1) & 0x38] = 0;
		bpf_probe_read_kernel(var, cl, f->dec.client_id);
	}
	cl = KG_REC_PAD8(cl);
	KD_CLAMP(cl, KD_CLIENT_ID_MAX);
	var += cl;
	*(__u64 *)&var[tl & 0xf8] = 0;
	if (tl)
		bpf_probe_read_kernel(var, tl, f->dec.name);
	if (!b->open)
		kg_ev_send(b);
	return 0;
}

/* ---- enforcement ----------------------------------------------------------- */

static __always_inline void kg_remember_poison(struct kg_out *lp, __u32 off, __u32 len)
{
	__u8 i = lp->npoison;

	if (i < KG_RETX_POISONS) {
		lp->poison_off[i & (KG_RETX_POISONS - 1)] = off - lp->payload_off;
		lp->poison_len[i & (KG_RETX_POISONS - 1)] = len;
	}
	lp->npoison = i + 1; /* > KG_RETX_POISONS: a retransmission cannot be replayed */
}

/*
 * reject: make the broker unable to act on the denied topic, in place, same length.
 * A name gets its last byte (always in this packet: the decision follows it at once)
 * replaced by '!', which no topic name may contain. A topic id is zeroed (the "no id"
 * value) when all of its 16 bytes are in this packet. Returns 0, or -1 when neither
 * is possible (the caller resets instead).
 */
static __always_inline int kg_poison(KG_CTX *ctx, struct kg_flow *f, struct kg_out *lp)
{
	struct kd_state *d = &f->dec;
	__u8 need = d->tkind & (KD_TK_NAME | KD_TK_ID), done = 0;
	__u32 off;

	/*
	 * An entry may carry both a name and an id (Metadata v10+, DeleteTopics v6) and the
	 * broker may use either: every one the entry carries must be made unusable.
	 */
	if ((need & KD_TK_NAME) && (d->here & KD_H_NAME) && d->name_off > lp->payload_off &&
	    d->name_len) {
		off = d->name_off - 1;
		if (kg_rewrite(ctx, lp->tcp_off, off, 1))
			return -1;
		kg_remember_poison(lp, off, 1);
		done |= KD_TK_NAME;
	}
	if ((need & KD_TK_ID) && (d->here & KD_H_UUID) && d->uuid_off >= lp->payload_off + 16) {
		off = d->uuid_off - 16;
		if (kg_rewrite(ctx, lp->tcp_off, off, 16))
			return -1;
		kg_remember_poison(lp, off, 16);
		done |= KD_TK_ID;
	}
	return need && done == need ? 0 : -1;
}

/*
 * Remembers a topic rejected by poisoning its name, so that TC egress can restore the
 * name in the response and write the authorization error (bpf/kgate_tc.bpf.c).
 */
__attribute__((noinline)) int kg_pend_add(struct kg_flow *f)
{
	struct kd_state *d;
	struct kg_pend *pe = 0;
	__u32 len;
	__u64 h;

	if (!f)
		return 0;
	d = &f->dec;
	len = d->name_len;
	/* by name when the entry has one; else by id (a resolved name is not echoed) */
	if ((d->tkind & KD_TK_NAME) && (!len || len > KD_TOPIC_MAX))
		return 0;
	/* one entry per request (not per correlation id: the client chooses those) */
	if (f->cur_pend)
		pe = &f->pend[(f->cur_pend - 1) & (KG_PENDING - 1)];
	if (!pe) {
		f->cur_pend = (f->pend_next & (KG_PENDING - 1)) + 1;
		pe = &f->pend[(f->cur_pend - 1) & (KG_PENDING - 1)];
		f->pend_next++;
		__builtin_memset(pe, 0, sizeof(*pe));
		pe->used = 1;
		pe->req = f->req_no; /* the number kg_inflight_add gives this request */
		pe->corr = d->corr;
		pe->api_key = d->api_key;
		pe->api_version = d->api_version;
		pe->err = d->opclass == KG_OP_ADMIN ? KAFKA_CLUSTER_AUTHORIZATION_FAILED
						     : KAFKA_TOPIC_AUTHORIZATION_FAILED;
	}
	if (pe->n >= KG_PEND_NAMES)
		return 0;
	if (!(d->tkind & KD_TK_NAME)) {
		__builtin_memcpy(pe->uuid[pe->n & (KG_PEND_NAMES - 1)], d->uuid, 16);
		pe->ids |= 1 << (pe->n & (KG_PEND_NAMES - 1));
		pe->n++;
		return 0;
	}
	h = kg_name_hash(d->name, len, KG_POISON);
	pe->hash[pe->n & (KG_PEND_NAMES - 1)] = h;
	pe->orig[pe->n & (KG_PEND_NAMES - 1)] = d->name[(len - 1) & 0xff];
	pe->n++;
	return 0;
}

static __always_inline void kg_hit(__u32 gen, __u32 dec)
{
	__u32 ri = dec >> 4;
	__u64 *c;

	if (!ri)
		return;
	ri = (gen & 1) * KG_MAX_RULES + ((ri - 1) & (KG_MAX_RULES - 1));
	c = bpf_map_lookup_elem(&kg_rule_hits, &ri);
	if (c)
		*c += 1;
}

/*
 * Applies a decision; kind is KG_EV_TOPIC or KG_EV_REQUEST. A global function (lp's
 * pointers are not used here, only its scalars).
 */
__attribute__((noinline)) int kg_apply(KG_CTX *ctx, struct kg_flow *f, struct kg_out *lp,
				       __u32 kind, __u32 dec)
{
	__u32 action = dec & 0xf, gen, ri = dec >> 4, enforce = 1;
	struct kg_config *cfg;
	struct kg_rule *r;

	if (!f || !lp)
		return 0;
	gen = lp->gen & 1;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return 0;
	if (cfg->mode == KG_MODE_MONITOR)
		enforce = 0;
	if (ri) {
		__u32 key = gen * KG_MAX_RULES + ((ri - 1) & (KG_MAX_RULES - 1));

		r = bpf_map_lookup_elem(&kg_rules, &key);
		if (r && (r->flags & KG_RULE_AUDIT))
			enforce = 0;
	}
	f->topics++;
	kg_hit(gen, dec);
	if (enforce && action != KG_ACT_ALLOW) {
		if (action == KG_ACT_REJECT && (kind != KG_EV_TOPIC || kg_poison(ctx, f, lp)))
			action = KG_ACT_RESET; /* nothing to poison in this packet */
		else if (action == KG_ACT_REJECT && (f->dec.tkind & (KD_TK_NAME | KD_TK_ID)))
			kg_pend_add(f);
		if (action == KG_ACT_RESET || action == KG_ACT_REDIRECT) {
			/* redirect is a connection-start action; mid-stream it resets */
			lp->outcome = lp->outcome > KG_OUT_RESET ? lp->outcome : KG_OUT_RESET;
			f->flags |= KG_FLOW_RESET;
		} else if (action == KG_ACT_DROP) {
			lp->outcome = KG_OUT_DROP;
			f->flags |= KG_FLOW_DROP;
		}
		dec = (dec & ~0xfu) | action;
	}
	/* counted as enforced (a reject that had to reset counts as a reset) */
	kg_count(KG_C_VERDICT_BASE + (action < KG_ACT__COUNT ? action : KG_ACT_DROP));
	kg_emit(f, kind, dec, gen | (enforce << 1));
	return 0;
}

/*
 * Fetch sessions (KIP-227): an incremental Fetch names only partitions that changed,
 * so topics the session already holds are not decided again. When the policy changed
 * since the session's topics were decided, the session epoch is made invalid in place:
 * the broker answers INVALID_FETCH_SESSION_EPOCH, and the client starts a new session
 * with a full Fetch that names every partition, each decided by the new policy.
 */
__attribute__((noinline)) int kg_fetch_session(KG_CTX *ctx, struct kg_flow *f,
					       struct kg_out *lp)
{
	struct kd_state *d;
	struct kg_config *cfg;
	__u32 gen;

	if (!f || !lp)
		return 0;
	d = &f->dec;
	gen = lp->gen & 1;
	if (d->api_key != KAFKA_FETCH)
		return 0;
	if (d->sess_epoch <= 0) {
		/* a full fetch (new session or none): every partition is named and decided */
		f->sess_epoch = lp->epoch + 1;
		return 0;
	}
	if (f->sess_epoch == lp->epoch + 1)
		return 0;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg || cfg->mode == KG_MODE_MONITOR)
		return 0;
	kg_count(KG_C_FETCH_SESSION_RESETS);
	kg_emit(f, KG_EV_SESSION, KG_ACT_REJECT, gen | 2);
	if ((d->here & KD_H_SESSION) && d->sess_off >= lp->payload_off &&
	    !kg_rewrite(ctx, lp->tcp_off, d->sess_off + 4, 4)) {
		kg_remember_poison(lp, d->sess_off + 4, 4);
		return 0;
	}
	/* the epoch straddles segments: start over the hard way */
	lp->outcome = lp->outcome > KG_OUT_RESET ? lp->outcome : KG_OUT_RESET;
	f->flags |= KG_FLOW_RESET;
	return 0;
}

/*
 * The request just ended expects a response (all but Produce with acks=0): it takes
 * the next number, which its response will have among the responses (TC egress).
 */
__attribute__((noinline)) int kg_inflight_add(struct kg_flow *f)
{
	struct kg_inflight *e;
	struct kd_state *d;

	if (!f)
		return 0;
	d = &f->dec;
	if (d->api_key == KAFKA_PRODUCE && d->acks == 0)
		return 0;
	e = &f->inflight[f->req_no & (KG_INFLIGHT - 1)];
	e->idx = f->req_no++;
	e->xchg = f->xchg;
	e->api_key = d->api_key;
	e->api_version = d->api_version;
	e->kind = d->api_key == KD_KEY_SASL_RAW ? KG_IF_RAW : KG_IF_NORMAL;
	e->step = (d->api_key == KAFKA_SASL_AUTHENTICATE || d->api_key == KD_KEY_SASL_RAW)
			  ? f->sasl_step
			  : 0;
	e->pend = f->cur_pend;
	return 0;
}

/* Connection plumbing is not subject to policy: needed before any identity is known. */
static __always_inline bool kg_exempt(__u16 key)
{
	return key == KAFKA_API_VERSIONS || key == KAFKA_SASL_HANDSHAKE ||
	       key == KAFKA_SASL_AUTHENTICATE || key == KD_KEY_SASL_RAW;
}

/* The id of the current frame's client.id (KG_CLIENT_OTHER if no rule names it). */
__attribute__((noinline)) int kg_client_id(struct kg_flow *f, struct kg_scratch *sc, __u32 epoch)
{
	__u32 gen = epoch & 1;
	struct kg_name_key *k;
	struct kd_state *d;
	struct kg_id_val *v;

	if (!f || !sc)
		return 0;
	k = &sc->nkey;
	d = &f->dec;
	/* the same client id as the connection's last frame, under the same epoch */
	if (f->cid_epoch == epoch + 1 && f->cid_null == d->client_id_null &&
	    f->cid_len == d->client_id_len &&
	    kg_bytes_eq(d->client_id, f->cid, f->cid_len, KD_CLIENT_ID_MAX))
		return 0;
	f->cid_epoch = epoch + 1;
	f->cid_null = d->client_id_null;
	f->cid_len = d->client_id_len;
	KD_COPY64(f->cid, d->client_id, KD_CLIENT_ID_MAX);
	f->client_cid = KG_CLIENT_OTHER;
	if (d->client_id_null)
		return 0;
	__builtin_memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->kind = KG_NAME_CLIENT;
	k->len = d->client_id_len;
	KD_COPY64(k->name, d->client_id, KD_CLIENT_ID_MAX);
	/* bytes past client_id_len are stale: clear them so the hash key is canonical */
	for (__u32 i = 0; i < KD_CLIENT_ID_MAX; i++)
		if (i >= d->client_id_len)
			k->name[i] = 0;
	v = bpf_map_lookup_elem(&kg_names, k);
	if (v)
		f->client_cid = v->id & (KG_MAX_CLIENT_IDS - 1);
	return 0;
}

/* A topic given by id only: its name from kg_topic_ids, or the unknown-id action. */
__attribute__((noinline)) int kg_resolve_id(struct kg_flow *f)
{
	struct kd_state *d;
	struct kg_topic_name *tn;

	if (!f)
		return -1;
	d = &f->dec;
	if (d->tkind & KD_TK_NAME)
		return 0;
	tn = bpf_map_lookup_elem(&kg_topic_ids, d->uuid);
	if (!tn)
		return -1;
	_Static_assert(KD_TOPIC_MAX == 249, "248 bytes by words, then the last");
	KD_COPY64(d->name, tn->name, 248);
	d->name[248] = tn->name[248];
	d->name_len = tn->len > KD_TOPIC_MAX ? KD_TOPIC_MAX : tn->len;
	d->name[d->name_len & 0xff] = 0;
	return 0;
}

/*
 * The listener's on_undecodable action for an undecodable frame (decoding resumes at
 * the next frame) or a flow whose decoding ended (KD_PH_DEAD).
 */
static __always_inline int kg_undecodable(struct kg_loop *lp)
{
	struct kg_flow *f = lp->f;
	__u32 gen = lp->out.gen, act = KG_ACT_RESET;
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	kg_count(KG_C_UNDECODABLE_BASE + (f->dec.reason < KD_REASON__COUNT ? f->dec.reason : 0));
	if (cfg) {
		act = cfg->on_undecodable[f->listener & (KG_MAX_LISTENERS - 1)];
		if (cfg->mode == KG_MODE_MONITOR) {
			kg_emit(f, KG_EV_UNDECODABLE, act, gen);
			if (f->dec.phase == KD_PH_DEAD)
				f->flags |= KG_FLOW_DEAD;
			return KG_OUT_PASS;
		}
	}
	kg_emit(f, KG_EV_UNDECODABLE, act, gen | 2);
	if (act == KG_ACT_ALLOW) {
		if (f->dec.phase == KD_PH_DEAD)
			f->flags |= KG_FLOW_DEAD;
		return KG_OUT_PASS;
	}
	if (act == KG_ACT_DROP) {
		f->flags |= KG_FLOW_DROP;
		return KG_OUT_DROP;
	}
	f->flags |= KG_FLOW_RESET;
	return KG_OUT_RESET;
}

static long kg_step(__u32 i, void *data)
{
	struct kg_loop *lp = data;
	struct kg_flow *f = lp->f;
	struct kd_src *src = lp->src;
	__u32 gen = lp->out.gen, dec;
	struct kg_config *cfg;
	int ev;

	if (!src)
		return 1;
	ev = kd_step(lp->ctx, &f->dec, src);
	src->last_ev = ev;
	switch (ev) {
	case KD_EV_CONTINUE:
		return 0;
	case KD_EV_NEED_MORE:
		return 1;
	case KD_EV_FRAME:
		f->requests++;
		f->cur_pend = 0;
		/* SASL: count the exchange's steps; TC egress binds on the broker's answers */
		if (f->dec.api_key == KAFKA_SASL_HANDSHAKE) {
			f->xchg++;
			f->sasl_step = 0;
			f->sasl_ok = 0;
			f->sasl_pending = 0;
		} else if (f->dec.api_key == KAFKA_SASL_AUTHENTICATE ||
			   f->dec.api_key == KD_KEY_SASL_RAW) {
			if (f->sasl_step < 255)
				f->sasl_step++;
		}
		f->frame_topics = 0;
		f->frame_done = 0;
		f->frame_exempt = kg_exempt(f->dec.api_key);
		kg_client_id(f, lp->sc, lp->out.epoch);
		if (!f->frame_exempt) {
			const struct kd_api *api = kd_api_of(f->dec.api_key);

			if (api && !api->prog_len && api->topics) {
				/*
				 * The body names topics the decoder cannot read (e.g. ShareFetch):
				 * deciding it by operation alone would let a topic-wide allow
				 * override a topic-specific deny. It is undecodable instead.
				 */
				__u8 keep = f->dec.reason;

				f->dec.reason = KD_ERR_TOPICS_UNREAD;
				lp->out.outcome = kg_undecodable(lp);
				f->dec.reason = keep;
				f->frame_done = 1;
			} else if (api && !api->prog_len) {
				/* no topics in the body: decided by operation now */
				dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 0);
				kg_apply(lp->ctx, f, &lp->out, KG_EV_REQUEST, dec);
				f->frame_done = 1;
			}
		}
		break;
	case KD_EV_TOPIC:
		f->frame_topics++;
		if (f->frame_exempt)
			break;
		/*
		 * An entry with both a name and a non-zero id (Metadata v10+, DeleteTopics
		 * v6): the broker may act on either, so both are decided and the stricter
		 * decision stands.
		 */
		if ((f->dec.tkind & (KD_TK_NAME | KD_TK_ID)) == (KD_TK_NAME | KD_TK_ID)) {
			__u32 by_name = kg_decide(f, lp->out.epoch, f->dec.opclass, 1), by_id;

			f->dec.tkind = KD_TK_ID;
			if (kg_resolve_id(f)) {
				kg_count(KG_C_UNKNOWN_TOPIC_IDS);
				cfg = bpf_map_lookup_elem(&kg_config, &gen);
				by_id = cfg ? cfg->unknown_id_action : KG_ACT_RESET;
			} else {
				by_id = kg_decide(f, lp->out.epoch, f->dec.opclass, 1);
			}
			f->dec.tkind = KD_TK_NAME | KD_TK_ID;
			dec = (by_id & 0xf) > (by_name & 0xf) ? by_id : by_name;
		} else if (!(f->dec.tkind & KD_TK_NAME) && kg_resolve_id(f)) {
			kg_count(KG_C_UNKNOWN_TOPIC_IDS);
			cfg = bpf_map_lookup_elem(&kg_config, &gen);
			dec = cfg ? cfg->unknown_id_action : KG_ACT_RESET;
			f->dec.name_len = 0;
		} else {
			dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 1);
		}
		kg_apply(lp->ctx, f, &lp->out, KG_EV_TOPIC, dec);
		break;
	case KD_EV_FRAME_END:
		kg_inflight_add(f);
		/*
		 * A request that named no topic (e.g. Metadata for all topics) is decided by
		 * the rules without a topic pattern. Not a Fetch: one that names no partition
		 * fetches nothing new, and its session's topics are handled by
		 * kg_fetch_session.
		 */
		if (!f->frame_exempt && !f->frame_done && !f->frame_topics &&
		    f->dec.api_key != KAFKA_FETCH) {
			dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 0);
			kg_apply(lp->ctx, f, &lp->out, KG_EV_REQUEST, dec);
		}
		break;
	case KD_EV_SESSION:
		kg_fetch_session(lp->ctx, f, &lp->out);
		break;
	case KD_EV_SASL_USER:
		/* only the exchange's first token names the user (PLAIN, SCRAM client-first) */
		if (f->sasl_step != 1)
			break;
		KD_COPY64(f->sasl_user, f->dec.user, KD_USER_MAX);
		f->sasl_user_len = f->dec.user_len;
		f->sasl_uflags = f->dec.uflags | (f->dec.flags & KD_F_TRUNC ? 0x80 : 0);
		f->sasl_user_xchg = f->xchg;
		f->sasl_pending = 1;
		break;
	case KD_EV_ERROR:
		/* on_undecodable; with allow, decoding goes on at the next frame if it can */
		lp->out.outcome = kg_undecodable(lp);
		return lp->out.outcome != KG_OUT_PASS || f->dec.phase == KD_PH_DEAD;
	}
	return lp->out.outcome != KG_OUT_PASS;
}

/* ---- packet surgery -------------------------------------------------------- */

/* Swaps n bytes of a and b (addresses, ports). */
static __always_inline void kg_swap(void *a, void *b, const __u32 n)
{
	__u8 t[16], *x = a, *y = b;

	KD_UNROLL
	for (__u32 i = 0; i < n && i < 16; i++) {
		t[i] = x[i];
		x[i] = y[i];
		y[i] = t[i];
	}
}

/*
 * A RST's TCP header, without options or payload; its checksum is the caller's. Toward
 * the broker it keeps the segment's ACK; toward the client it carries none.
 */
static __always_inline void kg_rst_fields(struct tcphdr *tcp, __u32 rst_seq, bool to_client)
{
	tcp->doff = 5;
	/* the receiver's next expected byte: a RST elsewhere in the window is ignored */
	tcp->seq = bpf_htonl(rst_seq);
	tcp->rst = 1;
	tcp->ack = !to_client;
	if (to_client)
		tcp->ack_seq = 0;
	tcp->psh = 0;
	tcp->syn = 0;
	tcp->fin = 0;
	tcp->urg = 0;
	tcp->window = 0;
	tcp->urg_ptr = 0;
	tcp->check = 0;
}

#ifndef KG_SKB
/*
 * Turns the current segment into a RST toward the broker: same addresses, ports and
 * sequence number, no payload, checksums recomputed.
 */
__attribute__((noinline)) int kg_to_rst(KG_CTX *ctx, struct kg_pkt *p, __u32 rst_seq,
					__u32 to_client)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct tcphdr *tcp;
	__u32 hlen, sum, toff, loff, len;
	int trim;

	if (!p)
		return -1;
	len = bpf_xdp_get_buff_len(ctx);
	trim = (int)len - (int)(p->tcp_off + sizeof(struct tcphdr));
	if (trim > 0 && bpf_xdp_adjust_tail(ctx, -trim))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	toff = p->tcp_off;
	loff = p->l3_off;
	/* headers sit well inside the first 256 bytes (kg_parse); the masks tell the verifier */
	KD_CLAMP(toff, 255);
	KD_CLAMP(loff, 63);
	tcp = data + toff;
	eth = data;
	if ((void *)(tcp + 1) > data_end || (void *)(eth + 1) > data_end)
		return -1;
	if (to_client) {
		/* back where it came from: the client's next expected byte is its ack */
		if (!tcp->ack)
			return -1;
		rst_seq = bpf_ntohl(tcp->ack_seq);
		kg_swap(eth->h_dest, eth->h_source, 6);
		kg_swap(&tcp->source, &tcp->dest, 2);
	}
	kg_rst_fields(tcp, rst_seq, to_client);
	hlen = sizeof(*tcp);
	if (p->family == 4) {
		struct iphdr *ip = data + loff;

		if ((void *)(ip + 1) > data_end)
			return -1;
		if (ip->ihl != 5)
			return -1; /* with IP options: dropped instead (the flow is reset anyway) */
		if (to_client) {
			kg_swap(&ip->saddr, &ip->daddr, 4);
			ip->ttl = 64;
		}
		ip->tot_len = bpf_htons(sizeof(*ip) + hlen);
		ip->check = 0;
		ip->check = ~csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
		sum = bpf_csum_diff(0, 0, (__be32 *)&ip->saddr, 8, 0);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(hlen);
	} else {
		struct ipv6hdr *ip6 = data + loff;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (to_client) {
			kg_swap(&ip6->saddr, &ip6->daddr, 16);
			ip6->hop_limit = 64;
		}
		ip6->payload_len = bpf_htons(hlen);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 32, 0);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(hlen);
	}
	sum = bpf_csum_diff(0, 0, (__be32 *)tcp, sizeof(*tcp), sum);
	tcp->check = ~csum_fold(sum);
	return 0;
}
#else
/*
 * The same on an skb. The new headers are built on the stack and stored with
 * BPF_F_RECOMPUTE_CSUM, so skb->csum stays right for CHECKSUM_COMPLETE as well.
 */
__attribute__((noinline)) int kg_to_rst(KG_CTX *ctx, struct kg_pkt *p, __u32 rst_seq,
					__u32 to_client)
{
	struct tcphdr tcp;
	struct ethhdr eth;
	__u32 sum, hlen = sizeof(tcp);

	if (!p)
		return -1;
	if (bpf_skb_change_tail(ctx, p->tcp_off + sizeof(tcp), 0))
		return -1;
	if (KG_LOAD(ctx, p->tcp_off, &tcp, sizeof(tcp)))
		return -1;
	if (to_client) {
		/* back where it came from: the client's next expected byte is its ack */
		if (!tcp.ack || KG_LOAD(ctx, 0, &eth, sizeof(eth)))
			return -1;
		rst_seq = bpf_ntohl(tcp.ack_seq);
		kg_swap(eth.h_dest, eth.h_source, 6);
		kg_swap(&tcp.source, &tcp.dest, 2);
		/* the frame header is not in skb->csum: stored without recomputing it */
		if (bpf_skb_store_bytes(ctx, 0, &eth, sizeof(eth), 0))
			return -1;
	}
	kg_rst_fields(&tcp, rst_seq, to_client);
	if (p->family == 4) {
		struct iphdr ip;

		if (KG_LOAD(ctx, p->l3_off, &ip, sizeof(ip)))
			return -1;
		if (ip.ihl != 5)
			return -1; /* with IP options: dropped instead (the flow is reset anyway) */
		if (to_client) {
			kg_swap(&ip.saddr, &ip.daddr, 4);
			ip.ttl = 64;
		}
		ip.tot_len = bpf_htons(sizeof(ip) + hlen);
		ip.check = 0;
		ip.check = ~csum_fold(bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0));
		sum = bpf_csum_diff(0, 0, (__be32 *)&ip.saddr, 8, 0);
		if (bpf_skb_store_bytes(ctx, p->l3_off, &ip, sizeof(ip), BPF_F_RECOMPUTE_CSUM))
			return -1;
	} else {
		struct ipv6hdr ip6;

		if (KG_LOAD(ctx, p->l3_off, &ip6, sizeof(ip6)))
			return -1;
		if (to_client) {
			kg_swap(&ip6.saddr, &ip6.daddr, 16);
			ip6.hop_limit = 64;
		}
		ip6.payload_len = bpf_htons(hlen);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ip6.saddr, 32, 0);
		if (bpf_skb_store_bytes(ctx, p->l3_off, &ip6, sizeof(ip6), BPF_F_RECOMPUTE_CSUM))
			return -1;
	}
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons(hlen);
	sum = bpf_csum_diff(0, 0, (__be32 *)&tcp, sizeof(tcp), sum);
	tcp.check = ~csum_fold(sum);
	return bpf_skb_store_bytes(ctx, p->tcp_off, &tcp, sizeof(tcp), BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
}
#endif

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
	/*
	 * Older decided bytes are not remembered: passing them is safe only if the decoder
	 * skipped them, which cannot be known any more. Conservatively, a retransmission
	 * that reaches back beyond the remembered window is dropped.
	 */
	{
		__u32 oldest = f->next_seq;

		for (int i = 0; i < KG_RETX_SLOTS; i++)
			if (f->retx[i].len && (__s32)(f->retx[i].seq - oldest) < 0)
				oldest = f->retx[i].seq;
		if ((__s32)(p->seq - oldest) < 0 && (__s32)(f->next_seq - oldest) > 0)
			return -1;
	}
	return 0;
}

/* ---- parsing --------------------------------------------------------------- */

static __always_inline int kg_parse(KG_CTX *ctx, struct kg_pkt *p,
				    struct kg_flow_key *fk)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;
	__u32 off = sizeof(*eth), iplen;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return -1;
	proto = eth->h_proto;
	/* up to two VLAN tags (802.1Q, and QinQ's 802.1ad outer tag) */
	KD_UNROLL
	for (int k = 0; k < 2; k++) {
		struct vlan_hdr *vh = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return -1;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return -2; /* a third tag: not parsed, so not passed either */
	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
			return -1;
		/*
		 * TCP in IP fragments: ports are not in every fragment, so it cannot be told
		 * whether they are listener traffic, and the kernel would reassemble them
		 * behind the decoder's back. TCP never needs fragmentation (path MTU
		 * discovery); the caller drops them.
		 */
		if (ip->frag_off & bpf_htons(0x3fff))
			return -2;
		p->family = 4;
		__builtin_memcpy(fk->saddr, &ip->saddr, 4);
		__builtin_memcpy(fk->daddr, &ip->daddr, 4);
		iplen = bpf_ntohs(ip->tot_len);
#ifdef KG_SKB
		/* a GRO aggregate over 64 KB (BIG TCP) has tot_len 0: its length is the skb's */
		if (!iplen && ctx->len > off)
			iplen = ctx->len - off;
#endif
		if (iplen < ip->ihl * 4u)
			return -1;
		off += ip->ihl * 4;
		iplen -= ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		__u8 nh, eh[2];

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		p->family = 6;
		__builtin_memcpy(fk->saddr, &ip6->saddr, 16);
		__builtin_memcpy(fk->daddr, &ip6->daddr, 16);
		iplen = bpf_ntohs(ip6->payload_len);
#ifdef KG_SKB
		if (!iplen && ctx->len > off + sizeof(*ip6))
			iplen = ctx->len - off - sizeof(*ip6);
#endif
		nh = ip6->nexthdr;
		off += sizeof(*ip6);
		/*
		 * Extension headers before TCP (the kernel accepts them): walk up to
		 * KG_MAX_EXT_HDRS; more, or a fragment header over TCP, is dropped.
		 */
		KD_UNROLL
		for (int k = 0; k < KG_MAX_EXT_HDRS; k++) {
			__u32 len;

			if (nh != 0 && nh != 43 && nh != 60 && nh != 51 && nh != 44)
				break;
			if (KG_LOAD(ctx, off, eh, 2))
				return -1;
			if (nh == 44) /* fragment */
				return eh[0] == IPPROTO_TCP ? -2 : -1;
			len = nh == 51 ? (eh[1] + 2) * 4 : (eh[1] + 1) * 8;
			if (iplen < len)
				return -1;
			iplen -= len;
			off += len;
			nh = eh[0];
		}
		if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44)
			return -2;
		if (nh != IPPROTO_TCP)
			return -1;
	} else {
		return -1;
	}
	/*
	 * TCP whose header lies beyond what is read in place (long extension headers, or
	 * headers past the first buffer) cannot be told apart from listener traffic:
	 * dropped, never passed undecided.
	 */
	if (off > 128)
		return -2;
	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return -2;
	if (tcp->doff < 5 || iplen < tcp->doff * 4u)
		return -1;
	p->tcp_off = off;
	p->payload_off = off + tcp->doff * 4;
	p->payload_len = iplen - tcp->doff * 4;
	p->seq = bpf_ntohl(tcp->seq);
	p->syn = tcp->syn;
	p->rst = tcp->rst;
	p->fin = tcp->fin;
	p->urg = tcp->urg;
	fk->sport = tcp->source;
	fk->dport = tcp->dest;
	fk->family = p->family;
	return 0;
}

/*
 * Whether a segment without payload (a RST) carries a valid TCP checksum: the broker
 * drops one that does not, so it must not change kgate's state either. A segment with
 * payload is not checked here (false).
 */
__attribute__((noinline)) int kg_tcp_csum_ok(KG_CTX *ctx, __u32 l3_off, __u32 tcp_off,
					     __u32 hl, __u32 family)
{
	__u8 hdr[60], addrs[32];
	__u32 sum, alen, aoff;

	if (!ctx || hl < 20 || hl > 60 || (hl & 3))
		return 0;
	if (KG_LOAD(ctx, tcp_off, hdr, hl))
		return 0;
	/* the pseudo header: addresses (IPv4 at 12, IPv6 at 8), protocol, TCP length */
	alen = family == 4 ? 8 : 32;
	aoff = family == 4 ? 12 : 8;
	KD_CLAMP(alen, 32);
	if (KG_LOAD(ctx, l3_off + aoff, addrs, alen))
		return 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)addrs, alen, 0);
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons(hl);
	sum = bpf_csum_diff(0, 0, (__be32 *)hdr, hl, sum);
	return csum_fold(sum) == 0xffff;
}

/* Region and identity of a new flow, by longest prefix on the source address. */
__attribute__((noinline)) int kg_classify(struct kg_flow *f, struct kg_scratch *sc, __u32 gen)
{
	struct kg_id_val *reg, *idn;
	struct kg_flow_key *fk;

	if (!f || !sc)
		return 0;
	fk = (struct kg_flow_key *)&sc->hdr;
	gen &= 1;

	if (f->principal_src == KG_PSRC_SASL) {
		/* a bound SASL principal stays; only its id is taken again */
		f->region_id = KG_REGION_NONE;
		if (!f->principal_opaque)
			f->principal_id = kg_principal_lookup(&sc->nkey, f->principal,
							      f->principal_len, gen);
		if (fk->family == 4) {
			struct kg_cidr4_key k = { .prefixlen = 8 + 32, .gen = gen };

			__builtin_memcpy(k.addr, fk->saddr, 4);
			reg = bpf_map_lookup_elem(&kg_regions4, &k);
		} else {
			struct kg_cidr6_key k = { .prefixlen = 8 + 128, .gen = gen };

			__builtin_memcpy(k.addr, fk->saddr, 16);
			reg = bpf_map_lookup_elem(&kg_regions6, &k);
		}
		if (reg)
			f->region_id = reg->id & (KG_MAX_REGIONS - 1);
		return 0;
	}
	f->region_id = KG_REGION_NONE;
	f->principal_id = KG_PRINCIPAL_ANONYMOUS;
	f->principal_src = KG_PSRC_NONE;
	if (fk->family == 4) {
		struct kg_cidr4_key k = { .prefixlen = 8 + 32, .gen = gen };

		__builtin_memcpy(k.addr, fk->saddr, 4);
		reg = bpf_map_lookup_elem(&kg_regions4, &k);
		idn = bpf_map_lookup_elem(&kg_identities4, &k);
	} else {
		struct kg_cidr6_key k = { .prefixlen = 8 + 128, .gen = gen };

		__builtin_memcpy(k.addr, fk->saddr, 16);
		reg = bpf_map_lookup_elem(&kg_regions6, &k);
		idn = bpf_map_lookup_elem(&kg_identities6, &k);
	}
	if (reg)
		f->region_id = reg->id & (KG_MAX_REGIONS - 1);
	if (idn) {
		f->principal_id = idn->id & (KG_MAX_PRINCIPALS - 1);
		f->principal_src = KG_PSRC_IDENTITY;
	}
	return 0;
}

static __always_inline struct kg_flow *kg_new_flow(struct kg_flow_key *fk, __u32 epoch,
						    struct kg_scratch *sc)
{
	__u32 gen = epoch & 1;
	__u32 zero = 0;
	struct kg_flow *tmpl = bpf_map_lookup_elem(&kg_flow_zero, &zero), *f;

	if (!tmpl)
		return 0;
	if (bpf_map_update_elem(&kg_flows, fk, tmpl, BPF_ANY))
		return 0;
	f = bpf_map_lookup_elem(&kg_flows, fk);
	if (f) {
		f->gen = gen;
		f->epoch = epoch;
		__builtin_memcpy(&f->key, fk, sizeof(*fk));
		kg_classify(f, sc, gen);
		kg_count(KG_C_FLOWS_NEW);
	}
	return f;
}

/*
 * To the quarantine interface: XDP through the kg_redirect devmap, TC by the ifindex
 * in the active config. Without one configured, the connection is dropped.
 */
#ifdef KG_SKB
/* A packet turned around: out of the interface it came in on. */
static __always_inline int kg_bounce(KG_CTX *ctx)
{
	return bpf_redirect(ctx->ifindex, 0);
}

static __always_inline int kg_quarantine(__u32 gen)
{
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	if (!cfg || !cfg->redirect_ifindex)
		return TC_ACT_SHOT;
	return bpf_redirect(cfg->redirect_ifindex, 0);
}
#else
/*
 * Out of the interface it came in on, as a redirect rather than XDP_TX: a veth whose
 * peer runs no XDP program takes XDP_TX frames but never flushes them to the peer.
 */
#define kg_bounce(ctx) bpf_redirect((ctx)->ingress_ifindex, 0)
#define kg_quarantine(gen) bpf_redirect_map(&kg_redirect, 0, XDP_DROP)
#endif

/* The hook's entry: one packet, its verdict (KG_V_PASS, KG_V_DROP or a redirect). */
static __always_inline int kg_ingress(KG_CTX *ctx)
{
	struct kg_pkt p = {};
	struct kg_loop lp = {};
	struct kg_flow_key *fk;
	struct kg_scratch *sc;
	struct kd_src *src;
	struct kg_flow *f;
	__u32 zero = 0, gen, epoch, port_key, *genp, rst_seq = 0;
	__u8 *lst;
	int r;

	kg_count(KG_C_PACKETS);
	sc = bpf_map_lookup_elem(&kg_scratch, &zero);
	if (!sc)
		return KG_V_PASS;
	fk = (struct kg_flow_key *)&sc->hdr;
	__builtin_memset(fk, 0, sizeof(*fk));
	r = kg_parse(ctx, &p, fk);
	if (r == -1)
		return KG_V_PASS;
	if (r == -2) {
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP; /* TCP in fragments, or headers we do not walk */
	}
	genp = bpf_map_lookup_elem(&kg_active, &zero);
	if (!genp)
		return KG_V_PASS;
	epoch = *genp;
	gen = epoch & 1;
	port_key = gen * 65536 + bpf_ntohs(fk->dport);
	lst = bpf_map_lookup_elem(&kg_ports, &port_key);
	if (!lst || !*lst)
		return KG_V_PASS;
	kg_count(KG_C_LISTENER_PACKETS);

	f = bpf_map_lookup_elem(&kg_flows, fk);
	if (p.rst) {
		/*
		 * Only a RST at exactly the next sequence number ends the connection
		 * (RFC 5961; Linux answers others with a challenge ACK), and only one with a
		 * valid checksum (the broker drops any other): only that one may end the
		 * flow's state.
		 */
		if (f && p.seq == f->next_seq && !p.payload_len &&
		    kg_tcp_csum_ok(ctx, p.l3_off, p.tcp_off, p.payload_off - p.tcp_off, p.family))
			bpf_map_delete_elem(&kg_flows, fk);
		return KG_V_PASS;
	}
	if (p.urg && p.payload_len) {
		/*
		 * Urgent data: a receiver without SO_OOBINLINE (the broker) removes the
		 * urgent byte from the stream, which would shift it against the decoder.
		 */
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP;
	}
	if (p.syn && p.payload_len) {
		/*
		 * Data on a SYN (TCP Fast Open) is dropped with the SYN: whether the broker
		 * takes it depends on a connection state kgate cannot see yet. The client
		 * sends the SYN again without data.
		 */
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP;
	}
	if (p.syn) {
		/*
		 * A SYN for a connection the broker still holds is not a new connection:
		 * Linux answers it with a challenge ACK and keeps the connection (RFC 5961),
		 * so kgate keeps its state too (starting over would let the next bytes be
		 * read from a false frame boundary). It passes, for the challenge ACK that
		 * lets a client that lost the connection reset it. Only after the broker
		 * closed its side (FIN or RST, seen by TC egress), or after a valid RST from
		 * the client removed the flow, does a SYN start a new flow.
		 */
		if (f && !f->rclosed) {
			kg_count(KG_C_SYNS_ON_OPEN_FLOWS);
			return (f->flags & KG_FLOW_DROP) ? KG_V_DROP : KG_V_PASS;
		}
		f = kg_new_flow(fk, epoch, sc);
		if (!f)
			return p.payload_len ? KG_V_DROP : KG_V_PASS;
		f->listener = (*lst - 1) & (KG_MAX_LISTENERS - 1);
		f->next_seq = p.seq + 1;
		f->isn = p.seq;
		/*
		 * Its data is decoded once the broker answered this SYN (TC egress sees the
		 * SYN-ACK): a SYN the broker ignores, for a connection it still holds that
		 * kgate had forgotten (evicted), must not start the decoder at a false frame
		 * boundary.
		 */
		f->flags = KG_FLOW_SEQ_KNOWN | KG_FLOW_SYNACK_WAIT;
		{
			__u32 dec = kg_syn_decide(f, gen), enforce = 1, ri = dec >> 4;
			struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

			if ((dec & 0xf) != KG_ACT_REDIRECT || !cfg)
				goto syn_done;
			if (cfg->mode == KG_MODE_MONITOR)
				enforce = 0;
			if (ri) {
				__u32 key = gen * KG_MAX_RULES + ((ri - 1) & (KG_MAX_RULES - 1));
				struct kg_rule *r = bpf_map_lookup_elem(&kg_rules, &key);

				if (r && (r->flags & KG_RULE_AUDIT))
					enforce = 0;
			}
			kg_count(KG_C_VERDICT_BASE + KG_ACT_REDIRECT);
			kg_hit(gen, dec);
			kg_emit(f, KG_EV_CONNECTION, dec, gen | (enforce << 1));
			if (!enforce)
				return KG_V_PASS;
			/*
			 * The whole connection goes to the quarantine interface. Without one
			 * configured (kg_redirect[0] empty) the connection is dropped.
			 */
			f->flags |= KG_FLOW_REDIRECT;
			return kg_quarantine(gen);
		}
syn_done:
		return KG_V_PASS;
	}
	if (f && (f->flags & KG_FLOW_REDIRECT))
		return kg_quarantine(gen);
	if (!p.payload_len)
		return f && (f->flags & KG_FLOW_DROP) ? KG_V_DROP : KG_V_PASS;
	if (!f) {
		/* First seen mid-stream: frame boundaries are unknown. */
		f = kg_new_flow(fk, epoch, sc);
		if (!f)
			return KG_V_DROP;
		f->listener = (*lst - 1) & (KG_MAX_LISTENERS - 1);
		f->next_seq = p.seq;
		f->flags = KG_FLOW_SEQ_KNOWN | KG_FLOW_MIDSTREAM;
		kd_fail(&f->dec, KD_ERR_MIDSTREAM);
	}
	if (f->flags & (KG_FLOW_RESET | KG_FLOW_DROP)) {
		/*
		 * After a reset the broker's side is gone; the client learns it when it sends
		 * again (its retransmission of the segment that was reset, at the latest):
		 * that segment goes back to it as a RST.
		 */
		if ((f->flags & KG_FLOW_RESET) && !kg_to_rst(ctx, &p, 0, true)) {
			kg_count(KG_C_CLIENT_RESETS);
			return kg_bounce(ctx);
		}
		kg_count(KG_C_FLOW_DROPPED_PKTS);
		return KG_V_DROP;
	}
	if (f->flags & KG_FLOW_SYNACK_WAIT) {
		/* data before the broker answered the SYN: not the connection kgate follows */
		if (!f->rsynack) {
			kg_count(KG_C_UNCONFIRMED_DROPS);
			return KG_V_DROP;
		}
		f->flags &= ~KG_FLOW_SYNACK_WAIT;
	}
	/* ids (region, identity, listener) belong to a policy generation */
	f->listener = (*lst - 1) & (KG_MAX_LISTENERS - 1);
	if (f->epoch != epoch) {
		kg_classify(f, sc, gen);
		f->gen = gen;
		f->epoch = epoch;
		/*
		 * A request whose client id was read under the old policy: its id is taken
		 * again, so the topics still to come are decided with the new numbering.
		 */
		f->cid_epoch = 0;
		if (f->dec.phase != KD_PH_SIZE && f->dec.phase != KD_PH_HDR &&
		    f->dec.phase != KD_PH_CLIENT && f->dec.phase != KD_PH_DEAD)
			kg_client_id(f, sc, epoch);
	}

	/*
	 * The common case inside a record batch: an in-order segment of bytes the decoder
	 * skips by length. Accounted for without running the decoder.
	 */
	if (p.seq == f->next_seq && f->dec.skip >= p.payload_len && !(f->flags & KG_FLOW_DEAD) &&
	    f->dec.phase != KD_PH_DEAD && f->dec.phase != KD_PH_SIZE) {
		f->dec.skip -= p.payload_len;
		f->dec.frame_rem -= p.payload_len;
		f->bytes += p.payload_len;
		f->next_seq = p.seq + p.payload_len;
		return KG_V_PASS;
	}

	f->ts_pkt = 0;
	lp.ctx = ctx;
	lp.f = f;
	lp.sc = sc;
	lp.out.gen = gen;
	lp.out.epoch = epoch;
	lp.out.tcp_off = p.tcp_off;
	lp.out.payload_off = p.payload_off;
	src = bpf_map_lookup_elem(&kg_src, &zero);
	if (!src)
		return KG_V_DROP;
	lp.src = src;
	src->off = p.payload_off;
	src->end = p.payload_off + p.payload_len;
	src->win_off = 0;
	src->win_len = 0; /* nothing of this packet copied yet */

	/* In-order normalization. */
	{
		__s32 d = (__s32)(p.seq - f->next_seq);

		if (d > 0) {
			kg_count(KG_C_OOO_DROPS);
			return KG_V_DROP;
		}
		if (d < 0) {
			__u32 old = -d;

			if (old >= p.payload_len) {
				if (kg_retransmission(ctx, f, &p, p.payload_len, src)) {
					kg_count(KG_C_RETX_DROPS);
					return KG_V_DROP;
				}
				kg_count(KG_C_RETX_REPLAYED);
				return KG_V_PASS;
			}
			/* Old bytes followed by new: check the old, decode the new. */
			if (kg_retransmission(ctx, f, &p, old, src)) {
				kg_count(KG_C_OVERLAP_DROPS);
				return KG_V_DROP;
			}
			src->off += old;
		}
	}
	if (f->flags & KG_FLOW_DEAD) {
		/*
		 * Decoding ended and the flow was let through (on_undecodable: allow, or
		 * monitor mode). If the policy now in force says otherwise, it applies now.
		 */
		struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

		if (cfg && cfg->mode != KG_MODE_MONITOR &&
		    cfg->on_undecodable[f->listener & (KG_MAX_LISTENERS - 1)] != KG_ACT_ALLOW) {
			rst_seq = f->next_seq;
			f->flags &= ~KG_FLOW_DEAD;
			lp.out.outcome = kg_undecodable(&lp);
			if (lp.out.outcome == KG_OUT_DROP)
				return KG_V_DROP;
			if (lp.out.outcome == KG_OUT_RESET)
				return kg_to_rst(ctx, &p, rst_seq, false) ? KG_V_DROP : KG_V_PASS;
		}
		f->next_seq = p.seq + p.payload_len;
		return KG_V_PASS;
	}

	/* the same after old bytes were checked (an overlap): the new bytes are skipped */
	{
		__u32 rest = src->end - src->off;

		if (f->dec.skip >= rest && f->dec.phase != KD_PH_DEAD && f->dec.phase != KD_PH_SIZE) {
			f->dec.skip -= rest;
			f->dec.frame_rem -= rest;
			f->bytes += p.payload_len;
			f->next_seq = p.seq + p.payload_len;
			return KG_V_PASS;
		}
	}
	rst_seq = f->next_seq; /* the first byte the broker has not received */
	f->dec.here = 0;
	src->rd_end = src->off;
	{
		__u32 start = src->off;

		src->last_ev = KD_EV_CONTINUE;
		/* the packet's events leave as one record: nothing returns before kg_ev_end */
		kg_ev_begin();
		bpf_loop(KD_STEPS_FOR(p.payload_len), kg_step, &lp, 0);
		if (src->last_ev != KD_EV_NEED_MORE && src->last_ev != KD_EV_ERROR &&
		    lp.out.outcome == KG_OUT_PASS) {
			/* the step bound: the rest of this chunk was not decoded */
			kd_fatal(&f->dec, KD_ERR_BOUND);
			lp.out.outcome = kg_undecodable(&lp);
		}
		kg_ev_end();
		f->bytes += p.payload_len;
		f->next_seq = p.seq + p.payload_len;

		/*
		 * Remember what was read (and rewritten) for retransmissions: the bytes the
		 * decoder read, not those it skipped by length.
		 */
		if (src->rd_end > start || lp.out.npoison) {
			struct kg_retx *rx = &f->retx[f->retx_next & (KG_RETX_SLOTS - 1)];
			__u32 rlen = src->rd_end - p.payload_off;

			f->retx_next++;
			rx->seq = p.seq;
			rx->len = rlen;
			rx->npoison = lp.out.npoison;
			for (int k = 0; k < KG_RETX_POISONS; k++) {
				rx->poison_off[k] = lp.out.poison_off[k];
				rx->poison_len[k] = lp.out.poison_len[k];
			}
			/* no key, or unreadable: a retransmission of these bytes is dropped */
			if (kg_hash(ctx, src, p.payload_off, rlen, (struct kg_hash2 *)rx->hash))
				rx->npoison = KG_RETX_POISONS + 1;
		}
	}

	if (lp.out.outcome == KG_OUT_DROP)
		return KG_V_DROP;
	if (lp.out.outcome == KG_OUT_RESET)
		return kg_to_rst(ctx, &p, rst_seq, false) ? KG_V_DROP : KG_V_PASS;
	return KG_V_PASS;
}

#endif /* KGATE_INGRESS_H */
