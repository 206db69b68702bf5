// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus metrics (agent/metrics/metrics.h): no locks with anyone, a scrape costs one
 * pass over the datapath's counters, the flows map and the active rules' hit counters.
 *
 * Two sources, named apart: kgate_decisions_total and kgate_undecodable_total count the
 * records this agent wrote (what the audit stream holds); kgate_datapath_* read the
 * datapath's own counters (every decision, recorded or not, since the maps were made).
 */
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/datapath/datapath.h"
#include "agent/metrics/metrics.h"

/* A request that has not arrived whole within this is dropped. */
#define HTTP_TIMEOUT_MS 5000
/* Response bytes queued per connection (a scrape with 10,000 rules is ~1 MB). */
#define HTTP_OUT_MAX (64u << 20)
/* Rules whose kg_rule_hits are exported per scrape (one map read each); later rules of a
 * larger policy are left out of kgate_rule_hits_total. */
#define KG_METRICS_MAX_RULES 10000

struct kg_http_conn {
	struct kg_outq q;
	char in[2048];
	size_t inlen;
	__u64 deadline_ms;
	bool responding;
};

struct kg_metrics {
	int fd;
	struct kg_http_conn http[KG_METRICS_CONNS];
	struct kg_metrics_sources src;
};

struct kg_metrics *kg_metrics_open(const char *addr, const struct kg_metrics_sources *src,
				   char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	struct kg_metrics *m;
	char host[256], *port;
	const char *h;
	int r, one = 1;

	/* ADDR:PORT, [V6]:PORT, :PORT (every address) */
	snprintf(host, sizeof(host), "%s", addr);
	port = strrchr(host, ':');
	if (!port || !port[1]) {
		snprintf(err, errlen, "--metrics-addr %s: expected ADDR:PORT", addr);
		return NULL;
	}
	*port++ = 0;
	h = host;
	if (h[0] == '[') {
		size_t l = strlen(h);

		if (l < 2 || h[l - 1] != ']') {
			snprintf(err, errlen, "--metrics-addr %s: expected [ADDR]:PORT", addr);
			return NULL;
		}
		host[l - 1] = 0;
		h = host + 1;
	}
	r = getaddrinfo(*h ? h : NULL, port, &hints, &res);
	if (r) {
		snprintf(err, errlen, "--metrics-addr %s: %s", addr, gai_strerror(r));
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		freeaddrinfo(res);
		return NULL;
	}
	m->src = *src;
	for (int i = 0; i < KG_METRICS_CONNS; i++)
		m->http[i].q.fd = -1;
	m->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->fd, res->ai_addr, res->ai_addrlen) || listen(m->fd, 16)) {
		snprintf(err, errlen, "--metrics-addr %s: %s", addr, strerror(errno));
		freeaddrinfo(res);
		kg_metrics_close(m);
		return NULL;
	}
	freeaddrinfo(res);
	return m;
}

void kg_metrics_close(struct kg_metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < KG_METRICS_CONNS; i++)
		if (m->http[i].q.fd >= 0 || m->http[i].q.p)
			kg_outq_close(&m->http[i].q);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

/* ---- the text ------------------------------------------------------------------------ */

/* A label value: backslash, quote and newline escaped. */
static void label(struct kg_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			kg_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			kg_buf_printf(b, "\\n");
		else
			kg_buf_printf(b, "%c", *s);
	}
}

static void help(struct kg_buf *b, const char *name, const char *type, const char *text)
{
	kg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* One sample of a family with one label: name{key="value"} v. */
static void sample(struct kg_buf *b, const char *name, const char *key, const char *value,
		   __u64 v)
{
	kg_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, key, value, (unsigned long long)v);
}

/* A family without labels: help, then its one sample. */
static void single(struct kg_buf *b, const char *name, const char *type, const char *text,
		   __u64 v)
{
	help(b, name, type, text);
	kg_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void render_rules(const struct kg_metrics_sources *src, const struct kg_datapath_stats *st,
			 struct kg_buf *b)
{
	struct kg_event ev = {.version_id = st->config.version_id, .gen = st->gen};
	struct kg_event_names nm;
	__u64 v;

	help(b, "kgate_rule_hits_total", "counter",
	     "Decisions each rule of the active policy made (kg_rule_hits).");
	/* rules by name, while the names say there is one (the first "" ends them) */
	for (__u32 i = 0; i < KG_METRICS_MAX_RULES; i++) {
		ev.rule_id = i;
		memset(&nm, 0, sizeof(nm));
		src->names(src->names_ctx, &ev, &nm);
		if (!nm.rule[0] || kg_datapath_rule_hits(src->maps, src->nmaps, st->gen, i, &v))
			break;
		kg_buf_printf(b, "kgate_rule_hits_total{rule=\"");
		label(b, nm.rule);
		kg_buf_printf(b, "\",rule_id=\"%u\"} %llu\n", i, (unsigned long long)v);
	}
}

static const char *lost_class_name(unsigned int k)
{
	return k == KG_LOST_DENY ? "deny" : "allow";
}

/* Families of the datapath's counters: kg_counters[base + first .. base + n), by name_of. */
struct counter_family {
	const char *name, *label, *help;
	__u32 base, first, n;
	const char *(*name_of)(unsigned int);
};

_Static_assert(KG_C_EVENTS_LOST_DENY + KG_LOST_DENY == KG_C_EVENTS_LOST_DENY &&
		       KG_C_EVENTS_LOST_DENY + KG_LOST_ALLOW == KG_C_EVENTS_LOST_ALLOW,
	       "the lost-event counters, in KG_LOST_* order");

static const struct counter_family counter_families[] = {
	{"kgate_datapath_counter_total", "name",
	 "The datapath's counters (kg_counters), by name, over every interface.", 0, 0,
	 KG_C_VERDICT_BASE, kg_counter_name},
	{"kgate_datapath_decisions_total", "verdict",
	 "Decisions the datapath made, by verdict (recorded or not), over every interface.",
	 KG_C_VERDICT_BASE, 0, KG_ACT__COUNT, kg_action_name},
	{"kgate_datapath_undecodable_total", "reason",
	 "Frames or flows the datapath could not decode, by reason, over every interface.",
	 KG_C_UNDECODABLE_BASE, 1, KD_REASON__COUNT, kd_reason_name},
	{"kgate_events_lost_total", "class",
	 "Decision events the ring buffers could not take, by verdict class.",
	 KG_C_EVENTS_LOST_DENY, 0, 2, lost_class_name},
};

static void render_datapath(const struct kg_metrics_sources *src, struct kg_buf *b)
{
	struct kg_datapath_stats st;

	if (kg_datapath_stats(src->maps, src->nmaps, &st))
		return; /* no counter could be read: no datapath to speak of */
	for (size_t f = 0; f < sizeof(counter_families) / sizeof(counter_families[0]); f++) {
		const struct counter_family *cf = &counter_families[f];

		help(b, cf->name, "counter", cf->help);
		for (__u32 i = cf->first; i < cf->n; i++)
			if (st.have_counter[cf->base + i])
				sample(b, cf->name, cf->label, cf->name_of(i), st.counter[cf->base + i]);
	}
	if (st.have_flows)
		single(b, "kgate_flows", "gauge", "Connections the datapath tracks (all interfaces).",
		       st.flows);
	if (!st.have_policy)
		return;
	{
		struct kg_event ev = {.version_id = st.config.version_id, .gen = st.gen};
		struct kg_event_names nm = {0};

		if (src->names)
			src->names(src->names_ctx, &ev, &nm);
		help(b, "kgate_policy_info", "gauge",
		     "The active policy: version, version id, generation, mode.");
		kg_buf_printf(b, "kgate_policy_info{version=\"");
		label(b, nm.policy_version);
		kg_buf_printf(b, "\",version_id=\"%u\",generation=\"%u\",mode=\"%s\"} 1\n",
			      st.config.version_id, st.gen, kg_mode_name(st.config.mode));
	}
	single(b, "kgate_policy_generation", "gauge", "The active policy generation (0 or 1).",
	       st.gen);
	single(b, "kgate_policy_version_id", "gauge", "The active policy's version id.",
	       st.config.version_id);
	if (src->names && st.have_rule_hits)
		render_rules(src, &st, b);
}

/* A family of one sample, read from a u64 of struct kg_audit_stats. */
struct audit_family {
	const char *name, *type, *help;
	size_t off;
};

#define AUDIT_U64(st, f) (*(const __u64 *)((const char *)(st) + (f)->off))

static const struct audit_family audit_families[] = {
	{"kgate_audit_records_total", "counter",
	 "Audit records written (every kind, gap records included).",
	 offsetof(struct kg_audit_stats, records_total)},
	{"kgate_audit_gap_records_total", "counter", "Gap records written.",
	 offsetof(struct kg_audit_stats, gap_records)},
	{"kgate_audit_sequence", "gauge", "The next record's sequence number.",
	 offsetof(struct kg_audit_stats, next_seq)},
	{"kgate_audit_file_errors_total", "counter", "Failed writes to the audit file.",
	 offsetof(struct kg_audit_stats, file_errors)},
	{"kgate_observe_clients", "gauge", "Connected `kgate observe` clients.",
	 offsetof(struct kg_audit_stats, observe_clients)},
	{"kgate_observe_clients_dropped_total", "counter",
	 "Observe clients dropped for reading too slowly (or over the limit).",
	 offsetof(struct kg_audit_stats, observe_dropped)},
};

/* With a Kafka sink only. */
static const struct audit_family kafka_families[] = {
	{"kgate_audit_spool_records", "gauge", "Records in the spool not yet delivered to Kafka.",
	 offsetof(struct kg_audit_stats, spool_records)},
	{"kgate_audit_spool_bytes", "gauge", "Bytes of the spool's segment files.",
	 offsetof(struct kg_audit_stats, spool_bytes)},
	{"kgate_audit_spool_dropped_total", "counter",
	 "Records the full spool refused (reported in a spool_full gap record).",
	 offsetof(struct kg_audit_stats, spool_dropped_total)},
	{"kgate_audit_delivered_total", "counter",
	 "Records Kafka confirmed (delivery reports) since the agent started.",
	 offsetof(struct kg_audit_stats, sender.delivered)},
	{"kgate_audit_delivery_errors_total", "counter",
	 "Failed delivery reports (each one resends from the spool).",
	 offsetof(struct kg_audit_stats, sender.produce_errors)},
	{"kgate_audit_already_delivered_total", "counter",
	 "Spooled records found in the topic after a restart and not sent again.",
	 offsetof(struct kg_audit_stats, sender.skipped)},
	{"kgate_audit_spool_read_back_total", "counter",
	 "Records the sender read back from the spool's files (brokers away, or it fell "
	 "behind) instead of taking them from memory.",
	 offsetof(struct kg_audit_stats, sender.from_files)},
	{"kgate_audit_recovering", "gauge",
	 "1 while the sender reads the topic back before sending (broker unreachable).",
	 offsetof(struct kg_audit_stats, sender.recovering)},
};

static void families(struct kg_buf *b, const struct audit_family *f, size_t n,
		     const struct kg_audit_stats *st)
{
	for (size_t i = 0; i < n; i++)
		single(b, f[i].name, f[i].type, f[i].help, AUDIT_U64(st, &f[i]));
}

static void render_audit(struct kg_audit *a, struct kg_buf *b)
{
	struct kg_audit_stats st;
	__u64 now = kg_wall_now_ns();

	kg_audit_stats(a, &st);
	help(b, "kgate_decisions_total", "counter",
	     "Decisions in the records written (a record's count), by verdict, operation, rule "
	     "(\"\": the default) and whether enforced.");
	for (size_t i = 0; i < st.nseries; i++) {
		const struct kg_decision_series *s = &st.series[i];

		if (!s->used)
			continue;
		kg_buf_printf(b, "kgate_decisions_total{verdict=\"%s\",operation=\"%s\",rule=\"",
			      kg_action_name(s->verdict), kg_op_name(s->op));
		label(b, s->rule);
		kg_buf_printf(b, "\",enforced=\"%s\"} %llu\n", s->enforced ? "true" : "false",
			      (unsigned long long)s->n);
	}
	help(b, "kgate_undecodable_total", "counter", "Undecodable records written, by reason.");
	for (__u32 i = 1; i < KD_REASON__COUNT; i++)
		sample(b, "kgate_undecodable_total", "reason", kd_reason_name(i), st.undecodable[i]);
	help(b, "kgate_audit_records_by_kind_total", "counter", "Decision records by kind.");
	for (__u32 k = KG_EV_TOPIC; k <= KG_EV_LIMIT; k++)
		sample(b, "kgate_audit_records_by_kind_total", "kind", kg_event_kind_name(k),
		       st.by_kind[k]);
	help(b, "kgate_audit_lost_reported_total", "counter",
	     "Lost ring-buffer events reported in gap records, by verdict class.");
	sample(b, "kgate_audit_lost_reported_total", "class", "deny", st.gap_lost[0]);
	sample(b, "kgate_audit_lost_reported_total", "class", "allow", st.gap_lost[1]);
	help(b, "kgate_audit_folded_total", "counter",
	     "Decisions past a connection's event budget that records carried as folded, by "
	     "verdict class.");
	sample(b, "kgate_audit_folded_total", "class", "deny", st.folded[KG_LOST_DENY]);
	sample(b, "kgate_audit_folded_total", "class", "allow", st.folded[KG_LOST_ALLOW]);
	families(b, audit_families, sizeof(audit_families) / sizeof(audit_families[0]), &st);
	if (!st.kafka)
		return;
	families(b, kafka_families, sizeof(kafka_families) / sizeof(kafka_families[0]), &st);
	help(b, "kgate_audit_delivery_lag_seconds", "gauge",
	     "Age of the oldest record not yet delivered to Kafka (0: none waits).");
	kg_buf_printf(b, "kgate_audit_delivery_lag_seconds %.3f\n",
		      st.sender.oldest_ts_ns && now > st.sender.oldest_ts_ns
			      ? (now - st.sender.oldest_ts_ns) / 1e9
			      : 0.0);
}

void kg_metrics_render(const struct kg_metrics_sources *src, struct kg_buf *b)
{
	if (src->audit)
		render_audit(src->audit, b);
	if (src->nmaps)
		render_datapath(src, b);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

int kg_metrics_pollfds(struct kg_metrics *m, struct pollfd *p)
{
	int n = 0;

	if (!m)
		return 0;
	p[n++] = (struct pollfd){.fd = m->fd, .events = POLLIN};
	for (int i = 0; i < KG_METRICS_CONNS; i++) {
		struct kg_http_conn *c = &m->http[i];

		p[n++] = (struct pollfd){.fd = c->q.fd, .events = c->responding ? POLLOUT : POLLIN};
	}
	return n;
}

int kg_metrics_poll_with(struct kg_metrics *m, struct kg_audit *a, int timeout_ms)
{
	struct pollfd p[KG_AUDIT_POLLFDS + KG_METRICS_POLLFDS];
	int na = a ? kg_audit_pollfds(a, p) : 0;
	int nm = kg_metrics_pollfds(m, p + na);

	if (poll(p, na + nm, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	if (a)
		kg_audit_serve(a, p, na);
	kg_metrics_serve(m, p + na, nm);
	return 0;
}

static void respond(struct kg_metrics *m, struct kg_http_conn *c)
{
	struct kg_buf body = {0}, head = {0};
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	char method[16] = "", path[256] = "";

	sscanf(c->in, "%15s %255s", method, path);
	if (strchr(path, '?'))
		*strchr(path, '?') = 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = "405 Method Not Allowed";
		kg_buf_printf(&body, "GET only\n");
	} else if (!strcmp(path, "/metrics")) {
		kg_metrics_render(&m->src, &body);
	} else if (!strcmp(path, "/healthz")) {
		ctype = "text/plain; charset=utf-8";
		kg_buf_printf(&body, "ok\n");
	} else {
		status = "404 Not Found";
		kg_buf_printf(&body, "/metrics or /healthz\n");
	}
	kg_buf_printf(&head,
		   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
		   "close\r\n\r\n",
		   status, ctype, body.len);
	if (!kg_outq_add(&c->q, head.p, head.len, HTTP_OUT_MAX) ||
	    (strcmp(method, "HEAD") && body.len &&
	     !kg_outq_add(&c->q, body.p, body.len, HTTP_OUT_MAX)))
		c->q.len = c->q.off = 0;
	kg_buf_free(&body);
	kg_buf_free(&head);
	c->responding = true;
}

static void conn_close(struct kg_http_conn *c)
{
	kg_outq_close(&c->q);
	c->inlen = 0;
	c->responding = false;
}

void kg_metrics_serve(struct kg_metrics *m, const struct pollfd *p, int n)
{
	__u64 now = kg_now_ms();
	int fd;

	if (!m || n < 1)
		return;
	for (int i = 0; i < KG_METRICS_CONNS; i++) {
		struct kg_http_conn *c = &m->http[i];
		const struct pollfd *pp = &p[1 + i];

		if (c->q.fd < 0)
			continue;
		if (pp->fd == c->q.fd && pp->revents & POLLIN && !c->responding) {
			ssize_t r = recv(c->q.fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen,
					 MSG_DONTWAIT);

			if (r <= 0) {
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					conn_close(c);
				continue;
			}
			c->inlen += r;
			c->in[c->inlen] = 0;
			if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n") ||
			    c->inlen == sizeof(c->in) - 1)
				respond(m, c);
		}
		if (c->responding) {
			if (kg_outq_flush(&c->q) || c->q.len == 0) {
				conn_close(c);
				continue;
			}
		}
		if (now > c->deadline_ms)
			conn_close(c);
	}
	if (!(p[0].revents & POLLIN))
		return;
	while ((fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct kg_http_conn *c = NULL;

		for (int i = 0; i < KG_METRICS_CONNS && !c; i++)
			if (m->http[i].q.fd < 0)
				c = &m->http[i];
		if (!c) {
			close(fd);
			continue;
		}
		c->q.fd = fd;
		c->inlen = 0;
		c->responding = false;
		c->deadline_ms = now + HTTP_TIMEOUT_MS;
	}
}
