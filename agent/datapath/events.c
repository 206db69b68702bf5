// SPDX-License-Identifier: Apache-2.0
/* Splitting kg_event_recs records into decision events (agent/datapath/events.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "agent/datapath/events.h"

/* The event that a decision entry d (its variable part at var) and its context c make. */
static void event_of(struct kg_event *e, const struct kg_rec_ctx *c, const __u8 *principal,
		     const struct kg_rec_dec *d, const __u8 *var)
{
	size_t cl = KG_REC_CID_BYTES(d->client_id_len);

	memset(e, 0, sizeof(*e));
	e->ts_ns = c->ts_ns;
	e->flow = c->flow;
	e->version_id = c->version_id;
	e->principal_id = c->principal_id;
	e->region_id = c->region_id;
	e->principal_src = c->principal_src;
	e->gen = c->gen;
	e->principal_len = c->principal_len;
	memcpy(e->principal, principal, KG_REC_PRINCIPAL_BYTES(c->principal_len));
	e->rule_id = d->rule_id;
	e->corr = d->corr;
	e->frame_size = d->frame_size;
	e->api_key = d->api_key;
	e->api_version = d->api_version;
	e->kind = d->kind;
	e->verdict = d->verdict;
	e->enforced = d->enforced;
	e->op = d->op;
	e->reason = d->reason;
	e->tkind = d->tkind;
	e->client_id_len = d->client_id_len;
	e->topic_len = d->topic_len;
	if (d->flags & KG_REC_F_UUID) {
		memcpy(e->uuid, var, sizeof(e->uuid));
		var += sizeof(e->uuid);
	}
	memcpy(e->client_id, var, cl);
	memcpy(e->topic, var + KG_REC_PAD8(cl), d->topic_len);
}

int kg_events_each(const void *rec, size_t size, kg_event_cb cb, void *ctx)
{
	const __u8 *p = rec, *principal = NULL;
	struct kg_rec_ctx c;
	struct kg_rec_dec d;
	struct kg_rec_hdr h;
	struct kg_event e;
	size_t off;
	int n = 0;

	/* every length is checked before it is used to read or to advance */
	for (off = 0; off < size; off += h.size) {
		if (size - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		if (h.size > size - off)
			return -EBADMSG; /* cut short */
		switch (h.type) {
		case KG_REC_CTX:
			if (h.size < sizeof(c))
				return -EBADMSG;
			memcpy(&c, p + off, sizeof(c));
			if (h.size != KG_REC_CTX_SIZE(c.principal_len))
				return -EBADMSG;
			principal = p + off + sizeof(c);
			break;
		case KG_REC_DEC:
			if (h.size < sizeof(d) || !principal)
				return -EBADMSG; /* an event needs a context before it */
			memcpy(&d, p + off, sizeof(d));
			if (h.size != KG_REC_DEC_SIZE(d.flags, d.client_id_len, d.topic_len))
				return -EBADMSG;
			event_of(&e, &c, principal, &d, p + off + sizeof(d));
			cb(ctx, &e);
			n++;
			break;
		default:
			return -EBADMSG;
		}
	}
	return n;
}
