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
/*
 * Established connections (kg_flows, a small entry each, struct kg_conn; 208 bytes of
 * kernel memory each, preallocated). The default; the loader may set another (`kgate run
 * --max-flows`). When full, a connection whose
 * handshake completes is reset (its handshake-completing segment becomes a RST toward
 * the broker, its next segment a RST toward the client), counted (flow_table_full) and
 * audited (a limit record); no live connection is ever evicted for it.
 */
#define KG_MAX_FLOWS 1048576
/*
 * Large per-connection states (struct kg_flow) in the pool (kg_pool): a connection holds
 * one only while it is inside a frame, has requests in flight beyond what its small entry
 * keeps, carries passed-ahead segments or unacknowledged bytes. The default (21.1 MiB,
 * preallocated: with KG_MAX_FLOWS and the other flow tables, under the 256 MiB a million
 * connections may take; README "Limits" has the sum); the loader may set another (`kgate run --flow-pool`).
 * When none is free, the client segment that needs one is dropped (the client
 * retransmits; nothing undecided passes) and a broker segment that needs one is dropped
 * too (the broker retransmits): counted (pool_exhausted_drops) and audited (a limit
 * record, at most one per CPU per second).
 */
#define KG_POOL_SLOTS 4096
/*
 * Handshakes in progress (kg_syns, an LRU): a SYN to a listener lands here, not in
 * kg_flows; the handshake-completing ACK moves it there. When full, the least recently
 * used handshake is forgotten (a SYN flood does this): its first data is then
 * mid-stream (on_undecodable). Established connections are never touched.
 */
#define KG_MAX_SYNS 65536
/*
 * Connections kgate follows without decoding (kg_flow_strays, an LRU): redirected at
 * their SYN, or first seen mid-stream (reset, black-holed or, with on_undecodable:
 * allow, passed). When full the least recently used is forgotten: its next segment is
 * mid-stream again (a redirected one: mid-stream, so on_undecodable).
 */
#define KG_MAX_STRAYS 16384
/* kg_flow_principals holds names for 1 in KG_SASL_SHARE of kg_flows' connections. */
#define KG_SASL_SHARE 4
/*
 * SASL principals' names of established connections (kg_flow_principals: the small entry
 * has no room for 64 bytes). A quarter of kg_flows (the loader sets both from `kgate run
 * --max-flows`; allocated per entry, so only SASL connections take memory, but its
 * buckets are preallocated: 16 bytes per entry; as many names as connections would take
 * the table past the 256 MiB a million connections may hold). A name that cannot be stored all the same (no
 * memory), or that is found missing when a connection takes a pool slot, fails closed:
 * the connection is reset at its next client segment (its bytes become a RST toward the
 * broker), counted (principal_table_full) and audited (a limit record); it is never
 * decided as another principal.
 */
#define KG_MAX_SASL_FLOWS (KG_MAX_FLOWS / KG_SASL_SHARE)
/*
 * Rejected requests awaiting their rewritten answer, per connection (kg_pend entries of
 * one connection). Past it, a topic rejected in one more resets that connection instead
 * (pending_cap_resets; its client never sees the broker's own, retriable error for a
 * poisoned name); other connections are not affected. A connection keeps its pool slot
 * while it has any, and its entries go when their answers pass, when its answers are no
 * longer followed, or when it ends.
 */
#define KG_PEND_CONN 64
/*
 * Requests with rejected topics whose responses are awaited, over all connections
 * (kg_pend): KG_PEND_CONN for each pool slot (the loader sizes it from `kgate run
 * --flow-pool`), which is as many as there can be. Full all the same (no memory), a topic
 * that would be rejected resets its connection instead (pending_full_resets).
 */
#define KG_MAX_PENDING (KG_POOL_SLOTS * KG_PEND_CONN)
/* Rejected topic names or ids remembered per request; more -> not rewritten in the
 * response. */
#define KG_PEND_NAMES 4
/*
 * Requests awaiting their response, per flow. Kafka answers a connection's requests in
 * order, so the n-th response answers the n-th request that expects one: that, not the
 * client-chosen correlation id, ties a response to its request. More in flight -> the
 * responses are no longer followed (no rewrites, no SASL binding), and a topic rejected
 * on such a connection resets it instead (its response could not be rewritten).
 */
#define KG_INFLIGHT 128
/*
 * Requests in flight a connection may have while it holds no pool slot (kept in its small
 * entry): a consumer's long-poll Fetch waits without a slot. Only requests whose answer
 * needs no rewrite and binds no SASL user qualify.
 */
#define KG_CONN_INFLIGHT 2
/*
 * Holes per flow: runs of bytes the decoder skips by length that have not arrived yet,
 * because a segment after them did and the decoder went on from there (in-order
 * normalization, bpf/retx.h). More -> a segment ahead that would open another is dropped
 * (the sender retransmits it).
 */
#define KG_HOLES 64
/*
 * A segment ahead of a gap that holds bytes the decoder must read is dropped; but when
 * it starts at least KG_PROBE_AFTER bytes past where the decoder reads again (and at most
 * KG_PROBE_MAX past next_seq), it passes undecided (a probe segment, one at a time per
 * flow): the broker's TCP acknowledges it selectively, so the sender retransmits the gap
 * at once instead of after a retransmission timeout. When the stream reaches the probe
 * segment, the decoder must be skipping all of it (it lies inside a record set, as it
 * does for a large Produce); if it would read a byte of it instead, the connection's
 * decoding ends there (reason probe_read: on_undecodable applies, a reset by default)
 * before the broker can read it. bpf/retx.h.
 */
#define KG_PROBE_AFTER 8192
#define KG_PROBE_MAX (16u << 20)
/*
 * A connection holding a pool slot that made no progress this long (since it took the
 * slot, no new request bytes passed and no answer bytes were acknowledged by the client;
 * keep-alive ACKs are not progress) is ended by the agent's sweep (every 10 s): its slot
 * goes back at once, its next segment (a keep-alive ACK too) becomes a RST toward the
 * broker, the one after it a RST back to the client; counted (stalled_slot_resets) and
 * audited (a slot_stalled limit record, at that segment). Longer than Kafka clients wait
 * for an answer (request.timeout.ms, 30 s) or between reads (max.poll.interval.ms,
 * 5 min), shorter than a broker waits before it closes a connection that does nothing
 * (connections.max.idle.ms, 10 min).
 */
#define KG_SLOT_STALL_S 360
/*
 * The share of the pool one source (an IPv4 address, an IPv6 /64) may hold: 1 /
 * KG_SRC_SHARE of its slots. Past it, a segment of that source that needs a slot is
 * dropped as if the pool were exhausted (the sender retransmits; nothing undecided
 * passes), counted (source_quota_drops) and audited (a source_quota limit record, at most
 * one per CPU and second). Sources are counted by a keyed hash into KG_SRC_BUCKETS
 * counters: two sources that share one share its quota (the key is random per load, so
 * nobody can choose to share another's).
 */
#define KG_SRC_SHARE 4
#define KG_SRC_BUCKETS 65536
#define KG_IF_NORMAL 1 /* a response with a header */
#define KG_IF_RAW 2    /* a raw SASL token (after SaslHandshake v0) */

struct kg_inflight {
	__u32 idx;        /* request number */
	__u32 xchg;       /* SASL exchange number when it was sent */
	__u16 api_key;
	__u16 api_version;
	__u8 kind;        /* KG_IF_* */
	__u8 step;        /* SASL step within the exchange (1: the token carrying the user) */
	__u8 pend;        /* 1: a kg_pend entry (this flow, idx) holds its rejections */
	__u8 pad;
};

/* Response bytes rewritten, remembered per flow for broker retransmissions. */
#define KG_RESP_REWRITES 32

/* Topic id -> name entries the agent may load. */
#define KG_MAX_TOPIC_IDS 65536
/*
 * Repeated decisions (bpf/fold.h): the decisions a connection's records show, kept in an
 * entry of kg_folds chosen by the connection's keyed hash (KG_FOLD_SLOTS, a power of two).
 * Two connections whose hashes share an entry take turns: the one deciding sends the
 * other's pending counts as a record first (one more record, nothing lost) and starts with
 * a full budget. Not in the pool slot: a connection that retries a denied write gives its
 * slot back between tries, and when the pool is exhausted the decisions made without a
 * slot (mid-stream, strays, limits) fold too; not in the small entry: it has no room left
 * in its 192-byte allocation.
 */
#define KG_FOLD_BITS 14
#define KG_FOLD_SLOTS (1u << KG_FOLD_BITS)
/*
 * The policy's default fold window (audit.fold): identical decisions on a connection
 * (same kind, verdict, rule, policy version, principal, region, client id, API and its
 * version, topic, reason) within it of the record that showed the first become one record
 * with their count, first and last time. Longest allowed: KG_FOLD_WINDOW_MAX_MS.
 */
#define KG_FOLD_WINDOW_MS 1000
#define KG_FOLD_WINDOW_MAX_MS 3600000
/*
 * The policy's default event budget (audit.budget): records per second per connection,
 * in bursts of up to KG_BUDGET_BURST_NS of them. Past it a connection's decisions are
 * counted, not recorded: identical ones in their run's count, others in the `folded` of the
 * connection's next record (never lost: a connection that ends or goes quiet sends its
 * counts regardless of its budget). At least KG_BUDGET_MIN (a run's summary and the new
 * decision after it leave together); at most KG_BUDGET_MAX.
 */
#define KG_FLOW_BUDGET 1000
#define KG_BUDGET_MIN 2
#define KG_BUDGET_MAX 1000000
#define KG_BUDGET_BURST_NS 1000000000ull

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
	__u32 fold_window_ms;    /* identical decisions this close fold into one record; 0: never */
	__u32 budget_cost_ns;    /* a connection's record costs this much of its budget (1 s / the
				  * records per second audit.budget allows); 0: no budget */
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

/* Aligned to 8: the datapath copies it a word at a time (events, the tables' keys). */
struct kg_flow_key {
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;    /* network order */
	__u16 dport;
	__u8 family;    /* 4 or 6 */
	__u8 pad[3];
} __attribute__((aligned(8)));

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

/* kg_conn.flags (and its working copy kg_flow.flags), kg_flow_strays' flags. */
#define KG_FLOW_SEQ_KNOWN 0x01 /* next_seq is set (kept: old pins' meaning) */
#define KG_FLOW_RESET 0x02     /* reset: later client segments are dropped */
#define KG_FLOW_DROP 0x04      /* black-holed */
#define KG_FLOW_DEAD 0x08      /* undecodable, on_undecodable was allow: pass, undecided */
#define KG_FLOW_MIDSTREAM 0x10 /* first seen mid-stream (no handshake): a stray */
#define KG_FLOW_REDIRECT 0x20  /* redirected at SYN: every packet goes to quarantine */
#define KG_FLOW_SASL 0x40      /* a SASL exchange is open: the flow keeps its pool slot */
#define KG_FLOW_IDLE 0x80      /* hint: at its last use the slot was idle but for ACKs */

#define KG_RF_SEQ_KNOWN 0x01 /* rnext_seq is set */
#define KG_RF_DEAD 0x02      /* the response stream was lost track of: passed unread */

/*
 * A request with rejected topics, awaiting its response (TC egress rewrites it): kg_pend,
 * keyed by the connection and the request's number, so that any number of a connection's
 * requests in flight (up to KG_INFLIGHT) can each be answered with the right error.
 */
struct kg_pend_key {
	struct kg_flow_key flow;
	__u32 req;                    /* the request's number (kg_inflight.idx) */
	__u32 pad;
};

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

/*
 * Bytes [seq, end) before next_seq that the decoder skipped by length without their having
 * arrived: any copy of them passes when it comes (neither side reads them).
 */
struct kg_hole {
	__u32 seq;
	__u32 end;
};

/*
 * The large per-connection state: a slot of the pool (kg_pool), held only while the
 * connection needs it (see struct kg_conn). Fields marked "(kept)" have a copy in the
 * connection's small entry, written back when the slot is given back and read when one
 * is taken. Everything before inflight is cleared when a connection takes the slot
 * (bpf/conn.h, kg_flow_load); what follows is not, because nothing of another connection
 * can be read there: an in-flight entry is used only once this connection wrote it (its
 * number is checked), and the memos hold decisions that depend on nothing but their keys
 * (policy epoch, principal, region, client id, name, operation), which they compare.
 */
struct kg_flow {
	struct kd_state dec;
	struct kd_state rdec;         /* the broker -> client stream (TC egress) */
	struct kg_rewrite rw[KG_RESP_REWRITES];
	struct kg_retx retx[KG_RETX_SLOTS];
	struct kg_hole holes[KG_HOLES];
	__u32 rnext_seq;              /* (kept) next broker sequence number expected */
	__u8 rflags;                  /* (kept) KG_RF_* */
	__u8 rmatch;                  /* 1 + pending name index of the response topic at hand */
	__u8 rpend;                   /* the response at hand has a kg_pend entry */
	__u8 rw_next;
	__u8 nholes;                  /* entries of holes in use */
	__u8 rsasl;                   /* the response at hand answers the SASL step */
	__u8 sasl_pending;            /* a user was read and awaits the broker's verdict */
	__u8 sasl_user_len;
	__u8 sasl_uflags;             /* KD_U_* */
	__u8 rerr_valid;
	__u8 principal_opaque;        /* (kept) the SASL principal is a token or a cut name (1),
				       * or its name was lost (KG_PRINCIPAL_LOST) */
	__u8 probe;                   /* a probe segment passed, not yet reached */
	__u32 rerr_seq;               /* sequence number of a topic error before its name */
	__u32 req_no;                 /* (kept) requests that expect a response, so far */
	__u32 resp_no;                /* (kept) responses seen, so far */
	__u32 xchg;                   /* SASL exchanges (SaslHandshake requests) so far */
	__u32 sasl_user_xchg;         /* the exchange whose first token carried sasl_user */
	__u8 sasl_step;               /* SASL tokens sent in the current exchange */
	__u8 sasl_ok;                 /* bit n: step n answered with success */
	__u8 cur_pend;                /* the request at hand has a kg_pend entry */
	__u8 rcur_valid;              /* the response at hand has an in-flight entry */
	__u32 rcur;                   /* ... at inflight[rcur % KG_INFLIGHT] */
	struct kg_flow_key key;       /* this flow's own key, for events and the TC side */
	__u64 ts_pkt;         /* time of the packet at hand's first event, 0 = none yet */
	__u32 requests;       /* (kept) frames decoded */
	__u32 topics;         /* (kept) topic decisions made */
	__u16 principal_id;   /* (kept) */
	__u8 principal_src;   /* (kept) enum kg_psrc */
	__u8 region_id;       /* (kept) */
	__u8 flags;           /* (kept) KG_FLOW_* */
	__u8 listener;        /* (kept) index in kg_config.listeners */
	__u8 retx_next;       /* next kg_retx slot to fill */
	__u8 principal_len;   /* (kept) */
	__u8 frame_done;      /* the current request was decided as a whole */
	__u16 frame_topics;   /* topics decided in the current request */
	__u8 frame_exempt;    /* the current request is connection plumbing (not decided) */
	__u8 gen;             /* (kept) policy generation (epoch & 1) of the ids below */
	__u8 frame_topicless; /* KG_FT_* (bpf/request.h): what of the current request was
			       * decided besides its topics */
	__u8 pad[1];
	__u32 epoch;          /* (kept) kg_active epoch region/principal ids were taken from */
	__u32 sess_epoch;     /* (kept) 1 + the epoch that decided the Fetch session's topics */
	__u32 share_epoch;    /* (kept) 1 + the epoch this flow opened its share session under */
	__u32 share_salt;     /* (kept) random, this flow's: share session keys are keyed by it */
	__u64 share_group;    /* the ShareFetch at hand's group, folded (kg_share_group); 0 none */
	__u64 share_key;      /* (kept) group and member id of the share session this flow opened */
	__u32 slot;           /* this slot's own index in kg_pool */
	__u32 probe_seq;      /* the probe segment passed: [probe_seq, probe_end) */
	__u32 probe_end;      /* (bpf/retx.h, kg_probe_reached) */
	__u32 pend_n;         /* kg_pend entries of this connection (atomic: XDP adds, TC
			       * removes); the slot is not given back while there are any */
	__u8 sasl_user[KD_USER_MAX];
	/* ---- not cleared when taken (see above) ---- */
	struct kg_inflight inflight[KG_INFLIGHT];
	__u32 cid_epoch;      /* 1 + the epoch client_cid was looked up in */
	__u32 dc_epoch;       /* 1 + the epoch of the decisions in dcache */
	__u32 dc_stamp;       /* principal, region and client of the decisions in dcache */
	__u8 cid_len;         /* client_id of the last frame, for kg_client_id's memo */
	__u8 cid_null;
	__u8 client_cid;      /* client id of the current frame (the memo's answer) */
	__u8 pad2;
	__u8 principal[KD_USER_MAX]; /* (kept: kg_flow_principals) a SASL principal's name */
	__u8 cid[KD_CLIENT_ID_MAX];
	struct kg_dcache dcache[KG_DCACHE];
};

/*
 * kg_flow.principal_opaque: the SASL principal the broker confirmed has no name kgate
 * keeps (kg_flow_principals could not store it, or lost it): it must not be decided as
 * any other principal, so the connection is reset at its next client segment
 * (KG_MAX_SASL_FLOWS).
 */
#define KG_PRINCIPAL_LOST 2

/* The bytes of a slot cleared when a connection takes it. */
#define KG_FLOW_CLEARED __builtin_offsetof(struct kg_flow, inflight)

/*
 * kg_conn.own: which pool slot a connection holds and who is using it, in one word that
 * the XDP and TC programs change only with atomic instructions (they run on different
 * CPUs for one connection). A program that uses the slot counts itself a user first;
 * only the last user gives the slot back (after writing the kept fields into the small
 * entry), and a version counted up by every use tells a giver that nobody used the slot
 * between its look and its give-back (an idle slot made busy and idle again by another
 * CPU would otherwise look unchanged). A connection that ends is marked dying: no new
 * user takes its slot, and the last one gives it back.
 */
#define KG_OWN_SLOT 0xffffffull         /* 1 + the slot's index in kg_pool, 0 = none */
#define KG_OWN_DYING (1ull << 24)       /* the connection ended: its entry is on its way out */
#define KG_OWN_USER (1ull << 25)        /* one program using the slot (15 bits: users) */
#define KG_OWN_USERS (0x7fffull << 25)
/*
 * A client data segment of the connection is being decoded. XDP on a NIC's queue (or a
 * veth's NAPI) runs one connection's segments one after another, but TC ingress and
 * generic XDP run each where the stack received it: two CPUs at once for one connection
 * (a veth's peer sending from both, RPS), whose decoder state both would move. Set and
 * cleared by the ingress program around a data segment; a segment that finds it set is
 * dropped (counted, ingress_busy_drops; the client retransmits it).
 */
#define KG_OWN_INGRESS (1ull << 40)
#define KG_OWN_VER (1ull << 41)         /* counted up by every use (23 bits, wrapping) */

/*
 * One established connection: kg_flows, keyed by its 5-tuple, 104 bytes, for every
 * connection kgate follows, whatever it is doing. What a connection idle at a frame
 * boundary needs lives here: where both byte streams stand, what its requests and
 * responses count to, its ids under the policy epoch it was classified in, its state.
 * The decoders and everything a frame in progress needs are in its pool slot (struct
 * kg_flow), when it holds one.
 */
struct kg_conn {
	__u64 own;            /* KG_OWN_*: the slot, its users, a version (atomic) */
	__u64 bytes;          /* client payload bytes passed in order */
	__u32 next_seq;       /* next client sequence number expected */
	__u32 rack;           /* the client's latest acknowledgment of the broker's bytes */
	__u32 lack;           /* the broker's latest acknowledgment of the client's bytes */
	__u32 rnext_seq;      /* kept copies of kg_flow's fields of the same names: */
	__u32 req_no;
	__u32 resp_no;
	__u32 epoch;
	__u32 sess_epoch;
	__u32 requests;
	__u32 topics;
	__u32 last_seen;      /* coarse seconds (KG_NOW) of the last segment either way */
	__u32 khash;          /* keyed hash of the 5-tuple: a reused entry is told apart */
	__u32 share_epoch;
	__u32 share_salt;
	__u64 share_key;
	__u16 cif[KG_CONN_INFLIGHT][2]; /* requests in flight without a slot: key, version */
	__u16 principal_id;
	__u8 flags;           /* KG_FLOW_* (kept copy, written back after every client segment) */
	__u8 rflags;
	__u8 listener;
	__u8 gen;
	__u8 region_id;
	__u8 principal_src;
	__u8 principal_len;
	__u8 principal_opaque;
	__u8 rclosed;         /* KG_RCLOSED_*: the broker closed its side (TC egress) */
	__u8 cfin;            /* the client sent FIN */
	__u8 dead_reason;     /* enum kd_reason of a flow whose decoding ended */
	__u8 give_hint;       /* at its last use the slot was idle but for acknowledgments */
	__u16 progress;       /* low bits of the coarse seconds of its last progress (a slot
			       * taken, request bytes passed, answer bytes acknowledged) */
};

#define KG_RCLOSED_FIN 1
#define KG_RCLOSED_RST 2

/* A handshake in progress (kg_syns), keyed by the 5-tuple. */
#define KG_SYN_ANSWERED 0x01 /* TC egress saw the broker's SYN-ACK to this SYN: sisn is set */
#define KG_SYN_REFUSED 0x02  /* kg_flows was full: its next segment is reset toward the client */
/*
 * A SYN with another initial sequence number than an answered handshake's, within this
 * long of that SYN, leaves the handshake as it is: the broker keeps its half-open
 * connection too (Linux answers a SYN that does not match it with an ACK, unless it falls
 * inside the window it expects), so the client that sent the first completes it. Later,
 * the new SYN starts over: by then the broker has given up on the old one (it resends its
 * SYN-ACK 5 times, over about a minute).
 */
#define KG_SYN_KEEP_S 64

struct kg_syn {
	__u32 isn;  /* the client's initial sequence number */
	__u32 sisn; /* the broker's */
	__u8 flags; /* KG_SYN_* */
	__u8 pad[3];
	__u32 born; /* coarse seconds (KG_NOW) of the SYN */
};

/* A connection followed without decoding (kg_flow_strays): KG_FLOW_* flags. */
struct kg_stray {
	__u8 flags;
	__u8 listener;
	__u8 stalled; /* ended by the sweep without progress: its next segment resets the broker */
	__u8 pad;
	__u32 rst_seq; /* ... at this sequence number (the broker's next expected byte) */
};

/* A SASL principal's name (kg_flow_principals), by the connection's 5-tuple. */
struct kg_principal {
	__u8 name[KD_USER_MAX];
};

/* Coarse seconds for last_seen and the agent's idle sweep: bpf_ktime_get_coarse_ns >> 30. */
#define KG_NOW_SHIFT 30

/*
 * What the agent asks of kgate_sweep (bpf/kgate_tc.bpf.c, run through BPF_PROG_RUN): after
 * an Ethernet header, this, then n flow keys. Each is ended when it is still idle longer
 * than idle_s, or closed by the broker and quiet longer than closed_s, or holds a pool
 * slot without progress longer than stall_s (checked again in the kernel), and an ending
 * entry nobody uses any more is removed.
 */
#define KG_SWEEP_KEYS 64
#define KG_SWEEP_FOLDS_ENDED 1 /* whose window ended: connections that went quiet (each s) */
#define KG_SWEEP_FOLDS_ALL 2   /* all of them: the agent stops, nobody may sweep for a while */
struct kg_sweep_req {
	__u32 n;
	__u32 idle_s;
	__u32 closed_s;
	__u32 stall_s;  /* holding a slot without progress this long: reset (0: never) */
	__u32 folds; /* KG_SWEEP_FOLDS_*: instead of keys, send the pending counts of fold
		      * entries (bpf/fold.h) */
};
/* kgate_sweep's return value: connections ended, and of them those reset as stalled. */
#define KG_SWEEP_ENDED(r) ((r) & 0xff)
#define KG_SWEEP_STALLED(r) (((r) >> 8) & 0xff)

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
#define KG_EV_LIMIT 6       /* a table or pool was full: reason is an enum kg_limit */

/* The limits a KG_EV_LIMIT event names (in its reason field). */
#define KG_LIMITS(X)                                                                               \
	X(KG_LIMIT_NONE, "none")                                                                   \
	X(KG_LIMIT_POOL, "pool_exhausted")                                                         \
	X(KG_LIMIT_FLOWS, "flow_table_full")                                                       \
	X(KG_LIMIT_PRINCIPALS, "principal_table_full")                                             \
	X(KG_LIMIT_STALLED, "slot_stalled")                                                        \
	X(KG_LIMIT_SOURCE, "source_quota")

enum kg_limit { KG_LIMITS(KG_ENUM_ENTRY) KG_LIMIT__COUNT };

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
	__u16 pad2;
	__u32 count;            /* identical decisions the event stands for (bpf/fold.h): 1, more
				 * for a run's summary, 0 for one that only carries `folded` */
	__u32 folded;           /* other decisions of the flow past its budget, in no record */
	__u32 folded_deny;      /* ... of them not allowed (the deny class of lost events) */
	__u64 first_ts;         /* ktime of the first of the count; ts_ns is the last */
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
	__u32 count;        /* decisions the entry stands for, all identical (bpf/fold.h): 1, or
			     * a run's summary; 0: it only carries `folded` */
	__u32 folded;       /* the flow's decisions past its budget since its last record */
	__u32 folded_deny;  /* ... of them not allowed */
	__u32 pad2;
	__u64 first_ts;     /* ktime of the first of the count (the context's ts_ns: the last) */
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

/*
 * A connection's fold entry (kg_folds, bpf/fold.h): the record that showed its last
 * recorded decision, the identical decisions since (count, first_ts, last_ts), those folded
 * past its budget, and its budget. Whose it is: key. lock is taken with a compare-and-swap
 * and never waited for: a program that finds it taken records its decision on its own.
 */
struct kg_fold {
	__u32 lock;
	__u16 size;           /* bytes of rec in use: a context, then one decision entry; 0: none */
	__u16 ctx_size;       /* ... of them the context */
	struct kg_flow_key key;
	__u64 window_end;     /* ktime: identical decisions before it fold into count */
	__u64 tat;            /* the budget: when the records sent so far are paid for (GCRA) */
	__u64 first_ts;       /* ktime of the first and the last of count */
	__u64 last_ts;
	__u32 count;          /* identical decisions since the run's last record */
	__u32 folded;         /* other decisions past the budget since the last record */
	__u32 folded_deny;
	__u32 pad;
	__u64 rec[(KG_REC_CTX_MAX + KG_REC_DEC_MAX) / 8]; /* bytes, compared a word at a time */
};

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
	/* TCP fragments, unwalked headers, urgent data */                                         \
	X(KG_C_UNREADABLE_DROPS, "unreadable_packet_drops")                                        \
	X(KG_C_AHEAD_PASSED, "ahead_passed")          /* ahead of next_seq, over skipped bytes */ \
	X(KG_C_AHEAD_FULL_DROPS, "ahead_full_drops")  /* ... but no room for another hole */     \
	X(KG_C_HOLES_FILLED, "hole_fills")            /* segments of skipped bytes, come after */ \
	X(KG_C_RETX_ACKED, "retransmissions_acked")   /* old bytes the broker had acknowledged */ \
	X(KG_C_HANDSHAKES, "handshakes")              /* SYNs that started a handshake */          \
	X(KG_C_FLOW_TABLE_FULL, "flow_table_full")    /* handshakes refused: kg_flows full */      \
	X(KG_C_FLOWS_ENDED, "flows_ended")            /* RST, FIN both ways, start over */         \
	X(KG_C_POOL_EXHAUSTED, "pool_exhausted_drops") /* segments dropped: no pool slot */        \
	X(KG_C_SLOTS_TAKEN, "pool_slots_taken")                                                    \
	X(KG_C_SLOTS_GIVEN, "pool_slots_given")                                                    \
	X(KG_C_PEND_FULL, "pending_full_resets")       /* rejects that reset: no room to rewrite */\
	X(KG_C_OWN_CONTENTION, "slot_contention")      /* a slot's word changed under 4 tries */ \
	X(KG_C_FLOWS_TIMED_OUT, "flows_timed_out")     /* ended by the agent's sweep */          \
	X(KG_C_AHEAD_PROBES, "ahead_probes")           /* probe segments passed past a gap to read */ \
	X(KG_C_PROBES_CHECKED, "probes_checked")       /* ... reached: skipped bytes after all */ \
	X(KG_C_INGRESS_BUSY, "ingress_busy_drops")     /* another segment of it on another CPU */ \
	X(KG_C_PROBE_SHADOW_DROPS, "probe_shadow_drops") /* ahead, starting inside a probe */    \
	X(KG_C_PRINCIPALS_FULL, "principal_table_full") /* SASL names not kept: reset */         \
	X(KG_C_PEND_CAP, "pending_cap_resets")         /* rejects past KG_PEND_CONN: reset */     \
	X(KG_C_SLOTS_STALLED, "stalled_slot_resets")   /* slot holders without progress, swept */ \
	X(KG_C_SRC_QUOTA, "source_quota_drops")        /* segments dropped: a source's share held */\
	X(KG_C_FOLDED, "decisions_folded")             /* in their run's count, no record alone */ \
	X(KG_C_OVER_BUDGET, "decisions_over_budget")   /* ... past the budget, in a `folded` */    \
	X(KG_C_FOLD_SUMMARIES, "fold_summaries")       /* records that carry a run's counts */     \
	X(KG_C_FOLD_BUSY, "fold_busy")                 /* entry in use elsewhere: recorded alone */ \
	X(KG_C_FOLD_TAKEOVERS, "fold_takeovers")       /* entry taken from another connection */

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
	X(pool_free, "kg_pool_free")                                                               \
	X(syns, "kg_syns")                                                                         \
	X(principals, "kg_flow_principals")                                                        \
	X(pend, "kg_pend")                                                                         \
	X(counters, "kg_counters")                                                                 \
	X(rule_hits, "kg_rule_hits")                                                               \
	X(events, "kg_event_recs")                                                                 \
	X(nhkey, "kg_nhkey")                                                                       \
	X(folds, "kg_folds")

_Static_assert(sizeof(struct kg_rule) == 56, "kg_rule layout");
_Static_assert(sizeof(struct kg_topic_key) == 4 + KG_TOPIC_KEY_DATA, "LPM key");
_Static_assert(1 + KD_TOPIC_MAX + 1 <= KG_TOPIC_KEY_DATA, "gen + name + terminator fit");
_Static_assert(sizeof(struct kg_cidr4_key) == 9 && sizeof(struct kg_cidr6_key) == 21, "cidr keys");
_Static_assert(sizeof(struct kg_name_key) == 4 + KD_USER_MAX, "name key");
_Static_assert(KD_CLIENT_ID_MAX <= KD_USER_MAX, "client ids use the name key");
_Static_assert(sizeof(struct kg_flow_key) == 40, "flow key");
_Static_assert(sizeof(struct kg_flow) % 8 == 0, "flow value alignment");
_Static_assert(KG_FLOW_CLEARED % 8 == 0, "the cleared part of a slot ends on a word");
/* with its key (40) and the kernel's header (48), a 192-byte preallocated element */
_Static_assert(sizeof(struct kg_conn) == 104, "the small entry: 104 bytes");
_Static_assert(__builtin_offsetof(struct kg_conn, own) == 0, "own: 8-aligned for atomics");
_Static_assert(sizeof(struct kg_pend_key) == 48 && sizeof(struct kg_syn) == 16 &&
		       sizeof(struct kg_stray) == 8,
	       "keys and values of the flow tables");
_Static_assert(KG_INFLIGHT >= 2 * 64 && (KG_INFLIGHT & (KG_INFLIGHT - 1)) == 0,
	       "in-flight ring: a power of two, above the 64 pipelined requests tested");
_Static_assert(KG_CONN_INFLIGHT == 2 && KG_HOLES == 64, "fixed loops over them");
_Static_assert(KG_DCACHE == 16 && KG_DCACHE_NAME % 8 == 0, "dcache shape (kg_dc_slot takes 4 bits)");
_Static_assert(sizeof(struct kg_event) % 8 == 0, "event alignment");
_Static_assert(sizeof(struct kg_rec_ctx) == 64 && sizeof(struct kg_rec_dec) == 56,
	       "record entries: a layout change is a record format change");
_Static_assert(__builtin_offsetof(struct kg_rec_dec, count) == 32 &&
		       __builtin_offsetof(struct kg_rec_dec, first_ts) == 48 &&
		       __builtin_offsetof(struct kg_rec_ctx, ts_ns) == 8,
	       "bpf/fold.h compares entries a word at a time, skipping these");
_Static_assert((KG_REC_CTX_MAX + KG_REC_DEC_MAX) % 8 == 0 &&
		       __builtin_offsetof(struct kg_fold, rec) % 8 == 0,
	       "fold entries: records a word at a time");
_Static_assert(sizeof(struct kg_rec_ctx) % 8 == 0 && sizeof(struct kg_rec_dec) % 8 == 0,
	       "entries keep the next one 8-aligned");
_Static_assert(KG_REC_CTX_MAX == 128 && KG_REC_DEC_MAX == 56 + 16 + 64 + 256,
	       "largest entries (the staging buffer keeps room for both)");
_Static_assert(KG_EVBATCH_BYTES % 8 == 0 && KG_EVBATCH_BYTES <= 65535 &&
		       KG_EVBATCH_BYTES >= 2 * (KG_REC_CTX_MAX + KG_REC_DEC_MAX),
	       "a batch holds a context and whole decision entries; sizes fit h.size");
_Static_assert(KG_MAX_REGIONS == 64 && KG_MAX_CLIENT_IDS == 64, "masks are one u64");
_Static_assert(KG_OP__COUNT <= 8, "ops mask is one byte");

#endif /* KGATE_MAPS_H */
