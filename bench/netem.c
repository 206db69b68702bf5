// SPDX-License-Identifier: Apache-2.0
/*
 * netem: attaches bench/netem.bpf.c in the current network namespace (the rig's router)
 * and holds it until SIGTERM, then detaches and prints one JSON line of what it did.
 *
 *   netem --dev IF --loop IF0 --back IF1 --src A.B.C.D [--dport 9092] [--drop-ppm N]
 *         [--reorder-ppm N]
 *
 * IF: where segments toward the broker leave (TC egress); IF0/IF1: a veth pair in the
 * same namespace, the loop a reordered segment takes. Prints "READY" once attached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/tool.h"
#include "netem.skel.h"

/* Probabilities are in parts per million. */
#define NETEM_PPM 1000000
/* CPUs whose per-CPU counters are summed (the map's values are read as one array). */
#define NETEM_MAX_CPUS 256

static unsigned long long counter(int fd, __u32 key)
{
	static __u64 v[NETEM_MAX_CPUS];
	unsigned long long s = 0;
	int n = libbpf_num_possible_cpus();

	if (n > NETEM_MAX_CPUS || bpf_map_lookup_elem(fd, &key, v))
		return 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *loop = NULL, *back = NULL, *src = NULL;
	int dport = 9092, rc = 1, fd;
	long drop = 0, reorder = 0;
	struct netem_bpf *skel;
	struct in_addr sa;
	unsigned int ifo, ifl, ifb;
	LIBBPF_OPTS(bpf_tc_hook, eg, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_hook, in, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, eo, .handle = 1, .priority = 1);
	LIBBPF_OPTS(bpf_tc_opts, io, .handle = 1, .priority = 1);

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dev"))
			dev = argv[i + 1];
		else if (!strcmp(argv[i], "--loop"))
			loop = argv[i + 1];
		else if (!strcmp(argv[i], "--back"))
			back = argv[i + 1];
		else if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--dport"))
			dport = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--drop-ppm"))
			drop = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--reorder-ppm"))
			reorder = atol(argv[i + 1]);
		else
			dev = NULL, i = argc;
	}
	if (!dev || !loop || !back || !src || inet_pton(AF_INET, src, &sa) != 1 || drop < 0 ||
	    reorder < 0 || drop + reorder > NETEM_PPM) {
		fprintf(stderr, "usage: netem --dev IF --loop IF0 --back IF1 --src A.B.C.D "
				"[--dport P] [--drop-ppm N] [--reorder-ppm N]\n");
		return 2;
	}
	ifo = if_nametoindex(dev);
	ifl = if_nametoindex(loop);
	ifb = if_nametoindex(back);
	if (!ifo || !ifl || !ifb) {
		fprintf(stderr, "netem: %s, %s, %s: %s\n", dev, loop, back, strerror(errno));
		return 1;
	}
	skel = netem_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->saddr = sa.s_addr;
	skel->rodata->dport = (__u16)dport;
	skel->rodata->drop_ppm = (__u32)drop;
	skel->rodata->reorder_ppm = (__u32)reorder;
	skel->rodata->loop_ifindex = ifl;
	skel->rodata->out_ifindex = ifo;
	if (netem_bpf__load(skel))
		goto out;
	tool_signals();
	eg.ifindex = (int)ifo;
	in.ifindex = (int)ifb;
	/* an existing clsact (kgate's, or the rig's) is fine: EEXIST */
	if ((bpf_tc_hook_create(&eg) && errno != EEXIST) ||
	    (bpf_tc_hook_create(&in) && errno != EEXIST)) {
		perror("netem: clsact");
		goto out;
	}
	eo.prog_fd = bpf_program__fd(skel->progs.netem);
	io.prog_fd = bpf_program__fd(skel->progs.netem_back);
	if (bpf_tc_attach(&eg, &eo) || bpf_tc_attach(&in, &io)) {
		perror("netem: attach");
		goto out;
	}
	printf("READY\n");
	fflush(stdout);
	while (!stop)
		pause();
	fd = bpf_map__fd(skel->maps.netem_counts);
	printf("{\"segments\":%llu,\"dropped\":%llu,\"reordered\":%llu,\"drop_ppm\":%ld,"
	       "\"reorder_ppm\":%ld}\n",
	       counter(fd, 0), counter(fd, 1), counter(fd, 2), drop, reorder);
	rc = 0;
out:
	eo.prog_fd = io.prog_fd = 0;
	eo.prog_id = io.prog_id = 0;
	eo.flags = io.flags = 0;
	bpf_tc_detach(&eg, &eo);
	bpf_tc_detach(&in, &io);
	netem_bpf__destroy(skel);
	return rc;
}
