/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kgate ABI: enums, structs and limits shared by the BPF programs (bpf/) and
 * the agent and tests (agent/, tests/). Both sides include this one file; nothing
 * here may be redefined elsewhere.
 *
 * When an enum below changes, also update: its X-macro list right here (KG_OPS, KD_REASONS:
 * each symbol with its name, a stable string used in JSON, metrics and the README;
 * agent/lib/names.c expands them), README.md (tables of
 * reasons and operations) and tests/unit/test_decode.c (negative inputs).
 */
#ifndef KGATE_ABI_H
#define KGATE_ABI_H

#include <linux/types.h>

/* Operation class of a request, from its api_key (docs/DESIGN.md §3). */
#define KG_OPS(X)                                                                                  \
	X(KG_OP_OTHER, "other")                                                                    \
	X(KG_OP_PRODUCE, "produce")                                                                \
	X(KG_OP_CONSUME, "consume")                                                                \
	X(KG_OP_DESCRIBE, "describe")                                                              \
	X(KG_OP_ADMIN, "admin")

#define KG_ENUM_ENTRY(sym, name) sym,
enum kg_op { KG_OPS(KG_ENUM_ENTRY) KG_OP__COUNT };

/*
 * Why the decoder could not decode a frame. Inside a frame whose size is known the
 * decoder skips the rest of that frame and resumes at the next one (kd_state.phase is
 * KD_PH_RESYNC); errors in the size itself, TLS, and the step bound end decoding for
 * the flow (KD_PH_DEAD). Either way the datapath applies on_undecodable.
 */
#define KD_REASONS(X)                                                                              \
	X(KD_OK, "ok")                                                                             \
	X(KD_ERR_TRUNCATED, "truncated_field")     /* a field runs past its frame's end */        \
	X(KD_ERR_NEG_LEN, "negative_length")       /* length < 0 where not nullable, or < -1 */   \
	X(KD_ERR_LEN_OVER, "oversized_length")     /* length beyond frame or a KD_MAX_* limit */  \
	X(KD_ERR_ARRAY_OVER, "too_many_entries")   /* array/tag count > KD_MAX_ARRAY_ENTRIES */   \
	X(KD_ERR_VARINT, "varint_overlong")        /* uvarint with a 5th byte that continues */   \
	X(KD_ERR_UNKNOWN_API, "unknown_api")       /* api_key or api_version not known */          \
	X(KD_ERR_TLS, "tls_on_plaintext")          /* TLS record header where a frame starts */    \
	X(KD_ERR_BOUND, "decoder_bound")           /* steps per chunk or nesting depth exceeded */ \
	X(KD_ERR_MIDSTREAM, "midstream")           /* flow first seen mid-stream (no SYN) */    \
	X(KD_ERR_TOPICS_UNREAD, "topics_not_read") /* names topics the decoder cannot read */      \
	X(KD_ERR_PROBE, "probe_read")              /* a probe segment passed ahead must be read */

enum kd_reason { KD_REASONS(KG_ENUM_ENTRY) KD_REASON__COUNT };

/* SASL mechanisms the decoder recognises by name in SaslHandshake. */
#define KD_MECHS(X)                                                                                \
	X(KD_MECH_NONE, "none")                                                                    \
	X(KD_MECH_PLAIN, "PLAIN")                                                                  \
	X(KD_MECH_SCRAM_SHA_256, "SCRAM-SHA-256")                                                  \
	X(KD_MECH_SCRAM_SHA_512, "SCRAM-SHA-512")                                                  \
	X(KD_MECH_GSSAPI, "GSSAPI")                                                                \
	X(KD_MECH_OAUTHBEARER, "OAUTHBEARER")                                                      \
	X(KD_MECH_OTHER, "other")

enum kd_mech { KD_MECHS(KG_ENUM_ENTRY) KD_MECH__COUNT };

/*
 * Decoder limits. Each is a wire fact or a bound the BPF verifier needs; hitting
 * one ends the flow's decoding with the reason named.
 */
/* socket.request.max.bytes default (100 MiB): a larger frame -> KD_ERR_LEN_OVER. */
#define KD_MAX_FRAME (100u << 20)
/* sasl.server.max.receive.size default: a larger raw SASL token -> KD_ERR_LEN_OVER. */
#define KD_MAX_SASL_FRAME 524288u
/* Kafka topic names are 1..249 ASCII bytes: a longer name -> KD_ERR_LEN_OVER. */
#define KD_TOPIC_MAX 249
/* Bytes of client.id reported; the rest is skipped (client ids may be 32 KiB). */
#define KD_CLIENT_ID_MAX 64
/* kd_state.client_id_null for an id longer than KD_CLIENT_ID_MAX (reported cut). */
#define KD_CLIENT_ID_CUT 2
/* Bytes of a group id reported; longer ids are reported truncated (flagged). */
#define KD_GROUP_MAX KD_TOPIC_MAX
/* Bytes of a SASL user name kept; a longer name is reported truncated (flagged). */
#define KD_USER_MAX 64
/* Bytes of a SASL mechanism name kept (the longest standard one is 13). */
#define KD_MECH_NAME_MAX 20
/* Entries in one array or tagged-field section: more -> KD_ERR_ARRAY_OVER. */
#define KD_MAX_ARRAY_ENTRIES 65536u
/* Nested arrays (OffsetFetch v8: groups/topics/partitions = 3): deeper -> KD_ERR_BOUND. */
#define KD_MAX_DEPTH 4
/*
 * Interpreter steps allowed for a chunk of len bytes (one step = one field, one skip,
 * one SASL token byte, or one op that reads nothing). Real clients need well under
 * one step per byte; crafted input can need ~5 per byte and then hits the bound ->
 * KD_ERR_BOUND (fatal: the rest of the chunk is not decoded).
 */
#define KD_STEPS_BASE 256u
#define KD_STEPS_PER_BYTE 4u
#define KD_STEPS_FOR(len) (KD_STEPS_BASE + KD_STEPS_PER_BYTE * (__u32)(len))
/* The bound for a 1500-byte segment, for tests and documentation. */
#define KD_MAX_STEPS_PER_CHUNK KD_STEPS_FOR(1500)
/* Bytes copied per step into a name buffer; sizes the buffers' verifier slack. */
#define KD_WIN 32
/* Largest fixed field assembled across chunks (a UUID); carry buffer slack = x2. */
#define KD_CARRY_MAX 16

/* Pseudo api_key reported for a raw SASL token frame (SaslHandshake v0 flows). */
#define KD_KEY_SASL_RAW 0x7fff

/* Decoder phases (internal, but part of the flow map value). */
enum kd_phase {
	KD_PH_SIZE = 0, /* reading the 4-byte frame size */
	KD_PH_HDR,      /* api_key, api_version, correlation_id */
	KD_PH_CLIENT,   /* client_id length and bytes (+TF on header v2) */
	KD_PH_BODY,     /* running the layout program */
	KD_PH_TRAIL,    /* program done: skip what is left of the frame */
	KD_PH_RAW,      /* a raw SASL token frame (SaslHandshake v0) */
	KD_PH_RESYNC,   /* an undecodable frame: skipping to its end */
	KD_PH_RHDR,     /* a response: correlation_id (+ tagged fields), then KD_PH_BODY */
	KD_PH_RRAW,     /* a raw SASL token from the broker (after SaslHandshake v0) */
	KD_PH_DEAD,     /* decoding ended; reason in kd_state.reason */
};

/* Flags in kd_state.flags. */
#define KD_F_FLEX 0x01         /* current request uses a flexible version */
#define KD_F_IN_TF 0x02        /* reading a tagged-field section */
#define KD_F_NAME_NULL 0x04    /* pending topic name is null */
#define KD_F_HAVE_ID 0x08      /* pending topic id is set */
#define KD_F_HAVE_NAME 0x10    /* pending topic name is set */
#define KD_F_TRUNC 0x20        /* reported group/user was cut at its limit */
#define KD_F_SASL_USER_SEEN 0x40 /* first SASL token of this exchange already parsed */
#define KD_F_ZERO_ID 0x80      /* response mode: pending topic id is the all-zero id */

/* Flags in kd_state.uflags. */
#define KD_U_TOKEN 0x01 /* SCRAM tokenauth=true: the name is a delegation token id, not a user */

/* Flags in kd_state.here: what completed in the current chunk. */
#define KD_H_NAME 0x01 /* a topic name ended at name_off */
#define KD_H_UUID 0x02 /* a topic id ended at uuid_off */
#define KD_H_SESSION 0x04 /* a Fetch session_id + epoch lie wholly in this chunk at sess_off */
#define KD_H_ERR 0x08     /* a response error_code lies wholly in this chunk at err_off */

/*
 * Resumable per-flow decoder state. Lives in the flow map value (BPF) or in memory
 * (host). Field order keeps u32s aligned; sizes are asserted below.
 */
struct kd_state {
	__u32 frame_size;  /* size field of the current frame */
	__u32 frame_left;  /* bytes of the current frame not yet consumed */
	__u32 skip;        /* bytes to pass over before the next field */
	__u32 str_len;     /* length of the string/bytes field being read */
	__u32 copied;      /* bytes of that field consumed so far */
	__s32 corr;        /* correlation_id of the current frame */
	__u32 tf_left;     /* tagged fields left in the current section */
	__u32 arr_left[KD_MAX_DEPTH];
	__u8 arr_pc[KD_MAX_DEPTH];
	__u16 api_key;
	__u16 api_version;
	__u16 pc;          /* index into the layout program */
	__u8 phase;        /* enum kd_phase */
	__u8 sub;          /* position inside the current op */
	__u8 tf_sub;       /* position inside the tagged-field section */
	__u8 depth;        /* nested arrays open */
	__u8 carry_len;    /* bytes of a fixed field gathered so far */
	__u8 flags;        /* KD_F_* */
	__u8 reason;       /* enum kd_reason once phase == KD_PH_DEAD */
	__u8 opclass;      /* enum kg_op of the current request */
	__u8 rtype;        /* DescribeConfigs/AlterConfigs resource_type of the entry */
	__u8 mech;         /* enum kd_mech from SaslHandshake */
	__u8 sasl_raw;     /* requests: after SaslHandshake v0, frames that are not requests are
			    * raw tokens; responses: raw token answers still expected */
	__u8 sasl_ps;      /* SASL token parse state */
	__u8 user_len;
	__u8 mech_len;
	__u8 client_id_len;  /* bytes kept in client_id */
	__u8 client_id_null; /* 1: client_id was null; KD_CLIENT_ID_CUT: longer than kept */
	__u16 name_len;      /* bytes in name (topic or group) */
	__u8 skip_nest;      /* open arrays being passed over (empty, null or absent) */
	__u8 tkind;          /* KD_TK_* of the last topic event */
	__u8 carry[2 * KD_CARRY_MAX];
	__u8 uuid[16];
	/*
	 * name_key_len, name_key_gen and name together form a kg_topics LPM key
	 * (maps/kgate_maps.h): the datapath looks a topic up without copying it.
	 */
	__u32 name_key_len;
	__u8 name_key_gen;
	__u8 name[256 + KD_WIN]; /* 249 + terminator 0, + verifier slack */
	__u8 client_id[KD_CLIENT_ID_MAX + KD_WIN];
	__u8 user[KD_USER_MAX];
	__u8 mech_name[32 + KD_WIN];
	__u32 uv;          /* value of a uvarint being read */
	__u32 name_off;    /* chunk offset just after the last name byte (KD_H_NAME) */
	__u32 uuid_off;    /* chunk offset just after the last uuid byte (KD_H_UUID) */
	__u32 frame_rem;   /* bytes of the current frame not yet consumed from the stream */
	__u8 here;         /* KD_H_*: set by the decoder, cleared by the datapath per chunk */
	__u8 tf_tag;       /* tag of the tagged field being read (255 for any tag >= 255) */
	__u8 carry_pending; /* header bytes already read that belong to a raw SASL token */
	__u8 uflags;       /* KD_U_* about the reported SASL user */
	__u16 client_id_full; /* the client_id's length on the wire (0 when null) */
	__u8 ptype;        /* ACL pattern type of the resource being read (KD_OP_PTYPE) */
	__u8 tset;         /* KD_TS_* of the last KD_EV_TSET */
	__u16 pad3[2];
	__s32 sess_id;     /* Fetch v7+ session_id of the current request */
	__s32 sess_epoch;  /* ... and its session_epoch (0 new session, -1 none, > 0 incremental) */
	__u32 sess_off;    /* chunk offset of session_id (KD_H_SESSION) */
	__u32 err_off;     /* chunk offset of a response error_code (KD_H_ERR) */
	__u16 rprog;       /* response mode: first op of the body program */
	__u8 rprog_len;    /* response mode: its length; 0 = skip the body */
	__u8 resp;         /* 1: this state decodes responses (broker -> client) */
	__u16 err_code;    /* the error_code just read (KD_EV_ERRCODE) */
	__s16 acks;        /* Produce: acks of the current request (0: no response comes) */
	/*
	 * Response entries (KD_OP_EBEGIN): where the current entry began, as an offset from
	 * the first byte of its frame (the size field). KD_EV_ENTRY reports the entry's end,
	 * which is the frame offset of the current position (kd_frame_pos).
	 */
	__u32 ent_begin;
	__u32 pad4;
};

_Static_assert(sizeof(((struct kd_state *)0)->name) == 256 + KD_WIN, "name buffer: 256 + window");
_Static_assert(__builtin_offsetof(struct kd_state, name) ==
		       __builtin_offsetof(struct kd_state, name_key_len) + 5,
	       "name_key_len, name_key_gen, name must be contiguous (an LPM key)");
_Static_assert(KD_TOPIC_MAX < 256, "name_len bounds assume names fit in 8 bits of index");

_Static_assert((sizeof(struct kd_state) % 8) == 0, "kd_state must stay 8-byte sized");
_Static_assert(sizeof(struct kd_state) <= 704, "kd_state is part of every flow entry");

/*
 * kd_state.tset for KD_EV_TSET: a request about a set of topics rather than a list.
 * ALL: every topic (a null topic list, an ACL filter of any name, the ACL wildcard).
 * PREFIX: every topic whose name starts with name[0..name_len) (a PREFIXED ACL pattern,
 * or an ANY pattern filter, which matches the literal and the prefixed pattern).
 * MATCH: the ACLs that apply to topic name (literal, the wildcard, and every prefixed
 * pattern that is a prefix of it). REGEX: a subscribed regular expression in name
 * (KD_F_TRUNC: cut at KD_TOPIC_MAX bytes): the topics are not known on the wire.
 */
#define KD_TS_ALL 1
#define KD_TS_PREFIX 2
#define KD_TS_MATCH 3
#define KD_TS_REGEX 4

/*
 * One decoder event as the decode probe (bpf/decode_probe.bpf.c) reports it through
 * its ring buffer; tests compare these with the host build of the same decoder.
 */
struct kd_probe_event {
	__u32 seq;       /* per-flow event number */
	__u8 ev;         /* enum kd_event */
	__u8 reason;     /* enum kd_reason for KD_EV_ERROR */
	__u8 tkind;
	__u8 client_id_len;
	__u16 api_key;
	__u16 api_version;
	__s32 corr;
	__u32 frame_size;
	__u16 name_len;
	__u8 user_len;
	__u8 mech_len;
	__u8 flags;
	__u8 client_id_null;
	__u8 uflags;     /* KD_U_* */
	__u8 phase;      /* decoder phase after the event (KD_PH_DEAD: decoding ended) */
	__u16 client_id_full;
	__u8 tset;       /* KD_TS_* for KD_EV_TSET */
	__u8 rtype;      /* the resource type for KD_EV_RESOURCE */
	__s32 sess_id;   /* KD_EV_SESSION */
	__s32 sess_epoch;
	__u8 uuid[16];
	__u8 client_id[KD_CLIENT_ID_MAX];
	__u8 user[KD_USER_MAX];
	__u8 mech_name[32];
	__u8 name[256];
};

_Static_assert(sizeof(struct kd_probe_event) % 8 == 0, "probe event size");

#endif /* KGATE_ABI_H */
