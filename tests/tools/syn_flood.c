// SPDX-License-Identifier: Apache-2.0
/*
 * syn_flood: test scaffolding, not part of kgate. Sends spoofed TCP SYNs (IPv4, raw
 * socket with IP_HDRINCL: the kernel routes them) from random addresses of a source
 * CIDR and random ports to one destination, as fast as it can, for the end-to-end SYN
 * flood case (tests/e2e/test_flows.sh). Prints one JSON line: sent, seconds, pps.
 *
 *   syn_flood --src 10.10.128.0/17 --dst 10.99.0.2 --port 9092 --count N [--seconds S]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* SYNs handed to the kernel per sendmmsg call. */
#define BATCH 64

struct syn {
	struct iphdr ip;
	struct tcphdr tcp;
};

static uint64_t rnd_state = 88172645463325252ull;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)rnd_state;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint16_t *w = p;

	for (size_t i = 0; i < n / 2; i++)
		s += w[i];
	return s;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One SYN from a random host of net/bits to dst:port, checksums filled. */
static void make_syn(struct syn *s, uint32_t net, int bits, uint32_t dst, uint16_t port)
{
	uint32_t host = bits >= 32 ? 0 : rnd() & ((1u << (32 - bits)) - 1);
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
	} ph;

	memset(s, 0, sizeof(*s));
	s->ip.version = 4;
	s->ip.ihl = 5;
	s->ip.tot_len = htons(sizeof(*s));
	s->ip.ttl = 64;
	s->ip.protocol = IPPROTO_TCP;
	s->ip.saddr = htonl(ntohl(net) | (host ? host : 1));
	s->ip.daddr = dst;
	s->ip.check = fold(sum16(&s->ip, sizeof(s->ip), 0));
	s->tcp.source = htons(1024 + rnd() % 60000);
	s->tcp.dest = htons(port);
	s->tcp.seq = htonl(rnd());
	s->tcp.doff = 5;
	s->tcp.syn = 1;
	s->tcp.window = htons(65535);
	ph.saddr = s->ip.saddr;
	ph.daddr = s->ip.daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = htons(sizeof(s->tcp));
	s->tcp.check = fold(sum16(&s->tcp, sizeof(s->tcp), sum16(&ph, sizeof(ph), 0)));
}

int main(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL;
	unsigned long count = 0, port = 9092;
	double seconds = 0, t0, t;
	static struct syn pkts[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = {.sin_family = AF_INET};
	unsigned long sent = 0;
	uint32_t net, daddr;
	int bits, fd, one = 1;
	char buf[64], *slash;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--dst"))
			dst = argv[i + 1];
		else if (!strcmp(argv[i], "--port"))
			port = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--count"))
			count = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
	}
	if (!src || !dst || (!count && seconds <= 0) || strlen(src) >= sizeof(buf)) {
		fprintf(stderr, "usage: syn_flood --src CIDR --dst ADDR --port P --count N "
				"[--seconds S]\n");
		return 2;
	}
	strcpy(buf, src);
	slash = strchr(buf, '/');
	bits = slash ? atoi(slash + 1) : 32;
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, buf, &net) != 1 || inet_pton(AF_INET, dst, &daddr) != 1 ||
	    bits < 1 || bits > 32) {
		fprintf(stderr, "syn_flood: bad address\n");
		return 2;
	}
	to.sin_addr.s_addr = daddr;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("syn_flood: raw socket");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = &pkts[i];
		iov[i].iov_len = sizeof(pkts[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}
	t0 = now_s();
	while ((!count || sent < count) && (seconds <= 0 || now_s() - t0 < seconds)) {
		int n = BATCH, r;

		if (count && count - sent < BATCH)
			n = (int)(count - sent);
		for (int i = 0; i < n; i++)
			make_syn(&pkts[i], net, bits, daddr, (uint16_t)port);
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			perror("syn_flood: sendmmsg");
			return 1;
		}
		sent += r;
	}
	t = now_s() - t0;
	printf("{\"sent\":%lu,\"seconds\":%.3f,\"pps\":%.0f}\n", sent, t, t > 0 ? sent / t : 0);
	close(fd);
	return 0;
}
