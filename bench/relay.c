// SPDX-License-Identifier: Apache-2.0
/*
 * relay: the benchmark's userspace TCP relay and byte sink (bench/run.sh).
 *
 *   relay --listen IP:PORT --connect IP:PORT    relay every connection to the target
 *   relay --listen IP:PORT --sink               read and discard (a broker that is never
 *                                               the bottleneck)
 *   relay --listen IP:PORT --stub               read, and answer each Metadata request
 *                                               with an empty Metadata v1 response: a
 *                                               broker that holds 40,000 connections (the
 *                                               mock accepts only a few hundred a minute)
 *
 * Prints "READY" once listening, serves until SIGTERM, then prints one JSON line: the
 * connections and bytes it moved and its own CPU time.
 *
 * The relay is the floor cost of a proxy in the broker's namespace: one thread, epoll,
 * and every byte copied through user space with read()/write(), as a proxy that enforces
 * Kafka policy must do to read what it forwards (splice() would be cheaper but could not
 * look at the bytes). It is written in C because tests/tools/tcp_relay.py (a thread per
 * direction under Python's GIL) would measure Python, not the cost of relaying.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/tool.h"

/* Bytes buffered per direction of a connection: one read's worth, as much as TCP offers. */
#define RELAY_BUF (256 * 1024)
/* Events taken from epoll per wait. */
#define RELAY_EVENTS 64
/* Connections served at once (under the sandbox's 20,000 open files; more stubs share a
 * port for more); one more is refused (closed at accept). */
#define RELAY_MAX_CONNS 19000
/* Kafka's Metadata api key; the stub answers nothing else. */
#define KAFKA_METADATA 3
/* Bytes of a request the stub reads before it answers: size, api key, version, corr. */
#define STUB_HDR 12

struct pair;

/* One socket of a pair: side 0 is the client, side 1 the target. */
struct end {
	struct pair *p;
	int side;
};

/* One direction: bytes read from fd[from] waiting to be written to fd[!from]. */
struct half {
	char *buf;
	size_t len, off;
	bool eof;
};

struct pair {
	int fd[2];
	struct end e[2];
	struct half h[2]; /* h[i]: from side i to side !i */
	/* stub: the current request's first bytes, and what is left of it to skip */
	unsigned char hdr[STUB_HDR];
	size_t nhdr, skip;
};

enum mode { RELAY, SINK, STUB };

static int ep;
static enum mode mode = RELAY;
static char rbuf[RELAY_BUF]; /* sink and stub read here: no buffer per connection */
static unsigned long long conns, bytes, refused, answers;
static int live;

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || colon - s >= (long)sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The epoll interest of side s: read while its outgoing half is empty, write while the
 * incoming half has bytes waiting. */
static void rearm(struct pair *p, int s)
{
	struct epoll_event ev = {.data.ptr = &p->e[s]};

	if (p->fd[s] < 0)
		return;
	if (!p->h[s].len && !p->h[s].eof)
		ev.events |= EPOLLIN;
	if (p->h[!s].len)
		ev.events |= EPOLLOUT;
	epoll_ctl(ep, EPOLL_CTL_MOD, p->fd[s], &ev);
}

static void pair_close(struct pair *p)
{
	for (int s = 0; s < 2; s++) {
		if (p->fd[s] >= 0)
			close(p->fd[s]);
		free(p->h[s].buf);
	}
	free(p);
	live--;
}

/* Writes what half h (from side s) holds to the other side. -1: the pair is broken. */
static int flush_half(struct pair *p, int s)
{
	struct half *h = &p->h[s];

	while (h->len) {
		ssize_t n = write(p->fd[!s], h->buf + h->off, h->len);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		h->off += n;
		h->len -= n;
		bytes += n;
	}
	h->off = 0;
	if (h->eof)
		shutdown(p->fd[!s], SHUT_WR);
	return 0;
}

/* Side s is readable: read once and pass it on. -1: the pair is done. */
/* Stub: an empty Metadata v1 response (no brokers, no controller, no topics) to corr. */
static void stub_answer(struct pair *p)
{
	unsigned char r[20];
	uint32_t v[5] = {htonl(16), 0, 0, htonl(0xffffffffu), 0};

	memcpy(&v[1], p->hdr + 8, 4); /* the correlation id, as sent */
	memcpy(r, v, sizeof(r));
	/* 20 bytes always fit an idle socket's buffer; a client that never reads loses them */
	if (write(p->fd[0], r, sizeof(r)) == sizeof(r))
		answers++;
}

/* Stub: walks the request frames in buf, answering each Metadata request. */
static void stub_feed(struct pair *p, const unsigned char *buf, size_t n)
{
	while (n) {
		size_t k;

		if (p->skip) {
			k = n < p->skip ? n : p->skip;
			p->skip -= k;
		} else {
			k = STUB_HDR - p->nhdr < n ? STUB_HDR - p->nhdr : n;
			memcpy(p->hdr + p->nhdr, buf, k);
			p->nhdr += k;
			if (p->nhdr == STUB_HDR) {
				uint32_t size;
				uint16_t key;

				memcpy(&size, p->hdr, 4);
				memcpy(&key, p->hdr + 4, 2);
				size = ntohl(size);
				if (ntohs(key) == KAFKA_METADATA)
					stub_answer(p);
				p->skip = size > STUB_HDR - 4 ? size - (STUB_HDR - 4) : 0;
				p->nhdr = 0;
			}
		}
		buf += k;
		n -= k;
	}
}

static int on_read(struct pair *p, int s)
{
	struct half *h = &p->h[s];
	ssize_t n = read(p->fd[s], mode == RELAY ? h->buf : rbuf, RELAY_BUF);

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		h->eof = true;
		if (mode != RELAY || p->h[!s].eof)
			return -1;
		shutdown(p->fd[!s], SHUT_WR);
		return 0;
	}
	if (mode != RELAY) {
		bytes += n;
		if (mode == STUB)
			stub_feed(p, (unsigned char *)rbuf, n);
		return 0;
	}
	h->len = n;
	return flush_half(p, s);
}

static void on_accept(int ls, const struct sockaddr_in *target)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct pair *p;
	int c, u = -1, one = 1;

	c = accept(ls, NULL, NULL);
	if (c < 0)
		return;
	if (live >= RELAY_MAX_CONNS) {
		refused++;
		close(c);
		return;
	}
	if (mode == RELAY) {
		u = socket(AF_INET, SOCK_STREAM, 0);
		if (u < 0 || connect(u, (const struct sockaddr *)target, sizeof(*target))) {
			perror("relay: connect");
			close(c);
			if (u >= 0)
				close(u);
			return;
		}
		setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		nonblock(u);
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	nonblock(c);
	p = calloc(1, sizeof(*p));
	if (!p)
		exit(1);
	p->fd[0] = c;
	p->fd[1] = u;
	for (int s = 0; s < 2; s++) {
		p->e[s] = (struct end){.p = p, .side = s};
		p->h[s].buf = mode == RELAY ? malloc(RELAY_BUF) : NULL;
		if (mode == RELAY && !p->h[s].buf)
			exit(1);
		if (p->fd[s] >= 0) {
			ev.data.ptr = &p->e[s];
			epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[s], &ev);
		}
	}
	conns++;
	live++;
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, ta;
	struct epoll_event evs[RELAY_EVENTS], lev = {.events = EPOLLIN};
	const char *listen_s = NULL, *connect_s = NULL;
	struct rusage ru;
	int ls, one = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_s = argv[++i];
		else if (!strcmp(argv[i], "--connect") && i + 1 < argc)
			connect_s = argv[++i];
		else if (!strcmp(argv[i], "--sink"))
			mode = SINK;
		else if (!strcmp(argv[i], "--stub"))
			mode = STUB;
		else
			listen_s = NULL, i = argc;
	}
	if (!listen_s || parse_addr(listen_s, &la) ||
	    (mode == RELAY && (!connect_s || parse_addr(connect_s, &ta)))) {
		fprintf(stderr, "usage: relay --listen IP:PORT (--connect IP:PORT | --sink | --stub)\n");
		return 2;
	}

	tool_signals();
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* several stubs share a port: one process holds at most ~20,000 sockets here */
	setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&la, sizeof(la)) || listen(ls, 4096)) {
		perror("relay: listen");
		return 1;
	}
	nonblock(ls);
	ep = epoll_create1(0);
	lev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
	printf("READY\n");
	fflush(stdout);
	while (!stop) {
		int n = epoll_wait(ep, evs, RELAY_EVENTS, 200);

		for (int i = 0; i < n; i++) {
			struct end *e = evs[i].data.ptr;
			struct pair *p;
			int s, rc = 0;

			if (!e) {
				on_accept(ls, &ta);
				continue;
			}
			p = e->p;
			s = e->side;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				rc = flush_half(p, !s);
			if (!rc && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    !p->h[s].len && !p->h[s].eof)
				rc = on_read(p, s);
			if (rc) {
				pair_close(p);
				/* the other end's events of this batch may name the freed pair */
				n = 0;
				break;
			}
			rearm(p, 0);
			rearm(p, 1);
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"mode\":\"%s\",\"connections\":%llu,\"refused\":%llu,\"bytes\":%llu,"
	       "\"answers\":%llu,\"cpu_s\":%.3f}\n",
	       mode == RELAY ? "relay" : mode == SINK ? "sink" : "stub", conns, refused, bytes,
	       answers,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return 0;
}
