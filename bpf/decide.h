/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deciding: what the active policy generation says about one topic of one request (or
 * one request without topics, or a connection at its SYN). kg_first_match walks a
 * pattern class's candidate rules in file order; kg_decide looks the topic's class up
 * and keeps the connection's recent decisions in a memo (f->dcache). The inputs beside
 * the topic are the flow's: principal, region, and the request's client id
 * (kg_client_id) and operation; a topic given by id is named first (kg_resolve_id).
 */
#ifndef KGATE_DECIDE_H
#define KGATE_DECIDE_H

#include "window.h"

/*
 * A decision is one word: the action (enum kg_action) in its low bits, above them the
 * index + 1 of the rule that made it (0: no rule matched, the policy's default did).
 */
#define KG_DEC_ACT_MASK 0xfu
#define KG_DEC_RULE_SHIFT 4
/* A rule that names no operation and no client.id: it can decide at SYN. */
#define KG_OPS_ANY 0xff
#define KG_CLIENT_IDS_ANY (~0ull)

/*
 * First match in file order over a class's candidates: the rule's principals and
 * regions must hold the flow's, and (unless at_syn) its operations and client ids the
 * request's. At SYN only rules that name no operation and no client.id can decide;
 * others are passed over. Returns action | (rule index + 1) << 4, or 0 for no match.
 * A global function: verified once, on its own.
 */
__attribute__((noinline)) int kg_first_match(struct kg_flow *f, __u32 gen, __u32 class_id,
					     __u32 op, __u32 at_syn)
{
	struct kg_class *cls;
	__u32 key, pid, opbit;

	if (!f)
		return 0;
	gen &= 1;
	key = gen * KG_MAX_PATTERNS + class_id;
	cls = bpf_map_lookup_elem(&kg_classes, &key);
	if (!cls)
		return 0;
	pid = f->principal_id & (KG_MAX_PRINCIPALS - 1);
	opbit = 1u << (op & 7);
	for (__u32 i = 0; i < KG_MAX_CANDIDATES; i++) {
		struct kg_rule *r;
		__u32 ri;

		if (i >= cls->n)
			break;
		ri = cls->rules[i];
		if (ri >= KG_MAX_RULES)
			break;
		key = gen * KG_MAX_RULES + ri;
		r = bpf_map_lookup_elem(&kg_rules, &key);
		if (!r)
			break;
		if (at_syn) {
			if (r->ops != KG_OPS_ANY || r->client_ids != KG_CLIENT_IDS_ANY)
				continue; /* depends on requests: not decidable at SYN */
		} else if (!(r->ops & opbit) || !((r->client_ids >> (f->client_cid & 63)) & 1)) {
			continue;
		}
		if (!((r->regions >> (f->region_id & 63)) & 1) ||
		    !((r->principals[(pid >> 6) & 3] >> (pid & 63)) & 1))
			continue;
		return (r->action & KG_DEC_ACT_MASK) | ((ri + 1) << KG_DEC_RULE_SHIFT);
	}
	return 0;
}

/*
 * What the memo's decisions depend on besides the topic, the operation and the policy
 * epoch: the flow's principal, region and client id, in one word. When it changes, the
 * memo is cleared.
 */
static __always_inline __u32 kg_dc_stamp(const struct kg_flow *f)
{
	return f->principal_id | (__u32)f->region_id << 16 | (__u32)f->client_cid << 24;
}

/*
 * The memo's slot index for the topic in f->dec.name, or -1 when the name is not
 * memoized. A name may sit in that slot or its neighbour (index ^ 1).
 */
static __always_inline int kg_dc_slot(struct kg_flow *f)
{
	__u32 len = f->dec.name_len, tail;
	__u64 a, b;

	if (len == 0 || len > KG_DCACHE_NAME)
		return -1;
	/* the first and the last 8 bytes (bytes past the name masked off: they are stale) */
	a = KD_LD64(f->dec.name);
	if (len < 8) {
		a &= (1ull << (len * 8)) - 1;
		b = 0;
	} else {
		tail = len - 8;
		KD_CLAMP(tail, KG_DCACHE_NAME - 8);
		b = KD_LD64(&f->dec.name[tail]);
	}
	a = (a ^ (b << 7 | b >> 57) ^ len) * 0x9e3779b97f4a7c15ull;
	a = (a ^ (a >> 32)) * 0x9e3779b97f4a7c15ull;
	return a >> 60; /* the top bits: KG_DCACHE is 16 */
}

/*
 * Whether the first len bytes of a and b are equal (len <= max, max a multiple of 8),
 * a word at a time; bytes past len are not compared.
 */
static __always_inline bool kg_bytes_eq(const __u8 *a, const __u8 *b, __u32 len, const int max)
{
	__u64 x, y, diff = 0;

	KD_UNROLL
	for (int w = 0; w < max / 8; w++) {
		if (w * 8 >= (int)len)
			break;
		x = KD_LD64(&a[w * 8]);
		y = KD_LD64(&b[w * 8]);
		if (len < (__u32)(w + 1) * 8)
			diff |= (x ^ y) & ((1ull << ((len - w * 8) * 8)) - 1);
		else
			diff |= x ^ y;
	}
	return diff == 0;
}

/* Whether memo entry e holds the topic in f->dec.name for op: its bytes are compared. */
static __always_inline bool kg_dc_hit(const struct kg_flow *f, const struct kg_dcache *e, __u32 op)
{
	return e->len == f->dec.name_len && e->op == op &&
	       kg_bytes_eq(f->dec.name, e->name, e->len, KG_DCACHE_NAME);
}

/*
 * The decision for the topic in f->dec.name (has_topic 0: for a request naming no
 * topic, the "no pattern" class): first match, else the policy's default. Topics this
 * connection already decided under the same epoch, principal, region and client id
 * come from its memo.
 */
__attribute__((noinline)) int kg_decide(struct kg_flow *f, __u32 epoch, __u32 op, __u32 has_topic)
{
	__u32 gen = epoch & 1, stamp;
	struct kg_class_ref *ref;
	struct kg_dcache *e = NULL;
	struct kg_config *cfg;
	int dec, slot;

	if (!f)
		return KG_ACT_DROP;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return KG_ACT_DROP;
	if (has_topic) {
		stamp = kg_dc_stamp(f);
		if (f->dc_epoch != epoch + 1 || f->dc_stamp != stamp) {
			__builtin_memset(f->dcache, 0, sizeof(f->dcache));
			f->dc_epoch = epoch + 1;
			f->dc_stamp = stamp;
		}
		slot = kg_dc_slot(f);
		if (slot >= 0) {
			struct kg_dcache *e2 = &f->dcache[(slot ^ 1) & (KG_DCACHE - 1)];

			e = &f->dcache[slot & (KG_DCACHE - 1)];
			if (kg_dc_hit(f, e, op))
				return e->dec;
			if (kg_dc_hit(f, e2, op))
				return e2->dec;
			/* a miss goes to the free one of the two, else over the first */
			if (e->len && !e2->len)
				e = e2;
		}
	}
	f->dec.name_key_gen = gen;
	f->dec.name_key_len = has_topic ? 8 * (1 + (f->dec.name_len & 0xff) + 1) : 8;
	ref = bpf_map_lookup_elem(&kg_topics, &f->dec.name_key_len);
	dec = ref ? kg_first_match(f, gen, ref->class_id, op, 0) : 0;
	if (!dec)
		dec = cfg->default_action;
	if (e) {
		KD_COPY64(e->name, f->dec.name, KG_DCACHE_NAME);
		e->len = f->dec.name_len;
		e->op = op;
		e->dec = dec;
	}
	return dec;
}

/*
 * The decision for a request about every topic, or a set of them (a regex, an ACL
 * filter): only the rules that match any topic -- the class of topics no pattern names,
 * class 0, which holds rules without topics (or "*") and no `topics: none` rule -- can
 * decide it, then the policy's default. A topic rule never matches a set (it would
 * match only some of its topics), and a `topics: none` rule is for requests that name
 * no topic at all.
 */
__attribute__((noinline)) int kg_decide_set(struct kg_flow *f, __u32 epoch, __u32 op)
{
	__u32 gen = epoch & 1;
	struct kg_config *cfg;
	int dec;

	if (!f)
		return KG_ACT_DROP;
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	if (!cfg)
		return KG_ACT_DROP;
	dec = kg_first_match(f, gen, 0, op, 0);
	return dec ? dec : cfg->default_action;
}

/*
 * Connection-level decision at SYN: the first rule of the "no pattern" class that
 * names no operation and no client.id and matches the connection's principal and
 * region. 0 when none does (requests decide later).
 */
static __always_inline int kg_syn_decide(struct kg_flow *f, __u32 gen)
{
	return kg_first_match(f, gen, 0, 0, 1);
}

/* Connection plumbing is not subject to policy: needed before any identity is known. */
static __always_inline bool kg_exempt(__u16 key)
{
	return key == KAFKA_API_VERSIONS || key == KAFKA_SASL_HANDSHAKE ||
	       key == KAFKA_SASL_AUTHENTICATE || key == KD_KEY_SASL_RAW;
}

/* The id of the current frame's client.id (KG_CLIENT_OTHER if no rule names it). */
__attribute__((noinline)) int kg_client_id(struct kg_flow *f, struct kg_scratch *sc, __u32 epoch)
{
	__u32 gen = epoch & 1;
	struct kg_name_key *k;
	struct kd_state *d;
	struct kg_id_val *v;

	if (!f || !sc)
		return 0;
	k = &sc->nkey;
	d = &f->dec;
	/* the same client id as the connection's last frame, under the same epoch */
	if (f->cid_epoch == epoch + 1 && f->cid_null == d->client_id_null &&
	    f->cid_len == d->client_id_len &&
	    kg_bytes_eq(d->client_id, f->cid, f->cid_len, KD_CLIENT_ID_MAX))
		return 0;
	f->cid_epoch = epoch + 1;
	f->cid_null = d->client_id_null;
	f->cid_len = d->client_id_len;
	KD_COPY64(f->cid, d->client_id, KD_CLIENT_ID_MAX);
	f->client_cid = KG_CLIENT_OTHER;
	if (d->client_id_null)
		return 0;
	__builtin_memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->kind = KG_NAME_CLIENT;
	k->len = d->client_id_len;
	KD_COPY64(k->name, d->client_id, KD_CLIENT_ID_MAX);
	/* bytes past client_id_len are stale: clear them so the hash key is canonical */
	for (__u32 i = 0; i < KD_CLIENT_ID_MAX; i++)
		if (i >= d->client_id_len)
			k->name[i] = 0;
	v = bpf_map_lookup_elem(&kg_names, k);
	if (v)
		f->client_cid = v->id & (KG_MAX_CLIENT_IDS - 1);
	return 0;
}

/* A topic given by id only: its name from kg_topic_ids, or the unknown-id action. */
__attribute__((noinline)) int kg_resolve_id(struct kg_flow *f)
{
	struct kd_state *d;
	struct kg_topic_name *tn;

	if (!f)
		return -1;
	d = &f->dec;
	if (d->tkind & KD_TK_NAME)
		return 0;
	tn = bpf_map_lookup_elem(&kg_topic_ids, d->uuid);
	if (!tn)
		return -1;
	_Static_assert(KD_TOPIC_MAX == 249, "248 bytes by words, then the last");
	KD_COPY64(d->name, tn->name, 248);
	d->name[248] = tn->name[248];
	d->name_len = tn->len > KD_TOPIC_MAX ? KD_TOPIC_MAX : tn->len;
	d->name[d->name_len & 0xff] = 0;
	return 0;
}

#endif /* KGATE_DECIDE_H */
