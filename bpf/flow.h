/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flows: the connection a client's segment belongs to. A SYN starts a handshake
 * (kg_syns); the client's acknowledgment of the broker's SYN-ACK to it makes it an
 * established connection (kg_flows, keyed by the 5-tuple, and a pool slot while it needs
 * one: conn.h). A connection first seen mid-stream has unknown frame boundaries: it is
 * undecodable, followed without decoding (kg_flow_strays). Its region and identity come
 * from the source address; they, its listener and its request's client id belong to one
 * policy epoch and are taken again when the policy changes.
 */
#ifndef KGATE_FLOW_H
#define KGATE_FLOW_H

#include "events.h"
#include "conn.h"

/* The prefix length of a whole address in an LPM key: the generation byte, then it. */
#define KG_CIDR4_FULL (8 + 32)
#define KG_CIDR6_FULL (8 + 128)

/*
 * Region and identity of a flow, by longest prefix on the source address. A principal
 * bound by SASL stays (only its id is taken again); any other is the identity's, or
 * anonymous.
 */
__attribute__((noinline)) int kg_classify(struct kg_flow *f, struct kg_scratch *sc, __u32 gen)
{
	struct kg_id_val *reg, *idn = NULL;
	struct kg_flow_key *fk;
	bool sasl;

	if (!f || !sc)
		return 0;
	fk = (struct kg_flow_key *)&sc->hdr;
	gen &= 1;
	sasl = f->principal_src == KG_PSRC_SASL;
	f->region_id = KG_REGION_NONE;
	if (sasl) {
		if (!f->principal_opaque)
			f->principal_id = kg_principal_lookup(&sc->nkey, f->principal,
							      f->principal_len, gen);
	} else {
		f->principal_id = KG_PRINCIPAL_ANONYMOUS;
		f->principal_src = KG_PSRC_NONE;
	}
	if (fk->family == 4) {
		struct kg_cidr4_key k = { .prefixlen = KG_CIDR4_FULL, .gen = gen };

		__builtin_memcpy(k.addr, fk->saddr, 4);
		reg = bpf_map_lookup_elem(&kg_regions4, &k);
		if (!sasl)
			idn = bpf_map_lookup_elem(&kg_identities4, &k);
	} else {
		struct kg_cidr6_key k = { .prefixlen = KG_CIDR6_FULL, .gen = gen };

		__builtin_memcpy(k.addr, fk->saddr, 16);
		reg = bpf_map_lookup_elem(&kg_regions6, &k);
		if (!sasl)
			idn = bpf_map_lookup_elem(&kg_identities6, &k);
	}
	if (reg)
		f->region_id = reg->id & (KG_MAX_REGIONS - 1);
	if (idn) {
		f->principal_id = idn->id & (KG_MAX_PRINCIPALS - 1);
		f->principal_src = KG_PSRC_IDENTITY;
	}
	return 0;
}

/*
 * A per-CPU large state for a connection that holds no slot: its SYN's decision, a
 * mid-stream segment, a limit hit. Only what kg_classify, kg_first_match and kg_emit read
 * is set (its decoder state says "no request"); the rest is left as the last use left it.
 */
static __always_inline struct kg_flow *kg_tmp_flow(const struct kg_flow_key *fk,
						   struct kg_scratch *sc, __u32 epoch,
						   __u32 listener)
{
	__u32 zero = 0;
	struct kg_flow *f = bpf_map_lookup_elem(&kg_flow_tmp, &zero);

	if (!f)
		return 0;
	kg_key_copy(&f->key, fk);
	f->principal_src = KG_PSRC_NONE;
	f->principal_len = 0;
	f->principal_opaque = 0;
	f->client_cid = KG_CLIENT_OTHER;
	f->listener = listener;
	f->gen = epoch & 1;
	f->epoch = epoch;
	f->topics = 0;
	f->ts_pkt = 0;
	f->flags = 0;
	f->dec.corr = 0;
	f->dec.frame_size = 0;
	f->dec.api_key = 0;
	f->dec.api_version = 0;
	f->dec.opclass = KG_OP_OTHER;
	f->dec.reason = 0;
	f->dec.tkind = 0;
	f->dec.client_id_null = 1;
	f->dec.client_id_len = 0;
	f->dec.name_len = 0;
	f->dec.phase = KD_PH_SIZE;
	kg_classify(f, sc, epoch & 1);
	return f;
}

/*
 * The handshake of fk completed (the client acknowledged the broker's SYN-ACK to its
 * SYN): its small entry in kg_flows, classified under epoch. NULL when kg_flows has no
 * room (KG_MAX_FLOWS connections held: the table is preallocated).
 */
static __always_inline struct kg_conn *kg_conn_new(struct kg_flow_key *fk, const struct kg_syn *sy,
						   struct kg_scratch *sc, __u32 epoch,
						   __u32 listener)
{
	struct kg_flow *t = kg_tmp_flow(fk, sc, epoch, listener);
	struct kg_conn *c = &sc->conn, *old;

	if (!t)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	c->next_seq = sy->isn + 1;
	c->rnext_seq = sy->sisn + 1;
	c->rack = sy->sisn + 1;
	c->lack = sy->isn + 1;
	c->flags = KG_FLOW_SEQ_KNOWN;
	c->rflags = KG_RF_SEQ_KNOWN;
	c->listener = listener;
	c->epoch = epoch;
	c->gen = epoch & 1;
	c->region_id = t->region_id;
	c->principal_id = t->principal_id;
	c->principal_src = t->principal_src;
	c->khash = kg_khash(fk);
	c->last_seen = kg_now();
	c->progress = c->last_seen;
	if (bpf_map_update_elem(&kg_flows, fk, c, BPF_NOEXIST)) {
		/* an ended connection's entry still there (its last user is finishing): not yet */
		old = bpf_map_lookup_elem(&kg_flows, fk);
		if (!old || !(kg_own_read(old) & KG_OWN_DYING) || (kg_own_read(old) & KG_OWN_USERS))
			return 0;
		bpf_map_delete_elem(&kg_flows, fk);
		if (bpf_map_update_elem(&kg_flows, fk, c, BPF_NOEXIST))
			return 0;
	}
	kg_count(KG_C_FLOWS_NEW);
	return bpf_map_lookup_elem(&kg_flows, fk);
}

/*
 * A limit was hit (enum kg_limit) by the connection fk: counted by the caller, and an
 * event for the audit, at most one per CPU and second for each limit (a full table sees
 * many such segments, and each one a record would flood the ring buffer).
 */
static __always_inline void kg_limit_event(const struct kg_flow_key *fk, struct kg_scratch *sc,
					   __u32 epoch, __u32 listener, __u32 limit)
{
	__u32 now = kg_now(), l = limit & 7;
	struct kg_flow *t;

	_Static_assert(KG_LIMIT__COUNT <= 8, "limit_ts has eight");
	if (sc->limit_ts[l] == now + 1)
		return;
	sc->limit_ts[l] = now + 1;
	t = kg_tmp_flow(fk, sc, epoch, listener);
	if (!t)
		return;
	t->dec.reason = limit;
	kg_emit(t, KG_EV_LIMIT, KG_ACT_DROP, (epoch & 1) | KG_ENFORCED);
}

/*
 * A flow that has lived through a policy apply: its ids (region, identity, listener)
 * belong to a policy generation, and are taken again under the epoch now active.
 */
static __always_inline void kg_flow_retake(struct kg_flow *f, struct kg_scratch *sc,
					   __u32 epoch, __u32 listener)
{
	__u32 gen = epoch & 1;

	f->listener = listener;
	if (f->epoch == epoch)
		return;
	kg_classify(f, sc, gen);
	f->gen = gen;
	f->epoch = epoch;
	/*
	 * A request whose client id was read under the old policy: its id is taken
	 * again, so the topics still to come are decided with the new numbering.
	 */
	f->cid_epoch = 0;
	if (f->dec.phase != KD_PH_SIZE && f->dec.phase != KD_PH_HDR &&
	    f->dec.phase != KD_PH_CLIENT && f->dec.phase != KD_PH_DEAD)
		kg_client_id(f, sc, epoch);
}

#endif /* KGATE_FLOW_H */
