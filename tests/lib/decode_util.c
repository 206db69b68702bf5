// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"
#include "decode_util.h"

/*
 * Generous (the tests feed whole captures as one chunk) but finite: no input needs
 * more than a few steps per byte, so a report that hits this bound means the decoder
 * stopped making progress (the fuzzer treats it as a crash).
 */
#define DU_STEPS(len) (4096u + 64u * (__u32)(len))

static void render_cb(void *arg, const struct kd_state *st, int ev)
{
	kdr_event_text(arg, st, ev);
}

char *du_render_cuts(const uint8_t *buf, size_t len, const size_t *cuts, int ncuts)
{
	struct kg_buf out = { 0 };
	struct kd_state st;
	size_t start = 0;

	kd_init(&st);
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (kd_feed(&st, buf + start, end - start, DU_STEPS(end - start), render_cb, &out) ==
		    KD_EV_ERROR)
			break;
		start = end;
	}
	kg_buf_printf(&out, "eof phase=%u skip=%u carry=%u\n", st.phase, st.skip, st.carry_len);
	return out.p;
}

char *du_render_chunked(const uint8_t *buf, size_t len, size_t chunk)
{
	struct kg_buf out = { 0 };
	struct kd_state st;

	kd_init(&st);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len || off == 0; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (kd_feed(&st, buf + off, n, DU_STEPS(n), render_cb, &out) == KD_EV_ERROR)
			break;
		if (!len)
			break;
	}
	kg_buf_printf(&out, "eof phase=%u skip=%u carry=%u\n", st.phase, st.skip, st.carry_len);
	return out.p;
}

struct summary {
	struct kg_buf out;
	int ntopics;
};

static void summary_cb(void *arg, const struct kd_state *st, int ev)
{
	struct summary *s = arg;

	switch (ev) {
	case KD_EV_FRAME:
		kg_buf_printf(&s->out, "key=%u ver=%u corr=%d client=", st->api_key, st->api_version,
			   st->corr);
		if (st->client_id_null == 1)
			kg_buf_printf(&s->out, "-");
		else
			kdr_text_bytes(&s->out, st->client_id, st->client_id_len);
		kg_buf_printf(&s->out, " topics=");
		s->ntopics = 0;
		break;
	case KD_EV_TOPIC:
		if (s->ntopics++)
			kg_buf_printf(&s->out, ",");
		if (st->tkind & KD_TK_NAME) {
			kdr_text_bytes(&s->out, st->name, st->name_len);
		} else if (st->tkind & KD_TK_ID) {
			kg_buf_printf(&s->out, "id:");
			for (int i = 0; i < 16; i++)
				kg_buf_printf(&s->out, "%02x", st->uuid[i]);
		} else {
			kg_buf_printf(&s->out, "null");
		}
		break;
	case KD_EV_FRAME_END:
		kg_buf_printf(&s->out, "%s\n", s->ntopics ? "" : "-");
		break;
	case KD_EV_ERROR:
		kg_buf_printf(&s->out, "\nerror %s\n", kd_reason_name(st->reason));
		break;
	}
}

char *du_summary(const uint8_t *buf, size_t len)
{
	struct summary s = { 0 };
	struct kd_state st;

	kd_init(&st);
	kd_feed(&st, buf, len, DU_STEPS(len), summary_cb, &s);
	kg_buf_printf(&s.out, "%s", "");
	return s.out.p;
}

void du_decode(const uint8_t *buf, size_t len, struct kd_state *st)
{
	kd_init(st);
	kd_feed(st, buf, len, DU_STEPS(len), NULL, NULL);
}

uint8_t *du_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc(n + 1);
		if (p && fread(p, 1, n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*len = n;
	}
	fclose(f);
	return p;
}
