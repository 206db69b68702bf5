// SPDX-License-Identifier: Apache-2.0
/*
 * synflood: spoofed SYNs out of an interface of the current network namespace, as fast as
 * one CPU sends them (or at --rate), for a fixed time: AF_PACKET with sendmmsg() and
 * PACKET_QDISC_BYPASS, each frame's source address, port and sequence number written
 * before it leaves. (This kernel refuses BPF_PROG_RUN's live-frames mode with EPERM, and
 * has no pktgen.) Only for the benchmark's own namespaces: the harness gives sources in
 * the rig's ranges and a destination in its broker namespace.
 *
 *   synflood --dev IF --dmac MAC --src A.B.C.D --count N --dst A.B.C.D [--dport 9092]
 *            [--seconds S] [--rate PPS] [--cpu N]
 *
 * Sources cycle through --count addresses from --src, then through ports. Prints one JSON
 * line: frames handed to the interface, the rate, and this thread's CPU time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#include "bench/tool.h"

/* Frames per sendmmsg() call. */
#define SF_BATCH 256
/* Longest run: a flood that outlives its benchmark is a bug, not a test. */
#define SF_MAX_SECONDS 120
/* The SYN's TCP options: MSS 1460, as a real client's first option. */
#define SF_OPT_LEN 4
/* Source ports cycle through this range once the addresses are used up. */
#define SF_SPORT_MIN   1024
#define SF_SPORT_COUNT 64000

struct frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 opt[SF_OPT_LEN];
} __attribute__((packed));

static double mono(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u32 csum_add(__u32 s, const void *p, size_t n)
{
	const __u8 *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (__u32)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (__u32)b[n - 1] << 8;
	return s;
}

static __u16 csum_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Both checksums from scratch (a 58-byte frame: cheaper than being clever). */
static void fix_csums(struct frame *f)
{
	__u32 s;

	f->ip.check = 0;
	f->ip.check = htons(csum_fold(csum_add(0, &f->ip, sizeof(f->ip))));
	f->tcp.check = 0;
	s = csum_add(0, &f->ip.saddr, 8);
	s += IPPROTO_TCP + sizeof(f->tcp) + SF_OPT_LEN;
	s = csum_add(s, &f->tcp, sizeof(f->tcp) + SF_OPT_LEN);
	f->tcp.check = htons(csum_fold(s));
}

static void usage(void)
{
	fprintf(stderr, "usage: synflood --dev IF --dmac MAC --src A.B.C.D --count N --dst A.B.C.D "
			"[--dport P] [--seconds S] [--rate PPS] [--cpu N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *dmac = NULL, *src = NULL, *dst = NULL;
	double seconds = 10, rate = 0, t0, c0, t;
	int dport = 9092, cpu = -1, count = 0, fd, one = 1;
	unsigned long long frames = 0, errors = 0, i = 0;
	static struct frame fr[SF_BATCH];
	struct mmsghdr msg[SF_BATCH];
	struct iovec iov[SF_BATCH];
	struct sockaddr_ll ll = {.sll_family = AF_PACKET};
	struct in_addr sa, da;
	unsigned int mac[6];
	__u32 base;

	for (int k = 1; k + 1 < argc; k += 2) {
		const char *a = argv[k], *v = argv[k + 1];

		if (!strcmp(a, "--dev"))
			dev = v;
		else if (!strcmp(a, "--dmac"))
			dmac = v;
		else if (!strcmp(a, "--src"))
			src = v;
		else if (!strcmp(a, "--count"))
			count = atoi(v);
		else if (!strcmp(a, "--dst"))
			dst = v;
		else if (!strcmp(a, "--dport"))
			dport = atoi(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--cpu"))
			cpu = atoi(v);
		else
			usage();
	}
	if (!dev || !dmac || !src || !dst || count < 1 || inet_pton(AF_INET, src, &sa) != 1 ||
	    inet_pton(AF_INET, dst, &da) != 1 || seconds <= 0 || seconds > SF_MAX_SECONDS ||
	    sscanf(dmac, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
		   &mac[5]) != 6)
		usage();
	ll.sll_ifindex = (int)if_nametoindex(dev);
	if (!ll.sll_ifindex) {
		fprintf(stderr, "synflood: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("synflood: sched_setaffinity");
			return 1;
		}
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, receive nothing */
	if (fd < 0 || bind(fd, (struct sockaddr *)&ll, sizeof(ll)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) {
		perror("synflood: AF_PACKET socket");
		return 1;
	}
	tool_signals();

	/* the template: a SYN with MSS 1460 from a locally administered MAC */
	for (int k = 0; k < SF_BATCH; k++) {
		struct frame *f = &fr[k];

		memset(f, 0, sizeof(*f));
		for (int m = 0; m < 6; m++)
			f->eth.h_dest[m] = (__u8)mac[m];
		f->eth.h_source[0] = 0x02;
		f->eth.h_proto = htons(ETH_P_IP);
		f->ip.version = 4;
		f->ip.ihl = 5;
		f->ip.tot_len = htons(sizeof(*f) - sizeof(f->eth));
		f->ip.ttl = 64;
		f->ip.protocol = IPPROTO_TCP;
		f->ip.daddr = da.s_addr;
		f->tcp.dest = htons(dport);
		f->tcp.doff = (sizeof(f->tcp) + SF_OPT_LEN) / 4;
		f->tcp.syn = 1;
		f->tcp.window = htons(64240);
		f->opt[0] = 2; /* MSS */
		f->opt[1] = 4;
		f->opt[2] = 1460 >> 8;
		f->opt[3] = 1460 & 0xff;
		iov[k] = (struct iovec){.iov_base = f, .iov_len = sizeof(*f)};
		msg[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
	}
	base = ntohl(sa.s_addr);

	t0 = mono(CLOCK_MONOTONIC);
	c0 = mono(CLOCK_THREAD_CPUTIME_ID);
	while (!stop && (t = mono(CLOCK_MONOTONIC)) - t0 < seconds) {
		int n;

		if (rate > 0 && frames / rate > t - t0) {
			usleep((useconds_t)((frames / rate - (t - t0)) * 1e6));
			continue;
		}
		for (int k = 0; k < SF_BATCH; k++, i++) {
			struct frame *f = &fr[k];

			f->ip.saddr = htonl(base + (__u32)(i % count));
			f->tcp.source = htons(SF_SPORT_MIN + (__u32)((i / count) % SF_SPORT_COUNT));
			/* spread, as real initial sequence numbers are */
			f->tcp.seq = htonl((__u32)(i * 2654435761u));
			fix_csums(f);
		}
		n = sendmmsg(fd, msg, SF_BATCH, 0);
		if (n < 0) {
			/* a full device queue: count it and go on */
			errors++;
			continue;
		}
		frames += n;
	}
	t = mono(CLOCK_MONOTONIC) - t0;
	printf("{\"frames\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"cpu\":%d,"
	       "\"thread_cpu_s\":%.4f}\n",
	       frames, errors, t, frames / t, cpu, mono(CLOCK_THREAD_CPUTIME_ID) - c0);
	close(fd);
	return 0;
}
