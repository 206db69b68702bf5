// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus metrics over HTTP (GET /metrics, GET /healthz), served from kg_audit_poll()
 * on the agent's thread: no locks with the pipeline, and a scrape costs one pass over
 * the datapath's counters, the flows map and the active rules' hit counters.
 *
 * Two sources, named apart: kgate_decisions_total and kgate_undecodable_total count the
 * records this agent wrote (what the audit stream holds); kgate_datapath_* read the
 * datapath's own counters (every decision, recorded or not, since the maps were made).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/audit/internal.h"
#include "agent/decode/report.h"

/* A request that has not arrived whole within this is dropped. */
#define HTTP_TIMEOUT_MS 5000
/* Response bytes queued per connection (a scrape with 10,000 rules is ~1 MB). */
#define HTTP_OUT_MAX (64u << 20)

#define KG_NAME_ENTRY(sym, name) [sym] = name,
static const char *const counter_names[] = {KG_COUNTERS(KG_NAME_ENTRY)};

int kg_metrics_open(struct kg_audit *a, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char host[256], *port;
	const char *h;
	int r, one = 1;

	/* ADDR:PORT, [V6]:PORT, :PORT (every address) */
	snprintf(host, sizeof(host), "%s", a->metrics_addr);
	port = strrchr(host, ':');
	if (!port || !port[1]) {
		snprintf(err, errlen, "--metrics-addr %s: expected ADDR:PORT", a->metrics_addr);
		return -EINVAL;
	}
	*port++ = 0;
	h = host;
	if (h[0] == '[') {
		size_t l = strlen(h);

		if (l < 2 || h[l - 1] != ']') {
			snprintf(err, errlen, "--metrics-addr %s: expected [ADDR]:PORT",
				 a->metrics_addr);
			return -EINVAL;
		}
		host[l - 1] = 0;
		h = host + 1;
	}
	r = getaddrinfo(*h ? h : NULL, port, &hints, &res);
	if (r) {
		snprintf(err, errlen, "--metrics-addr %s: %s", a->metrics_addr, gai_strerror(r));
		return -EINVAL;
	}
	a->met_fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->met_fd < 0 || setsockopt(a->met_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(a->met_fd, res->ai_addr, res->ai_addrlen) || listen(a->met_fd, 16)) {
		r = -errno;
		snprintf(err, errlen, "--metrics-addr %s: %s", a->metrics_addr, strerror(errno));
		freeaddrinfo(res);
		return r;
	}
	freeaddrinfo(res);
	return 0;
}

void kg_metrics_close(struct kg_audit *a)
{
	for (int i = 0; i < KG_METRICS_CONNS; i++)
		if (a->http[i].q.fd >= 0 || a->http[i].q.p)
			kg_outq_close(&a->http[i].q);
	if (a->met_fd >= 0)
		close(a->met_fd);
	a->met_fd = -1;
}

static __u32 hash_series(__u8 verdict, __u8 op, __u8 enforced, const char *rule)
{
	__u32 h = 2166136261u ^ (verdict << 16 | op << 8 | enforced);

	for (const char *p = rule; *p; p++)
		h = (h ^ (__u8)*p) * 16777619u;
	return h;
}

void kg_metrics_count(struct kg_audit *a, const struct kg_event *ev, const char *rule)
{
	const char *r = rule && *rule ? rule : "";
	__u8 enf = ev->enforced ? 1 : 0;
	__u32 h = hash_series(ev->verdict, ev->op, enf, r);

	for (int overflow = 0; overflow < 2; overflow++) {
		for (__u32 i = 0; i < KG_METRICS_SERIES; i++) {
			struct kg_series *s = &a->series[(h + i) % KG_METRICS_SERIES];

			if (!s->used) {
				/* keep the last slots for the "(other)" series */
				if (!overflow && i > KG_METRICS_SERIES / 2)
					break;
				s->used = 1;
				s->verdict = ev->verdict;
				s->op = ev->op;
				s->enforced = enf;
				snprintf(s->rule, sizeof(s->rule), "%s", r);
			}
			if (s->verdict == ev->verdict && s->op == ev->op && s->enforced == enf &&
			    !strcmp(s->rule, r)) {
				s->n++;
				return;
			}
		}
		r = "(other)";
		h = hash_series(ev->verdict, ev->op, enf, r);
	}
}

/* A label value: backslash, quote and newline escaped. */
static void label(struct kdr_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			kdr_printf(b, "\\%c", *s);
		else if (*s == '\n')
			kdr_printf(b, "\\n");
		else
			kdr_printf(b, "%c", *s);
	}
}

static int percpu_sum(int fd, __u32 key, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0)
		return -1;
	{
		__u64 v[ncpu];

		if (bpf_map_lookup_elem(fd, &key, v))
			return -1;
		*out = 0;
		for (int c = 0; c < ncpu; c++)
			*out += v[c];
	}
	return 0;
}

/* A per-CPU counter summed over CPUs and over every interface's datapath. */
enum { SUM_COUNTERS, SUM_RULE_HITS };

static int sum_all(const struct kg_audit *a, int which, __u32 key, __u64 *out)
{
	int found = 0;

	*out = 0;
	for (int i = 0; i < a->nmaps; i++) {
		int fd = which == SUM_COUNTERS ? a->maps[i].counters : a->maps[i].rule_hits;
		__u64 v;

		if (fd >= 0 && !percpu_sum(fd, key, &v)) {
			*out += v;
			found = 1;
		}
	}
	return found ? 0 : -1;
}

static void help(struct kdr_buf *b, const char *name, const char *type, const char *text)
{
	kdr_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void render_datapath(struct kg_audit *a, struct kdr_buf *b)
{
	const struct kg_maps *m = &a->maps[0]; /* the policy: every interface runs the same */
	__u32 zero = 0, gen = 0;
	struct kg_config cfg;
	__u64 v, flows = 0;
	bool have_cfg = false;

	help(b, "kgate_datapath_counter_total", "counter",
	     "The datapath's counters (kg_counters), by name, over every interface.");
	for (__u32 i = 0; i < KG_C_VERDICT_BASE; i++)
		if (!sum_all(a, SUM_COUNTERS, i, &v))
			kdr_printf(b, "kgate_datapath_counter_total{name=\"%s\"} %llu\n",
				   counter_names[i], (unsigned long long)v);
	help(b, "kgate_datapath_decisions_total", "counter",
	     "Decisions the datapath made, by verdict (recorded or not), over every interface.");
	for (__u32 i = 0; i < KG_ACT__COUNT; i++)
		if (!sum_all(a, SUM_COUNTERS, KG_C_VERDICT_BASE + i, &v))
			kdr_printf(b, "kgate_datapath_decisions_total{verdict=\"%s\"} %llu\n",
				   kg_action_name(i), (unsigned long long)v);
	help(b, "kgate_datapath_undecodable_total", "counter",
	     "Frames or flows the datapath could not decode, by reason, over every interface.");
	for (__u32 i = 1; i < KD_REASON__COUNT; i++)
		if (!sum_all(a, SUM_COUNTERS, KG_C_UNDECODABLE_BASE + i, &v))
			kdr_printf(b, "kgate_datapath_undecodable_total{reason=\"%s\"} %llu\n",
				   kd_reason_name(i), (unsigned long long)v);
	help(b, "kgate_events_lost_total", "counter",
	     "Decision events the ring buffers could not take, by verdict class.");
	if (!sum_all(a, SUM_COUNTERS, KG_C_EVENTS_LOST_DENY, &v))
		kdr_printf(b, "kgate_events_lost_total{class=\"deny\"} %llu\n",
			   (unsigned long long)v);
	if (!sum_all(a, SUM_COUNTERS, KG_C_EVENTS_LOST_ALLOW, &v))
		kdr_printf(b, "kgate_events_lost_total{class=\"allow\"} %llu\n",
			   (unsigned long long)v);

	if (m->flows >= 0) {
		for (int i = 0; i < a->nmaps; i++) {
			struct kg_flow_key k, nk;
			void *prev = NULL;
			__u64 n = 0;

			while (a->maps[i].flows >= 0 && n < KG_MAX_FLOWS * 2ull &&
			       !bpf_map_get_next_key(a->maps[i].flows, prev, &nk)) {
				k = nk;
				prev = &k;
				n++;
			}
			flows += n;
		}
		help(b, "kgate_flows", "gauge", "Connections the datapath tracks (all interfaces).");
		kdr_printf(b, "kgate_flows %llu\n", (unsigned long long)flows);
	}

	if (m->active >= 0 && !bpf_map_lookup_elem(m->active, &zero, &gen) && m->config >= 0) {
		gen &= 1;
		have_cfg = !bpf_map_lookup_elem(m->config, &gen, &cfg);
	}
	if (have_cfg) {
		struct kg_event ev = {.version_id = cfg.version_id, .gen = gen};
		struct kg_event_names nm = {0};
		__u32 nrules = 0;

		if (a->names)
			a->names(a->names_ctx, &ev, &nm);
		help(b, "kgate_policy_info", "gauge",
		     "The active policy: version, version id, generation, mode.");
		kdr_printf(b, "kgate_policy_info{version=\"");
		label(b, nm.policy_version);
		kdr_printf(b, "\",version_id=\"%u\",generation=\"%u\",mode=\"%s\"} 1\n",
			   cfg.version_id, gen,
			   cfg.mode == KG_MODE_MONITOR ? "monitor" : "enforce");
		help(b, "kgate_policy_generation", "gauge",
		     "The active policy generation (0 or 1).");
		kdr_printf(b, "kgate_policy_generation %u\n", gen);
		help(b, "kgate_policy_version_id", "gauge", "The active policy's version id.");
		kdr_printf(b, "kgate_policy_version_id %u\n", cfg.version_id);
		/* rules by name, while the names say there is one (the first "" ends them) */
		if (a->names && m->rule_hits >= 0) {
			help(b, "kgate_rule_hits_total", "counter",
			     "Decisions each rule of the active policy made (kg_rule_hits).");
			for (__u32 i = 0; i < KG_METRICS_MAX_RULES; i++) {
				ev.rule_id = i;
				memset(&nm, 0, sizeof(nm));
				a->names(a->names_ctx, &ev, &nm);
				if (!nm.rule[0])
					break;
				if (sum_all(a, SUM_RULE_HITS, gen * KG_MAX_RULES + i, &v))
					break;
				kdr_printf(b, "kgate_rule_hits_total{rule=\"");
				label(b, nm.rule);
				kdr_printf(b, "\",rule_id=\"%u\"} %llu\n", i,
					   (unsigned long long)v);
				nrules++;
			}
		}
		(void)nrules;
	}
}

void kg_metrics_render(struct kg_audit *a, struct kdr_buf *b)
{
	struct kg_sender_stats st;
	__u64 depth = 0, bytes = 0, now = kg_wall_now_ns();
	double lag;

	help(b, "kgate_decisions_total", "counter",
	     "Decision records written, by verdict, operation, rule (\"\": the default) and "
	     "whether enforced.");
	for (__u32 i = 0; i < KG_METRICS_SERIES; i++) {
		struct kg_series *s = &a->series[i];

		if (!s->used)
			continue;
		kdr_printf(b, "kgate_decisions_total{verdict=\"%s\",operation=\"%s\",rule=\"",
			   kg_action_name(s->verdict), kg_op_name(s->op));
		label(b, s->rule);
		kdr_printf(b, "\",enforced=\"%s\"} %llu\n", s->enforced ? "true" : "false",
			   (unsigned long long)s->n);
	}
	help(b, "kgate_undecodable_total", "counter", "Undecodable records written, by reason.");
	for (__u32 i = 1; i < KD_REASON__COUNT; i++)
		kdr_printf(b, "kgate_undecodable_total{reason=\"%s\"} %llu\n", kd_reason_name(i),
			   (unsigned long long)a->undecodable[i]);
	help(b, "kgate_audit_records_total", "counter",
	     "Audit records written (every kind, gap records included).");
	kdr_printf(b, "kgate_audit_records_total %llu\n", (unsigned long long)a->records_total);
	help(b, "kgate_audit_records_by_kind_total", "counter", "Decision records by kind.");
	for (__u32 k = KG_EV_TOPIC; k <= KG_EV_SESSION; k++)
		kdr_printf(b, "kgate_audit_records_by_kind_total{kind=\"%s\"} %llu\n",
			   kg_audit_kind_name(k), (unsigned long long)a->by_kind[k]);
	help(b, "kgate_audit_gap_records_total", "counter", "Gap records written.");
	kdr_printf(b, "kgate_audit_gap_records_total %llu\n", (unsigned long long)a->gap_records);
	help(b, "kgate_audit_lost_reported_total", "counter",
	     "Lost ring-buffer events reported in gap records, by verdict class.");
	kdr_printf(b, "kgate_audit_lost_reported_total{class=\"deny\"} %llu\n",
		   (unsigned long long)a->gap_lost[0]);
	kdr_printf(b, "kgate_audit_lost_reported_total{class=\"allow\"} %llu\n",
		   (unsigned long long)a->gap_lost[1]);
	help(b, "kgate_audit_sequence", "gauge", "The next record's sequence number.");
	kdr_printf(b, "kgate_audit_sequence %llu\n", (unsigned long long)a->next_seq);
	help(b, "kgate_audit_file_errors_total", "counter", "Failed writes to the audit file.");
	kdr_printf(b, "kgate_audit_file_errors_total %llu\n", (unsigned long long)a->file_errors);
	help(b, "kgate_observe_clients", "gauge", "Connected `kgate observe` clients.");
	{
		int n = 0;

		for (int i = 0; i < KG_OBSERVE_CLIENTS; i++)
			n += a->obs[i].fd >= 0;
		kdr_printf(b, "kgate_observe_clients %d\n", n);
	}
	help(b, "kgate_observe_clients_dropped_total", "counter",
	     "Observe clients dropped for reading too slowly (or over the limit).");
	kdr_printf(b, "kgate_observe_clients_dropped_total %llu\n",
		   (unsigned long long)a->obs_dropped);
	if (a->kafka) {
		pthread_mutex_lock(&a->spool.lock);
		depth = a->spool.records;
		bytes = a->spool.bytes;
		pthread_mutex_unlock(&a->spool.lock);
		kg_sender_stats(a, &st);
		lag = st.oldest_ts_ns && now > st.oldest_ts_ns ? (now - st.oldest_ts_ns) / 1e9 : 0;
		help(b, "kgate_audit_spool_records", "gauge",
		     "Records in the spool not yet delivered to Kafka.");
		kdr_printf(b, "kgate_audit_spool_records %llu\n", (unsigned long long)depth);
		help(b, "kgate_audit_spool_bytes", "gauge", "Bytes of the spool's segment files.");
		kdr_printf(b, "kgate_audit_spool_bytes %llu\n", (unsigned long long)bytes);
		help(b, "kgate_audit_spool_dropped_total", "counter",
		     "Records the full spool refused (reported in a spool_full gap record).");
		kdr_printf(b, "kgate_audit_spool_dropped_total %llu\n",
			   (unsigned long long)a->spool_dropped_total);
		help(b, "kgate_audit_delivery_lag_seconds", "gauge",
		     "Age of the oldest record not yet delivered to Kafka (0: none waits).");
		kdr_printf(b, "kgate_audit_delivery_lag_seconds %.3f\n", lag);
		help(b, "kgate_audit_delivered_total", "counter",
		     "Records Kafka confirmed (delivery reports) since the agent started.");
		kdr_printf(b, "kgate_audit_delivered_total %llu\n",
			   (unsigned long long)st.delivered);
		help(b, "kgate_audit_delivery_errors_total", "counter",
		     "Failed delivery reports (each one resends from the spool).");
		kdr_printf(b, "kgate_audit_delivery_errors_total %llu\n",
			   (unsigned long long)st.produce_errors);
		help(b, "kgate_audit_already_delivered_total", "counter",
		     "Spooled records found in the topic after a restart and not sent again.");
		kdr_printf(b, "kgate_audit_already_delivered_total %llu\n",
			   (unsigned long long)st.skipped);
		help(b, "kgate_audit_recovering", "gauge",
		     "1 while the sender reads the topic back before sending (broker "
		     "unreachable).");
		kdr_printf(b, "kgate_audit_recovering %d\n", st.recovering);
	}
	if (a->nmaps && a->maps[0].counters >= 0)
		render_datapath(a, b);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

int kg_metrics_pollfds(struct kg_audit *a, struct pollfd *p)
{
	int n = 0;

	if (a->met_fd < 0)
		return 0;
	p[n++] = (struct pollfd){.fd = a->met_fd, .events = POLLIN};
	for (int i = 0; i < KG_METRICS_CONNS; i++) {
		struct kg_http_conn *c = &a->http[i];

		p[n++] = (struct pollfd){.fd = c->q.fd, .events = c->responding ? POLLOUT : POLLIN};
	}
	return n;
}

static void respond(struct kg_audit *a, struct kg_http_conn *c)
{
	struct kdr_buf body = {0}, head = {0};
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	char method[16] = "", path[256] = "";

	sscanf(c->in, "%15s %255s", method, path);
	if (strchr(path, '?'))
		*strchr(path, '?') = 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = "405 Method Not Allowed";
		kdr_printf(&body, "GET only\n");
	} else if (!strcmp(path, "/metrics")) {
		kg_metrics_render(a, &body);
	} else if (!strcmp(path, "/healthz")) {
		ctype = "text/plain; charset=utf-8";
		kdr_printf(&body, "ok\n");
	} else {
		status = "404 Not Found";
		kdr_printf(&body, "/metrics or /healthz\n");
	}
	kdr_printf(&head,
		   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
		   "close\r\n\r\n",
		   status, ctype, body.len);
	if (!kg_outq_add(&c->q, head.p, head.len, HTTP_OUT_MAX) ||
	    (strcmp(method, "HEAD") && body.len &&
	     !kg_outq_add(&c->q, body.p, body.len, HTTP_OUT_MAX)))
		c->q.len = c->q.off = 0;
	kdr_free(&body);
	kdr_free(&head);
	c->responding = true;
}

static void conn_close(struct kg_http_conn *c)
{
	kg_outq_close(&c->q);
	c->inlen = 0;
	c->responding = false;
}

void kg_metrics_serve(struct kg_audit *a, const struct pollfd *p, int n)
{
	__u64 now = kg_now_ms();
	int fd;

	if (a->met_fd < 0 || n < 1)
		return;
	for (int i = 0; i < KG_METRICS_CONNS; i++) {
		struct kg_http_conn *c = &a->http[i];
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
				respond(a, c);
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
	while ((fd = accept4(a->met_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct kg_http_conn *c = NULL;

		for (int i = 0; i < KG_METRICS_CONNS && !c; i++)
			if (a->http[i].q.fd < 0)
				c = &a->http[i];
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
