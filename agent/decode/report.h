/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/decode: the host side of the stream decoder (bpf/kafka_decode.h, the very code the
 * datapath runs): its events as one text or JSON line each, for `kgate decode` (a
 * capture), `kgate probe` (the decode probe's ring buffer) and the tests.
 *
 * May call: agent/lib, maps/, bpf/kafka_decode.h.
 */
#ifndef KGATE_DECODE_REPORT_H
#define KGATE_DECODE_REPORT_H

#include <stddef.h>

#include "agent/lib/lib.h"
#include "maps/kgate_abi.h"

/* Appends bytes as text, \xHH for the unprintable (and for '\\' and ','). */
void kdr_text_bytes(struct kg_buf *b, const __u8 *p, size_t n);

/* One line (with '\n') describing event ev with the data the state holds for it; the
 * tests' canonical form ("frame key=0 ver=7 corr=1 ..."). */
void kdr_event_text(struct kg_buf *b, const struct kd_state *st, int ev);
/* The same for a reader (kgate decode, probe): a frame says its API by name, "frame
 * Produce v7 (key 0) corr=1 ..."; every other event as kdr_event_text. */
void kdr_event_line(struct kg_buf *b, const struct kd_state *st, int ev);
/* One JSON object (with '\n') for event ev. */
void kdr_event_json(struct kg_buf *b, const struct kd_state *st, int ev);

/* The state fields an event carries, from the decode probe's ring-buffer record. */
void kd_probe_to_state(const struct kd_probe_event *e, struct kd_state *st);

#endif
