// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode_report.h"
#include "bpf/kafka_decode.h"

void kdr_printf(struct kdr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		b->cap = (b->cap + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

void kdr_free(struct kdr_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void kdr_json_bytes(struct kdr_buf *b, const __u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			kdr_printf(b, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			kdr_printf(b, "\\u%04x", p[i]);
		else
			kdr_printf(b, "%c", p[i]);
	}
}

void kdr_text_bytes(struct kdr_buf *b, const __u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '\\' || p[i] == ',')
			kdr_printf(b, "\\x%02x", p[i]);
		else
			kdr_printf(b, "%c", p[i]);
	}
}

#define KG_NAME_ENTRY(sym, name) [sym] = name,
static const char *const reason_names[] = { KD_REASONS(KG_NAME_ENTRY) };
static const char *const op_names[] = { KG_OPS(KG_NAME_ENTRY) };

const char *kd_reason_name(unsigned int reason)
{
	return reason < KD_REASON__COUNT ? reason_names[reason] : "unknown";
}

const char *kg_op_name(unsigned int op)
{
	return op < KG_OP__COUNT ? op_names[op] : "unknown";
}

const char *kd_tset_name(unsigned int tset)
{
	static const char *const names[] = {
		[KD_TS_ALL] = "all", [KD_TS_PREFIX] = "prefix", [KD_TS_MATCH] = "match",
		[KD_TS_REGEX] = "regex",
	};
	return tset < sizeof(names) / sizeof(names[0]) && names[tset] ? names[tset] : "unknown";
}

const char *kd_event_name(unsigned int ev)
{
	static const char *const names[] = {
		[KD_EV_NEED_MORE] = "need_more", [KD_EV_CONTINUE] = "continue",
		[KD_EV_FRAME] = "frame",	 [KD_EV_TOPIC] = "topic",
		[KD_EV_GROUP] = "group",	 [KD_EV_SASL_MECH] = "sasl_mechanism",
		[KD_EV_SASL_USER] = "sasl_user", [KD_EV_FRAME_END] = "frame_end",
		[KD_EV_ERROR] = "error",	 [KD_EV_SESSION] = "fetch_session",
		[KD_EV_RESP] = "response",	 [KD_EV_ERRCODE] = "error_code",
		[KD_EV_TERRCODE] = "topic_error_code", [KD_EV_RAWRESP] = "sasl_raw_response",
		[KD_EV_TSET] = "topic_set",	 [KD_EV_CURSOR] = "cursor",
		[KD_EV_ENTRY] = "entry",
	};
	return ev < sizeof(names) / sizeof(names[0]) && names[ev] ? names[ev] : "unknown";
}

const char *kafka_api_name(unsigned int key)
{
	/* Kafka's names (ApiKeys.java); display only: the decoder works from kd_apis. */
	static const char *const names[KD_API_COUNT] = {
		"Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
		"UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator",
		"JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups",
		"SaslHandshake", "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords",
		"InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn",
		"WriteTxnMarkers", "TxnOffsetCommit", "DescribeAcls", "CreateAcls", "DeleteAcls",
		"DescribeConfigs", "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
		"SaslAuthenticate", "CreatePartitions", "CreateDelegationToken", "RenewDelegationToken",
		"ExpireDelegationToken", "DescribeDelegationToken", "DeleteGroups", "ElectLeaders",
		"IncrementalAlterConfigs", "AlterPartitionReassignments", "ListPartitionReassignments",
		"OffsetDelete", "DescribeClientQuotas", "AlterClientQuotas", "DescribeUserScramCredentials",
		"AlterUserScramCredentials", "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "DescribeQuorum",
		"AlterPartition", "UpdateFeatures", "Envelope", "FetchSnapshot", "DescribeCluster",
		"DescribeProducers", "BrokerRegistration", "BrokerHeartbeat", "UnregisterBroker",
		"DescribeTransactions", "ListTransactions", "AllocateProducerIds", "ConsumerGroupHeartbeat",
		"ConsumerGroupDescribe", "ControllerRegistration", "GetTelemetrySubscriptions",
		"PushTelemetry", "AssignReplicasToDirs", "ListConfigResources", "DescribeTopicPartitions",
		"ShareGroupHeartbeat", "ShareGroupDescribe", "ShareFetch", "ShareAcknowledge",
		"AddRaftVoter", "RemoveRaftVoter", "UpdateRaftVoter", "InitializeShareGroupState",
		"ReadShareGroupState", "WriteShareGroupState", "DeleteShareGroupState",
		"ReadShareGroupStateSummary", "StreamsGroupHeartbeat", "StreamsGroupDescribe",
		"DescribeShareGroupOffsets", "AlterShareGroupOffsets", "DeleteShareGroupOffsets",
		"GetReplicaLogInfo",
	};
	if (key == KD_KEY_SASL_RAW)
		return "SaslRawToken";
	return key < KD_API_COUNT ? names[key] : NULL;
}

static void uuid_hex(struct kdr_buf *b, const __u8 *u)
{
	for (int i = 0; i < 16; i++)
		kdr_printf(b, "%02x", u[i]);
}

void kdr_event_text(struct kdr_buf *b, const struct kd_state *st, int ev)
{
	switch (ev) {
	case KD_EV_FRAME:
		kdr_printf(b, "frame key=%u ver=%u corr=%d size=%u client=", st->api_key,
			   st->api_version, st->corr, st->frame_size);
		if (st->client_id_null == 1) {
			kdr_printf(b, "-");
		} else {
			kdr_text_bytes(b, st->client_id, st->client_id_len);
			if (st->client_id_null == KD_CLIENT_ID_CUT)
				kdr_printf(b, "...");
		}
		kdr_printf(b, "\n");
		break;
	case KD_EV_TOPIC:
		kdr_printf(b, "topic");
		if (st->tkind & KD_TK_NAME) {
			kdr_printf(b, " name=");
			kdr_text_bytes(b, st->name, st->name_len);
		}
		if (st->tkind & KD_TK_ID) {
			kdr_printf(b, " id=");
			uuid_hex(b, st->uuid);
		}
		if (st->tkind & KD_TK_ZID)
			kdr_printf(b, " zid");
		if (!st->tkind)
			kdr_printf(b, " null");
		kdr_printf(b, "\n");
		break;
	case KD_EV_TSET:
		kdr_printf(b, "topics %s", kd_tset_name(st->tset));
		if (st->tset != KD_TS_ALL) {
			kdr_printf(b, "=");
			kdr_text_bytes(b, st->name, st->name_len);
			if (st->flags & KD_F_TRUNC)
				kdr_printf(b, " (truncated)");
		}
		kdr_printf(b, "\n");
		break;
	case KD_EV_CURSOR:
		kdr_printf(b, "cursor name=");
		kdr_text_bytes(b, st->name, st->name_len);
		kdr_printf(b, "\n");
		break;
	case KD_EV_SESSION:
		kdr_printf(b, "session id=%d epoch=%d\n", st->sess_id, st->sess_epoch);
		break;
	case KD_EV_RESP:
		kdr_printf(b, "response corr=%d size=%u\n", st->corr, st->frame_size);
		break;
	case KD_EV_ERRCODE:
	case KD_EV_TERRCODE:
		kdr_printf(b, "%s %d\n", kd_event_name(ev), (__s16)st->err_code);
		break;
	case KD_EV_ENTRY:
		/* offsets from the frame's first byte (its size field) */
		kdr_printf(b, "entry begin=%u end=%u\n", st->ent_begin, kd_frame_pos(st));
		break;
	case KD_EV_GROUP:
		kdr_printf(b, "group ");
		kdr_text_bytes(b, st->name, st->name_len);
		kdr_printf(b, "%s\n", st->flags & KD_F_TRUNC ? " (truncated)" : "");
		break;
	case KD_EV_SASL_MECH:
		kdr_printf(b, "mechanism ");
		kdr_text_bytes(b, st->mech_name, st->mech_len);
		kdr_printf(b, "\n");
		break;
	case KD_EV_SASL_USER:
		kdr_printf(b, "user ");
		kdr_text_bytes(b, st->user, st->user_len);
		kdr_printf(b, "%s%s\n", st->flags & KD_F_TRUNC ? " (truncated)" : "",
			   st->uflags & KD_U_TOKEN ? " (delegation token)" : "");
		break;
	case KD_EV_FRAME_END:
		kdr_printf(b, "end\n");
		break;
	case KD_EV_ERROR:
		kdr_printf(b, "error %s%s\n", kd_reason_name(st->reason),
			   st->phase == KD_PH_DEAD ? "" : " (frame skipped)");
		break;
	}
}

void kdr_event_json(struct kdr_buf *b, const struct kd_state *st, int ev)
{
	const char *api = kafka_api_name(st->api_key);

	kdr_printf(b, "{\"event\":\"%s\"", kd_event_name(ev));
	if (ev != KD_EV_ERROR || st->api_key || st->frame_size) {
		kdr_printf(b, ",\"api_key\":%u,\"api\":\"%s\",\"api_version\":%u,"
			   "\"correlation_id\":%d,\"operation\":\"%s\"",
			   st->api_key, api ? api : "unknown", st->api_version, st->corr,
			   kg_op_name(st->opclass));
	}
	switch (ev) {
	case KD_EV_FRAME:
		kdr_printf(b, ",\"size\":%u,\"client_id\":", st->frame_size);
		if (st->client_id_null == 1) {
			kdr_printf(b, "null");
		} else {
			kdr_printf(b, "\"");
			kdr_json_bytes(b, st->client_id, st->client_id_len);
			kdr_printf(b, "\",\"client_id_length\":%u,\"client_id_truncated\":%s",
				   st->client_id_full,
				   st->client_id_null == KD_CLIENT_ID_CUT ? "true" : "false");
		}
		break;
	case KD_EV_TOPIC:
		if (st->tkind & KD_TK_NAME) {
			kdr_printf(b, ",\"topic\":\"");
			kdr_json_bytes(b, st->name, st->name_len);
			kdr_printf(b, "\"");
		} else {
			kdr_printf(b, ",\"topic\":null");
		}
		if (st->tkind & KD_TK_ID) {
			kdr_printf(b, ",\"topic_id\":\"");
			uuid_hex(b, st->uuid);
			kdr_printf(b, "\"");
		}
		break;
	case KD_EV_GROUP:
		kdr_printf(b, ",\"group\":\"");
		kdr_json_bytes(b, st->name, st->name_len);
		kdr_printf(b, "\",\"truncated\":%s", st->flags & KD_F_TRUNC ? "true" : "false");
		break;
	case KD_EV_SASL_MECH:
		kdr_printf(b, ",\"mechanism\":\"");
		kdr_json_bytes(b, st->mech_name, st->mech_len);
		kdr_printf(b, "\"");
		break;
	case KD_EV_SASL_USER:
		kdr_printf(b, ",\"user\":\"");
		kdr_json_bytes(b, st->user, st->user_len);
		kdr_printf(b, "\",\"truncated\":%s,\"delegation_token\":%s",
			   st->flags & KD_F_TRUNC ? "true" : "false",
			   st->uflags & KD_U_TOKEN ? "true" : "false");
		break;
	case KD_EV_SESSION:
		kdr_printf(b, ",\"session_id\":%d,\"session_epoch\":%d", st->sess_id, st->sess_epoch);
		break;
	case KD_EV_TSET:
		kdr_printf(b, ",\"topics\":\"%s\"", kd_tset_name(st->tset));
		if (st->tset != KD_TS_ALL) {
			kdr_printf(b, ",\"pattern\":\"");
			kdr_json_bytes(b, st->name, st->name_len);
			kdr_printf(b, "\",\"truncated\":%s", st->flags & KD_F_TRUNC ? "true" : "false");
		}
		break;
	case KD_EV_CURSOR:
		kdr_printf(b, ",\"cursor\":\"");
		kdr_json_bytes(b, st->name, st->name_len);
		kdr_printf(b, "\"");
		break;
	case KD_EV_ERRCODE:
	case KD_EV_TERRCODE:
		kdr_printf(b, ",\"error_code\":%d", (__s16)st->err_code);
		break;
	case KD_EV_ENTRY:
		kdr_printf(b, ",\"begin\":%u,\"end\":%u", st->ent_begin, kd_frame_pos(st));
		break;
	case KD_EV_ERROR:
		kdr_printf(b, ",\"reason\":\"%s\",\"fatal\":%s", kd_reason_name(st->reason),
			   st->phase == KD_PH_DEAD ? "true" : "false");
		break;
	}
	kdr_printf(b, "}\n");
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
	st->sess_id = e->sess_id;
	st->sess_epoch = e->sess_epoch;
	st->opclass = api ? api->opclass : KG_OP_OTHER;
	memcpy(st->uuid, e->uuid, sizeof(st->uuid));
	memcpy(st->client_id, e->client_id, sizeof(e->client_id));
	memcpy(st->user, e->user, sizeof(e->user));
	memcpy(st->mech_name, e->mech_name, sizeof(e->mech_name));
	memcpy(st->name, e->name, sizeof(e->name));
}
