/* SPDX-License-Identifier: Apache-2.0 */
/* Turning decoder events into text and JSON: used by `kgate decode`, `kgate probe` and tests. */
#ifndef KGATE_DECODE_REPORT_H
#define KGATE_DECODE_REPORT_H

#include <stddef.h>
#include "maps/kgate_abi.h"

/* A growable string. */
struct kdr_buf {
	char *p;
	size_t len;
	size_t cap;
};

void kdr_printf(struct kdr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends bytes as a JSON string body (no quotes) or as text with \xHH for the unprintable. */
void kdr_json_bytes(struct kdr_buf *b, const __u8 *p, size_t n);
void kdr_text_bytes(struct kdr_buf *b, const __u8 *p, size_t n);
void kdr_free(struct kdr_buf *b);

const char *kd_reason_name(unsigned int reason);
const char *kg_op_name(unsigned int op);
const char *kd_event_name(unsigned int ev);
/* "all", "prefix", "match", "regex" for kd_state.tset (KD_TS_*). */
const char *kd_tset_name(unsigned int tset);
/* Kafka's name for an api key ("Produce"), or NULL. */
const char *kafka_api_name(unsigned int key);

/* One line (with '\n') describing event ev with the data the state holds for it. */
void kdr_event_text(struct kdr_buf *b, const struct kd_state *st, int ev);
/* One JSON object (with '\n') for event ev. */
void kdr_event_json(struct kdr_buf *b, const struct kd_state *st, int ev);

/* The state fields an event carries, from the decode probe's ring-buffer record. */
void kd_probe_to_state(const struct kd_probe_event *e, struct kd_state *st);

#endif
