/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A packet's payload through the decoder: kg_decode runs kg_step over the new bytes,
 * one decoder event a step, and each event does what it means for the connection's
 * requests. A frame's header: count the request, follow the SASL exchange, take its
 * client id, decide requests that name no topic. A topic: decide and enforce it. A
 * frame's end: number the request for its response (TC egress). A Fetch or share
 * session, a SASL user, an undecodable frame: see each case.
 */
#ifndef KGATE_REQUEST_H
#define KGATE_REQUEST_H

#include "enforce.h"
#include "retx.h"

/* kg_step's state: the packet at hand. */
struct kg_loop {
	KG_CTX *ctx;
	struct kg_flow *f;
	struct kg_scratch *sc;
	struct kd_src *src; /* ->last_ev: the last step's event */
	struct kg_out out;
};

/*
 * The request just ended expects a response (all but Produce with acks=0): it takes
 * the next number, which its response will have among the responses (TC egress).
 */
__attribute__((noinline)) int kg_inflight_add(struct kg_flow *f)
{
	struct kg_inflight *e;
	struct kd_state *d;

	if (!f)
		return 0;
	d = &f->dec;
	if (d->api_key == KAFKA_PRODUCE && d->acks == 0)
		return 0;
	e = &f->inflight[f->req_no & (KG_INFLIGHT - 1)];
	e->idx = f->req_no++;
	e->xchg = f->xchg;
	e->api_key = d->api_key;
	e->api_version = d->api_version;
	e->kind = d->api_key == KD_KEY_SASL_RAW ? KG_IF_RAW : KG_IF_NORMAL;
	e->step = (d->api_key == KAFKA_SASL_AUTHENTICATE || d->api_key == KD_KEY_SASL_RAW)
			  ? f->sasl_step
			  : 0;
	e->pend = f->cur_pend;
	return 0;
}

/*
 * The request names topics the decoder cannot read, or a set of them it cannot decide:
 * undecodable (topics_not_read), and decided as a whole.
 */
static __always_inline void kg_topics_unread(struct kg_loop *lp, struct kg_flow *f)
{
	__u8 keep = f->dec.reason;

	f->dec.reason = KD_ERR_TOPICS_UNREAD;
	lp->out.outcome = kg_undecodable(f, lp->out.gen);
	f->dec.reason = keep;
	f->frame_done = 1;
}

/* A request's header was decoded (KD_EV_FRAME). */
static __always_inline void kg_on_frame(struct kg_loop *lp, struct kg_flow *f)
{
	__u32 dec;

	f->requests++;
	f->cur_pend = 0;
	/* SASL: count the exchange's steps; TC egress binds on the broker's answers */
	if (f->dec.api_key == KAFKA_SASL_HANDSHAKE) {
		f->xchg++;
		f->sasl_step = 0;
		f->sasl_ok = 0;
		f->sasl_pending = 0;
	} else if (f->dec.api_key == KAFKA_SASL_AUTHENTICATE || f->dec.api_key == KD_KEY_SASL_RAW) {
		if (f->sasl_step < 255)
			f->sasl_step++;
	}
	/* an open SASL exchange keeps the flow's slot (its state is there) until a request */
	if (f->dec.api_key == KAFKA_SASL_HANDSHAKE)
		f->flags |= KG_FLOW_SASL;
	else if (!kg_exempt(f->dec.api_key))
		f->flags &= ~KG_FLOW_SASL;
	f->frame_topics = 0;
	f->frame_done = 0;
	f->frame_topicless = 0;
	f->share_group = 0; /* a ShareFetch's group comes with the group's event, or none */
	f->frame_exempt = kg_exempt(f->dec.api_key);
	kg_client_id(f, lp->sc, lp->out.epoch);
	if (!f->frame_exempt) {
		const struct kd_api *api = kd_api_of(f->dec.api_key);

		if (api && !api->prog_len && api->topics) {
			/*
			 * The body names topics the decoder cannot read (LeaderAndIsr...):
			 * deciding it by operation alone would let a topic-wide allow
			 * override a topic-specific deny. It is undecodable instead.
			 */
			kg_topics_unread(lp, f);
		} else if (api && !api->prog_len) {
			/* no topics in the body: decided by operation now */
			dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 0);
			kg_apply(lp->ctx, f, &lp->out, KG_EV_REQUEST, dec);
			f->frame_done = 1;
		}
	}
}

/* frame_topicless bits: what of the request was decided besides its topics */
#define KG_FT_NOTOPIC 0x01 /* something that is not a topic (kg_topicless_once) */
#define KG_FT_SET 0x02     /* a set of topics (every topic, a regex, an ACL filter) */

/*
 * The request is also about something that is not a topic (a resource such as the
 * cluster, a group or a broker: KG_FT_NOTOPIC), or about a set of topics (KG_FT_SET,
 * from kg_on_topic_set): it is decided at once, once per request for each of the two,
 * beside the topics it names (each decided on its own), so that none rides along with
 * another. Something that is not a topic is decided as a request naming no topic (rules
 * without topics and `topics: none`); a set by the rules that match any topic only
 * (kg_decide_set: never by a `topics: none` rule, which would otherwise open every
 * topic's names, offsets or partitions to a rule meant for connection plumbing).
 */
static __always_inline void kg_topicless_once(struct kg_loop *lp, struct kg_flow *f,
					      __u32 what)
{
	__u32 dec;

	if (f->frame_exempt || f->frame_done || (f->frame_topicless & what))
		return;
	f->frame_topicless |= what;
	if (what == KG_FT_SET)
		dec = kg_decide_set(f, lp->out.epoch, f->dec.opclass);
	else
		dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 0);
	kg_apply(lp->ctx, f, &lp->out, KG_EV_REQUEST, dec);
}

/* A topic id kg_topic_ids does not name: the policy's unknown_topic_id action. */
static __always_inline __u32 kg_unknown_id(__u32 gen)
{
	struct kg_config *cfg;

	kg_count(KG_C_UNKNOWN_TOPIC_IDS);
	cfg = bpf_map_lookup_elem(&kg_config, &gen);
	return cfg ? cfg->unknown_id_action : KG_ACT_RESET;
}

/* A topic entry was decoded (KD_EV_TOPIC): its decision. */
static __always_inline __u32 kg_on_topic(struct kg_loop *lp, struct kg_flow *f)
{
	__u32 by_name, by_id, dec;

	/*
	 * An entry with both a name and a non-zero id (Metadata v10+, DeleteTopics v6): the
	 * broker may act on either, so both are decided and the stricter decision stands.
	 */
	if ((f->dec.tkind & (KD_TK_NAME | KD_TK_ID)) == (KD_TK_NAME | KD_TK_ID)) {
		by_name = kg_decide(f, lp->out.epoch, f->dec.opclass, 1);
		f->dec.tkind = KD_TK_ID;
		if (kg_resolve_id(f))
			by_id = kg_unknown_id(lp->out.gen);
		else
			by_id = kg_decide(f, lp->out.epoch, f->dec.opclass, 1);
		f->dec.tkind = KD_TK_NAME | KD_TK_ID;
		return (by_id & KG_DEC_ACT_MASK) > (by_name & KG_DEC_ACT_MASK) ? by_id : by_name;
	}
	/* an id alone is decided by the name it resolves to */
	if (!(f->dec.tkind & KD_TK_NAME) && kg_resolve_id(f)) {
		dec = kg_unknown_id(lp->out.gen);
		f->dec.name_len = 0;
		return dec;
	}
	return kg_decide(f, lp->out.epoch, f->dec.opclass, 1);
}

/* A request's frame ended (KD_EV_FRAME_END). */
static __always_inline void kg_on_frame_end(struct kg_loop *lp, struct kg_flow *f)
{
	__u32 dec;

	kg_inflight_add(f);
	/*
	 * A request that named no topic (e.g. Metadata of an empty list) and was not decided
	 * so already (kg_topicless_once) is decided by the rules without a topic pattern.
	 * Not a Fetch: one that names no partition fetches nothing new, and its session's
	 * topics are handled by kg_fetch_session. Nor an incremental ShareFetch: its share
	 * session's are handled by kg_share_session.
	 */
	if (!f->frame_exempt && !f->frame_done && !f->frame_topics && !f->frame_topicless &&
	    f->dec.api_key != KAFKA_FETCH &&
	    !(f->dec.api_key == KAFKA_SHARE_FETCH && f->dec.sess_epoch > 0)) {
		dec = kg_decide(f, lp->out.epoch, f->dec.opclass, 0);
		kg_apply(lp->ctx, f, &lp->out, KG_EV_REQUEST, dec);
	}
}

/*
 * The request is about a set of topics (KD_EV_TSET): every topic, a prefix, an ACL
 * filter that matches many, or a regex. Until TC egress filters the answers to such
 * requests topic by topic, only the sets that were decided before the decoder read
 * these bodies keep that decision, as a request naming no topic (kg_topicless_once,
 * also when the request names topics besides): every topic for Metadata, OffsetFetch,
 * ElectLeaders, ListPartitionReassignments and ListConfigResources, and DescribeAcls
 * filters. A regex subscription (ConsumerGroupHeartbeat, ShareGroupHeartbeat) is
 * decided the same way: the heartbeat gives no data, and every topic it leads to is
 * decided by name or id when the client fetches it. Any other set (DescribeLogDirs or
 * DescribeTopicPartitions for every topic, CreateAcls or DeleteAcls on a prefix or a
 * filter) is undecodable, as it was before.
 */
static __always_inline void kg_on_topic_set(struct kg_loop *lp, struct kg_flow *f)
{
	__u16 key = f->dec.api_key;

	if (f->frame_exempt || f->frame_done)
		return;
	if (f->dec.tset == KD_TS_REGEX ||
	    (f->dec.tset == KD_TS_ALL &&
	     (key == KAFKA_METADATA || key == KAFKA_OFFSET_FETCH || key == KAFKA_ELECT_LEADERS ||
	      key == KAFKA_LIST_PARTITION_REASSIGNMENTS || key == KAFKA_LIST_CONFIG_RESOURCES)) ||
	    key == KAFKA_DESCRIBE_ACLS) {
		kg_topicless_once(lp, f, KG_FT_SET);
		return;
	}
	kg_topics_unread(lp, f);
}

/* The SASL user name was decoded (KD_EV_SASL_USER): pending until the broker says yes. */
static __always_inline void kg_on_sasl_user(struct kg_flow *f)
{
	/* only the exchange's first token names the user (PLAIN, SCRAM client-first) */
	if (f->sasl_step != 1)
		return;
	KD_COPY64(f->sasl_user, f->dec.user, KD_USER_MAX);
	f->sasl_user_len = f->dec.user_len;
	f->sasl_uflags = f->dec.uflags | (f->dec.flags & KD_F_TRUNC ? 0x80 : 0);
	f->sasl_user_xchg = f->xchg;
	f->sasl_pending = 1;
}

/* One decoder step (bpf_loop): 0 to go on, 1 to stop (bytes used up, or an outcome). */
static long kg_step(__u32 i, void *data)
{
	struct kg_loop *lp = data;
	struct kg_flow *f = lp->f;
	struct kd_src *src = lp->src;
	int ev;

	if (!src)
		return 1;
	ev = kd_step(lp->ctx, &f->dec, src);
	src->last_ev = ev;
	switch (ev) {
	case KD_EV_CONTINUE:
		return 0;
	case KD_EV_NEED_MORE:
		return 1;
	case KD_EV_FRAME:
		kg_on_frame(lp, f);
		break;
	case KD_EV_TOPIC:
		f->frame_topics++;
		if (!f->frame_exempt)
			kg_apply(lp->ctx, f, &lp->out, KG_EV_TOPIC, kg_on_topic(lp, f));
		break;
	case KD_EV_TSET:
		kg_on_topic_set(lp, f);
		break;
	case KD_EV_RESOURCE:
		kg_topicless_once(lp, f, KG_FT_NOTOPIC);
		break;
	case KD_EV_FRAME_END:
		kg_on_frame_end(lp, f);
		break;
	case KD_EV_SESSION:
		kg_fetch_session(lp->ctx, f, &lp->out);
		kg_share_session(lp->ctx, f, &lp->out);
		break;
	case KD_EV_GROUP:
		kg_share_group(f);
		break;
	case KD_EV_SASL_USER:
		kg_on_sasl_user(f);
		break;
	case KD_EV_ERROR:
		/* on_undecodable; with allow, decoding goes on at the next frame if it can */
		lp->out.outcome = kg_undecodable(f, lp->out.gen);
		return lp->out.outcome != KG_OUT_PASS || f->dec.phase == KD_PH_DEAD;
	}
	return lp->out.outcome != KG_OUT_PASS;
}

/*
 * Decodes the packet's new bytes (from src->off) and applies what they decide; the
 * flow's sequence moves past the packet, and what the decoder read is remembered for
 * retransmissions. Returns the packet's outcome
 * (KG_OUT_*).
 */
static __always_inline __u8 kg_decode(KG_CTX *ctx, const struct kg_pkt *p, struct kg_conn *cn,
				      struct kg_flow *f, struct kg_scratch *sc,
				      struct kd_src *src, __u32 epoch)
{
	struct kg_loop lp = {};
	__u32 start = src->off, lead = kg_skip_region(&f->dec);

	lp.ctx = ctx;
	lp.f = f;
	lp.sc = sc;
	lp.src = src;
	lp.out.gen = epoch & 1;
	lp.out.epoch = epoch;
	lp.out.tcp_off = p->tcp_off;
	lp.out.payload_off = p->payload_off;
	f->dec.here = 0;
	src->rd_end = start;
	src->last_ev = KD_EV_CONTINUE;
	/* the packet's events leave as one record: nothing returns before kg_ev_end */
	kg_ev_begin();
	bpf_loop(KD_STEPS_FOR(p->payload_len), kg_step, &lp, 0);
	if (src->last_ev != KD_EV_NEED_MORE && src->last_ev != KD_EV_ERROR &&
	    lp.out.outcome == KG_OUT_PASS) {
		/* the step bound: the rest of this chunk was not decoded */
		kd_fatal(&f->dec, KD_ERR_BOUND);
		lp.out.outcome = kg_undecodable(f, lp.out.gen);
	}
	cn->bytes += p->seq + p->payload_len - cn->next_seq;
	cn->next_seq = p->seq + p->payload_len;
	if (f->probe && kg_probe_reached(cn, f) && lp.out.outcome == KG_OUT_PASS) {
		/* the broker would read bytes of the probe next, undecided: decoding ends here */
		kd_fatal(&f->dec, KD_ERR_PROBE);
		lp.out.outcome = kg_undecodable(f, lp.out.gen);
	}
	kg_ev_end();
	kg_retx_remember(ctx, f, p, src, &lp.out, start, lead);
	return lp.out.outcome;
}

#endif /* KGATE_REQUEST_H */
