/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a client's segment is: Ethernet (up to two VLAN tags), IPv4 or IPv6 (up to
 * KG_MAX_EXT_HDRS extension headers), TCP. kg_parse reads the headers in place and fills
 * the flow key; what it cannot read is told apart from what is not TCP, so that
 * listener traffic is never passed undecided.
 */
#ifndef KGATE_PARSE_H
#define KGATE_PARSE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include "window.h"

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
	__u32 ack_seq;  /* valid with ack */
	__u8 family;
	__u8 syn, rst, fin, urg, ack;
};

/* kg_parse's answers besides 0 (TCP, read). */
#define KG_PARSE_OTHER -1      /* not TCP, or not TCP kgate reads: passes */
#define KG_PARSE_UNREADABLE -2 /* TCP whose headers cannot be walked: dropped, never passed */

/* VLAN tags read in front of IP (802.1Q, and QinQ's 802.1ad outer tag); a third: dropped. */
#define KG_MAX_VLAN_TAGS 2
/* IPv6 extension headers walked before TCP; more -> dropped. */
#define KG_MAX_EXT_HDRS 4
/*
 * The farthest into the frame a TCP header may start: with its options it then lies in
 * the bytes read in place (the 256 that kgate_tc_ingress makes linear, and that
 * kg_to_rst may touch). A TCP header beyond it: dropped (unreadable_packet_drops).
 */
#define KG_TCP_OFF_MAX 128
/* IPv4 fragment bits (RFC 791): more fragments, and the fragment offset. */
#define KG_IP_MF 0x2000
#define KG_IP_OFFSET 0x1fff

static __always_inline bool kg_vlan_proto(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* The IPv6 extension headers the kernel walks before TCP (RFC 8200, 4.1). */
static __always_inline bool kg_ipv6_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT;
}

/*
 * Ethernet and its VLAN tags, from the frame's start: the ethertype after them into
 * *proto, their length into *off.
 */
static __always_inline int kg_parse_eth(void *data, void *data_end, __u32 *off, __be16 *proto)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return KG_PARSE_OTHER;
	*off = sizeof(*eth);
	*proto = eth->h_proto;
	KD_UNROLL
	for (int k = 0; k < KG_MAX_VLAN_TAGS; k++) {
		struct vlan_hdr *vh = data + *off;

		if (!kg_vlan_proto(*proto))
			break;
		if ((void *)(vh + 1) > data_end)
			return KG_PARSE_OTHER;
		*proto = vh->proto;
		*off += sizeof(*vh);
	}
	if (kg_vlan_proto(*proto))
		return KG_PARSE_UNREADABLE; /* a third tag: not parsed, so not passed either */
	return 0;
}

/*
 * IPv4 at *off (TCP only, not in fragments): the addresses into fk, *off moved to its
 * payload, whose length goes to *iplen.
 */
static __always_inline int kg_parse_ip4(KG_CTX *ctx, void *data, void *data_end,
					struct kg_flow_key *fk, __u32 *off, __u32 *iplen)
{
	struct iphdr *ip = data + *off;

	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_TCP ||
	    ip->ihl < sizeof(*ip) / 4)
		return KG_PARSE_OTHER;
	/*
	 * TCP in IP fragments: ports are not in every fragment, so it cannot be told
	 * whether they are listener traffic, and the kernel would reassemble them behind
	 * the decoder's back. TCP never needs fragmentation (path MTU discovery); the
	 * caller drops them.
	 */
	if (ip->frag_off & bpf_htons(KG_IP_MF | KG_IP_OFFSET))
		return KG_PARSE_UNREADABLE;
	__builtin_memcpy(fk->saddr, &ip->saddr, 4);
	__builtin_memcpy(fk->daddr, &ip->daddr, 4);
	*iplen = bpf_ntohs(ip->tot_len);
	/* a GRO aggregate over 64 KB (BIG TCP) has tot_len 0: its length is the hook's */
	if (!*iplen && kg_ctx_gro_len(ctx) > *off)
		*iplen = kg_ctx_gro_len(ctx) - *off;
	if (*iplen < ip->ihl * 4u)
		return KG_PARSE_OTHER;
	*off += ip->ihl * 4;
	*iplen -= ip->ihl * 4;
	return 0;
}

/*
 * IPv6 at *off and its extension headers (the kernel accepts them before TCP): up to
 * KG_MAX_EXT_HDRS are walked; more, or a fragment header over TCP, are dropped. As
 * kg_parse_ip4.
 */
static __always_inline int kg_parse_ip6(KG_CTX *ctx, void *data, void *data_end,
					struct kg_flow_key *fk, __u32 *off, __u32 *iplen)
{
	struct ipv6hdr *ip6 = data + *off;
	__u8 nh, eh[2];

	if ((void *)(ip6 + 1) > data_end)
		return KG_PARSE_OTHER;
	__builtin_memcpy(fk->saddr, &ip6->saddr, 16);
	__builtin_memcpy(fk->daddr, &ip6->daddr, 16);
	*iplen = bpf_ntohs(ip6->payload_len);
	if (!*iplen && kg_ctx_gro_len(ctx) > *off + sizeof(*ip6))
		*iplen = kg_ctx_gro_len(ctx) - *off - sizeof(*ip6);
	nh = ip6->nexthdr;
	*off += sizeof(*ip6);
	KD_UNROLL
	for (int k = 0; k < KG_MAX_EXT_HDRS; k++) {
		__u32 len;

		if (!kg_ipv6_ext(nh))
			break;
		/* each starts with its next header and its length */
		if (kg_ctx_load(ctx, *off, eh, 2))
			return KG_PARSE_OTHER;
		if (nh == IPPROTO_FRAGMENT)
			return eh[0] == IPPROTO_TCP ? KG_PARSE_UNREADABLE : KG_PARSE_OTHER;
		/* AH counts 4-byte words less two (RFC 4302), the others 8-byte less one */
		len = nh == IPPROTO_AH ? (eh[1] + 2) * 4 : (eh[1] + 1) * 8;
		if (*iplen < len)
			return KG_PARSE_OTHER;
		*iplen -= len;
		*off += len;
		nh = eh[0];
	}
	if (kg_ipv6_ext(nh))
		return KG_PARSE_UNREADABLE;
	return nh == IPPROTO_TCP ? 0 : KG_PARSE_OTHER;
}

/* TCP at off, iplen bytes with its payload: where the payload is, the ports, the flags. */
static __always_inline int kg_parse_tcp(void *data, void *data_end, __u32 off, __u32 iplen,
					struct kg_pkt *p, struct kg_flow_key *fk)
{
	struct tcphdr *tcp;

	/*
	 * TCP whose header lies beyond what is read in place (long extension headers, or
	 * headers past the first buffer) cannot be told apart from listener traffic:
	 * dropped, never passed undecided.
	 */
	if (off > KG_TCP_OFF_MAX)
		return KG_PARSE_UNREADABLE;
	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return KG_PARSE_UNREADABLE;
	if (tcp->doff < sizeof(*tcp) / 4 || iplen < tcp->doff * 4u)
		return KG_PARSE_OTHER;
	p->tcp_off = off;
	p->payload_off = off + tcp->doff * 4;
	p->payload_len = iplen - tcp->doff * 4;
	p->seq = bpf_ntohl(tcp->seq);
	p->ack_seq = bpf_ntohl(tcp->ack_seq);
	p->ack = tcp->ack;
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
 * The headers of the packet in ctx, layer after layer, into p and the flow key fk (the
 * client's view: source first). 0, KG_PARSE_OTHER or KG_PARSE_UNREADABLE.
 */
static __always_inline int kg_parse(KG_CTX *ctx, struct kg_pkt *p, struct kg_flow_key *fk)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off = 0, iplen = 0;
	__be16 proto = 0;
	int r;

	r = kg_parse_eth(data, data_end, &off, &proto);
	if (r)
		return r;
	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP)) {
		p->family = 4;
		r = kg_parse_ip4(ctx, data, data_end, fk, &off, &iplen);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		p->family = 6;
		r = kg_parse_ip6(ctx, data, data_end, fk, &off, &iplen);
	} else {
		r = KG_PARSE_OTHER;
	}
	if (r)
		return r;
	return kg_parse_tcp(data, data_end, off, iplen, p, fk);
}

#endif /* KGATE_PARSE_H */
