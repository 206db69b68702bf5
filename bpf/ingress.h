/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client->broker enforcement on the broker-facing interface, one source for two hooks:
 * XDP (kgate_xdp.bpf.c) and, for interfaces without XDP, TC ingress (kgate_tci.bpf.c).
 * A hook's translation unit includes its context first (ctx_xdp.h or ctx_skb.h: what
 * differs between the hooks, under one set of names), then this file; nothing below
 * asks which hook it runs in.
 *
 * The story of a packet, kg_ingress: its headers are parsed (parse.h); anything that
 * is not TCP to a listener port of the active policy passes after a few instructions.
 * Control segments (RST, SYN) end or start the connection's flow (flow.h); a SYN may
 * send the whole connection to quarantine. Data is normalized in order (retx.h: bytes
 * already decided must come again as they were), run through the Kafka stream decoder
 * (request.h, through the window of window.h), each topic decided against the active
 * policy generation (decide.h) and the decision applied in place (enforce.h), the
 * packet's decisions sent as one event record (events.h). Its outcome becomes the
 * verdict: pass, drop, or a RST toward the broker.
 */
#ifndef KGATE_INGRESS_H
#define KGATE_INGRESS_H

#include "flow.h"
#include "request.h"

/* The listener index of the active policy the segment is for, or -1 (it passes). */
static __always_inline int kg_listener(const struct kg_flow_key *fk, __u32 *epoch)
{
	__u32 zero = 0, port_key, *active = bpf_map_lookup_elem(&kg_active, &zero);
	__u8 *lst;

	if (!active)
		return -1;
	*epoch = *active;
	port_key = (*epoch & 1) * 65536 + bpf_ntohs(fk->dport);
	lst = bpf_map_lookup_elem(&kg_ports, &port_key);
	if (!lst || !*lst)
		return -1;
	kg_count(KG_C_LISTENER_PACKETS);
	return (*lst - 1) & (KG_MAX_LISTENERS - 1);
}

/*
 * A RST passes. Only one at exactly the next sequence number ends the connection
 * (RFC 5961; Linux answers others with a challenge ACK), and only one with a valid
 * checksum (the broker drops any other): only that one ends the flow's state.
 */
static __always_inline int kg_on_rst(KG_CTX *ctx, struct kg_pkt *p, struct kg_flow *f,
				     struct kg_flow_key *fk)
{
	if (f && p->seq == f->next_seq && !p->payload_len &&
	    kg_tcp_csum_ok(ctx, p->l3_off, p->tcp_off, p->payload_off - p->tcp_off, p->family))
		bpf_map_delete_elem(&kg_flows, fk);
	return KG_V_PASS;
}

/*
 * Segments whose bytes the broker would read otherwise than the decoder: urgent data
 * (a receiver without SO_OOBINLINE, the broker, removes the urgent byte from the
 * stream), and data on a SYN (TCP Fast Open: whether the broker takes it depends on a
 * connection state kgate cannot see yet; the client sends it again without the SYN).
 */
static __always_inline bool kg_unreadable(const struct kg_pkt *p)
{
	return (p->urg || p->syn) && p->payload_len;
}

/*
 * A SYN. One for a connection the broker still holds is not a new connection: Linux
 * answers it with a challenge ACK and keeps the connection (RFC 5961), so kgate keeps
 * its state too (starting over would let the next bytes be read from a false frame
 * boundary). It passes, for the challenge ACK that lets a client that lost the
 * connection reset it. Only after the broker closed its side (FIN or RST, seen by TC
 * egress), or after a valid RST from the client removed the flow, does a SYN start a
 * new flow; its first decision is the connection's (redirect to quarantine).
 */
static __always_inline int kg_on_syn(struct kg_pkt *p, struct kg_flow *f,
				     struct kg_flow_key *fk, struct kg_scratch *sc, __u32 epoch,
				     __u32 listener)
{
	__u32 gen = epoch & 1;

	if (f && !f->rclosed) {
		kg_count(KG_C_SYNS_ON_OPEN_FLOWS);
		return (f->flags & KG_FLOW_DROP) ? KG_V_DROP : KG_V_PASS;
	}
	/*
	 * Its data is decoded once the broker answered this SYN (TC egress sees the
	 * SYN-ACK): a SYN the broker ignores, for a connection it still holds that kgate
	 * had forgotten (evicted), must not start the decoder at a false frame boundary.
	 */
	f = kg_new_flow(fk, epoch, sc, listener, p->seq + 1,
			KG_FLOW_SEQ_KNOWN | KG_FLOW_SYNACK_WAIT);
	if (!f)
		return KG_V_PASS; /* no room: its data will start a mid-stream flow */
	f->isn = p->seq;
	/* Without a quarantine interface configured, the connection is dropped. */
	return kg_syn_apply(f, gen) ? kg_quarantine(gen) : KG_V_PASS;
}

/*
 * A segment of a flow that was reset or black-holed. After a reset the broker's side
 * is gone; the client learns it when it sends again (its retransmission of the segment
 * that was reset, at the latest): that segment goes back to it as a RST.
 */
static __always_inline int kg_on_closed(KG_CTX *ctx, struct kg_pkt *p, struct kg_flow *f)
{
	if ((f->flags & KG_FLOW_RESET) && !kg_to_rst(ctx, p, 0, true)) {
		kg_count(KG_C_CLIENT_RESETS);
		return kg_bounce(ctx);
	}
	kg_count(KG_C_FLOW_DROPPED_PKTS);
	return KG_V_DROP;
}

/*
 * The common case inside a record batch: n bytes the decoder would only skip by length.
 * If so, they are accounted for without running it (true).
 */
static __always_inline bool kg_skip(struct kg_flow *f, const struct kg_pkt *p, __u32 n)
{
	if (f->dec.skip < n || f->dec.phase == KD_PH_DEAD || f->dec.phase == KD_PH_SIZE)
		return false;
	f->dec.skip -= n;
	f->dec.frame_rem -= n;
	f->bytes += p->payload_len;
	f->next_seq = p->seq + p->payload_len;
	return true;
}

/* The packet's verdict from its outcome: a reset sends it on as a RST (at rst_seq). */
static __always_inline int kg_verdict(KG_CTX *ctx, struct kg_pkt *p, __u8 outcome, __u32 rst_seq)
{
	if (outcome == KG_OUT_DROP)
		return KG_V_DROP;
	if (outcome == KG_OUT_RESET)
		return kg_to_rst(ctx, p, rst_seq, false) ? KG_V_DROP : KG_V_PASS;
	return KG_V_PASS;
}

/*
 * New bytes of a flow whose decoding ended and which was let through (on_undecodable:
 * allow, or monitor mode). If the policy now in force says otherwise, it applies now.
 */
static __always_inline int kg_on_dead(KG_CTX *ctx, struct kg_pkt *p, struct kg_flow *f,
				      __u32 gen)
{
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);
	__u32 rst_seq = f->next_seq;
	__u8 outcome;

	if (cfg && cfg->mode != KG_MODE_MONITOR &&
	    cfg->on_undecodable[f->listener & (KG_MAX_LISTENERS - 1)] != KG_ACT_ALLOW) {
		f->flags &= ~KG_FLOW_DEAD;
		outcome = kg_undecodable(f, gen);
		if (outcome != KG_OUT_PASS)
			return kg_verdict(ctx, p, outcome, rst_seq);
	}
	f->next_seq = p->seq + p->payload_len;
	return KG_V_PASS;
}

/* The hook's entry: one packet, its verdict (KG_V_PASS, KG_V_DROP or a redirect). */
static __always_inline int kg_ingress(KG_CTX *ctx)
{
	struct kg_pkt p = {};
	struct kg_flow_key *fk;
	struct kg_scratch *sc;
	struct kd_src *src;
	struct kg_flow *f;
	__u32 zero = 0, epoch = 0, rst_seq;
	int listener, r;

	/* 1. Its headers: not TCP passes; TCP that cannot be read is dropped. */
	kg_count(KG_C_PACKETS);
	sc = bpf_map_lookup_elem(&kg_scratch, &zero);
	if (!sc)
		return KG_V_PASS;
	fk = (struct kg_flow_key *)&sc->hdr;
	__builtin_memset(fk, 0, sizeof(*fk));
	r = kg_parse(ctx, &p, fk);
	if (r == KG_PARSE_OTHER)
		return KG_V_PASS;
	if (r == KG_PARSE_UNREADABLE) {
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP; /* TCP in fragments, or headers we do not walk */
	}

	/* 2. For a listener of the active policy? Anything else passes: the fast path. */
	listener = kg_listener(fk, &epoch);
	if (listener < 0)
		return KG_V_PASS;

	/* 3. Control segments start and end flows. */
	f = bpf_map_lookup_elem(&kg_flows, fk);
	if (p.rst)
		return kg_on_rst(ctx, &p, f, fk);
	if (kg_unreadable(&p)) {
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP;
	}
	if (p.syn)
		return kg_on_syn(&p, f, fk, sc, epoch, listener);
	if (f && (f->flags & KG_FLOW_REDIRECT))
		return kg_quarantine(epoch & 1);
	if (!p.payload_len)
		return f && (f->flags & KG_FLOW_DROP) ? KG_V_DROP : KG_V_PASS;

	/* 4. Data: its flow, as the broker follows it and under the policy now active. */
	if (!f) {
		/* first seen mid-stream: frame boundaries are unknown */
		f = kg_new_flow(fk, epoch, sc, listener, p.seq,
				KG_FLOW_SEQ_KNOWN | KG_FLOW_MIDSTREAM);
		if (!f)
			return KG_V_DROP;
		kd_fail(&f->dec, KD_ERR_MIDSTREAM);
	}
	if (f->flags & (KG_FLOW_RESET | KG_FLOW_DROP))
		return kg_on_closed(ctx, &p, f);
	if (f->flags & KG_FLOW_SYNACK_WAIT) {
		/* data before the broker answered the SYN: not the connection kgate follows */
		if (!f->rsynack) {
			kg_count(KG_C_UNCONFIRMED_DROPS);
			return KG_V_DROP;
		}
		f->flags &= ~KG_FLOW_SYNACK_WAIT;
	}
	kg_flow_retake(f, sc, epoch, listener);
	if (p.seq == f->next_seq && !(f->flags & KG_FLOW_DEAD) && kg_skip(f, &p, p.payload_len))
		return KG_V_PASS;

	/* 5. Its bytes in order: new ones go on, old ones must be as they were. */
	f->ts_pkt = 0;
	src = kg_window_open(p.payload_off, p.payload_off + p.payload_len);
	if (!src)
		return KG_V_DROP;
	switch (kg_in_order(ctx, f, &p, src)) {
	case KG_SEQ_DROP:
		return KG_V_DROP;
	case KG_SEQ_OLD:
		return KG_V_PASS;
	case KG_SEQ_NEW:
		break;
	}
	if (f->flags & KG_FLOW_DEAD)
		return kg_on_dead(ctx, &p, f, epoch & 1);
	/* the same after old bytes were checked (an overlap): the new bytes are skipped */
	if (kg_skip(f, &p, src->end - src->off))
		return KG_V_PASS;

	/* 6. Decode, decide, enforce; the outcome is the verdict. */
	rst_seq = f->next_seq; /* the first byte the broker has not received */
	return kg_verdict(ctx, &p, kg_decode(ctx, &p, f, sc, src, epoch), rst_seq);
}

#endif /* KGATE_INGRESS_H */
