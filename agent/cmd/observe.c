// SPDX-License-Identifier: Apache-2.0
/*
 * kgate observe: the agent's decisions as they happen, like `hubble observe`. Reads the
 * agent's observe socket (agent/audit/observe.c): on connect the agent sends the records it keeps
 * (the newest KG_OBSERVE_BACKLOG), a {"kind":"backlog_end"} marker, then every new record.
 * Or reads audit records from a file (--file: the agent's --audit-file, a dump of the
 * audit topic), or every node's from the audit topic (--from-kafka: the fleet's view,
 * agent/audit/tail.c: the newest KG_OBSERVE_BACKLOG records of each partition, or those
 * since --since, then with --follow every new one). Filters run here; the agent sends
 * everything.
 *
 * The text views are tables sized to their content (table.c): the backlog (or the whole
 * file) is read before anything is printed, so its widths are known, and whether the
 * records come from more than one node (then a NODE column); with --follow the rows after
 * it keep those widths. The audit topic's backlog comes partition by partition: it is put
 * in time order before it is printed.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/audit/internal.h"
#include "agent/cmd/cmd.h"

/*
 * The width of a line of `-o text` (120: two 60-column panes, a laptop's terminal). A
 * line that would be longer has its widest columns shortened, topics first in practice
 * (they are the longest cells); `-o wide` shortens nothing.
 */
#define OBSERVE_TEXT_WIDTH 120

struct filter {
	const char *verdict, *topic, *principal, *region, *rule, *node;
};

enum { OUT_TEXT, OUT_WIDE, OUT_JSON };

struct observe_args {
	bool follow;
	int output;
	int verdict;
	bool verdict_given;
	struct filter f;
	const char *socket, *file, *brokers, *audit_topic;
	__u64 since;
};

static const char *const verdicts[] = {"allow", "reject", "reset", "drop", "redirect", "deny",
				       NULL};
static const char *const outputs[] = {[OUT_TEXT] = "text", [OUT_WIDE] = "wide",
				      [OUT_JSON] = "json", NULL};

static const struct kg_opt observe_opts[] = {
	{.name = "follow", .short_name = 'f', .kind = KG_OPT_FLAG,
	 .off = offsetof(struct observe_args, follow), .help = "keep printing new decisions"},
	KG_OPT_CHOICE("verdict", struct observe_args, verdict, verdict_given, verdicts,
		      "allow, reject, reset, drop, redirect, or deny\n(any but allow)",
		      .metavar = "V"),
	KG_OPT_STR("topic", "T", struct observe_args, f.topic, "topic name; T* matches a prefix"),
	KG_OPT_STR("principal", "P", struct observe_args, f.principal,
		   "principal (SASL user or identity name)"),
	KG_OPT_STR("region", "R", struct observe_args, f.region, "source region"),
	KG_OPT_STR("rule", "NAME", struct observe_args, f.rule,
		   "rule that decided (\"default\": no rule matched)"),
	KG_OPT_STR("node", "NAME", struct observe_args, f.node,
		   "only the records of node NAME (any kind)"),
	KG_OPT_DURATION("since", struct observe_args, since,
			"only records of the last DURATION (1h, 30m...);\n"
			"--from-kafka reads from there (by time)"),
	KG_OPT_STR("socket", "PATH", struct observe_args, socket,
		   "the agent's socket (default RUN_DIR/observe.sock;\n"
		   "RUN_DIR is $KGATE_RUN_DIR or " KG_RUN_DIR ")"),
	KG_OPT_STR("file", "FILE", struct observe_args, file,
		   "read audit records (JSON lines: the agent's\n"
		   "--audit-file, the audit topic's messages) from FILE\n"
		   "('-': stdin) instead of the agent"),
	KG_OPT_STR("from-kafka", "BROKERS", struct observe_args, brokers,
		   "read every node's records from the audit topic on\n"
		   "BROKERS instead of the agent (the fleet's view)"),
	KG_OPT_STR("audit-topic", "T", struct observe_args, audit_topic,
		   "the audit topic (--from-kafka)"),
	KG_OPT_OUTPUT(struct observe_args, output, outputs,
		      "text (default): a table within 120 columns, long\n"
		      "cells shortened with an ellipsis; wide: every\n"
		      "column, nothing shortened; json: the records as\n"
		      "the audit topic carries them (field list: README.md)"),
	KG_OPT_END,
};

static int cmd_observe(int argc, char **argv);

const struct kg_cmd kg_cmd_observe = {
	.name = "observe",
	.summary = "show live decisions (the agent's audit records)",
	.about = "Prints the decisions of the running agent (kgate run), one per line. Works with\n"
		 "or without an audit broker: it reads the agent's observe socket.\n"
		 "\n"
		 "Without --follow, prints the recent records the agent keeps in memory (the\n"
		 "newest 1024) and exits. With --follow, prints those, then every new decision\n"
		 "until interrupted. With --file, prints the records of FILE.\n"
		 "\n"
		 "With --from-kafka, reads the audit topic instead: every node's records, in time\n"
		 "order (each node's are in one partition: the newest 1024 of each, or, with\n"
		 "--since, those since then, looked up by time where the cluster can), then with\n"
		 "--follow every new one as it arrives. A NODE column shows when the records come\n"
		 "from more than one node (with --from-kafka --follow, always).\n",
	.opts = observe_opts,
	.epilog = "Filters combine with AND. Gap records (lost events) and policy changes are\n"
		  "always printed, each as one line (--node and --since apply to them too).\n"
		  "Write and read records (what came of an allowed Produce or Fetch: the offsets)\n"
		  "show as rows with TOPIC[PARTITION] and, in VERDICT, wrote or read FIRST..LAST,\n"
		  "failed (the broker's error), or sent (acks=0: no answer); --verdict hides them.\n"
		  "Columns (text): TIME (UTC), NODE (records of more than one node), SOURCE (the\n"
		  "client), PRINCIPAL (with where it came from: identity or sasl; ANONYMOUS when\n"
		  "neither), REGION, API, TOPIC (or the undecodable reason, or (request) for a\n"
		  "request naming no topic), VERDICT (\"(audit)\": decided, not enforced; \"x300\":\n"
		  "a summary of 300 identical decisions on the connection, the time the last's;\n"
		  "\"+12 folded\": 12 other decisions past the connection's budget), RULE.\n"
		  "Columns are as wide as their widest cell; when a line would pass 120 columns\n"
		  "the widest are shortened with an ellipsis, keeping their start (a topic's start\n"
		  "is what rules and --topic T* match) or, for SOURCE, its end (the port). wide\n"
		  "adds DESTINATION, CLIENT-ID, CORR (correlation id) and POLICY (version), shows\n"
		  "the date and shortens nothing.\n"
		  "-o json: one array of records (--jsonl: a record a line); with --follow the\n"
		  "array is closed when observe is interrupted.\n"
		  "\n"
		  "Exit status: 0; 1 when the agent (FILE, the audit topic) cannot be read; 2 on a\n"
		  "usage error.\n",
	.run = cmd_observe,
};

/* ---- filters ---------------------------------------------------------------------------- */

static bool match_pat(const char *pat, const char *v)
{
	size_t n = strlen(pat);

	if (n && pat[n - 1] == '*')
		return !strncmp(pat, v, n - 1);
	return !strcmp(pat, v);
}

static bool str_field(const char *rec, size_t len, const char *k, char *out, size_t n)
{
	if (!kg_rec_str(rec, len, k, out, n)) {
		out[0] = 0;
		return false;
	}
	return true;
}

/* The field k of rec as text into out, or none when the record has no such field. */
static void str_or(const char *rec, size_t len, const char *k, char *out, size_t n,
		   const char *none)
{
	if (!str_field(rec, len, k, out, n))
		snprintf(out, n, "%s", none);
}

static bool wanted(const struct filter *f, const char *rec, size_t len)
{
	char v[1024];

	if (f->verdict) {
		str_field(rec, len, "verdict", v, sizeof(v));
		if (!strcmp(f->verdict, "deny") ? !strcmp(v, "allow") || !v[0]
						: strcmp(f->verdict, v))
			return false;
	}
	if (f->topic && (!str_field(rec, len, "topic", v, sizeof(v)) || !match_pat(f->topic, v)))
		return false;
	if (f->principal &&
	    (!str_field(rec, len, "principal", v, sizeof(v)) || strcmp(f->principal, v)))
		return false;
	if (f->region && (!str_field(rec, len, "region", v, sizeof(v)) || strcmp(f->region, v)))
		return false;
	if (f->rule) {
		str_field(rec, len, "rule", v, sizeof(v));
		if (strcmp(f->rule, v[0] ? v : "default"))
			return false;
	}
	return true;
}

/* --node and --since: every kind of record, gaps and policy changes too. */
static bool in_window(const struct filter *f, __u64 since_ns, const char *rec, size_t len)
{
	char v[256];
	__u64 ts = 0;

	if (f->node && (!str_field(rec, len, "node", v, sizeof(v)) || strcmp(f->node, v)))
		return false;
	return !since_ns || (kg_rec_u64(rec, len, "ts_ns", &ts) && ts >= since_ns);
}

/* ---- the table -------------------------------------------------------------------------- */

enum {
	C_TIME,
	C_NODE,
	C_SOURCE,
	C_DEST,
	C_PRINCIPAL,
	C_REGION,
	C_CLIENT,
	C_API,
	C_CORR,
	C_TOPIC,
	C_VERDICT,
	C_RULE,
	C_POLICY,
	C__COUNT,
};

/*
 * Every column -o wide shows, in order; -o text shows those with `text`. floor: what a
 * column may be shortened to (0: never: the time, the API, a verdict: short, and read
 * whole). The floors and the gaps add up to 113 columns with an 18-column API name and
 * an audited verdict ("reject (audit)"), so a line passes 120 only with a longer API
 * name (AlterPartitionReassignments v0: 30) and every other column at its floor.
 * follow: the width a column starts at under --follow, so rows arriving after a small
 * backlog are not all cut (a later cell wider than its column is shortened, or, in a
 * column without a floor, printed whole and the rest of its line moves right).
 */
static const struct {
	const char *head;
	bool text, keep_end, last;
	unsigned floor, follow;
} columns[C__COUNT] = {
	[C_TIME] = {"TIME", true, false, false, 0, 12},
	/* shown only when the records come from more than one node (view_init) */
	[C_NODE] = {"NODE", true, false, false, 8, 8},
	/* an address cut loses which client it was: the last to give way */
	[C_SOURCE] = {"SOURCE", true, true, true, 16, 18},
	[C_DEST] = {"DESTINATION", false, false, false, 0, 21},
	[C_PRINCIPAL] = {"PRINCIPAL", true, false, false, 9, 10},
	[C_REGION] = {"REGION", true, false, false, 6, 6},
	[C_CLIENT] = {"CLIENT-ID", false, false, false, 0, 12},
	[C_API] = {"API", true, false, false, 0, 18},
	[C_CORR] = {"CORR", false, false, false, 0, 4},
	[C_TOPIC] = {"TOPIC", true, false, false, 14, 20},
	[C_VERDICT] = {"VERDICT", true, false, false, 0, 7},
	[C_RULE] = {"RULE", true, false, false, 10, 18},
	[C_POLICY] = {"POLICY", false, false, false, 0, 8},
};

struct view {
	bool wide;
	struct kg_col cols[C__COUNT];
	int map[C__COUNT]; /* the view's column of each C_*, -1: not shown */
	struct kg_table t;
};

static void view_init(struct view *v, bool wide, bool follow, bool node)
{
	int n = 0;

	v->wide = wide;
	for (int c = 0; c < C__COUNT; c++) {
		v->map[c] = -1;
		if ((!wide && !columns[c].text) || (c == C_NODE && !node))
			continue;
		v->map[c] = n;
		v->cols[n++] = (struct kg_col){.head = columns[c].head,
					       .min = wide ? 0 : columns[c].floor,
					       .keep_end = columns[c].keep_end,
					       .last = columns[c].last};
	}
	kg_table_init(&v->t, v->cols, n, wide ? 0 : OBSERVE_TEXT_WIDTH);
	for (int c = 0; follow && c < C__COUNT; c++)
		if (v->map[c] >= 0 && v->cols[v->map[c]].width < columns[c].follow)
			v->cols[v->map[c]].width = columns[c].follow;
}

/* "10.20.0.2:39500", "[fd00:20::2]:39500" */
static void endpoint(char *out, size_t n, const char *rec, size_t len, const char *ip_key,
		     const char *port_key)
{
	char ip[64];
	__u64 port = 0;
	bool v6;

	str_field(rec, len, ip_key, ip, sizeof(ip));
	kg_rec_u64(rec, len, port_key, &port);
	v6 = strchr(ip, ':') != NULL;
	snprintf(out, n, "%s%s%s:%llu", v6 ? "[" : "", ip, v6 ? "]" : "",
		 (unsigned long long)port);
}

/* A gap record, as one line across the table. */
static char *gap_line(const char *rec, size_t len, const char *time)
{
	__u64 n1 = 0, n2 = 0, a1 = 0, b1 = 0;
	char reason[64], *line = NULL;

	kg_rec_u64(rec, len, "lost_deny", &n1);
	kg_rec_u64(rec, len, "lost_allow", &n2);
	kg_rec_u64(rec, len, "after_seq", &a1);
	kg_rec_u64(rec, len, "before_seq", &b1);
	str_field(rec, len, "reason", reason, sizeof(reason));
	if (asprintf(&line, "%s  GAP: %llu deny and %llu allow events lost (%s) between records "
			    "%llu and %llu",
		     time, (unsigned long long)n1, (unsigned long long)n2, reason,
		     (unsigned long long)a1, (unsigned long long)b1) < 0)
		abort();
	return line;
}

/* A change of the running policy (README, "Policy records"), as one line: who changed
 * what from what to what. */
static char *policy_line(const char *rec, size_t len, const char *time)
{
	char step[32], iface[IF_NAMESIZE + 8], user[64], source[64], old[160], now[160],
		mode[16], *line = NULL;

	str_field(rec, len, "step", step, sizeof(step));
	str_field(rec, len, "iface", iface, sizeof(iface));
	str_field(rec, len, "user", user, sizeof(user));
	str_field(rec, len, "source", source, sizeof(source));
	str_or(rec, len, "old_policy_version", old, sizeof(old), "none");
	str_field(rec, len, "policy_version", now, sizeof(now));
	str_field(rec, len, "mode", mode, sizeof(mode));
	if (asprintf(&line, "%s  POLICY %s on %s by %s (%s): \"%s\" -> \"%s\", mode %s", time,
		     step, iface, user, source, old, now, mode) < 0)
		abort();
	return line;
}

/*
 * What came of an allowed Produce or Fetch (kinds write and read), where a decision shows
 * its verdict: "wrote 5..9", "read 0..14", "failed (6)" (wide: with the error's name), "sent
 * (acks=0)" (a write no answer comes to: no offsets).
 */
static void result_cell(const struct view *v, const char *rec, size_t len, bool write,
			char *out, size_t n)
{
	__u64 first, last;
	__s64 code = 0;
	bool acked = true;
	char err[64];

	kg_rec_s64(rec, len, "error_code", &code);
	kg_rec_bool(rec, len, "acked", &acked);
	if (code) {
		str_field(rec, len, "error", err, sizeof(err));
		snprintf(out, n, v->wide ? "failed (%lld %s)" : "failed (%lld)", (long long)code, err);
	} else if (!acked) {
		snprintf(out, n, "sent (acks=0)");
	} else if (kg_rec_u64(rec, len, write ? "base_offset" : "first_offset", &first) &&
		   kg_rec_u64(rec, len, "last_offset", &last)) {
		snprintf(out, n, "%s %llu..%llu", write ? "wrote" : "read", (unsigned long long)first,
			 (unsigned long long)last);
	} else {
		snprintf(out, n, "%s (no offsets)", write ? "wrote" : "read");
	}
}

/*
 * A decision record that stands for several (bpf/fold.h): "x300" after the verdict for a
 * run's summary of 300 identical decisions, "+12 folded" for the connection's decisions
 * past its budget that it carries (a record without `count` stands for one).
 */
static void fold_suffix(char *vd, size_t size, const char *rec, size_t len)
{
	__u64 count = 1, folded = 0;
	size_t n = strlen(vd);

	kg_rec_u64(rec, len, "count", &count);
	kg_rec_u64(rec, len, "folded", &folded);
	if (count != 1 && n < size)
		n += snprintf(vd + n, size - n, " x%llu", (unsigned long long)count);
	if (folded && n < size)
		snprintf(vd + n, size - n, " +%llu folded", (unsigned long long)folded);
}

/* One record as the view's cells (or a line across the table: a gap, a policy change). */
static void record_row(const struct view *v, const char *rec, size_t len, char ***cellsp,
		       char **linep)
{
	char time[64], kind[32], src[80], dst[80], pr[300], psrc[32], region[80], api[64],
		topic[1100], tid[64], verdict[32], rule[80], reason[64], client[300], policy[160],
		corr[24], apiv[80], vd[160], who[340], node[256], head[330];
	/* each column's cell, by C_* */
	const char *cell[C__COUNT] = {
		[C_TIME] = time, [C_NODE] = node, [C_SOURCE] = src, [C_DEST] = dst,
		[C_PRINCIPAL] = who, [C_REGION] = region, [C_CLIENT] = client, [C_API] = apiv,
		[C_CORR] = corr, [C_TOPIC] = topic, [C_VERDICT] = vd, [C_RULE] = rule,
		[C_POLICY] = policy,
	};
	char **cells;
	__u64 ver = 0, c = 0, part = 0;
	bool enforced = true, have_corr, result;

	*cellsp = NULL;
	*linep = NULL;
	str_field(rec, len, "time", time, sizeof(time));
	str_field(rec, len, "kind", kind, sizeof(kind));
	/* text: HH:MM:SS.mmm of the RFC 3339 time; wide: all of it */
	if (!v->wide && strlen(time) >= 23) {
		memmove(time, time + 11, 12);
		time[12] = 0;
	}
	str_field(rec, len, "node", node, sizeof(node));
	if (!strcmp(kind, "gap") || !strcmp(kind, "policy")) {
		/* whose, when the view has a NODE column */
		snprintf(head, sizeof(head), "%s%s%s", time, v->map[C_NODE] >= 0 ? "  " : "",
			 v->map[C_NODE] >= 0 ? node : "");
		*linep = kind[0] == 'g' ? gap_line(rec, len, head) : policy_line(rec, len, head);
		return;
	}
	endpoint(src, sizeof(src), rec, len, "src_ip", "src_port");
	endpoint(dst, sizeof(dst), rec, len, "dst_ip", "dst_port");
	str_or(rec, len, "principal", pr, sizeof(pr), "-");
	/* the source only when there is one: ANONYMOUS(anonymous) said it twice */
	if (str_field(rec, len, "principal_source", psrc, sizeof(psrc)) &&
	    strcmp(psrc, "anonymous"))
		snprintf(who, sizeof(who), "%s(%s)", pr, psrc);
	else
		snprintf(who, sizeof(who), "%s", pr);
	str_or(rec, len, "region", region, sizeof(region), "-");
	str_or(rec, len, "client_id", client, sizeof(client), "-");
	if (str_field(rec, len, "api_name", api, sizeof(api))) {
		kg_rec_u64(rec, len, "api_version", &ver);
		snprintf(apiv, sizeof(apiv), "%s v%llu", api, (unsigned long long)ver);
	} else {
		snprintf(apiv, sizeof(apiv), "-");
	}
	have_corr = kg_rec_u64(rec, len, "correlation_id", &c);
	snprintf(corr, sizeof(corr), have_corr ? "%llu" : "-", (unsigned long long)c);
	str_field(rec, len, "topic_id", tid, sizeof(tid));
	result = !strcmp(kind, "write") || !strcmp(kind, "read");
	if (!strcmp(kind, "undecodable")) {
		str_field(rec, len, "reason", reason, sizeof(reason));
		snprintf(topic, sizeof(topic), "undecodable: %s", reason);
	} else if (str_field(rec, len, "topic", topic, sizeof(topic)) || tid[0]) {
		if (!topic[0])
			snprintf(topic, sizeof(topic), "%s", tid);
		/* a write or read is of one partition */
		if (result && kg_rec_u64(rec, len, "partition", &part))
			snprintf(topic + strlen(topic), sizeof(topic) - strlen(topic), "[%llu]",
				 (unsigned long long)part);
		/* wide: the id too, when the request named the topic by it */
		if (v->wide && tid[0] && strcmp(topic, tid) && strncmp(topic, tid, strlen(tid)))
			snprintf(topic + strlen(topic), sizeof(topic) - strlen(topic), " (%s)",
				 tid);
	} else {
		snprintf(topic, sizeof(topic), "(%s)", kind);
	}
	if (result) {
		result_cell(v, rec, len, kind[0] == 'w', vd, sizeof(vd));
	} else {
		str_field(rec, len, "verdict", verdict, sizeof(verdict));
		kg_rec_bool(rec, len, "enforced", &enforced);
		snprintf(vd, sizeof(vd), "%s%s", verdict, enforced ? "" : " (audit)");
		fold_suffix(vd, sizeof(vd), rec, len);
	}
	str_or(rec, len, "rule", rule, sizeof(rule), "default");
	str_or(rec, len, "policy_version", policy, sizeof(policy), "-");
	cells = calloc(C__COUNT, sizeof(*cells));
	if (!cells)
		abort();
	for (int k = 0; k < C__COUNT; k++)
		if (v->map[k] >= 0)
			cells[v->map[k]] = kg_table_cell(cell[k]);
	*cellsp = cells;
}

/* ---- reading ---------------------------------------------------------------------------- */

static volatile sig_atomic_t stopped;

static void on_stop(int sig)
{
	(void)sig;
	stopped = 1;
}

/* --follow ends on SIGINT/SIGTERM: the read is interrupted (no SA_RESTART), the JSON
 * array gets its closing bracket, the exit status is 0. */
static void catch_stop(void)
{
	struct sigaction sa = {.sa_handler = on_stop};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static FILE *open_agent(const char *sock)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	FILE *in;
	int fd;

	strcpy(sun.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr,
			"kgate observe: cannot reach the agent at %s: %s (is `kgate run` "
			"running?)\n",
			sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	in = fdopen(fd, "r");
	if (!in) {
		fprintf(stderr, "kgate observe: %s\n", strerror(errno));
		close(fd);
	}
	return in;
}

/* What observe has read and not printed yet, and how it prints. */
struct kept_rec {
	char *rec, *node;
	size_t len;
	__u64 ts, seq;
};

struct obs {
	const struct observe_args *a;
	struct filter f;
	__u64 since_ns;
	bool json, follow;
	bool sort;	      /* the backlog in time order (the audit topic's comes by partition) */
	bool node_always;     /* a NODE column whatever the backlog holds */
	bool backlog;	      /* records are kept (widths, nodes, order) until the backlog ends */
	bool many_nodes;      /* the records kept come from more than one node */
	struct kept_rec *kept;
	size_t nkept;
	struct view v;
};

static void obs_emit(struct obs *o, const char *rec, size_t len)
{
	char **cells, *line;

	if (o->json) {
		kg_json_item();
		printf("%.*s\n", (int)len, rec);
	} else {
		record_row(&o->v, rec, len, &cells, &line);
		if (o->backlog)
			kg_table_add(&o->v.t, cells, line);
		else
			kg_table_print(&o->v.t, cells, line, stdout);
	}
	if (o->follow)
		fflush(stdout);
}

/* One record (kg_audit_rec_fn): filtered, then kept (the backlog) or printed. */
static int obs_record(void *ctx, const char *rec, size_t len)
{
	struct obs *o = ctx;
	struct kept_rec *k;
	char kind[32], node[256];

	if (!in_window(&o->f, o->since_ns, rec, len))
		return 0;
	str_field(rec, len, "kind", kind, sizeof(kind));
	/* gaps and policy changes are not decisions: no decision filter hides them */
	if (strcmp(kind, "gap") && strcmp(kind, "policy") && !wanted(&o->f, rec, len))
		return 0;
	/* a JSON stream in arrival order needs neither widths nor order: printed now */
	if (!o->backlog || (o->json && !o->sort)) {
		obs_emit(o, rec, len);
		return 0;
	}
	str_field(rec, len, "node", node, sizeof(node));
	if (o->nkept && strcmp(node, o->kept[0].node))
		o->many_nodes = true;
	o->kept = kg_grow(o->kept, o->nkept, sizeof(*o->kept));
	if (!o->kept)
		abort(); /* as kg_buf: observe cannot go on without memory */
	k = &o->kept[o->nkept++];
	*k = (struct kept_rec){.rec = strndup(rec, len), .node = strdup(node), .len = len};
	if (!k->rec || !k->node)
		abort();
	kg_rec_u64(rec, len, "ts_ns", &k->ts);
	kg_rec_u64(rec, len, "seq", &k->seq);
	return 0;
}

static int kept_cmp(const void *x, const void *y)
{
	const struct kept_rec *a = x, *b = y;

	return kg_records_order(a->ts, a->node, a->seq, b->ts, b->node, b->seq);
}

/* The backlog is read: the view is chosen (a NODE column?), the rows printed in order. */
static void obs_end_backlog(void *ctx)
{
	struct obs *o = ctx;

	if (!o->backlog)
		return;
	if (o->sort)
		qsort(o->kept, o->nkept, sizeof(*o->kept), kept_cmp);
	view_init(&o->v, o->a->output == OUT_WIDE, o->follow, o->many_nodes || o->node_always);
	for (size_t i = 0; i < o->nkept; i++) {
		obs_emit(o, o->kept[i].rec, o->kept[i].len);
		free(o->kept[i].rec);
		free(o->kept[i].node);
	}
	o->nkept = 0;
	if (!o->json && (o->v.t.nrows || o->follow)) {
		kg_table_fit(&o->v.t);
		kg_table_print_header(&o->v.t, stdout);
		kg_table_flush(&o->v.t, stdout);
	}
	o->backlog = false;
	fflush(stdout);
}

/* The agent's socket or a file: lines of records (the socket's backlog ends at a marker).
 * -1 when the read failed (not when a signal ended --follow). */
static int read_lines(struct obs *o, FILE *in)
{
	char *line = NULL, kind[32];
	size_t cap = 0;
	ssize_t len;

	while (!stopped && (len = getline(&line, &cap, in)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (!len || line[0] != '{')
			continue; /* a blank line in a file */
		str_field(line, len, "kind", kind, sizeof(kind));
		if (!strcmp(kind, "backlog_end")) {
			if (!o->follow)
				break;
			obs_end_backlog(o);
			continue;
		}
		obs_record(o, line, len);
	}
	free(line);
	return ferror(in) && !stopped ? -1 : 0;
}

static int cmd_observe(int argc, char **argv)
{
	struct observe_args a = {0};
	struct sockaddr_un sun;
	char defsock[sizeof(sun.sun_path) + 64], err[1024];
	const char *sock = NULL;
	struct obs o = {.a = &a, .backlog = true};
	FILE *in = NULL;
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_observe, argc, argv, &a)))
		return rc;
	o.f = a.f;
	if (a.verdict_given)
		o.f.verdict = verdicts[a.verdict];
	o.follow = a.follow;
	o.json = a.output == OUT_JSON;
	o.since_ns = a.since ? kg_wall_now_ns() - a.since : 0;
	if (a.file && (a.socket || o.follow || a.brokers))
		return kg_usage_error(&kg_cmd_observe, "--file reads a file: not with %s",
				      o.follow ? "--follow" : a.socket ? "--socket" : "--from-kafka");
	if (a.brokers && a.socket)
		return kg_usage_error(&kg_cmd_observe,
				      "--from-kafka reads the audit topic: not with --socket");
	if (!!a.brokers != !!a.audit_topic)
		return kg_usage_error(&kg_cmd_observe, "--from-kafka and --audit-topic go together");
	if (!a.file && !a.brokers) {
		sock = a.socket;
		if (!sock) {
			snprintf(defsock, sizeof(defsock), "%s/observe.sock", kg_run_dir());
			sock = defsock;
		}
		if (strlen(sock) >= sizeof(sun.sun_path))
			return kg_usage_error(&kg_cmd_observe, "--socket %s: path too long", sock);
	}
	kg_json_doc(true);
	if (a.file)
		in = strcmp(a.file, "-") ? fopen(a.file, "r") : stdin;
	else if (sock)
		in = open_agent(sock);
	if (!in && !a.brokers) {
		if (a.file)
			fprintf(stderr, "kgate observe: %s: %s\n", a.file, strerror(errno));
		return 1;
	}
	if (o.follow)
		catch_stop();
	rc = 0;
	if (a.brokers) {
		struct kg_audit_tail t = {
			.since_ns = o.since_ns,
			.last = o.since_ns ? 0 : KG_OBSERVE_BACKLOG,
			.follow = o.follow,
			.stop = &stopped,
			.fn = obs_record,
			.caught_up = obs_end_backlog,
			.ctx = &o,
		};

		/* each node's records are in one partition: put in time order, and new nodes
		 * may come at any time under --follow */
		o.sort = true;
		o.node_always = o.follow;
		if (kg_audit_tail_kafka(a.brokers, a.audit_topic, &t, err, sizeof(err))) {
			fprintf(stderr, "kgate observe: %s\n", err);
			rc = 1;
		}
	} else if (read_lines(&o, in) && a.file) {
		fprintf(stderr, "kgate observe: %s: %s\n", a.file, strerror(errno));
		rc = 1;
	}
	obs_end_backlog(&o);
	if (sock && o.follow && !stopped)
		fprintf(stderr, "kgate observe: the agent closed the connection\n");
	for (size_t i = 0; i < o.nkept; i++) {
		free(o.kept[i].rec);
		free(o.kept[i].node);
	}
	free(o.kept);
	kg_table_free(&o.v.t);
	if (in && in != stdin)
		fclose(in);
	return rc;
}
