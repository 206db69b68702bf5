// SPDX-License-Identifier: Apache-2.0
/*
 * kgate probe: attaches the decode probe (bpf/decode_probe.bpf.c, embedded as a
 * skeleton) to an interface and prints what the in-kernel decoder sees on a Kafka
 * listener port. It decides nothing and passes every packet; it is for checking
 * what kgate would read from real traffic before enforcing anything.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>

#include "agent/cmd/cmd.h"
#include "agent/decode/report.h"
#include "decode_probe.skel.h"

struct probe_args {
	const char *iface;
	unsigned long port, count, duration;
	int xdp_mode; /* 1: generic */
	bool xdp_mode_given;
	int output;
};

static const char *const xdp_modes[] = {"native", "generic", NULL};

/*
 * --duration's largest value: a year of seconds. A probe meant to run longer runs until
 * SIGINT/SIGTERM (no --duration); a larger number is a usage error, never a deadline that
 * overflows (SECONDS * 1000 ms must fit, with the clock, in 64 bits).
 */
#define PROBE_DURATION_MAX_S (366ul * 24 * 3600)

static const struct kg_opt probe_opts[] = {
	KG_OPT_STR("iface", "IF", struct probe_args, iface, "the interface", .required = true),
	KG_OPT_UINT("port", "PORT", struct probe_args, port, 1, 65535,
		    "the Kafka listener port (default 9092)"),
	KG_OPT_CHOICE("xdp-mode", struct probe_args, xdp_mode, xdp_mode_given, xdp_modes,
		      "XDP attach mode (default native)"),
	KG_OPT_UINT("count", "N", struct probe_args, count, 1, LONG_MAX, "stop after N events"),
	KG_OPT_UINT("duration", "SECONDS", struct probe_args, duration, 1, PROBE_DURATION_MAX_S,
		    "stop after SECONDS (at most a year)"),
	KG_OPT_OUTPUT(struct probe_args, output, kg_output_text_json,
		      "text (default) or json: an array of events, closed\n"
		      "when the probe stops"),
	KG_OPT_END,
};

static int cmd_probe(int argc, char **argv);

const struct kg_cmd kg_cmd_probe = {
	.name = "probe",
	.summary = "watch what the in-kernel decoder reads on a listener (decides nothing)",
	.about = "Attaches kgate's decoder as an XDP program on IF, decodes the Kafka requests\n"
		 "sent to PORT (default 9092) on every connection that starts after attach, and\n"
		 "prints each event. Every packet is passed. Detaches on SIGINT/SIGTERM, after\n"
		 "N events or after SECONDS. Needs root (CAP_BPF, CAP_NET_ADMIN).\n",
	.opts = probe_opts,
	.run = cmd_probe,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct probe_out {
	struct kg_buf buf;
	bool json;
	long left; /* events still to print; < 0 unlimited */
};

static int on_ring(void *ctx, void *data, size_t size)
{
	struct probe_out *o = ctx;
	struct kd_state st;

	if (size < sizeof(struct kd_probe_event))
		return 0;
	kd_probe_to_state(data, &st);
	o->buf.len = 0;
	kg_json_item();
	if (o->json)
		kdr_event_json(&o->buf, &st, ((struct kd_probe_event *)data)->ev);
	else
		kdr_event_line(&o->buf, &st, ((struct kd_probe_event *)data)->ev);
	fwrite(o->buf.p, 1, o->buf.len, stdout);
	fflush(stdout);
	if (o->left > 0 && --o->left == 0)
		stop = 1;
	return 0;
}

static int cmd_probe(int argc, char **argv)
{
	struct probe_args a = { .port = 9092 };
	struct probe_out out = { .left = -1 };
	struct decode_probe_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	const char *iface;
	__u32 flags;
	long port, duration;
	int ifindex, err, rc = 1;
	__u64 deadline = 0; /* kg_now_ms() */
	bool attached = false;

	if ((rc = kg_opt_parse(&kg_cmd_probe, argc, argv, &a)))
		return rc;
	kg_json_doc(true);
	rc = 1;
	iface = a.iface;
	port = (long)a.port;
	duration = (long)a.duration;
	flags = a.xdp_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	out.json = a.output == 1;
	if (a.count)
		out.left = (long)a.count;
	ifindex = if_nametoindex(iface);
	if (!ifindex) {
		fprintf(stderr, "kgate probe: interface %s: %s\n", iface, strerror(errno));
		return 1;
	}

	skel = decode_probe_bpf__open();
	if (!skel) {
		fprintf(stderr, "kgate probe: opening the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->listen_port = (__u16)port;
	err = decode_probe_bpf__load(skel);
	if (err) {
		fprintf(stderr, "kgate probe: loading the BPF program: %s\n", strerror(-err));
		goto cleanup;
	}
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.decode_probe), flags, NULL);
	if (err) {
		fprintf(stderr, "kgate probe: attaching XDP (%s mode) to %s: %s\n",
			flags == XDP_FLAGS_DRV_MODE ? "native" : "generic", iface, strerror(-err));
		goto cleanup;
	}
	attached = true;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.probe_events), on_ring, &out, NULL);
	if (!rb) {
		fprintf(stderr, "kgate probe: ring buffer: %s\n", strerror(errno));
		goto cleanup;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (duration)
		deadline = kg_now_ms() + duration * 1000ull;
	fprintf(stderr, "kgate probe: decoding port %ld on %s; Ctrl-C to stop\n", port, iface);
	while (!stop && (!deadline || kg_now_ms() < deadline)) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "kgate probe: polling: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	/* why it stopped: a script waiting for N events can tell them from a timeout */
	fprintf(stderr, "kgate probe: stopped: %s\n",
		!out.left ? "--count events printed" : stop ? "signal" : "--duration reached");
	rc = 0;
cleanup:
	ring_buffer__free(rb);
	if (attached)
		bpf_xdp_detach(ifindex, flags, NULL);
	decode_probe_bpf__destroy(skel);
	kg_buf_free(&out.buf);
	return rc;
}
