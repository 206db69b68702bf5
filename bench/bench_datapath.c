// SPDX-License-Identifier: Apache-2.0
/*
 * bench_datapath: ns per packet of the real XDP program through BPF_PROG_RUN.
 *
 * Stateless cases (non_listener) run with repeat = 20000 and report the kernel's
 * average. Stateful cases must see the flow as it was before the packet (a repeated
 * packet would otherwise be a retransmission), so each is run with repeat = 1 after
 * the flow entry is restored, many times, and the median of the kernel's per-run
 * duration is reported. A repeat = 1 run includes a fixed timing overhead, reported
 * as "overhead_repeat1_ns" (the non-listener packet measured the same way).
 *
 * Usage: bench_datapath [OUTPUT.json]   (root)
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/events.h"
#include "agent/policy/policy.h"
#include "bench/bench_wrap.h"
#include "agent/policy/write.h"
#include "agent/datapath/datapath.h"
#include "bpf/kafka_layouts.h"
#include "bench_wrap.skel.h"
#include "kgate_tc.skel.h"
#include "kgate_tci.skel.h"
#include "kgate_xdp.skel.h"
#include "tests/lib/kframe.h"
#include "tests/lib/pkt.h"

#define PORT 9092
#define SAMPLES 3001
#define RUNS 5

static struct kgate_xdp_bpf *skel;
static struct kgate_tci_bpf *tci;
static struct kgate_tc_bpf *tce; /* TC egress: the broker's SYN-ACK confirms each flow */
static struct bench_wrap_bpf *wrap; /* repeats a stateful packet from the same flow state */
static struct kg_maps maps;
static char pin[64];
static int prog_fd;
static __u32 version;

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_datapath: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void drain_event(void *ctx, const struct kg_event *e)
{
	(void)ctx, (void)e;
}

/* Events are read as the agent reads them; a record that does not split is a defect. */
static int drain(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (kg_events_each(data, size, drain_event, NULL) < 0) {
		errno = EBADMSG;
		die("an event record");
	}
	return 0;
}

/* A policy with n rules: rule i names topic "t-<i>" (allow), then a catch-all. */
static void apply_rules(int n)
{
	struct kg_policy p;
	struct kg_compiled c;
	struct kg_pregion *r;
	char err[256], name[32];
	int gen;

	kg_policy_init(&p);
	snprintf(p.version, sizeof(p.version), "bench-%d", n);
	p.default_action = KG_ACT_REJECT;
	p.audit_allow = 1;
	/*
	 * Every decision its event, as the cases say: a steady case repeats one request, whose
	 * identical decisions would fold into the connection's run (bpf/fold.h) and leave none.
	 * KGATE_BENCH_FOLD=1 keeps the policy's defaults: a steady case is then a storm's
	 * repeat, counted and not sent.
	 */
	if (!getenv("KGATE_BENCH_FOLD")) {
		p.fold_window_ms = 0;
		p.budget = 0;
	}
	p.listeners[0].port = PORT;
	p.listeners[0].on_undecodable = KG_ACT_RESET;
	p.nlisteners = 1;
	r = kg_policy_add_region(&p, "eu", 1, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.10.0.0/16", 1, 1);
	for (int i = 0; i < n - 1; i++) {
		struct kg_prule *x;

		snprintf(name, sizeof(name), "r%d", i);
		x = kg_policy_add_rule(&p, name, 2 + i, 1);
		snprintf(name, sizeof(name), "t-%d", i);
		kg_strv_push(&x->topics, &x->ntopics, name);
		kg_strv_push(&x->regions, &x->nregions, "eu");
		x->action = KG_ACT_ALLOW;
	}
	kg_policy_add_rule(&p, "rest", 2 + n, 1)->action = KG_ACT_ALLOW;
	if (kg_compile(&p, &c, err, sizeof(err))) {
		fprintf(stderr, "compile: %s\n", err);
		exit(1);
	}
	gen = 1 - kg_policy_active(&maps);
	if (kg_policy_write(&maps, &c, gen, ++version, err, sizeof(err)) ||
	    kg_policy_activate(&maps, gen)) {
		fprintf(stderr, "load: %s\n", err);
		exit(1);
	}
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

/* Whatever way the benchmark ends: the programs unloaded, every pin and the directory. */
static void cleanup(void)
{
	struct dirent *de;
	char path[300];
	DIR *d;

	kgate_tc_bpf__destroy(tce);
	tce = NULL;
	bench_wrap_bpf__destroy(wrap);
	wrap = NULL;
	kgate_xdp_bpf__destroy(skel);
	skel = NULL;
	d = opendir(pin);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", pin, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(pin);
}

/* Interrupted (a profiling run is stopped this way): the pins go all the same. */
static void on_signal(int sig)
{
	exit(128 + sig);
}

static __u32 run(const __u8 *pkt, size_t len, int repeat)
{
	static __u8 out[16384];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		die("BPF_PROG_RUN");
	return o.duration;
}

struct flow_case {
	__u8 pkt[16384];
	size_t len;
	struct kg_flow_key key;
	struct kg_conn conn;  /* the connection's small entry */
	struct kg_flow saved; /* its pool slot's state, when conn names one */
};

/* The flow back as saved: a slot the last run took goes back to the pool first. */
static void flow_restore(struct flow_case *fc)
{
	__u32 saved = fc->conn.own & KG_OWN_SLOT, cur;
	struct kg_conn now;

	if (bpf_map_lookup_elem(maps.flows, &fc->key, &now))
		die("flow lookup");
	cur = now.own & KG_OWN_SLOT;
	if (cur && cur != saved) {
		cur--;
		if (bpf_map_update_elem(maps.pool_free, NULL, &cur, 0))
			die("giving a slot back");
	}
	if (saved) {
		saved--;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.kg_pool), &saved, &fc->saved, 0))
			die("slot restore");
	}
	if (bpf_map_update_elem(maps.flows, &fc->key, &fc->conn, BPF_EXIST))
		die("flow restore");
}

/* Opens a flow (SYN), runs the setup bytes, and saves the flow as the starting state. */
static void flow_prepare(struct flow_case *fc, __u16 sport, const __u8 *setup, size_t setup_len,
			 const __u8 *payload, size_t plen)
{
	struct pkt_spec s = { .family = 4, .saddr = "10.10.0.5", .daddr = "10.99.0.1",
			      .sport = sport, .dport = PORT, .seq = 1000, .flags = PKT_SYN };
	static __u8 tmp[70000];
	size_t n = pkt_build(tmp, &s, NULL, 0);

	run(tmp, n, 1);
	{
		/* the broker's answer, through TC egress: the flow's data is followed after it */
		struct pkt_spec sa = { .family = 4, .saddr = "10.99.0.1", .daddr = "10.10.0.5",
				       .sport = PORT, .dport = sport, .seq = 5000,
				       .flags = PKT_SYN | PKT_ACK, .ack = 1001 };
		static __u8 out[256];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = tmp, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		o.data_size_in = pkt_build(tmp, &sa, NULL, 0);
		if (bpf_prog_test_run_opts(bpf_program__fd(tce->progs.kgate_tc_egress), &o))
			die("BPF_PROG_RUN (TC egress)");
	}
	s.flags = PKT_ACK;
	s.seq = 1001;
	s.ack = 5001;
	/* the handshake's last ACK: the connection is established */
	n = pkt_build(tmp, &s, NULL, 0);
	run(tmp, n, 1);
	if (setup_len) {
		n = pkt_build(tmp, &s, setup, setup_len);
		run(tmp, n, 1);
		s.seq += setup_len;
	}
	fc->len = pkt_build(fc->pkt, &s, payload, plen);
	memset(&fc->key, 0, sizeof(fc->key));
	inet_pton(AF_INET, "10.10.0.5", fc->key.saddr);
	inet_pton(AF_INET, "10.99.0.1", fc->key.daddr);
	fc->key.sport = htons(sport);
	fc->key.dport = htons(PORT);
	fc->key.family = 4;
	if (bpf_map_lookup_elem(maps.flows, &fc->key, &fc->conn))
		die("flow lookup");
	memset(&fc->saved, 0, sizeof(fc->saved));
	if (fc->conn.own & KG_OWN_SLOT) {
		__u32 slot = (fc->conn.own & KG_OWN_SLOT) - 1;

		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.kg_pool), &slot, &fc->saved))
			die("slot lookup");
	}
}

/* Median ns of the packet from the saved flow state. */
static __u32 flow_median(struct flow_case *fc, struct ring_buffer *rb)
{
	static __u32 d[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		flow_restore(fc);
		d[i] = run(fc->pkt, fc->len, 1);
		if (!(i & 255))
			ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	qsort(d, SAMPLES, sizeof(d[0]), cmp_u32);
	return d[SAMPLES / 2];
}

/*
 * ns of the packet from the saved flow state with warm caches: BPF_PROG_RUN repeats
 * bench_wrap (flow put back, then a tail call into the program) WARM_REPEAT times, minus
 * the same run with nothing to call (the putting back alone), median of RUNS pairs.
 */
#define WARM_REPEAT 2000

static __u32 warm_ns(struct flow_case *fc, struct ring_buffer *rb, int prog)
{
	static struct kg_bench_state st;
	int wfd = bpf_program__fd(wrap->progs.kg_bench_wrap);
	int next = bpf_map__fd(wrap->maps.kg_bench_next);
	__u32 zero = 0, v[RUNS];

	st.key = fc->key;
	st.conn = fc->conn;
	st.flow = fc->saved;
	if (bpf_map_update_elem(bpf_map__fd(wrap->maps.kg_bench_state), &zero, &st, 0))
		die("bench state");
	for (int r = 0; r < RUNS; r++) {
		__u32 with, without;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fc->pkt, .data_size_in = fc->len,
			    .repeat = WARM_REPEAT);

		if (bpf_map_update_elem(next, &zero, &prog, 0))
			die("bench tail call");
		if (bpf_prog_test_run_opts(wfd, &o))
			die("BPF_PROG_RUN (warm)");
		with = o.duration;
		ring_buffer__consume(rb);
		if (bpf_map_delete_elem(next, &zero))
			die("bench tail call");
		if (bpf_prog_test_run_opts(wfd, &o))
			die("BPF_PROG_RUN (warm, base)");
		without = o.duration;
		v[r] = with > without ? with - without : 0;
	}
	qsort(v, RUNS, sizeof(v[0]), cmp_u32);
	return v[RUNS / 2];
}

static __u32 median_of_runs(__u32 (*f)(void *), void *arg)
{
	__u32 v[RUNS];

	for (int i = 0; i < RUNS; i++)
		v[i] = f(arg);
	qsort(v, RUNS, sizeof(v[0]), cmp_u32);
	return v[RUNS / 2];
}

struct ctx {
	struct flow_case *fc;
	struct ring_buffer *rb;
	const __u8 *pkt;
	size_t len;
	int repeat;
};

static __u32 f_flow(void *arg)
{
	struct ctx *c = arg;

	return flow_median(c->fc, c->rb);
}

static __u32 f_stateless(void *arg)
{
	struct ctx *c = arg;

	return run(c->pkt, c->len, c->repeat);
}

static size_t produce(int ntopics, const char *first, size_t record_bytes, __u8 *out, size_t cap)
{
	struct kf_topic t[16];
	char names[16][32];
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 1,
			    .client_id = "bench", .topics = t, .ntopics = ntopics };

	for (int i = 0; i < ntopics; i++) {
		if (i == 0)
			snprintf(names[i], sizeof(names[i]), "%s", first);
		else
			snprintf(names[i], sizeof(names[i]), "t-%d", i + 100);
		t[i] = (struct kf_topic){ .name = names[i], .partitions = 1,
					  .record_bytes = record_bytes };
	}
	return kf_build(&r, out, cap);
}

int main(int argc, char **argv)
{
	const char *outpath = argc > 1 ? argv[1] : "bench/results.json";
	LIBBPF_OPTS(bpf_object_open_opts, o);
	static __u8 buf[1 << 20], pkt[16384];
	char err[512];
	static struct flow_case fc;
	struct ring_buffer *rb;
	__u32 w_cont, w_p1[2], w_p10[2], w_f1[2], w_rules[3];
	__u32 non_listener, overhead, cont, p1[2], p10[2], f1[2], by_rules[3], tc[4], tc_overhead;
	static const int rule_counts[3] = { 10, 1000, 100000 };
	struct ctx c = { .fc = &fc };
	size_t n;
	FILE *out;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/kgbench-%d", getpid());
	if (kg_bpffs_ensure(pin, err, sizeof(err))) {
		fprintf(stderr, "bench_datapath: %s\n", err);
		return 1;
	}
	if (mkdir(pin, 0700))
		die(pin);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	o.pin_root_path = pin;
	skel = kgate_xdp_bpf__open_opts(&o);
	if (!skel || kgate_xdp_bpf__load(skel))
		die("loading kgate_xdp");
	prog_fd = bpf_program__fd(skel->progs.kgate_xdp);
	tce = kgate_tc_bpf__open_opts(&o);
	if (!tce || kgate_tc_bpf__load(tce))
		die("loading kgate_tc");
	wrap = bench_wrap_bpf__open_opts(&o);
	if (!wrap || bench_wrap_bpf__load(wrap))
		die("loading bench_wrap");
	if (kg_maps_from_object(&maps, skel->obj) || kg_pool_fill(maps.pool_free))
		die("the datapath's maps");
	if (kg_nhkey_init(maps.nhkey))
		die("writing kg_nhkey");
	rb = ring_buffer__new(maps.events, drain, NULL, NULL);
	c.rb = rb;
	apply_rules(10);

	/* non_listener: TCP to another port */
	{
		struct pkt_spec s = { .family = 4, .saddr = "10.10.0.5", .daddr = "10.99.0.1",
				      .sport = 40000, .dport = 22, .seq = 1, .flags = PKT_ACK };

		n = pkt_build(pkt, &s, (const __u8 *)"0123456789abcdef", 16);
		c.pkt = pkt, c.len = n, c.repeat = 20000;
		non_listener = median_of_runs(f_stateless, &c);
		c.repeat = 1;
		{
			__u32 d[SAMPLES];

			for (int i = 0; i < SAMPLES; i++)
				d[i] = run(pkt, n, 1);
			qsort(d, SAMPLES, sizeof(d[0]), cmp_u32);
			overhead = d[SAMPLES / 2];
		}
	}

	/*
	 * KGATE_BENCH_PROFILE=N: run a warm Produce of N topics (0: the continuation) in a loop for a profiler
	 * (perf record -a -- build/bench_datapath) instead of measuring; KGATE_BENCH_ITERS rounds (300).
	 */
	if (getenv("KGATE_BENCH_PROFILE")) {
		int nt = atoi(getenv("KGATE_BENCH_PROFILE"));

		if (nt == 0) { /* 0: the continuation case */
			n = produce(1, "t-5", 1 << 19, buf, sizeof(buf));
			flow_prepare(&fc, 41000, buf, 1448, buf + 1448, 1448);
		} else {
			n = produce(nt > 1 ? nt : 1, "t-5", nt > 1 ? 60 : 1200, buf, sizeof(buf));
			flow_prepare(&fc, 41001, buf, n, buf, n > 1448 ? 1448 : n);
		}
		int iters = getenv("KGATE_BENCH_ITERS") ? atoi(getenv("KGATE_BENCH_ITERS")) : 300;

		for (int i = 0; i < iters; i++)
			if (getenv("KGATE_BENCH_WARM"))
				warm_ns(&fc, rb, prog_fd);
			else
				flow_median(&fc, rb);
		ring_buffer__free(rb);
		return 0;
	}

	/*
	 * Warm-up: a first pass over the event ring buffer's 16 MB touches each of its pages
	 * for the first time, at several times the cost of any later pass (measured: ~1.3 us
	 * more per 600-byte event until the ring had wrapped once). Production rings wrap all
	 * the time; the measurements start after one whole pass.
	 */
	n = produce(1, "t-5", 1200, buf, sizeof(buf));
	flow_prepare(&fc, 40999, NULL, 0, buf, n);
	for (int i = 0; i < 32; i++) /* 320,000 records of >= 64 bytes: > 16 MB */
		warm_ns(&fc, rb, prog_fd);

	/* continuation: a full segment in the middle of a 1 MB record batch */
	n = produce(1, "t-5", 1 << 19, buf, sizeof(buf));
	flow_prepare(&fc, 41000, buf, 1448, buf + 1448, 1448);
	cont = median_of_runs(f_flow, &c);
	w_cont = warm_ns(&fc, rb, prog_fd);

	/*
	 * The request cases twice: on a connection that already sent the same request (the
	 * steady state of a producer or consumer: its client id and topics are in the
	 * flow's memo) and as the connection's first request (cold: every lookup made).
	 */
	for (int warm = 1; warm >= 0; warm--) {
		/* produce_1_topic: a segment holding a Produce header, one topic, its event */
		n = produce(1, "t-5", 1200, buf, sizeof(buf));
		flow_prepare(&fc, 41001 + 10 * warm, warm ? buf : NULL, warm ? n : 0, buf,
			     n > 1448 ? 1448 : n);
		p1[warm] = median_of_runs(f_flow, &c);
		w_p1[warm] = warm_ns(&fc, rb, prog_fd);

		/* produce_10_topics: ten small topics in one segment */
		n = produce(10, "t-5", 60, buf, sizeof(buf));
		flow_prepare(&fc, 41002 + 10 * warm, warm ? buf : NULL, warm ? n : 0, buf,
			     n > 1448 ? 1448 : n);
		p10[warm] = median_of_runs(f_flow, &c);
		w_p10[warm] = warm_ns(&fc, rb, prog_fd);

		/* fetch_1_topic */
		{
			struct kf_topic t = { .name = "t-5", .partitions = 1 };
			struct kf_req r = { .api_key = KAFKA_FETCH, .api_version = 11, .corr = 1,
					    .client_id = "bench", .topics = &t, .ntopics = 1 };

			n = kf_build(&r, buf, sizeof(buf));
			flow_prepare(&fc, 41003 + 10 * warm, warm ? buf : NULL, warm ? n : 0, buf, n);
			f1[warm] = median_of_runs(f_flow, &c);
			w_f1[warm] = warm_ns(&fc, rb, prog_fd);
		}
	}

	/* by rules: first requests, so the decision structure is what is measured */
	for (int k = 0; k < 3; k++) {
		apply_rules(rule_counts[k]);
		n = produce(1, "t-5", 1200, buf, sizeof(buf));
		flow_prepare(&fc, 42000 + k, NULL, 0, buf, n > 1448 ? 1448 : n);
		by_rules[k] = median_of_runs(f_flow, &c);
		w_rules[k] = warm_ns(&fc, rb, prog_fd);
	}

	/*
	 * The same program built for TC ingress (kgate_tc_ingress), on the same maps: its
	 * own test-run overhead (an skb, not an xdp_buff) measured the same way.
	 */
	apply_rules(10);
	{
		LIBBPF_OPTS(bpf_object_open_opts, to);
		struct pkt_spec s = { .family = 4, .saddr = "10.10.0.5", .daddr = "10.99.0.1",
				      .sport = 40000, .dport = 22, .seq = 1, .flags = PKT_ACK };
		__u32 d[SAMPLES];

		to.pin_root_path = pin;
		tci = kgate_tci_bpf__open_opts(&to);
		if (!tci || kgate_tci_bpf__load(tci))
			die("loading kgate_tc_ingress");
		prog_fd = bpf_program__fd(tci->progs.kgate_tc_ingress);
		n = pkt_build(pkt, &s, (const __u8 *)"0123456789abcdef", 16);
		c.pkt = pkt, c.len = n, c.repeat = 20000;
		tc[0] = median_of_runs(f_stateless, &c);
		for (int i = 0; i < SAMPLES; i++)
			d[i] = run(pkt, n, 1);
		qsort(d, SAMPLES, sizeof(d[0]), cmp_u32);
		tc_overhead = d[SAMPLES / 2] > tc[0] ? d[SAMPLES / 2] - tc[0] : 0;
		n = produce(1, "t-5", 1 << 19, buf, sizeof(buf));
		flow_prepare(&fc, 43000, buf, 1448, buf + 1448, 1448);
		tc[1] = median_of_runs(f_flow, &c);
		n = produce(1, "t-5", 1200, buf, sizeof(buf));
		flow_prepare(&fc, 43001, buf, n, buf, n > 1448 ? 1448 : n);
		tc[2] = median_of_runs(f_flow, &c);
		n = produce(10, "t-5", 60, buf, sizeof(buf));
		flow_prepare(&fc, 43002, buf, n, buf, n > 1448 ? 1448 : n);
		tc[3] = median_of_runs(f_flow, &c);
		for (int i = 1; i < 4; i++)
			tc[i] = tc[i] > tc_overhead ? tc[i] - tc_overhead : 0;
	}

	/*
	 * A single BPF_PROG_RUN (repeat=1) times the program plus the test-run's own
	 * overhead, measured on the same run as the non-listener program at repeat=1
	 * minus its cost at repeat=20000. datapath_ns is net of it; raw keeps the sums.
	 */
	overhead = overhead > non_listener ? overhead - non_listener : 0;
#define NET(x) ((x) > overhead ? (x) - overhead : 0)
	out = fopen(outpath, "w");
	if (!out)
		die(outpath);
	fprintf(out,
		"{\n  \"datapath_ns\": {\n    \"non_listener\": %u,\n    \"continuation\": %u,\n"
		"    \"produce_1_topic\": %u,\n    \"produce_10_topics\": %u,\n"
		"    \"fetch_1_topic\": %u\n  },\n"
		"  \"datapath_ns_first_request\": {\n    \"produce_1_topic\": %u,\n"
		"    \"produce_10_topics\": %u,\n    \"fetch_1_topic\": %u\n  },\n"
		"  \"datapath_ns_by_rules\": {\n    \"10\": %u,\n    \"1000\": %u,\n    \"100000\": %u\n  },\n"
		"  \"datapath_ns_cold\": {\n    \"continuation\": %u,\n    \"produce_1_topic\": %u,\n"
		"    \"produce_10_topics\": %u,\n    \"fetch_1_topic\": %u,\n"
		"    \"produce_1_topic_first_request\": %u,\n    \"produce_10_topics_first_request\": %u,\n"
		"    \"fetch_1_topic_first_request\": %u,\n"
		"    \"by_rules_10\": %u,\n    \"by_rules_1000\": %u,\n    \"by_rules_100000\": %u\n  },\n"
		"  \"tc_ingress_ns_cold\": {\n    \"non_listener\": %u,\n    \"continuation\": %u,\n"
		"    \"produce_1_topic\": %u,\n    \"produce_10_topics\": %u,\n"
		"    \"overhead_repeat1_ns\": %u\n  },\n"
		"  \"method\": {\n    \"non_listener\": \"BPF_PROG_RUN repeat=20000, median of %d runs\",\n"
		"    \"stateful\": \"BPF_PROG_RUN repeat=%d of bench_wrap (the flow put back, then a tail call "
		"into kgate_xdp) minus the same without the tail call, median of %d runs\",\n"
		"    \"cold\": \"BPF_PROG_RUN repeat=1 after restoring the flow from user space (caches "
		"disturbed by the system calls), median of %d, median of %d runs, minus the repeat=1 overhead\",\n"
		"    \"datapath_ns\": \"the connection already sent the same request (steady state)\",\n"
		"    \"datapath_ns_first_request\": \"the connection's first request\",\n"
		"    \"datapath_ns_by_rules\": \"produce_1_topic, first request\",\n"
		"    \"overhead_repeat1_ns\": %u\n  }\n}\n",
		non_listener, w_cont, w_p1[1], w_p10[1], w_f1[1], w_p1[0], w_p10[0], w_f1[0],
		w_rules[0], w_rules[1], w_rules[2], NET(cont), NET(p1[1]), NET(p10[1]), NET(f1[1]),
		NET(p1[0]), NET(p10[0]), NET(f1[0]), NET(by_rules[0]), NET(by_rules[1]),
		NET(by_rules[2]), tc[0], tc[1], tc[2], tc[3], tc_overhead, RUNS, WARM_REPEAT, RUNS,
		SAMPLES, RUNS, overhead);
	fclose(out);
	printf("non_listener %u ns, continuation %u ns, produce_1_topic %u ns, produce_10_topics %u ns, "
	       "fetch_1_topic %u ns; first request: produce_1 %u, produce_10 %u, fetch_1 %u; "
	       "by rules 10: %u, 1000: %u, 100000: %u\n"
	       "cold (repeat=1, overhead %u ns subtracted): continuation %u ns, produce_1_topic %u ns, "
	       "produce_10_topics %u ns, fetch_1_topic %u ns; first request: produce_1 %u, "
	       "produce_10 %u, fetch_1 %u\n"
	       "tc ingress, cold: non_listener %u ns, continuation %u ns, produce_1_topic %u ns, "
	       "produce_10_topics %u ns (overhead %u ns subtracted)\n",
	       non_listener, w_cont, w_p1[1], w_p10[1], w_f1[1], w_p1[0], w_p10[0], w_f1[0],
	       w_rules[0], w_rules[1], w_rules[2], overhead, NET(cont), NET(p1[1]), NET(p10[1]),
	       NET(f1[1]), NET(p1[0]), NET(p10[0]), NET(f1[0]), tc[0], tc[1], tc[2], tc[3],
	       tc_overhead);

	ring_buffer__free(rb);
	kgate_tci_bpf__destroy(tci);
	return 0;
}
