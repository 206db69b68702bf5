// SPDX-License-Identifier: Apache-2.0
/*
 * kgate decode: runs the stream decoder (the very code the datapath runs) over a
 * file holding one connection's client->broker bytes and prints what it found.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"

struct decode_args {
	int output;
	unsigned long chunk;
	const char *file;
};

static const struct kg_opt decode_opts[] = {
	KG_OPT_OUTPUT(struct decode_args, output, kg_output_text_json,
		      "output format (default text; json is one object per line)"),
	KG_OPT_UINT("chunk", "BYTES", struct decode_args, chunk, 1, SIZE_MAX,
		    "feed the stream in chunks of BYTES (default: whole file),\n"
		    "as the datapath would see segments"),
	KG_OPT_ARG("FILE", "FILE|-", struct decode_args, file),
	KG_OPT_END,
};

static int cmd_decode(int argc, char **argv);

const struct kg_cmd kg_cmd_decode = {
	.name = "decode",
	.summary = "decode a captured client->broker Kafka byte stream",
	.about = "Feeds FILE (one TCP connection's client->broker bytes, in order) to kgate's\n"
		 "Kafka request decoder and prints one line per event: request headers, every\n"
		 "topic name or topic ID, group ids, SASL mechanism and user name, frame ends,\n"
		 "and the reason if decoding stops.\n",
	.opts = decode_opts,
	.epilog = "Exit status: 0 decoded to the end of the last frame; 1 decoding stopped (the\n"
		  "reason is printed) or the stream ends inside a frame; 2 usage or I/O error.\n",
	.run = cmd_decode,
};

struct decode_out {
	struct kg_buf buf;
	bool json;
	const struct kd_state *st;
};

static void on_event(void *arg, const struct kd_state *st, int ev)
{
	struct decode_out *o = arg;

	if (o->json)
		kdr_event_json(&o->buf, st, ev);
	else
		kdr_event_text(&o->buf, st, ev);
	fwrite(o->buf.p, 1, o->buf.len, stdout);
	o->buf.len = 0;
}

static __u8 *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 16, n = 0, r;
	__u8 *p;

	if (!f) {
		fprintf(stderr, "kgate decode: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	p = malloc(cap);
	while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	if (!p || ferror(f)) {
		fprintf(stderr, "kgate decode: %s: read failed\n", path);
		free(p);
		p = NULL;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return p;
}

static int cmd_decode(int argc, char **argv)
{
	struct decode_out out = { 0 };
	struct decode_args a = { 0 };
	struct kd_state st;
	size_t len, chunk, off;
	const char *path;
	__u8 *data;
	int ev = KD_EV_NEED_MORE, rc;

	if ((rc = kg_opt_parse(&kg_cmd_decode, argc, argv, &a)))
		return rc;
	out.json = a.output == 1;
	chunk = a.chunk;
	path = a.file;
	data = read_all(path, &len);
	if (!data)
		return 2;
	if (!chunk || chunk > len)
		chunk = len ? len : 1;

	kd_init(&st);
	out.st = &st;
	for (off = 0; off < len && ev != KD_EV_ERROR; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		ev = kd_feed(&st, data + off, n, KD_MAX_STEPS_PER_CHUNK, on_event, &out);
	}
	free(data);
	kg_buf_free(&out.buf);
	if (ev == KD_EV_ERROR)
		return 1;
	if (st.phase != KD_PH_SIZE || st.carry_len || st.skip) {
		fprintf(stderr, "kgate decode: %s: stream ends inside a frame\n", path);
		return 1;
	}
	return 0;
}
