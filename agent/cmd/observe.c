// SPDX-License-Identifier: Apache-2.0
/*
 * kgate observe: the agent's decisions as they happen, like `hubble observe`. Reads the
 * agent's observe socket (agent/audit/observe.c): on connect the agent sends the records it keeps
 * (the newest KG_OBSERVE_BACKLOG), a {"kind":"backlog_end"} marker, then every new record.
 * Filters run here; the agent sends everything.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/audit/internal.h"
#include "agent/cmd/cmd.h"

struct filter {
	const char *verdict, *topic, *principal, *region, *rule;
};

struct observe_args {
	bool follow;
	int output; /* 1: json */
	int verdict;
	bool verdict_given;
	struct filter f;
	const char *socket;
};

static const char *const verdicts[] = {"allow", "reject", "reset", "drop", "redirect", "deny",
				       NULL};
static const char *const table_json[] = {"table", "json", NULL};

static const struct kg_opt observe_opts[] = {
	{.name = "follow", .short_name = 'f', .kind = KG_OPT_FLAG,
	 .off = offsetof(struct observe_args, follow), .help = "keep printing new decisions"},
	{.name = "verdict", .kind = KG_OPT_CHOICE, .metavar = "V",
	 .off = offsetof(struct observe_args, verdict),
	 .given_off = offsetof(struct observe_args, verdict_given), .choices = verdicts,
	 .help = "allow, reject, reset, drop, redirect, or deny\n(any but allow)"},
	KG_OPT_STR("topic", "T", struct observe_args, f.topic, "topic name; T* matches a prefix"),
	KG_OPT_STR("principal", "P", struct observe_args, f.principal,
		   "principal (SASL user or identity name)"),
	KG_OPT_STR("region", "R", struct observe_args, f.region, "source region"),
	KG_OPT_STR("rule", "NAME", struct observe_args, f.rule,
		   "rule that decided (\"default\": no rule matched)"),
	KG_OPT_STR("socket", "PATH", struct observe_args, socket,
		   "the agent's socket (default RUN_DIR/observe.sock;\n"
		   "RUN_DIR is $KGATE_RUN_DIR or " KG_RUN_DIR ")"),
	KG_OPT_OUTPUT(struct observe_args, output, table_json,
		      "table (default) or the records as JSON lines, as the\n"
		      "audit topic carries them (field list: README.md)"),
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
		 "until interrupted.\n",
	.opts = observe_opts,
	.epilog = "Filters combine with AND. Gap records (lost events) are always printed.\n"
		  "Table columns: TIME (UTC), SOURCE -> DESTINATION, PRINCIPAL (source), REGION,\n"
		  "API, TOPIC (or the undecodable reason), VERDICT (\"(audit)\": decided, not\n"
		  "enforced), RULE.\n"
		  "\n"
		  "Exit status: 0; 1 when the agent cannot be reached; 2 on a usage error.\n",
	.run = cmd_observe,
};


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

/* Shows unprintable bytes as '?' in the table (JSON output keeps them exact). */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void print_header(void)
{
	printf("%-12s  %-45s  %-20s  %-10s  %-16s  %-28s  %-16s  %s\n", "TIME",
	       "SOURCE -> DESTINATION", "PRINCIPAL", "REGION", "API", "TOPIC", "VERDICT", "RULE");
}

static void print_row(const char *rec, size_t len)
{
	char time[64], kind[32], src[64], dst[64], pr[300], psrc[32], region[80], api[64],
		topic[1100], verdict[32], rule[80], reason[64], ep[140], who[340], apiv[80], vd[48];
	__u64 sp = 0, dp = 0, ver = 0, n1 = 0, n2 = 0, a1 = 0, b1 = 0;
	bool enforced = true;

	str_field(rec, len, "time", time, sizeof(time));
	str_field(rec, len, "kind", kind, sizeof(kind));
	/* HH:MM:SS.mmm of the RFC 3339 time */
	if (strlen(time) >= 23) {
		memmove(time, time + 11, 12);
		time[12] = 0;
	}
	if (!strcmp(kind, "gap")) {
		kg_rec_u64(rec, len, "lost_deny", &n1);
		kg_rec_u64(rec, len, "lost_allow", &n2);
		kg_rec_u64(rec, len, "after_seq", &a1);
		kg_rec_u64(rec, len, "before_seq", &b1);
		str_field(rec, len, "reason", reason, sizeof(reason));
		printf("%-12s  GAP: %llu deny and %llu allow events lost (%s) between records %llu "
		       "and %llu\n",
		       time, (unsigned long long)n1, (unsigned long long)n2, reason,
		       (unsigned long long)a1, (unsigned long long)b1);
		return;
	}
	if (!strcmp(kind, "policy")) {
		/* a change of the running policy (README, "Policy records"): who, from what to what */
		str_field(rec, len, "step", reason, sizeof(reason));
		str_field(rec, len, "iface", api, sizeof(api));
		str_field(rec, len, "user", pr, sizeof(pr));
		str_field(rec, len, "source", who, sizeof(who));
		if (!str_field(rec, len, "old_policy_version", topic, sizeof(topic)))
			snprintf(topic, sizeof(topic), "none");
		str_field(rec, len, "policy_version", rule, sizeof(rule));
		str_field(rec, len, "mode", vd, sizeof(vd));
		printf("%-12s  POLICY %s on %s by %s (%s): \"%s\" -> \"%s\", mode %s\n", time, reason,
		       api, pr, who, topic, rule, vd);
		return;
	}
	str_field(rec, len, "src_ip", src, sizeof(src));
	str_field(rec, len, "dst_ip", dst, sizeof(dst));
	kg_rec_u64(rec, len, "src_port", &sp);
	kg_rec_u64(rec, len, "dst_port", &dp);
	snprintf(ep, sizeof(ep), "%s%s%s:%llu -> %s%s%s:%llu", strchr(src, ':') ? "[" : "", src,
		 strchr(src, ':') ? "]" : "", (unsigned long long)sp, strchr(dst, ':') ? "[" : "",
		 dst, strchr(dst, ':') ? "]" : "", (unsigned long long)dp);
	if (!str_field(rec, len, "principal", pr, sizeof(pr)))
		snprintf(pr, sizeof(pr), "-");
	str_field(rec, len, "principal_source", psrc, sizeof(psrc));
	snprintf(who, sizeof(who), "%s(%s)", pr, psrc);
	if (!str_field(rec, len, "region", region, sizeof(region)))
		snprintf(region, sizeof(region), "-");
	if (!str_field(rec, len, "api_name", api, sizeof(api)))
		snprintf(api, sizeof(api), "?");
	kg_rec_u64(rec, len, "api_version", &ver);
	snprintf(apiv, sizeof(apiv), "%s v%llu", api, (unsigned long long)ver);
	if (!strcmp(kind, "undecodable")) {
		str_field(rec, len, "reason", reason, sizeof(reason));
		snprintf(topic, sizeof(topic), "undecodable: %s", reason);
	} else if (!str_field(rec, len, "topic", topic, sizeof(topic)) &&
		   !str_field(rec, len, "topic_id", topic, sizeof(topic))) {
		snprintf(topic, sizeof(topic), "(%s)", kind);
	}
	str_field(rec, len, "verdict", verdict, sizeof(verdict));
	kg_rec_bool(rec, len, "enforced", &enforced);
	snprintf(vd, sizeof(vd), "%s%s", verdict, enforced ? "" : " (audit)");
	if (!str_field(rec, len, "rule", rule, sizeof(rule)))
		snprintf(rule, sizeof(rule), "default");
	printable(who);
	printable(topic);
	printable(rule);
	printable(region);
	printf("%-12s  %-45s  %-20s  %-10s  %-16s  %-28s  %-16s  %s\n", time, ep, who, region, apiv,
	       topic, vd, rule);
}

static int cmd_observe(int argc, char **argv)
{
	struct observe_args a = {0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *sock;
	char defsock[sizeof(sun.sun_path) + 64];
	bool follow, json, header = false;
	struct filter f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *in;
	int fd;

	if ((fd = kg_opt_parse(&kg_cmd_observe, argc, argv, &a)))
		return fd;
	f = a.f;
	if (a.verdict_given)
		f.verdict = verdicts[a.verdict];
	follow = a.follow;
	json = a.output == 1;
	sock = a.socket;
	if (!sock) {
		snprintf(defsock, sizeof(defsock), "%s/observe.sock", kg_run_dir());
		sock = defsock;
	}
	if (strlen(sock) >= sizeof(sun.sun_path))
		return kg_usage_error(&kg_cmd_observe, "--socket %s: path too long", sock);
	strcpy(sun.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr,
			"kgate observe: cannot reach the agent at %s: %s (is `kgate run` "
			"running?)\n",
			sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		fprintf(stderr, "kgate observe: %s\n", strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		char kind[32];

		if (line[len - 1] == '\n')
			line[--len] = 0;
		str_field(line, len, "kind", kind, sizeof(kind));
		if (!strcmp(kind, "backlog_end")) {
			if (!follow)
				break;
			continue;
		}
		/* gaps and policy changes are not decisions: no filter hides them */
		if (strcmp(kind, "gap") && strcmp(kind, "policy") && !wanted(&f, line, len))
			continue;
		if (json) {
			puts(line);
		} else {
			if (!header) {
				print_header();
				header = true;
			}
			print_row(line, len);
		}
		if (follow)
			fflush(stdout);
	}
	if (follow && !ferror(in))
		fprintf(stderr, "kgate observe: the agent closed the connection\n");
	free(line);
	fclose(in);
	return 0;
}
