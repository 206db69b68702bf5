/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The XDP hook of the client->broker datapath (kgate_xdp.bpf.c): everything the
 * datapath does its own way at XDP, under the names ctx_skb.h defines for TC ingress.
 * The shared headers (ingress.h and what it includes) use only these names and never
 * ask which hook they run in.
 *
 * First the context: its type, how bytes are read, the verdicts. Then the layer that
 * reads packets through it, the same on both hooks (the decoder's window, the header
 * parser, checksums, the RST's fields). Last what XDP writes its own way: bytes
 * rewritten in place with their checksum, the RST, the bounce and the quarantine.
 */
#ifndef KGATE_CTX_XDP_H
#define KGATE_CTX_XDP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- the context ------------------------------------------------------------ */

#define KG_CTX struct xdp_md
#define KG_V_PASS XDP_PASS
#define KG_V_DROP XDP_DROP

/* kg_ctx_load(ctx, off, dst, len): len bytes at packet offset off to dst, across fragments. */
#define kg_ctx_load bpf_xdp_load_bytes

/*
 * The length of a GRO aggregate whose IP length field is 0 (BIG TCP). XDP runs
 * before GRO: a frame is never an aggregate, and its IP length field is its length.
 */
static __always_inline __u32 kg_ctx_gro_len(KG_CTX *ctx)
{
	return 0;
}

/* ---- reading the packet: the same on both hooks ---------------------------- */

#include "window.h"
#include "parse.h"
#include "checksum.h"
#include "rst.h"

/* ---- writing it: XDP's own ways -------------------------------------------- */

/* [0]: the quarantine interface for redirect (XDP only: a devmap belongs to XDP). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	KG_PIN;
} kg_redirect SEC(".maps");

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

	if (kg_ctx_load(ctx, tcp_off + offsetof(struct tcphdr, check), &check, 2))
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
	bpf_xdp_store_bytes(ctx, tcp_off + offsetof(struct tcphdr, check), &check, 2);
}

/* Writes n (1..16) bytes of val at off in place; the TCP checksum follows. 0, or -1. */
static __always_inline int kg_ctx_patch(KG_CTX *ctx, __u32 tcp_off, __u32 off, const __u8 *val,
					const __u32 n)
{
	__u8 old[16];

	if (kg_ctx_load(ctx, off, old, n) || bpf_xdp_store_bytes(ctx, off, (void *)val, n))
		return -1;
	kg_csum_bytes(ctx, tcp_off, off, old, val, n);
	return 0;
}

/*
 * Turns the current segment into a RST, in place: toward the broker (same addresses,
 * ports and sequence number rst_seq) or, to_client, back toward the client. No
 * payload, checksums recomputed. 0, or -1 when it cannot (the caller drops instead).
 */
__attribute__((noinline)) int kg_to_rst(KG_CTX *ctx, struct kg_pkt *p, __u32 rst_seq,
					__u32 to_client)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct tcphdr *tcp;
	__u32 sum, toff, loff, len;
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
	/* headers sit well inside the first 256 bytes (kg_parse); the clamps tell the verifier */
	KD_CLAMP(toff, 255);
	KD_CLAMP(loff, 63);
	tcp = data + toff;
	eth = data;
	if ((void *)(tcp + 1) > data_end || (void *)(eth + 1) > data_end)
		return -1;
	if (to_client) {
		if (!tcp->ack)
			return -1;
		rst_seq = kg_rst_turn(eth, tcp);
	}
	kg_rst_fields(tcp, rst_seq, to_client);
	if (p->family == 4) {
		struct iphdr *ip = data + loff;

		if ((void *)(ip + 1) > data_end)
			return -1;
		if (ip->ihl != sizeof(*ip) / 4)
			return -1; /* with IP options: dropped instead (the flow is reset anyway) */
		sum = kg_rst_ip4(ip, to_client);
	} else {
		struct ipv6hdr *ip6 = data + loff;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		sum = kg_rst_ip6(ip6, to_client);
	}
	kg_rst_tcp_csum(tcp, sum);
	return 0;
}

/*
 * The packet out of the interface it came in on, as a redirect rather than XDP_TX: a
 * veth whose peer runs no XDP program takes XDP_TX frames but never flushes them to
 * the peer.
 */
static __always_inline int kg_bounce(KG_CTX *ctx)
{
	return bpf_redirect(ctx->ingress_ifindex, 0);
}

/* To the quarantine interface, through the kg_redirect devmap; without one: dropped. */
static __always_inline int kg_quarantine(__u32 gen)
{
	return bpf_redirect_map(&kg_redirect, 0, XDP_DROP);
}

#endif /* KGATE_CTX_XDP_H */
