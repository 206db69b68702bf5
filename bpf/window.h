/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the ingress datapath feeds the Kafka decoder (kafka_decode.h): the packet's
 * payload is read through a window, KG_WIN bytes copied out with one helper call and
 * read from there, field after field, until a field lies past it. (A helper call per
 * field cost more than the field.) The window is reset for every packet.
 *
 * Needs the hook's context (KG_CTX, kg_ctx_load: ctx_xdp.h or ctx_skb.h) and brings the
 * decoder in, configured to read through the window; every later header may use the
 * decoder's helpers (KD_CLAMP, KD_UNROLL, KD_LD64...).
 */
#ifndef KGATE_WINDOW_H
#define KGATE_WINDOW_H

#ifndef KG_CTX
#error "include the hook's context (ctx_xdp.h or ctx_skb.h) first"
#endif

#define KD_CTX KG_CTX *
/* Bytes the window holds: a field that does not fit moves the window to it. */
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
#include "kgate_maps.bpf.h"

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
	if (n == 0 || kg_ctx_load(ctx, off, s->win, n))
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

/* The window for the payload [off, end) of the packet at hand: nothing copied yet. */
static __always_inline struct kd_src *kg_window_open(__u32 off, __u32 end)
{
	__u32 zero = 0;
	struct kd_src *src = bpf_map_lookup_elem(&kg_src, &zero);

	if (src) {
		src->off = off;
		src->end = end;
		src->win_off = 0;
		src->win_len = 0;
	}
	return src;
}

/* The window holds bytes as they were before a rewrite: they are read afresh after it. */
static __always_inline void kg_window_forget(void)
{
	__u32 zero = 0;
	struct kd_src *s = bpf_map_lookup_elem(&kg_src, &zero);

	if (s)
		s->win_len = 0;
}

#endif /* KGATE_WINDOW_H */
