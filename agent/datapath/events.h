/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the datapath's decision events. A kg_event_recs ring-buffer record holds the
 * events of one packet as entries: a context (what they share), then one compact entry
 * per event (maps/kgate_maps.h, KG_REC_*). kg_events_each puts each event back together
 * as a whole struct kg_event, so every reader (kgate run, the datapath tests, the
 * benchmark) sees events one by one, as before.
 */
#ifndef KGATE_DATAPATH_EVENTS_H
#define KGATE_DATAPATH_EVENTS_H

#include <stddef.h>

#include "maps/kgate_maps.h"

/* Called per event, in record order; e is valid during the call only. */
typedef void (*kg_event_cb)(void *ctx, const struct kg_event *e);

/*
 * Calls cb with each event of the record rec[0..size): a whole struct kg_event, zero
 * past its client id and its topic. Returns the number of events, or -EBADMSG when the
 * record is malformed (an entry cut short, of an unknown type, with a size that does not
 * match its contents, or an event before any context): the events before the fault
 * were delivered, none from it on. Never reads outside rec[0..size).
 */
int kg_events_each(const void *rec, size_t size, kg_event_cb cb, void *ctx);

/*
 * A reader of the event ring buffers (one per interface, BPF_MAP_TYPE_RINGBUF) that lets
 * records go -- moves the kernel's consumer position past them -- only when its caller
 * has made them safe: the agent writes a batch of events to its sinks, then lets the
 * batch go, so a killed agent loses nothing it took, and the sinks are written once per
 * batch instead of once per record. (libbpf's ring_buffer lets each record go as soon as
 * its callback returns.) Records are read in place from the shared mapping.
 */
struct kg_evring;

/* Records of one ring taken before they are committed and let go: bounds how much of the
 * ring a batch keeps occupied (about 1,024 x 550 bytes of a 16 MiB ring). */
#define KG_EVRING_BATCH 1024

/* One record (data[0..size), valid during the call): 0 goes on, < 0 stops the read. */
typedef int (*kg_evring_rec_fn)(void *ctx, const void *data, size_t size);
/* The records handed over since the last commit are safe: they are let go after it. */
typedef void (*kg_evring_commit_fn)(void *ctx);

struct kg_evring *kg_evring_new(kg_evring_rec_fn rec, kg_evring_commit_fn commit, void *ctx);
/* Adds a ring buffer map (its fd stays the caller's). 0 or -errno. */
int kg_evring_add(struct kg_evring *er, int map_fd);
/*
 * Reads every ring up to what was submitted: rec for each record (discarded ones are
 * skipped), commit after every KG_EVRING_BATCH of a ring and at its end, then the records
 * go. Records still being written are left for the next call. Returns the number of
 * records, or the first negative rec() result (records before it were committed).
 */
long kg_evring_consume(struct kg_evring *er);
void kg_evring_free(struct kg_evring *er);

#endif /* KGATE_DATAPATH_EVENTS_H */
