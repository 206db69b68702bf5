/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/drain: the datapath's decision events into the audit pipeline, as `kgate run` does
 * it (and its tests, on real ring buffers). Each drain reads the event ring buffers
 * (agent/datapath/events.h) in batches: a batch is written to every sink at once
 * (kg_audit_batch_*) and leaves its ring buffer at the commit right after, when it holds
 * KG_EVRING_BATCH ring-buffer records or KG_AUDIT_BATCH_BYTES of records, or at a ring's
 * end. So a killed agent loses nothing it took, and nothing of a batch is on disk before
 * the batch is let go but for the moment between the write and the commit, which a
 * restarted agent settles: before its first drain it skips the events at each ring's head
 * whose records end what was written (kg_audit_resume_*).
 *
 * A folder of its own: agent/audit may not call agent/datapath, and agent/cmd is not in
 * libkgate.a, which the unit tests link.
 *
 * May call: agent/audit, agent/datapath/events.h, agent/lib.
 */
#ifndef KGATE_DRAIN_H
#define KGATE_DRAIN_H

#include <stdbool.h>

#include "agent/audit/audit.h"

struct kg_drain;

/* A drain into a (the caller's: open until kg_drain_free). NULL when out of memory. */
struct kg_drain *kg_drain_new(struct kg_audit *a);
/* Adds an event ring buffer (BPF_MAP_TYPE_RINGBUF; its fd stays the caller's). 0 or -errno. */
int kg_drain_add(struct kg_drain *d, int map_fd);
/*
 * Once, before the first drain: the events at each ring's head that a killed agent had
 * written but not let go (their records end the audit file or spool) are skipped when
 * taken. The number of them.
 */
unsigned long long kg_drain_resume(struct kg_drain *d);
/*
 * Takes what every ring holds, to one ring's size of bytes each: true when a ring had more
 * (the caller comes back at once instead of waiting for its next period).
 */
bool kg_drain_run(struct kg_drain *d);

struct kg_drain_stats {
	unsigned long long events;	/* handed to the pipeline */
	unsigned long long skipped;	/* written before a restart: not recorded again */
	unsigned long long bad_records; /* ring-buffer records that were not event lists */
};

void kg_drain_stats(const struct kg_drain *d, struct kg_drain_stats *st);
void kg_drain_free(struct kg_drain *d);

#endif /* KGATE_DRAIN_H */
