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
#include "agent/decode/pcap.h"
#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"

struct decode_args {
	int output;
	unsigned long chunk, port, stream;
	const char *file, *pcap;
};

static const struct kg_opt decode_opts[] = {
	KG_OPT_OUTPUT(struct decode_args, output, kg_output_text_json,
		      "text (default), or json: an array of events"),
	KG_OPT_UINT("chunk", "BYTES", struct decode_args, chunk, 1, SIZE_MAX,
		    "feed the stream in chunks of BYTES (default: whole file),\n"
		    "as the datapath would see segments"),
	KG_OPT_STR("pcap", "PCAP", struct decode_args, pcap,
		   "read the streams from a capture (classic pcap, as\n"
		   "tcpdump -w writes) instead of FILE"),
	KG_OPT_UINT("port", "PORT", struct decode_args, port, 1, 65535,
		    "with --pcap: the broker's port (default 9092)"),
	KG_OPT_UINT("stream", "N", struct decode_args, stream, 1, KG_PCAP_MAX_CONNS,
		    "with --pcap: only connection N (1: the first to PORT\n"
		    "in the capture); default: every one"),
	{.name = "FILE", .kind = KG_OPT_ARG, .metavar = "FILE|-",
	 .off = offsetof(struct decode_args, file)},
	KG_OPT_END,
};

static int cmd_decode(int argc, char **argv);

const struct kg_cmd kg_cmd_decode = {
	.name = "decode",
	.summary = "decode a captured client->broker Kafka byte stream",
	.synopsis = "[-o text|json] [--jsonl] [--chunk BYTES] FILE|-\n"
		    "       kgate decode [-o text|json] [--jsonl] [--chunk BYTES] --pcap PCAP\n"
		    "                    [--port PORT] [--stream N]",
	.about = "Feeds FILE (one TCP connection's client->broker bytes, in order) to kgate's\n"
		 "Kafka request decoder and prints one line per event: request headers (the\n"
		 "API's name, version and key), every topic name or topic ID, group ids, SASL\n"
		 "mechanism and user name, frame ends, and the reason if decoding stops.\n"
		 "\n"
		 "--pcap PCAP reads a capture instead: every TCP connection to PORT is put back\n"
		 "together (in sequence order, a retransmitted byte kept once, as the broker's TCP\n"
		 "would) and decoded; --stream N picks one. Capture with\n"
		 "  tcpdump -i IF -s 0 -w kafka.pcap 'tcp port 9092'\n"
		 "(pcapng: convert with editcap -F pcap). Without --stream each connection's\n"
		 "events follow a line 'stream N CLIENT:PORT -> BROKER:PORT (BYTES bytes)'; in\n"
		 "JSON each event carries \"stream\":N. To write the streams to files instead,\n"
		 "kgate's source tree has scripts/pcap_streams.py (the same reading):\n"
		 "  scripts/pcap_streams.py kafka.pcap --port 9092 --outdir DIR\n",
	.opts = decode_opts,
	.epilog = "Exit status: 0 decoded to the end of the last frame (of every stream); 1\n"
		  "decoding stopped (the reason is printed), a stream ends inside a frame, or the\n"
		  "capture cannot be read (a hole in a stream, pcapng, a cut packet); 2 usage or\n"
		  "I/O error.\n",
	.run = cmd_decode,
};

struct decode_out {
	struct kg_buf buf;
	bool json;
	unsigned stream; /* --pcap: the connection's number, in each JSON event */
};

static void on_event(void *arg, const struct kd_state *st, int ev)
{
	struct decode_out *o = arg;

	kg_json_item();
	if (!o->json) {
		kdr_event_line(&o->buf, st, ev);
		fwrite(o->buf.p, 1, o->buf.len, stdout);
	} else {
		kdr_event_json(&o->buf, st, ev);
		if (o->stream)
			printf("{\"stream\":%u,", o->stream);
		/* the event's own object, without its '{' when the stream's went first */
		fwrite(o->buf.p + (o->stream ? 1 : 0), 1, o->buf.len - (o->stream ? 1 : 0),
		       stdout);
	}
	o->buf.len = 0;
}

/* Decodes one stream: 0 to the end of its last frame, 1 when decoding stopped or the
 * stream ends inside a frame (said on stderr, naming what). */
static int decode_stream(struct decode_out *out, const __u8 *data, size_t len, size_t chunk,
			 const char *what)
{
	struct kd_state st;
	int ev = KD_EV_NEED_MORE;

	if (!chunk || chunk > len)
		chunk = len ? len : 1;
	kd_init(&st);
	for (size_t off = 0; off < len && ev != KD_EV_ERROR; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		ev = kd_feed(&st, data + off, n, KD_MAX_STEPS_PER_CHUNK, on_event, out);
	}
	if (ev == KD_EV_ERROR)
		return 1;
	if (st.phase != KD_PH_SIZE || st.carry_len || st.skip) {
		fprintf(stderr, "kgate decode: %s: stream ends inside a frame\n", what);
		return 1;
	}
	return 0;
}

static int decode_pcap(struct decode_out *out, const struct decode_args *a)
{
	struct kg_pcap p;
	char err[512], what[600];
	int rc = 0, found = 0;

	if (kg_pcap_open(&p, a->pcap, (__u16)(a->port ? a->port : 9092), err, sizeof(err))) {
		fprintf(stderr, "kgate decode: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < p.nconns; i++) {
		const struct kg_pcap_conn *c = &p.conns[i];
		__u8 *data;
		size_t len;
		bool v6 = c->family == 6;

		if (a->stream && c->num != a->stream)
			continue;
		found++;
		snprintf(what, sizeof(what), "%s stream %u", a->pcap, c->num);
		if (kg_pcap_stream(&p, c, &data, &len, stderr, err, sizeof(err))) {
			fprintf(stderr, "kgate decode: %s: %s\n", a->pcap, err);
			rc = 1;
			continue;
		}
		if (!a->stream && !out->json)
			printf("stream %u %s%s%s:%u -> %s%s%s:%u (%zu bytes)\n", c->num,
			       v6 ? "[" : "", c->client, v6 ? "]" : "", c->cport, v6 ? "[" : "",
			       c->server, v6 ? "]" : "", c->sport, len);
		out->stream = a->stream ? 0 : c->num;
		if (decode_stream(out, data, len, a->chunk, what))
			rc = 1;
		free(data);
	}
	if (a->stream && !found) {
		fprintf(stderr, "kgate decode: %s: no stream %lu (%zu connection%s to port %lu)\n",
			a->pcap, a->stream, p.nconns, p.nconns == 1 ? "" : "s",
			a->port ? a->port : 9092);
		rc = 1;
	} else if (!found) {
		fprintf(stderr, "kgate decode: %s: no TCP connection to port %lu\n", a->pcap,
			a->port ? a->port : 9092);
		rc = 1;
	}
	kg_pcap_close(&p);
	return rc;
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
	struct decode_out out = {0};
	struct decode_args a = {0};
	size_t len;
	__u8 *data;
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_decode, argc, argv, &a)))
		return rc;
	if (!a.file == !a.pcap)
		return kg_usage_error(&kg_cmd_decode, a.pcap ? "FILE or --pcap PCAP, not both"
							     : "no FILE given (or --pcap PCAP)");
	if (!a.pcap && (a.port || a.stream))
		return kg_usage_error(&kg_cmd_decode, "--port and --stream go with --pcap");
	out.json = a.output == 1;
	kg_json_doc(true);
	if (a.pcap) {
		rc = decode_pcap(&out, &a);
	} else {
		data = read_all(a.file, &len);
		if (!data)
			return 2;
		rc = decode_stream(&out, data, len, a.chunk, a.file);
		free(data);
	}
	kg_buf_free(&out.buf);
	return rc;
}
