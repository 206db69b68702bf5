/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RST kgate sends in place of a client's segment: toward the broker (the
 * connection is reset) or turned back toward the client (its next segment after a
 * reset). What its headers hold is here; each hook's kg_to_rst (ctx_xdp.h, ctx_skb.h)
 * finds the headers its own way (in place, or copied out and stored back) and has
 * these fill them.
 */
#ifndef KGATE_RST_H
#define KGATE_RST_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include "checksum.h"
#include "window.h"

/* The TTL (IPv6: hop limit) of a RST turned back to the client: Linux's default. */
#define KG_RST_TTL 64

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
 * Turns the frame and TCP header of a client's segment around, toward the client.
 * Returns the sequence number of its RST: the client's next expected byte, its ack.
 */
static __always_inline __u32 kg_rst_turn(struct ethhdr *eth, struct tcphdr *tcp)
{
	kg_swap(eth->h_dest, eth->h_source, ETH_ALEN);
	kg_swap(&tcp->source, &tcp->dest, sizeof(tcp->source));
	return bpf_ntohl(tcp->ack_seq);
}

/*
 * A RST's TCP header, without options or payload; its checksum is the caller's. Toward
 * the broker it keeps the segment's ACK; toward the client it carries none.
 */
static __always_inline void kg_rst_fields(struct tcphdr *tcp, __u32 rst_seq, bool to_client)
{
	tcp->doff = sizeof(*tcp) / 4;
	/* the receiver's next expected byte: a RST elsewhere in the window is ignored */
	tcp->seq = bpf_htonl(rst_seq);
	tcp->rst = 1;
	tcp->ack = !to_client;
	if (to_client)
		tcp->ack_seq = 0;
	/* no other flag, no window, no urgent data; the checksum is the caller's */
	tcp->psh = tcp->syn = tcp->fin = tcp->urg = 0;
	tcp->window = tcp->urg_ptr = tcp->check = 0;
}

/*
 * The IPv4 header of a RST (one without options: the caller checks), its checksum
 * made. Returns the sum of the pseudo header's addresses.
 */
static __always_inline __u32 kg_rst_ip4(struct iphdr *ip, bool to_client)
{
	if (to_client) {
		kg_swap(&ip->saddr, &ip->daddr, sizeof(ip->saddr));
		ip->ttl = KG_RST_TTL;
	}
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(struct tcphdr));
	ip->check = 0;
	ip->check = ~csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
	return bpf_csum_diff(0, 0, (__be32 *)&ip->saddr, 2 * sizeof(ip->saddr), 0);
}

/* The IPv6 header of a RST. Returns the sum of the pseudo header's addresses. */
static __always_inline __u32 kg_rst_ip6(struct ipv6hdr *ip6, bool to_client)
{
	if (to_client) {
		kg_swap(&ip6->saddr, &ip6->daddr, sizeof(ip6->saddr));
		ip6->hop_limit = KG_RST_TTL;
	}
	ip6->payload_len = bpf_htons(sizeof(struct tcphdr));
	return bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 2 * sizeof(ip6->saddr), 0);
}

/* The RST's TCP checksum, over the pseudo header whose addresses sum to sum. */
static __always_inline void kg_rst_tcp_csum(struct tcphdr *tcp, __u32 sum)
{
	sum = kg_csum_pseudo_tail(sum, sizeof(*tcp));
	sum = bpf_csum_diff(0, 0, (__be32 *)tcp, sizeof(*tcp), sum);
	tcp->check = ~csum_fold(sum);
}

#endif /* KGATE_RST_H */
