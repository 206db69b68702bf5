/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka request layouts as data, read by the interpreter in kafka_decode.h.
 *
 * Each decoded API has one program: a list of ops, each applying to the versions
 * [vmin, vmax]. Types switch to their compact forms in flexible versions
 * (v >= flex_min), and every struct ends with a tagged-field section there, which
 * the interpreter reads by itself at each END and at the end of the program.
 * Sources: Kafka's clients/src/main/resources/common/message/<Name>Request.json
 * (3.9 for versions 4.0 removed, 4.3 for the newest) and docs/kafka-wire.md. Every
 * program and the api table are checked against Kafka's definitions by the conformance
 * run (tests/conformance: make test-conformance).
 */
#ifndef KAFKA_LAYOUTS_H
#define KAFKA_LAYOUTS_H

#include "../maps/kgate_abi.h"

/* Kafka api keys named by the decoder and the datapath. */
enum kafka_api_key {
	KAFKA_PRODUCE = 0,
	KAFKA_FETCH = 1,
	KAFKA_LIST_OFFSETS = 2,
	KAFKA_METADATA = 3,
	KAFKA_CONTROLLED_SHUTDOWN = 7,
	KAFKA_OFFSET_COMMIT = 8,
	KAFKA_OFFSET_FETCH = 9,
	KAFKA_SASL_HANDSHAKE = 17,
	KAFKA_API_VERSIONS = 18,
	KAFKA_CREATE_TOPICS = 19,
	KAFKA_DELETE_TOPICS = 20,
	KAFKA_DELETE_RECORDS = 21,
	KAFKA_OFFSET_FOR_LEADER_EPOCH = 23,
	KAFKA_ADD_PARTITIONS_TO_TXN = 24,
	KAFKA_TXN_OFFSET_COMMIT = 28,
	KAFKA_DESCRIBE_ACLS = 29,
	KAFKA_CREATE_ACLS = 30,
	KAFKA_DELETE_ACLS = 31,
	KAFKA_DESCRIBE_CONFIGS = 32,
	KAFKA_ALTER_CONFIGS = 33,
	KAFKA_SASL_AUTHENTICATE = 36,
	KAFKA_CREATE_PARTITIONS = 37,
	KAFKA_DELETE_GROUPS = 42,
	KAFKA_ELECT_LEADERS = 43,
	KAFKA_INCREMENTAL_ALTER_CONFIGS = 44,
	KAFKA_ALTER_PARTITION_REASSIGNMENTS = 45,
	KAFKA_LIST_PARTITION_REASSIGNMENTS = 46,
	KAFKA_OFFSET_DELETE = 47,
	KAFKA_FETCH_SNAPSHOT = 59,
	KAFKA_CONSUMER_GROUP_HEARTBEAT = 68,
	KAFKA_LIST_CONFIG_RESOURCES = 74,
	KAFKA_SHARE_GROUP_HEARTBEAT = 76,
	KAFKA_SHARE_FETCH = 78,
	KAFKA_DESCRIBE_PRODUCERS = 61,
};

/*
 * Tagged fields the broker knows inside a request's topic list. Kafka's generated code
 * reads a tag it knows by its type and ignores the size the field declares, while the
 * decoder skips tagged fields by that size: a field of another size would make the two
 * read different topics, so its size must be its type's (else KD_ERR_LEN_OVER, in
 * kd_tagged). depth: the arrays and structs open around the field (a topic list's
 * entries 1, their partitions 2). Top-level tagged fields come after every topic and
 * cannot change them. The conformance run checks that this table holds every nested
 * tagged field of a fixed-size type in the requests the decoder reads, and no other.
 */
struct kd_known_tag {
	__u8 key;   /* enum kafka_api_key */
	__u8 depth;
	__u8 tag;
	__u8 vmin;  /* the first version that knows the tag (it stays known after) */
	__u8 size;  /* the type's size */
};

static const struct kd_known_tag kd_known_tags[] = {
	{ KAFKA_FETCH, 2, 0, 17, 16 },         /* Topics.Partitions.ReplicaDirectoryId: uuid */
	{ KAFKA_FETCH, 2, 1, 18, 8 },          /* Topics.Partitions.HighWatermark: int64 */
	{ KAFKA_FETCH_SNAPSHOT, 2, 0, 1, 16 }, /* Topics.Partitions.ReplicaDirectoryId: uuid */
};

#define KD_KNOWN_TAGS (sizeof(kd_known_tags) / sizeof(kd_known_tags[0]))

/* ConfigResource.Type TOPIC: only these resources name a topic. */
#define KAFKA_RESOURCE_TOPIC 2

enum kd_opcode {
	KD_OP_SKIP = 1, /* arg fixed bytes */
	KD_OP_STR,      /* string, content skipped; arg = first version where null is valid */
	KD_OP_BYTES,    /* bytes/records (i32 or compact length), skipped; arg as KD_OP_STR */
	KD_OP_ARR,      /* array of structs begins; arg as KD_OP_STR */
	KD_OP_END,      /* end of one array element; arg KD_END_PRIM = element is not a struct */
	KD_OP_ARRP,     /* array of fixed-size primitives; arg = element size in bytes */
	KD_OP_NAME,     /* topic name (string), kept; arg as KD_OP_STR */
	KD_OP_RNAME,    /* resource name: a topic name when the resource type is TOPIC */
	KD_OP_UUID,     /* topic id, kept */
	KD_OP_EMIT,     /* report the topic entry gathered by NAME/RNAME/UUID */
	KD_OP_RTYPE,    /* i8 resource type, kept */
	KD_OP_GROUP,    /* group id (string), reported */
	KD_OP_MECH,     /* SASL mechanism (string), reported */
	KD_OP_AUTH,     /* SASL auth bytes: the user name is parsed out and reported */
	KD_OP_SESSION,  /* Fetch session_id i32 + session_epoch i32, reported; arg KD_SESS_SHARE:
			 * a ShareFetch's share_session_epoch i32, after its member id (KNAME) */
	KD_OP_ERR,      /* response: a topic's partition error_code i16, reported */
	KD_OP_TERR,     /* response: a topic's own error_code, before its name, reported */
	KD_OP_ACKS,     /* Produce acks i16 (kept: acks=0 gets no response) + timeout i32 */
	KD_OP_STRUCT,   /* a struct field begins (one element, closed by END); arg as KD_OP_STR:
			 * from that version a nullable struct, an i8 marker first (< 0: null) */
	KD_OP_ARRA,     /* array of topic structs whose null (KD_ARRA_NULL_FROM of arg) or, with
			 * KD_ARRA_EMPTY in arg and in versions where it cannot be null, whose
			 * emptiness asks for every topic: reported (KD_EV_TSET, KD_TS_ALL) */
	KD_OP_ALL,      /* the request asks about every topic (KD_EV_TSET, KD_TS_ALL) */
	KD_OP_REGEX,    /* a subscribed regular expression (string, arg as KD_OP_STR): a
			 * non-empty one is reported (KD_EV_TSET, KD_TS_REGEX) */
	KD_OP_ANAME,    /* ACL resource name (arg as KD_OP_STR), kept for types TOPIC and ANY */
	KD_OP_PTYPE,    /* i8 ACL pattern type, kept */
	KD_OP_AEMIT,    /* report the ACL resource: a topic, or a set of topics (acl class) */
	KD_OP_CNAME,    /* a cursor's topic name, reported (KD_EV_CURSOR) */
	KD_OP_EBEGIN,   /* response: a topic entry begins here (kd_state.ent_begin) */
	KD_OP_KNAME,    /* resource name before its type: kept (up to KD_TOPIC_MAX bytes) */
	KD_OP_REMIT,    /* report the KNAME resource as a topic if its type is TOPIC */
	KD_OP_CEMIT,    /* a request's config resource (RTYPE + RNAME): its topic as EMIT, or
			 * one that is not a topic (KD_EV_RESOURCE) */
};

/* KD_OP_SESSION's arg for a share session (KIP-932), keyed by group and member id. */
#define KD_SESS_SHARE 1

/* KD_OP_ARRA's arg: the first version where null asks for every topic, and a flag. */
#define KD_ARRA_NULL_FROM(arg) ((arg) & 0x7f) /* 0x7f: never null */
#define KD_ARRA_EMPTY 0x80 /* an empty array asks for every topic (where null cannot) */

/* ACL resource and pattern types (org.apache.kafka.common.resource). */
#define KAFKA_ACL_RESOURCE_ANY 1
#define KAFKA_ACL_PATTERN_ANY 1
#define KAFKA_ACL_PATTERN_MATCH 2
#define KAFKA_ACL_PATTERN_LITERAL 3
#define KAFKA_ACL_PATTERN_PREFIXED 4

#define KD_NEVER 255     /* "null is never valid" / "never flexible" */
#define KD_END_PRIM 1    /* array of strings: no tagged fields per element */
#define KD_END_ENTRY 2   /* response: each element is a topic entry (KD_EV_ENTRY at its end) */
#define KD_VMAX 255

struct kd_op {
	__u8 code; /* enum kd_opcode */
	__u8 vmin; /* first version the op applies to */
	__u8 vmax; /* last version the op applies to */
	__u8 arg;
} __attribute__((aligned(4))); /* read as one word, not four bytes */

struct kd_api {
	__u8 known;    /* a Kafka api key; unknown keys end decoding */
	__u8 max_ver;  /* highest version known; above -> KD_ERR_UNKNOWN_API */
	__u8 flex_min; /* first flexible version, KD_NEVER if none */
	__u8 opclass;  /* enum kg_op */
	__u16 prog;    /* first op in kd_prog, when prog_len > 0 */
	__u8 prog_len; /* 0: body not decoded, skipped by the frame size */
	__u8 topics;   /* 1: the body names topics the decoder does not decode */
	__u16 rprog;   /* the response's program, when rprog_len > 0 */
	__u8 rprog_len; /* 0: responses not read (skipped by their size) */
	__u8 pad;
};

#define OPV(c, a, b, x) { .code = (c), .vmin = (a), .vmax = (b), .arg = (x) }
#define OP(c, x) OPV(c, 0, KD_VMAX, x)
#define END OP(KD_OP_END, 0)
#define ENDP OP(KD_OP_END, KD_END_PRIM)
#define EMIT OP(KD_OP_EMIT, 0)
#define ENDE OP(KD_OP_END, KD_END_ENTRY)
/* A topics array whose entries begin with the topic's name, or its id. */
#define KD_TOPICS_BY_NAME OP(KD_OP_ARR, KD_NEVER), OP(KD_OP_NAME, KD_NEVER), EMIT
#define KD_TOPICS_BY_ID OP(KD_OP_ARR, KD_NEVER), OP(KD_OP_UUID, 0), EMIT
/* Topic names with their partition indexes, a null array asking for every topic. */
#define KD_ALL_OR_TOPIC_PARTITIONS \
	OP(KD_OP_ARRA, 0), OP(KD_OP_NAME, KD_NEVER), EMIT, OP(KD_OP_ARRP, 4), END
/* A response's partitions: index, error_code (reported), error_message. */
#define KD_PARTITION_ERRORS \
	OP(KD_OP_ARR, KD_NEVER), OP(KD_OP_SKIP, 4), OP(KD_OP_ERR, 0), OP(KD_OP_STR, 0), END
/* A response's topic entries that begin with the topic's name. */
#define KD_ENTRIES_BY_NAME OP(KD_OP_ARR, KD_NEVER), EBEGIN, OP(KD_OP_NAME, KD_NEVER), EMIT
#define EBEGIN OP(KD_OP_EBEGIN, 0)
#define AEMIT OP(KD_OP_AEMIT, 0)
#define CEMIT OP(KD_OP_CEMIT, 0)

/*
 * The programs. Each is a macro so that its length is counted by the compiler
 * (KD_N) and the offsets in kd_prog below need no hand arithmetic.
 */
/* Produce (0): flexible from v9; topic_id replaces name on v13. */
#define KD_PROG_PRODUCE \
	OPV(KD_OP_STR, 3, KD_VMAX, 3),           /* transactional_id NS */ \
	OP(KD_OP_ACKS, 0),                       /* acks i16, timeout_ms i32 */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topic_data */ \
	OPV(KD_OP_NAME, 0, 12, KD_NEVER),         \
	OPV(KD_OP_UUID, 13, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partition_data */ \
	OP(KD_OP_SKIP, 4),                       /* index */ \
	OP(KD_OP_BYTES, 0),                      /* records: skipped by length */ \
	END,                                      \
	END

/* Fetch (1): flexible from v12; topic_id from v13; replica_id tagged from v15. */
#define KD_PROG_FETCH \
	OPV(KD_OP_SKIP, 0, 14, 4),               /* replica_id */ \
	OP(KD_OP_SKIP, 8),                       /* max_wait_ms, min_bytes */ \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* max_bytes */ \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 1),          /* isolation_level */ \
	OPV(KD_OP_SESSION, 7, KD_VMAX, 0),       /* session_id, session_epoch */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OPV(KD_OP_NAME, 0, 12, KD_NEVER),         \
	OPV(KD_OP_UUID, 13, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition */ \
	OPV(KD_OP_SKIP, 9, KD_VMAX, 4),          /* current_leader_epoch */ \
	OP(KD_OP_SKIP, 8),                       /* fetch_offset */ \
	OPV(KD_OP_SKIP, 12, KD_VMAX, 4),         /* last_fetched_epoch */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 8),          /* log_start_offset */ \
	OP(KD_OP_SKIP, 4),                       /* partition_max_bytes */ \
	END,                                      \
	END,                                      \
	OPV(KD_OP_ARR, 7, KD_VMAX, KD_NEVER),    /* forgotten_topics_data: not acted on, not reported */ \
	OPV(KD_OP_STR, 7, 12, KD_NEVER),          \
	OPV(KD_OP_SKIP, 13, KD_VMAX, 16),         \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END,                                      \
	OPV(KD_OP_STR, 11, KD_VMAX, KD_NEVER)    /* rack_id */

/* ListOffsets (2): flexible from v6. */
#define KD_PROG_LIST_OFFSETS \
	OP(KD_OP_SKIP, 4),                       /* replica_id */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 1),          /* isolation_level */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 4),          /* current_leader_epoch */ \
	OP(KD_OP_SKIP, 8),                       /* timestamp */ \
	OPV(KD_OP_SKIP, 0, 0, 4),                /* max_num_offsets */ \
	END,                                      \
	END,                                      \
	OPV(KD_OP_SKIP, 10, KD_VMAX, 4)          /* timeout_ms */

/* Metadata (3): flexible from v9; entries are topic_id + nullable name from v10. */
#define KD_PROG_METADATA \
	OP(KD_OP_ARRA, KD_ARRA_EMPTY | 1),       /* topics: all when null (v1+), empty (v0) */ \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),          \
	OP(KD_OP_NAME, 10),                       \
	EMIT,                                     \
	END,                                      \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 1),          /* allow_auto_topic_creation */ \
	OPV(KD_OP_SKIP, 8, 10, 1),               /* include_cluster_authorized_operations */ \
	OPV(KD_OP_SKIP, 8, KD_VMAX, 1)           /* include_topic_authorized_operations */

/* OffsetCommit (8): flexible from v8; topic_id from v10. */
#define KD_PROG_OFFSET_COMMIT \
	OP(KD_OP_GROUP, KD_NEVER),                      /* group_id */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* generation_id_or_member_epoch */ \
	OPV(KD_OP_STR, 1, KD_VMAX, KD_NEVER),    /* member_id */ \
	OPV(KD_OP_SKIP, 2, 4, 8),                /* retention_time_ms */ \
	OPV(KD_OP_STR, 7, KD_VMAX, 7),           /* group_instance_id NS */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OPV(KD_OP_NAME, 0, 9, KD_NEVER),          \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, committed_offset */ \
	OPV(KD_OP_SKIP, 6, KD_VMAX, 4),          /* committed_leader_epoch */ \
	OPV(KD_OP_SKIP, 1, 1, 8),                /* commit_timestamp */ \
	OP(KD_OP_STR, 0),                        /* committed_metadata NS */ \
	END,                                      \
	END

/* OffsetFetch (9): flexible from v6; groups array from v8; topic_id on v10. */
#define KD_PROG_OFFSET_FETCH \
	OPV(KD_OP_GROUP, 0, 7, KD_NEVER),               /* group_id */ \
	OPV(KD_OP_ARRA, 0, 7, 2),                /* topics: null = all from v2 */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partition_indexes */ \
	END,                                      \
	OPV(KD_OP_ARR, 8, KD_VMAX, KD_NEVER),    /* groups */ \
	OP(KD_OP_GROUP, KD_NEVER),                      /* group_id */ \
	OPV(KD_OP_STR, 9, KD_VMAX, 9),           /* member_id CNS */ \
	OPV(KD_OP_SKIP, 9, KD_VMAX, 4),          /* member_epoch */ \
	OP(KD_OP_ARRA, 8),                       /* topics: null = all */ \
	OPV(KD_OP_NAME, 0, 9, KD_NEVER),          \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partition_indexes */ \
	END,                                      \
	END,                                      \
	OPV(KD_OP_SKIP, 7, KD_VMAX, 1)           /* require_stable */

/* CreateTopics (19): flexible from v5. */
#define KD_PROG_CREATE_TOPICS \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_SKIP, 6),                       /* num_partitions i32, replication_factor i16 */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* assignments */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ARRP, 4),                       /* broker_ids */ \
	END,                                      \
	OP(KD_OP_ARR, KD_NEVER),                 /* configs */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	END,                                      \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* timeout_ms */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1)           /* validate_only */

/* DeleteTopics (20): flexible from v4; name + topic_id entries from v6. */
#define KD_PROG_DELETE_TOPICS \
	OPV(KD_OP_ARR, 0, 5, KD_NEVER),          /* topic_names: an array of strings */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	ENDP,                                     \
	OPV(KD_OP_ARR, 6, KD_VMAX, KD_NEVER),    /* topics */ \
	OP(KD_OP_NAME, 6),                       /* name CNS */ \
	OP(KD_OP_UUID, 0),                       /* topic_id */ \
	EMIT,                                     \
	END,                                      \
	OP(KD_OP_SKIP, 4)                        /* timeout_ms */

/* DeleteRecords (21): flexible from v2. */
#define KD_PROG_DELETE_RECORDS \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index i32, offset i64 */ \
	END,                                      \
	END,                                      \
	OP(KD_OP_SKIP, 4)                        /* timeout_ms */

/* AddPartitionsToTxn (24): flexible from v3; batched transactions from v4. */
#define KD_PROG_ADD_PARTITIONS \
	OPV(KD_OP_ARR, 4, KD_VMAX, KD_NEVER),    /* transactions */ \
	OP(KD_OP_STR, KD_NEVER),                 /* transactional_id */ \
	OP(KD_OP_SKIP, 11),                      /* producer_id i64, producer_epoch i16, verify_only bool */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END,                                      \
	END,                                      \
	OPV(KD_OP_STR, 0, 3, KD_NEVER),          /* v3_and_below_transactional_id */ \
	OPV(KD_OP_SKIP, 0, 3, 10),               /* producer_id, producer_epoch */ \
	OPV(KD_OP_ARR, 0, 3, KD_NEVER),          /* v3_and_below_topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                        \
	END

/* DescribeConfigs (32): flexible from v4. */
#define KD_PROG_DESCRIBE_CONFIGS \
	OP(KD_OP_ARR, KD_NEVER),                 /* resources */ \
	OP(KD_OP_RTYPE, 0),                       \
	OP(KD_OP_RNAME, KD_NEVER),                \
	CEMIT,                                    \
	OP(KD_OP_ARR, 0),                        /* configuration_keys: nullable array of strings */ \
	OP(KD_OP_STR, KD_NEVER),                  \
	ENDP,                                     \
	END,                                      \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* include_synonyms */ \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 1)           /* include_documentation */

/* AlterConfigs (33): flexible from v2. */
#define KD_PROG_ALTER_CONFIGS \
	OP(KD_OP_ARR, KD_NEVER),                 /* resources */ \
	OP(KD_OP_RTYPE, 0),                       \
	OP(KD_OP_RNAME, KD_NEVER),                \
	CEMIT,                                    \
	OP(KD_OP_ARR, KD_NEVER),                 /* configs */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	END,                                      \
	END,                                      \
	OP(KD_OP_SKIP, 1)                        /* validate_only */

/* ApiVersions (18): flexible from v3. */
#define KD_PROG_API_VERSIONS \
	OPV(KD_OP_STR, 3, KD_VMAX, KD_NEVER),    /* client_software_name */ \
	OPV(KD_OP_STR, 3, KD_VMAX, KD_NEVER)     /* client_software_version */

/* SaslHandshake (17): never flexible. */
#define KD_PROG_SASL_HANDSHAKE \
	OP(KD_OP_MECH, KD_NEVER)

/* SaslAuthenticate (36): flexible from v2. */
#define KD_PROG_SASL_AUTH \
	OP(KD_OP_AUTH, KD_NEVER)

/* OffsetForLeaderEpoch (23): flexible from v4 (v0-1 removed in Kafka 4.0). */
#define KD_PROG_OFFSET_FOR_LEADER_EPOCH \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* replica_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                /* topic */ \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 4),          /* current_leader_epoch */ \
	OP(KD_OP_SKIP, 4),                       /* leader_epoch */ \
	END,                                      \
	END

/* TxnOffsetCommit (28): flexible from v3. */
#define KD_PROG_TXN_OFFSET_COMMIT \
	OP(KD_OP_STR, KD_NEVER),                 /* transactional_id */ \
	OP(KD_OP_GROUP, KD_NEVER),                      /* group_id */ \
	OP(KD_OP_SKIP, 10),                      /* producer_id i64, producer_epoch i16 */ \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* generation_id */ \
	OPV(KD_OP_STR, 3, KD_VMAX, KD_NEVER),    /* member_id */ \
	OPV(KD_OP_STR, 3, KD_VMAX, 3),           /* group_instance_id NS */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, committed_offset */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 4),          /* committed_leader_epoch */ \
	OP(KD_OP_STR, 0),                        /* committed_metadata NS */ \
	END,                                      \
	END

/* CreatePartitions (37): flexible from v2. */
#define KD_PROG_CREATE_PARTITIONS \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_SKIP, 4),                       /* count */ \
	OP(KD_OP_ARR, 0),                        /* assignments: nullable */ \
	OP(KD_OP_ARRP, 4),                       /* broker_ids */ \
	END,                                      \
	END,                                      \
	OP(KD_OP_SKIP, 5)                        /* timeout_ms i32, validate_only bool */

/* DeleteGroups (42): flexible from v2; no topics, each group id is reported. */
#define KD_PROG_DELETE_GROUPS \
	OP(KD_OP_ARR, KD_NEVER),                 /* groups_names: an array of strings */ \
	OP(KD_OP_GROUP, KD_NEVER),                       \
	ENDP

/* ElectLeaders (43): flexible from v2. */
#define KD_PROG_ELECT_LEADERS \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* election_type */ \
	KD_ALL_OR_TOPIC_PARTITIONS,              /* topic_partitions: null = all partitions */ \
	OP(KD_OP_SKIP, 4)                        /* timeout_ms */

/* IncrementalAlterConfigs (44): flexible from v1. */
#define KD_PROG_INCR_ALTER_CONFIGS \
	OP(KD_OP_ARR, KD_NEVER),                 /* resources */ \
	OP(KD_OP_RTYPE, 0),                       \
	OP(KD_OP_RNAME, KD_NEVER),                \
	CEMIT,                                    \
	OP(KD_OP_ARR, KD_NEVER),                 /* configs */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_SKIP, 1),                       /* config_operation */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	END,                                      \
	END,                                      \
	OP(KD_OP_SKIP, 1)                        /* validate_only */

/*
 * AlterPartitionReassignments (45): flexible from v0. replicas is a nullable
 * []int32 (null cancels a reassignment): ARRP is never nullable, so it is read
 * as an array of 4-byte elements with no tagged fields per element (ENDP).
 */
#define KD_PROG_ALTER_REASSIGNMENTS \
	OP(KD_OP_SKIP, 4),                       /* timeout_ms */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* allow_replication_factor_change */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ARR, 0),                        /* replicas: nullable []int32 */ \
	OP(KD_OP_SKIP, 4),                        \
	ENDP,                                     \
	END,                                      \
	END

/* ListPartitionReassignments (46): flexible from v0. */
#define KD_PROG_LIST_REASSIGNMENTS \
	OP(KD_OP_SKIP, 4),                       /* timeout_ms */ \
	KD_ALL_OR_TOPIC_PARTITIONS               /* topics: null = all reassignments */

/* OffsetDelete (47): never flexible. */
#define KD_PROG_OFFSET_DELETE \
	OP(KD_OP_GROUP, KD_NEVER),                      /* group_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	END,                                      \
	END

/* DescribeProducers (61): flexible from v0. */
#define KD_PROG_DESCRIBE_PRODUCERS \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partition_indexes */ \
	END

/*
 * Requests that name topics beyond the clients' everyday ones -- transaction markers, ACLs,
 * log dirs, partitions, snapshots, share groups -- as Kafka 4.3 defines them
 * (tests/conformance checks each against those definitions). ACL resources are reported
 * by what they cover (KD_OP_AEMIT).
 */

/* WriteTxnMarkers (27): flexible from v1 (sent by transaction coordinators). */
#define KD_PROG_WRITE_TXN_MARKERS \
	OP(KD_OP_ARR, KD_NEVER),                 /* markers */ \
	OP(KD_OP_SKIP, 11),                      /* producer_id, producer_epoch, transaction_result */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARRP, 4),                       /* partition_indexes */ \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* coordinator_epoch */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 1),          /* transaction_version */ \
	END

/* DescribeAcls (29): one filter; flexible from v2; pattern type from v1. */
#define KD_PROG_DESCRIBE_ACLS \
	OP(KD_OP_RTYPE, 0),                      /* resource_type_filter */ \
	OP(KD_OP_ANAME, 0),                      /* resource_name_filter (null: any) */ \
	OPV(KD_OP_PTYPE, 1, KD_VMAX, 0),         /* pattern_type_filter */ \
	AEMIT,                                    \
	OP(KD_OP_STR, 0),                        /* principal_filter */ \
	OP(KD_OP_STR, 0),                        /* host_filter */ \
	OP(KD_OP_SKIP, 2)                        /* operation, permission_type */

/* CreateAcls (30): flexible from v2; pattern type from v1. */
#define KD_PROG_CREATE_ACLS \
	OP(KD_OP_ARR, KD_NEVER),                 /* creations */ \
	OP(KD_OP_RTYPE, 0),                      /* resource_type */ \
	OP(KD_OP_ANAME, KD_NEVER),               /* resource_name */ \
	OPV(KD_OP_PTYPE, 1, KD_VMAX, 0),         /* resource_pattern_type */ \
	AEMIT,                                    \
	OP(KD_OP_STR, KD_NEVER),                 /* principal */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 2),                       /* operation, permission_type */ \
	END

/* DeleteAcls (31): filters as DescribeAcls'; flexible from v2. */
#define KD_PROG_DELETE_ACLS \
	OP(KD_OP_ARR, KD_NEVER),                 /* filters */ \
	KD_PROG_DESCRIBE_ACLS,                    \
	END

/* AlterReplicaLogDirs (34): flexible from v2. */
#define KD_PROG_ALTER_REPLICA_LOG_DIRS \
	OP(KD_OP_ARR, KD_NEVER),                 /* dirs */ \
	OP(KD_OP_STR, KD_NEVER),                 /* path */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END,                                      \
	END

/* DescribeLogDirs (35): flexible from v2. */
#define KD_PROG_DESCRIBE_LOG_DIRS \
	KD_ALL_OR_TOPIC_PARTITIONS               /* topics: null = all topics */

/*
 * Vote (52), BeginQuorumEpoch (53), EndQuorumEpoch (54), DescribeQuorum (55): KRaft
 * quorum requests (the metadata topic); flexible from v0.
 */
/* cluster_id, voter_id (v1+), topics, and each topic's partitions begin */
#define KD_PROG_QUORUM_HEAD \
	OP(KD_OP_STR, 0),                        /* cluster_id */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* voter_id */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER)                  /* partitions */

#define KD_PROG_VOTE \
	KD_PROG_QUORUM_HEAD,                      \
	OP(KD_OP_SKIP, 12),                      /* partition_index, replica_epoch, replica_id */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 32),         /* replica_directory_id, voter_directory_id */ \
	OP(KD_OP_SKIP, 12),                      /* last_offset_epoch, last_offset */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 1),          /* pre_vote */ \
	END,                                      \
	END

#define KD_PROG_LEADER_ENDPOINTS \
	OPV(KD_OP_ARR, 1, KD_VMAX, KD_NEVER),    /* leader_endpoints */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 2),                       /* port */ \
	END

#define KD_PROG_BEGIN_QUORUM_EPOCH \
	KD_PROG_QUORUM_HEAD,                      \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 16),         /* voter_directory_id */ \
	OP(KD_OP_SKIP, 8),                       /* leader_id, leader_epoch */ \
	END,                                      \
	END,                                      \
	KD_PROG_LEADER_ENDPOINTS

#define KD_PROG_END_QUORUM_EPOCH \
	OP(KD_OP_STR, 0),                        /* cluster_id */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, leader_id, leader_epoch */ \
	OPV(KD_OP_ARRP, 0, 0, 4),                /* preferred_successors */ \
	OPV(KD_OP_ARR, 1, KD_VMAX, KD_NEVER),    /* preferred_candidates */ \
	OP(KD_OP_SKIP, 20),                      /* candidate_id, candidate_directory_id */ \
	END,                                      \
	END,                                      \
	END,                                      \
	KD_PROG_LEADER_ENDPOINTS

#define KD_PROG_DESCRIBE_QUORUM \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	END,                                      \
	END

/* AlterPartition (56): flexible from v0; topic_id replaces the name from v2. */
#define KD_PROG_ALTER_PARTITION \
	OP(KD_OP_SKIP, 12),                      /* broker_id, broker_epoch */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OPV(KD_OP_NAME, 0, 1, KD_NEVER),          \
	OPV(KD_OP_UUID, 2, KD_VMAX, 0),           \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 8),                       /* partition_index, leader_epoch */ \
	OPV(KD_OP_ARRP, 0, 2, 4),                /* new_isr */ \
	OPV(KD_OP_ARR, 3, KD_VMAX, KD_NEVER),    /* new_isr_with_epochs */ \
	OP(KD_OP_SKIP, 12),                      /* broker_id, broker_epoch */ \
	END,                                      \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* leader_recovery_state */ \
	OP(KD_OP_SKIP, 4),                       /* partition_epoch */ \
	END,                                      \
	END

/* FetchSnapshot (59): flexible from v0. */
#define KD_PROG_FETCH_SNAPSHOT \
	OP(KD_OP_SKIP, 8),                       /* replica_id, max_bytes */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 8),                       /* partition, current_leader_epoch */ \
	OP(KD_OP_STRUCT, KD_NEVER),              /* snapshot_id */ \
	OP(KD_OP_SKIP, 12),                      /* end_offset, epoch */ \
	END,                                      \
	OP(KD_OP_SKIP, 8),                       /* position */ \
	END,                                      \
	END

/* A group member's heartbeat begins with: group_id, member_id, member_epoch. */
#define KD_PROG_MEMBER_HEAD \
	OP(KD_OP_GROUP, KD_NEVER),               /* group_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* member_id */ \
	OP(KD_OP_SKIP, 4)                        /* member_epoch */

/* The names a member subscribes to: null when unchanged since its last heartbeat. */
#define KD_SUBSCRIBED_NAMES OP(KD_OP_ARR, 0), OP(KD_OP_NAME, KD_NEVER), EMIT, ENDP

/*
 * ConsumerGroupHeartbeat (68): flexible from v0. The subscribed names are decided (a null
 * list: unchanged); a subscribed regex is reported as such. The owned partitions are the
 * coordinator's assignment, not a request for access: not reported.
 */
#define KD_PROG_CONSUMER_GROUP_HEARTBEAT \
	KD_PROG_MEMBER_HEAD,                      \
	OP(KD_OP_STR, 0),                        /* instance_id */ \
	OP(KD_OP_STR, 0),                        /* rack_id */ \
	OP(KD_OP_SKIP, 4),                       /* rebalance_timeout_ms */ \
	KD_SUBSCRIBED_NAMES,                     /* subscribed_topic_names */ \
	OPV(KD_OP_REGEX, 1, KD_VMAX, 1),         /* subscribed_topic_regex */ \
	OP(KD_OP_STR, 0),                        /* server_assignor */ \
	OP(KD_OP_ARR, 0),                        /* topic_partitions (owned) */ \
	OP(KD_OP_SKIP, 16),                      /* topic_id */ \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END

/* AssignReplicasToDirs (73): flexible from v0 (broker to controller). */
#define KD_PROG_ASSIGN_REPLICAS_TO_DIRS \
	OP(KD_OP_SKIP, 12),                      /* broker_id, broker_epoch */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* directories */ \
	OP(KD_OP_SKIP, 16),                      /* id */ \
	KD_TOPICS_BY_ID,                         /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	END,                                      \
	END,                                      \
	END

/*
 * ListConfigResources (74): flexible from v0. v1+ lists config resources of any type,
 * topics among them: the answer is about every topic. v0 lists client metrics only.
 */
#define KD_PROG_LIST_CONFIG_RESOURCES \
	OPV(KD_OP_ALL, 1, KD_VMAX, 0),            \
	OPV(KD_OP_ARRP, 1, KD_VMAX, 1)           /* resource_types */

/* DescribeTopicPartitions (75): flexible from v0; an empty list asks for every topic. */
#define KD_PROG_DESCRIBE_TOPIC_PARTITIONS \
	OP(KD_OP_ARRA, KD_ARRA_EMPTY | KD_ARRA_NULL_FROM(0xff)), /* topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* response_partition_limit */ \
	OP(KD_OP_STRUCT, 0),                     /* cursor: a nullable struct */ \
	OP(KD_OP_CNAME, KD_NEVER),               /* topic_name */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	END

/* ShareGroupHeartbeat (76): flexible from v0; subscribed names (null: unchanged). */
#define KD_PROG_SHARE_GROUP_HEARTBEAT \
	KD_PROG_MEMBER_HEAD,                      \
	OP(KD_OP_STR, 0),                        /* rack_id */ \
	KD_SUBSCRIBED_NAMES

/*
 * ShareFetch (78): flexible from v0 (early access), stable from v1; topics by id. The
 * share session (group, member id, epoch) is reported: an incremental request (epoch > 0)
 * may name no topic and is answered from every partition of the session.
 */
#define KD_PROG_SHARE_FETCH \
	OP(KD_OP_GROUP, 0),                      /* group_id (nullable) */ \
	OP(KD_OP_KNAME, 0),                      /* member_id (nullable) */ \
	OP(KD_OP_SESSION, KD_SESS_SHARE),        /* share_session_epoch */ \
	OP(KD_OP_SKIP, 12),                      /* max_wait_ms, min_bytes, max_bytes */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 8),          /* max_records, batch_size */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 2),          /* share_acquire_mode, is_renew_ack */ \
	KD_TOPICS_BY_ID,                         /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OPV(KD_OP_SKIP, 0, 0, 4),                /* partition_max_bytes */ \
	KD_PROG_ACK_BATCHES,                      \
	END,                                      \
	END,                                      \
	OP(KD_OP_ARR, KD_NEVER),                 /* forgotten_topics_data: not acted on */ \
	OP(KD_OP_SKIP, 16),                      /* topic_id */ \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END

#define KD_PROG_ACK_BATCHES \
	OP(KD_OP_ARR, KD_NEVER),                 /* acknowledgement_batches */ \
	OP(KD_OP_SKIP, 16),                      /* first_offset, last_offset */ \
	OP(KD_OP_ARRP, 1),                       /* acknowledge_types */ \
	END

/* ShareAcknowledge (79): as ShareFetch. */
#define KD_PROG_SHARE_ACKNOWLEDGE \
	OP(KD_OP_GROUP, 0),                      /* group_id (nullable) */ \
	OP(KD_OP_STR, 0),                        /* member_id */ \
	OP(KD_OP_SKIP, 4),                       /* share_session_epoch */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 1),          /* is_renew_ack */ \
	KD_TOPICS_BY_ID,                         /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	KD_PROG_ACK_BATCHES,                      \
	END,                                      \
	END

/*
 * Share group state (83-87): broker to share coordinator, flexible from v0. skip is the
 * fixed part of each partition before write_share_group_state's state batches.
 */
#define KD_PROG_SHARE_STATE(skip) \
	OP(KD_OP_STR, KD_NEVER),                 /* group_id */ \
	KD_TOPICS_BY_ID,                         /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, skip)

#define KD_PROG_INIT_SHARE_STATE KD_PROG_SHARE_STATE(16), END, END     /* partition, state_epoch, start_offset */
#define KD_PROG_READ_SHARE_STATE KD_PROG_SHARE_STATE(8), END, END      /* partition, leader_epoch */
#define KD_PROG_DELETE_SHARE_STATE KD_PROG_SHARE_STATE(4), END, END    /* partition */
#define KD_PROG_WRITE_SHARE_STATE \
	KD_PROG_SHARE_STATE(20),                 /* partition, state_epoch, leader_epoch, start_offset */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* delivery_complete_count */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* state_batches */ \
	OP(KD_OP_SKIP, 19),                      /* first, last offset, delivery state, count */ \
	END,                                      \
	END,                                      \
	END

/*
 * StreamsGroupHeartbeat (88): flexible from v0. The topology (a nullable struct, sent
 * when joining) names the topics the group reads (source topics and regexes) and the
 * internal ones it has the broker create (changelog, repartition): all decided.
 */
#define KD_PROG_STREAMS_TOPIC_INFO \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_SKIP, 6),                       /* partitions, replication_factor */ \
	KD_PROG_KEY_VALUES(KD_NEVER),            /* topic_configs */ \
	END

#define KD_PROG_KEY_VALUES(null_from) \
	OP(KD_OP_ARR, null_from),                 \
	OP(KD_OP_STR, KD_NEVER),                 /* key */ \
	OP(KD_OP_STR, KD_NEVER),                 /* value */ \
	END

#define KD_PROG_TASK_IDS \
	OP(KD_OP_ARR, 0),                         \
	OP(KD_OP_STR, KD_NEVER),                 /* subtopology_id */ \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END

#define KD_PROG_TASK_OFFSETS \
	OP(KD_OP_ARR, 0),                         \
	OP(KD_OP_STR, KD_NEVER),                 /* subtopology_id */ \
	OP(KD_OP_SKIP, 12),                      /* partition, offset */ \
	END

#define KD_PROG_STREAMS_GROUP_HEARTBEAT \
	OP(KD_OP_GROUP, KD_NEVER),               /* group_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* member_id */ \
	OP(KD_OP_SKIP, 8),                       /* member_epoch, endpoint_information_epoch */ \
	OP(KD_OP_STR, 0),                        /* instance_id */ \
	OP(KD_OP_STR, 0),                        /* rack_id */ \
	OP(KD_OP_SKIP, 4),                       /* rebalance_timeout_ms */ \
	OP(KD_OP_STRUCT, 0),                     /* topology */ \
	OP(KD_OP_SKIP, 4),                       /* epoch */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* subtopologies */ \
	OP(KD_OP_STR, KD_NEVER),                 /* subtopology_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* source_topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	ENDP,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* source_topic_regex */ \
	OP(KD_OP_REGEX, KD_NEVER),                \
	ENDP,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* state_changelog_topics */ \
	KD_PROG_STREAMS_TOPIC_INFO,               \
	OP(KD_OP_ARR, KD_NEVER),                 /* repartition_sink_topics */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	ENDP,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* repartition_source_topics */ \
	KD_PROG_STREAMS_TOPIC_INFO,               \
	OP(KD_OP_ARR, KD_NEVER),                 /* copartition_groups */ \
	OP(KD_OP_ARRP, 2),                       /* source_topics (indexes) */ \
	OP(KD_OP_ARRP, 2),                       /* source_topic_regex (indexes) */ \
	OP(KD_OP_ARRP, 2),                       /* repartition_source_topics (indexes) */ \
	END,                                      \
	END,                                      \
	END,                                      \
	KD_PROG_TASK_IDS,                        /* active_tasks */ \
	KD_PROG_TASK_IDS,                        /* standby_tasks */ \
	KD_PROG_TASK_IDS,                        /* warmup_tasks */ \
	OP(KD_OP_STR, 0),                        /* process_id */ \
	OP(KD_OP_STRUCT, 0),                     /* user_endpoint */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 2),                       /* port */ \
	END,                                      \
	KD_PROG_KEY_VALUES(0),                   /* client_tags */ \
	KD_PROG_TASK_OFFSETS,                    /* task_offsets */ \
	KD_PROG_TASK_OFFSETS,                    /* task_end_offsets */ \
	OP(KD_OP_SKIP, 1)                        /* shutdown_application */

/* DescribeShareGroupOffsets (90): flexible from v0; a group's null topics: all topics. */
#define KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS \
	OP(KD_OP_ARR, KD_NEVER),                 /* groups */ \
	OP(KD_OP_GROUP, KD_NEVER),               /* group_id */ \
	KD_ALL_OR_TOPIC_PARTITIONS,              /* topics: null = all topics */ \
	END

/* AlterShareGroupOffsets (91), DeleteShareGroupOffsets (92): flexible from v0. */
#define KD_PROG_ALTER_SHARE_GROUP_OFFSETS \
	OP(KD_OP_GROUP, KD_NEVER),               /* group_id */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, start_offset */ \
	END,                                      \
	END

#define KD_PROG_DELETE_SHARE_GROUP_OFFSETS \
	OP(KD_OP_GROUP, KD_NEVER),               /* group_id */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	END

/* GetReplicaLogInfo (93, after Kafka 4.3): flexible from v0; broker to broker. */
#define KD_PROG_GET_REPLICA_LOG_INFO \
	OP(KD_OP_ARRA, 0),                       /* topic_partitions: null taken as all topics */ \
	OP(KD_OP_UUID, 0),                        \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	END

/*
 * Response programs (broker -> client), read by the same interpreter in response mode.
 * Only those the datapath rewrites: a rejected topic's partitions get an authorization
 * error there.
 */

/* ProduceResponse (0): header v1 (corr + TF) from v9; topic_id replaces name on v13. */
#define KD_PROG_PRODUCE_RESP \
	OP(KD_OP_ARR, KD_NEVER),                 /* responses */ \
	OPV(KD_OP_NAME, 0, 12, KD_NEVER),         \
	OPV(KD_OP_UUID, 13, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partition_responses */ \
	OP(KD_OP_SKIP, 4),                       /* index */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_SKIP, 8),                       /* base_offset */ \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 8),          /* log_append_time_ms */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 8),          /* log_start_offset */ \
	OPV(KD_OP_ARR, 8, KD_VMAX, KD_NEVER),    /* record_errors */ \
	OP(KD_OP_SKIP, 4),                       /* batch_index */ \
	OP(KD_OP_STR, 0),                        /* batch_index_error_message NS */ \
	END,                                      \
	OPV(KD_OP_STR, 8, KD_VMAX, 0),           /* error_message NS */ \
	END,                                      \
	END,                                      \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4)           /* throttle_time_ms */

/* FetchResponse (1): header v1 from v12; topic_id replaces the name from v13. */
#define KD_PROG_FETCH_RESP \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* throttle_time_ms */ \
	OPV(KD_OP_SKIP, 7, KD_VMAX, 6),          /* error_code, session_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* responses */ \
	OPV(KD_OP_NAME, 0, 12, KD_NEVER),         \
	OPV(KD_OP_UUID, 13, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_SKIP, 8),                       /* high_watermark */ \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 8),          /* last_stable_offset */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 8),          /* log_start_offset */ \
	OPV(KD_OP_ARR, 4, KD_VMAX, 4),           /* aborted_transactions (nullable) */ \
	OP(KD_OP_SKIP, 16),                      /* producer_id, first_offset */ \
	END,                                      \
	OPV(KD_OP_SKIP, 11, KD_VMAX, 4),         /* preferred_read_replica */ \
	OP(KD_OP_BYTES, 0),                      /* records */ \
	END,                                      \
	END

/*
 * MetadataResponse (3): header v1 from v9. Each topic's error_code comes before its
 * name (TERR); topic_id follows the name from v10; the name is nullable from v12.
 */
#define KD_PROG_METADATA_RESP \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* brokers */ \
	OP(KD_OP_SKIP, 4),                       /* node_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 4),                       /* port */ \
	OPV(KD_OP_STR, 1, KD_VMAX, 1),           /* rack NS */ \
	END,                                      \
	OPV(KD_OP_STR, 2, KD_VMAX, 2),           /* cluster_id NS */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* controller_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_TERR, 0),                       /* error_code */ \
	OP(KD_OP_NAME, 12),                      /* name (nullable from v12) */ \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),         /* topic_id */ \
	EMIT,                                     \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* is_internal */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_SKIP, 8),                       /* partition_index, leader_id */ \
	OPV(KD_OP_SKIP, 7, KD_VMAX, 4),          /* leader_epoch */ \
	OP(KD_OP_ARRP, 4),                       /* replica_nodes */ \
	OP(KD_OP_ARRP, 4),                       /* isr_nodes */ \
	OPV(KD_OP_ARRP, 5, KD_VMAX, 4),          /* offline_replicas */ \
	END,                                      \
	OPV(KD_OP_SKIP, 8, KD_VMAX, 4),          /* topic_authorized_operations */ \
	ENDE,                                     \
	OPV(KD_OP_SKIP, 8, 10, 4),               /* cluster_authorized_operations */ \
	OPV(KD_OP_SKIP, 13, KD_VMAX, 2)          /* error_code (top level) */

/* ListOffsetsResponse (2): flexible from v6. */
#define KD_PROG_LIST_OFFSETS_RESP \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 4),          /* throttle_time_ms */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OPV(KD_OP_ARRP, 0, 0, 8),                /* old_style_offsets */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 16),         /* timestamp, offset */ \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 4),          /* leader_epoch */ \
	END,                                      \
	END

/* OffsetCommitResponse (8): flexible from v8; topic_id from v10. */
#define KD_PROG_OFFSET_COMMIT_RESP \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics */ \
	OPV(KD_OP_NAME, 0, 9, KD_NEVER),          \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	END,                                      \
	END

/* SaslAuthenticateResponse (36): flexible from v2. */
#define KD_PROG_SASL_AUTH_RESP \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message NS */ \
	OP(KD_OP_BYTES, KD_NEVER),               /* auth_bytes */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 8)           /* session_lifetime_ms */

/*
 * OffsetFetchResponse (9): flexible from v6; per-partition error_code after the
 * offset, epoch (v5+) and metadata; groups array from v8; topic_id replaces the name
 * on v10.
 */
#define KD_PROG_OFFSET_FETCH_RESP \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 4),          /* throttle_time_ms */ \
	OPV(KD_OP_ARR, 0, 7, KD_NEVER),          /* topics: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, committed_offset */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 4),          /* committed_leader_epoch */ \
	OP(KD_OP_STR, 0),                        /* metadata NS */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	END,                                      \
	ENDE,                                     \
	OPV(KD_OP_SKIP, 2, 7, 2),                /* error_code (top level) */ \
	OPV(KD_OP_ARR, 8, KD_VMAX, KD_NEVER),    /* groups */ \
	OP(KD_OP_STR, KD_NEVER),                 /* group_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics: entries */ \
	EBEGIN,                                   \
	OPV(KD_OP_NAME, 0, 9, KD_NEVER),          \
	OPV(KD_OP_UUID, 10, KD_VMAX, 0),          \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 16),                      /* partition_index, committed_offset, leader_epoch */ \
	OP(KD_OP_STR, 0),                        /* metadata NS */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	END,                                      \
	ENDE,                                     \
	OP(KD_OP_SKIP, 2),                       /* error_code (group) */ \
	END

/* CreateTopicsResponse (19): flexible from v5; the topic's error_code follows its name. */
#define KD_PROG_CREATE_TOPICS_RESP \
	OPV(KD_OP_SKIP, 2, KD_VMAX, 4),          /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_NAME, KD_NEVER),                 \
	OPV(KD_OP_UUID, 7, KD_VMAX, 0),          /* topic_id */ \
	EMIT,                                     \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OPV(KD_OP_STR, 1, KD_VMAX, 0),           /* error_message NS */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 6),          /* num_partitions i32, replication_factor i16 */ \
	OPV(KD_OP_ARR, 5, KD_VMAX, 5),           /* configs (nullable) */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	OP(KD_OP_SKIP, 3),                       /* read_only, config_source, is_sensitive */ \
	END,                                      \
	ENDE

/* DeleteTopicsResponse (20): flexible from v4; nullable name + topic_id from v6. */
#define KD_PROG_DELETE_TOPICS_RESP \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 4),          /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* responses: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_NAME, 6),                       /* name (nullable from v6) */ \
	OPV(KD_OP_UUID, 6, KD_VMAX, 0),          /* topic_id */ \
	EMIT,                                     \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OPV(KD_OP_STR, 5, KD_VMAX, 0),           /* error_message NS */ \
	ENDE

/* DeleteRecordsResponse (21): flexible from v2. */
#define KD_PROG_DELETE_RECORDS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	KD_TOPICS_BY_NAME,                       /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, low_watermark */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	END,                                      \
	END

/* AddPartitionsToTxnResponse (24): flexible from v3; batched transactions from v4. */
#define KD_PROG_ADD_PARTITIONS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 2),          /* error_code (top level) */ \
	OPV(KD_OP_ARR, 4, KD_VMAX, KD_NEVER),    /* results_by_transaction */ \
	OP(KD_OP_STR, KD_NEVER),                 /* transactional_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topic_results */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* results_by_partition */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* partition_error_code */ \
	END,                                      \
	END,                                      \
	END,                                      \
	OPV(KD_OP_ARR, 0, 3, KD_NEVER),          /* results_by_topic_v3_and_below */ \
	OP(KD_OP_NAME, KD_NEVER),                 \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* results_by_partition */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* partition_error_code */ \
	END,                                      \
	END

/*
 * DescribeConfigsResponse (32): flexible from v4. Each result's error_code comes
 * before its resource (TERR); the name is a topic only for resource_type TOPIC
 * (RTYPE + RNAME: a broker or logger named like a rejected topic is left alone).
 */
#define KD_PROG_DESCRIBE_CONFIGS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* results */ \
	OP(KD_OP_TERR, 0),                       /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message NS */ \
	OP(KD_OP_RTYPE, 0),                      /* resource_type */ \
	OP(KD_OP_RNAME, KD_NEVER),               /* resource_name */ \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* configs */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	OP(KD_OP_SKIP, 1),                       /* read_only */ \
	OPV(KD_OP_SKIP, 0, 0, 1),                /* is_default */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* config_source */ \
	OP(KD_OP_SKIP, 1),                       /* is_sensitive */ \
	OPV(KD_OP_ARR, 1, KD_VMAX, KD_NEVER),    /* synonyms */ \
	OP(KD_OP_STR, KD_NEVER),                 /* name */ \
	OP(KD_OP_STR, 0),                        /* value NS */ \
	OP(KD_OP_SKIP, 1),                       /* source */ \
	END,                                      \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 1),          /* config_type */ \
	OPV(KD_OP_STR, 3, KD_VMAX, 0),           /* documentation NS */ \
	END,                                      \
	END

/*
 * AlterConfigsResponse (33, flexible from v2) and IncrementalAlterConfigsResponse
 * (44, flexible from v1): the same shape, error_code before the resource (TERR).
 */
#define KD_PROG_ALTER_CONFIGS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* responses */ \
	OP(KD_OP_TERR, 0),                       /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message NS */ \
	OP(KD_OP_RTYPE, 0),                      /* resource_type */ \
	OP(KD_OP_RNAME, KD_NEVER),               /* resource_name */ \
	EMIT,                                     \
	END

/*
 * Responses whose topic entries carry a name and an id, or answer a request about every
 * topic: each entry is reported with where it begins and ends (EBEGIN ... ENDE), so that
 * TC egress can learn ids and mask entries.
 */

/* DescribeAclsResponse (29): flexible from v2; each resource is an entry. */
#define KD_PROG_DESCRIBE_ACLS_RESP \
	OP(KD_OP_SKIP, 6),                       /* throttle_time_ms, error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* resources: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_RTYPE, 0),                      /* resource_type */ \
	OP(KD_OP_ANAME, KD_NEVER),               /* resource_name */ \
	OPV(KD_OP_PTYPE, 1, KD_VMAX, 0),         /* pattern_type */ \
	AEMIT,                                    \
	OP(KD_OP_ARR, KD_NEVER),                 /* acls */ \
	OP(KD_OP_STR, KD_NEVER),                 /* principal */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 2),                       /* operation, permission_type */ \
	END,                                      \
	ENDE

/* DescribeLogDirsResponse (35): flexible from v2; each topic of each log dir is an entry. */
#define KD_PROG_DESCRIBE_LOG_DIRS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OPV(KD_OP_SKIP, 3, KD_VMAX, 2),          /* error_code */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* results */ \
	OP(KD_OP_SKIP, 2),                       /* error_code */ \
	OP(KD_OP_STR, KD_NEVER),                 /* log_dir */ \
	KD_ENTRIES_BY_NAME,                      /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 21),                      /* index, size, offset_lag, is_future_key */ \
	END,                                      \
	ENDE,                                     \
	OPV(KD_OP_SKIP, 4, KD_VMAX, 16),         /* total_bytes, usable_bytes */ \
	OPV(KD_OP_SKIP, 5, KD_VMAX, 1),          /* is_cordoned */ \
	END

/* ElectLeadersResponse (43): flexible from v2. */
#define KD_PROG_ELECT_LEADERS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 2),          /* error_code */ \
	KD_ENTRIES_BY_NAME,                      /* replica_election_results */ \
	KD_PARTITION_ERRORS,                     /* partition_result */ \
	ENDE

/* ListPartitionReassignmentsResponse (46): flexible from v0. */
#define KD_PROG_LIST_REASSIGNMENTS_RESP \
	OP(KD_OP_SKIP, 6),                       /* throttle_time_ms, error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	KD_ENTRIES_BY_NAME,                      /* topics */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ARRP, 4),                       /* replicas */ \
	OP(KD_OP_ARRP, 4),                       /* adding_replicas */ \
	OP(KD_OP_ARRP, 4),                       /* removing_replicas */ \
	END,                                      \
	ENDE

/*
 * ConsumerGroupDescribeResponse (69) and ShareGroupDescribeResponse (77): flexible from
 * v0; each member's assignment names topics by id and name (entries).
 */
#define KD_PROG_ASSIGNMENT \
	OP(KD_OP_STRUCT, KD_NEVER),               \
	OP(KD_OP_ARR, KD_NEVER),                 /* topic_partitions: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_UUID, 0),                       /* topic_id */ \
	OP(KD_OP_NAME, KD_NEVER),                /* topic_name */ \
	EMIT,                                     \
	OP(KD_OP_ARRP, 4),                       /* partitions */ \
	ENDE,                                     \
	END

#define KD_PROG_GROUP_DESCRIBE_HEAD \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* groups */ \
	OP(KD_OP_SKIP, 2),                       /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	OP(KD_OP_STR, KD_NEVER),                 /* group_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* group_state */ \
	OP(KD_OP_SKIP, 8),                       /* group_epoch, assignment_epoch */ \
	OP(KD_OP_STR, KD_NEVER),                 /* assignor_name */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* members */ \
	OP(KD_OP_STR, KD_NEVER)                  /* member_id */

#define KD_PROG_CONSUMER_GROUP_DESCRIBE_RESP \
	KD_PROG_GROUP_DESCRIBE_HEAD,              \
	OP(KD_OP_STR, 0),                        /* instance_id */ \
	OP(KD_OP_STR, 0),                        /* rack_id */ \
	OP(KD_OP_SKIP, 4),                       /* member_epoch */ \
	OP(KD_OP_STR, KD_NEVER),                 /* client_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* client_host */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* subscribed_topic_names */ \
	OP(KD_OP_STR, KD_NEVER),                  \
	ENDP,                                     \
	OP(KD_OP_STR, 0),                        /* subscribed_topic_regex */ \
	KD_PROG_ASSIGNMENT,                      /* assignment */ \
	KD_PROG_ASSIGNMENT,                      /* target_assignment */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 1),          /* member_type */ \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* authorized_operations */ \
	END

#define KD_PROG_SHARE_GROUP_DESCRIBE_RESP \
	KD_PROG_GROUP_DESCRIBE_HEAD,              \
	OP(KD_OP_STR, 0),                        /* rack_id */ \
	OP(KD_OP_SKIP, 4),                       /* member_epoch */ \
	OP(KD_OP_STR, KD_NEVER),                 /* client_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* client_host */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* subscribed_topic_names */ \
	OP(KD_OP_STR, KD_NEVER),                  \
	ENDP,                                     \
	KD_PROG_ASSIGNMENT,                      /* assignment */ \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* authorized_operations */ \
	END

/*
 * ListConfigResourcesResponse (74): flexible from v0; the name comes before its type
 * (v1+; v0 lists client metrics): kept, then reported if the type is TOPIC.
 */
#define KD_PROG_LIST_CONFIG_RESOURCES_RESP \
	OP(KD_OP_SKIP, 6),                       /* throttle_time_ms, error_code */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* config_resources: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_KNAME, KD_NEVER),               /* resource_name */ \
	OPV(KD_OP_RTYPE, 1, KD_VMAX, 0),         /* resource_type */ \
	OP(KD_OP_REMIT, 0),                       \
	ENDE

/* DescribeTopicPartitionsResponse (75): flexible from v0; the next cursor names a topic. */
#define KD_PROG_DESCRIBE_TOPIC_PARTITIONS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_TERR, 0),                       /* error_code */ \
	OP(KD_OP_NAME, 0),                       /* name (nullable) */ \
	OP(KD_OP_UUID, 0),                       /* topic_id */ \
	EMIT,                                     \
	OP(KD_OP_SKIP, 1),                       /* is_internal */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_SKIP, 12),                      /* partition_index, leader_id, leader_epoch */ \
	OP(KD_OP_ARRP, 4),                       /* replica_nodes */ \
	OP(KD_OP_ARRP, 4),                       /* isr_nodes */ \
	OP(KD_OP_ARR, 0),                        /* eligible_leader_replicas: nullable []int32 */ \
	OP(KD_OP_SKIP, 4),                        \
	ENDP,                                     \
	OP(KD_OP_ARR, 0),                        /* last_known_elr: nullable []int32 */ \
	OP(KD_OP_SKIP, 4),                        \
	ENDP,                                     \
	OP(KD_OP_ARRP, 4),                       /* offline_replicas */ \
	END,                                      \
	OP(KD_OP_SKIP, 4),                       /* topic_authorized_operations */ \
	ENDE,                                     \
	OP(KD_OP_STRUCT, 0),                     /* next_cursor: a nullable struct */ \
	OP(KD_OP_CNAME, KD_NEVER),               /* topic_name */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	END

/* ShareFetchResponse (78) and ShareAcknowledgeResponse (79): topics by id. */
#define KD_PROG_SHARE_RESP_HEAD(lock_from) \
	OP(KD_OP_SKIP, 6),                       /* throttle_time_ms, error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	OPV(KD_OP_SKIP, lock_from, KD_VMAX, 4),  /* acquisition_lock_timeout_ms */ \
	KD_TOPICS_BY_ID,                         /* responses */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 4),                       /* partition_index */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_STR, 0)                         /* error_message */

#define KD_PROG_SHARE_RESP_TAIL \
	OP(KD_OP_STRUCT, KD_NEVER),              /* current_leader */ \
	OP(KD_OP_SKIP, 8),                       /* leader_id, leader_epoch */ \
	END

#define KD_PROG_NODE_ENDPOINTS \
	OP(KD_OP_ARR, KD_NEVER),                 /* node_endpoints */ \
	OP(KD_OP_SKIP, 4),                       /* node_id */ \
	OP(KD_OP_STR, KD_NEVER),                 /* host */ \
	OP(KD_OP_SKIP, 4),                       /* port */ \
	OP(KD_OP_STR, 0),                        /* rack */ \
	END

#define KD_PROG_SHARE_FETCH_RESP \
	KD_PROG_SHARE_RESP_HEAD(1),               \
	OP(KD_OP_SKIP, 2),                       /* acknowledge_error_code */ \
	OP(KD_OP_STR, 0),                        /* acknowledge_error_message */ \
	KD_PROG_SHARE_RESP_TAIL,                  \
	OPV(KD_OP_BYTES, 0, 0, 0),               /* records (nullable in v0) */ \
	OPV(KD_OP_BYTES, 1, KD_VMAX, KD_NEVER),   \
	OP(KD_OP_ARR, KD_NEVER),                 /* acquired_records */ \
	OP(KD_OP_SKIP, 18),                      /* first_offset, last_offset, delivery_count */ \
	END,                                      \
	END,                                      \
	END,                                      \
	KD_PROG_NODE_ENDPOINTS

#define KD_PROG_SHARE_ACKNOWLEDGE_RESP \
	KD_PROG_SHARE_RESP_HEAD(2),               \
	KD_PROG_SHARE_RESP_TAIL,                  \
	END,                                      \
	END,                                      \
	KD_PROG_NODE_ENDPOINTS

/* DescribeShareGroupOffsetsResponse (90): flexible from v0. */
#define KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS_RESP \
	OP(KD_OP_SKIP, 4),                       /* throttle_time_ms */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* groups */ \
	OP(KD_OP_STR, KD_NEVER),                 /* group_id */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* topics: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_NAME, KD_NEVER),                /* topic_name */ \
	OP(KD_OP_UUID, 0),                       /* topic_id */ \
	EMIT,                                     \
	OP(KD_OP_ARR, KD_NEVER),                 /* partitions */ \
	OP(KD_OP_SKIP, 16),                      /* partition_index, start_offset, leader_epoch */ \
	OPV(KD_OP_SKIP, 1, KD_VMAX, 8),          /* lag */ \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	END,                                      \
	ENDE,                                     \
	OP(KD_OP_SKIP, 2),                       /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	END

/* AlterShareGroupOffsetsResponse (91), DeleteShareGroupOffsetsResponse (92). */
#define KD_PROG_SHARE_OFFSETS_RESP_HEAD \
	OP(KD_OP_SKIP, 6),                       /* throttle_time_ms, error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	OP(KD_OP_ARR, KD_NEVER),                 /* responses: entries */ \
	EBEGIN,                                   \
	OP(KD_OP_NAME, KD_NEVER),                /* topic_name */ \
	OP(KD_OP_UUID, 0),                       /* topic_id */ \
	EMIT

#define KD_PROG_ALTER_SHARE_GROUP_OFFSETS_RESP \
	KD_PROG_SHARE_OFFSETS_RESP_HEAD,          \
	KD_PARTITION_ERRORS,                     /* partitions */ \
	ENDE

#define KD_PROG_DELETE_SHARE_GROUP_OFFSETS_RESP \
	KD_PROG_SHARE_OFFSETS_RESP_HEAD,          \
	OP(KD_OP_ERR, 0),                        /* error_code */ \
	OP(KD_OP_STR, 0),                        /* error_message */ \
	ENDE

#define KD_N(prog) (sizeof((struct kd_op[]){ prog }) / sizeof(struct kd_op))

enum {
	KD_P_PRODUCE = 0,
	KD_P_FETCH = KD_P_PRODUCE + KD_N(KD_PROG_PRODUCE),
	KD_P_LIST_OFFSETS = KD_P_FETCH + KD_N(KD_PROG_FETCH),
	KD_P_METADATA = KD_P_LIST_OFFSETS + KD_N(KD_PROG_LIST_OFFSETS),
	KD_P_OFFSET_COMMIT = KD_P_METADATA + KD_N(KD_PROG_METADATA),
	KD_P_OFFSET_FETCH = KD_P_OFFSET_COMMIT + KD_N(KD_PROG_OFFSET_COMMIT),
	KD_P_CREATE_TOPICS = KD_P_OFFSET_FETCH + KD_N(KD_PROG_OFFSET_FETCH),
	KD_P_DELETE_TOPICS = KD_P_CREATE_TOPICS + KD_N(KD_PROG_CREATE_TOPICS),
	KD_P_DELETE_RECORDS = KD_P_DELETE_TOPICS + KD_N(KD_PROG_DELETE_TOPICS),
	KD_P_ADD_PARTITIONS = KD_P_DELETE_RECORDS + KD_N(KD_PROG_DELETE_RECORDS),
	KD_P_DESCRIBE_CONFIGS = KD_P_ADD_PARTITIONS + KD_N(KD_PROG_ADD_PARTITIONS),
	KD_P_ALTER_CONFIGS = KD_P_DESCRIBE_CONFIGS + KD_N(KD_PROG_DESCRIBE_CONFIGS),
	KD_P_API_VERSIONS = KD_P_ALTER_CONFIGS + KD_N(KD_PROG_ALTER_CONFIGS),
	KD_P_SASL_HANDSHAKE = KD_P_API_VERSIONS + KD_N(KD_PROG_API_VERSIONS),
	KD_P_SASL_AUTH = KD_P_SASL_HANDSHAKE + KD_N(KD_PROG_SASL_HANDSHAKE),
	KD_P_OFFSET_FOR_LEADER_EPOCH = KD_P_SASL_AUTH + KD_N(KD_PROG_SASL_AUTH),
	KD_P_TXN_OFFSET_COMMIT = KD_P_OFFSET_FOR_LEADER_EPOCH + KD_N(KD_PROG_OFFSET_FOR_LEADER_EPOCH),
	KD_P_CREATE_PARTITIONS = KD_P_TXN_OFFSET_COMMIT + KD_N(KD_PROG_TXN_OFFSET_COMMIT),
	KD_P_DELETE_GROUPS = KD_P_CREATE_PARTITIONS + KD_N(KD_PROG_CREATE_PARTITIONS),
	KD_P_ELECT_LEADERS = KD_P_DELETE_GROUPS + KD_N(KD_PROG_DELETE_GROUPS),
	KD_P_INCR_ALTER_CONFIGS = KD_P_ELECT_LEADERS + KD_N(KD_PROG_ELECT_LEADERS),
	KD_P_ALTER_REASSIGNMENTS = KD_P_INCR_ALTER_CONFIGS + KD_N(KD_PROG_INCR_ALTER_CONFIGS),
	KD_P_LIST_REASSIGNMENTS = KD_P_ALTER_REASSIGNMENTS + KD_N(KD_PROG_ALTER_REASSIGNMENTS),
	KD_P_OFFSET_DELETE = KD_P_LIST_REASSIGNMENTS + KD_N(KD_PROG_LIST_REASSIGNMENTS),
	KD_P_DESCRIBE_PRODUCERS = KD_P_OFFSET_DELETE + KD_N(KD_PROG_OFFSET_DELETE),
	KD_P_PRODUCE_RESP = KD_P_DESCRIBE_PRODUCERS + KD_N(KD_PROG_DESCRIBE_PRODUCERS),
	KD_P_SASL_AUTH_RESP = KD_P_PRODUCE_RESP + KD_N(KD_PROG_PRODUCE_RESP),
	KD_P_FETCH_RESP = KD_P_SASL_AUTH_RESP + KD_N(KD_PROG_SASL_AUTH_RESP),
	KD_P_METADATA_RESP = KD_P_FETCH_RESP + KD_N(KD_PROG_FETCH_RESP),
	KD_P_LIST_OFFSETS_RESP = KD_P_METADATA_RESP + KD_N(KD_PROG_METADATA_RESP),
	KD_P_OFFSET_COMMIT_RESP = KD_P_LIST_OFFSETS_RESP + KD_N(KD_PROG_LIST_OFFSETS_RESP),
	KD_P_OFFSET_FETCH_RESP = KD_P_OFFSET_COMMIT_RESP + KD_N(KD_PROG_OFFSET_COMMIT_RESP),
	KD_P_CREATE_TOPICS_RESP = KD_P_OFFSET_FETCH_RESP + KD_N(KD_PROG_OFFSET_FETCH_RESP),
	KD_P_DELETE_TOPICS_RESP = KD_P_CREATE_TOPICS_RESP + KD_N(KD_PROG_CREATE_TOPICS_RESP),
	KD_P_DELETE_RECORDS_RESP = KD_P_DELETE_TOPICS_RESP + KD_N(KD_PROG_DELETE_TOPICS_RESP),
	KD_P_ADD_PARTITIONS_RESP = KD_P_DELETE_RECORDS_RESP + KD_N(KD_PROG_DELETE_RECORDS_RESP),
	KD_P_DESCRIBE_CONFIGS_RESP = KD_P_ADD_PARTITIONS_RESP + KD_N(KD_PROG_ADD_PARTITIONS_RESP),
	KD_P_ALTER_CONFIGS_RESP = KD_P_DESCRIBE_CONFIGS_RESP + KD_N(KD_PROG_DESCRIBE_CONFIGS_RESP),
	KD_P_WRITE_TXN_MARKERS = KD_P_ALTER_CONFIGS_RESP + KD_N(KD_PROG_ALTER_CONFIGS_RESP),
	KD_P_DESCRIBE_ACLS = KD_P_WRITE_TXN_MARKERS + KD_N(KD_PROG_WRITE_TXN_MARKERS),
	KD_P_CREATE_ACLS = KD_P_DESCRIBE_ACLS + KD_N(KD_PROG_DESCRIBE_ACLS),
	KD_P_DELETE_ACLS = KD_P_CREATE_ACLS + KD_N(KD_PROG_CREATE_ACLS),
	KD_P_ALTER_REPLICA_LOG_DIRS = KD_P_DELETE_ACLS + KD_N(KD_PROG_DELETE_ACLS),
	KD_P_DESCRIBE_LOG_DIRS = KD_P_ALTER_REPLICA_LOG_DIRS + KD_N(KD_PROG_ALTER_REPLICA_LOG_DIRS),
	KD_P_VOTE = KD_P_DESCRIBE_LOG_DIRS + KD_N(KD_PROG_DESCRIBE_LOG_DIRS),
	KD_P_BEGIN_QUORUM_EPOCH = KD_P_VOTE + KD_N(KD_PROG_VOTE),
	KD_P_END_QUORUM_EPOCH = KD_P_BEGIN_QUORUM_EPOCH + KD_N(KD_PROG_BEGIN_QUORUM_EPOCH),
	KD_P_DESCRIBE_QUORUM = KD_P_END_QUORUM_EPOCH + KD_N(KD_PROG_END_QUORUM_EPOCH),
	KD_P_ALTER_PARTITION = KD_P_DESCRIBE_QUORUM + KD_N(KD_PROG_DESCRIBE_QUORUM),
	KD_P_FETCH_SNAPSHOT = KD_P_ALTER_PARTITION + KD_N(KD_PROG_ALTER_PARTITION),
	KD_P_CONSUMER_GROUP_HEARTBEAT = KD_P_FETCH_SNAPSHOT + KD_N(KD_PROG_FETCH_SNAPSHOT),
	KD_P_ASSIGN_REPLICAS_TO_DIRS = KD_P_CONSUMER_GROUP_HEARTBEAT + KD_N(KD_PROG_CONSUMER_GROUP_HEARTBEAT),
	KD_P_LIST_CONFIG_RESOURCES = KD_P_ASSIGN_REPLICAS_TO_DIRS + KD_N(KD_PROG_ASSIGN_REPLICAS_TO_DIRS),
	KD_P_DESCRIBE_TOPIC_PARTITIONS = KD_P_LIST_CONFIG_RESOURCES + KD_N(KD_PROG_LIST_CONFIG_RESOURCES),
	KD_P_SHARE_GROUP_HEARTBEAT = KD_P_DESCRIBE_TOPIC_PARTITIONS + KD_N(KD_PROG_DESCRIBE_TOPIC_PARTITIONS),
	KD_P_SHARE_FETCH = KD_P_SHARE_GROUP_HEARTBEAT + KD_N(KD_PROG_SHARE_GROUP_HEARTBEAT),
	KD_P_SHARE_ACKNOWLEDGE = KD_P_SHARE_FETCH + KD_N(KD_PROG_SHARE_FETCH),
	KD_P_INIT_SHARE_STATE = KD_P_SHARE_ACKNOWLEDGE + KD_N(KD_PROG_SHARE_ACKNOWLEDGE),
	KD_P_READ_SHARE_STATE = KD_P_INIT_SHARE_STATE + KD_N(KD_PROG_INIT_SHARE_STATE),
	KD_P_WRITE_SHARE_STATE = KD_P_READ_SHARE_STATE + KD_N(KD_PROG_READ_SHARE_STATE),
	KD_P_DELETE_SHARE_STATE = KD_P_WRITE_SHARE_STATE + KD_N(KD_PROG_WRITE_SHARE_STATE),
	KD_P_STREAMS_GROUP_HEARTBEAT = KD_P_DELETE_SHARE_STATE + KD_N(KD_PROG_DELETE_SHARE_STATE),
	KD_P_DESCRIBE_SHARE_GROUP_OFFSETS = KD_P_STREAMS_GROUP_HEARTBEAT + KD_N(KD_PROG_STREAMS_GROUP_HEARTBEAT),
	KD_P_ALTER_SHARE_GROUP_OFFSETS = KD_P_DESCRIBE_SHARE_GROUP_OFFSETS + KD_N(KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS),
	KD_P_DELETE_SHARE_GROUP_OFFSETS = KD_P_ALTER_SHARE_GROUP_OFFSETS + KD_N(KD_PROG_ALTER_SHARE_GROUP_OFFSETS),
	KD_P_GET_REPLICA_LOG_INFO = KD_P_DELETE_SHARE_GROUP_OFFSETS + KD_N(KD_PROG_DELETE_SHARE_GROUP_OFFSETS),
	KD_P_DESCRIBE_ACLS_RESP = KD_P_GET_REPLICA_LOG_INFO + KD_N(KD_PROG_GET_REPLICA_LOG_INFO),
	KD_P_DESCRIBE_LOG_DIRS_RESP = KD_P_DESCRIBE_ACLS_RESP + KD_N(KD_PROG_DESCRIBE_ACLS_RESP),
	KD_P_ELECT_LEADERS_RESP = KD_P_DESCRIBE_LOG_DIRS_RESP + KD_N(KD_PROG_DESCRIBE_LOG_DIRS_RESP),
	KD_P_LIST_REASSIGNMENTS_RESP = KD_P_ELECT_LEADERS_RESP + KD_N(KD_PROG_ELECT_LEADERS_RESP),
	KD_P_CONSUMER_GROUP_DESCRIBE_RESP = KD_P_LIST_REASSIGNMENTS_RESP + KD_N(KD_PROG_LIST_REASSIGNMENTS_RESP),
	KD_P_SHARE_GROUP_DESCRIBE_RESP = KD_P_CONSUMER_GROUP_DESCRIBE_RESP + KD_N(KD_PROG_CONSUMER_GROUP_DESCRIBE_RESP),
	KD_P_LIST_CONFIG_RESOURCES_RESP = KD_P_SHARE_GROUP_DESCRIBE_RESP + KD_N(KD_PROG_SHARE_GROUP_DESCRIBE_RESP),
	KD_P_DESCRIBE_TOPIC_PARTITIONS_RESP = KD_P_LIST_CONFIG_RESOURCES_RESP + KD_N(KD_PROG_LIST_CONFIG_RESOURCES_RESP),
	KD_P_SHARE_FETCH_RESP = KD_P_DESCRIBE_TOPIC_PARTITIONS_RESP + KD_N(KD_PROG_DESCRIBE_TOPIC_PARTITIONS_RESP),
	KD_P_SHARE_ACKNOWLEDGE_RESP = KD_P_SHARE_FETCH_RESP + KD_N(KD_PROG_SHARE_FETCH_RESP),
	KD_P_DESCRIBE_SHARE_GROUP_OFFSETS_RESP = KD_P_SHARE_ACKNOWLEDGE_RESP + KD_N(KD_PROG_SHARE_ACKNOWLEDGE_RESP),
	KD_P_ALTER_SHARE_GROUP_OFFSETS_RESP = KD_P_DESCRIBE_SHARE_GROUP_OFFSETS_RESP + KD_N(KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS_RESP),
	KD_P_DELETE_SHARE_GROUP_OFFSETS_RESP = KD_P_ALTER_SHARE_GROUP_OFFSETS_RESP + KD_N(KD_PROG_ALTER_SHARE_GROUP_OFFSETS_RESP),
	KD_P__END = KD_P_DELETE_SHARE_GROUP_OFFSETS_RESP + KD_N(KD_PROG_DELETE_SHARE_GROUP_OFFSETS_RESP),
};

static const struct kd_op kd_prog[] = {
	KD_PROG_PRODUCE,
	KD_PROG_FETCH,
	KD_PROG_LIST_OFFSETS,
	KD_PROG_METADATA,
	KD_PROG_OFFSET_COMMIT,
	KD_PROG_OFFSET_FETCH,
	KD_PROG_CREATE_TOPICS,
	KD_PROG_DELETE_TOPICS,
	KD_PROG_DELETE_RECORDS,
	KD_PROG_ADD_PARTITIONS,
	KD_PROG_DESCRIBE_CONFIGS,
	KD_PROG_ALTER_CONFIGS,
	KD_PROG_API_VERSIONS,
	KD_PROG_SASL_HANDSHAKE,
	KD_PROG_SASL_AUTH,
	KD_PROG_OFFSET_FOR_LEADER_EPOCH,
	KD_PROG_TXN_OFFSET_COMMIT,
	KD_PROG_CREATE_PARTITIONS,
	KD_PROG_DELETE_GROUPS,
	KD_PROG_ELECT_LEADERS,
	KD_PROG_INCR_ALTER_CONFIGS,
	KD_PROG_ALTER_REASSIGNMENTS,
	KD_PROG_LIST_REASSIGNMENTS,
	KD_PROG_OFFSET_DELETE,
	KD_PROG_DESCRIBE_PRODUCERS,
	KD_PROG_PRODUCE_RESP,
	KD_PROG_SASL_AUTH_RESP,
	KD_PROG_FETCH_RESP,
	KD_PROG_METADATA_RESP,
	KD_PROG_LIST_OFFSETS_RESP,
	KD_PROG_OFFSET_COMMIT_RESP,
	KD_PROG_OFFSET_FETCH_RESP,
	KD_PROG_CREATE_TOPICS_RESP,
	KD_PROG_DELETE_TOPICS_RESP,
	KD_PROG_DELETE_RECORDS_RESP,
	KD_PROG_ADD_PARTITIONS_RESP,
	KD_PROG_DESCRIBE_CONFIGS_RESP,
	KD_PROG_ALTER_CONFIGS_RESP,
	KD_PROG_WRITE_TXN_MARKERS,
	KD_PROG_DESCRIBE_ACLS,
	KD_PROG_CREATE_ACLS,
	KD_PROG_DELETE_ACLS,
	KD_PROG_ALTER_REPLICA_LOG_DIRS,
	KD_PROG_DESCRIBE_LOG_DIRS,
	KD_PROG_VOTE,
	KD_PROG_BEGIN_QUORUM_EPOCH,
	KD_PROG_END_QUORUM_EPOCH,
	KD_PROG_DESCRIBE_QUORUM,
	KD_PROG_ALTER_PARTITION,
	KD_PROG_FETCH_SNAPSHOT,
	KD_PROG_CONSUMER_GROUP_HEARTBEAT,
	KD_PROG_ASSIGN_REPLICAS_TO_DIRS,
	KD_PROG_LIST_CONFIG_RESOURCES,
	KD_PROG_DESCRIBE_TOPIC_PARTITIONS,
	KD_PROG_SHARE_GROUP_HEARTBEAT,
	KD_PROG_SHARE_FETCH,
	KD_PROG_SHARE_ACKNOWLEDGE,
	KD_PROG_INIT_SHARE_STATE,
	KD_PROG_READ_SHARE_STATE,
	KD_PROG_WRITE_SHARE_STATE,
	KD_PROG_DELETE_SHARE_STATE,
	KD_PROG_STREAMS_GROUP_HEARTBEAT,
	KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS,
	KD_PROG_ALTER_SHARE_GROUP_OFFSETS,
	KD_PROG_DELETE_SHARE_GROUP_OFFSETS,
	KD_PROG_GET_REPLICA_LOG_INFO,
	KD_PROG_DESCRIBE_ACLS_RESP,
	KD_PROG_DESCRIBE_LOG_DIRS_RESP,
	KD_PROG_ELECT_LEADERS_RESP,
	KD_PROG_LIST_REASSIGNMENTS_RESP,
	KD_PROG_CONSUMER_GROUP_DESCRIBE_RESP,
	KD_PROG_SHARE_GROUP_DESCRIBE_RESP,
	KD_PROG_LIST_CONFIG_RESOURCES_RESP,
	KD_PROG_DESCRIBE_TOPIC_PARTITIONS_RESP,
	KD_PROG_SHARE_FETCH_RESP,
	KD_PROG_SHARE_ACKNOWLEDGE_RESP,
	KD_PROG_DESCRIBE_SHARE_GROUP_OFFSETS_RESP,
	KD_PROG_ALTER_SHARE_GROUP_OFFSETS_RESP,
	KD_PROG_DELETE_SHARE_GROUP_OFFSETS_RESP,
};

_Static_assert(sizeof(kd_prog) / sizeof(kd_prog[0]) == KD_P__END, "program offsets");

#define KD_PROG_AT(name) .prog = KD_P_##name, .prog_len = KD_N(KD_PROG_##name)

/* Kafka defines request api keys 0..93 (4.3, and GetReplicaLogInfo on trunk). */
#define KD_API_COUNT 94

#define API(mx, fl, op) { .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op) }
#define APIT(mx, fl, op) { .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op), .topics = 1 }
#define APIP(mx, fl, op, name)                                                                  \
	{ .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op), KD_PROG_AT(name) }
/* ... and the response too */
#define APIR(mx, fl, op, name)                                                                  \
	{ .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op), KD_PROG_AT(name),      \
	  .rprog = KD_P_##name##_RESP, .rprog_len = KD_N(KD_PROG_##name##_RESP) }
/* ... a response read with another key's program */
#define APIRR(mx, fl, op, name, rname)                                                          \
	{ .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op), KD_PROG_AT(name),      \
	  .rprog = KD_P_##rname##_RESP, .rprog_len = KD_N(KD_PROG_##rname##_RESP) }
/* ... only the response */
#define APIRO(mx, fl, op, rname)                                                                \
	{ .known = 1, .max_ver = (mx), .flex_min = (fl), .opclass = (op),                        \
	  .rprog = KD_P_##rname##_RESP, .rprog_len = KD_N(KD_PROG_##rname##_RESP) }

/*
 * Every request api key Kafka defines. Keys with a program are decoded; the others
 * are reported (key, version, client id) and skipped by their frame size; .topics
 * marks those whose bodies name topics the decoder does not read.
 */
static const struct kd_api kd_apis[KD_API_COUNT] = {
	[0] = APIR(13, 9, KG_OP_PRODUCE, PRODUCE),
	[1] = APIR(18, 12, KG_OP_CONSUME, FETCH),
	[2] = APIR(11, 6, KG_OP_CONSUME, LIST_OFFSETS),
	[3] = APIR(13, 9, KG_OP_DESCRIBE, METADATA),
	[4] = APIT(7, 4, KG_OP_ADMIN), /* LeaderAndIsr */
	[5] = APIT(4, 2, KG_OP_ADMIN), /* StopReplica */
	[6] = APIT(8, 6, KG_OP_ADMIN), /* UpdateMetadata */
	[7] = API(3, 3, KG_OP_ADMIN), /* ControlledShutdown */
	[8] = APIR(10, 8, KG_OP_CONSUME, OFFSET_COMMIT),
	[9] = APIR(10, 6, KG_OP_CONSUME, OFFSET_FETCH),
	[10] = API(6, 3, KG_OP_CONSUME), /* FindCoordinator */
	[11] = API(9, 6, KG_OP_CONSUME), /* JoinGroup */
	[12] = API(4, 4, KG_OP_CONSUME), /* Heartbeat */
	[13] = API(5, 4, KG_OP_CONSUME), /* LeaveGroup */
	[14] = API(5, 4, KG_OP_CONSUME), /* SyncGroup */
	[15] = API(6, 5, KG_OP_DESCRIBE), /* DescribeGroups */
	[16] = API(5, 3, KG_OP_DESCRIBE), /* ListGroups */
	[17] = APIP(1, KD_NEVER, KG_OP_OTHER, SASL_HANDSHAKE),
	[18] = APIP(4, 3, KG_OP_OTHER, API_VERSIONS),
	[19] = APIR(7, 5, KG_OP_ADMIN, CREATE_TOPICS),
	[20] = APIR(6, 4, KG_OP_ADMIN, DELETE_TOPICS),
	[21] = APIR(2, 2, KG_OP_ADMIN, DELETE_RECORDS),
	[22] = API(6, 2, KG_OP_PRODUCE), /* InitProducerId */
	[23] = APIP(4, 4, KG_OP_DESCRIBE, OFFSET_FOR_LEADER_EPOCH),
	[24] = APIRR(5, 3, KG_OP_PRODUCE, ADD_PARTITIONS, ADD_PARTITIONS),
	[25] = API(4, 3, KG_OP_PRODUCE), /* AddOffsetsToTxn */
	[26] = API(5, 3, KG_OP_PRODUCE), /* EndTxn */
	[27] = APIP(2, 1, KG_OP_ADMIN, WRITE_TXN_MARKERS), /* WriteTxnMarkers */
	[28] = APIP(5, 3, KG_OP_CONSUME, TXN_OFFSET_COMMIT),
	[29] = APIR(3, 2, KG_OP_ADMIN, DESCRIBE_ACLS), /* DescribeAcls */
	[30] = APIP(3, 2, KG_OP_ADMIN, CREATE_ACLS), /* CreateAcls */
	[31] = APIP(3, 2, KG_OP_ADMIN, DELETE_ACLS), /* DeleteAcls */
	[32] = APIR(4, 4, KG_OP_DESCRIBE, DESCRIBE_CONFIGS),
	[33] = APIR(2, 2, KG_OP_ADMIN, ALTER_CONFIGS),
	[34] = APIP(2, 2, KG_OP_ADMIN, ALTER_REPLICA_LOG_DIRS), /* AlterReplicaLogDirs */
	[35] = APIR(5, 2, KG_OP_DESCRIBE, DESCRIBE_LOG_DIRS), /* DescribeLogDirs */
	[36] = APIRR(2, 2, KG_OP_OTHER, SASL_AUTH, SASL_AUTH),
	[37] = APIP(3, 2, KG_OP_ADMIN, CREATE_PARTITIONS),
	[38] = API(3, 2, KG_OP_ADMIN), /* CreateDelegationToken */
	[39] = API(2, 2, KG_OP_ADMIN), /* RenewDelegationToken */
	[40] = API(2, 2, KG_OP_ADMIN), /* ExpireDelegationToken */
	[41] = API(3, 2, KG_OP_DESCRIBE), /* DescribeDelegationToken */
	[42] = APIP(2, 2, KG_OP_ADMIN, DELETE_GROUPS),
	[43] = APIR(2, 2, KG_OP_ADMIN, ELECT_LEADERS),
	[44] = APIRR(1, 1, KG_OP_ADMIN, INCR_ALTER_CONFIGS, ALTER_CONFIGS),
	[45] = APIP(1, 0, KG_OP_ADMIN, ALTER_REASSIGNMENTS),
	[46] = APIRR(0, 0, KG_OP_DESCRIBE, LIST_REASSIGNMENTS, LIST_REASSIGNMENTS),
	[47] = APIP(0, KD_NEVER, KG_OP_ADMIN, OFFSET_DELETE),
	[48] = API(1, 1, KG_OP_DESCRIBE), /* DescribeClientQuotas */
	[49] = API(1, 1, KG_OP_ADMIN), /* AlterClientQuotas */
	[50] = API(0, 0, KG_OP_DESCRIBE), /* DescribeUserScramCredentials */
	[51] = API(0, 0, KG_OP_ADMIN), /* AlterUserScramCredentials */
	[52] = APIP(2, 0, KG_OP_ADMIN, VOTE), /* Vote */
	[53] = APIP(1, 1, KG_OP_ADMIN, BEGIN_QUORUM_EPOCH), /* BeginQuorumEpoch: flexible from v1 */
	[54] = APIP(1, 1, KG_OP_ADMIN, END_QUORUM_EPOCH), /* EndQuorumEpoch: flexible from v1 */
	[55] = APIP(2, 0, KG_OP_ADMIN, DESCRIBE_QUORUM), /* DescribeQuorum */
	[56] = APIP(3, 0, KG_OP_ADMIN, ALTER_PARTITION), /* AlterPartition */
	[57] = API(2, 0, KG_OP_ADMIN), /* UpdateFeatures */
	[58] = API(0, 0, KG_OP_ADMIN), /* Envelope */
	[59] = APIP(1, 0, KG_OP_ADMIN, FETCH_SNAPSHOT), /* FetchSnapshot */
	[60] = API(2, 0, KG_OP_DESCRIBE), /* DescribeCluster */
	[61] = APIP(0, 0, KG_OP_DESCRIBE, DESCRIBE_PRODUCERS),
	[62] = API(4, 0, KG_OP_ADMIN), /* BrokerRegistration */
	[63] = API(2, 0, KG_OP_ADMIN), /* BrokerHeartbeat */
	[64] = API(0, 0, KG_OP_ADMIN), /* UnregisterBroker */
	[65] = API(0, 0, KG_OP_DESCRIBE), /* DescribeTransactions */
	[66] = API(2, 0, KG_OP_DESCRIBE), /* ListTransactions */
	[67] = API(0, 0, KG_OP_ADMIN), /* AllocateProducerIds */
	[68] = APIP(1, 0, KG_OP_CONSUME, CONSUMER_GROUP_HEARTBEAT),
	[69] = APIRO(1, 0, KG_OP_DESCRIBE, CONSUMER_GROUP_DESCRIBE), /* ConsumerGroupDescribe */
	[70] = API(0, 0, KG_OP_ADMIN), /* ControllerRegistration */
	[71] = API(0, 0, KG_OP_OTHER), /* GetTelemetrySubscriptions */
	[72] = API(0, 0, KG_OP_OTHER), /* PushTelemetry */
	[73] = APIP(0, 0, KG_OP_ADMIN, ASSIGN_REPLICAS_TO_DIRS), /* AssignReplicasToDirs */
	[74] = APIR(1, 0, KG_OP_DESCRIBE, LIST_CONFIG_RESOURCES), /* ListConfigResources */
	[75] = APIR(0, 0, KG_OP_DESCRIBE, DESCRIBE_TOPIC_PARTITIONS), /* DescribeTopicPartitions: nullable Cursor struct */
	[76] = APIP(1, 0, KG_OP_CONSUME, SHARE_GROUP_HEARTBEAT),
	[77] = APIRO(1, 0, KG_OP_DESCRIBE, SHARE_GROUP_DESCRIBE), /* ShareGroupDescribe */
	[78] = APIR(2, 0, KG_OP_CONSUME, SHARE_FETCH), /* ShareFetch */
	[79] = APIR(2, 0, KG_OP_CONSUME, SHARE_ACKNOWLEDGE), /* ShareAcknowledge */
	[80] = API(1, 0, KG_OP_ADMIN), /* AddRaftVoter */
	[81] = API(0, 0, KG_OP_ADMIN), /* RemoveRaftVoter */
	[82] = API(0, 0, KG_OP_ADMIN), /* UpdateRaftVoter */
	[83] = APIP(0, 0, KG_OP_ADMIN, INIT_SHARE_STATE), /* InitializeShareGroupState */
	[84] = APIP(0, 0, KG_OP_ADMIN, READ_SHARE_STATE), /* ReadShareGroupState */
	[85] = APIP(1, 0, KG_OP_ADMIN, WRITE_SHARE_STATE), /* WriteShareGroupState */
	[86] = APIP(0, 0, KG_OP_ADMIN, DELETE_SHARE_STATE), /* DeleteShareGroupState */
	[87] = APIP(1, 0, KG_OP_ADMIN, READ_SHARE_STATE), /* ReadShareGroupStateSummary */
	[88] = APIP(0, 0, KG_OP_CONSUME, STREAMS_GROUP_HEARTBEAT),
	[89] = API(0, 0, KG_OP_DESCRIBE), /* StreamsGroupDescribe */
	[90] = APIR(1, 0, KG_OP_DESCRIBE, DESCRIBE_SHARE_GROUP_OFFSETS), /* DescribeShareGroupOffsets */
	[91] = APIR(0, 0, KG_OP_ADMIN, ALTER_SHARE_GROUP_OFFSETS), /* AlterShareGroupOffsets */
	[92] = APIR(0, 0, KG_OP_ADMIN, DELETE_SHARE_GROUP_OFFSETS), /* DeleteShareGroupOffsets */
	[93] = APIP(0, 0, KG_OP_ADMIN, GET_REPLICA_LOG_INFO), /* GetReplicaLogInfo */
};

#undef API
#undef APIT
#undef APIP
#undef APIR
#undef APIRR
#undef APIRO
#undef OPV
#undef OP
#undef END
#undef ENDP
#undef EMIT
#undef ENDE
#undef KD_TOPICS_BY_NAME
#undef KD_TOPICS_BY_ID
#undef KD_ENTRIES_BY_NAME
#undef KD_ALL_OR_TOPIC_PARTITIONS
#undef KD_PARTITION_ERRORS
#undef EBEGIN
#undef AEMIT
#undef CEMIT

#endif /* KAFKA_LAYOUTS_H */
