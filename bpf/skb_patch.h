/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rewriting bytes of an skb's TCP payload in place, for both TC programs: egress
 * (kgate_tc.bpf.c) and the ingress hook's kg_ctx_patch (ctx_skb.h). Uses the decoder's
 * helpers (KD_CLAMP, KD_UNROLL): include it after kafka_decode.h.
 */
#ifndef KGATE_SKB_PATCH_H
#define KGATE_SKB_PATCH_H

#include <stddef.h>
#include <linux/tcp.h>

/* The most bytes one patch writes (a topic id). */
#define KG_PATCH_MAX 16
/*
 * The bytes summed around a patch (a multiple of 4, as bpf_csum_diff needs): from the
 * patch's start, or the packet's last KG_PATCH_WIN bytes when it ends sooner.
 */
#define KG_PATCH_WIN 20

/*
 * Writes n (1..KG_PATCH_MAX) bytes of val at off. The checksum field is updated with
 * bpf_l4_csum_replace by the difference over the KG_PATCH_WIN bytes that hold them, so
 * it stays right whatever the skb's checksum state (for CHECKSUM_COMPLETE, the payload
 * and field changes cancel out in skb->csum). A
 * window at an odd offset from the TCP header sums its bytes in the other halves of the
 * 16-bit words: its difference is byte-swapped (RFC 1071: the one's complement sum
 * commutes with swapping bytes). 0, or -1 when the bytes are not in the packet.
 */
static __always_inline int kg_skb_patch(struct __sk_buff *skb, __u32 tcp_off, __u32 off,
					const __u8 *val, const __u32 n)
{
	__u8 old[KG_PATCH_WIN], new[KG_PATCH_WIN];
	__u32 w = off, k, s;
	__s64 diff;

	if (w + KG_PATCH_WIN > skb->len)
		w = skb->len - KG_PATCH_WIN;
	if (w < tcp_off || w + KG_PATCH_WIN > skb->len || off < w ||
	    off + n > w + KG_PATCH_WIN)
		return -1;
	if (bpf_skb_load_bytes(skb, w, old, KG_PATCH_WIN))
		return -1;
	__builtin_memcpy(new, old, KG_PATCH_WIN);
	k = off - w;
	KD_CLAMP(k, KG_PATCH_WIN - 1);
	KD_UNROLL
	for (__u32 i = 0; i < KG_PATCH_MAX; i++)
		if (i < n && k + i < KG_PATCH_WIN)
			new[k + i] = val[i];
	diff = bpf_csum_diff((__be32 *)old, KG_PATCH_WIN, (__be32 *)new, KG_PATCH_WIN, 0);
	if (diff < 0)
		return -1;
	if ((w - tcp_off) & 1) {
		s = ((__u32)diff & 0xffff) + ((__u32)diff >> 16);
		s = (s & 0xffff) + (s >> 16);
		diff = ((s & 0xff) << 8) | (s >> 8);
	}
	if (bpf_skb_store_bytes(skb, w, new, KG_PATCH_WIN, 0))
		return -1;
	if (bpf_l4_csum_replace(skb, tcp_off + offsetof(struct tcphdr, check), 0, diff, 0))
		return -1;
	return 0;
}

#endif /* KGATE_SKB_PATCH_H */
