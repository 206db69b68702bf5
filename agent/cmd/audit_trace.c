// SPDX-License-Identifier: Apache-2.0
/*
 * kgate audit trace: for one record of a topic-partition (its offset), who wrote it, when,
 * under which rule and policy version, and who read it afterwards, rebuilt from the audit
 * records: an audit file, or the audit topic read with librdkafka (agent/audit/reader.c).
 *
 * The chain (README, "Audit records"): a `write` record holds the offsets the broker gave
 * one partition of an allowed Produce ([base_offset, last_offset]) and names its decision
 * record (same node, seq = decision_seq); a `read` record holds the offsets one partition
 * of an allowed Fetch returned ([first_offset, last_offset]) and names its decision the
 * same way. One pass over the records keeps what bears on offset O of T/P:
 *  - the acked writes whose range holds O: normally one; the same idempotent batch acked
 *    again is a duplicate; two batches claiming O is an anomaly (a truncated log after a
 *    leader change, or a topic created again);
 *  - the writes of T/P without offsets (failed, or acks=0): an idempotent producer's id,
 *    epoch and sequence tie a failed attempt to the batch that holds O; when no acked write
 *    holds O, the acked writes just below and just above O bracket in time the writes that
 *    may have;
 *  - the reads whose range holds O, each tied to the claim it read (the newest before it);
 *  - the decisions of T (produce and consume) by (node, seq), which writes and reads name;
 *  - the gap records (events a node lost: a write or a read may be missing).
 * The names an answer shows (principal, region, client, rule, policy version) come from the
 * write or read record, which carries its decision's; the decision record adds the verdict
 * and whether it was enforced, and says the link holds. A decision that was not recorded (an
 * allow sampled out: decision_seq null) or not found is said so.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/audit/internal.h"
#include "agent/cmd/cmd.h"

/*
 * Decisions of T kept for the links ((node, seq) -> verdict, rule, version...: 64 bytes
 * each, and 4 to 8 of hash). Past it, later decisions are counted, not kept: a write or read naming one of
 * them is reported from its own fields, and the output says how many were not kept
 * (--since narrows the window).
 */
#define TRACE_DECISIONS_MAX 2000000
/* Records kept whole, each past its bound counted only (and said): acked writes whose
 * range holds O, writes of T/P without offsets, reads whose range holds O. */
#define TRACE_CLAIMS_MAX   1024
#define TRACE_UNPLACED_MAX 10000
#define TRACE_READS_MAX	   20000
/* Topic ids learned for T from records that carry both (a topic created again gets a new
 * one). Past it, records naming T only by a further id are not matched (said). */
#define TRACE_TOPIC_IDS 8
/* Longest node name kept (the agent's --node, a host name); a longer one is cut here. */
#define TRACE_NODE_MAX 256
/* UUID text and its NUL. */
#define TRACE_UUID_LEN 40
/* The label column of the text answer. */
#define LABEL "  %-10s"

/*
 * Kafka errors (Errors.java) after which a broker may still have appended the batch: the
 * leader wrote it, then timed out waiting for the replicas (acks=all). Any other error
 * means nothing was appended.
 */
static const char *const maybe_appended[] = {"REQUEST_TIMED_OUT",
					     "NOT_ENOUGH_REPLICAS_AFTER_APPEND", NULL};

struct trace_args {
	int output;
	const char *topic;
	struct kg_records_from from;
	unsigned long partition, offset;
	__u64 since;
};

/* Not given: the parser leaves these (the table's ranges stop below them). */
#define UNSET ULONG_MAX

static const struct kg_opt trace_opts[] = {
	KG_OPT_STR("topic", "T", struct trace_args, topic, "the record's topic (its name)",
		   .required = true),
	{.name = "partition", .kind = KG_OPT_UINT, .metavar = "P",
	 .off = offsetof(struct trace_args, partition), .min = 0, .max = INT32_MAX,
	 .required = true, .help = "the record's partition"},
	{.name = "offset", .kind = KG_OPT_UINT, .metavar = "O",
	 .off = offsetof(struct trace_args, offset), .min = 0, .max = INT64_MAX,
	 .required = true, .help = "the record's offset"},
	KG_OPT_STR("file", "PATH", struct trace_args, from.file,
		   "the records of an audit file (--audit-file of\n"
		   "'kgate run', a dump of the audit topic; '-': stdin)"),
	KG_OPT_FROM_KAFKA(struct trace_args, from),
	KG_OPT_DURATION("since", struct trace_args, since,
			"only records of the last DURATION (1h, 30m...);\n"
			"the audit topic is read from there (by time)"),
	KG_OPT_OUTPUT(struct trace_args, output, kg_output_text_json,
		      "text (default), or json: one document"),
	KG_OPT_END,
};

static int audit_trace(int argc, char **argv);

const struct kg_cmd kg_cmd_audit_trace = {
	.name = "audit trace",
	.summary = "who wrote a record of a topic, under which rule, and who read it",
	.synopsis = "--topic T --partition P --offset O --file PATH\n"
		    "                         [--since DURATION] [-o text|json]\n"
		    "       kgate audit trace --topic T --partition P --offset O\n"
		    "                         --from-kafka BROKERS --audit-topic T\n"
		    "                         [--since DURATION] [-o text|json]",
	.about = "Answers, for the record at offset O of partition P of topic T: who wrote it\n"
		 "(principal and where it came from, region, address, client.id, node), when,\n"
		 "under which rule and policy version, and which readers received it afterwards,\n"
		 "from the audit records kgate wrote (kinds write, read and their decisions).\n"
		 "\n"
		 "The write is the acked write record of T/P whose offsets hold O; the rule and\n"
		 "policy version are its decision record's (same node, decision_seq), or, when\n"
		 "that allow was sampled out, the write record's own copies (said so). Every\n"
		 "write that bears on O is shown: the batch acked again (an idempotent retry), a\n"
		 "failed attempt of the same batch, and, when no acked write holds O, the writes\n"
		 "without offsets (acks=0, errors) between the acked writes just below and above\n"
		 "it. Two acked writes claiming O (a log truncated after a leader change, a topic\n"
		 "created again) are an anomaly, shown with both. Readers are the read records of\n"
		 "T/P whose offsets hold O, each with the write it received; reads recorded one in\n"
		 "N (audit.reads) are said so.\n"
		 "\n"
		 "--from-kafka reads the audit topic with librdkafka: without --since every\n"
		 "partition from its start (the whole retained topic); with --since from the first\n"
		 "record at or after that time, looked up by time where the cluster can (records\n"
		 "older than --since that are read anyway are skipped, and counted).\n",
	.opts = trace_opts,
	.epilog = "Exit status: 0 when an acked write record holds O (anomalies or not); 3 when\n"
		  "none does (the answer says what may have written it); 1 when the records\n"
		  "cannot be read; 2 on a usage error.\n",
	.run = audit_trace,
};

/* ---- interned strings ------------------------------------------------------------------ */

/* Names that repeat across records (nodes, rules, versions, verdicts): index 0 is null. */
struct pool {
	char **s;
	size_t n;      /* s[1..n] used */
	__u32 *slots;  /* open addressing: index into s, 0 empty */
	size_t nslots; /* a power of two, kept at least twice n */
};

static __u32 fnv(const char *s)
{
	__u32 h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (__u8)*s) * 16777619u;
	return h;
}

static __u32 intern(struct pool *p, const char *s)
{
	size_t j;

	if (!s)
		return 0;
	if ((p->n + 1) * 2 >= p->nslots) {
		size_t ns = p->nslots ? p->nslots * 2 : 64;
		__u32 *sl = calloc(ns, sizeof(*sl));

		if (!sl)
			abort(); /* as kg_buf: the command cannot go on without memory */
		for (size_t i = 1; i <= p->n; i++) {
			for (j = fnv(p->s[i]) & (ns - 1); sl[j]; j = (j + 1) & (ns - 1))
				;
			sl[j] = (__u32)i;
		}
		free(p->slots);
		p->slots = sl;
		p->nslots = ns;
	}
	for (j = fnv(s) & (p->nslots - 1); p->slots[j]; j = (j + 1) & (p->nslots - 1))
		if (!strcmp(p->s[p->slots[j]], s))
			return p->slots[j];
	p->s = kg_grow(p->s, p->n + 1, sizeof(*p->s));
	if (!p->s || !(p->s[p->n + 1] = strdup(s)))
		abort();
	p->slots[j] = (__u32)++p->n;
	return p->slots[j];
}

/* The index of s, 0 when it was never interned. */
static __u32 pool_find(const struct pool *p, const char *s)
{
	for (size_t j = p->nslots ? fnv(s) & (p->nslots - 1) : 0; p->nslots && p->slots[j];
	     j = (j + 1) & (p->nslots - 1))
		if (!strcmp(p->s[p->slots[j]], s))
			return p->slots[j];
	return 0;
}

static const char *str_of(const struct pool *p, __u32 i)
{
	return i ? p->s[i] : NULL;
}

static void pool_free(struct pool *p)
{
	for (size_t i = 1; i <= p->n; i++)
		free(p->s[i]);
	free(p->s);
	free(p->slots);
}

/* ---- reading --------------------------------------------------------------------------- */

/* A decision of T, as the links need it. */
struct dec {
	__u64 seq, ts_ns;
	__s64 rule_id, corr; /* -1: null */
	__u32 node, rule, version, verdict; /* pool indices, 0: null */
	__u32 version_id, sample;	    /* sample 0: null */
	__u16 api_key;
	bool enforced;
};

_Static_assert(sizeof(struct dec) == 64, "TRACE_DECISIONS_MAX's memory: 64 bytes a decision");

/* A record kept whole for the answer. */
struct kept {
	char *rec;
	size_t len;
};

struct kept_list {
	struct kept *v;
	size_t n, max;
	__u64 over; /* past max: counted only */
};

/* The acked write of T/P nearest below or above O (its offsets and when). */
struct near {
	bool set;
	__u64 base, last, ts_ns, seq;
	char node[TRACE_NODE_MAX], time[40];
};

/* What a node's records said about the window. */
struct node_seen {
	__u32 name;
	__u64 records, gaps, lost_deny, lost_allow, gap_after, gap_before;
	__u64 read_sample; /* the largest `sample` of its read records (1 in N) */
	__u64 sampled_out; /* its writes and reads whose decision was not recorded */
};

struct trace {
	const struct trace_args *a;
	__u64 since_ns;
	struct pool names;
	char ids[TRACE_TOPIC_IDS][TRACE_UUID_LEN];
	int nids;
	__u64 ids_over;

	struct dec *decs;
	size_t ndecs;
	__u32 *dslots; /* (node, seq) -> decs index + 1 */
	size_t ndslots;
	__u64 decs_over;

	struct kept_list claims, unplaced, reads;
	struct near below, above;
	struct node_seen *nodes;
	size_t nnodes;

	__u64 records, older, unreadable, decisions, writes, readrecs;
	__u64 first_ns, last_ns;
};

static __u64 dec_hash(__u32 node, __u64 seq)
{
	__u64 h = seq * 0x9e3779b97f4a7c15ull ^ node;

	return h ^ h >> 29;
}

static struct dec *dec_find(const struct trace *t, __u32 node, __u64 seq)
{
	if (!t->ndslots || !node)
		return NULL;
	for (size_t j = dec_hash(node, seq) & (t->ndslots - 1); t->dslots[j];
	     j = (j + 1) & (t->ndslots - 1)) {
		struct dec *d = &t->decs[t->dslots[j] - 1];

		if (d->node == node && d->seq == seq)
			return d;
	}
	return NULL;
}

static void dec_add(struct trace *t, const struct dec *d)
{
	size_t j;

	if (t->ndecs >= TRACE_DECISIONS_MAX) {
		t->decs_over++;
		return;
	}
	if ((t->ndecs + 1) * 2 >= t->ndslots) {
		size_t ns = t->ndslots ? t->ndslots * 2 : 1024;
		__u32 *sl = calloc(ns, sizeof(*sl));

		if (!sl)
			abort();
		for (size_t i = 0; i < t->ndecs; i++) {
			for (j = dec_hash(t->decs[i].node, t->decs[i].seq) & (ns - 1); sl[j];
			     j = (j + 1) & (ns - 1))
				;
			sl[j] = (__u32)i + 1;
		}
		free(t->dslots);
		t->dslots = sl;
		t->ndslots = ns;
	}
	/* a record delivered twice (a dump with a repeat) keeps its first copy */
	if (dec_find(t, d->node, d->seq))
		return;
	t->decs = kg_grow(t->decs, t->ndecs, sizeof(*t->decs));
	if (!t->decs)
		abort();
	t->decs[t->ndecs] = *d;
	for (j = dec_hash(d->node, d->seq) & (t->ndslots - 1); t->dslots[j];
	     j = (j + 1) & (t->ndslots - 1))
		;
	t->dslots[j] = (__u32)++t->ndecs;
}

static void keep(struct kept_list *l, const char *rec, size_t len)
{
	if (l->n >= l->max) {
		l->over++;
		return;
	}
	l->v = kg_grow(l->v, l->n, sizeof(*l->v));
	if (!l->v || !(l->v[l->n].rec = strndup(rec, len)))
		abort();
	l->v[l->n++].len = len;
}

static struct node_seen *node_seen(struct trace *t, const char *name)
{
	__u32 i = intern(&t->names, name);

	for (size_t k = 0; k < t->nnodes; k++)
		if (t->nodes[k].name == i)
			return &t->nodes[k];
	t->nodes = kg_grow(t->nodes, t->nnodes, sizeof(*t->nodes));
	if (!t->nodes)
		abort();
	t->nodes[t->nnodes] = (struct node_seen){.name = i};
	return &t->nodes[t->nnodes++];
}

static void learn_id(struct trace *t, const char *id)
{
	for (int i = 0; i < t->nids; i++)
		if (!strcmp(t->ids[i], id))
			return;
	if (t->nids == TRACE_TOPIC_IDS) {
		t->ids_over++;
		return;
	}
	snprintf(t->ids[t->nids++], TRACE_UUID_LEN, "%s", id);
}

/* An offset field: false when null or absent (offsets are never negative). */
static bool off_field(const char *rec, size_t len, const char *k, __u64 *v)
{
	return kg_rec_u64(rec, len, k, v) && *v <= INT64_MAX;
}

static __s64 s64_field(const char *rec, size_t len, const char *k, __s64 dflt)
{
	__s64 v;

	return kg_rec_s64(rec, len, k, &v) ? v : dflt;
}

static void note_near(struct near *n, const char *rec, size_t len, __u64 base, __u64 last,
		      __u64 ts)
{
	n->set = true;
	n->base = base;
	n->last = last;
	n->ts_ns = ts;
	kg_rec_u64(rec, len, "seq", &n->seq);
	kg_rec_str(rec, len, "node", n->node, sizeof(n->node));
	kg_rec_str(rec, len, "time", n->time, sizeof(n->time));
}

static void on_decision(struct trace *t, const char *rec, size_t len, __u32 node, __u64 ts)
{
	char s[256];
	struct dec d = {.node = node, .ts_ns = ts, .rule_id = -1, .corr = -1};
	__u64 v, count = 1;

	/* writes name produce decisions, reads consume ones: other operations never */
	if (!kg_rec_str(rec, len, "operation", s, sizeof(s)) ||
	    (strcmp(s, "produce") && strcmp(s, "consume")))
		return;
	/* a run's summary stands for `count` identical decisions (bpf/fold.h); 0: it only
	 * carries decisions past a budget, which it does not name */
	kg_rec_u64(rec, len, "count", &count);
	if (!count)
		return;
	t->decisions += count;
	kg_rec_u64(rec, len, "seq", &d.seq);
	if (kg_rec_str(rec, len, "verdict", s, sizeof(s)))
		d.verdict = intern(&t->names, s);
	if (kg_rec_str(rec, len, "rule", s, sizeof(s)))
		d.rule = intern(&t->names, s);
	if (kg_rec_str(rec, len, "policy_version", s, sizeof(s)))
		d.version = intern(&t->names, s);
	if (kg_rec_u64(rec, len, "version_id", &v))
		d.version_id = (__u32)v;
	if (kg_rec_u64(rec, len, "sample", &v))
		d.sample = (__u32)v;
	if (kg_rec_u64(rec, len, "api_key", &v))
		d.api_key = (__u16)v;
	d.rule_id = s64_field(rec, len, "rule_id", -1);
	d.corr = s64_field(rec, len, "correlation_id", -1);
	d.enforced = true;
	kg_rec_bool(rec, len, "enforced", &d.enforced);
	dec_add(t, &d);
}

static void on_write(struct trace *t, const char *rec, size_t len, bool by_name, __u64 ts)
{
	__u64 base, last, o = t->a->offset;
	bool acked = true;

	t->writes++;
	kg_rec_bool(rec, len, "acked", &acked);
	if (!acked || s64_field(rec, len, "error_code", 0) ||
	    !off_field(rec, len, "base_offset", &base) || !off_field(rec, len, "last_offset", &last)) {
		keep(&t->unplaced, rec, len);
		return;
	}
	if (base <= o && o <= last) {
		keep(&t->claims, rec, len);
		return;
	}
	/* the bracket for a write without offsets: only writes known to be T's */
	if (!by_name)
		return;
	if (last < o && (!t->below.set || last >= t->below.last))
		note_near(&t->below, rec, len, base, last, ts);
	if (base > o && (!t->above.set || base <= t->above.base))
		note_near(&t->above, rec, len, base, last, ts);
}

static void on_read(struct trace *t, const char *rec, size_t len)
{
	__u64 first, last, o = t->a->offset;

	t->readrecs++;
	if (s64_field(rec, len, "error_code", 0) || !off_field(rec, len, "first_offset", &first) ||
	    !off_field(rec, len, "last_offset", &last) || first > o || o > last)
		return;
	keep(&t->reads, rec, len);
}

static int on_record(void *ctx, const char *rec, size_t len)
{
	struct trace *t = ctx;
	char kind[16], node[TRACE_NODE_MAX], topic[KD_TOPIC_MAX + 1], tid[TRACE_UUID_LEN];
	struct node_seen *ns;
	bool has_topic, has_tid;
	__u64 ts = 0, part, v;

	t->records++;
	if (!kg_rec_str(rec, len, "kind", kind, sizeof(kind)) ||
	    !kg_rec_str(rec, len, "node", node, sizeof(node)) ||
	    !kg_rec_u64(rec, len, "ts_ns", &ts)) {
		t->unreadable++;
		return 0;
	}
	if (ts < t->since_ns) {
		t->older++;
		return 0;
	}
	if (!t->first_ns || ts < t->first_ns)
		t->first_ns = ts;
	if (ts > t->last_ns)
		t->last_ns = ts;
	ns = node_seen(t, node);
	ns->records++;
	if (!strcmp(kind, "gap")) {
		ns->gaps++;
		if (kg_rec_u64(rec, len, "lost_deny", &v))
			ns->lost_deny += v;
		if (kg_rec_u64(rec, len, "lost_allow", &v))
			ns->lost_allow += v;
		kg_rec_u64(rec, len, "after_seq", &ns->gap_after);
		kg_rec_u64(rec, len, "before_seq", &ns->gap_before);
		return 0;
	}
	has_topic = kg_rec_str(rec, len, "topic", topic, sizeof(topic));
	has_tid = kg_rec_str(rec, len, "topic_id", tid, sizeof(tid));
	if (has_topic && strcmp(topic, t->a->topic))
		return 0;
	if (has_topic && has_tid)
		learn_id(t, tid);
	/* a record naming its topic only by id may be T's: kept, sorted out at the end */
	if (!has_topic && !has_tid)
		return 0;
	if (!strcmp(kind, "topic")) {
		on_decision(t, rec, len, intern(&t->names, node), ts);
		return 0;
	}
	if ((strcmp(kind, "write") && strcmp(kind, "read")) ||
	    !kg_rec_u64(rec, len, "partition", &part) || part != t->a->partition)
		return 0;
	if (kind[0] == 'w')
		on_write(t, rec, len, has_topic, ts);
	else
		on_read(t, rec, len);
	return 0;
}

/* Drops the kept records that name their topic by an id that is not T's. */
static void sort_out_ids(struct trace *t, struct kept_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		char topic[KD_TOPIC_MAX + 1], tid[TRACE_UUID_LEN];
		bool mine = kg_rec_str(l->v[i].rec, l->v[i].len, "topic", topic, sizeof(topic));

		for (int k = 0; !mine && k < t->nids; k++)
			mine = kg_rec_str(l->v[i].rec, l->v[i].len, "topic_id", tid, sizeof(tid)) &&
			       !strcmp(tid, t->ids[k]);
		if (mine)
			l->v[n++] = l->v[i];
		else
			free(l->v[i].rec);
	}
	l->n = n;
}

/* ---- the answer's parts ---------------------------------------------------------------- */

/* The fields every write and read record shares with its decision. */
struct who {
	char node[TRACE_NODE_MAX], time[40], principal[KD_USER_MAX + 8], psrc[16], region[64],
		src_ip[48], dst_ip[48], client[KD_CLIENT_ID_MAX * 6 + 1], api[40], rule[64],
		version[128], topic_id[TRACE_UUID_LEN];
	bool region_null, client_null, rule_null, topic_id_null, has_dseq;
	__u64 seq, ts_ns, src_port, dst_port, api_version, version_id, api_key, dseq;
	__s64 corr, rule_id;
	const struct dec *d; /* the decision record it names, when it was read */
};

enum role {
	R_HOLDER,    /* the acked write whose range holds O (the newest such batch) */
	R_CLAIM,     /* an older acked batch that also claims O: an anomaly */
	R_DUPLICATE, /* a batch acked again (the same idempotent batch, the same offsets) */
	R_ATTEMPT,   /* a failed attempt of a claiming batch (same producer, epoch, sequence) */
	R_CANDIDATE, /* no acked write holds O: a write without offsets that may have */
	R_OTHER,     /* a write of T/P without offsets that bears on nothing here */
};

static const char *const role_names[] = {"holder", "earlier_claim", "duplicate", "attempt",
					 "candidate", "other"};

struct wr {
	struct who w;
	bool acked, placed, txn, has_lat, has_lso;
	__u64 base, last, count, bytes, batches, lat_ms, lso;
	__s64 error_code, pid, epoch, bseq;
	char error[64], codec[16];
	enum role role;
	int of; /* R_DUPLICATE, R_ATTEMPT: the claim (index in claims) it belongs to */
};

struct rd {
	struct who w;
	__u64 first, last, count, bytes, hw, sample;
	int claim; /* the claim it received (the newest before it), -1: none */
};

struct anomaly {
	const char *code;
	char *text;
};

struct answer {
	struct wr *claims, *unplaced;
	size_t nclaims, nunplaced;
	struct rd *reads;
	size_t nreads;
	int holder; /* index in claims, -1: no acked write holds O */
	size_t ndistinct;
	struct anomaly *anomalies, *notes;
	size_t nanomalies, nnotes;
};

static void say(struct anomaly **v, size_t *n, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct anomaly **v, size_t *n, const char *code, const char *fmt, ...)
{
	va_list ap;

	*v = kg_grow(*v, *n, sizeof(**v));
	if (!*v)
		abort();
	va_start(ap, fmt);
	if (vasprintf(&(*v)[*n].text, fmt, ap) < 0)
		abort();
	va_end(ap);
	(*v)[(*n)++].code = code;
}

static void str_or(const char *rec, size_t len, const char *k, char *out, size_t n, bool *null)
{
	bool got = kg_rec_str(rec, len, k, out, n);

	if (!got)
		out[0] = 0;
	if (null)
		*null = !got;
}

static void who_of(const struct trace *t, const char *rec, size_t len, struct who *w)
{
	__u32 node;

	memset(w, 0, sizeof(*w));
	str_or(rec, len, "node", w->node, sizeof(w->node), NULL);
	str_or(rec, len, "time", w->time, sizeof(w->time), NULL);
	str_or(rec, len, "principal", w->principal, sizeof(w->principal), NULL);
	str_or(rec, len, "principal_source", w->psrc, sizeof(w->psrc), NULL);
	str_or(rec, len, "region", w->region, sizeof(w->region), &w->region_null);
	str_or(rec, len, "src_ip", w->src_ip, sizeof(w->src_ip), NULL);
	str_or(rec, len, "dst_ip", w->dst_ip, sizeof(w->dst_ip), NULL);
	str_or(rec, len, "client_id", w->client, sizeof(w->client), &w->client_null);
	str_or(rec, len, "api_name", w->api, sizeof(w->api), NULL);
	str_or(rec, len, "rule", w->rule, sizeof(w->rule), &w->rule_null);
	str_or(rec, len, "policy_version", w->version, sizeof(w->version), NULL);
	str_or(rec, len, "topic_id", w->topic_id, sizeof(w->topic_id), &w->topic_id_null);
	kg_rec_u64(rec, len, "seq", &w->seq);
	kg_rec_u64(rec, len, "ts_ns", &w->ts_ns);
	kg_rec_u64(rec, len, "src_port", &w->src_port);
	kg_rec_u64(rec, len, "dst_port", &w->dst_port);
	kg_rec_u64(rec, len, "api_key", &w->api_key);
	kg_rec_u64(rec, len, "api_version", &w->api_version);
	kg_rec_u64(rec, len, "version_id", &w->version_id);
	w->corr = s64_field(rec, len, "correlation_id", -1);
	w->rule_id = s64_field(rec, len, "rule_id", -1);
	w->has_dseq = kg_rec_u64(rec, len, "decision_seq", &w->dseq);
	/* a node never interned while reading has no decisions either */
	node = pool_find(&t->names, w->node);
	w->d = w->has_dseq ? dec_find(t, node, w->dseq) : NULL;
}

static void wr_of(const struct trace *t, const struct kept *k, struct wr *x)
{
	const char *rec = k->rec;
	size_t len = k->len;

	memset(x, 0, sizeof(*x));
	who_of(t, rec, len, &x->w);
	x->acked = true;
	kg_rec_bool(rec, len, "acked", &x->acked);
	x->error_code = s64_field(rec, len, "error_code", 0);
	str_or(rec, len, "error", x->error, sizeof(x->error), NULL);
	x->placed = x->acked && !x->error_code && off_field(rec, len, "base_offset", &x->base) &&
		    off_field(rec, len, "last_offset", &x->last);
	kg_rec_u64(rec, len, "record_count", &x->count);
	kg_rec_u64(rec, len, "batch_bytes", &x->bytes);
	kg_rec_u64(rec, len, "batches", &x->batches);
	str_or(rec, len, "compression", x->codec, sizeof(x->codec), NULL);
	/* -1: not an idempotent producer (also what an absent field means) */
	x->pid = s64_field(rec, len, "producer_id", -1);
	x->epoch = s64_field(rec, len, "producer_epoch", -1);
	x->bseq = s64_field(rec, len, "base_sequence", -1);
	kg_rec_bool(rec, len, "transactional", &x->txn);
	x->has_lat = kg_rec_u64(rec, len, "log_append_time_ms", &x->lat_ms);
	x->has_lso = kg_rec_u64(rec, len, "log_start_offset", &x->lso);
	x->role = R_OTHER;
	x->of = -1;
}

static void rd_of(const struct trace *t, const struct kept *k, struct rd *x)
{
	memset(x, 0, sizeof(*x));
	who_of(t, k->rec, k->len, &x->w);
	off_field(k->rec, k->len, "first_offset", &x->first);
	off_field(k->rec, k->len, "last_offset", &x->last);
	kg_rec_u64(k->rec, k->len, "record_count", &x->count);
	kg_rec_u64(k->rec, k->len, "bytes", &x->bytes);
	kg_rec_u64(k->rec, k->len, "high_watermark", &x->hw);
	if (!kg_rec_u64(k->rec, k->len, "sample", &x->sample) || !x->sample)
		x->sample = 1;
	x->claim = -1;
}

static int by_time(const struct who *a, const struct who *b)
{
	return kg_records_order(a->ts_ns, a->node, a->seq, b->ts_ns, b->node, b->seq);
}

static int wr_cmp(const void *a, const void *b)
{
	return by_time(&((const struct wr *)a)->w, &((const struct wr *)b)->w);
}

static int rd_cmp(const void *a, const void *b)
{
	return by_time(&((const struct rd *)a)->w, &((const struct rd *)b)->w);
}

/*
 * Drops the repeats of a record (a dump of the topic may hold one twice: a producer's
 * retry): arr holds n elements of size bytes, each starting with its struct who, sorted by
 * time, node and seq, so that copies stand next to each other. Returns the count left.
 */
static size_t drop_repeats(void *arr, size_t n, size_t size)
{
	char *a = arr;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct who *w = (const void *)(a + i * size);
		const struct who *prev = k ? (const void *)(a + (k - 1) * size) : NULL;

		if (prev && prev->seq == w->seq && !strcmp(prev->node, w->node))
			continue;
		if (k != i)
			memcpy(a + k * size, a + i * size, size);
		k++;
	}
	return k;
}

_Static_assert(offsetof(struct wr, w) == 0 && offsetof(struct rd, w) == 0,
	       "drop_repeats reads the record's struct who at the start of each element");

/* One idempotent batch: the same producer, epoch and first sequence. */
static bool same_producer_batch(const struct wr *a, const struct wr *b)
{
	return a->pid >= 0 && a->pid == b->pid && a->epoch == b->epoch && a->bseq == b->bseq;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static const char *verdict_of(const struct trace *t, const struct dec *d)
{
	return str_of(&t->names, d->verdict) ? str_of(&t->names, d->verdict) : "?";
}

/* The decision a write or read names, checked against the record: anomalies when the link
 * does not hold. what: "write" or "read". */
static void check_link(const struct trace *t, struct answer *an, const struct who *w,
		       const char *what, bool acked_write)
{
	const struct dec *d = w->d;

	if (!d)
		return;
	if (d->api_key != w->api_key || d->version_id != w->version_id || d->rule_id != w->rule_id)
		say(&an->anomalies, &an->nanomalies, "decision_mismatch",
		    "the %s record %s #%llu names decision record #%llu, which is another "
		    "request's (api key %u, version id %u, rule id %lld; the %s says %llu, %llu, "
		    "%lld)",
		    what, w->node, (unsigned long long)w->seq, (unsigned long long)w->dseq,
		    d->api_key, d->version_id, (long long)d->rule_id, what,
		    (unsigned long long)w->api_key, (unsigned long long)w->version_id,
		    (long long)w->rule_id);
	if (!strcmp(verdict_of(t, d), "allow"))
		return;
	if (d->enforced && acked_write)
		say(&an->anomalies, &an->nanomalies, "acked_under_deny",
		    "the broker acked the write %s #%llu although its decision #%llu was an enforced "
		    "%s: the request reached the broker",
		    w->node, (unsigned long long)w->seq, (unsigned long long)w->dseq,
		    verdict_of(t, d));
	else if (!d->enforced)
		say(&an->notes, &an->nnotes, "not_enforced",
		    "the %s %s #%llu went through under a %s that was not enforced (monitor mode, "
		    "a pause, or an audit: true rule): decision #%llu",
		    what, w->node, (unsigned long long)w->seq, verdict_of(t, d),
		    (unsigned long long)w->dseq);
}

/* Which write is which (the roles), and what is odd. */
static void analyse(struct trace *t, struct answer *an)
{
	const __u64 o = t->a->offset;
	int last_distinct = -1;

	an->holder = -1;
	an->nclaims = t->claims.n;
	an->claims = calloc(an->nclaims + 1, sizeof(*an->claims));
	an->nunplaced = t->unplaced.n;
	an->unplaced = calloc(an->nunplaced + 1, sizeof(*an->unplaced));
	an->nreads = t->reads.n;
	an->reads = calloc(an->nreads + 1, sizeof(*an->reads));
	if (!an->claims || !an->unplaced || !an->reads)
		abort();
	for (size_t i = 0; i < an->nclaims; i++)
		wr_of(t, &t->claims.v[i], &an->claims[i]);
	for (size_t i = 0; i < an->nunplaced; i++)
		wr_of(t, &t->unplaced.v[i], &an->unplaced[i]);
	for (size_t i = 0; i < an->nreads; i++)
		rd_of(t, &t->reads.v[i], &an->reads[i]);
	qsort(an->claims, an->nclaims, sizeof(*an->claims), wr_cmp);
	qsort(an->unplaced, an->nunplaced, sizeof(*an->unplaced), wr_cmp);
	qsort(an->reads, an->nreads, sizeof(*an->reads), rd_cmp);
	an->nclaims = drop_repeats(an->claims, an->nclaims, sizeof(*an->claims));
	an->nunplaced = drop_repeats(an->unplaced, an->nunplaced, sizeof(*an->unplaced));
	an->nreads = drop_repeats(an->reads, an->nreads, sizeof(*an->reads));

	/* the claims: a batch acked again is a duplicate of its first ack; the newest
	 * distinct batch holds O now, older distinct ones were replaced */
	for (size_t i = 0; i < an->nclaims; i++) {
		struct wr *c = &an->claims[i];

		c->role = R_CLAIM;
		for (size_t j = 0; j < i; j++)
			if (an->claims[j].role != R_DUPLICATE && same_producer_batch(c, &an->claims[j]) &&
			    c->base == an->claims[j].base && c->last == an->claims[j].last) {
				c->role = R_DUPLICATE;
				c->of = (int)j;
				break;
			}
		if (c->role == R_CLAIM) {
			an->ndistinct++;
			last_distinct = (int)i;
		}
		check_link(t, an, &c->w, "write", true);
	}
	if (last_distinct >= 0) {
		an->holder = last_distinct;
		an->claims[last_distinct].role = R_HOLDER;
	}
	for (size_t i = 0; an->ndistinct > 1 && i < an->nclaims; i++) {
		const struct wr *c = &an->claims[i], *h = &an->claims[an->holder];
		/* under two topic ids the topic was created again, else the log was cut */
		bool again = !c->w.topic_id_null && !h->w.topic_id_null &&
			     strcmp(c->w.topic_id, h->w.topic_id);
		char cw[64], hw[64];

		if (c->role != R_CLAIM)
			continue;
		snprintf(cw, sizeof(cw), "%s", again ? c->w.topic_id : c->w.time);
		snprintf(hw, sizeof(hw), "%s", again ? h->w.topic_id : h->w.time);
		say(&an->anomalies, &an->nanomalies, again ? "topic_recreated" : "two_acked_writes",
		    "two acked writes claim offset %llu: %s #%llu (%llu..%llu, %s%s) and %s #%llu "
		    "(%llu..%llu, %s%s): %s",
		    (unsigned long long)o, c->w.node, (unsigned long long)c->w.seq,
		    (unsigned long long)c->base, (unsigned long long)c->last,
		    again ? "topic id " : "", cw, h->w.node, (unsigned long long)h->w.seq,
		    (unsigned long long)h->base, (unsigned long long)h->last,
		    again ? "topic id " : "", hw,
		    again ? "the topic was deleted and created again, and the offset exists once "
			    "in each"
			  : "the log was truncated after a leader change and the offset given "
			    "again (the newer holds it now), or two clusters share the topic's "
			    "name");
	}

	/* writes without offsets: attempts of a claiming batch, or (no claim) candidates
	 * between the acked writes just below and just above O */
	for (size_t i = 0; i < an->nunplaced; i++) {
		struct wr *u = &an->unplaced[i];

		for (size_t j = 0; j < an->nclaims && u->role == R_OTHER; j++)
			if (an->claims[j].role != R_DUPLICATE && same_producer_batch(u, &an->claims[j])) {
				u->role = R_ATTEMPT;
				u->of = (int)j;
			}
		if (u->role == R_OTHER && an->holder < 0 &&
		    (!t->below.set || u->w.ts_ns >= t->below.ts_ns) &&
		    (!t->above.set || u->w.ts_ns <= t->above.ts_ns) &&
		    (!u->error_code || in_list(maybe_appended, u->error)))
			u->role = R_CANDIDATE;
		if (u->role != R_OTHER)
			check_link(t, an, &u->w, "write", false);
	}

	/* each read received the newest claim before it */
	for (size_t i = 0; i < an->nreads; i++) {
		struct rd *r = &an->reads[i];

		for (size_t j = 0; j < an->nclaims; j++)
			if (an->claims[j].role != R_DUPLICATE && an->claims[j].w.ts_ns <= r->w.ts_ns)
				r->claim = (int)j;
		if (r->claim < 0 && an->ndistinct)
			say(&an->anomalies, &an->nanomalies, "read_before_write",
			    "the read %s #%llu (%s) holds offset %llu but comes before every write "
			    "that claims it: the nodes' clocks differ, or it read data a later write "
			    "replaced",
			    r->w.node, (unsigned long long)r->w.seq, r->w.time, (unsigned long long)o);
		check_link(t, an, &r->w, "read", false);
	}
}

/* What the answer cannot see, and why. */
static void notes(struct trace *t, struct answer *an)
{
	const struct trace_args *a = t->a;

	for (size_t i = 0; i < t->nnodes; i++) {
		const struct node_seen *n = &t->nodes[i];

		if (n->gaps)
			say(&an->notes, &an->nnotes, "gap",
			    "%s lost %llu allow and %llu deny events (%llu gap record%s, the last "
			    "between records #%llu and #%llu): a write or read of this offset may be "
			    "among them",
			    str_of(&t->names, n->name), (unsigned long long)n->lost_allow,
			    (unsigned long long)n->lost_deny, (unsigned long long)n->gaps,
			    n->gaps == 1 ? "" : "s", (unsigned long long)n->gap_after,
			    (unsigned long long)n->gap_before);
	}
	for (size_t i = 0; i < an->nreads; i++) {
		struct node_seen *n = node_seen(t, an->reads[i].w.node);

		if (an->reads[i].sample > n->read_sample)
			n->read_sample = an->reads[i].sample;
	}
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct node_seen *n = &t->nodes[i];

		if (n->read_sample > 1)
			say(&an->notes, &an->nnotes, "reads_sampled",
			    "%s records reads 1 in %llu (audit.reads): other reads of this offset "
			    "there may not be recorded; each read recorded stands for about %llu",
			    str_of(&t->names, n->name), (unsigned long long)n->read_sample,
			    (unsigned long long)n->read_sample);
	}
	if (an->holder < 0)
		say(&an->notes, &an->nnotes, "no_write",
		    "no acked write record holds offset %lu of %s [%lu]: it was written by a write "
		    "without offsets (acks=0, or an error after which the broker may still have "
		    "appended), before the records read%s, during a gap, or not through kgate",
		    a->offset, a->topic, a->partition, a->since ? " (--since)" : "");
	if (t->decs_over)
		say(&an->notes, &an->nnotes, "decisions_not_kept",
		    "%llu decisions of %s were not kept (more than %d): writes and reads naming "
		    "them are reported from their own fields (--since narrows the window)",
		    (unsigned long long)t->decs_over, a->topic, TRACE_DECISIONS_MAX);
	if (t->claims.over + t->unplaced.over + t->reads.over)
		say(&an->notes, &an->nnotes, "records_not_kept",
		    "not kept: %llu acked writes holding the offset (more than %d), %llu writes "
		    "without offsets (more than %d), %llu reads (more than %d): --since narrows "
		    "the window",
		    (unsigned long long)t->claims.over, TRACE_CLAIMS_MAX,
		    (unsigned long long)t->unplaced.over, TRACE_UNPLACED_MAX,
		    (unsigned long long)t->reads.over, TRACE_READS_MAX);
	if (t->ids_over)
		say(&an->notes, &an->nnotes, "topic_ids_not_kept",
		    "%s had more than %d topic ids: records naming it only by a later id were not "
		    "matched",
		    a->topic, TRACE_TOPIC_IDS);
	if (t->unreadable)
		say(&an->notes, &an->nnotes, "unreadable",
		    "%llu records had no kind, node or time and were skipped",
		    (unsigned long long)t->unreadable);
}

/* ---- text ------------------------------------------------------------------------------ */

/* The width paragraphs of the text answer (notes, anomalies, other writes) wrap at. */
#define TEXT_WIDTH 100
/* The readers' table: a line within 120 columns after its two-column indent. */
#define READERS_WIDTH 118

static const char *or_dash(const char *s, bool null)
{
	return null || !*s ? "-" : s;
}

/* "ANONYMOUS", "billing-svc (identity)" */
static void who_text(const struct who *w, char *out, size_t n)
{
	if (strcmp(w->psrc, "anonymous") && *w->psrc)
		snprintf(out, n, "%s (%s)", w->principal, w->psrc);
	else
		snprintf(out, n, "%s", w->principal);
}

static void addr_text(const char *ip, __u64 port, char *out, size_t n)
{
	bool v6 = strchr(ip, ':') != NULL;

	snprintf(out, n, "%s%s%s:%llu", v6 ? "[" : "", ip, v6 ? "]" : "", (unsigned long long)port);
}

/* A record's time to the ms: "2026-12-07T19:00:00.305Z". */
static void ms_time(const char *time, char *out, size_t n)
{
	if (strlen(time) == 30)
		snprintf(out, n, "%.23sZ", time);
	else
		snprintf(out, n, "%s", time);
}

/* text, printed from column col on, wrapped at TEXT_WIDTH; later lines start at indent. */
static void print_wrapped(const char *text, int col, int indent)
{
	bool first = true;

	for (;;) {
		size_t w;

		while (*text == ' ')
			text++;
		if (!*text)
			break;
		w = strcspn(text, " ");
		if (!first && col + 1 + (int)w > TEXT_WIDTH) {
			printf("\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			putchar(' ');
			col++;
		}
		fwrite(text, 1, w, stdout);
		col += (int)w;
		text += w;
		first = false;
	}
	putchar('\n');
}

static void print_who(const struct who *w)
{
	char p[KD_USER_MAX + 32], src[80], dst[80];

	who_text(w, p, sizeof(p));
	addr_text(w->src_ip, w->src_port, src, sizeof(src));
	addr_text(w->dst_ip, w->dst_port, dst, sizeof(dst));
	printf(LABEL "%s, region %s, from %s to %s, client.id %s\n", "by", p,
	       or_dash(w->region, w->region_null), src, dst, or_dash(w->client, w->client_null));
	printf(LABEL "%s v%llu, correlation id %lld\n", "request", w->api,
	       (unsigned long long)w->api_version, (long long)w->corr);
}

static void rule_text(const struct who *w, char *out, size_t n)
{
	if (w->rule_null)
		snprintf(out, n, "the default action (no rule matched)");
	else
		snprintf(out, n, "rule %s (id %lld)", w->rule, (long long)w->rule_id);
}

/* The rule and policy version a write was decided under, and where they come from. */
static void print_decided(const struct trace *t, const struct who *w)
{
	char when[40], rule[96];
	const struct dec *d = w->d;

	rule_text(w, rule, sizeof(rule));
	if (d) {
		kg_time_text(d->ts_ns, when, sizeof(when));
		printf(LABEL "%s, %s, by %s, policy \"%s\" (version id %llu)\n", "decided",
		       verdict_of(t, d), d->enforced ? "enforced" : "not enforced", rule, w->version,
		       (unsigned long long)w->version_id);
		printf(LABEL "decision record #%llu of %s, %s\n", "", (unsigned long long)w->dseq,
		       w->node, when);
	} else if (!w->has_dseq) {
		printf(LABEL "allow, by %s, policy \"%s\" (version id %llu)\n", "decided", rule,
		       w->version, (unsigned long long)w->version_id);
		printf(LABEL "its decision was not recorded (an allow sampled out by audit.allow):\n"
			     "%12sthe rule and version are the write record's own\n", "", "");
	} else {
		printf(LABEL "by %s, policy \"%s\" (version id %llu)\n", "decided", rule, w->version,
		       (unsigned long long)w->version_id);
		printf(LABEL "decision record #%llu of %s is not among the records read: the rule\n"
			     "%12sand version are the write record's own\n", "",
		       (unsigned long long)w->dseq, w->node, "");
	}
}

static void print_batch(const struct wr *x)
{
	printf(LABEL "%llu record%s in %llu batch%s, %llu bytes, %s%s", "batch",
	       (unsigned long long)x->count, x->count == 1 ? "" : "s",
	       (unsigned long long)x->batches, x->batches == 1 ? "" : "es",
	       (unsigned long long)x->bytes, x->codec, x->txn ? ", transactional" : "");
	if (x->pid >= 0)
		printf("; producer id %lld, epoch %lld, base sequence %lld\n", (long long)x->pid,
		       (long long)x->epoch, (long long)x->bseq);
	else
		printf("; not an idempotent producer\n");
}

/* One write as a paragraph: when, where, what the broker said, who, how it was decided. */
static void write_line(const struct trace *t, const struct answer *an, const struct wr *x)
{
	char p[KD_USER_MAX + 32], src[80], time[40], rule[96];
	struct kg_buf b = {0};

	who_text(&x->w, p, sizeof(p));
	addr_text(x->w.src_ip, x->w.src_port, src, sizeof(src));
	ms_time(x->w.time, time, sizeof(time));
	rule_text(&x->w, rule, sizeof(rule));
	kg_buf_printf(&b, "%s %s #%llu: ", time, x->w.node, (unsigned long long)x->w.seq);
	if (x->placed)
		kg_buf_printf(&b, "offsets %llu..%llu", (unsigned long long)x->base,
			      (unsigned long long)x->last);
	else if (!x->acked)
		kg_buf_printf(&b, "acks=0 (no answer, no offsets)");
	else
		kg_buf_printf(&b, "failed, %s (%lld)", x->error, (long long)x->error_code);
	kg_buf_printf(&b, ", %llu record%s", (unsigned long long)x->count, x->count == 1 ? "" : "s");
	if (x->pid >= 0)
		kg_buf_printf(&b, ", producer %lld epoch %lld sequence %lld", (long long)x->pid,
			      (long long)x->epoch, (long long)x->bseq);
	if (x->role == R_ATTEMPT || x->role == R_DUPLICATE)
		kg_buf_printf(&b, " (%s of the batch of #%llu)",
			      x->role == R_ATTEMPT ? "an attempt" : "acked again",
			      (unsigned long long)an->claims[x->of].w.seq);
	if (x->role == R_CLAIM)
		kg_buf_printf(&b, " (an earlier acked write of this offset: see anomalies)");
	if (x->error_code && in_list(maybe_appended, x->error))
		kg_buf_printf(&b, " (the broker may have appended it before the error)");
	kg_buf_printf(&b, "; %s from %s, client.id %s; ", p, src,
		      or_dash(x->w.client, x->w.client_null));
	if (x->w.d)
		kg_buf_printf(&b, "%s%s by %s, policy \"%s\" (decision #%llu)", verdict_of(t, x->w.d),
			      x->w.d->enforced ? "" : " (not enforced)", rule, x->w.version,
			      (unsigned long long)x->w.dseq);
	else
		kg_buf_printf(&b, "%s%s, policy \"%s\" (decision %s)", x->w.has_dseq ? "" : "allow by ",
			      rule, x->w.version, x->w.has_dseq ? "not read" : "sampled out");
	kg_buf_add(&b, "", 1);
	printf("    ");
	print_wrapped(b.p, 4, 6);
	kg_buf_free(&b);
}

static void print_readers(const struct trace *t, const struct answer *an)
{
	/* the address is in -o json: a reader is its principal and client.id */
	enum { T_TIME, T_NODE, T_WHO, T_REGION, T_CLIENT, T_OFFSETS, T_SAMPLE, T_RULE, T_DECISION,
	       T_WROTE, T__COUNT };
	/* floors: what a cell may be cut to when the line would pass READERS_WIDTH */
	struct kg_col cols[T__COUNT] = {
		{.head = "TIME"},
		{.head = "NODE", .min = 8},
		{.head = "PRINCIPAL", .min = 14},
		{.head = "REGION", .min = 6},
		{.head = "CLIENT-ID", .min = 8},
		{.head = "OFFSETS"},
		{.head = "SAMPLE"},
		{.head = "RULE", .min = 10},
		{.head = "DECISION"},
		{.head = "WRITE", .min = 12},
	};
	struct kg_table tb;
	size_t readers = 0;
	bool one_day = true; /* every read on the first one's date: times without it */

	for (size_t i = 0; i < an->nreads; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(an->reads[i].w.principal, an->reads[j].w.principal) &&
			       !strcmp(an->reads[i].w.client, an->reads[j].w.client);
		readers += !seen;
		one_day &= !strncmp(an->reads[i].w.time, an->reads[0].w.time, 11);
	}
	if (!an->nreads) {
		printf("readers   none recorded\n");
		return;
	}
	printf("readers   %zu read%s of offset %lu, by %zu reader%s (principal and client.id)", an->nreads,
	       an->nreads == 1 ? "" : "s", t->a->offset, readers, readers == 1 ? "" : "s");
	printf(one_day ? ", on %.10s (UTC)\n" : "\n", an->reads[0].w.time);
	/* which write a read received is a column only when two writes claim the offset */
	kg_table_init(&tb, cols, an->ndistinct > 1 ? T__COUNT : T_WROTE, READERS_WIDTH);
	for (size_t i = 0; i < an->nreads; i++) {
		const struct rd *r = &an->reads[i];
		char time[40], who[KD_USER_MAX + 32], offs[48], sample[24], dec[32],
			wrote[TRACE_NODE_MAX + 24], **cells = calloc(T__COUNT, sizeof(char *));

		if (!cells)
			abort();
		ms_time(r->w.time, time, sizeof(time));
		/* as observe shows a principal: its source attached, when it has one */
		if (strcmp(r->w.psrc, "anonymous") && *r->w.psrc)
			snprintf(who, sizeof(who), "%s(%s)", r->w.principal, r->w.psrc);
		else
			snprintf(who, sizeof(who), "%s", r->w.principal);
		snprintf(offs, sizeof(offs), "%llu..%llu", (unsigned long long)r->first,
			 (unsigned long long)r->last);
		snprintf(sample, sizeof(sample), r->sample > 1 ? "1 in %llu" : "all",
			 (unsigned long long)r->sample);
		if (r->w.d)
			snprintf(dec, sizeof(dec), "#%llu %s", (unsigned long long)r->w.dseq,
				 verdict_of(t, r->w.d));
		else if (r->w.has_dseq)
			snprintf(dec, sizeof(dec), "#%llu not read", (unsigned long long)r->w.dseq);
		else
			snprintf(dec, sizeof(dec), "sampled out");
		if (r->claim >= 0)
			snprintf(wrote, sizeof(wrote), "%s #%llu", an->claims[r->claim].w.node,
				 (unsigned long long)an->claims[r->claim].w.seq);
		else
			snprintf(wrote, sizeof(wrote), "-");
		cells[T_TIME] = kg_table_cell(one_day ? time + 11 : time);
		cells[T_NODE] = kg_table_cell(r->w.node);
		cells[T_WHO] = kg_table_cell(who);
		cells[T_REGION] = kg_table_cell(or_dash(r->w.region, r->w.region_null));
		cells[T_CLIENT] = kg_table_cell(or_dash(r->w.client, r->w.client_null));
		cells[T_OFFSETS] = kg_table_cell(offs);
		cells[T_SAMPLE] = kg_table_cell(sample);
		cells[T_RULE] = kg_table_cell(r->w.rule_null ? "default" : r->w.rule);
		cells[T_DECISION] = kg_table_cell(dec);
		if (an->ndistinct > 1)
			cells[T_WROTE] = kg_table_cell(wrote);
		kg_table_add(&tb, cells, NULL);
	}
	kg_table_fit(&tb);
	printf("  ");
	kg_table_print_header(&tb, stdout);
	for (size_t i = 0; i < tb.nrows; i++) {
		printf("  ");
		kg_table_print(&tb, tb.rows[i].cells, NULL, stdout);
	}
	tb.nrows = 0; /* printed and freed: what kg_table_flush does, with the indent */
	kg_table_free(&tb);
}

static void print_says(const char *title, const struct anomaly *v, size_t n, bool codes)
{
	if (!n)
		return;
	printf("%s\n", title);
	for (size_t i = 0; i < n; i++) {
		char *s = NULL;

		if (asprintf(&s, codes ? "%s [%s]" : "%s", v[i].text, v[i].code) < 0)
			abort();
		printf("  ");
		print_wrapped(s, 2, 4);
		free(s);
	}
}

static void print_source(const struct trace *t)
{
	const struct trace_args *a = t->a;
	char since[40], first[40], last[40];

	printf("records   %llu read from ", (unsigned long long)t->records);
	if (a->from.file)
		printf("%s", strcmp(a->from.file, "-") ? a->from.file : "stdin");
	else
		printf("%s on %s", a->from.topic, a->from.brokers);
	if (!a->since) {
		printf(", %s (no --since)\n",
		       a->from.file ? "the whole file" : "every partition from its start");
	} else {
		kg_time_text(t->since_ns, since, sizeof(since));
		printf(", those at or after %s (--since)\n", since);
		if (!a->from.file)
			printf(LABEL "each partition from there, looked up by time where the "
				     "cluster can\n", "");
		if (t->older)
			printf(LABEL "%llu older record%s read and skipped%s\n", "",
			       (unsigned long long)t->older, t->older == 1 ? "" : "s",
			       a->from.file ? "" : " (the cluster did not look them up by time)");
	}
	if (t->first_ns) {
		kg_time_text(t->first_ns, first, sizeof(first));
		kg_time_text(t->last_ns, last, sizeof(last));
		printf(LABEL "%zu node%s, %s to %s\n", "", t->nnodes, t->nnodes == 1 ? "" : "s",
		       first, last);
	}
}

/* An acked write next to O ("the write of 10..14 (time, node #seq)"), or what stands for
 * it when there is none. */
static void print_near(const char *label, const struct near *n, const char *none)
{
	char when[40];

	if (!n->set) {
		printf("%s%s\n", label, none);
		return;
	}
	ms_time(n->time, when, sizeof(when));
	printf("%sthe write of %llu..%llu (%s, %s #%llu)\n", label, (unsigned long long)n->base,
	       (unsigned long long)n->last, when, n->node, (unsigned long long)n->seq);
}

static void print_text(struct trace *t, const struct answer *an)
{
	const struct trace_args *a = t->a;
	size_t n = 0;

	printf("%s [%lu] offset %lu: ", a->topic, a->partition, a->offset);
	if (an->holder >= 0) {
		const struct wr *h = &an->claims[an->holder];
		char p[KD_USER_MAX + 32], src[80];

		who_text(&h->w, p, sizeof(p));
		addr_text(h->w.src_ip, h->w.src_port, src, sizeof(src));
		printf("written by %s from %s (client.id %s) through %s\n\n", p, src,
		       or_dash(h->w.client, h->w.client_null), h->w.node);
		printf("write     %s on %s, record #%llu\n", h->w.time, h->w.node,
		       (unsigned long long)h->w.seq);
		print_who(&h->w);
		printf(LABEL "offsets %llu..%llu (the broker's answer)", "holds",
		       (unsigned long long)h->base, (unsigned long long)h->last);
		if (h->has_lat)
			printf(", log append time %llu ms", (unsigned long long)h->lat_ms);
		printf("\n");
		print_batch(h);
		print_decided(t, &h->w);
	} else {
		printf("no acked write record holds it\n\n");
		if (t->below.set || t->above.set) {
			print_near("between   ", &t->below, "the first record read");
			print_near("  and     ", &t->above, "the last record read");
		}
		for (size_t i = 0; i < an->nunplaced; i++)
			n += an->unplaced[i].role == R_CANDIDATE;
		if (n)
			printf("maybe     %zu write%s without offsets%s\n", n, n == 1 ? "" : "s",
			       t->below.set || t->above.set ? " in between" : "");
		else
			printf("maybe     no write without offsets%s\n",
			       t->below.set || t->above.set ? " in between" : "");
		for (size_t i = 0; i < an->nunplaced; i++)
			if (an->unplaced[i].role == R_CANDIDATE)
				write_line(t, an, &an->unplaced[i]);
	}
	n = 0;
	for (size_t i = 0; i < an->nclaims; i++)
		n += (int)i != an->holder;
	for (size_t i = 0; i < an->nunplaced; i++)
		n += an->unplaced[i].role == R_ATTEMPT;
	if (n) {
		printf("also      %zu other write%s of offset %lu\n", n, n == 1 ? "" : "s", a->offset);
		for (size_t i = 0; i < an->nclaims; i++)
			if ((int)i != an->holder)
				write_line(t, an, &an->claims[i]);
		for (size_t i = 0; i < an->nunplaced; i++)
			if (an->unplaced[i].role == R_ATTEMPT)
				write_line(t, an, &an->unplaced[i]);
	}
	print_readers(t, an);
	print_says("anomalies", an->anomalies, an->nanomalies, true);
	print_says("notes", an->notes, an->nnotes, false);
	print_source(t);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void jkey(const char *k)
{
	printf(",\"%s\":", k);
}

static void jstr(const char *k, const char *v)
{
	jkey(k);
	kg_json_fput(stdout, v);
}

static void jnum(const char *k, long long v)
{
	printf(",\"%s\":%lld", k, v);
}

static void jopt(const char *k, bool has, unsigned long long v)
{
	jkey(k);
	if (has)
		printf("%llu", v);
	else
		printf("null");
}

static void json_who(const struct trace *t, const struct who *w, const char *what)
{
	const struct dec *d = w->d;
	char when[40];

	jstr("principal", w->principal);
	jstr("principal_source", w->psrc);
	jstr("region", w->region_null ? NULL : w->region);
	jstr("src_ip", w->src_ip);
	jnum("src_port", (long long)w->src_port);
	jstr("dst_ip", w->dst_ip);
	jnum("dst_port", (long long)w->dst_port);
	jstr("client_id", w->client_null ? NULL : w->client);
	jstr("api_name", w->api);
	jnum("api_version", (long long)w->api_version);
	jnum("correlation_id", w->corr);
	jstr("topic_id", w->topic_id_null ? NULL : w->topic_id);
	/* the rule and policy version, and where they come from */
	printf(",\"decision\":{\"seq\":");
	if (w->has_dseq)
		printf("%llu", (unsigned long long)w->dseq);
	else
		printf("null");
	printf(",\"recorded\":%s,\"found\":%s", w->has_dseq ? "true" : "false",
	       d ? "true" : "false");
	jstr("verdict", d ? verdict_of(t, d) : w->has_dseq ? NULL : "allow");
	jkey("enforced");
	printf("%s", d ? (d->enforced ? "true" : "false") : "null");
	jopt("sample", d && d->sample, d ? d->sample : 0);
	if (d)
		kg_time_text(d->ts_ns, when, sizeof(when));
	jstr("time", d ? when : NULL);
	jstr("rule", w->rule_null ? NULL : w->rule);
	jopt("rule_id", w->rule_id >= 0, (unsigned long long)w->rule_id);
	jstr("policy_version", w->version);
	jnum("version_id", (long long)w->version_id);
	jstr("from", d ? "decision record" : what);
	printf("}");
}

/* {"node":..,"seq":..} of a write, or null */
static void json_ref(const char *k, const struct wr *x)
{
	jkey(k);
	if (!x) {
		printf("null");
		return;
	}
	printf("{\"node\":");
	kg_json_fput(stdout, x->w.node);
	printf(",\"seq\":%llu}", (unsigned long long)x->w.seq);
}

/* What opens a write's or read's object: the record it is. */
static void json_head(const struct who *w)
{
	printf("{\"node\":");
	kg_json_fput(stdout, w->node);
	jnum("seq", (long long)w->seq);
	jstr("time", w->time);
}

static void json_write(const struct trace *t, const struct answer *an, const struct wr *x)
{
	json_head(&x->w);
	jstr("role", role_names[x->role]);
	json_ref("of", x->of >= 0 ? &an->claims[x->of] : NULL);
	printf(",\"acked\":%s", x->acked ? "true" : "false");
	jnum("error_code", x->error_code);
	jstr("error", x->error);
	jopt("base_offset", x->placed, x->base);
	jopt("last_offset", x->placed, x->last);
	jnum("record_count", (long long)x->count);
	jnum("batch_bytes", (long long)x->bytes);
	jnum("batches", (long long)x->batches);
	jstr("compression", x->codec);
	jnum("producer_id", x->pid);
	jnum("producer_epoch", x->epoch);
	jnum("base_sequence", x->bseq);
	printf(",\"transactional\":%s", x->txn ? "true" : "false");
	jopt("log_append_time_ms", x->has_lat, x->lat_ms);
	jopt("log_start_offset", x->has_lso, x->lso);
	jkey("may_have_appended");
	printf("%s", x->error_code && in_list(maybe_appended, x->error) ? "true" : "false");
	json_who(t, &x->w, "write record");
	printf("}");
}

static void json_read(const struct trace *t, const struct answer *an, const struct rd *r)
{
	json_head(&r->w);
	jnum("first_offset", (long long)r->first);
	jnum("last_offset", (long long)r->last);
	jnum("record_count", (long long)r->count);
	jnum("bytes", (long long)r->bytes);
	jnum("high_watermark", (long long)r->hw);
	jnum("sample", (long long)r->sample);
	json_ref("received", r->claim >= 0 ? &an->claims[r->claim] : NULL);
	json_who(t, &r->w, "read record");
	printf("}");
}

static void json_says(const char *k, const struct anomaly *v, size_t n)
{
	jkey(k);
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"code\":\"%s\",\"message\":", i ? "," : "", v[i].code);
		kg_json_fput(stdout, v[i].text);
		printf("}");
	}
	printf("]");
}

static void json_near(const char *k, const struct near *n)
{
	jkey(k);
	if (!n->set) {
		printf("null");
		return;
	}
	printf("{\"node\":");
	kg_json_fput(stdout, n->node);
	printf(",\"seq\":%llu,\"time\":\"%s\",\"base_offset\":%llu,\"last_offset\":%llu}",
	       (unsigned long long)n->seq, n->time, (unsigned long long)n->base,
	       (unsigned long long)n->last);
}

static void print_json(const struct trace *t, const struct answer *an)
{
	const struct trace_args *a = t->a;
	char tm[40];
	bool first = true;

	printf("{\"topic\":");
	kg_json_fput(stdout, a->topic);
	printf(",\"partition\":%lu,\"offset\":%lu,\"found\":%s", a->partition, a->offset,
	       an->holder >= 0 ? "true" : "false");
	jkey("writer");
	if (an->holder >= 0)
		json_write(t, an, &an->claims[an->holder]);
	else
		printf("null");
	jkey("writes");
	printf("[");
	for (size_t i = 0; i < an->nclaims; i++) {
		printf("%s", first ? "" : ",");
		json_write(t, an, &an->claims[i]);
		first = false;
	}
	for (size_t i = 0; i < an->nunplaced; i++)
		if (an->unplaced[i].role != R_OTHER) {
			printf("%s", first ? "" : ",");
			json_write(t, an, &an->unplaced[i]);
			first = false;
		}
	printf("]");
	json_near("acked_below", &t->below);
	json_near("acked_above", &t->above);
	jkey("readers");
	printf("[");
	for (size_t i = 0; i < an->nreads; i++) {
		printf("%s", i ? "," : "");
		json_read(t, an, &an->reads[i]);
	}
	printf("]");
	json_says("anomalies", an->anomalies, an->nanomalies);
	json_says("notes", an->notes, an->nnotes);
	printf(",\"source\":{");
	if (a->from.file) {
		printf("\"file\":");
		kg_json_fput(stdout, a->from.file);
	} else {
		printf("\"brokers\":");
		kg_json_fput(stdout, a->from.brokers);
		jstr("audit_topic", a->from.topic);
	}
	if (a->since)
		kg_time_text(t->since_ns, tm, sizeof(tm));
	jstr("since", a->since ? tm : NULL);
	jnum("records", (long long)t->records);
	jnum("older_than_since", (long long)t->older);
	jnum("unreadable", (long long)t->unreadable);
	jnum("nodes", (long long)t->nnodes);
	if (t->first_ns)
		kg_time_text(t->first_ns, tm, sizeof(tm));
	jstr("first_time", t->first_ns ? tm : NULL);
	if (t->last_ns)
		kg_time_text(t->last_ns, tm, sizeof(tm));
	jstr("last_time", t->last_ns ? tm : NULL);
	printf(",\"decisions_of_topic\":%llu,\"writes_of_partition\":%llu,"
	       "\"reads_of_partition\":%llu}}\n",
	       (unsigned long long)t->decisions, (unsigned long long)t->writes,
	       (unsigned long long)t->readrecs);
}

/* ---- the command ----------------------------------------------------------------------- */

static void kept_free(struct kept_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].rec);
	free(l->v);
}

static int audit_trace(int argc, char **argv)
{
	struct trace_args a = {.partition = UNSET, .offset = UNSET};
	struct trace t = {.claims.max = TRACE_CLAIMS_MAX,
			  .unplaced.max = TRACE_UNPLACED_MAX,
			  .reads.max = TRACE_READS_MAX};
	struct answer an = {0};
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_audit_trace, argc, argv, &a)))
		return rc;
	if (a.partition == UNSET)
		return kg_usage_error(&kg_cmd_audit_trace, "--partition is required");
	if (a.offset == UNSET)
		return kg_usage_error(&kg_cmd_audit_trace, "--offset is required");
	if ((rc = kg_records_check(&kg_cmd_audit_trace, &a.from)))
		return rc;
	t.a = &a;
	t.since_ns = a.since ? kg_wall_now_ns() - a.since : 0;
	if ((rc = kg_records_read(&kg_cmd_audit_trace, &a.from, t.since_ns, on_record, &t)))
		goto out;
	sort_out_ids(&t, &t.claims);
	sort_out_ids(&t, &t.unplaced);
	sort_out_ids(&t, &t.reads);
	analyse(&t, &an);
	notes(&t, &an);
	kg_json_doc(false);
	if (a.output == 1) {
		kg_json_item();
		print_json(&t, &an);
	} else {
		print_text(&t, &an);
	}
	rc = an.holder >= 0 ? 0 : 3;
out:
	for (size_t i = 0; i < an.nanomalies; i++)
		free(an.anomalies[i].text);
	for (size_t i = 0; i < an.nnotes; i++)
		free(an.notes[i].text);
	free(an.anomalies);
	free(an.notes);
	free(an.claims);
	free(an.unplaced);
	free(an.reads);
	kept_free(&t.claims);
	kept_free(&t.unplaced);
	kept_free(&t.reads);
	free(t.decs);
	free(t.dslots);
	free(t.nodes);
	pool_free(&t.names);
	return rc;
}
