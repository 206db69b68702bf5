// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy whatif: recorded decisions (an audit file, or the audit topic) replayed
 * through another policy file with the reference evaluator (agent/policy/ref.c,
 * kg_ref_decide), and what would change, counted by rule, principal, topic and verdict,
 * with examples. A recorded allow may stand for several decisions (audit.allow 1-in-N,
 * the record's `sample`): it is counted that many times, and the output says so; so does
 * a run's summary (`count` identical decisions, bpf/fold.h). Decisions folded past a
 * connection's budget (`folded`) left only their number: counted as not replayed.
 *
 * What the datapath would decide is rebuilt from each record as the datapath builds it:
 * the region and an identity principal from the source address under FILE's CIDRs, a SASL
 * principal as recorded, the client.id and operation as recorded; a request that names
 * no topic is decided by the reference evaluator with no topic (the rules that say
 * `topics: none`, and those for any topic), and a reject of one enforces as a reset, as
 * does a reject of CreateAcls or DeleteAcls (the datapath cannot poison those); a record
 * on a port FILE does not listen on would pass undecided. Undecodable frames (decided by
 * the listener, not by rules), connection and session records, and topics named only by
 * id are counted as not replayed.
 *
 * What was not recorded cannot be replayed: each record's policy version is looked up
 * in this host's policy store, and the output says which of them recorded no allows
 * (audit.allow none), or could not be looked up.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/audit/internal.h"
#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"
#include "bpf/kafka_layouts.h"

/* Examples kept per change of outcome (--examples); rows per table in the text output. */
#define WHATIF_EXAMPLES_DEFAULT 3
#define WHATIF_EXAMPLES_MAX	100
#define WHATIF_TOP		10
/* Distinct sampling rates reported (policy version x rate); more are summed as "other". */
#define WHATIF_RATES 16
/* An outcome: a verdict, enforced or not (KG_ACT__COUNT x 2). */
#define OUTCOMES (KG_ACT__COUNT * 2)
/* Policy versions the records name, looked up in the store; more are counted as "other". */
#define WHATIF_VERSIONS 64
/* The rule key of a record on a port FILE does not listen on. */
#define NOT_A_LISTENER "(not a listener)"

struct whatif_args {
	int output;
	const char *policy, *node;
	struct kg_records_from from;
	__u64 since;
	unsigned long examples;
};

static const struct kg_opt whatif_opts[] = {
	KG_OPT_OUTPUT(struct whatif_args, output, kg_output_text_json,
		      "text (default), or json: one document"),
	KG_OPT_STR("file", "AUDIT", struct whatif_args, from.file,
		   "the records of an audit file (--audit-file of\n"
		   "'kgate run'; '-': stdin)"),
	KG_OPT_FROM_KAFKA(struct whatif_args, from),
	KG_OPT_DURATION("since", struct whatif_args, since,
			"only decisions of the last DURATION (1h, 30m...)"),
	KG_OPT_STR("node", "NAME", struct whatif_args, node, "only the decisions of node NAME"),
	KG_OPT_UINT("examples", "N", struct whatif_args, examples, 0, WHATIF_EXAMPLES_MAX,
		    "examples per change of outcome (default 3)"),
	KG_OPT_ARG("policy FILE", "FILE", struct whatif_args, policy),
	KG_OPT_END,
};

static int policy_whatif(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_whatif = {
	.name = "policy whatif",
	.summary = "what FILE would have decided on recorded traffic",
	.synopsis = "[-o text|json] FILE --file AUDIT [--since DURATION]\n"
		    "                           [--node NAME] [--examples N]\n"
		    "       kgate policy whatif [-o text|json] FILE --from-kafka BROKERS\n"
		    "                           --audit-topic T [--since DURATION] [--node NAME]\n"
		    "                           [--examples N]",
	.about = "Replays recorded decisions through the policy FILE with the reference evaluator\n"
		 "(first match in file order, as 'kgate policy eval') and prints what would\n"
		 "change: how many decisions would get another outcome (verdict, and whether it is\n"
		 "enforced), counted by FILE's deciding rule, by principal, by topic and by\n"
		 "verdict, with examples of each change. No datapath is needed or touched.\n"
		 "\n"
		 "A recorded allow may stand for N decisions (audit.allow \"1-in-N\": its record's\n"
		 "`sample`): it is counted N times, and the output says which counts are such\n"
		 "estimates. A record of `count` C (identical decisions folded into one) counts\n"
		 "C times; decisions past a connection's budget (`folded`) are not replayed.\n"
		 "Regions and identity principals are taken from each source address\n"
		 "under FILE's CIDRs; SASL principals, client ids and operations as recorded.\n"
		 "Not replayed (counted apart): undecodable frames, connection and session\n"
		 "records, topics named only by id. A record on a port FILE does not listen on\n"
		 "would pass undecided (counted so). Records are read as kgate writes them: one\n"
		 "JSON object a line.\n"
		 "\n"
		 "Only what was recorded is replayed: under a policy with audit.allow none, the\n"
		 "requests it allowed left no record, and what FILE would do to them cannot be\n"
		 "seen. Each record's policy version is looked up in this host's policy store\n"
		 "and the output names the versions that recorded no allows, and how many\n"
		 "records are of versions it does not keep (other nodes', pruned ones).\n",
	.opts = whatif_opts,
	.epilog = "Exit 0, 1 when FILE is invalid or the records cannot be read, 2 on usage\n"
		  "errors.\n",
	.run = policy_whatif,
};

/* ---- counting -------------------------------------------------------------------------- */

struct group {
	char *key; /* NULL: the default action, no topic... (the table says which) */
	double n, changed;
	double before[OUTCOMES], after[OUTCOMES];
};

/* Groups by key: open addressing, grown at half full. */
struct table {
	const char *name, *null_key; /* "rule", "(default)" */
	struct group *g;
	size_t cap, n;
};

static __u32 hash(const char *s)
{
	__u32 h = 2166136261u;

	for (; s && *s; s++)
		h = (h ^ (__u8)*s) * 16777619u;
	return h;
}

static struct group *lookup(struct table *t, const char *key)
{
	if (t->n * 2 >= t->cap) {
		struct table nt = {
			.name = t->name, .null_key = t->null_key, .cap = t->cap ? t->cap * 2 : 64};

		nt.g = calloc(nt.cap, sizeof(*nt.g));
		if (!nt.g)
			abort(); /* a report cannot go on without memory */
		for (size_t i = 0; i < t->cap; i++) {
			struct group *g = &t->g[i];
			size_t j;

			if (!g->key)
				continue;
			for (j = hash(g->key) % nt.cap; nt.g[j].key; j = (j + 1) % nt.cap)
				;
			nt.g[j] = *g;
			nt.n++;
		}
		free(t->g);
		*t = nt;
	}
	if (!key)
		key = t->null_key;
	for (size_t j = hash(key) % t->cap;; j = (j + 1) % t->cap) {
		if (!t->g[j].key) {
			t->g[j].key = strdup(key);
			if (!t->g[j].key)
				abort();
			t->n++;
			return &t->g[j];
		}
		if (!strcmp(t->g[j].key, key))
			return &t->g[j];
	}
}

static void table_add(struct table *t, const char *key, double w, int before, int after)
{
	struct group *g = lookup(t, key);

	g->n += w;
	g->changed += before != after ? w : 0;
	g->before[before] += w;
	g->after[after] += w;
}

static int by_changed(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->changed != y->changed)
		return x->changed < y->changed ? 1 : -1;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The groups, most changed first, packed to the front: count. */
static size_t table_sort(struct table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->g[i].key)
			t->g[n++] = t->g[i];
	qsort(t->g, n, sizeof(*t->g), by_changed);
	return n;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->g[i].key);
	free(t->g);
}

/* An example of one change of outcome. */
struct example {
	char time[40], node[64], src[64], principal[KD_USER_MAX + 1], region[64],
		client_id[KD_CLIENT_ID_MAX + 1], op[16], api[40], topic[KD_TOPIC_MAX + 1],
		old_rule[64], new_rule[64], old_version[128];
	bool client_null, region_none, old_rule_none, new_rule_none;
};

struct rate {
	char version[128];
	__u64 one_in, records;
};

/* A policy version the records name, as this host's store knows it. */
struct seen_version {
	__u32 id;
	char version[128];
	enum { V_UNKNOWN, V_ALLOWS, V_NO_ALLOWS } allows; /* recorded its allows? */
	__u64 records;
};

struct whatif {
	const struct whatif_args *a;
	const struct kg_policy *p;
	__u64 since_ns;
	struct kg_names_cache *names; /* this host's store: what each version recorded */
	struct seen_version versions[WHATIF_VERSIONS];
	int nversions;
	__u64 versions_other;
	double not_listener; /* decisions on ports FILE does not listen on */
	__u16 not_listener_ports[KG_MAX_LISTENERS];
	int nnot_listener_ports;

	__u64 records, replayed, other_kinds, folded;
	__u64 skipped_undecodable, skipped_connection, skipped_session, skipped_topic_id,
		skipped_unreadable, skipped_old;
	double decisions, changed, rule_changed;
	struct rate rates[WHATIF_RATES];
	int nrates;
	__u64 rates_other, unknown_sample;
	struct table rules, principals, topics, verdicts;
	/* transitions: before x after outcome, with their examples */
	double trans[OUTCOMES][OUTCOMES];
	struct example *ex[OUTCOMES][OUTCOMES];
	int nex[OUTCOMES][OUTCOMES];
};

static int outcome(int verdict, bool enforced)
{
	return verdict * 2 + !enforced;
}

static void outcome_text(int o, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", kg_action_name(o / 2), o % 2 ? " (not enforced)" : "");
}

static void note_rate(struct whatif *w, const char *version, __u64 one_in)
{
	for (int i = 0; i < w->nrates; i++)
		if (w->rates[i].one_in == one_in && !strcmp(w->rates[i].version, version)) {
			w->rates[i].records++;
			return;
		}
	if (w->nrates == WHATIF_RATES) {
		w->rates_other++;
		return;
	}
	snprintf(w->rates[w->nrates].version, sizeof(w->rates[0].version), "%s", version);
	w->rates[w->nrates].one_in = one_in;
	w->rates[w->nrates++].records = 1;
}

/* The fields one example shows. */
static void keep_example(struct whatif *w, int before, int after, const char *rec, size_t len,
			 const char *principal, const char *region, const char *new_rule)
{
	struct example *e;
	__u64 port = 0;
	char ip[48] = "";

	if (w->nex[before][after] >= (int)w->a->examples)
		return;
	if (!w->ex[before][after])
		w->ex[before][after] = calloc(w->a->examples, sizeof(struct example));
	if (!w->ex[before][after])
		return;
	e = &w->ex[before][after][w->nex[before][after]++];
	kg_rec_str(rec, len, "time", e->time, sizeof(e->time));
	kg_rec_str(rec, len, "node", e->node, sizeof(e->node));
	kg_rec_str(rec, len, "src_ip", ip, sizeof(ip));
	kg_rec_u64(rec, len, "src_port", &port);
	snprintf(e->src, sizeof(e->src), strchr(ip, ':') ? "[%s]:%llu" : "%s:%llu", ip,
		 (unsigned long long)port);
	snprintf(e->principal, sizeof(e->principal), "%s", principal);
	e->region_none = !region;
	snprintf(e->region, sizeof(e->region), "%s", region ? region : "");
	e->client_null = !kg_rec_str(rec, len, "client_id", e->client_id, sizeof(e->client_id));
	kg_rec_str(rec, len, "operation", e->op, sizeof(e->op));
	kg_rec_str(rec, len, "api_name", e->api, sizeof(e->api));
	if (!kg_rec_str(rec, len, "topic", e->topic, sizeof(e->topic)))
		*e->topic = 0;
	e->old_rule_none = !kg_rec_str(rec, len, "rule", e->old_rule, sizeof(e->old_rule));
	kg_rec_str(rec, len, "policy_version", e->old_version, sizeof(e->old_version));
	e->new_rule_none = !new_rule;
	snprintf(e->new_rule, sizeof(e->new_rule), "%s", new_rule ? new_rule : "");
}

/* The source address of a record: 0, or -1 when it has none this can read. */
static int src_addr(const char *rec, size_t len, __u8 *family, __u8 addr[16])
{
	char ip[64];
	__u64 fam = 0;

	memset(addr, 0, 16);
	if (!kg_rec_u64(rec, len, "family", &fam) ||
	    !kg_rec_str(rec, len, "src_ip", ip, sizeof(ip)))
		return -1;
	*family = (__u8)fam;
	return inet_pton(fam == 6 ? AF_INET6 : AF_INET, ip, addr) == 1 ? 0 : -1;
}

/* Whether FILE listens on port: elsewhere the datapath passes traffic undecided. */
static bool listens(const struct kg_policy *p, __u16 port)
{
	for (int i = 0; i < p->nlisteners; i++)
		if (p->listeners[i].port == port)
			return true;
	return false;
}

static void note_port(struct whatif *w, __u16 port)
{
	for (int i = 0; i < w->nnot_listener_ports; i++)
		if (w->not_listener_ports[i] == port)
			return;
	if (w->nnot_listener_ports < KG_MAX_LISTENERS)
		w->not_listener_ports[w->nnot_listener_ports++] = port;
}

/*
 * A version as this host's store keeps it, or NULL. A version id names a policy of this
 * host only, so its version string must match too (another node's records, a store made
 * anew: not known). Valid until the next lookup (the cache holds a few).
 */
static const struct kg_stored_policy *stored(struct whatif *w, const struct seen_version *sv)
{
	const struct kg_stored_policy *sp = w->names ? kg_names_lookup(w->names, sv->id) : NULL;

	return sp && !strcmp(sp->p.version, sv->version) ? sp : NULL;
}

/* The record's policy version, looked up once: did it record its allows? */
static struct seen_version *note_version(struct whatif *w, const char *rec, size_t len)
{
	struct seen_version *sv = NULL;
	const struct kg_stored_policy *sp;
	char version[128] = "";
	__u64 id = 0;

	kg_rec_u64(rec, len, "version_id", &id);
	kg_rec_str(rec, len, "policy_version", version, sizeof(version));
	for (int i = 0; i < w->nversions && !sv; i++)
		if (w->versions[i].id == id && !strcmp(w->versions[i].version, version))
			sv = &w->versions[i];
	if (!sv) {
		if (w->nversions == WHATIF_VERSIONS) {
			w->versions_other++;
			return NULL;
		}
		sv = &w->versions[w->nversions++];
		sv->id = (__u32)id;
		snprintf(sv->version, sizeof(sv->version), "%s", version);
		sp = stored(w, sv);
		sv->allows = !sp ? V_UNKNOWN : sp->p.audit_allow ? V_ALLOWS : V_NO_ALLOWS;
	}
	sv->records++;
	return sv;
}

/*
 * Whether a recorded reset is the datapath's reject (its name had passed in an earlier
 * segment: nothing left to poison): the rule that decided it rejects in the recorded
 * version, or that version is not known (then taken so).
 */
static bool reset_of_reject(struct whatif *w, const struct seen_version *sv, const char *rule)
{
	const struct kg_stored_policy *sp = sv ? stored(w, sv) : NULL;

	if (!sp)
		return true;
	if (!*rule)
		return sp->p.default_action == KG_ACT_REJECT;
	for (int i = 0; i < sp->p.nrules; i++)
		if (!strcmp(sp->p.rules[i].name, rule))
			return sp->p.rules[i].action == KG_ACT_REJECT;
	return true;
}

static int on_record(void *ctx, const char *rec, size_t len)
{
	struct whatif *w = ctx;
	char kind[16], verdict[16], psrc[16], op[16], topic[KD_TOPIC_MAX + 1],
		principal[KD_USER_MAX + 1], client[KD_CLIENT_ID_MAX + 1], node[256], oldrule[64],
		version[128] = "";
	const char *region, *who, *new_rule = NULL;
	__u64 ts = 0, sample = 1, api = ~0ull, port = 0, count = 1, folded = 0;
	struct seen_version *sv;
	bool enforced = true, has_client, has_topic;
	int act, ri = -1, v, opi, before, after;
	double wt;
	__u8 family, addr[16];

	w->records++;
	if (!kg_rec_str(rec, len, "kind", kind, sizeof(kind))) {
		w->skipped_unreadable++;
		return 0;
	}
	if (w->a->node &&
	    (!kg_rec_str(rec, len, "node", node, sizeof(node)) || strcmp(node, w->a->node)))
		return 0;
	kg_rec_u64(rec, len, "ts_ns", &ts);
	if (ts < w->since_ns) {
		w->skipped_old++;
		return 0;
	}
	/* decisions past a connection's budget this record carries: what they were is not
	 * recorded; a record of count 0 carries nothing else */
	if (kg_rec_u64(rec, len, "folded", &folded))
		w->folded += folded;
	if (kg_rec_u64(rec, len, "count", &count) && !count)
		return 0;
	if (!strcmp(kind, "undecodable")) {
		w->skipped_undecodable++;
		return 0;
	}
	if (!strcmp(kind, "connection")) {
		w->skipped_connection++;
		return 0;
	}
	if (!strcmp(kind, "session")) {
		w->skipped_session++;
		return 0;
	}
	if (strcmp(kind, "topic") && strcmp(kind, "request")) {
		w->other_kinds++; /* gap, policy...: not decisions */
		return 0;
	}
	has_topic = kg_rec_str(rec, len, "topic", topic, sizeof(topic));
	if (!strcmp(kind, "topic") && !has_topic) {
		w->skipped_topic_id++;
		return 0;
	}
	if (!kg_rec_str(rec, len, "verdict", verdict, sizeof(verdict)) ||
	    !kg_rec_str(rec, len, "operation", op, sizeof(op)) ||
	    (v = kg_name_index(kg_action_names, KG_ACT__COUNT, verdict)) < 0 ||
	    (opi = kg_name_index(kg_op_names, KG_OP__COUNT, op)) < 0 ||
	    src_addr(rec, len, &family, addr)) {
		w->skipped_unreadable++;
		return 0;
	}
	kg_rec_bool(rec, len, "enforced", &enforced);
	kg_rec_str(rec, len, "policy_version", version, sizeof(version));
	if (!kg_rec_str(rec, len, "rule", oldrule, sizeof(oldrule)))
		*oldrule = 0;
	/* a sampled allow stands for `sample` decisions; null: not known, counted once */
	if (!kg_rec_u64(rec, len, "sample", &sample)) {
		sample = 1;
		if (v == KG_ACT_ALLOW)
			w->unknown_sample++;
	} else if (sample > 1) {
		note_rate(w, version, sample);
	}
	/* and a record stands for `count` identical decisions (a run's summary) */
	wt = (sample ? (double)sample : 1) * (double)count;

	/* the request as FILE's datapath would see it */
	region = kg_ref_region_of(w->p, family, addr);
	kg_rec_str(rec, len, "principal_source", psrc, sizeof(psrc));
	if (!strcmp(psrc, "sasl") &&
	    kg_rec_str(rec, len, "principal", principal, sizeof(principal)))
		who = principal;
	else
		who = kg_ref_principal_of(w->p, family, addr);
	has_client = kg_rec_str(rec, len, "client_id", client, sizeof(client));
	kg_rec_u64(rec, len, "api_key", &api);
	before = outcome(v, enforced);
	sv = note_version(w, rec, len);
	if (!kg_rec_u64(rec, len, "dst_port", &port) || !listens(w->p, (__u16)port)) {
		/* FILE does not listen there: the datapath passes it, decides nothing */
		act = KG_ACT_ALLOW;
		after = outcome(act, true);
		new_rule = NOT_A_LISTENER;
		w->not_listener += wt;
		note_port(w, (__u16)port);
	} else {
		bool enf;

		/*
		 * No topic: the reference's own reading of a request that names none (rules
		 * of `topics: none` and rules of any topic match it). TODO: a request about
		 * all topics (a null Metadata list...) once records tell it apart.
		 */
		act = kg_ref_decide(w->p, who, region, has_client ? client : NULL, (__u8)opi,
				    has_topic ? topic : NULL, &ri);
		if (ri >= 0)
			new_rule = w->p->rules[ri].name;
		enf = w->p->mode == KG_MODE_ENFORCE && !(ri >= 0 && w->p->rules[ri].audit);
		/* an enforced reject that the datapath cannot poison resets: a request with no
		 * topic, and CreateAcls/DeleteAcls (a poisoned name would create or delete an
		 * ACL for it and succeed) */
		if (enf && act == KG_ACT_REJECT &&
		    (!has_topic || api == KAFKA_CREATE_ACLS || api == KAFKA_DELETE_ACLS))
			act = KG_ACT_RESET;
		/* and a reject whose name had passed in an earlier segment: a recorded reset
		 * under a reject rule is that, the same outcome */
		if (enf && act == KG_ACT_REJECT && before == outcome(KG_ACT_RESET, true) &&
		    reset_of_reject(w, sv, oldrule))
			act = KG_ACT_RESET;
		after = outcome(act, enf);
	}
	w->replayed++;
	w->decisions += wt;
	if (before != after)
		w->changed += wt;
	else if (strcmp(oldrule, new_rule ? new_rule : ""))
		w->rule_changed += wt;
	w->trans[before][after] += wt;
	table_add(&w->rules, new_rule, wt, before, after);
	table_add(&w->principals, who, wt, before, after);
	table_add(&w->topics, has_topic ? topic : NULL, wt, before, after);
	table_add(&w->verdicts, kg_action_name(act), wt, before, after);
	if (before != after)
		keep_example(w, before, after, rec, len, who, region, new_rule);
	return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

static void outcomes_json(const double *c)
{
	char o[48];
	bool first = true;

	printf("{");
	for (int i = 0; i < OUTCOMES; i++) {
		if (!c[i])
			continue;
		outcome_text(i, o, sizeof(o));
		printf("%s\"%s\":%.0f", first ? "" : ",", o, c[i]);
		first = false;
	}
	printf("}");
}

static void table_json(struct table *t, const char *key)
{
	size_t n = table_sort(t);

	printf(",\"by_%s\":[", t->name);
	for (size_t i = 0; i < n; i++) {
		const struct group *g = &t->g[i];

		printf("%s{\"%s\":", i ? "," : "", key);
		kg_json_fput(stdout, t->null_key && !strcmp(g->key, t->null_key) ? NULL : g->key);
		printf(",\"decisions\":%.0f,\"changed\":%.0f,\"before\":", g->n, g->changed);
		outcomes_json(g->before);
		printf(",\"after\":");
		outcomes_json(g->after);
		printf("}");
	}
	printf("]");
}

static void jstr(const char *k, const char *v, bool null)
{
	printf(",\"%s\":", k);
	kg_json_fput(stdout, null ? NULL : v);
}

static void example_json(const struct example *e, int before, int after)
{
	char o[48];

	printf("{\"time\":");
	kg_json_fput(stdout, e->time);
	jstr("node", e->node, false);
	jstr("src", e->src, false);
	jstr("principal", e->principal, false);
	jstr("region", e->region, e->region_none);
	jstr("client_id", e->client_id, e->client_null);
	jstr("operation", e->op, false);
	jstr("api_name", e->api, false);
	jstr("topic", e->topic, !*e->topic);
	outcome_text(before, o, sizeof(o));
	printf(",\"before\":{\"outcome\":\"%s\"", o);
	jstr("rule", e->old_rule, e->old_rule_none);
	jstr("policy_version", e->old_version, false);
	outcome_text(after, o, sizeof(o));
	printf("},\"after\":{\"outcome\":\"%s\"", o);
	jstr("rule", e->new_rule, e->new_rule_none);
	printf("}}");
}

static void sampling_json(const struct whatif *w)
{
	printf(",\"sampling\":{\"scaled\":%s,\"rates\":[", w->nrates ? "true" : "false");
	for (int i = 0; i < w->nrates; i++) {
		printf("%s{\"policy_version\":", i ? "," : "");
		kg_json_fput(stdout, w->rates[i].version);
		printf(",\"one_in\":%llu,\"records\":%llu}", (unsigned long long)w->rates[i].one_in,
		       (unsigned long long)w->rates[i].records);
	}
	printf("],\"other_rates_records\":%llu,\"unknown_sample_records\":%llu}",
	       (unsigned long long)w->rates_other, (unsigned long long)w->unknown_sample);
}

/* What was not recorded, and traffic FILE would not decide (JSON). */
static void coverage_json(const struct whatif *w)
{
	static const char *const allows[] = {"null", "true", "false"};

	printf(",\"not_listener\":{\"decisions\":%.0f,\"ports\":[", w->not_listener);
	for (int i = 0; i < w->nnot_listener_ports; i++)
		printf("%s%u", i ? "," : "", w->not_listener_ports[i]);
	printf("]},\"recorded_versions\":[");
	for (int i = 0; i < w->nversions; i++) {
		printf("%s{\"policy_version\":", i ? "," : "");
		kg_json_fput(stdout, *w->versions[i].version ? w->versions[i].version : NULL);
		printf(",\"version_id\":%u,\"records\":%llu,\"allows_recorded\":%s}",
		       w->versions[i].id, (unsigned long long)w->versions[i].records,
		       allows[w->versions[i].allows]);
	}
	printf("],\"other_versions_records\":%llu", (unsigned long long)w->versions_other);
}

/* The same in text: said only when it matters. */
static void coverage_text(const struct whatif *w)
{
	__u64 unknown = w->versions_other;

	if (w->not_listener) {
		printf("  %.0f decisions on ports FILE does not listen on (", w->not_listener);
		for (int i = 0; i < w->nnot_listener_ports; i++)
			printf("%s%u", i ? ", " : "", w->not_listener_ports[i]);
		printf("): they would pass undecided\n");
	}
	for (int i = 0; i < w->nversions; i++) {
		const struct seen_version *v = &w->versions[i];

		if (v->allows == V_UNKNOWN)
			unknown += v->records;
		if (v->allows != V_NO_ALLOWS)
			continue;
		printf("  allows not recorded: %llu records are of \"%s\" (version id %u), whose "
		       "audit.allow is none: traffic it allowed left no record, and what FILE "
		       "would change of it is not seen here\n",
		       (unsigned long long)v->records, v->version, v->id);
	}
	if (unknown)
		printf("  %llu records are of versions this host's policy store does not keep: "
		       "whether their allows were recorded is not known\n",
		       (unsigned long long)unknown);
}

static void print_json(struct whatif *w)
{
	char since[40];
	bool first = true;

	printf("{\"file\":");
	kg_json_fput(stdout, w->a->policy);
	jstr("policy_version", w->p->version, false);
	printf(",\"mode\":\"%s\",\"source\":", kg_mode_name(w->p->mode));
	if (w->a->from.file) {
		printf("{\"file\":");
		kg_json_fput(stdout, w->a->from.file);
	} else {
		printf("{\"brokers\":");
		kg_json_fput(stdout, w->a->from.brokers);
		jstr("topic", w->a->from.topic, false);
	}
	if (w->since_ns)
		kg_time_text(w->since_ns, since, sizeof(since));
	jstr("node", w->a->node, !w->a->node);
	printf("},\"since\":");
	kg_json_fput(stdout, w->since_ns ? since : NULL);
	printf(",\"records\":%llu,\"replayed_records\":%llu,\"decisions\":%.0f,\"changed\":%.0f,"
	       "\"rule_changed\":%.0f",
	       (unsigned long long)w->records, (unsigned long long)w->replayed, w->decisions,
	       w->changed, w->rule_changed);
	sampling_json(w);
	coverage_json(w);
	printf(",\"not_replayed\":{\"undecodable\":%llu,\"connection\":%llu,\"session\":%llu,"
	       "\"topic_id_only\":%llu,\"unreadable\":%llu,\"before_since\":%llu,"
	       "\"not_decisions\":%llu,\"folded\":%llu}",
	       (unsigned long long)w->skipped_undecodable,
	       (unsigned long long)w->skipped_connection, (unsigned long long)w->skipped_session,
	       (unsigned long long)w->skipped_topic_id, (unsigned long long)w->skipped_unreadable,
	       (unsigned long long)w->skipped_old, (unsigned long long)w->other_kinds,
	       (unsigned long long)w->folded);
	printf(",\"changes\":[");
	for (int b = 0; b < OUTCOMES; b++)
		for (int a = 0; a < OUTCOMES; a++) {
			char o[48];

			if (a == b || !w->trans[b][a])
				continue;
			outcome_text(b, o, sizeof(o));
			printf("%s{\"before\":\"%s\"", first ? "" : ",", o);
			outcome_text(a, o, sizeof(o));
			printf(",\"after\":\"%s\",\"decisions\":%.0f,\"examples\":[", o,
			       w->trans[b][a]);
			for (int i = 0; i < w->nex[b][a]; i++) {
				if (i)
					printf(",");
				example_json(&w->ex[b][a][i], b, a);
			}
			printf("]}");
			first = false;
		}
	printf("]");
	table_json(&w->verdicts, "verdict");
	table_json(&w->rules, "rule");
	table_json(&w->principals, "principal");
	table_json(&w->topics, "topic");
	printf("}\n");
}

static void table_text(struct table *t, const char *title)
{
	size_t n = table_sort(t), shown = n < WHATIF_TOP ? n : WHATIF_TOP;
	int wk = (int)strlen(title);

	for (size_t i = 0; i < shown; i++)
		wk = (int)strlen(t->g[i].key) > wk ? (int)strlen(t->g[i].key) : wk;
	printf("\nby %s%s:\n  %-*s  %10s  %10s\n", t->name,
	       n > shown ? " (the most changed first)" : "", wk, title, "DECISIONS", "CHANGED");
	for (size_t i = 0; i < shown; i++)
		printf("  %-*s  %10.0f  %10.0f\n", wk, t->g[i].key, t->g[i].n, t->g[i].changed);
	if (n > shown)
		printf("  ... %zu more (-o json lists every one)\n", n - shown);
}

static void print_text(struct whatif *w)
{
	char since[40];

	printf("whatif %s (\"%s\", mode %s) over %llu decision records", w->a->policy,
	       w->p->version, kg_mode_name(w->p->mode), (unsigned long long)w->replayed);
	if (w->since_ns) {
		kg_time_text(w->since_ns, since, sizeof(since));
		printf(" since %s", since);
	}
	if (w->a->from.file)
		printf(" from %s\n", w->a->from.file);
	else
		printf(" from %s %s\n", w->a->from.brokers, w->a->from.topic);
	for (int i = 0; i < w->nrates; i++)
		printf("  sampled: %llu allow records of \"%s\" keep 1 in %llu decisions: each "
		       "decision they count is counted %llu times (estimates)\n",
		       (unsigned long long)w->rates[i].records, w->rates[i].version,
		       (unsigned long long)w->rates[i].one_in,
		       (unsigned long long)w->rates[i].one_in);
	if (w->unknown_sample)
		printf("  %llu allow records of an unknown sampling were counted once\n",
		       (unsigned long long)w->unknown_sample);
	if (w->skipped_undecodable + w->skipped_connection + w->skipped_session +
	    w->skipped_topic_id + w->skipped_unreadable)
		printf("  not replayed: %llu undecodable, %llu connection, %llu session, %llu "
		       "topic "
		       "by id only, %llu unreadable\n",
		       (unsigned long long)w->skipped_undecodable,
		       (unsigned long long)w->skipped_connection,
		       (unsigned long long)w->skipped_session,
		       (unsigned long long)w->skipped_topic_id,
		       (unsigned long long)w->skipped_unreadable);
	if (w->folded)
		printf("  not replayed: %llu decisions past a connection's event budget (records "
		       "carry their number only)\n",
		       (unsigned long long)w->folded);
	coverage_text(w);
	printf("\n%.0f of %.0f decisions would change outcome (%.1f%%)%s", w->changed, w->decisions,
	       w->decisions ? 100 * w->changed / w->decisions : 0, w->nrates ? ", estimated" : "");
	if (w->rule_changed)
		printf("; %.0f more keep their outcome under another rule", w->rule_changed);
	printf("\n");
	for (int b = 0; b < OUTCOMES; b++)
		for (int a = 0; a < OUTCOMES; a++) {
			char ob[48], oa[48];

			if (a == b || !w->trans[b][a])
				continue;
			outcome_text(b, ob, sizeof(ob));
			outcome_text(a, oa, sizeof(oa));
			printf("  %s -> %s: %.0f\n", ob, oa, w->trans[b][a]);
			for (int i = 0; i < w->nex[b][a]; i++) {
				const struct example *e = &w->ex[b][a][i];

				printf("    %s %s %s %s %s %s %s: rule %s -> rule %s\n", e->time,
				       e->node, e->src, e->principal,
				       e->region_none ? "-" : e->region, e->api,
				       *e->topic ? e->topic : "(no topic)",
				       e->old_rule_none ? "(default)" : e->old_rule,
				       e->new_rule_none ? "(default)" : e->new_rule);
			}
		}
	table_text(&w->verdicts, "VERDICT");
	table_text(&w->rules, "RULE");
	table_text(&w->principals, "PRINCIPAL");
	table_text(&w->topics, "TOPIC");
}

static int policy_whatif(int argc, char **argv)
{
	struct whatif_args a = {.examples = WHATIF_EXAMPLES_DEFAULT};
	struct whatif w = {
		.rules = {.name = "rule", .null_key = "(default)"},
		.principals = {.name = "principal"},
		.topics = {.name = "topic", .null_key = "(no topic)"},
		.verdicts = {.name = "verdict"},
	};
	struct kg_policy_file f;
	char err[1024];
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_whatif, argc, argv, &a)))
		return rc;
	if ((rc = kg_records_check(&kg_cmd_policy_whatif, &a.from)))
		return rc;
	if (kg_policy_file_load(&f, a.policy, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kg_policy_file_free(&f);
		return 1;
	}
	w.a = &a;
	w.p = &f.p;
	w.since_ns = a.since ? kg_wall_now_ns() - a.since : 0;
	w.names = kg_names_cache_new();
	if ((rc = kg_records_read(&kg_cmd_policy_whatif, &a.from, w.since_ns, on_record, &w)))
		goto out;
	kg_json_doc(false);
	if (a.output == 1) {
		kg_json_item();
		print_json(&w);
	}
	else
		print_text(&w);
out:
	for (int b = 0; b < OUTCOMES; b++)
		for (int x = 0; x < OUTCOMES; x++)
			free(w.ex[b][x]);
	table_free(&w.rules);
	table_free(&w.principals);
	table_free(&w.topics);
	table_free(&w.verdicts);
	kg_names_cache_free(w.names);
	kg_policy_file_free(&f);
	return rc;
}
