/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/policy: the policy language and what becomes of it. The policy in memory
 * (model.c, this header), read from YAML (yaml.c), its compiler into the datapath's map
 * contents (compile.c), a reference evaluator written from the first-match rule of
 * docs/DESIGN.md §4 (ref.c: no shared code with the compiler, the differential tests compare the
 * two), the writer of one generation of the maps and the flip (write.c), and the policy
 * store with the names of an event's ids (store.c, names.c).
 *
 * Lifecycle: a loader (YAML) or a test fills a struct kg_policy, kg_compile() turns it
 * into a struct kg_compiled whose arrays are the exact values and keys the loader
 * writes into one generation of the maps in maps/kgate_maps.h.
 *
 * May call: agent/lib, agent/datapath/maps.h (the maps it writes), maps/, libyaml; and
 * the names' types of agent/audit/audit.h (kg_names_resolve fills them).
 */
#ifndef KGATE_POLICY_H
#define KGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "maps/kgate_maps.h"

/* ---- the policy as written ---------------------------------------------------------- */

/* Source position, for errors; line 0 = unknown (the owner's position is used instead). */
struct kg_pos {
	int line, col;
};

struct kg_cidr {
	__u8 family; /* 4 or 6 */
	__u8 prefix;
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes */
	struct kg_pos pos;
};

/*
 * One rule, in file order. Every list with n == 0 means "any". Every string and array
 * is malloc'ed and owned by the policy (kg_policy_free). The optional *_pos arrays give
 * each list item its own position for errors; NULL = use the rule's position.
 */
struct kg_prule {
	char name[64];
	struct kg_pos pos;
	char **topics; /* exact "orders.eu", prefix "orders.*" (ends in '*'), "*" = any */
	int ntopics;
	/* `topics: none`: only requests that name no topic (then ntopics is 0) */
	bool topics_none;
	char **principals; /* "ANONYMOUS" is the unauthenticated principal */
	int nprincipals;
	char **client_ids;
	int nclient_ids;
	__u8 ops; /* bit (1 << KG_OP_x); 0 = any */
	char **regions;
	int nregions;
	char **regions_not; /* the source region is none of these; a source in no region matches */
	int nregions_not;
	__u8 action; /* enum kg_action */
	bool audit;
	struct kg_pos none_pos, action_pos; /* of `topics: none` and of the action, for the linter */
	struct kg_pos *topics_pos, *principals_pos, *client_ids_pos, *regions_pos, *regions_not_pos;
};

struct kg_pregion {
	char name[64];
	struct kg_pos pos;
	struct kg_cidr *cidrs;
	int ncidrs;
};

struct kg_pidentity {
	char principal[64];
	struct kg_pos pos;
	struct kg_cidr *cidrs;
	int ncidrs;
};

struct kg_plistener {
	__u16 port;
	__u8 on_undecodable; /* enum kg_action */
	struct kg_pos pos;
	struct kg_pos undecodable_pos; /* of on_undecodable's value (line 0: not given) */
};

struct kg_policy {
	char version[128];
	struct kg_pos pos; /* where policy-wide settings are reported (mode, audit_allow...) */
	struct kg_pos default_pos; /* of the default action, for the linter */
	/* of mode's and unknown_topic_id's values, for the linter (line 0: not given) */
	struct kg_pos mode_pos, unknown_id_pos;
	__u8 mode;         /* KG_MODE_* */
	__u8 default_action;
	__u8 unknown_id_action;
	__u32 audit_allow; /* 0 none, 1 all, N: one allow event in N (N <= 255) */
	/* audit.fold: identical decisions on a connection this close become one record with
	 * a count (0: never); audit.budget: records per second per connection (0: no budget) */
	__u32 fold_window_ms, budget;
	struct kg_plistener listeners[KG_MAX_LISTENERS];
	int nlisteners;
	struct kg_pregion *regions;
	int nregions;
	struct kg_pidentity *identities;
	int nidentities;
	struct kg_prule *rules;
	int nrules;
};

/* The principal of connections with no SASL and no identity CIDR. */
#define KG_ANONYMOUS_NAME "ANONYMOUS"

/*
 * Building a policy (for the loader and the tests). The add functions return the new
 * element, zeroed but for what they are given, or NULL when out of memory; a pointer
 * they return stays valid until the next add of the same kind (arrays grow by realloc).
 */
void kg_policy_init(struct kg_policy *p);
void kg_policy_free(struct kg_policy *p);
struct kg_prule *kg_policy_add_rule(struct kg_policy *p, const char *name, int line, int col);
struct kg_pregion *kg_policy_add_region(struct kg_policy *p, const char *name, int line, int col);
struct kg_pidentity *kg_policy_add_identity(struct kg_policy *p, const char *principal, int line,
					    int col);
/* Appends a copy of s to a string list (rule->topics, ...): 0, or -1 when out of memory. */
int kg_strv_push(char ***v, int *n, const char *s);
/* "10.0.0.0/8", "2001:db8::/32", or an address alone (a host route): 0, or -1 if invalid. */
int kg_cidr_parse(const char *s, struct kg_cidr *out);
/* Appends a parsed CIDR: 0, or -1 when invalid or out of memory. */
int kg_cidrs_push(struct kg_cidr **v, int *n, const char *text, int line, int col);

/* ---- the policy compiled ------------------------------------------------------------ */

/*
 * One kg_topics entry without its generation byte (kg_topic_key_fill adds it). A policy
 * with `topics: none` rules also gets two catch-all entries, gen + the first bit of a
 * name (prefixlen 9), which every topic lookup (gen, name, 0: 16 bits or more) reaches
 * and the lookup of a request naming no topic (gen alone: 8 bits) does not.
 */
struct kg_cpattern {
	const char *name; /* pattern bytes (no '*'), not NUL-terminated; into kg_compiled.pool */
	__u16 len;
	__u8 exact;       /* 1: gen, name, 0; 0: prefix gen, name */
	__u8 catchall;    /* 1: gen and the first bit of name[0] only (len is 1) */
	__u32 class_id;   /* index into kg_compiled.classes */
};

/* One kg_names entry without its generation. */
struct kg_cname {
	__u8 kind; /* KG_NAME_PRINCIPAL or KG_NAME_CLIENT */
	__u8 len;
	__u32 id;
	char name[KD_USER_MAX + 1];
};

/* One kg_regions4/6 or kg_identities4/6 entry without its generation. */
struct kg_ccidr {
	__u8 family; /* 4 or 6 */
	__u8 prefix; /* bits of the address; host bits are cleared */
	__u8 addr[16];
	__u32 id; /* region id or principal id */
};

struct kg_compiled {
	char version[128];
	struct kg_config config; /* version_id and redirect_ifindex are the loader's to set */

	struct kg_rule *rules; /* kg_rules[gen * KG_MAX_RULES + i]; rule_id = i = file position */
	__u32 nrules;

	/*
	 * kg_topics entries. patterns[0] is the empty prefix: the entry a request naming no
	 * topic reaches. Class 0 holds topics no pattern names. Without `topics: none` rules
	 * both are class 0; with them, requests naming no topic get a class of their own
	 * (topicless_class, the last) and two catch-all entries (the last two patterns) take
	 * topic names to class 0.
	 */
	struct kg_cpattern *patterns;
	__u32 npatterns;
	__u32 npolicy_patterns; /* the distinct patterns the rules name */
	__u32 topicless_class;
	struct kg_class *classes; /* kg_classes[gen * KG_MAX_PATTERNS + class_id] */
	__u32 nclasses;

	struct kg_cname *names; /* principals (with ANONYMOUS) and client ids */
	__u32 nnames;
	struct kg_ccidr *region_cidrs;
	__u32 nregion_cidrs;
	struct kg_ccidr *identity_cidrs;
	__u32 nidentity_cidrs;

	/* Names by id, for reports: "" where no name has the id. */
	char principal_names[KG_MAX_PRINCIPALS][KD_USER_MAX + 1];
	char client_names[KG_MAX_CLIENT_IDS][KD_CLIENT_ID_MAX + 1];
	char region_names[KG_MAX_REGIONS][64];
	__u32 nprincipals; /* named principals, ANONYMOUS included */
	__u32 nclients;
	__u32 nregions;

	char *pool; /* pattern bytes */
};

/*
 * Compiles p into out (which the caller frees with kg_compiled_free, also after an
 * error). Returns 0, or -1 with err = "LINE:COL: message" (the caller prefixes the file
 * name) and out emptied.
 */
int kg_compile(const struct kg_policy *p, struct kg_compiled *out, char *err, size_t errlen);
void kg_compiled_free(struct kg_compiled *c);

/* Map keys of generation gen. */
void kg_topic_key_fill(const struct kg_cpattern *pat, __u8 gen, struct kg_topic_key *k);
void kg_name_key_fill(const struct kg_cname *n, __u8 gen, struct kg_name_key *k);
void kg_cidr4_key_fill(const struct kg_ccidr *c, __u8 gen, struct kg_cidr4_key *k);
void kg_cidr6_key_fill(const struct kg_ccidr *c, __u8 gen, struct kg_cidr6_key *k);

/* Ids as the datapath finds them. */
__u16 kg_compiled_principal_id(const struct kg_compiled *c, const char *name); /* NULL: ANONYMOUS */
__u8 kg_compiled_client_id(const struct kg_compiled *c, const char *client_id); /* NULL: null */
__u8 kg_compiled_region_of(const struct kg_compiled *c, __u8 family, const __u8 *addr);
/* Principal id bound by an identity CIDR, KG_PRINCIPAL_ANONYMOUS when none covers addr. */
__u16 kg_compiled_identity_of(const struct kg_compiled *c, __u8 family, const __u8 *addr);
/*
 * The class (index into classes) a topic falls in: longest match over the patterns, as
 * the datapath's kg_topics lookup finds it. topic NULL: a request that names no topic;
 * KG_ALL_TOPICS: class 0, where the datapath decides a request about all topics.
 */
__u32 kg_compiled_class_of(const struct kg_compiled *c, const char *topic);

/*
 * What the datapath decides from the compiled tables: the action, and in *rule_index
 * the deciding rule's index, or ~0u when default_action decided. op < KG_OP__COUNT;
 * topic NULL: a request that names no topic; KG_ALL_TOPICS: one about all topics.
 */
int kg_compiled_decide(const struct kg_compiled *c, __u16 principal_id, __u8 region_id,
		       __u8 client_cid, __u8 op, const char *topic, __u32 *rule_index);
/* The same for every topic of one class: the first match of its candidate list. */
int kg_compiled_decide_class(const struct kg_compiled *c, __u32 class_id, __u16 principal_id,
			     __u8 region_id, __u8 client_cid, __u8 op, __u32 *rule_index);
/*
 * The datapath's decision at a connection's start (kg_syn_decide): the first rule of
 * class 0 that names no operation and no client id and matches principal and region.
 * Its index, or ~0u when none does.
 */
__u32 kg_compiled_syn_decide(const struct kg_compiled *c, __u16 principal_id, __u8 region_id);

/* ---- the reference evaluator (ref.c) ----------------------------------------------- */

/*
 * A request's topic is one of three kinds: a name; NULL, a request that names no topic
 * (InitProducerId, FindCoordinator, JoinGroup...); or KG_ALL_TOPICS, a request about
 * every topic or a set of them (Metadata, OffsetFetch, ElectLeaders or
 * ListPartitionReassignments with a null list, DescribeAcls filters, a subscribed
 * regex, ListConfigResources). The last is matched only by rules whose topic is "any"
 * (no topics key, or "*"): never by `topics: none`, never by a rule naming topics, so a
 * rule meant for connection plumbing opens no topic. The datapath decides such a
 * request in class 0, the class of topics no pattern names, whose candidates are
 * exactly the "any" rules. KG_ALL_TOPICS is compared by address, never read as a name.
 */
extern const char kg_all_topics[];
#define KG_ALL_TOPICS kg_all_topics

/*
 * First match in file order over the policy as written. region NULL: the source is in
 * no region; client_id NULL: a null client.id; principal NULL: ANONYMOUS; topic NULL: a
 * request that names no topic, KG_ALL_TOPICS: a request about all topics. Returns the
 * action; *rule_index = the deciding rule, or -1 when default_action decided.
 */
int kg_ref_decide(const struct kg_policy *p, const char *principal, const char *region,
		  const char *client_id, __u8 op, const char *topic, int *rule_index);

/*
 * The datapath's decision at a connection's start (its SYN), before any request: the
 * first rule whose topic is "any" and that names no operation and no client id, and
 * that matches the connection's principal (the identity its source address gives, else
 * ANONYMOUS: NULL) and region. Its index, or -1 when there is none (the requests decide).
 * Only a redirect acts there: the connection goes to quarantine, every request with it.
 */
int kg_ref_syn_decide(const struct kg_policy *p, const char *principal, const char *region);

/* A rule's dimensions, in the order the reference evaluator tests them. */
#define KG_DIMS(X)                                                                                 \
	X(KG_DIM_NONE, "none")                                                                     \
	X(KG_DIM_TOPICS, "topics")                                                                 \
	X(KG_DIM_PRINCIPALS, "principals")                                                         \
	X(KG_DIM_CLIENT_IDS, "client_ids")                                                         \
	X(KG_DIM_OPERATIONS, "operations")                                                         \
	X(KG_DIM_REGIONS, "regions")                                                               \
	X(KG_DIM_REGIONS_NOT, "regions_not")

enum kg_dim { KG_DIMS(KG_ENUM_ENTRY) KG_DIM__COUNT };

/*
 * The first dimension of rule r that the request does not match, KG_DIM_NONE when r
 * matches it (arguments as kg_ref_decide's; principal NULL is ANONYMOUS).
 */
enum kg_dim kg_ref_rule_miss(const struct kg_prule *r, const char *principal, const char *region,
			     const char *client_id, __u8 op, const char *topic);
/* Region name of an address (longest prefix), or NULL when no region covers it. */
const char *kg_ref_region_of(const struct kg_policy *p, __u8 family, const __u8 *addr);
/* Principal an identity CIDR binds to an address (longest prefix), else "ANONYMOUS". */
const char *kg_ref_principal_of(const struct kg_policy *p, __u8 family, const __u8 *addr);

#endif /* KGATE_POLICY_H */
