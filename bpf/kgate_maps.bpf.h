/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath's maps (layouts in maps/kgate_maps.h). Every map is pinned by name so
 * the XDP and TC objects share them and a restarted agent, or `kgate policy apply`
 * without an agent, finds them under the pin root. A map only one kind of program uses
 * is defined where it is used: kg_src (window.h), kg_evbatch (events.h), kg_redirect
 * (ctx_xdp.h).
 */
#ifndef KGATE_MAPS_BPF_H
#define KGATE_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include "../maps/kgate_maps.h"

#define KG_PIN __uint(pinning, LIBBPF_PIN_BY_NAME)

/*
 * [0]: the policy epoch; its low bit is the active generation. The one word a policy
 * apply writes (the next epoch of the other parity), so state taken under one policy
 * is never mistaken for the next policy written into the same generation.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	KG_PIN;
} kg_active SEC(".maps");

/* [gen * 65536 + port]: listener index + 1, 0 = not a listener. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 65536);
	__type(key, __u32);
	__type(value, __u8);
	KG_PIN;
} kg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct kg_config);
	KG_PIN;
} kg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct kg_rule);
	KG_PIN;
} kg_rules SEC(".maps");

/* gen * KG_MAX_PATTERNS + class id -> candidates. Allocated per entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * KG_MAX_PATTERNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct kg_class);
	KG_PIN;
} kg_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * KG_MAX_PATTERNS + 2);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kg_topic_key);
	__type(value, struct kg_class_ref);
	KG_PIN;
} kg_topics SEC(".maps");

#define KG_CIDR_MAP(name, keytype)                                                                 \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__uint(max_entries, 2 * KG_MAX_CIDRS);                                             \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__type(key, keytype);                                                              \
		__type(value, struct kg_id_val);                                                   \
		KG_PIN;                                                                            \
	} name SEC(".maps")

KG_CIDR_MAP(kg_regions4, struct kg_cidr4_key);
KG_CIDR_MAP(kg_regions6, struct kg_cidr6_key);
KG_CIDR_MAP(kg_identities4, struct kg_cidr4_key);
KG_CIDR_MAP(kg_identities6, struct kg_cidr6_key);

/* Principal and client.id names -> ids, per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * (KG_MAX_PRINCIPALS + KG_MAX_CLIENT_IDS));
	__type(key, struct kg_name_key);
	__type(value, struct kg_id_val);
	KG_PIN;
} kg_names SEC(".maps");

/* Topic id -> name, learned by the agent (not per generation: ids are facts). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KG_MAX_TOPIC_IDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u8[16]);
	__type(value, struct kg_topic_name);
	KG_PIN;
} kg_topic_ids SEC(".maps");

/*
 * Established connections, one small entry each (struct kg_conn). Preallocated: 192 bytes
 * an entry with its key and the kernel's header, plus 16 bytes of bucket, so 208 MiB for
 * the default KG_MAX_FLOWS whatever the number held (measured, bench/run.sh flows).
 * Allocated per entry (BPF_F_NO_PREALLOC) the same entry takes 200 bytes with the
 * allocator's list node, which lands in the kernel's 256-byte slab: 260 MiB at a million
 * held, and an insert that can fail for want of memory below KG_MAX_FLOWS. Never evicted:
 * kgate removes an entry when its connection ends (RST, FIN both ways, a new SYN after
 * the broker closed) or, from the agent, when it was idle past the flow timeout.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KG_MAX_FLOWS);
	__type(key, struct kg_flow_key);
	__type(value, struct kg_conn);
	KG_PIN;
} kg_flows SEC(".maps");

/* The pool of large states (struct kg_flow); kg_conn.own names the slot a connection holds. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KG_POOL_SLOTS);
	__type(key, __u32);
	__type(value, struct kg_flow);
	KG_PIN;
} kg_pool SEC(".maps");

/*
 * The pool's free slots, by index: the loader pushes every index once (a fresh load
 * only). A stack: the slot given back last, still warm in the cache, is taken next.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, KG_POOL_SLOTS);
	__type(value, __u32);
	KG_PIN;
} kg_pool_free SEC(".maps");

/*
 * Pool slots held by sources (KG_SRC_SHARE): counters indexed by a keyed hash of the
 * source address (kg_src_bucket). Pinned: both sides of a connection count in it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KG_SRC_BUCKETS);
	__type(key, __u32);
	__type(value, __u32);
	KG_PIN;
} kg_src_slots SEC(".maps");

/*
 * kg_pool's size, set by the loader with the map's (kg_sizes_apply): a source may hold
 * 1 / KG_SRC_SHARE of it.
 */
const volatile __u32 kg_pool_slots = KG_POOL_SLOTS;

/* Handshakes in progress (struct kg_syn): an LRU, apart from established connections. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KG_MAX_SYNS);
	__type(key, struct kg_flow_key);
	__type(value, struct kg_syn);
	KG_PIN;
} kg_syns SEC(".maps");

/* Connections followed without decoding (struct kg_stray): redirected, or mid-stream. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KG_MAX_STRAYS);
	__type(key, struct kg_flow_key);
	__type(value, struct kg_stray);
	KG_PIN;
} kg_flow_strays SEC(".maps");

/*
 * SASL principals' names by connection (only connections that bound one): as many as
 * kg_flows holds (the loader sizes both), allocated per entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KG_MAX_SASL_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kg_flow_key);
	__type(value, struct kg_principal);
	KG_PIN;
} kg_flow_principals SEC(".maps");

/*
 * Requests with rejected topics awaiting their responses (struct kg_pend), by connection
 * and request number modulo KG_INFLIGHT: at most KG_PEND_CONN a connection, only while it
 * holds a pool slot (the loader sizes it to KG_PEND_CONN for each slot).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KG_MAX_PENDING);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kg_pend_key);
	__type(value, struct kg_pend);
	KG_PIN;
} kg_pend SEC(".maps");

/* The retransmission hash's key (struct kg_nhkey), pinned: it outlives agent restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_nhkey);
	KG_PIN;
} kg_nhkey SEC(".maps");

/* An all-zero large state: what a slot is cleared from when a connection takes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_flow);
} kg_flow_zero SEC(".maps");

/*
 * Per CPU: a large state that belongs to no connection, for decisions and events about a
 * connection that holds no slot (its SYN, a mid-stream segment, a limit hit).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_flow);
} kg_flow_tmp SEC(".maps");

/*
 * Decision events, one record per packet's events (struct kg_event in maps/kgate_maps.h).
 * Full -> every event of the record is counted lost by verdict class.
 */
/*
 * Named for its format (it was kg_events, one struct kg_event per record): an agent
 * never adopts a pinned datapath whose events it would misread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
	KG_PIN;
} kg_event_recs SEC(".maps");

/* Each connection's last recorded decision and its budget (struct kg_fold, bpf/fold.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KG_FOLD_SLOTS);
	__type(key, __u32);
	__type(value, struct kg_fold);
	KG_PIN;
} kg_folds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KG_C__COUNT);
	__type(key, __u32);
	__type(value, __u64);
	KG_PIN;
} kg_counters SEC(".maps");

/* [gen * KG_MAX_RULES + rule index]: decisions the rule made (audit or not). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * KG_MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
	KG_PIN;
} kg_rule_hits SEC(".maps");

/* Per-CPU scratch: keys too large for the BPF stack. */
struct kg_scratch {
	struct kg_name_key nkey;
	struct kg_topic_key tkey;
	__u8 hdr[64] __attribute__((aligned(8))); /* the packet's flow key (ingress) */
	__u32 epoch;       /* kg_active when the packet arrived (ingress) */
	__u32 listener;    /* its listener index (ingress) */
	__u32 limit_ts[8]; /* 1 + kg_now() of the last limit event, by enum kg_limit */
	struct kg_conn conn;   /* a new connection's entry, written before it is inserted */
	struct kg_pend pend;   /* a new kg_pend entry, likewise */
	struct kg_pend_key pkey; /* kg_pend_of's key */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_scratch);
} kg_scratch SEC(".maps");

/* A flow key copied a word at a time (both 8-aligned; clang copies unknown alignment by bytes). */
static __always_inline void kg_key_copy(struct kg_flow_key *dst, const struct kg_flow_key *src)
{
	__u64 *d = (__u64 *)dst;
	const __u64 *s = (const __u64 *)src;

	_Static_assert(sizeof(*dst) == 5 * 8, "five words");
	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
	d[4] = s[4];
}

/*
 * A keyed hash of the 5-tuple, stored in the small entry: a program that found an entry by
 * key and counted itself in checks it, because an entry removed by another CPU meanwhile
 * may already hold another connection (hash map entries are reused at once). The key is
 * the tail of the retransmission hash's random key (NH over the tuple's five words), so
 * nobody can choose a tuple whose hash equals another's.
 */
static __always_inline __u32 kg_khash(const struct kg_flow_key *fk)
{
	const __u32 *w = (const __u32 *)fk;
	const struct kg_nhkey *key;
	__u32 zero = 0;
	__u64 h = 0;

	key = bpf_map_lookup_elem(&kg_nhkey, &zero);
	if (!key)
		return 0;
	_Static_assert(sizeof(struct kg_flow_key) == 40, "ten words");
#pragma unroll
	for (int j = 0; j < 5; j++)
		h += (__u64)(__u32)(w[2 * j] + key->k[KG_NH_KEY_WORDS - 10 + 2 * j]) *
		     (__u32)(w[2 * j + 1] + key->k[KG_NH_KEY_WORDS - 9 + 2 * j]);
	return (__u32)(h ^ (h >> 32));
}

/* VLAN ethertypes (not in every linux/if_ether.h), for both hooks' parsers. */
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Kafka error codes kgate writes (Errors.java). */
#define KAFKA_TOPIC_AUTHORIZATION_FAILED 29
#define KAFKA_GROUP_AUTHORIZATION_FAILED 30
#define KAFKA_CLUSTER_AUTHORIZATION_FAILED 31

/*
 * FNV-1a of a topic name whose last byte is replaced by `last` (the poison), so that
 * the name as the broker echoes it can be recognised in the response.
 */
static __always_inline __u64 kg_name_hash(const __u8 *name, __u32 len, __u8 last)
{
	__u64 h = 0xcbf29ce484222325ull;

	for (__u32 i = 0; i < 256; i++) {
		if (i >= len)
			break;
		h ^= i + 1 == len ? last : name[i & 0xff];
		h *= 0x100000001b3ull;
	}
	return h;
}

static __always_inline void kg_count_n(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&kg_counters, &idx);

	if (c)
		*c += n; /* per-CPU: no atomics needed */
}

static __always_inline void kg_count(__u32 idx)
{
	kg_count_n(idx, 1);
}

/*
 * The id generation gen gives the principal name[0..len) (KG_PRINCIPAL_OTHER when the
 * policy does not name it), using k as the key's room.
 */
static __always_inline __u16 kg_principal_lookup(struct kg_name_key *k, const __u8 *name, __u32 len,
						 __u32 gen)
{
	struct kg_id_val *v;

	__builtin_memset(k, 0, sizeof(*k));
	k->gen = gen & 1;
	k->kind = KG_NAME_PRINCIPAL;
	k->len = len;
	__builtin_memcpy(k->name, name, KD_USER_MAX);
	for (__u32 i = 0; i < KD_USER_MAX; i++)
		if (i >= len)
			k->name[i] = 0;
	v = bpf_map_lookup_elem(&kg_names, k);
	return v ? v->id & (KG_MAX_PRINCIPALS - 1) : KG_PRINCIPAL_OTHER;
}

#endif /* KGATE_MAPS_BPF_H */
