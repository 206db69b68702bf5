/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enforcing: a decision applied to the packet at hand and to its flow. reject rewrites
 * the denied topic's name (or id) in place so the broker cannot act on it, and leaves a
 * pending entry for TC egress to restore the name and write the authorization error;
 * reset and drop mark the flow and set the packet's outcome (kg_out). Every decision is
 * counted and sent as an event (events.h); monitor mode and audit rules report without
 * applying. Fetch and share sessions decided under an older policy (share sessions: or
 * on another connection) are ended here too.
 */
#ifndef KGATE_ENFORCE_H
#define KGATE_ENFORCE_H

#include "conn.h"
#include "decide.h"
#include "events.h"

/* The byte written over the last byte of a rejected topic name: never valid in a name. */
#define KG_POISON '!'

/* Packet-level outcomes, strongest last. */
#define KG_OUT_PASS 0
#define KG_OUT_RESET 1
#define KG_OUT_DROP 2

/*
 * What decisions did to the current packet. Kept apart from kg_loop's pointers: the
 * global functions that write it would otherwise make the verifier forget them.
 */
struct kg_out {
	__u32 gen;        /* epoch & 1 */
	__u32 epoch;      /* kg_active when the packet arrived */
	__u32 tcp_off;
	__u32 payload_off;
	__u8 outcome;     /* KG_OUT_* */
	__u8 npoison;
	__u8 pad[2];
	__u16 poison_off[KG_RETX_POISONS];
	__u16 poison_len[KG_RETX_POISONS];
};

/*
 * The session epoch written over a stale Fetch or share session's: INT32_MIN. A full
 * request has epoch 0 (opens a session) or -1 (closes it); a session's own epochs start
 * at 1 and wrap from INT32_MAX back to 1 (FetchMetadata and ShareRequestMetadata
 * nextEpoch), so no session ever has a negative epoch: the broker answers
 * INVALID_FETCH_SESSION_EPOCH or INVALID_SHARE_SESSION_EPOCH (or that the session is not
 * found), and touches no session. INT32_MAX would be reached by a session after 2^31 - 1
 * requests, which a client can send.
 */
#define KG_SESSION_EPOCH_NEVER 0x80000000u

/*
 * Rewrites n bytes at off, the checksum kept right by the hook (kg_ctx_patch): n = 1, a
 * topic name's last byte -> KG_POISON; n = 16, a topic id -> zeroes; n = 4, a Fetch
 * session epoch -> KG_SESSION_EPOCH_NEVER.
 */
static __always_inline int kg_rewrite_n(KG_CTX *ctx, __u32 tcp_off, __u32 off, const __u32 n)
{
	__be32 never = bpf_htonl(KG_SESSION_EPOCH_NEVER);
	__u8 val[16] = {};

	if (n == 1)
		val[0] = KG_POISON;
	if (n == 4)
		__builtin_memcpy(val, &never, sizeof(never));
	return kg_ctx_patch(ctx, tcp_off, off, val, n);
}

/*
 * kg_rewrite_n for n = 1, 4 or 16 (any other n is taken as 1): a global function, so
 * that its buffers are not on the stack of every caller.
 */
__attribute__((noinline)) int kg_rewrite(KG_CTX *ctx, __u32 tcp_off, __u32 off, __u32 n)
{
	kg_window_forget();
	if (n == 16)
		return kg_rewrite_n(ctx, tcp_off, off, 16);
	if (n == 4)
		return kg_rewrite_n(ctx, tcp_off, off, 4);
	return kg_rewrite_n(ctx, tcp_off, off, 1);
}

/*
 * Remembers a rewrite of this packet (len bytes at packet offset off), so that a
 * retransmission of these bytes gets it again (retx.h).
 */
static __always_inline void kg_remember_poison(struct kg_out *lp, __u32 off, __u32 len)
{
	__u8 i = lp->npoison;

	if (i < KG_RETX_POISONS) {
		lp->poison_off[i & (KG_RETX_POISONS - 1)] = off - lp->payload_off;
		lp->poison_len[i & (KG_RETX_POISONS - 1)] = len;
	}
	lp->npoison = i + 1; /* > KG_RETX_POISONS: a retransmission cannot be replayed */
}

/*
 * reject: make the broker unable to act on the denied topic, in place, same length.
 * A name gets its last byte (always in this packet: the decision follows it at once)
 * replaced by '!', which no topic name may contain. A topic id is zeroed (the "no id"
 * value) when all of its 16 bytes are in this packet. Returns 0, or -1 when neither
 * is possible (the caller resets instead).
 */
static __always_inline int kg_poison(KG_CTX *ctx, struct kg_flow *f, struct kg_out *lp)
{
	struct kd_state *d = &f->dec;
	__u8 need = d->tkind & (KD_TK_NAME | KD_TK_ID), done = 0;
	__u32 off;

	/*
	 * An entry may carry both a name and an id (Metadata v10+, DeleteTopics v6) and the
	 * broker may use either: every one the entry carries must be made unusable.
	 */
	if ((need & KD_TK_NAME) && (d->here & KD_H_NAME) && d->name_off > lp->payload_off &&
	    d->name_len) {
		off = d->name_off - 1;
		if (kg_rewrite(ctx, lp->tcp_off, off, 1))
			return -1;
		kg_remember_poison(lp, off, 1);
		done |= KD_TK_NAME;
	}
	if ((need & KD_TK_ID) && (d->here & KD_H_UUID) && d->uuid_off >= lp->payload_off + 16) {
		off = d->uuid_off - 16;
		if (kg_rewrite(ctx, lp->tcp_off, off, 16))
			return -1;
		kg_remember_poison(lp, off, 16);
		done |= KD_TK_ID;
	}
	return need && done == need ? 0 : -1;
}

/*
 * A rejected topic must be answered with the authorization error, so before its name is
 * poisoned the request needs its kg_pend entry (created at its first rejected topic, keyed
 * by the number kg_inflight_add will give the request). 0 when it has one (or expects no
 * response: Produce with acks=0), -1 when its response could not be rewritten: the
 * connection has KG_PEND_CONN rejected requests awaiting their answers already (counted:
 * pending_cap_resets), its responses are not followed, its in-flight requests fill the
 * ring, or kg_pend is full (pending_full_resets). The caller resets instead.
 */
__attribute__((noinline)) int kg_pend_open(struct kg_flow *f)
{
	struct kg_scratch *sc;
	struct kd_state *d;
	struct kg_pend *pe;
	__u32 zero = 0;

	sc = bpf_map_lookup_elem(&kg_scratch, &zero);
	if (!f || !sc)
		return -1;
	pe = &sc->pend;
	d = &f->dec;
	if (d->api_key == KAFKA_PRODUCE && d->acks == 0)
		return 0;
	if (f->cur_pend)
		return 0;
	if (f->pend_n >= KG_PEND_CONN) {
		kg_count(KG_C_PEND_CAP);
		return -1;
	}
	if ((f->rflags & KG_RF_DEAD) || f->req_no - f->resp_no >= KG_INFLIGHT) {
		kg_count(KG_C_PEND_FULL);
		return -1;
	}
	kg_key_copy(&sc->pkey.flow, &f->key);
	/* the number kg_inflight_add gives this request, modulo KG_INFLIGHT (kg_pend_key) */
	sc->pkey.req = f->req_no & (KG_INFLIGHT - 1);
	sc->pkey.pad = 0;
	__builtin_memset(pe, 0, sizeof(*pe));
	pe->used = 1;
	pe->req = f->req_no;
	pe->corr = d->corr;
	pe->api_key = d->api_key;
	pe->api_version = d->api_version;
	pe->err = d->opclass == KG_OP_ADMIN ? KAFKA_CLUSTER_AUTHORIZATION_FAILED
					     : KAFKA_TOPIC_AUTHORIZATION_FAILED;
	/* any entry left by an earlier connection on this 5-tuple is replaced */
	if (bpf_map_update_elem(&kg_pend, &sc->pkey, pe, BPF_ANY)) {
		kg_count(KG_C_PEND_FULL);
		return -1;
	}
	__sync_fetch_and_add(&f->pend_n, 1);
	f->cur_pend = 1;
	return 0;
}

/*
 * Remembers a topic rejected by poisoning its name (or zeroing its id) in its request's
 * kg_pend entry, so that TC egress can restore it in the response and write the
 * authorization error (bpf/kgate_tc.bpf.c).
 */
__attribute__((noinline)) int kg_pend_add(struct kg_flow *f)
{
	struct kd_state *d;
	struct kg_pend *pe;
	__u32 len;
	__u64 h;

	if (!f || !f->cur_pend)
		return 0;
	d = &f->dec;
	len = d->name_len;
	/* by name when the entry has one; else by id (a resolved name is not echoed) */
	if ((d->tkind & KD_TK_NAME) && (!len || len > KD_TOPIC_MAX))
		return 0;
	pe = kg_pend_of(f, f->req_no);
	if (!pe || pe->n >= KG_PEND_NAMES)
		return 0;
	if (!(d->tkind & KD_TK_NAME)) {
		__builtin_memcpy(pe->uuid[pe->n & (KG_PEND_NAMES - 1)], d->uuid, 16);
		pe->ids |= 1 << (pe->n & (KG_PEND_NAMES - 1));
		pe->n++;
		return 0;
	}
	h = kg_name_hash(d->name, len, KG_POISON);
	pe->hash[pe->n & (KG_PEND_NAMES - 1)] = h;
	pe->orig[pe->n & (KG_PEND_NAMES - 1)] = d->name[(len - 1) & 0xff];
	pe->n++;
	return 0;
}

/* Counts a decision for the rule that made it (kg_rule_hits), audit or not. */
static __always_inline void kg_hit(__u32 gen, __u32 dec)
{
	__u32 ri = dec >> KG_DEC_RULE_SHIFT;
	__u64 *c;

	if (!ri)
		return;
	ri = (gen & 1) * KG_MAX_RULES + ((ri - 1) & (KG_MAX_RULES - 1));
	c = bpf_map_lookup_elem(&kg_rule_hits, &ri);
	if (c)
		*c += 1;
}

/*
 * Whether decision dec of generation gen is applied, or only reported: not in monitor
 * mode, and not when a rule marked audit made it.
 */
static __always_inline __u32 kg_enforces(const struct kg_config *cfg, __u32 gen, __u32 dec)
{
	__u32 ri = dec >> KG_DEC_RULE_SHIFT, enforce = 1;
	struct kg_rule *r;

	if (cfg->mode == KG_MODE_MONITOR)
		enforce = 0;
	if (ri) {
		__u32 key = gen * KG_MAX_RULES + ((ri - 1) & (KG_MAX_RULES - 1));

		r = bpf_map_lookup_elem(&kg_rules, &key);
		if (r && (r->flags & KG_RULE_AUDIT))
			enforce = 0;
	}
	return enforce;
}

/* The packet's outcome is at least a reset, and so is the flow's fate. */
static __always_inline void kg_out_reset(struct kg_out *lp, struct kg_flow *f)
{
	lp->outcome = lp->outcome > KG_OUT_RESET ? lp->outcome : KG_OUT_RESET;
	f->flags |= KG_FLOW_RESET;
}

/*
 * Applies a decision; kind is KG_EV_TOPIC or KG_EV_REQUEST. A global function (lp's
 * pointers are not used here, only its scalars).
 */
__attribute__((noinline)) int kg_apply(KG_CTX *ctx, struct kg_flow *f, struct kg_out *lp,
				       __u32 kind, __u32 dec)
{
	__u32 action = dec & KG_DEC_ACT_MASK, gen, enforce;
	struct kg_config *cfg;

	if (!f || !lp)
		return 0;
	gen = lp->gen & 1;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return 0;
	enforce = kg_enforces(cfg, gen, dec);
	f->topics++;
	kg_hit(gen, dec);
	if (enforce && action != KG_ACT_ALLOW) {
		/*
		 * Nothing to poison in this packet, or a request a poisoned name would turn
		 * into another action that succeeds: CreateAcls and DeleteAcls would create
		 * or delete an ACL for the poisoned name and answer success.
		 */
		if (action == KG_ACT_REJECT && kind == KG_EV_TOPIC && kg_pend_open(f)) {
			/* its response could not carry the authorization error (counted) */
			action = KG_ACT_RESET;
		}
		if (action == KG_ACT_REJECT &&
		    (kind != KG_EV_TOPIC || f->dec.api_key == KAFKA_CREATE_ACLS ||
		     f->dec.api_key == KAFKA_DELETE_ACLS || kg_poison(ctx, f, lp)))
			action = KG_ACT_RESET;
		else if (action == KG_ACT_REJECT && (f->dec.tkind & (KD_TK_NAME | KD_TK_ID)))
			kg_pend_add(f);
		if (action == KG_ACT_RESET || action == KG_ACT_REDIRECT) {
			/* redirect is a connection-start action; mid-stream it resets */
			kg_out_reset(lp, f);
		} else if (action == KG_ACT_DROP) {
			lp->outcome = KG_OUT_DROP;
			f->flags |= KG_FLOW_DROP;
		}
		dec = (dec & ~KG_DEC_ACT_MASK) | action;
	}
	/* counted as enforced (a reject that had to reset counts as a reset) */
	kg_count(KG_C_VERDICT_BASE + (action < KG_ACT__COUNT ? action : KG_ACT_DROP));
	kg_emit(f, kind, dec, gen | enforce * KG_ENFORCED);
	return 0;
}

/*
 * A connection decided at its SYN (kg_syn_decide). Only redirect is decided for a
 * whole connection; anything else is left to its requests. 1 when the connection goes
 * to the quarantine interface (from this SYN on), 0 when it passes.
 */
static __always_inline int kg_syn_apply(struct kg_flow *f, __u32 gen)
{
	__u32 dec = kg_syn_decide(f, gen), enforce;
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	if ((dec & KG_DEC_ACT_MASK) != KG_ACT_REDIRECT || !cfg)
		return 0;
	enforce = kg_enforces(cfg, gen, dec);
	kg_count(KG_C_VERDICT_BASE + KG_ACT_REDIRECT);
	kg_hit(gen, dec);
	kg_emit(f, KG_EV_CONNECTION, dec, gen | enforce * KG_ENFORCED);
	if (!enforce)
		return 0;
	f->flags |= KG_FLOW_REDIRECT;
	return 1;
}

/*
 * A session epoch (4 bytes at packet offset off, the session's fields at d->sess_off)
 * made invalid in place: KG_SESSION_EPOCH_NEVER, counted and reported. Not in monitor
 * mode. Where the fields straddle segments, the connection is reset instead.
 */
static __always_inline void kg_session_invalidate(KG_CTX *ctx, struct kg_flow *f,
						  struct kg_out *lp, __u32 off)
{
	struct kd_state *d = &f->dec;
	__u32 gen = lp->gen & 1;
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	if (!cfg || cfg->mode == KG_MODE_MONITOR)
		return;
	kg_count(KG_C_FETCH_SESSION_RESETS);
	kg_emit(f, KG_EV_SESSION, KG_ACT_REJECT, gen | KG_ENFORCED);
	if ((d->here & KD_H_SESSION) && d->sess_off >= lp->payload_off &&
	    !kg_rewrite(ctx, lp->tcp_off, off, 4)) {
		kg_remember_poison(lp, off, 4);
		return;
	}
	/* the epoch straddles segments: start over the hard way */
	kg_out_reset(lp, f);
}

/*
 * Fetch sessions (KIP-227): an incremental Fetch names only partitions that changed,
 * so topics the session already holds are not decided again. When the policy changed
 * since the session's topics were decided, the session epoch is made invalid in place:
 * the broker answers INVALID_FETCH_SESSION_EPOCH, and the client starts a new session
 * with a full Fetch that names every partition, each decided by the new policy.
 */
__attribute__((noinline)) int kg_fetch_session(KG_CTX *ctx, struct kg_flow *f,
					       struct kg_out *lp)
{
	struct kd_state *d;

	if (!f || !lp)
		return 0;
	d = &f->dec;
	if (d->api_key != KAFKA_FETCH)
		return 0;
	if (d->sess_epoch <= 0) {
		/* a full fetch (new session or none): every partition is named and decided */
		f->sess_epoch = lp->epoch + 1;
		return 0;
	}
	if (f->sess_epoch != lp->epoch + 1)
		kg_session_invalidate(ctx, f, lp, d->sess_off + 4);
	return 0;
}

/* FNV-1a (64 bits) of the name the decoder holds, from h, then of its length. */
static __always_inline __u64 kg_fold_name(const struct kd_state *d, __u64 h)
{
	__u32 len = d->name_len;

	for (__u32 i = 0; i < KD_TOPIC_MAX; i++) {
		if (i >= len)
			break;
		h = (h ^ d->name[i]) * 0x100000001b3ull;
	}
	return (h ^ len) * 0x100000001b3ull;
}

/*
 * A ShareFetch's group id was decoded (KD_EV_GROUP): the first part of its share
 * session's key, folded from this flow's random salt so that no one can choose another
 * group and member id whose key is the same. A group id longer than kept has no key.
 */
__attribute__((noinline)) int kg_share_group(struct kg_flow *f)
{
	if (!f || f->dec.api_key != KAFKA_SHARE_FETCH)
		return 0;
	if (!f->share_salt)
		f->share_salt = bpf_get_prandom_u32() | 1;
	f->share_group = 0;
	if (!(f->dec.flags & KD_F_TRUNC))
		f->share_group = kg_fold_name(&f->dec, 0xcbf29ce484222325ull ^ f->share_salt) | 1;
	return 0;
}

/*
 * Share sessions (KIP-932): the broker keeps one per group and member id, not per
 * connection, and it outlives policy changes; an incremental ShareFetch (epoch > 0) may
 * name no topic and is answered with records of every partition of the session. One
 * passes only on the connection that opened that session (epoch 0, naming its topics,
 * each decided) under the policy in force; any other gets an epoch no session has, the
 * broker answers INVALID_SHARE_SESSION_EPOCH, and the client opens a new session naming
 * its topics, each decided. A flow knows the last session it opened (a legitimate
 * client has one member id); a null or cut group or member id gives no key.
 */
__attribute__((noinline)) int kg_share_session(KG_CTX *ctx, struct kg_flow *f,
					       struct kg_out *lp)
{
	struct kd_state *d;
	__u64 key = 0;

	if (!f || !lp)
		return 0;
	d = &f->dec;
	if (d->api_key != KAFKA_SHARE_FETCH)
		return 0;
	/* sess_id: the member id's length on the wire (kept in name when not cut), -1 null */
	if (f->share_group && d->sess_id > 0 && d->sess_id <= KD_TOPIC_MAX)
		key = kg_fold_name(d, f->share_group);
	f->share_group = 0;
	if (d->sess_epoch == 0) {
		f->share_epoch = key ? lp->epoch + 1 : 0;
		f->share_key = key;
		return 0;
	}
	/* -1 closes the session (a full request); other negative epochs match no session */
	if (d->sess_epoch < 0)
		return 0;
	if (!key || f->share_epoch != lp->epoch + 1 || f->share_key != key)
		kg_session_invalidate(ctx, f, lp, d->sess_off);
	return 0;
}

/*
 * The listener's on_undecodable action for an undecodable frame (decoding resumes at
 * the next frame) or a flow whose decoding ended (KD_PH_DEAD). Returns the packet's
 * outcome (KG_OUT_*).
 */
static __always_inline int kg_undecodable(struct kg_flow *f, __u32 gen)
{
	__u32 act = KG_ACT_RESET;
	struct kg_config *cfg = bpf_map_lookup_elem(&kg_config, &gen);

	kg_count(KG_C_UNDECODABLE_BASE + (f->dec.reason < KD_REASON__COUNT ? f->dec.reason : 0));
	if (cfg) {
		act = cfg->on_undecodable[f->listener & (KG_MAX_LISTENERS - 1)];
		if (cfg->mode == KG_MODE_MONITOR) {
			kg_emit(f, KG_EV_UNDECODABLE, act, gen);
			if (f->dec.phase == KD_PH_DEAD)
				f->flags |= KG_FLOW_DEAD;
			return KG_OUT_PASS;
		}
	}
	kg_emit(f, KG_EV_UNDECODABLE, act, gen | KG_ENFORCED);
	if (act == KG_ACT_ALLOW) {
		if (f->dec.phase == KD_PH_DEAD)
			f->flags |= KG_FLOW_DEAD;
		return KG_OUT_PASS;
	}
	if (act == KG_ACT_DROP) {
		f->flags |= KG_FLOW_DROP;
		return KG_OUT_DROP;
	}
	f->flags |= KG_FLOW_RESET;
	return KG_OUT_RESET;
}

#endif /* KGATE_ENFORCE_H */
