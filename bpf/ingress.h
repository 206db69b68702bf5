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
 * A RST passes. Only one at exactly the broker's next expected byte ends the connection
 * (RFC 5961; Linux answers others with a challenge ACK; with holes, that byte is before
 * next_seq), and only one with a valid checksum (the broker drops any other): only that
 * one ends the flow's state. One at the
 * SYN's next sequence number ends a handshake; any valid one ends a stray.
 */
static __always_inline int kg_on_rst(KG_CTX *ctx, struct kg_pkt *p, struct kg_conn *cn,
				     struct kg_flow_key *fk)
{
	struct kg_flow *f = NULL;
	struct kg_syn *sy;
	__u32 slot;

	if (cn && (kg_own_read(cn) & KG_OWN_SLOT)) {
		/* a slot with holes is held (not idle): read without counting in */
		slot = kg_own_slot(kg_own_read(cn));
		f = bpf_map_lookup_elem(&kg_pool, &slot);
	}
	if (p->payload_len || (cn && p->seq != kg_rcv_next(cn, f)) ||
	    !kg_tcp_csum_ok(ctx, p->l3_off, p->tcp_off, p->payload_off - p->tcp_off, p->family))
		return KG_V_PASS;
	if (cn) {
		kg_conn_end(cn, fk);
		return KG_V_PASS;
	}
	sy = bpf_map_lookup_elem(&kg_syns, fk);
	if (sy && p->seq == sy->isn + 1)
		bpf_map_delete_elem(&kg_syns, fk);
	bpf_map_delete_elem(&kg_flow_strays, fk);
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
 * egress), or after a valid RST from the client ended the flow, does a SYN start a new
 * handshake; its first decision is the connection's (redirect to quarantine). A
 * handshake lives in kg_syns, apart from established connections: no number of SYNs
 * can push one of those out. kg_syn_new: a SYN that starts a handshake (a global function,
 * off the stack of the hot path).
 */
__attribute__((noinline)) int kg_syn_new(struct kg_pkt *p, struct kg_scratch *sc)
{
	struct kg_syn sy = {}, *old;
	struct kg_stray st = { .flags = KG_FLOW_REDIRECT };
	struct kg_flow_key *fk;
	struct kg_flow *t;
	__u32 gen;

	if (!p || !sc)
		return KG_V_PASS;
	fk = (struct kg_flow_key *)&sc->hdr;
	gen = sc->epoch & 1;
	bpf_map_delete_elem(&kg_flow_strays, fk);
	t = kg_tmp_flow(fk, sc, sc->epoch, sc->listener);
	if (!t)
		return KG_V_PASS;
	/* Without a quarantine interface configured, the connection is dropped. */
	if (kg_syn_apply(t, gen)) {
		st.listener = sc->listener;
		bpf_map_update_elem(&kg_flow_strays, fk, &st, BPF_ANY);
		return kg_quarantine(gen);
	}
	/*
	 * A retransmitted SYN keeps what TC egress learned of the broker's answer; so does
	 * one with another sequence number while the broker holds the answered handshake
	 * (KG_SYN_KEEP_S): a spoofed SYN cannot take its place.
	 */
	old = bpf_map_lookup_elem(&kg_syns, fk);
	if (old && (old->isn == p->seq || ((old->flags & KG_SYN_ANSWERED) &&
					   kg_now() - old->born <= KG_SYN_KEEP_S)))
		return KG_V_PASS;
	sy.isn = p->seq;
	sy.born = kg_now();
	bpf_map_update_elem(&kg_syns, fk, &sy, BPF_ANY);
	kg_count(KG_C_HANDSHAKES);
	return KG_V_PASS;
}

static __always_inline int kg_on_syn(struct kg_pkt *p, struct kg_conn *cn,
				     struct kg_flow_key *fk, struct kg_scratch *sc)
{
	if (cn && !cn->rclosed) {
		kg_count(KG_C_SYNS_ON_OPEN_FLOWS);
		return (cn->flags & KG_FLOW_DROP) ? KG_V_DROP : KG_V_PASS;
	}
	if (cn)
		kg_conn_end(cn, fk);
	return kg_syn_new(p, sc);
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
 * The listener's on_undecodable action, for a connection whose decoding ended without a
 * slot (mid-stream, or a stray passed undecided that the policy now in force does not
 * allow): reported as flow t (kg_tmp_flow), its stray state becomes t's flags.
 */
static __always_inline int kg_stray_undecodable(KG_CTX *ctx, struct kg_pkt *p,
						struct kg_flow_key *fk, struct kg_flow *t,
						__u32 gen)
{
	struct kg_stray st = { .listener = t->listener };
	__u8 outcome;

	kd_fatal(&t->dec, KD_ERR_MIDSTREAM);
	outcome = kg_undecodable(t, gen);
	st.flags = t->flags | KG_FLOW_MIDSTREAM;
	bpf_map_update_elem(&kg_flow_strays, fk, &st, BPF_ANY);
	return kg_verdict(ctx, p, outcome, p->seq);
}

/*
 * A stray's segment: redirected ones to quarantine; after a reset, the client's segment
 * goes back to it as a RST; black-holed ones are dropped; one passed undecided passes
 * while the policy in force still says so (else its on_undecodable applies now).
 */
static __always_inline int kg_on_stray(KG_CTX *ctx, struct kg_pkt *p, struct kg_stray *st,
				       struct kg_flow_key *fk, struct kg_scratch *sc)
{
	__u32 epoch = sc->epoch, listener = sc->listener, gen = epoch & 1;
	struct kg_config *cfg;
	struct kg_flow *t;

	if (st->stalled) {
		/*
		 * Ended by the sweep holding a slot without progress (KG_SLOT_STALL_S): this
		 * segment, whatever it is, resets the broker's side at its next expected byte.
		 */
		st->stalled = 0;
		kg_limit_event(fk, sc, epoch, listener, KG_LIMIT_STALLED);
		return kg_to_rst(ctx, p, st->rst_seq, false) ? KG_V_DROP : KG_V_PASS;
	}
	if (st->flags & KG_FLOW_REDIRECT)
		return kg_quarantine(gen);
	if (st->flags & KG_FLOW_DROP) {
		kg_count(KG_C_FLOW_DROPPED_PKTS);
		return KG_V_DROP;
	}
	if (!p->payload_len)
		return KG_V_PASS;
	if (st->flags & KG_FLOW_RESET) {
		if (!kg_to_rst(ctx, p, 0, true)) {
			kg_count(KG_C_CLIENT_RESETS);
			return kg_bounce(ctx);
		}
		kg_count(KG_C_FLOW_DROPPED_PKTS);
		return KG_V_DROP;
	}
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg || cfg->mode == KG_MODE_MONITOR ||
	    cfg->on_undecodable[listener & (KG_MAX_LISTENERS - 1)] == KG_ACT_ALLOW)
		return KG_V_PASS;
	t = kg_tmp_flow(fk, sc, epoch, listener);
	return t ? kg_stray_undecodable(ctx, p, fk, t, gen) : KG_V_DROP;
}

/*
 * A segment of a connection kg_flows does not hold. A stray's goes its way. A handshake
 * in kg_syns completes when the client acknowledges the broker's SYN-ACK to its SYN (seen
 * by TC egress) at the SYN's next sequence number: then it is established (the verdict
 * KG_V_ESTABLISHED: the caller goes on with its entry in kg_flows). Spoofed
 * SYNs get SYN-ACKs too (SYN cookies), but their senders never see them: they cannot
 * complete a handshake, so they never reach kg_flows. Data of a handshake not yet
 * answered is dropped; data of a connection kgate never saw start is mid-stream.
 */
/* kg_unknown's verdict for a handshake just completed: the connection is established. */
#define KG_V_ESTABLISHED 0x4b47 /* no verdict of either hook */

__attribute__((noinline)) int kg_unknown(KG_CTX *ctx, struct kg_pkt *p, struct kg_scratch *sc)
{
	struct kg_flow_key *fk;
	struct kg_stray *st;
	struct kg_syn *sy;
	struct kg_flow *t;
	__u32 epoch, listener;

	if (!p || !sc)
		return KG_V_DROP;
	fk = (struct kg_flow_key *)&sc->hdr;
	epoch = sc->epoch;
	listener = sc->listener;
	st = bpf_map_lookup_elem(&kg_flow_strays, fk);
	if (st)
		return kg_on_stray(ctx, p, st, fk, sc);
	sy = bpf_map_lookup_elem(&kg_syns, fk);
	if (sy) {
		if (sy->flags & KG_SYN_REFUSED) {
			/* kg_flows was full at its handshake: the client learns it now */
			bpf_map_delete_elem(&kg_syns, fk);
			return kg_to_rst(ctx, p, 0, true) ? KG_V_DROP : kg_bounce(ctx);
		}
		if (!(sy->flags & KG_SYN_ANSWERED) || !p->ack || p->ack_seq != sy->sisn + 1 ||
		    p->seq != sy->isn + 1) {
			if (!p->payload_len)
				return KG_V_PASS;
			/* not (yet) the connection whose SYN the broker answered */
			kg_count(KG_C_UNCONFIRMED_DROPS);
			return KG_V_DROP;
		}
		if (kg_conn_new(fk, sy, sc, epoch, listener)) {
			bpf_map_delete_elem(&kg_syns, fk);
			return KG_V_ESTABLISHED;
		}
		/* no room: the broker's half of it is reset now, the client's at its next */
		kg_count(KG_C_FLOW_TABLE_FULL);
		kg_limit_event(fk, sc, epoch, listener, KG_LIMIT_FLOWS);
		sy->flags |= KG_SYN_REFUSED;
		return kg_to_rst(ctx, p, p->seq, false) ? KG_V_DROP : KG_V_PASS;
	}
	if (!p->payload_len)
		return KG_V_PASS;
	/* first seen mid-stream: frame boundaries are unknown */
	t = kg_tmp_flow(fk, sc, epoch, listener);
	return t ? kg_stray_undecodable(ctx, p, fk, t, epoch & 1) : KG_V_DROP;
}

/*
 * A segment of a flow that was reset or black-holed. After a reset the broker's side
 * is gone; the client learns it when it sends again (its retransmission of the segment
 * that was reset, at the latest): that segment goes back to it as a RST, and the
 * connection becomes a stray (what comes after is bounced the same way).
 */
__attribute__((noinline)) int kg_on_closed(KG_CTX *ctx, struct kg_pkt *p, struct kg_conn *cn,
					  struct kg_scratch *sc)
{
	struct kg_stray st = { .flags = KG_FLOW_RESET };
	struct kg_flow_key *fk;

	if (!p || !cn || !sc)
		return KG_V_DROP;
	fk = (struct kg_flow_key *)&sc->hdr;
	st.listener = cn->listener;

	if ((cn->flags & KG_FLOW_RESET) && !kg_to_rst(ctx, p, 0, true)) {
		kg_count(KG_C_CLIENT_RESETS);
		bpf_map_update_elem(&kg_flow_strays, fk, &st, BPF_ANY);
		kg_conn_end(cn, fk);
		return kg_bounce(ctx);
	}
	kg_count(KG_C_FLOW_DROPPED_PKTS);
	return KG_V_DROP;
}

/*
 * The common case inside a record batch: n bytes the decoder would only skip by length,
 * the last of them not the skip's last (the decoder then runs, so a frame's end is seen
 * with its last byte). If so, they are accounted for without running it (true).
 */
static __always_inline bool kg_skip(struct kg_conn *cn, struct kg_flow *f,
				    const struct kg_pkt *p, __u32 n)
{
	if (f->dec.skip <= n || f->dec.phase == KD_PH_DEAD || f->dec.phase == KD_PH_SIZE)
		return false;
	/* one that reaches a probe segment is decoded (kg_decode checks the probe) */
	if (f->probe && (__s32)(p->seq + p->payload_len - f->probe_seq) >= 0)
		return false;
	f->dec.skip -= n;
	f->dec.frame_rem -= n;
	cn->bytes += n;
	cn->next_seq = p->seq + p->payload_len;
	return true;
}

/*
 * kg_skip for the next in-order segment, through the slot the connection holds, without
 * the rest of a use (a slot inside a skip is not idle: nothing to give back). Counted in
 * on the slot all the same: the connection may end meanwhile (the agent's sweep, a RST
 * the broker sent), and its slot goes back to the pool only when its last user leaves,
 * so the decoder written here is still this connection's.
 */
static __always_inline bool kg_skip_fast(struct kg_conn *cn, struct kg_flow_key *fk,
					 const struct kg_pkt *p)
{
	__u64 own = kg_own_read(cn);
	struct kg_flow *f;
	bool done = false;
	__u32 slot;

	if (!(own & KG_OWN_SLOT) || (own & KG_OWN_DYING) || p->fin)
		return false;
	own = __sync_fetch_and_add(&cn->own, KG_OWN_USER | KG_OWN_VER);
	if ((own & KG_OWN_SLOT) && !(own & KG_OWN_DYING)) {
		slot = kg_own_slot(own);
		f = bpf_map_lookup_elem(&kg_pool, &slot);
		done = f && kg_skip(cn, f, p, p->payload_len);
	}
	kg_own_out(cn, fk);
	return done;
}

/*
 * New bytes of a flow whose decoding ended and which was let through (on_undecodable:
 * allow, or monitor mode): they pass, undecided, without a slot. If the policy now in
 * force says otherwise, it applies now.
 */
__attribute__((noinline)) int kg_on_dead(KG_CTX *ctx, struct kg_pkt *p, struct kg_conn *cn,
					struct kg_scratch *sc)
{
	struct kg_config *cfg;
	struct kg_flow_key *fk;
	__u32 gen, epoch, rst_seq;
	struct kg_flow *t;
	__u8 outcome;

	if (!p || !cn || !sc)
		return KG_V_DROP;
	fk = (struct kg_flow_key *)&sc->hdr;
	epoch = sc->epoch;
	gen = epoch & 1;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	rst_seq = cn->next_seq;

	if (cfg && cfg->mode != KG_MODE_MONITOR &&
	    cfg->on_undecodable[cn->listener & (KG_MAX_LISTENERS - 1)] != KG_ACT_ALLOW) {
		t = kg_tmp_flow(fk, sc, epoch, cn->listener);
		if (!t)
			return KG_V_DROP;
		t->principal_id = cn->principal_id;
		t->principal_src = cn->principal_src;
		t->region_id = cn->region_id;
		kd_fatal(&t->dec, cn->dead_reason);
		outcome = kg_undecodable(t, gen);
		cn->flags = (cn->flags & ~KG_FLOW_DEAD) | t->flags;
		if (outcome != KG_OUT_PASS)
			return kg_verdict(ctx, p, outcome, rst_seq);
	}
	if ((__s32)(p->seq + p->payload_len - cn->next_seq) > 0)
		cn->next_seq = p->seq + p->payload_len;
	return KG_V_PASS;
}

/*
 * Data that needs the flow's slot: its bytes in order (new ones go on, old ones must be
 * as they were, ahead ones only inside a skip), decoded, decided, enforced.
 */
static __always_inline int kg_data(KG_CTX *ctx, struct kg_pkt *p, struct kg_conn *cn,
				   struct kg_flow *f, struct kg_scratch *sc, __u32 epoch,
				   __u32 listener)
{
	struct kd_src *src;
	__u32 rst_seq;

	f->flags = cn->flags; /* XDP's own field: the entry's copy is the one to start from */
	kg_flow_retake(f, sc, epoch, listener);
	f->ts_pkt = 0;
	if (f->principal_opaque == KG_PRINCIPAL_LOST) {
		/* a SASL user whose name kgate could not keep: reset (KG_MAX_SASL_FLOWS) */
		kg_limit_event(&f->key, sc, epoch, listener, KG_LIMIT_PRINCIPALS);
		f->flags |= KG_FLOW_RESET;
		return kg_verdict(ctx, p, KG_OUT_RESET, kg_rcv_next(cn, f));
	}
	src = kg_window_open(p->payload_off, p->payload_off + p->payload_len);
	if (!src)
		return KG_V_DROP;
	switch (kg_in_order(ctx, cn, f, p, src)) {
	case KG_SEQ_DROP:
		return KG_V_DROP;
	case KG_SEQ_OLD:
	case KG_SEQ_AHEAD:
		return KG_V_PASS;
	case KG_SEQ_PROBE:
		f->probe = 1;
		f->probe_seq = p->seq;
		f->probe_end = p->seq + p->payload_len;
		kg_count(KG_C_AHEAD_PROBES);
		return KG_V_PASS;
	case KG_SEQ_NEW:
		break;
	}
	/* the same after old bytes were checked (an overlap): the new bytes are skipped */
	if (kg_skip(cn, f, p, src->end - src->off))
		return KG_V_PASS;
	/* decode, decide, enforce; the outcome is the verdict */
	rst_seq = kg_rcv_next(cn, f); /* the first byte the broker has not received */
	return kg_verdict(ctx, p, kg_decode(ctx, p, cn, f, sc, src, epoch), rst_seq);
}

/*
 * A client segment on an established connection. Pure acknowledgments move what the
 * client acknowledged (and may let an idle slot go back); a FIN both ways ends it.
 */
static __always_inline int kg_on_ack(struct kg_pkt *p, struct kg_conn *cn,
				     struct kg_flow_key *fk)
{
	struct kg_flow *f;
	__u32 why;
	__u64 own;

	if (cn->flags & KG_FLOW_DROP)
		return KG_V_DROP;
	if (p->fin && p->seq == cn->next_seq)
		cn->cfin = 1;
	if (cn->cfin && cn->rclosed) {
		kg_conn_end(cn, fk);
		return KG_V_PASS;
	}
	own = kg_own_read(cn);
	if (cn->give_hint && (own & KG_OWN_SLOT) && !(own & KG_OWN_USERS) &&
	    (__s32)(cn->rack - cn->rnext_seq) >= 0) {
		f = kg_flow_get(cn, fk, &why);
		if (f)
			kg_flow_put(cn, f, fk, 1);
	}
	return KG_V_PASS;
}

static __always_inline int kg_established(KG_CTX *ctx, struct kg_pkt *p, struct kg_conn *cn,
					  struct kg_flow_key *fk, struct kg_scratch *sc,
					  __u32 epoch, __u32 listener)
{
	__u32 why, end = p->seq + p->payload_len, from = cn->next_seq, now;
	struct kg_flow *f;
	int v;

	now = kg_conn_seen(cn);
	if (cn->rclosed == KG_RCLOSED_RST) {
		/* the broker reset it: what comes now belongs to no connection it holds */
		kg_conn_end(cn, fk);
		return p->payload_len ? kg_unknown(ctx, p, sc) : KG_V_PASS;
	}
	if (p->ack && (__s32)(p->ack_seq - cn->rack) > 0) {
		cn->rack = p->ack_seq; /* answer bytes acknowledged: progress */
		kg_conn_progress(cn, now);
	}
	if (!p->payload_len)
		return kg_on_ack(p, cn, fk);
	if (cn->flags & (KG_FLOW_RESET | KG_FLOW_DROP))
		return kg_on_closed(ctx, p, cn, sc);
	/*
	 * One data segment of a connection at a time (KG_OWN_INGRESS): what follows moves its
	 * decoder and next_seq. Cleared before the slot is put back, since a put may remove
	 * the entry (the connection ended meanwhile); until then the entry is ours to clear.
	 */
	if (__sync_fetch_and_or(&cn->own, KG_OWN_INGRESS) & KG_OWN_INGRESS) {
		kg_count(KG_C_INGRESS_BUSY);
		return KG_V_DROP;
	}
	if (cn->flags & KG_FLOW_DEAD) {
		v = kg_on_dead(ctx, p, cn, sc);
		__sync_fetch_and_and(&cn->own, ~KG_OWN_INGRESS);
		return v;
	}
	if (p->seq == cn->next_seq && kg_skip_fast(cn, fk, p)) {
		kg_conn_progress(cn, now);
		__sync_fetch_and_and(&cn->own, ~KG_OWN_INGRESS);
		return KG_V_PASS;
	}
	f = kg_flow_get(cn, fk, &why);
	if (!f) {
		__sync_fetch_and_and(&cn->own, ~KG_OWN_INGRESS);
		/* the client retransmits it: nothing undecided passes */
		if (why == KG_GET_POOL) {
			kg_count(KG_C_POOL_EXHAUSTED);
			kg_limit_event(fk, sc, epoch, listener, KG_LIMIT_POOL);
		} else if (why == KG_GET_QUOTA) {
			kg_count(KG_C_SRC_QUOTA);
			kg_limit_event(fk, sc, epoch, listener, KG_LIMIT_SOURCE);
		}
		return KG_V_DROP;
	}
	v = kg_data(ctx, p, cn, f, sc, epoch, listener);
	if (cn->next_seq != from)
		kg_conn_progress(cn, now); /* new request bytes passed */
	kg_conn_show(cn, f); /* flags among them: the entry's copy is XDP's to keep current */
	__sync_fetch_and_and(&cn->own, ~KG_OWN_INGRESS);
	kg_flow_put(cn, f, fk, 1);
	if (p->fin && v == KG_V_PASS && cn->next_seq == end) {
		cn->cfin = 1;
		if (cn->rclosed)
			kg_conn_end(cn, fk);
	}
	return v;
}

/* The hook's entry: one packet, its verdict (KG_V_PASS, KG_V_DROP or a redirect). */
static __always_inline int kg_ingress(KG_CTX *ctx)
{
	struct kg_pkt p = {};
	struct kg_flow_key *fk;
	struct kg_scratch *sc;
	struct kg_conn *cn;
	__u32 zero = 0, epoch = 0;
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
	sc->epoch = epoch;
	sc->listener = listener;

	/* 3. Control segments start and end handshakes and connections. */
	cn = bpf_map_lookup_elem(&kg_flows, fk);
	if (cn && (kg_own_read(cn) & KG_OWN_DYING))
		cn = NULL; /* ending: as good as gone */
	if (p.rst)
		return kg_on_rst(ctx, &p, cn, fk);
	if (kg_unreadable(&p)) {
		kg_count(KG_C_UNREADABLE_DROPS);
		return KG_V_DROP;
	}
	if (p.syn)
		return kg_on_syn(&p, cn, fk, sc);
	if (!cn) {
		r = kg_unknown(ctx, &p, sc);
		if (r != KG_V_ESTABLISHED)
			return r;
		cn = bpf_map_lookup_elem(&kg_flows, fk);
		if (!cn)
			return KG_V_DROP;
	}

	/* 4. An established connection's segment, under the policy now active. */
	return kg_established(ctx, &p, cn, fk, sc, epoch, listener);
}

#endif /* KGATE_INGRESS_H */
