/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/metrics: Prometheus text over HTTP (GET /metrics, GET /healthz), served on the
 * agent's thread from its poll loop. Each subsystem exports a snapshot of what it counts
 * (kg_audit_stats, kg_datapath_stats); this folder turns the snapshots into metric
 * families and reads nothing else of theirs.
 *
 * May call: agent/lib, the public interfaces of agent/audit and agent/datapath.
 */
#ifndef KGATE_METRICS_H
#define KGATE_METRICS_H

#include <poll.h>
#include <stddef.h>

#include "agent/audit/audit.h"
#include "agent/datapath/maps.h"
#include "agent/lib/lib.h"

/* What a scrape reads. Every part is optional (NULL / 0: its families are left out). */
struct kg_metrics_sources {
	struct kg_audit *audit;     /* the records written: kg_audit_stats() */
	const struct kg_maps *maps; /* the datapath of every interface: kg_datapath_stats() */
	int nmaps;
	kg_names_fn names;          /* the active policy's version and rule names */
	void *names_ctx;
};

/* Metrics connections served at once; more wait in the listen backlog. */
#define KG_METRICS_CONNS 8
/* pollfds the server waits on, at most this. */
#define KG_METRICS_POLLFDS (1 + KG_METRICS_CONNS)

struct kg_metrics;

/* Listens on addr ("ADDR:PORT", "[V6]:PORT", ":PORT"): NULL with err set. */
struct kg_metrics *kg_metrics_open(const char *addr, const struct kg_metrics_sources *src,
				   char *err, size_t errlen);
int kg_metrics_pollfds(struct kg_metrics *m, struct pollfd *p);
void kg_metrics_serve(struct kg_metrics *m, const struct pollfd *p, int n);
/*
 * One poll() of up to timeout_ms over the metrics server's descriptors and the audit
 * pipeline's (a; NULL: none), then serves both: the agent's one wait.
 */
int kg_metrics_poll_with(struct kg_metrics *m, struct kg_audit *a, int timeout_ms);
void kg_metrics_close(struct kg_metrics *m);

/* The Prometheus text of src, appended to b. */
void kg_metrics_render(const struct kg_metrics_sources *src, struct kg_buf *b);

#endif
