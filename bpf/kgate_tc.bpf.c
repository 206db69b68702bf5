// SPDX-License-Identifier: Apache-2.0
/*
 * kgate_tc: broker -> client, TC egress (clsact) on the broker-facing interface.
 *
 * It follows each connection's response stream with the same decoder (response mode)
 * and, for a response to a request in which kgate rejected topics (bpf/kgate_xdp.bpf.c
 * poisoned their names), restores each rejected name as the client sent it and writes
 * the authorization error (TOPIC_AUTHORIZATION_FAILED, or CLUSTER_ for admin requests)
 * into every partition of that topic: the client gets a clean, non-retriable error for
 * exactly the denied topic. Responses read: every API whose requests name topics that
 * kgate decodes (kd_resp_prog_of in kafka_layouts.h); others pass as the broker wrote them.
 *
 * Rewrites are remembered by sequence number and made again when the broker
 * retransmits. Checksums are updated through bpf_l4_csum_replace, which leaves
 * CHECKSUM_PARTIAL packets (the usual case on egress) to the stack.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KD_CTX struct __sk_buff *
#define KD_LOAD(ctx, s, off, dst, len) bpf_skb_load_bytes((ctx), (off), (dst), (len))
#include "kafka_decode.h"
#include "skb_patch.h"
#include "kgate_maps.bpf.h"
#include "conn.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Where the segment is: scalars only (a global function may write it; see kg_tc_event). */
struct kg_tc_pos {
	__u32 tcp_off;
	__u32 payload_off;
	__u32 seq;       /* sequence number of the first payload byte */
};

struct kg_tc_loop {
	struct __sk_buff *skb;
	struct kg_flow *f;
	struct kd_src src;
	int last;
	struct kg_tc_pos pos;
};

/*
 * Writes n (1 or 2) bytes at off (vals: byte 0 in bits 0-7, byte 1 in bits 8-15, n in
 * bits 16-23), the checksum fixed (kg_skb_patch).
 */
__attribute__((noinline)) int kg_tc_write(struct __sk_buff *skb, __u32 tcp_off, __u32 off,
					  __u32 vals)
{
	__u8 v[2] = { vals & 0xff, (vals >> 8) & 0xff };

	if (!skb)
		return -1;
	return ((vals >> 16) & 0xff) == 2 ? kg_skb_patch(skb, tcp_off, off, v, 2)
					  : kg_skb_patch(skb, tcp_off, off, v, 1);
}

/* Remembers a rewritten byte by its sequence number, for retransmissions. */
static __always_inline void kg_tc_remember(struct kg_flow *f, __u32 seq, __u8 val)
{
	struct kg_rewrite *r = &f->rw[f->rw_next & (KG_RESP_REWRITES - 1)];

	f->rw_next++;
	r->seq = seq;
	r->val = val;
	r->used = 1;
}

/*
 * A response entry by the all-zero topic id: the next id-only topic the request had
 * rejected (poisoned to zeros; matched in request order, which is how brokers answer
 * but not a promise: a mismatch can only pair two rejected ids wrongly). Its id is
 * written back when all 16 bytes are in this packet; its partitions get the
 * authorization error (rmatch) either way.
 */
__attribute__((noinline)) int kg_tc_zero_id(struct __sk_buff *skb, struct kg_flow *f,
					    struct kg_tc_pos *lp)
{
	struct kg_pend *pe;
	struct kd_state *d;
	__u32 i, off;
	__u8 id[16];

	if (!skb || !f || !lp)
		return 0;
	pe = kg_pend_of(f, f->resp_no);
	if (!pe)
		return 0;
	d = &f->rdec;

	for (i = 0; i < KG_PEND_NAMES; i++)
		if (i < pe->n && ((pe->ids >> i) & 1) && !((pe->ids_seen >> i) & 1))
			break;
	if (i >= KG_PEND_NAMES)
		return 0;
	pe->ids_seen |= 1 << i;
	/* its partitions get the error even when the id cannot be written back here */
	f->rmatch = i + 1;
	if (!(d->here & KD_H_UUID) || d->uuid_off < lp->payload_off + 16)
		return 0;
	off = d->uuid_off - 16;
	__builtin_memcpy(id, pe->uuid[i & (KG_PEND_NAMES - 1)], 16);
	if (kg_skb_patch(skb, lp->tcp_off, off, id, 16))
		return 0;
	KD_UNROLL
	for (__u32 k = 0; k < 16; k++)
		kg_tc_remember(f, lp->seq + (off + k - lp->payload_off), id[k]);
	return 0;
}

/* The in-flight request the n-th response answers, or 0 when it is not known. */
static __always_inline struct kg_inflight *kg_expect(struct kg_flow *f, __u32 n)
{
	struct kg_inflight *e = &f->inflight[n & (KG_INFLIGHT - 1)];

	return e->kind && e->idx == n && n < f->req_no ? e : 0;
}

/*
 * The broker answered SASL step e->step of exchange e->xchg (ok: success). The user
 * named by the exchange's first token is bound when every step the mechanism needs
 * succeeded: PLAIN one, SCRAM two (server-first, then server-final). A failure, a
 * stale exchange, or an answer to a token that did not carry the user binds nothing. A
 * connection already bound to another SASL principal is not rebound (the broker
 * refuses such a re-authentication). A user the policy never names, a delegation
 * token or a name cut at KD_USER_MAX is KG_PRINCIPAL_OTHER.
 */
__attribute__((noinline)) int kg_sasl_verdict(struct kg_flow *f, struct kg_inflight *e, __u32 ok)
{
	struct kg_scratch *sc;
	__u32 zero = 0, *genp, need;

	if (!f || !e)
		return 0;
	if (e->xchg != f->xchg || !e->step || e->step > 8)
		return 0;
	if (!ok) {
		f->sasl_pending = 0; /* a wrong password never binds */
		f->sasl_ok = 0;
		return 0;
	}
	f->sasl_ok |= 1 << e->step;
	need = (f->dec.mech == KD_MECH_SCRAM_SHA_256 || f->dec.mech == KD_MECH_SCRAM_SHA_512) ? 2
												    : 1;
	/* every step up to the last one the mechanism needs answered with success */
	if (e->step != need || (f->sasl_ok & ((1u << (need + 1)) - 2)) != ((1u << (need + 1)) - 2))
		return 0;
	if (!f->sasl_pending || f->sasl_user_xchg != f->xchg)
		return 0;
	f->sasl_pending = 0;
	if (f->principal_src == KG_PSRC_SASL) {
		bool same = f->principal_len == f->sasl_user_len;

		for (__u32 i = 0; i < KD_USER_MAX; i++)
			if (i < f->sasl_user_len && f->principal[i] != f->sasl_user[i])
				same = false;
		if (!same)
			return 0;
	}
	genp = bpf_map_lookup_elem(&kg_active, &zero);
	if (!genp)
		return 0;
	f->principal_src = KG_PSRC_SASL;
	KD_COPY64(f->principal, f->sasl_user, KD_USER_MAX);
	f->principal_len = f->sasl_user_len;
	f->principal_id = KG_PRINCIPAL_OTHER;
	f->principal_opaque = f->sasl_uflags != 0;
	/*
	 * Its name outlives the slot there. No room: it fails closed, never decided as
	 * another principal (KG_MAX_SASL_FLOWS: the connection is reset at its next segment).
	 */
	if (bpf_map_update_elem(&kg_flow_principals, &f->key, f->sasl_user, BPF_ANY)) {
		f->principal_opaque = KG_PRINCIPAL_LOST;
		kg_count(KG_C_PRINCIPALS_FULL);
	}
	if (f->principal_opaque)
		return 0; /* a delegation token, or a cut name */
	sc = bpf_map_lookup_elem(&kg_scratch, &zero);
	if (sc)
		f->principal_id = kg_principal_lookup(&sc->nkey, f->sasl_user, f->sasl_user_len,
						      *genp);
	return 0;
}

/* Whether the next response is a raw SASL token: its request says so. */
static __always_inline void kg_next_kind(struct kg_flow *f)
{
	struct kg_inflight *e = kg_expect(f, f->resp_no);

	f->rdec.sasl_raw = e && e->kind == KG_IF_RAW;
}

__attribute__((noinline)) int kg_tc_event(struct __sk_buff *skb, struct kg_flow *f,
					  struct kg_tc_pos *lp, int ev)
{
	struct kd_state *d;
	struct kg_pend *pe;
	struct kg_inflight *e;

	if (!f || !lp)
		return 0;
	d = &f->rdec;
	switch (ev) {
	case KD_EV_RESP:
		f->rpend = 0;
		f->rmatch = 0;
		f->rsasl = 0;
		e = kg_expect(f, f->resp_no);
		if (!e || e->kind != KG_IF_NORMAL) {
			f->rflags |= KG_RF_DEAD; /* lost track of which request this answers */
			break;
		}
		if (e->api_key == KAFKA_SASL_AUTHENTICATE && e->step) {
			f->rsasl = 1;
			kd_resp_begin(d, e->api_key, e->api_version);
			break;
		}
		if (e->pend) {
			pe = kg_pend_of(f, e->idx);
			if (pe && pe->api_key == e->api_key && pe->req == e->idx) {
				f->rpend = 1;
				kd_resp_begin(d, e->api_key, e->api_version);
			}
		}
		break;
	case KD_EV_TOPIC:
		f->rmatch = 0;
		if (f->rpend && (d->tkind & KD_TK_ZID)) {
			kg_tc_zero_id(skb, f, lp);
			break;
		}
		if (!f->rpend || !(d->tkind & KD_TK_NAME) || !d->name_len)
			break;
		pe = kg_pend_of(f, f->resp_no);
		if (!pe)
			break;
		{
			__u64 h = kg_name_hash(d->name, d->name_len, d->name[(d->name_len - 1) & 0xff]);

			for (int i = 0; i < KG_PEND_NAMES; i++) {
				__u8 orig;
				__u32 off;

				if (i >= pe->n || pe->hash[i] != h)
					continue;
				f->rmatch = i + 1;
				/* the name as the client sent it: its last byte back */
				if (!(d->here & KD_H_NAME) || d->name_off <= lp->payload_off)
					break;
				orig = pe->orig[i];
				off = d->name_off - 1;
				if (!kg_tc_write(skb, lp->tcp_off, off, orig | (1 << 16)))
					kg_tc_remember(f, lp->seq + (off - lp->payload_off), orig);
				/* a topic error that came before the name (Metadata), in this packet */
				if (f->rerr_valid) {
					__u32 d2 = f->rerr_seq - lp->seq;
					__u8 v[2] = { pe->err >> 8, pe->err & 0xff };

					if (d2 < off - lp->payload_off &&
					    !kg_tc_write(skb, lp->tcp_off, lp->payload_off + d2,
							 v[0] | (v[1] << 8) | (2 << 16))) {
						kg_tc_remember(f, f->rerr_seq, v[0]);
						kg_tc_remember(f, f->rerr_seq + 1, v[1]);
					}
				}
				break;
			}
		}
		break;
	case KD_EV_RAWRESP:
		/*
		 * Handshake v0: PLAIN succeeds with an empty token (a failure closes the
		 * connection); SCRAM answers client-first with server-first ("r=...") and
		 * client-final with server-final, "v=..." on success, "e=..." on failure.
		 */
		e = kg_expect(f, f->resp_no);
		if (!e || e->kind != KG_IF_RAW) {
			f->rflags |= KG_RF_DEAD;
			break;
		}
		if (f->dec.mech == KD_MECH_PLAIN)
			kg_sasl_verdict(f, e, d->err_code == 0x100);
		else if (e->step == 1)
			kg_sasl_verdict(f, e, d->err_code == 'r');
		else
			kg_sasl_verdict(f, e, d->err_code == 'v');
		break;
	case KD_EV_TERRCODE:
		/* a new topic entry begins: remember where its error is, for after its name */
		f->rmatch = 0;
		f->rerr_valid = 0;
		if ((d->here & KD_H_ERR) && d->err_off >= lp->payload_off) {
			f->rerr_seq = lp->seq + (d->err_off - lp->payload_off);
			f->rerr_valid = 1;
		}
		break;
	case KD_EV_ERRCODE:
		if (f->rsasl) {
			kg_sasl_verdict(f, kg_expect(f, f->resp_no), d->err_code == 0);
			f->rsasl = 0;
			break;
		}
		if (!f->rmatch || !f->rpend || !(d->here & KD_H_ERR) ||
		    d->err_off < lp->payload_off)
			break;
		pe = kg_pend_of(f, f->resp_no);
		if (!pe)
			break;
		{
			__u8 v[2] = { pe->err >> 8, pe->err & 0xff };
			__u32 off = d->err_off;

			if (!kg_tc_write(skb, lp->tcp_off, off, v[0] | (v[1] << 8) | (2 << 16))) {
				kg_tc_remember(f, lp->seq + (off - lp->payload_off), v[0]);
				kg_tc_remember(f, lp->seq + (off - lp->payload_off) + 1, v[1]);
			}
		}
		break;
	case KD_EV_FRAME_END:
		f->rsasl = 0;
		f->rerr_valid = 0;
		if (f->rpend) {
			struct kg_pend_key *k = kg_pend_key(f, f->resp_no);

			/* answered: one rejection less on the connection (XDP counts them up) */
			if (k && !bpf_map_delete_elem(&kg_pend, k))
				__sync_fetch_and_sub(&f->pend_n, 1);
			f->rpend = 0;
		}
		f->rmatch = 0;
		f->resp_no++;
		kg_next_kind(f);
		break;
	}
	return 0;
}

static long kg_tc_step(__u32 i, void *data)
{
	struct kg_tc_loop *lp = data;
	struct kg_flow *f = lp->f;
	int ev;

	ev = kd_step(lp->skb, &f->rdec, &lp->src);
	lp->last = ev;
	if (ev == KD_EV_CONTINUE)
		return 0;
	if (ev == KD_EV_NEED_MORE)
		return 1;
	if (ev == KD_EV_ERROR)
		return f->rdec.phase == KD_PH_DEAD;
	kg_tc_event(lp->skb, f, &lp->pos, ev);
	return 0;
}

/* Rewrites made before, made again on a retransmitted segment [seq, seq + len). */
static __always_inline void kg_tc_replay(struct __sk_buff *skb, struct kg_flow *f,
					 struct kg_tc_pos *lp, __u32 len)
{
	for (int i = 0; i < KG_RESP_REWRITES; i++) {
		struct kg_rewrite *r = &f->rw[i];
		__u32 d = r->seq - lp->seq;

		if (r->used && d < len)
			kg_tc_write(skb, lp->tcp_off, lp->payload_off + d, r->val | (1 << 16));
	}
}

/*
 * The connection a broker segment belongs to, and what its control bits and its
 * acknowledgment say: the one place TC egress finds a flow. A SYN-ACK answers a handshake
 * in kg_syns (its client completes it, bpf/ingress.h); FIN or RST closes the broker's
 * side; the acknowledgment says which client bytes the broker holds (so a connection's
 * slot may go back: bpf/conn.h). A segment with payload (plen) of a connection whose
 * responses are followed counts in on its slot (*fp, *cnp: kg_flow_put when done): 1.
 * 0: the segment passes unfollowed; -1: it is dropped (no slot free: the broker
 * retransmits it).
 */
static __always_inline int kg_tc_flow(struct kg_flow_key *fk, const struct tcphdr *tcp,
				      __u32 plen, struct kg_conn **cnp, struct kg_flow **fp)
{
	__u32 ack = bpf_ntohl(tcp->ack_seq), why;
	struct kg_conn *cn;
	struct kg_syn *sy;
	struct kg_flow *f;
	__u64 own;

	if (tcp->syn) {
		sy = bpf_map_lookup_elem(&kg_syns, fk);
		if (sy && tcp->ack && ack == sy->isn + 1) {
			sy->sisn = bpf_ntohl(tcp->seq);
			sy->flags |= KG_SYN_ANSWERED;
		}
		return 0;
	}
	cn = bpf_map_lookup_elem(&kg_flows, fk);
	if (!cn)
		return 0;
	own = kg_own_read(cn);
	if ((own & KG_OWN_DYING) || cn->khash != kg_khash(fk))
		return 0;
	kg_conn_seen(cn);
	/* the broker closed its side: a new SYN on this address pair may start over */
	if (tcp->rst)
		cn->rclosed = KG_RCLOSED_RST;
	else if (tcp->fin && !cn->rclosed)
		cn->rclosed = KG_RCLOSED_FIN;
	/* the broker holds the client's bytes up to ack (never beyond what kgate passed) */
	if (tcp->ack && (__s32)(ack - cn->lack) > 0 && (__s32)(cn->next_seq - ack) >= 0)
		cn->lack = ack;
	if (!plen) {
		if (cn->give_hint && (own & KG_OWN_SLOT) && !(own & KG_OWN_USERS)) {
			f = kg_flow_get(cn, fk, &why);
			if (f)
				kg_flow_put(cn, f, fk, 1);
		}
		return 0;
	}
	/* responses no longer followed (or not yet): no slot needed for them */
	if (!(own & KG_OWN_SLOT) &&
	    ((cn->rflags & KG_RF_DEAD) || !(cn->rflags & KG_RF_SEQ_KNOWN)))
		return 0;
	f = kg_flow_get(cn, fk, &why);
	if (!f) {
		if (why == KG_GET_GONE)
			return 0;
		kg_count(why == KG_GET_POOL ? KG_C_POOL_EXHAUSTED : KG_C_SRC_QUOTA);
		return -1;
	}
	*cnp = cn;
	*fp = f;
	return 1;
}

SEC("tc")
int kgate_tc_egress(struct __sk_buff *skb)
{
	struct kg_flow_key fk = {};
	struct kg_tc_loop lp = {};
	struct ethhdr eth;
	struct tcphdr tcp;
	struct kg_conn *cn = NULL;
	struct kg_flow *f = NULL;
	__u32 off = sizeof(eth), iplen, zero = 0, gen, port_key, *genp, plen;
	__u16 proto;
	__u8 *lst;
	int r;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_OK;
	proto = eth.h_proto;
	for (int k = 0; k < 2; k++) {
		__u16 vh[2];

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off, vh, 4))
			return TC_ACT_OK;
		proto = vh[1];
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP ||
		    ip.ihl < 5)
			return TC_ACT_OK;
		/* the flow key is the client's view: client address first */
		__builtin_memcpy(fk.saddr, &ip.daddr, 4);
		__builtin_memcpy(fk.daddr, &ip.saddr, 4);
		fk.family = 4;
		iplen = bpf_ntohs(ip.tot_len);
		if (iplen < ip.ihl * 4u)
			return TC_ACT_OK;
		iplen -= ip.ihl * 4;
		off += ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_TCP)
			return TC_ACT_OK;
		__builtin_memcpy(fk.saddr, &ip6.daddr, 16);
		__builtin_memcpy(fk.daddr, &ip6.saddr, 16);
		fk.family = 6;
		iplen = bpf_ntohs(ip6.payload_len);
		off += sizeof(ip6);
	} else {
		return TC_ACT_OK;
	}
	if (bpf_skb_load_bytes(skb, off, &tcp, sizeof(tcp)) || tcp.doff < 5)
		return TC_ACT_OK;
	genp = bpf_map_lookup_elem(&kg_active, &zero);
	if (!genp)
		return TC_ACT_OK;
	gen = *genp & 1;
	port_key = gen * 65536 + bpf_ntohs(tcp.source);
	lst = bpf_map_lookup_elem(&kg_ports, &port_key);
	if (!lst || !*lst)
		return TC_ACT_OK;
	fk.sport = tcp.dest;
	fk.dport = tcp.source;
	if (iplen < tcp.doff * 4u)
		return TC_ACT_OK;
	plen = iplen - tcp.doff * 4;
	/* GSO packets: the IP length may describe one segment; the skb holds them all */
	if (skb->len > off + tcp.doff * 4 + plen)
		plen = skb->len - off - tcp.doff * 4;
	r = kg_tc_flow(&fk, &tcp, plen, &cn, &f);
	if (r <= 0)
		return r < 0 ? TC_ACT_SHOT : TC_ACT_OK;
	if ((f->rflags & KG_RF_DEAD) || !(f->rflags & KG_RF_SEQ_KNOWN))
		goto out;

	lp.skb = skb;
	lp.f = f;
	lp.pos.tcp_off = off;
	lp.pos.payload_off = off + tcp.doff * 4;
	lp.pos.seq = bpf_ntohl(tcp.seq);
	lp.src.off = lp.pos.payload_off;
	lp.src.end = lp.pos.payload_off + plen;
	{
		__s32 d = (__s32)(lp.pos.seq - f->rnext_seq);

		if (d > 0) {
			/* a gap in what the broker sent: the stream cannot be followed any more */
			f->rflags |= KG_RF_DEAD;
			goto out;
		}
		if (d < 0) {
			kg_tc_replay(skb, f, &lp.pos, plen);
			if ((__u32)-d >= plen)
				goto out;
			lp.src.off += -d;
		}
	}
	f->rdec.here = 0;
	if (f->rdec.phase == KD_PH_SIZE && !f->rdec.carry_len)
		kg_next_kind(f);
	lp.last = KD_EV_CONTINUE;
	bpf_loop(KD_STEPS_FOR(plen), kg_tc_step, &lp, 0);
	if (lp.last != KD_EV_NEED_MORE || f->rdec.phase == KD_PH_DEAD)
		f->rflags |= KG_RF_DEAD;
	f->rnext_seq = lp.pos.seq + plen;
out:
	/* answers no longer followed: no rejection of the connection's would be rewritten */
	if ((f->rflags & KG_RF_DEAD) && f->pend_n)
		kg_pend_clear(f);
	kg_flow_put(cn, f, &fk, 1);
	return TC_ACT_OK;
}

/* kg_rcv_next as a global function: verified once, not along every path of the sweep. */
__attribute__((noinline)) int kg_sweep_rcv_next(struct kg_conn *cn, struct kg_flow *f)
{
	return cn && f ? (int)kg_rcv_next(cn, f) : 0;
}

/*
 * A connection holding a pool slot without progress (KG_SLOT_STALL_S), ended by the
 * sweep: its slot goes back now (by its last user, as ever), and it stays as a stray
 * whose next segment becomes a RST toward the broker at the broker's next expected byte
 * (ingress.h, kg_on_stray), the one after it a RST back to the client. Returns 1 when it
 * was ended here, 0 when it was no longer stalled or another end came first.
 */
static __always_inline int kg_sweep_stalled(struct kg_conn *cn, struct kg_flow_key *fk,
					    __u32 stall_s)
{
	struct kg_stray st = { .flags = KG_FLOW_RESET, .stalled = 1 };
	struct kg_flow *f = NULL;
	int ended = 0;
	__u64 old;
	__u32 slot;

	/* counted in: the slot stays this connection's while its holes are read */
	old = __sync_fetch_and_add(&cn->own, KG_OWN_USER | KG_OWN_VER);
	if ((old & KG_OWN_SLOT) && !(old & KG_OWN_DYING) &&
	    (__u16)(kg_now() - cn->progress) > stall_s) {
		slot = kg_own_slot(old);
		f = bpf_map_lookup_elem(&kg_pool, &slot);
	}
	if (f) {
		st.listener = cn->listener;
		st.rst_seq = kg_sweep_rcv_next(cn, f);
		bpf_map_update_elem(&kg_flow_strays, fk, &st, BPF_ANY);
		old = __sync_fetch_and_or(&cn->own, KG_OWN_DYING);
		if (!(old & KG_OWN_DYING)) {
			kg_count(KG_C_FLOWS_ENDED);
			kg_count(KG_C_SLOTS_STALLED);
			ended = 1;
		}
	}
	kg_own_out(cn, fk);
	return ended;
}

/* kg_fold_sweep_one's context: what to send, and how many were. */
struct kg_fold_sweep {
	__u64 now; /* entries whose window ended before it; ~0: all */
	__u32 sent;
};

/*
 * A fold entry whose window ended with counts pending: a connection that went quiet after
 * a run (or past its budget). They leave now (bpf/fold.h); an entry in use is left for the
 * next sweep. bpf_loop's callback over kg_folds.
 */
static long kg_fold_sweep_one(__u32 i, void *ctx)
{
	struct kg_fold *e = bpf_map_lookup_elem(&kg_folds, &i);
	struct kg_fold_sweep *sw = ctx;

	if (!e || (!e->count && !e->folded) || sw->now < e->window_end || !kg_fold_lock(e))
		return 0;
	if ((e->count || e->folded) && sw->now >= e->window_end) {
		kg_fold_flush(e);
		sw->sent++;
	}
	kg_fold_unlock(e);
	return 0;
}

/*
 * kgate_sweep: never attached; the agent runs it (BPF_PROG_RUN) with the connections it
 * found idle past the flow timeout, closed by the broker long ago, or holding a slot
 * without progress (struct kg_sweep_req, then their keys, after an Ethernet header the
 * test run wants). Each is checked again here and ended as the datapath ends one
 * (kg_conn_end: its slot back to the pool by its last user), so no connection in use loses
 * its slot to a sweep; a stalled one is reset (kg_sweep_stalled). An ending entry nobody
 * uses any more (its last user could not remove it) is removed. Returns how many went,
 * and how many of them were stalled (KG_SWEEP_ENDED, KG_SWEEP_STALLED). With folds set
 * (no keys), it sends instead what fold entries have pending (those whose window ended,
 * or all), and returns how many records that made.
 */
SEC("tc")
int kgate_sweep(struct __sk_buff *skb)
{
	struct kg_sweep_req rq;
	struct kg_flow_key fk;
	struct kg_conn *cn;
	struct kg_fold_sweep sw = {};
	__u32 now = kg_now(), idle, off;
	__u64 own;
	int swept = 0, stalled = 0;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &rq, sizeof(rq)))
		return 0;
	if (rq.folds) {
		sw.now = rq.folds == KG_SWEEP_FOLDS_ALL ? ~0ull : bpf_ktime_get_ns();
		bpf_loop(KG_FOLD_SLOTS, kg_fold_sweep_one, &sw, 0);
		return sw.sent;
	}
	for (__u32 i = 0; i < KG_SWEEP_KEYS; i++) {
		if (i >= rq.n)
			break;
		off = ETH_HLEN + sizeof(rq) + i * sizeof(fk);
		if (bpf_skb_load_bytes(skb, off, &fk, sizeof(fk)))
			break;
		cn = bpf_map_lookup_elem(&kg_flows, &fk);
		if (!cn)
			continue;
		own = kg_own_read(cn);
		idle = now - cn->last_seen;
		if (own & KG_OWN_DYING) {
			if (own & KG_OWN_USERS)
				continue;
			kg_conn_end(cn, &fk); /* counts in and out: the last user removes it */
		} else if (rq.stall_s && (own & KG_OWN_SLOT) &&
			   (__u16)(now - cn->progress) > rq.stall_s) {
			if (!kg_sweep_stalled(cn, &fk, rq.stall_s))
				continue;
			stalled++;
		} else if (idle > rq.idle_s || (cn->rclosed && idle > rq.closed_s)) {
			kg_conn_end(cn, &fk);
			kg_count(KG_C_FLOWS_TIMED_OUT);
		} else {
			continue;
		}
		swept++;
	}
	return swept | stalled << 8;
}
