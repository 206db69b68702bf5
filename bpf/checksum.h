/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internet checksums (RFC 1071) for the ingress datapath: folding a sum, the TCP
 * pseudo header, and whether a segment's TCP checksum holds. How a hook keeps a
 * checksum right when it rewrites bytes is the hook's own (kg_ctx_patch in ctx_xdp.h
 * and ctx_skb.h).
 */
#ifndef KGATE_CHECKSUM_H
#define KGATE_CHECKSUM_H

#include <stddef.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>

/* The longest TCP header: data offset 15 words. */
#define KG_TCP_HDR_MAX 60

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* The protocol and length words of a TCP segment's pseudo header, added to sum. */
static __always_inline __u32 kg_csum_pseudo_tail(__u32 sum, __u32 tcp_len)
{
	return sum + bpf_htons(IPPROTO_TCP) + bpf_htons(tcp_len);
}

/*
 * Whether a segment without payload (a RST) carries a valid TCP checksum: the broker
 * drops one that does not, so it must not change kgate's state either. A segment with
 * payload is not checked here (false).
 */
__attribute__((noinline)) int kg_tcp_csum_ok(KG_CTX *ctx, __u32 l3_off, __u32 tcp_off,
					     __u32 hl, __u32 family)
{
	__u8 hdr[KG_TCP_HDR_MAX], addrs[32];
	__u32 sum, alen, aoff;

	if (!ctx || hl < sizeof(struct tcphdr) || hl > KG_TCP_HDR_MAX || (hl & 3))
		return 0;
	if (kg_ctx_load(ctx, tcp_off, hdr, hl))
		return 0;
	/* the pseudo header: source and destination address, protocol, TCP length */
	alen = family == 4 ? 2 * sizeof(__be32) : 2 * sizeof(struct in6_addr);
	aoff = family == 4 ? offsetof(struct iphdr, saddr) : offsetof(struct ipv6hdr, saddr);
	KD_CLAMP(alen, 32);
	if (kg_ctx_load(ctx, l3_off + aoff, addrs, alen))
		return 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)addrs, alen, 0);
	sum = kg_csum_pseudo_tail(sum, hl);
	sum = bpf_csum_diff(0, 0, (__be32 *)hdr, hl, sum);
	return csum_fold(sum) == 0xffff;
}

#endif /* KGATE_CHECKSUM_H */
