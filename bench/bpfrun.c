// SPDX-License-Identifier: Apache-2.0
/*
 * bpfrun: drives a datapath that `kgate run` attached and pinned, through BPF_PROG_RUN on
 * its pinned programs, for the parts of the benchmark that need more connections or
 * events than real clients make in the time (bench/run.sh flows, audit).
 *
 *   bpfrun flows  --pins DIR --count N [--flow-map NAME]
 *       N connections from distinct sources open (a SYN through the ingress program, the
 *       broker's SYN-ACK through TC egress, the client's ACK through the ingress program:
 *       established connections). Then prints every map of DIR with its
 *       kernel memory as the kernel reports it (fdinfo memlock, what bpftool shows) and
 *       how many entries the flow map holds.
 *   bpfrun events --pins DIR --count N [--topics T] [--first I] [--close]
 *       N/T connections each open and send one Produce naming T topics: T decisions
 *       each, which become events in the datapath's ring buffer for the agent to read.
 *       Connections are numbered from I: a connection opened again would be a SYN on an
 *       open flow, and its Produce a retransmission (no new decisions). --close ends
 *       each with a RST after its Produce, so that the flow map stays as it was (the
 *       agent's metrics walk it: a scrape during a measurement would cost as much as
 *       the events).
 *
 * Sources: 10.10.0.0/16 (the rig's eu region), ports from 1024. Prints one JSON line.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/kafka_layouts.h"
#include "tests/lib/kframe.h"
#include "tests/lib/pkt.h"

#define PORT 9092
/* Connections one run may open (a million, and room). */
#define BR_MAX_COUNT 4000000
/* Topics in one Produce of events mode. */
#define BR_MAX_TOPICS 16
/* Maps listed from a pin directory; more are left out of the report. */
#define BR_MAX_MAPS 64
/* Entries counted in the flow map; a larger map is reported as at least this many. */
#define BR_MAX_WALK 8000000
/* Key bytes read while counting (map keys are smaller: a 5-tuple). */
#define BR_KEY_MAX 256

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(int fd, const __u8 *pkt, size_t len)
{
	static __u8 out[4096];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	return bpf_prog_test_run_opts(fd, &o);
}

/* Connection i: source 10.10.(i / 60000 % 256).(i / 60000 / 256 + 1), port 1024 + i % 60000. */
static void conn_addr(unsigned i, char *saddr, size_t n, __u16 *sport)
{
	unsigned hi = i / 60000;

	snprintf(saddr, n, "10.10.%u.%u", hi % 256, hi / 256 + 1);
	*sport = (__u16)(1024 + i % 60000);
}

/* Opens connection i: SYN in, SYN-ACK out, the client's ACK in (the handshake done). */
static int conn_open(int in, int eg, unsigned i)
{
	static __u8 pkt[256];
	char saddr[32];
	__u16 sport;
	struct pkt_spec s = {.family = 4, .daddr = "10.99.0.2", .dport = PORT, .seq = 1000,
			     .flags = PKT_SYN};
	struct pkt_spec sa = {.family = 4, .saddr = "10.99.0.2", .sport = PORT, .seq = 5000,
			      .flags = PKT_SYN | PKT_ACK, .ack = 1001};

	conn_addr(i, saddr, sizeof(saddr), &sport);
	s.saddr = saddr;
	s.sport = sport;
	sa.daddr = saddr;
	sa.dport = sport;
	if (run(in, pkt, pkt_build(pkt, &s, NULL, 0)) || run(eg, pkt, pkt_build(pkt, &sa, NULL, 0)))
		return -1;
	s.seq = 1001;
	s.ack = 5001;
	s.flags = PKT_ACK;
	return run(in, pkt, pkt_build(pkt, &s, NULL, 0));
}

static int open_prog(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

/* The kernel's memory for a map: fdinfo's memlock (what bpftool reports). */
static unsigned long long memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static unsigned long long count_entries(int fd, unsigned key_size)
{
	__u8 k[BR_KEY_MAX], next[BR_KEY_MAX];
	unsigned long long n = 0;
	void *prev = NULL;

	if (key_size > BR_KEY_MAX)
		return 0;
	while (n < BR_MAX_WALK && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(k, next, key_size);
		prev = k;
		n++;
	}
	return n;
}

/* Every pinned map of dir (kg_*), by pin name: type, size, memlock; the flow map's entries. */
static void report_maps(const char *dir, const char *flow_map)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int nmaps = 0;

	printf(",\"maps\":[");
	while (d && (de = readdir(d)) && nmaps < BR_MAX_MAPS) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[512];
		int fd;

		/* maps are pinned as kg_*; programs and links beside them are not maps */
		if (strncmp(de->d_name, "kg_", 3))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd); /* a program or link pin */
			continue;
		}
		printf("%s{\"name\":\"%s\",\"type\":%u,\"max_entries\":%u,\"key_size\":%u,"
		       "\"value_size\":%u,\"memlock\":%llu",
		       nmaps++ ? "," : "", de->d_name, info.type, info.max_entries, info.key_size,
		       info.value_size, memlock(fd));
		if (!strcmp(de->d_name, flow_map))
			printf(",\"entries\":%llu", count_entries(fd, info.key_size));
		printf("}");
		close(fd);
	}
	printf("]");
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "", *dir = NULL, *flow_map = "kg_flows";
	unsigned count = 0, topics = 10, failed = 0, first = 0;
	bool close_conns = false;
	int in, eg;
	double t0;

	for (int i = 2; i < argc; i += 2) {
		if (!strcmp(argv[i], "--close")) {
			close_conns = true;
			i--; /* a flag: no value */
		} else if (i + 1 >= argc)
			dir = NULL;
		else if (!strcmp(argv[i], "--pins"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--topics"))
			topics = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--first"))
			first = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--flow-map"))
			flow_map = argv[i + 1];
		else
			dir = NULL, i = argc;
	}
	if (!dir || !count || count > BR_MAX_COUNT || first > BR_MAX_COUNT || !topics ||
	    topics > BR_MAX_TOPICS || (strcmp(mode, "flows") && strcmp(mode, "events"))) {
		fprintf(stderr, "usage: bpfrun flows|events --pins DIR --count N [--topics T] "
				"[--first I] [--close] [--flow-map NAME]\n");
		return 2;
	}
	/* the XDP build, or the TC ingress build where kgate run --tc-ingress pinned that */
	in = open_prog(dir, "prog_xdp");
	if (in < 0)
		in = open_prog(dir, "prog_tc_ingress");
	eg = open_prog(dir, "prog_tc_egress");
	if (in < 0 || eg < 0) {
		fprintf(stderr, "bpfrun: %s: no pinned programs: %s\n", dir, strerror(errno));
		return 1;
	}
	t0 = now_s();
	if (!strcmp(mode, "flows")) {
		for (unsigned i = 0; i < count; i++)
			failed += conn_open(in, eg, i) != 0;
		printf("{\"mode\":\"flows\",\"opened\":%u,\"failed\":%u,\"seconds\":%.3f", count,
		       failed, now_s() - t0);
		report_maps(dir, flow_map);
		printf("}\n");
		return 0;
	}
	{
		static __u8 frame[65536], pkt[65536 + 256];
		struct kf_topic t[BR_MAX_TOPICS];
		char names[BR_MAX_TOPICS][16];
		struct kf_req r = {.api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 1,
				   .client_id = "bench-audit", .topics = t, .ntopics = (int)topics};
		unsigned conns = (count + topics - 1) / topics;
		size_t n;

		for (unsigned i = 0; i < topics; i++) {
			snprintf(names[i], sizeof(names[i]), "t-%u", i);
			t[i] = (struct kf_topic){.name = names[i], .partitions = 1, .record_bytes = 60};
		}
		n = kf_build(&r, frame, sizeof(frame));
		if (!n || n > 1400) {
			fprintf(stderr, "bpfrun: the Produce does not fit one segment\n");
			return 1;
		}
		for (unsigned i = 0; i < conns; i++) {
			char saddr[32];
			__u16 sport;
			struct pkt_spec s = {.family = 4, .daddr = "10.99.0.2", .dport = PORT,
					     .seq = 1001, .ack = 5001,
					     .flags = PKT_ACK | PKT_PSH};

			if (conn_open(in, eg, first + i)) {
				failed++;
				continue;
			}
			conn_addr(first + i, saddr, sizeof(saddr), &sport);
			s.saddr = saddr;
			s.sport = sport;
			failed += run(in, pkt, pkt_build(pkt, &s, frame, n)) != 0;
			if (close_conns) {
				/* at exactly the next sequence number: the datapath ends the flow */
				s.seq += n;
				s.flags = PKT_RST | PKT_ACK;
				failed += run(in, pkt, pkt_build(pkt, &s, NULL, 0)) != 0;
			}
		}
		printf("{\"mode\":\"events\",\"connections\":%u,\"topics\":%u,\"failed\":%u,"
		       "\"seconds\":%.3f}\n",
		       conns, topics, failed, now_s() - t0);
	}
	return 0;
}
