// SPDX-License-Identifier: Apache-2.0
/*
 * kgate probe: attaches the decode probe (bpf/decode_probe.bpf.c, embedded as a
 * skeleton) to an interface and prints what the in-kernel decoder sees on a Kafka
 * listener port. It decides nothing and passes every packet; it is for checking
 * what kgate would read from real traffic before enforcing anything.
 */
#include <errno.h>
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

const struct kg_cmd kg_cmd_probe = {
	.name = "probe",
	.summary = "watch what the in-kernel decoder reads on a listener (decides nothing)",
	.usage = "usage: kgate probe --iface IF [--port PORT] [--xdp-mode native|generic]\n"
		 "                   [--count N] [--duration SECONDS] [-o text|json]\n"
		 "\n"
		 "Attaches kgate's decoder as an XDP program on IF, decodes the Kafka requests\n"
		 "sent to PORT (default 9092) on every connection that starts after attach, and\n"
		 "prints each event. Every packet is passed. Detaches on SIGINT/SIGTERM, after\n"
		 "N events or after SECONDS. Needs root (CAP_BPF, CAP_NET_ADMIN).\n",
	.run = cmd_probe,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct probe_out {
	struct kdr_buf buf;
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
	if (o->json)
		kdr_event_json(&o->buf, &st, ((struct kd_probe_event *)data)->ev);
	else
		kdr_event_text(&o->buf, &st, ((struct kd_probe_event *)data)->ev);
	fwrite(o->buf.p, 1, o->buf.len, stdout);
	fflush(stdout);
	if (o->left > 0 && --o->left == 0)
		stop = 1;
	return 0;
}

int cmd_probe(int argc, char **argv)
{
	struct probe_out out = { .left = -1 };
	struct decode_probe_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	const char *iface = NULL;
	__u32 flags = XDP_FLAGS_DRV_MODE;
	long port = 9092, duration = 0;
	int ifindex, err, rc = 1;
	time_t deadline = 0;
	bool attached = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!v)
			return kg_usage_error(&kg_cmd_probe, "option '%s' needs a value", a);
		i++;
		if (!strcmp(a, "--iface")) {
			iface = v;
		} else if (!strcmp(a, "--port")) {
			port = strtol(v, &end, 10);
			if (*end || port < 1 || port > 65535)
				return kg_usage_error(&kg_cmd_probe, "bad port '%s'", v);
		} else if (!strcmp(a, "--xdp-mode")) {
			if (!strcmp(v, "native"))
				flags = XDP_FLAGS_DRV_MODE;
			else if (!strcmp(v, "generic"))
				flags = XDP_FLAGS_SKB_MODE;
			else
				return kg_usage_error(&kg_cmd_probe, "bad --xdp-mode '%s'", v);
		} else if (!strcmp(a, "--count")) {
			out.left = strtol(v, &end, 10);
			if (*end || out.left < 1)
				return kg_usage_error(&kg_cmd_probe, "bad --count '%s'", v);
		} else if (!strcmp(a, "--duration")) {
			duration = strtol(v, &end, 10);
			if (*end || duration < 1)
				return kg_usage_error(&kg_cmd_probe, "bad --duration '%s'", v);
		} else if (!strcmp(a, "-o")) {
			if (!strcmp(v, "json"))
				out.json = true;
			else if (strcmp(v, "text"))
				return kg_usage_error(&kg_cmd_probe, "unknown output format '%s'", v);
		} else {
			return kg_usage_error(&kg_cmd_probe, "unknown option '%s'", a);
		}
	}
	if (!iface)
		return kg_usage_error(&kg_cmd_probe, "missing --iface");
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
		deadline = time(NULL) + duration;
	fprintf(stderr, "kgate probe: decoding port %ld on %s; Ctrl-C to stop\n", port, iface);
	while (!stop && (!deadline || time(NULL) < deadline)) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "kgate probe: polling: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	ring_buffer__free(rb);
	if (attached)
		bpf_xdp_detach(ifindex, flags, NULL);
	decode_probe_bpf__destroy(skel);
	kdr_free(&out.buf);
	return rc;
}
