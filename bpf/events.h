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
	__u16 nallow;  /* staged events by verdict class, counted lost if the record is */
	__u16 ndeny;
	__u8 open;     /* a packet's decode loop runs: events wait for kg_ev_end */
	__u8 ctx;      /* data holds a context entry, for policy generation ctx_gen */
	__u8 ctx_gen;
	__u8 pad[5];
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
	return size;
}

/*
 * One decision event. kind KG_EV_*; dec = kg_decide's result; enforced as applied.
 * Deny and undecodable events are always sent; allows per the policy's audit_allow.
 */
__attribute__((noinline)) int kg_emit(struct kg_flow *f, __u32 kind, __u32 dec, __u32 enforced_gen)
{
	__u32 gen = enforced_gen & 1, action = dec & KG_DEC_ACT_MASK, zero = 0, off, cl, tl, size;
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

#endif /* KGATE_EVENTS_H */
