// SPDX-License-Identifier: Apache-2.0
/* Decoder events as text and JSON lines (agent/decode/report.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"

void kdr_text_bytes(struct kg_buf *b, const __u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '\\' || p[i] == ',')
			kg_buf_printf(b, "\\x%02x", p[i]);
		else
			kg_buf_printf(b, "%c", p[i]);
	}
}


static void uuid_hex(struct kg_buf *b, const __u8 *u)
{
	for (int i = 0; i < 16; i++)
		kg_buf_printf(b, "%02x", u[i]);
}

/* A name the decoder read: "key BYTES" in text, ,"key":"BYTES" in JSON. */
static void name_field(struct kg_buf *b, bool json, const char *key, const __u8 *p, size_t n)
{
	if (json) {
		kg_buf_printf(b, ",\"%s\":", key);
		kg_json_bytes(b, p, n);
	} else {
		kg_buf_printf(b, "%s ", key);
		kdr_text_bytes(b, p, n);
	}
}

/* A frame's client id: its bytes, "-" when null, "..." after a cut one; and the line's end. */
static void client_text(struct kg_buf *b, const struct kd_state *st)
{
	if (st->client_id_null == 1) {
		kg_buf_printf(b, "-");
	} else {
		kdr_text_bytes(b, st->client_id, st->client_id_len);
		if (st->client_id_null == KD_CLIENT_ID_CUT)
			kg_buf_printf(b, "...");
	}
	kg_buf_printf(b, "\n");
}

void kdr_event_text(struct kg_buf *b, const struct kd_state *st, int ev)
{
	switch (ev) {
	case KD_EV_FRAME:
		kg_buf_printf(b, "frame key=%u ver=%u corr=%d size=%u client=", st->api_key,
			   st->api_version, st->corr, st->frame_size);
		client_text(b, st);
		break;
	case KD_EV_TOPIC:
		kg_buf_printf(b, "topic");
		if (st->tkind & KD_TK_NAME) {
			kg_buf_printf(b, " name=");
			kdr_text_bytes(b, st->name, st->name_len);
		}
		if (st->tkind & KD_TK_ID) {
			kg_buf_printf(b, " id=");
			uuid_hex(b, st->uuid);
		}
		if (st->tkind & KD_TK_ZID)
			kg_buf_printf(b, " zid");
		if (!st->tkind)
			kg_buf_printf(b, " null");
		kg_buf_printf(b, "\n");
		break;
	case KD_EV_TSET:
		kg_buf_printf(b, "topics %s", kd_tset_name(st->tset));
		if (st->tset != KD_TS_ALL) {
			kg_buf_printf(b, "=");
			kdr_text_bytes(b, st->name, st->name_len);
			if (st->flags & KD_F_TRUNC)
				kg_buf_printf(b, " (truncated)");
		}
		kg_buf_printf(b, "\n");
		break;
	case KD_EV_RESOURCE:
		kg_buf_printf(b, "resource type=%u\n", st->rtype);
		break;
	case KD_EV_CURSOR:
		kg_buf_printf(b, "cursor name=");
		kdr_text_bytes(b, st->name, st->name_len);
		kg_buf_printf(b, "\n");
		break;
	case KD_EV_SESSION:
		if (st->api_key != KAFKA_SHARE_FETCH) {
			kg_buf_printf(b, "session id=%d epoch=%d\n", st->sess_id, st->sess_epoch);
			break;
		}
		/* a share session: its member id (sess_id: the length on the wire, -1 null) */
		kg_buf_printf(b, "session member=");
		if (st->sess_id < 0)
			kg_buf_printf(b, "null");
		else
			kdr_text_bytes(b, st->name, st->name_len);
		if (st->sess_id > (__s32)st->name_len)
			kg_buf_printf(b, " (truncated)");
		kg_buf_printf(b, " epoch=%d\n", st->sess_epoch);
		break;
	case KD_EV_RESP:
		kg_buf_printf(b, "response corr=%d size=%u\n", st->corr, st->frame_size);
		break;
	case KD_EV_ERRCODE:
	case KD_EV_TERRCODE:
		kg_buf_printf(b, "%s %d\n", kd_event_name(ev), (__s16)st->err_code);
		break;
	case KD_EV_ENTRY:
		/* offsets from the frame's first byte (its size field) */
		kg_buf_printf(b, "entry begin=%u end=%u\n", st->ent_begin, kd_frame_pos(st));
		break;
	case KD_EV_GROUP:
		name_field(b, false, "group", st->name, st->name_len);
		kg_buf_printf(b, "%s\n", st->flags & KD_F_TRUNC ? " (truncated)" : "");
		break;
	case KD_EV_SASL_MECH:
		name_field(b, false, "mechanism", st->mech_name, st->mech_len);
		kg_buf_printf(b, "\n");
		break;
	case KD_EV_SASL_USER:
		name_field(b, false, "user", st->user, st->user_len);
		kg_buf_printf(b, "%s%s\n", st->flags & KD_F_TRUNC ? " (truncated)" : "",
			   st->uflags & KD_U_TOKEN ? " (delegation token)" : "");
		break;
	case KD_EV_FRAME_END:
		kg_buf_printf(b, "end\n");
		break;
	case KD_EV_ERROR:
		kg_buf_printf(b, "error %s%s\n", kd_reason_name(st->reason),
			   st->phase == KD_PH_DEAD ? "" : " (frame skipped)");
		break;
	}
}

void kdr_event_line(struct kg_buf *b, const struct kd_state *st, int ev)
{
	const char *api = st->api_key == KD_KEY_SASL_RAW ? "SaslRawToken"
							  : kafka_api_name(st->api_key);

	if (ev != KD_EV_FRAME) {
		kdr_event_text(b, st, ev);
		return;
	}
	/* the name a reader knows, the key a capture shows */
	kg_buf_printf(b, "frame %s v%u (key %u) corr=%d size=%u client=", api ? api : "unknown",
		      st->api_version, st->api_key, st->corr, st->frame_size);
	client_text(b, st);
}

void kdr_event_json(struct kg_buf *b, const struct kd_state *st, int ev)
{
	const char *api = kafka_api_name(st->api_key);

	kg_buf_printf(b, "{\"event\":\"%s\"", kd_event_name(ev));
	if (ev != KD_EV_ERROR || st->api_key || st->frame_size) {
		kg_buf_printf(b, ",\"api_key\":%u,\"api\":\"%s\",\"api_version\":%u,"
			   "\"correlation_id\":%d,\"operation\":\"%s\"",
			   st->api_key, api ? api : "unknown", st->api_version, st->corr,
			   kg_op_name(st->opclass));
	}
	switch (ev) {
	case KD_EV_FRAME:
		kg_buf_printf(b, ",\"size\":%u,\"client_id\":", st->frame_size);
		if (st->client_id_null == 1) {
			kg_buf_printf(b, "null");
		} else {
			kg_json_bytes(b, st->client_id, st->client_id_len);
			kg_buf_printf(b, ",\"client_id_length\":%u,\"client_id_truncated\":%s",
				   st->client_id_full,
				   st->client_id_null == KD_CLIENT_ID_CUT ? "true" : "false");
		}
		break;
	case KD_EV_TOPIC:
		if (st->tkind & KD_TK_NAME) {
			kg_buf_printf(b, ",\"topic\":");
			kg_json_bytes(b, st->name, st->name_len);
		} else {
			kg_buf_printf(b, ",\"topic\":null");
		}
		if (st->tkind & KD_TK_ID) {
			kg_buf_printf(b, ",\"topic_id\":\"");
			uuid_hex(b, st->uuid);
			kg_buf_printf(b, "\"");
		}
		break;
	case KD_EV_GROUP:
		name_field(b, true, "group", st->name, st->name_len);
		kg_buf_printf(b, ",\"truncated\":%s", st->flags & KD_F_TRUNC ? "true" : "false");
		break;
	case KD_EV_SASL_MECH:
		name_field(b, true, "mechanism", st->mech_name, st->mech_len);
		break;
	case KD_EV_SASL_USER:
		name_field(b, true, "user", st->user, st->user_len);
		kg_buf_printf(b, ",\"truncated\":%s,\"delegation_token\":%s",
			   st->flags & KD_F_TRUNC ? "true" : "false",
			   st->uflags & KD_U_TOKEN ? "true" : "false");
		break;
	case KD_EV_SESSION:
		if (st->api_key != KAFKA_SHARE_FETCH) {
			kg_buf_printf(b, ",\"session_id\":%d,\"session_epoch\":%d", st->sess_id,
				      st->sess_epoch);
			break;
		}
		if (st->sess_id < 0)
			kg_buf_printf(b, ",\"member_id\":null");
		else
			name_field(b, true, "member_id", st->name, st->name_len);
		kg_buf_printf(b, ",\"truncated\":%s,\"session_epoch\":%d",
			      st->sess_id > (__s32)st->name_len ? "true" : "false", st->sess_epoch);
		break;
	case KD_EV_TSET:
		kg_buf_printf(b, ",\"topics\":\"%s\"", kd_tset_name(st->tset));
		if (st->tset != KD_TS_ALL) {
			name_field(b, true, "pattern", st->name, st->name_len);
			kg_buf_printf(b, ",\"truncated\":%s", st->flags & KD_F_TRUNC ? "true" : "false");
		}
		break;
	case KD_EV_RESOURCE:
		kg_buf_printf(b, ",\"resource_type\":%u", st->rtype);
		break;
	case KD_EV_CURSOR:
		name_field(b, true, "cursor", st->name, st->name_len);
		break;
	case KD_EV_ERRCODE:
	case KD_EV_TERRCODE:
		kg_buf_printf(b, ",\"error_code\":%d", (__s16)st->err_code);
		break;
	case KD_EV_ENTRY:
		kg_buf_printf(b, ",\"begin\":%u,\"end\":%u", st->ent_begin, kd_frame_pos(st));
		break;
	case KD_EV_ERROR:
		kg_buf_printf(b, ",\"reason\":\"%s\",\"fatal\":%s", kd_reason_name(st->reason),
			   st->phase == KD_PH_DEAD ? "true" : "false");
		break;
	}
	kg_buf_printf(b, "}\n");
}

void kd_probe_to_state(const struct kd_probe_event *e, struct kd_state *st)
{
	const struct kd_api *api = e->api_key < KD_API_COUNT ? &kd_apis[e->api_key] : NULL;

	memset(st, 0, sizeof(*st));
	st->reason = e->reason;
	st->tkind = e->tkind;
	st->client_id_len = e->client_id_len;
	st->client_id_null = e->client_id_null;
	st->client_id_full = e->client_id_full;
	st->api_key = e->api_key;
	st->api_version = e->api_version;
	st->corr = e->corr;
	st->frame_size = e->frame_size;
	st->name_len = e->name_len;
	st->user_len = e->user_len;
	st->mech_len = e->mech_len;
	st->flags = e->flags;
	st->uflags = e->uflags;
	st->phase = e->phase;
	st->tset = e->tset;
	st->rtype = e->rtype;
	st->sess_id = e->sess_id;
	st->sess_epoch = e->sess_epoch;
	st->opclass = api ? api->opclass : KG_OP_OTHER;
	memcpy(st->uuid, e->uuid, sizeof(st->uuid));
	memcpy(st->client_id, e->client_id, sizeof(e->client_id));
	memcpy(st->user, e->user, sizeof(e->user));
	memcpy(st->mech_name, e->mech_name, sizeof(e->mech_name));
	memcpy(st->name, e->name, sizeof(e->name));
}
