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

#endif /* KGATE_DATAPATH_EVENTS_H */
