// SPDX-License-Identifier: Apache-2.0
/*
 * The conformance run's driver: feeds the frames tests/conformance/conform.py generated
 * from Kafka's message layouts to the host build of kgate's decoder (the same source the
 * BPF programs run) and prints what the decoder reported, one event per line as `kgate
 * decode` prints it. The comparison with what the generator put in is conform.py's.
 *
 * Each case is fed whole (one chunk, with the datapath's step bound), one byte at a time,
 * and, for cases marked so, in two chunks split at every byte; every chunking must give
 * the identical report ("split" lines name the chunkings that did not).
 *
 * `conform_drv --apis` prints the decoder's api table instead (key, known, newest version,
 * first flexible version, request and response program lengths, "topics not read"), and
 * its table of known tagged fields (key, depth, tag, first version, size), which
 * conform.py checks against Kafka's.
 *
 * Input (binary): "KGC1", then per case: u32 id, u8 dir (0 requests, 1 responses), u8 flags
 * (bit 0: every split), u16 nframes, u32 len, nframes x (u16 key, u16 version) (the request
 * each response answers, in order), len bytes. All little-endian.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"

/* Frames in one case (a pipelined stream); more is a generator error. */
#define CD_MAX_FRAMES 64

struct cd_case {
	uint32_t id;
	uint8_t dir;
	uint8_t flags;
	uint16_t nframes;
	uint32_t len;
	uint16_t keys[CD_MAX_FRAMES][2];
	uint8_t *data;
};

struct cd_run {
	const struct cd_case *c;
	struct kg_buf out;
	struct kd_state st;
	int resp_no;     /* responses begun */
};

/* One event in kgate decode's text (agent/decode/report.c), which the generator writes too. */
static void on_event(struct cd_run *r, int ev)
{
	kdr_event_text(&r->out, &r->st, ev);
	if (ev == KD_EV_RESP && r->resp_no < r->c->nframes) {
		/* as TC egress does: the response answers the next request in order */
		kd_resp_begin(&r->st, r->c->keys[r->resp_no][0], r->c->keys[r->resp_no][1]);
		r->resp_no++;
	}
}

/* Feeds bytes [from, to) as one chunk with the datapath's step bound for its size. */
static int feed(struct cd_run *r, uint32_t from, uint32_t to)
{
	struct kd_src s = { .off = 0, .end = to - from };
	const uint8_t *p = r->c->data + from;
	uint32_t steps = KD_STEPS_FOR(to - from);
	int ev;

	for (uint32_t i = 0; i < steps; i++) {
		ev = kd_step(p, &r->st, &s);
		if (ev == KD_EV_NEED_MORE)
			return 0;
		if (ev == KD_EV_CONTINUE)
			continue;
		on_event(r, ev);
		if (ev == KD_EV_ERROR && r->st.phase == KD_PH_DEAD)
			return -1;
	}
	kd_fatal(&r->st, KD_ERR_BOUND);
	on_event(r, KD_EV_ERROR);
	return -1;
}

/* The report for one chunking: cut points ascending (0 = none); caller frees. */
static char *run(const struct cd_case *c, const uint32_t *cuts, int ncuts, uint32_t every)
{
	struct cd_run r = { .c = c };
	uint32_t at = 0;

	kd_init(&r.st);
	r.st.resp = c->dir == 1;
	if (every) {
		for (at = 0; at < c->len; at += every)
			if (feed(&r, at, at + every < c->len ? at + every : c->len))
				break;
	} else {
		for (int i = 0; i <= ncuts; i++) {
			uint32_t to = i < ncuts ? cuts[i] : c->len;

			if (feed(&r, at, to))
				break;
			at = to;
		}
	}
	if (r.st.phase != KD_PH_SIZE || r.st.skip || r.st.carry_len)
		kg_buf_printf(&r.out, "eof inside a frame (phase %u)\n", r.st.phase);
	kg_buf_printf(&r.out, "%s", "");
	return r.out.p;
}

static int get(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
	char magic[4];
	struct cd_case c;
	unsigned long cases = 0, split_bad = 0;

	if (argc > 1 && !strcmp(argv[1], "--apis")) {
		for (unsigned int k = 0; k < KD_API_COUNT; k++) {
			const struct kd_api *a = &kd_apis[k];

			printf("api %u %u %u %u %u %u %u %s\n", k, a->known, a->max_ver, a->flex_min,
			       a->prog_len, a->rprog_len, a->topics, kg_op_name(a->opclass));
		}
		for (unsigned int i = 0; i < KD_KNOWN_TAGS; i++)
			printf("tag %u %u %u %u %u\n", kd_known_tags[i].key, kd_known_tags[i].depth,
			       kd_known_tags[i].tag, kd_known_tags[i].vmin, kd_known_tags[i].size);
		return 0;
	}
	if (!f || get(f, magic, 4) || memcmp(magic, "KGC1", 4)) {
		fprintf(stderr, "conform_drv: %s: not a case file\n", argc > 1 ? argv[1] : "-");
		return 2;
	}
	while (!get(f, &c.id, 4)) {
		char *whole, *alt;

		if (get(f, &c.dir, 1) || get(f, &c.flags, 1) || get(f, &c.nframes, 2) ||
		    get(f, &c.len, 4) || c.nframes > CD_MAX_FRAMES ||
		    get(f, c.keys, 4u * c.nframes)) {
			fprintf(stderr, "conform_drv: truncated case file\n");
			return 2;
		}
		c.data = malloc(c.len ? c.len : 1);
		if (!c.data || get(f, c.data, c.len)) {
			fprintf(stderr, "conform_drv: truncated case file\n");
			return 2;
		}
		whole = run(&c, NULL, 0, 0);
		printf("case %u\n%s", c.id, whole);
		alt = run(&c, NULL, 0, 1);
		if (strcmp(alt, whole)) {
			printf("split %u bytewise\n", c.id);
			split_bad++;
		}
		free(alt);
		if (c.flags & 1) {
			for (uint32_t cut = 1; cut < c.len; cut++) {
				alt = run(&c, &cut, 1, 0);
				if (strcmp(alt, whole)) {
					printf("split %u at %u\n", c.id, cut);
					split_bad++;
					free(alt);
					break;
				}
				free(alt);
			}
		}
		free(whole);
		free(c.data);
		cases++;
	}
	fprintf(stderr, "conform_drv: %lu cases, %lu chunkings that differ\n", cases, split_bad);
	return 0;
}
