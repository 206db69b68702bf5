// SPDX-License-Identifier: Apache-2.0
/*
 * The name tables (agent/lib/lib.h): every X-macro of maps/ is expanded here and only
 * here, with one spelling, so a name added to an enum's list reaches `kgate stats`, the
 * metrics, the audit records and the policy language at once.
 */
#include <string.h>

#include "agent/lib/lib.h"
#include "bpf/kafka_decode.h"

#define KG_NAME_ENTRY(sym, name) [sym] = name,

const char *const kg_action_names[KG_ACT__COUNT] = {KG_ACTIONS(KG_NAME_ENTRY)};
const char *const kg_op_names[KG_OP__COUNT] = {KG_OPS(KG_NAME_ENTRY)};
const char *const kd_reason_names[KD_REASON__COUNT] = {KD_REASONS(KG_NAME_ENTRY)};
const char *const kg_psrc_names[KG_PSRC__COUNT] = {KG_PSRCS(KG_NAME_ENTRY)};
const char *const kg_counter_names[KG_C_VERDICT_BASE] = {KG_COUNTERS(KG_NAME_ENTRY)};
const char *const kg_limit_names[KG_LIMIT__COUNT] = {KG_LIMITS(KG_NAME_ENTRY)};

#define NAME_OF(table, i) ((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] : "unknown")

const char *kg_action_name(unsigned int action)
{
	return NAME_OF(kg_action_names, action);
}

const char *kg_op_name(unsigned int op)
{
	return NAME_OF(kg_op_names, op);
}

const char *kd_reason_name(unsigned int reason)
{
	return NAME_OF(kd_reason_names, reason);
}

const char *kg_psrc_name(unsigned int src)
{
	return NAME_OF(kg_psrc_names, src);
}

const char *kg_limit_name(unsigned int limit)
{
	return NAME_OF(kg_limit_names, limit);
}

const char *kg_counter_name(unsigned int counter)
{
	return NAME_OF(kg_counter_names, counter);
}

const char *kg_mode_name(unsigned int mode)
{
	return mode == KG_MODE_MONITOR ? "monitor" : "enforce";
}

int kg_name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return i;
	return -1;
}

const char *kg_event_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[KG_EV_TOPIC] = "topic",
		[KG_EV_REQUEST] = "request",
		[KG_EV_UNDECODABLE] = "undecodable",
		[KG_EV_CONNECTION] = "connection",
		[KG_EV_SESSION] = "session",
		[KG_EV_LIMIT] = "limit",
	};
	return NAME_OF(names, kind);
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
		[KD_EV_ENTRY] = "entry",	 [KD_EV_RESOURCE] = "resource",
	};
	return NAME_OF(names, ev);
}

const char *kd_tset_name(unsigned int tset)
{
	static const char *const names[] = {
		[KD_TS_ALL] = "all", [KD_TS_PREFIX] = "prefix", [KD_TS_MATCH] = "match",
		[KD_TS_REGEX] = "regex",
	};
	return tset < sizeof(names) / sizeof(names[0]) && names[tset] ? names[tset] : "unknown";
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
