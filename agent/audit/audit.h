/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit pipeline: decision events from the datapath's ring buffer become one JSON
 * record each (stable field names, documented in README.md), numbered by a per-node
 * sequence, and go to every configured sink: an append-only file, a Kafka audit topic
 * (librdkafka, idempotent, acks=all, key = node name) with an on-disk spool while the
 * brokers are unreachable, `kgate observe` clients on a unix socket, and Prometheus
 * metrics. Nothing is dropped silently: lost ring-buffer events become `gap` records.
 *
 * The runtime (kgate run) owns the ring buffer and calls kg_audit_event() per event.
 */
#ifndef KGATE_AUDIT_H
#define KGATE_AUDIT_H

#include <stddef.h>
#include <linux/types.h>

#include "agent/policy/write.h"
#include "maps/kgate_maps.h"

/* Interfaces one agent serves (kgate run --iface, repeated). */
#define KG_AUDIT_MAX_IFACES 8

/* Names for the ids an event carries, resolved with the policy version it was decided
 * under (ev->version_id). Empty strings where there is no name. */
struct kg_event_names {
	char policy_version[128]; /* the policy's `version` */
	char rule[64];            /* "" when the default action decided */
	char region[64];          /* "" when the source is in no region */
	char principal[KD_USER_MAX + 1]; /* by principal_id; the event's own bytes win when set */
};

/* Fills out for ev. Never fails: unknown ids give "" (the record still has the ids). */
typedef void (*kg_names_fn)(void *ctx, const struct kg_event *ev, struct kg_event_names *out);

struct kg_audit_opts {
	const char *node;         /* node name: record field "node" and Kafka message key */
	const char *brokers;      /* "host:port,...", NULL = no Kafka sink */
	const char *topic;        /* audit topic (required with brokers) */
	const char *file;         /* append-only JSON-lines file, NULL = none */
	const char *spool_dir;    /* Kafka spool and the persisted sequence number */
	const char *observe_sock; /* unix socket `kgate observe` connects to, NULL = none */
	const char *metrics_addr; /* "ADDR:PORT" for Prometheus text, NULL = none */
	const struct kg_maps *maps; /* counters/rule_hits/flows/active for gaps and metrics,
				     * one set per interface (nmaps; 0 = 1 when maps is
				     * set); NULL in tests without a datapath */
	const char *const *ifaces;  /* their interface names (lost-event baselines are
				     * kept per interface); NULL: "" */
	int nmaps;                  /* at most KG_AUDIT_MAX_IFACES */
	kg_names_fn names;        /* NULL: records carry ids only */
	void *names_ctx;
};

struct kg_audit;

/* NULL with err set on a bad option or an unusable file/spool/socket. An unreachable
 * broker is not an error: records are spooled until it answers. */
struct kg_audit *kg_audit_open(const struct kg_audit_opts *o, char *err, size_t errlen);

/* One ring-buffer event: encoded, numbered, handed to every sink. 0 or -errno. */
int kg_audit_event(struct kg_audit *a, const struct kg_event *ev);

/* Compares the datapath's lost-event counters with the last look; when they moved,
 * writes one `gap` record (lost deny/allow counts, between which sequence numbers). */
int kg_audit_check_gaps(struct kg_audit *a);

/* Serves delivery reports, spool replay, observe clients and metrics requests;
 * returns within timeout_ms. */
int kg_audit_poll(struct kg_audit *a, int timeout_ms);

/* Flushes (waiting up to timeout_ms for Kafka; what is undelivered stays spooled),
 * persists the sequence number, frees. */
void kg_audit_close(struct kg_audit *a, int timeout_ms);

/* The JSON record of ev, without newline: length written, or -1 when len is too small. */
int kg_audit_encode(char *buf, size_t len, const struct kg_event *ev,
		    const struct kg_event_names *names, __u64 seq, const char *node);

#endif
