/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flows: the connection a client's segment belongs to (kg_flows, keyed by the
 * 5-tuple). A flow starts at a SYN, or mid-stream when kgate first sees it after its
 * start (then its frame boundaries are unknown: undecodable). Its region and identity
 * come from the source address; they, its listener and its request's client id belong
 * to one policy epoch and are taken again when the policy changes.
 */
#ifndef KGATE_FLOW_H
#define KGATE_FLOW_H

#include "decide.h"

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
 * A new flow for fk (over any flow it had) at listener, its next byte at seq, its ids
 * taken under epoch. NULL when the table has no room for it.
 */
static __always_inline struct kg_flow *kg_new_flow(struct kg_flow_key *fk, __u32 epoch,
						    struct kg_scratch *sc, __u32 listener,
						    __u32 seq, __u8 flags)
{
	__u32 gen = epoch & 1;
	__u32 zero = 0;
	struct kg_flow *tmpl = bpf_map_lookup_elem(&kg_flow_zero, &zero), *f;

	if (!tmpl)
		return 0;
	if (bpf_map_update_elem(&kg_flows, fk, tmpl, BPF_ANY))
		return 0;
	f = bpf_map_lookup_elem(&kg_flows, fk);
	if (f) {
		f->gen = gen;
		f->epoch = epoch;
		__builtin_memcpy(&f->key, fk, sizeof(*fk));
		kg_classify(f, sc, gen);
		kg_count(KG_C_FLOWS_NEW);
		f->listener = listener;
		f->next_seq = seq;
		f->flags = flags;
	}
	return f;
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
