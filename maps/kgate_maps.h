/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kgate datapath ABI: the maps' keys and values, actions, verdicts, counters and
 * limits, shared by bpf/kgate_*.bpf.c and the agent (policy compiler, loader, CLI).
 *
 * Policy generations: every policy table holds two generations side by side, told
 * apart by a generation number inside the key (or the index). The agent writes a new
 * policy into the inactive generation, then flips kg_active (one 32-bit word: an
 * epoch counter whose low bit is the generation); a decision reads kg_active once
 * and uses that generation for every lookup, so no decision ever sees half of a
 * policy. Per-flow state derived from a policy (ids, memos) carries the epoch.
 *
 * Enums with names are X-macro lists (KG_ACTIONS, KG_PSRCS, KG_COUNTERS here, KG_OPS and
 * KD_REASONS in kgate_abi.h): the name is given beside the symbol, and the agent expands
 * each list once (agent/lib/names.c). When one changes, also update README.md and the
 * tests that name it (the datapath cases under tests/bpf/datapath/, the unit tests).
 */
#ifndef KGATE_MAPS_H
#define KGATE_MAPS_H

#include <linux/types.h>
#include "kgate_abi.h"

/* ---- limits (each: what happens when it is hit) ---------------------------- */

/* Rules in one policy: more -> the compiler refuses the policy. */
#define KG_MAX_RULES 131072
/* Distinct topic patterns (exact + prefix) in one policy: more -> refused. */
#define KG_MAX_PATTERNS 131072
/*
 * Rules that can still match a topic once its pattern class is known (after rules
 * that can never be reached are pruned): more -> the compiler refuses the policy,
 * naming the class. This bounds the per-topic work whatever the policy size.
 */
#define KG_MAX_CANDIDATES 32
/* Principals named in one policy (identities and rules), plus ANONYMOUS and OTHER. */
#define KG_MAX_PRINCIPALS 256
/* Regions in one policy, plus "no region": more -> refused. */
#define KG_MAX_REGIONS 64
/* client.id values named in rules, plus "other": more -> refused. */
#define KG_MAX_CLIENT_IDS 64
/* CIDRs of regions and of identities, each, per generation: more -> refused. */
#define KG_MAX_CIDRS 16384
/* Listener ports: more -> refused. */
#define KG_MAX_LISTENERS 16
/* Tracked connections: when full the least recently used flow is evicted; a later
 * segment of an evicted flow is undecodable (mid-stream) and gets on_undecodable. */
#define KG_MAX_FLOWS 32768
/* Requests with rejected topics whose responses are awaited, per flow; more -> the
 * oldest is forgotten (its client sees the broker's own error for the poisoned name). */
#define KG_PENDING 4
/* Rejected topic names or ids remembered per request; more -> not rewritten in the
 * response. */
#define KG_PEND_NAMES 4
/*
 * Requests awaiting their response, per flow. Kafka answers a connection's requests in
 * order, so the n-th response answers the n-th request that expects one: that, not the
 * client-chosen correlation id, ties a response to its request. More in flight -> the
 * responses are no longer followed (no rewrites, no SASL binding).
 */
#define KG_INFLIGHT 16
#define KG_IF_NORMAL 1 /* a response with a header */
#define KG_IF_RAW 2    /* a raw SASL token (after SaslHandshake v0) */

struct kg_inflight {
	__u32 idx;        /* request number */
	__u32 xchg;       /* SASL exchange number when it was sent */
	__u16 api_key;
	__u16 api_version;
	__u8 kind;        /* KG_IF_* */
	__u8 step;        /* SASL step within the exchange (1: the token carrying the user) */
	__u8 pend;        /* 1 + its pending rejections entry */
	__u8 pad;
};

/* Response bytes rewritten, remembered per flow for broker retransmissions. */
#define KG_RESP_REWRITES 32

/* Topic id -> name entries the agent may load. */
#define KG_MAX_TOPIC_IDS 65536
/* Recent segments remembered per flow to recognise retransmissions. */
#define KG_RETX_SLOTS 4
/*
 * The retransmission hash (NH, bpf/retx.h) reads 64-byte blocks and needs a
 * random 32-bit key word per 4 bytes hashed, plus 2 for its second, shifted sum (and
 * 2 spare, keeping the count even).
 */
#define KG_NH_BLOCK 64
#define KG_NH_KEY_WORDS (65536 / 4 + 4)
/* In-place rewrites remembered per recent segment (replayed on retransmission). */
#define KG_RETX_POISONS 4

/* Well-known ids. */
#define KG_PRINCIPAL_ANONYMOUS 0                  /* no identity CIDR, no SASL */
#define KG_PRINCIPAL_OTHER (KG_MAX_PRINCIPALS - 1) /* a SASL user the policy never names */
#define KG_REGION_NONE (KG_MAX_REGIONS - 1)       /* source in no region CIDR */
#define KG_CLIENT_OTHER (KG_MAX_CLIENT_IDS - 1)   /* a client.id no rule names */

/* ---- actions and verdicts -------------------------------------------------- */

#define KG_ACTIONS(X)                                                                              \
	X(KG_ACT_ALLOW, "allow")                                                                   \
	X(KG_ACT_REJECT, "reject")                                                                 \
	X(KG_ACT_RESET, "reset")                                                                   \
	X(KG_ACT_DROP, "drop")                                                                     \
	X(KG_ACT_REDIRECT, "redirect")

enum kg_action { KG_ACTIONS(KG_ENUM_ENTRY) KG_ACT__COUNT };

/* Where a flow's principal came from. */
#define KG_PSRCS(X)                                                                                \
	X(KG_PSRC_NONE, "anonymous")                                                               \
	X(KG_PSRC_IDENTITY, "identity")                                                            \
	X(KG_PSRC_SASL, "sasl")

enum kg_psrc { KG_PSRCS(KG_ENUM_ENTRY) KG_PSRC__COUNT };

/* Policy modes. */
#define KG_MODE_ENFORCE 0
#define KG_MODE_MONITOR 1

/* ---- policy tables --------------------------------------------------------- */

/* kg_rules[gen * KG_MAX_RULES + index]: one compiled rule. */
struct kg_rule {
	__u64 principals[KG_MAX_PRINCIPALS / 64]; /* bit per principal id (negations folded) */
	__u64 regions;                            /* bit per region id */
	__u64 client_ids;                         /* bit per client id */
	__u32 rule_id;                            /* position in the policy file, from 0 */
	__u8 ops;                                 /* bit per enum kg_op */
	__u8 action;                              /* enum kg_action */
	__u8 flags;                               /* KG_RULE_* */
	__u8 pad;
};
#define KG_RULE_AUDIT 0x01 /* decide and record, enforce nothing */
#define KG_RULE_USED 0x80  /* slot holds a rule */

/*
 * kg_topics (LPM trie): key data = generation byte, then the pattern bytes; exact
 * patterns end with a 0 byte (never in a topic name), prefix patterns do not. A topic
 * is looked up as gen, name, 0: the longest match names its pattern class, and the
 * class lists every rule whose pattern matches any topic of the class. The empty
 * prefix (prefixlen 8: the generation byte only) is always present: the class of
 * topics no pattern names.
 */
#define KG_TOPIC_KEY_DATA 256
struct kg_topic_key {
	__u32 prefixlen;
	__u8 data[KG_TOPIC_KEY_DATA]; /* gen, name (<= 249), terminator */
};

struct kg_class_ref {
	__u32 class_id;
};

/* kg_classes[gen * KG_MAX_PATTERNS + class_id]: the rules to try, in file order. */
struct kg_class {
	__u32 n;
	__u32 rules[KG_MAX_CANDIDATES]; /* indexes into this generation's rules */
};

/* kg_regions4 / kg_identities4 (LPM): gen byte + IPv4; ...6: gen byte + IPv6. */
struct kg_cidr4_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[4];
} __attribute__((packed));

struct kg_cidr6_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16];
} __attribute__((packed));

/* Region value: region id. Identity value: principal id. */
struct kg_id_val {
	__u32 id;
};

/* kg_names (hash): principal or client.id string -> id, per generation. */
#define KG_NAME_PRINCIPAL 1
#define KG_NAME_CLIENT 2
struct kg_name_key {
	__u8 gen;
	__u8 kind; /* KG_NAME_* */
	__u8 len;
	__u8 pad;
	__u8 name[KD_USER_MAX]; /* zero padded; principals and client ids up to 64 bytes */
};

/* kg_config[gen]: policy-wide settings of a generation. */
struct kg_config {
	__u32 version_id;        /* the agent's number for the policy's version string */
	__u8 mode;               /* KG_MODE_* */
	__u8 default_action;     /* enum kg_action when no rule matches */
	__u8 unknown_id_action;  /* enum kg_action for a topic id not in kg_topic_ids */
	__u8 audit_allow;        /* 0 none, 1 all, N: one allow event in N */
	__u16 listeners[KG_MAX_LISTENERS]; /* ports, 0 = unused */
	__u8 on_undecodable[KG_MAX_LISTENERS]; /* enum kg_action per listener */
	__u32 redirect_ifindex;  /* quarantine interface for KG_ACT_REDIRECT, 0 = none */
	__u32 pad;
};

/*
 * kg_topic_ids (hash): topic id -> name. The agent does not fill it (it learns no ids from
 * the brokers' answers yet; the datapath tests do): so under a running agent every topic
 * id is unknown and takes the policy's unknown_topic_id action.
 */
struct kg_topic_name {
	__u16 len;
	__u8 name[KD_TOPIC_MAX + 1];
	__u8 pad;
};

/* ---- flows ----------------------------------------------------------------- */

struct kg_flow_key {
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;    /* network order */
	__u16 dport;
	__u8 family;    /* 4 or 6 */
	__u8 pad[3];
};

/* The retransmission hash's key: random per datapath load, written once by the loader. */
struct kg_nhkey {
	__u32 ready; /* 0: not written yet (no retransmission passes) */
	__u32 pad;
	__u32 k[KG_NH_KEY_WORDS];
};

struct kg_retx {
	__u32 seq;
	__u16 len;
	__u8 npoison;
	__u8 pad;
	__u64 hash[2];
	__u16 poison_off[KG_RETX_POISONS]; /* payload offsets rewritten */
	__u16 poison_len[KG_RETX_POISONS];
};

#define KG_FLOW_SEQ_KNOWN 0x01 /* next_seq is set (SYN seen, or first segment) */
#define KG_FLOW_RESET 0x02     /* reset: later client segments are dropped */
#define KG_FLOW_DROP 0x04      /* black-holed */
#define KG_FLOW_DEAD 0x08      /* undecodable, on_undecodable was allow: pass, undecided */
#define KG_FLOW_MIDSTREAM 0x10 /* first seen mid-stream (no SYN) */
#define KG_FLOW_REDIRECT 0x20  /* redirected at SYN: every packet goes to quarantine */
#define KG_FLOW_SYNACK_WAIT 0x40 /* started by a SYN the broker has not answered yet */

#define KG_RF_SEQ_KNOWN 0x01 /* rnext_seq is set */
#define KG_RF_DEAD 0x02      /* the response stream was lost track of: passed unread */

/* A request with rejected topics, awaiting its response (TC egress rewrites it). */
struct kg_pend {
	__u32 req;                    /* the request's number (kg_inflight.idx) */
	__s32 corr;
	__u16 api_key;
	__u16 api_version;
	__u16 err;                    /* the authorization error to write (29, 30, 31) */
	__u8 n;                       /* rejected names */
	__u8 used;
	__u64 hash[KG_PEND_NAMES];    /* of the name as poisoned (as the broker echoes it) */
	__u8 orig[KG_PEND_NAMES];     /* the byte the poison replaced */
	__u8 ids;                     /* bit i: entry i is a topic id (uuid[i]), not a name */
	__u8 ids_seen;                /* bit i: the response's entry for it was met */
	__u8 pad[6];
	__u8 uuid[KG_PEND_NAMES][16]; /* the id the poison zeroed (the broker echoes zeros,
				       * in request order) */
};

/* One response byte kgate rewrote, by stream sequence number. */
struct kg_rewrite {
	__u32 seq;
	__u8 val;
	__u8 used;
	__u8 pad[2];
};

/*
 * Decisions a connection already made, by exact topic name (names longer than
 * KG_DCACHE_NAME are not remembered), operation and kind, valid for one policy epoch
 * and one (principal, region, client id): a producer names the same topics in every
 * request, and the memo spares their lookups. Direct-mapped on the name's length and
 * last bytes; the name itself is compared, so a collision only costs a lookup.
 */
#define KG_DCACHE 16
#define KG_DCACHE_NAME 32

struct kg_dcache {
	__u8 name[KG_DCACHE_NAME];
	__u32 dec;  /* kg_decide's result */
	__u8 len;   /* 0: empty */
	__u8 op;    /* opclass */
	__u8 pad[2];
};

struct kg_flow {
	struct kd_state dec;
	struct kd_state rdec;         /* the broker -> client stream (TC egress) */
	struct kg_pend pend[KG_PENDING];
	struct kg_rewrite rw[KG_RESP_REWRITES];
	__u32 rnext_seq;              /* next broker sequence number expected */
	__u8 rflags;                  /* KG_RF_* */
	__u8 rmatch;                  /* 1 + pending name index of the response topic at hand */
	__u8 rpend;                   /* 1 + pending entry of the response at hand */
	__u8 rw_next;
	__u8 pend_next;
	__u8 rsasl;                   /* the response at hand answers the SASL step */
	__u8 sasl_pending;            /* a user was read and awaits the broker's verdict */
	__u8 sasl_user_len;
	__u8 sasl_uflags;             /* KD_U_* */
	__u8 rpad[3];
	__u32 rerr_seq;               /* sequence number of a topic error before its name */
	__u8 rerr_valid;
	__u8 principal_opaque;        /* the SASL principal is a token or a cut name */
	__u8 rclosed;                 /* the broker sent FIN or RST (TC egress) */
	__u8 rsynack;                 /* the broker answered the flow's SYN (TC egress) */
	__u8 sasl_user[KD_USER_MAX];
	struct kg_inflight inflight[KG_INFLIGHT];
	__u32 req_no;                 /* requests that expect a response, so far */
	__u32 resp_no;                /* responses seen, so far */
	__u32 xchg;                   /* SASL exchanges (SaslHandshake requests) so far */
	__u32 sasl_user_xchg;         /* the exchange whose first token carried sasl_user */
	__u8 sasl_step;               /* SASL tokens sent in the current exchange */
	__u8 sasl_ok;                 /* bit n: step n answered with success */
	__u8 cur_pend;                /* 1 + pending rejections of the request at hand */
	__u8 rcur_valid;              /* the response at hand has an in-flight entry */
	__u32 rcur;                   /* ... at inflight[rcur % KG_INFLIGHT] */
	struct kg_flow_key key; /* this flow's own key, for events and the TC side */
	__u64 bytes;          /* payload bytes decided */
	__u64 ts_pkt;         /* time of the packet at hand's first event, 0 = none yet */
	__u32 next_seq;       /* next client sequence number expected */
	__u32 requests;       /* frames decoded */
	__u32 topics;         /* topic decisions made */
	__u16 principal_id;
	__u8 principal_src;   /* enum kg_psrc */
	__u8 region_id;
	__u8 client_cid;      /* client id of the current frame */
	__u8 flags;           /* KG_FLOW_* */
	__u8 listener;        /* index in kg_config.listeners */
	__u8 retx_next;       /* next kg_retx slot to fill */
	__u8 principal_len;
	__u16 frame_topics;   /* topics decided in the current request */
	__u8 frame_done;      /* the current request was decided as a whole */
	__u8 frame_exempt;    /* the current request is connection plumbing (not decided) */
	__u8 gen;             /* policy generation (epoch & 1) of the ids below */
	__u8 cid_len;         /* client_id of the last frame, for kg_client_id's memo */
	__u8 cid_null;
	__u8 frame_topicless; /* KG_FT_* (bpf/request.h): what of the current request was
			       * decided besides its topics */
	__u32 epoch;          /* kg_active epoch region/principal ids were taken from */
	__u32 sess_epoch;     /* 1 + the epoch that decided the Fetch session's topics */
	__u32 share_epoch;    /* 1 + the epoch this flow opened its share session under */
	__u32 share_salt;     /* random, this flow's: share session keys are keyed by it */
	__u32 isn;            /* the client's initial sequence number (its SYN's) */
	__u32 cid_epoch;      /* 1 + the epoch client_cid was looked up in */
	__u32 dc_epoch;       /* 1 + the epoch of the decisions in dcache */
	__u32 dc_stamp;       /* principal, region and client of the decisions in dcache */
	__u64 share_group;    /* the ShareFetch at hand's group, folded (kg_share_group); 0 none */
	__u64 share_key;      /* group and member id of the share session this flow opened */
	__u8 principal[KD_USER_MAX];
	__u8 cid[KD_CLIENT_ID_MAX];
	struct kg_retx retx[KG_RETX_SLOTS];
	struct kg_dcache dcache[KG_DCACHE];
};

/* ---- evidence -------------------------------------------------------------- */

/* Verdict classes for lost-event accounting. */
#define KG_LOST_DENY 0
#define KG_LOST_ALLOW 1

/* Decision event kinds. */
#define KG_EV_TOPIC 1       /* a topic decided */
#define KG_EV_REQUEST 2     /* a request with no topic decided by operation */
#define KG_EV_UNDECODABLE 3 /* decoding stopped: reason */
#define KG_EV_CONNECTION 4  /* connection-level action (redirect at SYN, ooo drop...) */
#define KG_EV_SESSION 5     /* an incremental Fetch or share session reset (a policy change;
			     * a share session another connection opened) */

/*
 * A decision event, as the agent reads it. The datapath sends it in parts (below);
 * agent/datapath/events.h puts it back together.
 */
struct kg_event {
	__u64 ts_ns;
	struct kg_flow_key flow;
	__u32 version_id;
	__u32 rule_id;          /* ~0 when no rule matched (default) */
	__s32 corr;
	__u32 frame_size;
	__u16 api_key;
	__u16 api_version;
	__u16 principal_id;
	__u8 kind;              /* KG_EV_* */
	__u8 verdict;           /* enum kg_action decided */
	__u8 enforced;          /* 0 in monitor mode or for audit rules */
	__u8 op;                /* enum kg_op */
	__u8 region_id;
	__u8 principal_src;
	__u8 reason;            /* enum kd_reason for KG_EV_UNDECODABLE */
	__u8 gen;
	__u8 tkind;             /* KD_TK_* */
	__u8 principal_len;
	__u8 client_id_len;
	__u8 pad[3];
	__u16 topic_len;
	__u8 uuid[16];
	__u8 principal[KD_USER_MAX];
	__u8 client_id[KD_CLIENT_ID_MAX];
	__u8 topic[256];
};

/*
 * How events travel in kg_event_recs: one ring-buffer record per packet, and compact. On a
 * paravirtualized host each reservation costs ~30-50 ns (its lock disables interrupts: a
 * hypervisor call), and fresh ring memory is slow to write: a Produce naming ten topics
 * is one record of ~550 bytes, not ten reservations of 488. A record is a list of
 * entries, each starting with struct kg_rec_hdr and a multiple of 8 bytes long:
 *
 *  - KG_REC_CTX (struct kg_rec_ctx), then the principal's bytes zero-padded to 8: what
 *    the events after it share (the packet's time, the flow, principal, region, policy
 *    version). First in every record.
 *  - KG_REC_DEC (struct kg_rec_dec): one event's own fields, then its topic id (only
 *    with KG_REC_F_UUID), its client id bytes zero-padded to 8 (none when null), its
 *    topic bytes and a NUL zero-padded to 8.
 *
 * Sizes: KG_REC_CTX_SIZE, KG_REC_DEC_SIZE. agent/datapath/events.h makes events of
 * them again.
 */
#define KG_REC_CTX 1
#define KG_REC_DEC 2

struct kg_rec_hdr {
	__u16 size; /* bytes of the entry, this header included */
	__u8 type;  /* KG_REC_* */
	__u8 pad;
};

struct kg_rec_ctx {
	struct kg_rec_hdr h;
	__u32 version_id;
	__u64 ts_ns;
	struct kg_flow_key flow;
	__u16 principal_id;
	__u8 region_id;
	__u8 principal_src;
	__u8 principal_len;
	__u8 gen;
	__u8 pad[2];
	/* the principal */
};

#define KG_REC_F_UUID 0x01 /* the entry carries the topic id (the event's tkind has KD_TK_ID) */

struct kg_rec_dec {
	struct kg_rec_hdr h;
	__u32 rule_id;
	__s32 corr;
	__u32 frame_size;
	__u16 api_key;
	__u16 api_version;
	__u8 kind;
	__u8 verdict;
	__u8 enforced;
	__u8 op;
	__u8 reason;
	__u8 tkind;
	__u8 client_id_len; /* 0xff: null */
	__u8 topic_len;     /* KD_TOPIC_MAX < 256 */
	__u8 flags;         /* KG_REC_F_* */
	__u8 pad[3];
	/* the topic id, the client id, the topic */
};

/* Bytes of the principal and of the client id (null: none) that entries carry. */
#define KG_REC_PRINCIPAL_BYTES(len) ((len) > KD_USER_MAX ? (__u32)KD_USER_MAX : (__u32)(len))
#define KG_REC_CID_BYTES(len)                                                                      \
	((len) == 0xff ? 0u : (len) > KD_CLIENT_ID_MAX ? (__u32)KD_CLIENT_ID_MAX : (__u32)(len))
#define KG_REC_PAD8(n) (((n) + 7) & ~7u)
#define KG_REC_CTX_SIZE(principal_len)                                                             \
	(sizeof(struct kg_rec_ctx) + KG_REC_PAD8(KG_REC_PRINCIPAL_BYTES(principal_len)))
#define KG_REC_DEC_SIZE(flags, cid_len, topic_len)                                                 \
	(sizeof(struct kg_rec_dec) + ((flags) & KG_REC_F_UUID ? 16u : 0u) +                       \
	 KG_REC_PAD8(KG_REC_CID_BYTES(cid_len)) + KG_REC_PAD8((__u32)(topic_len) + 1))
#define KG_REC_CTX_MAX KG_REC_CTX_SIZE(KD_USER_MAX)
#define KG_REC_DEC_MAX KG_REC_DEC_SIZE(KG_REC_F_UUID, KD_CLIENT_ID_MAX, 255)
/*
 * Bytes of events a CPU stages for one record: a packet whose events need more goes
 * out as several records, each starting with its context (over 150 events with short
 * topic names and client ids fit, 21 of the largest).
 */
#define KG_EVBATCH_BYTES 8192

/* Per-CPU counters, kg_counters[index]. */
#define KG_COUNTERS(X)                                                                             \
	X(KG_C_PACKETS, "packets")                                                                 \
	X(KG_C_LISTENER_PACKETS, "listener_packets")                                               \
	X(KG_C_FLOWS_NEW, "flows_new")                                                             \
	X(KG_C_OOO_DROPS, "out_of_order_drops")                                                    \
	X(KG_C_RETX_REPLAYED, "retransmissions_replayed")                                          \
	X(KG_C_RETX_DROPS, "retransmission_mismatch_drops")                                        \
	X(KG_C_OVERLAP_DROPS, "overlap_drops")                                                     \
	X(KG_C_FLOW_DROPPED_PKTS, "blackholed_packets")                                            \
	X(KG_C_CLIENT_RESETS, "client_resets")                                                     \
	X(KG_C_UNCONFIRMED_DROPS, "unconfirmed_flow_drops")                                        \
	X(KG_C_EVENTS_LOST_DENY, "events_lost_deny")                                               \
	X(KG_C_EVENTS_LOST_ALLOW, "events_lost_allow")                                             \
	X(KG_C_UNKNOWN_TOPIC_IDS, "unknown_topic_ids")                                             \
	X(KG_C_SYNS_ON_OPEN_FLOWS, "syns_on_open_flows")                                           \
	X(KG_C_FETCH_SESSION_RESETS, "fetch_session_resets")                                       \
	X(KG_C_UNREADABLE_DROPS, "unreadable_packet_drops") /* TCP fragments, unwalked headers, urgent data */

enum kg_counter {
	KG_COUNTERS(KG_ENUM_ENTRY)
	KG_C_VERDICT_BASE,                                   /* + enum kg_action */
	KG_C_UNDECODABLE_BASE = KG_C_VERDICT_BASE + KG_ACT__COUNT, /* + enum kd_reason */
	KG_C__COUNT = KG_C_UNDECODABLE_BASE + KD_REASON__COUNT,
};

/*
 * The maps the agent opens by their pins (<pin root>/<iface>/<pin name>, pinned by name by
 * libbpf), as X(field, pin name): agent/datapath/maps.h makes of this list struct kg_maps
 * (one file descriptor per map) and its pin names. A map the agent must open goes here.
 */
#define KG_PINNED_MAPS(X)                                                                          \
	X(active, "kg_active")                                                                     \
	X(ports, "kg_ports")                                                                       \
	X(config, "kg_config")                                                                     \
	X(rules, "kg_rules")                                                                       \
	X(classes, "kg_classes")                                                                   \
	X(topics, "kg_topics")                                                                     \
	X(regions4, "kg_regions4")                                                                 \
	X(regions6, "kg_regions6")                                                                 \
	X(identities4, "kg_identities4")                                                           \
	X(identities6, "kg_identities6")                                                           \
	X(names, "kg_names")                                                                       \
	X(topic_ids, "kg_topic_ids")                                                               \
	X(flows, "kg_flows")                                                                       \
	X(counters, "kg_counters")                                                                 \
	X(rule_hits, "kg_rule_hits")                                                               \
	X(events, "kg_event_recs")                                                                 \
	X(nhkey, "kg_nhkey")

_Static_assert(sizeof(struct kg_rule) == 56, "kg_rule layout");
_Static_assert(sizeof(struct kg_topic_key) == 4 + KG_TOPIC_KEY_DATA, "LPM key");
_Static_assert(1 + KD_TOPIC_MAX + 1 <= KG_TOPIC_KEY_DATA, "gen + name + terminator fit");
_Static_assert(sizeof(struct kg_cidr4_key) == 9 && sizeof(struct kg_cidr6_key) == 21, "cidr keys");
_Static_assert(sizeof(struct kg_name_key) == 4 + KD_USER_MAX, "name key");
_Static_assert(KD_CLIENT_ID_MAX <= KD_USER_MAX, "client ids use the name key");
_Static_assert(sizeof(struct kg_flow_key) == 40, "flow key");
_Static_assert(sizeof(struct kg_flow) % 8 == 0, "flow value alignment");
_Static_assert(KG_DCACHE == 16 && KG_DCACHE_NAME % 8 == 0, "dcache shape (kg_dc_slot takes 4 bits)");
_Static_assert(sizeof(struct kg_event) % 8 == 0, "event alignment");
_Static_assert(sizeof(struct kg_rec_ctx) == 64 && sizeof(struct kg_rec_dec) == 32,
	       "record entries: a layout change is a record format change");
_Static_assert(sizeof(struct kg_rec_ctx) % 8 == 0 && sizeof(struct kg_rec_dec) % 8 == 0,
	       "entries keep the next one 8-aligned");
_Static_assert(KG_REC_CTX_MAX == 128 && KG_REC_DEC_MAX == 32 + 16 + 64 + 256,
	       "largest entries (the staging buffer keeps room for both)");
_Static_assert(KG_EVBATCH_BYTES % 8 == 0 && KG_EVBATCH_BYTES <= 65535 &&
		       KG_EVBATCH_BYTES >= 2 * (KG_REC_CTX_MAX + KG_REC_DEC_MAX),
	       "a batch holds a context and whole decision entries; sizes fit h.size");
_Static_assert(KG_MAX_REGIONS == 64 && KG_MAX_CLIENT_IDS == 64, "masks are one u64");
_Static_assert(KG_OP__COUNT <= 8, "ops mask is one byte");

#endif /* KGATE_MAPS_H */
