// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target over the host build of the stream decoder (ASan + UBSan).
 *
 * The input is one connection's client->broker bytes. Besides memory safety and UB,
 * it checks three properties and aborts when one breaks:
 *  - split invariance: the report is identical fed whole and fed in chunks cut at
 *    positions derived from the input itself;
 *  - progress: decoding never needs 64 steps per byte;
 *  - state bounds: lengths the decoder reports stay within their buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/kafka_decode.h"
#include "tests/lib/decode_util.h"

static void check_state(void *arg, const struct kd_state *st, int ev)
{
	(void)arg;
	(void)ev;
	if (st->name_len > KD_TOPIC_MAX || st->client_id_len > KD_CLIENT_ID_MAX ||
	    st->user_len > KD_USER_MAX || st->mech_len > KD_MECH_NAME_MAX ||
	    st->depth > KD_MAX_DEPTH || st->carry_len > KD_CARRY_MAX) {
		fprintf(stderr, "decoder state out of bounds\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[16];
	int ncuts = 0;
	uint32_t h = 2166136261u;
	char *whole, *split;
	struct kd_state st;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	for (size_t pos = 0; ncuts < 16 && size > 1;) {
		h = h * 1103515245u + 12345u;
		pos += 1 + (h >> 8) % (size / 4 + 1);
		if (pos >= size)
			break;
		cuts[ncuts++] = pos;
	}
	whole = du_render_chunked(data, size, 0);
	if (strstr(whole, "error decoder_bound")) {
		/* 64 steps per byte is far beyond any input: the decoder stopped progressing */
		fprintf(stderr, "decoder made no progress\n%s", whole);
		abort();
	}
	split = du_render_cuts(data, size, cuts, ncuts);
	if (strcmp(whole, split)) {
		fprintf(stderr, "split invariance broken\n--- whole ---\n%s--- split ---\n%s", whole,
			split);
		abort();
	}
	free(whole);
	free(split);

	/* The datapath's step bound, on MTU-sized chunks. */
	kd_init(&st);
	for (size_t off = 0; off < size; off += 1448) {
		size_t n = size - off < 1448 ? size - off : 1448;

		if (kd_feed(&st, data + off, n, KD_MAX_STEPS_PER_CHUNK, check_state, NULL) ==
		    KD_EV_ERROR)
			break;
	}
	return 0;
}
