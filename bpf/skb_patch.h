/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rewriting bytes of an skb's TCP payload in place, for both TC programs: egress
 * (kgate_tc.bpf.c) and the ingress hook's kg_ctx_patch (ctx_skb.h). Uses the decoder's
 * helpers (KD_CLAMP, KD_UNROLL): include it after kafka_decode.h.
 */
#ifndef KGATE_SKB_PATCH_H
#define KGATE_SKB_PATCH_H

/*
 * Writes n (1..16) bytes of val at off. The checksum field is updated with
 * bpf_l4_csum_replace by the difference over a 20-byte window holding them (from off,
 * or the packet's last 20 bytes), so it stays right whatever the skb's checksum state
 * (for CHECKSUM_COMPLETE, the payload and field changes cancel out in skb->csum). A
 * window at an odd offset from the TCP header sums its bytes in the other halves of the
 * 16-bit words: its difference is byte-swapped (RFC 1071: the one's complement sum
 * commutes with swapping bytes). 0, or -1 when the bytes are not in the packet.
 */
static __always_inline int kg_skb_patch(struct __sk_buff *skb, __u32 tcp_off, __u32 off,
					const __u8 *val, const __u32 n)
{
	__u8 old[20], new[20];
	__u32 w = off, k, s;
	__s64 diff;

	if (w + 20 > skb->len)
		w = skb->len - 20;
	if (w < tcp_off || w + 20 > skb->len || off < w || off + n > w + 20)
		return -1;
	if (bpf_skb_load_bytes(skb, w, old, 20))
		return -1;
	__builtin_memcpy(new, old, 20);
	k = off - w;
	KD_CLAMP(k, 19);
	KD_UNROLL
	for (__u32 i = 0; i < 16; i++)
		if (i < n && k + i < 20)
			new[k + i] = val[i];
	diff = bpf_csum_diff((__be32 *)old, 20, (__be32 *)new, 20, 0);
	if (diff < 0)
		return -1;
	if ((w - tcp_off) & 1) {
		s = ((__u32)diff & 0xffff) + ((__u32)diff >> 16);
		s = (s & 0xffff) + (s >> 16);
		diff = ((s & 0xff) << 8) | (s >> 8);
	}
	if (bpf_skb_store_bytes(skb, w, new, 20, 0))
		return -1;
	return bpf_l4_csum_replace(skb, tcp_off + 16, 0, diff, 0) ? -1 : 0;
}

#endif /* KGATE_SKB_PATCH_H */
