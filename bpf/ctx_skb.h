/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TC ingress hook of the client->broker datapath (kgate_tci.bpf.c), for interfaces
 * where XDP cannot attach: everything the datapath does its own way on an skb, under
 * the names ctx_xdp.h defines for XDP. The shared headers (ingress.h and what it
 * includes) use only these names and never ask which hook they run in.
 *
 * First the context: its type, how bytes are read, the verdicts. Then the layer that
 * reads packets through it, the same on both hooks (the decoder's window, the header
 * parser, checksums, the RST's fields). Last what TC writes its own way: bytes stored
 * with bpf_l4_csum_replace (skb_patch.h), the RST built on the stack and stored, the
 * bounce and the quarantine by ifindex.
 */
#ifndef KGATE_CTX_SKB_H
#define KGATE_CTX_SKB_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- the context ------------------------------------------------------------ */

#define KG_CTX struct __sk_buff
#define KG_V_PASS TC_ACT_OK
#define KG_V_DROP TC_ACT_SHOT

/* kg_ctx_load(ctx, off, dst, len): len bytes at packet offset off to dst, linear or not. */
#define kg_ctx_load bpf_skb_load_bytes

/* The length of a GRO aggregate whose IP length field is 0 (BIG TCP): the skb's. */
static __always_inline __u32 kg_ctx_gro_len(KG_CTX *ctx)
{
	return ctx->len;
}

/* ---- reading the packet: the same on both hooks ---------------------------- */

#include "window.h"
#include "parse.h"
#include "checksum.h"
#include "rst.h"
#include "skb_patch.h"

/* ---- writing it: TC's own ways --------------------------------------------- */

/* Writes n (1..16) bytes of val at off; the TCP checksum follows (skb_patch.h). 0, or -1. */
static __always_inline int kg_ctx_patch(KG_CTX *ctx, __u32 tcp_off, __u32 off, const __u8 *val,
					const __u32 n)
{
	return kg_skb_patch(ctx, tcp_off, off, val, n);
}

/*
 * Turns the current segment into a RST: toward the broker (same addresses, ports and
 * sequence number rst_seq) or, to_client, back toward the client. No payload. The
 * headers are built on the stack and stored with BPF_F_RECOMPUTE_CSUM, so skb->csum
 * stays right for CHECKSUM_COMPLETE as well. 0, or -1 when it cannot (the caller
 * drops instead).
 */
__attribute__((noinline)) int kg_to_rst(KG_CTX *ctx, struct kg_pkt *p, __u32 rst_seq,
					__u32 to_client)
{
	struct tcphdr tcp;
	struct ethhdr eth;
	__u32 sum;

	if (!p)
		return -1;
	if (bpf_skb_change_tail(ctx, p->tcp_off + sizeof(tcp), 0))
		return -1;
	if (kg_ctx_load(ctx, p->tcp_off, &tcp, sizeof(tcp)))
		return -1;
	if (to_client) {
		if (!tcp.ack || kg_ctx_load(ctx, 0, &eth, sizeof(eth)))
			return -1;
		rst_seq = kg_rst_turn(&eth, &tcp);
		/* the frame header is not in skb->csum: stored without recomputing it */
		if (bpf_skb_store_bytes(ctx, 0, &eth, sizeof(eth), 0))
			return -1;
	}
	kg_rst_fields(&tcp, rst_seq, to_client);
	if (p->family == 4) {
		struct iphdr ip;

		if (kg_ctx_load(ctx, p->l3_off, &ip, sizeof(ip)))
			return -1;
		if (ip.ihl != sizeof(ip) / 4)
			return -1; /* with IP options: dropped instead (the flow is reset anyway) */
		sum = kg_rst_ip4(&ip, to_client);
		if (bpf_skb_store_bytes(ctx, p->l3_off, &ip, sizeof(ip), BPF_F_RECOMPUTE_CSUM))
			return -1;
	} else {
		struct ipv6hdr ip6;

		if (kg_ctx_load(ctx, p->l3_off, &ip6, sizeof(ip6)))
			return -1;
		sum = kg_rst_ip6(&ip6, to_client);
		if (bpf_skb_store_bytes(ctx, p->l3_off, &ip6, sizeof(ip6), BPF_F_RECOMPUTE_CSUM))
			return -1;
	}
	kg_rst_tcp_csum(&tcp, sum);
	if (bpf_skb_store_bytes(ctx, p->tcp_off, &tcp, sizeof(tcp), BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

/* The packet out of the interface it came in on. */
static __always_inline int kg_bounce(KG_CTX *ctx)
{
	return bpf_redirect(ctx->ifindex, 0);
}

/* To the quarantine interface, by the ifindex in the active config; without one: dropped. */
static __always_inline int kg_quarantine(__u32 gen)
{
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	if (!cfg || !cfg->redirect_ifindex)
		return TC_ACT_SHOT;
	return bpf_redirect(cfg->redirect_ifindex, 0);
}

#endif /* KGATE_CTX_SKB_H */
