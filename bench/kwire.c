// SPDX-License-Identifier: Apache-2.0
/*
 * kwire: raw Kafka clients for the benchmark (bench/run.sh), each hand-built frame on a
 * plain TCP socket, so the load is exactly what the benchmark says it is.
 *
 *   kwire storm  --to IP:PORT --topic T [--conns 4] [--depth 64] [--seconds S] [--size B]
 *       Produce v3 (acks=1) requests to T, --depth in flight on each connection (a new one
 *       sent for each response): a client retrying a denied write in a tight loop.
 *       Reports responses/s and the responses by error code.
 *   kwire blast  --to IP:PORT --topic T [--conns 1] [--seconds S] [--size B]
 *       Produce v3 with acks=0 (no response) as fast as TCP takes them: the path's
 *       capacity in front of a sink that reads and discards (bench/relay.c --sink).
 *   kwire active --to IP:PORT --topic T [--conns 100] [--interval-ms 100] [--seconds S]
 *                [--window FROM:TO] [--stall-s 1]
 *       Light, active connections: each sends Metadata v1 for T, waits for the answer,
 *       waits the interval, again. A connection survives the window when it saw no
 *       reset and no time without an answer longer than --stall-s inside it.
 *   kwire idle   --to IP:PORT --topic T [--conns 40000] [--hold-s 2] [--probe 100]
 *       Opens --conns idle connections, holds them, then sends one Metadata on each of
 *       the --probe oldest and the --probe newest: answered, reset or silent.
 *
 * Output: one JSON line on stdout. Every loop is bounded by --seconds (and KW_* limits).
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "bench/tool.h"
#include "bpf/kafka_layouts.h"

/* Connections one run may hold (idle mode's 40,000 plus room, within the source ports
 * from KW_IDLE_SPORT); more is a usage error. */
#define KW_MAX_CONNS 63000
/* Largest value in one Produce request. */
#define KW_MAX_VALUE (1 << 20)
/* Bytes of responses buffered per connection; a larger response is a protocol error. */
#define KW_RBUF 4096
/* Requests in flight per connection (storm --depth). */
#define KW_MAX_DEPTH 1024
/* Connections one process holds: under the sandbox's limit of 20,000 open files. */
#define KW_FDS_PER_PROC 19000
/* Idle mode's first source port: connection i binds port KW_IDLE_SPORT + i. */
#define KW_IDLE_SPORT 2000
/* Connect timeout; a connection not up by then counts as failed. */
#define KW_CONNECT_S 5
/* Idle mode: how long a probe waits for its answer before it counts as silent. */
#define KW_PROBE_WAIT_S 3
/* Reconnections per connection in storm and active modes (a reset client comes back). */
#define KW_MAX_RECONNECTS 1000
/* Blast: frames written to one connection before the others get a turn. */
#define KW_BLAST_BURST 64
/* Active mode: the connections are opened this far apart. */
#define KW_DIAL_GAP_S 0.005
/* Active mode: a connect that failed is tried again this much later. */
#define KW_REDIAL_S 0.2
/* Timeline buckets (1 s each) of active mode. */
#define KW_TL_MAX 600

/* Kafka error codes the benchmark names (Kafka's Errors.java). */
#define KAFKA_ERR_NONE			    0
#define KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KAFKA_ERR_TOPIC_AUTHORIZATION_FAILED 29
/* Distinct error codes counted; others are summed under "other". */
#define KW_ERR_SLOTS 16

static struct sockaddr_in to;
static void usage(void);
static const char *topic = "bench.t";
static const char *client_id = "kwire";
static size_t vsize = 100;


/* ---- frames ------------------------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t n;
};

static void put(struct wbuf *b, const void *v, size_t n)
{
	memcpy(b->p + b->n, v, n);
	b->n += n;
}

static void put8(struct wbuf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct wbuf *b, int16_t v)
{
	uint16_t x = htons((uint16_t)v);

	put(b, &x, 2);
}

static void put32(struct wbuf *b, int32_t v)
{
	uint32_t x = htonl((uint32_t)v);

	put(b, &x, 4);
}

static void put64(struct wbuf *b, int64_t v)
{
	put32(b, (int32_t)((uint64_t)v >> 32));
	put32(b, (int32_t)v);
}

static void putstr(struct wbuf *b, const char *s)
{
	put16(b, (int16_t)strlen(s));
	put(b, s, strlen(s));
}

/* Kafka's varint: zigzag, then 7 bits a byte, low first. */
static void putvar(struct wbuf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (z >= 0x80) {
		put8(b, (uint8_t)(z | 0x80));
		z >>= 7;
	}
	put8(b, (uint8_t)z);
}

static void set32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* CRC-32C (Castagnoli), as a record batch's crc field wants it. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	static uint32_t t[256];
	uint32_t c = ~0u;

	if (!t[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t x = i;

			for (int k = 0; k < 8; k++)
				x = x & 1 ? (x >> 1) ^ 0x82f63b78u : x >> 1;
			t[i] = x;
		}
	while (n--)
		c = t[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* The request header (v1) after the size field. */
static void header(struct wbuf *b, int16_t key, int16_t ver, int32_t corr)
{
	put32(b, 0); /* size, set when the frame is done */
	put16(b, key);
	put16(b, ver);
	put32(b, corr);
	putstr(b, client_id);
}

static size_t finish(struct wbuf *b)
{
	set32(b->p, (uint32_t)(b->n - 4));
	return b->n;
}

/* Produce v3 of one record of vsize bytes to partition 0 of topic, built from scratch. */
static size_t produce_build(uint8_t *out, int32_t corr, int16_t acks)
{
	struct wbuf b = {.p = out};
	size_t batch, len_at, crc_at;
	static uint8_t *val;

	if (!val) {
		val = malloc(KW_MAX_VALUE);
		if (!val)
			exit(1);
		for (size_t i = 0; i < KW_MAX_VALUE; i++)
			val[i] = 'a' + i % 26;
	}
	header(&b, KAFKA_PRODUCE, 3, corr);
	put16(&b, -1); /* transactional_id: null */
	put16(&b, acks);
	put32(&b, 5000); /* timeout_ms */
	put32(&b, 1);
	putstr(&b, topic);
	put32(&b, 1);
	put32(&b, 0); /* partition */
	len_at = b.n;
	put32(&b, 0); /* records length, set below */
	batch = b.n;
	put64(&b, 0); /* base offset */
	put32(&b, 0); /* batch length, set below */
	put32(&b, -1); /* partition leader epoch */
	put8(&b, 2);   /* magic */
	crc_at = b.n;
	put32(&b, 0);
	put16(&b, 0); /* attributes */
	put32(&b, 0); /* last offset delta */
	put64(&b, 0); /* first timestamp */
	put64(&b, 0); /* max timestamp */
	put64(&b, -1); /* producer id */
	put16(&b, -1); /* producer epoch */
	put32(&b, -1); /* base sequence */
	put32(&b, 1);  /* records */
	{
		/* one record: attributes, timestamp delta, offset delta, null key, value, 0 headers */
		uint8_t rec[16];
		struct wbuf r = {.p = rec};

		put8(&r, 0);
		putvar(&r, 0);
		putvar(&r, 0);
		putvar(&r, -1);
		putvar(&r, (int64_t)vsize);
		putvar(&b, (int64_t)(r.n + vsize + 1));
		put(&b, rec, r.n);
		put(&b, val, vsize);
		putvar(&b, 0);
	}
	set32(out + len_at, (uint32_t)(b.n - batch));
	set32(out + batch + 8, (uint32_t)(b.n - batch - 12));
	set32(out + crc_at, crc32c(out + crc_at + 4, b.n - crc_at - 4));
	return finish(&b);
}

/*
 * The same, from a copy of the first one built (per acks): only the correlation id differs,
 * and it lies outside the record batch, so the batch's CRC is computed once, not per
 * request (a CRC over 10 KiB per request would make the client the bottleneck).
 */
static size_t produce(uint8_t *out, int32_t corr, int16_t acks)
{
	static uint8_t *tmpl[2];
	static size_t len[2];
	int k = acks != 0;

	if (!tmpl[k]) {
		tmpl[k] = malloc(vsize + 512);
		if (!tmpl[k])
			exit(1);
		len[k] = produce_build(tmpl[k], 0, acks);
	}
	memcpy(out, tmpl[k], len[k]);
	set32(out + 8, (uint32_t)corr); /* size, api key, version, then the correlation id */
	return len[k];
}

/* Metadata v1 for topic. */
static size_t metadata(uint8_t *out, int32_t corr)
{
	struct wbuf b = {.p = out};

	header(&b, KAFKA_METADATA, 1, corr);
	put32(&b, 1);
	putstr(&b, topic);
	return finish(&b);
}

static int32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (int32_t)ntohl(v);
}

static int16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return (int16_t)ntohs(v);
}

/* The first partition's error code of a Produce v3 response body (after the size);
 * -1 when the body is not one. */
static int produce_error(const uint8_t *p, size_t n)
{
	size_t off = 4; /* correlation id */
	int16_t nl;

	if (n < off + 4 + 2 || get32(p + off) < 1)
		return -1;
	off += 4;
	nl = get16(p + off);
	off += 2 + (nl > 0 ? nl : 0);
	if (n < off + 4 + 4 + 2 || get32(p + off) < 1)
		return -1;
	return get16(p + off + 8);
}

/* ---- connections ---------------------------------------------------------------------- */

struct conn {
	int fd;
	int id;
	double last_answer, sent_at, win_gap, retry_at;
	uint8_t rbuf[KW_RBUF];
	size_t rlen;
	uint8_t *wbuf; /* storm: requests not yet written */
	size_t wlen, woff, frame_len;
	int inflight;
	int32_t corr;
	unsigned resets, reconnects, timeouts;
	unsigned long long answers;
	bool timed_out, dead, answered, reset, connecting;
};

static struct conn *conns;
static int nconns, ep;
static unsigned long long errs_n[KW_ERR_SLOTS], errs_other;
static int errs_code[KW_ERR_SLOTS], nerrs;

static void count_err(int code)
{
	for (int i = 0; i < nerrs; i++)
		if (errs_code[i] == code) {
			errs_n[i]++;
			return;
		}
	if (nerrs < KW_ERR_SLOTS) {
		errs_code[nerrs] = code;
		errs_n[nerrs++] = 1;
	} else {
		errs_other++;
	}
}

/*
 * A blocking connect with KW_CONNECT_S to give up; then nonblocking. -1 on failure.
 * sport: bind this source port first (0: the kernel picks one, which takes a search
 * through the ports in use: seconds per thousand connections past ~20,000).
 */
static int dial_from(int sport)
{
	struct timeval tv = {.tv_sec = KW_CONNECT_S};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	if (sport) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sport)};

		/* a port an earlier run left in TIME_WAIT may be bound again */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int dial(void)
{
	return dial_from(0);
}

static void watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev))
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Writes what is queued; arms EPOLLOUT while something is left. -1: broken. */
static int flush(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->woff += n;
	}
	c->woff = c->wlen = 0;
	return 0;
}

/* Queues one Produce; false when the queue is full (the next response makes room). */
static bool queue_produce(struct conn *c, int16_t acks, size_t cap)
{
	if (c->wlen + vsize + 512 > cap)
		return false;
	c->wlen += produce(c->wbuf + c->wlen, ++c->corr, acks);
	return true;
}

/* Reads what is there; calls on_frame per whole response. -1: reset or closed. */
static int read_frames(struct conn *c, void (*on_frame)(struct conn *, const uint8_t *, size_t))
{
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);

		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			c->reset = errno == ECONNRESET;
			return -1;
		}
		if (n == 0)
			return -1;
		c->rlen += n;
		while (c->rlen >= 4) {
			int32_t sz = get32(c->rbuf);

			if (sz < 4 || (size_t)sz + 4 > sizeof(c->rbuf))
				return -1;
			if (c->rlen < (size_t)sz + 4)
				break;
			on_frame(c, c->rbuf + 4, (size_t)sz);
			memmove(c->rbuf, c->rbuf + 4 + sz, c->rlen - 4 - sz);
			c->rlen -= 4 + sz;
		}
	}
}

static struct conn *conns_alloc(int n, size_t wcap)
{
	if (n < 1 || n > KW_FDS_PER_PROC) {
		fprintf(stderr, "kwire: %d connections in one process, not in 1..%d\n", n,
			KW_FDS_PER_PROC);
		exit(2);
	}
	conns = calloc(n, sizeof(*conns));
	if (!conns)
		exit(1);
	for (int i = 0; i < n && wcap; i++) {
		conns[i].wbuf = malloc(wcap);
		if (!conns[i].wbuf)
			exit(1);
	}
	for (int i = 0; i < n; i++)
		conns[i].fd = -1, conns[i].id = i;
	nconns = n;
	ep = epoll_create1(0);
	return conns;
}

/*
 * Serves events for seconds (or until a signal): on_event per event, then tick (if any)
 * after each wait of at most wait_ms. Returns the seconds served, or -1 when on_event
 * failed (the run is broken).
 */
static double serve(double seconds, int wait_ms, int (*on_event)(struct conn *, uint32_t, double),
		    void (*tick)(double))
{
	struct epoll_event evs[64];
	double t0 = now_s(), end = t0 + seconds;

	while (!stop && now_s() < end) {
		int n = epoll_wait(ep, evs, 64, wait_ms);
		double t = now_s();

		for (int i = 0; i < n; i++)
			if (on_event(evs[i].data.ptr, evs[i].events, t))
				return -1;
		if (tick)
			tick(t);
	}
	return now_s() - t0;
}

static void print_errors(void)
{
	printf(",\"errors\":{");
	for (int i = 0; i < nerrs; i++)
		printf("%s\"%d\":%llu", i ? "," : "", errs_code[i], errs_n[i]);
	if (errs_other)
		printf("%s\"other\":%llu", nerrs ? "," : "", errs_other);
	printf("}");
}

/* ---- storm ---------------------------------------------------------------------------- */

static int depth = 64;
static unsigned long long responses;
static size_t storm_cap;

static void storm_frame(struct conn *c, const uint8_t *p, size_t n)
{
	responses++;
	c->inflight--;
	count_err(produce_error(p, n));
	if (!stop && queue_produce(c, 1, storm_cap))
		c->inflight++;
}

static int storm_open(struct conn *c)
{
	c->fd = dial();
	if (c->fd < 0)
		return -1;
	c->rlen = c->wlen = c->woff = 0;
	c->inflight = 0;
	for (int i = 0; i < depth && queue_produce(c, 1, storm_cap); i++)
		c->inflight++;
	watch(c, EPOLLIN | EPOLLOUT);
	return flush(c);
}

static unsigned long long storm_resets, storm_failed_connects;

static int storm_event(struct conn *c, uint32_t events, double t)
{
	int rc = 0;

	(void)t;
	if (events & EPOLLIN)
		rc = read_frames(c, storm_frame);
	if (!rc)
		rc = flush(c);
	if (rc) {
		/* reset (kgate's reset action) or closed: come back, as a client does */
		storm_resets++;
		close(c->fd);
		c->fd = -1;
		if (c->reconnects++ < KW_MAX_RECONNECTS && storm_open(c))
			storm_failed_connects++;
		return 0;
	}
	watch(c, EPOLLIN | (c->wlen ? EPOLLOUT : 0));
	return 0;
}

static int run_storm(double seconds)
{
	double dur;

	storm_cap = (size_t)(depth + 1) * (vsize + 512);
	conns_alloc(nconns, storm_cap);
	for (int i = 0; i < nconns; i++)
		if (storm_open(&conns[i]))
			storm_failed_connects++;
	dur = serve(seconds, 100, storm_event, NULL);
	printf("{\"mode\":\"storm\",\"conns\":%d,\"depth\":%d,\"seconds\":%.3f,"
	       "\"responses\":%llu,\"responses_per_s\":%.1f,\"resets\":%llu,"
	       "\"failed_connects\":%llu",
	       nconns, depth, dur, responses, responses / dur, storm_resets,
	       storm_failed_connects);
	print_errors();
	printf("}\n");
	return 0;
}

/* ---- blast ---------------------------------------------------------------------------- */

static unsigned long long blast_frames, blast_bytes;
static size_t blast_cap;

static int blast_event(struct conn *c, uint32_t events, double t)
{
	(void)events, (void)t;
	for (int k = 0; k < KW_BLAST_BURST; k++) {
		if (!c->wlen) {
			queue_produce(c, 0, blast_cap);
			c->frame_len = c->wlen;
		}
		if (flush(c)) {
			fprintf(stderr, "kwire: blast: connection broken\n");
			return -1;
		}
		if (c->wlen)
			break; /* TCP is full: EPOLLOUT says when to go on */
		/* a frame counts once TCP took all of it */
		blast_frames++;
		blast_bytes += c->frame_len;
	}
	return 0;
}

static int run_blast(double seconds)
{
	unsigned long long unsent = 0;
	double dur;

	blast_cap = 4 * (vsize + 512);
	conns_alloc(nconns, blast_cap);
	for (int i = 0; i < nconns; i++) {
		conns[i].fd = dial();
		if (conns[i].fd < 0) {
			fprintf(stderr, "kwire: blast: connect: %s\n", strerror(errno));
			return 1;
		}
		watch(&conns[i], EPOLLOUT);
	}
	dur = serve(seconds, 100, blast_event, NULL);
	if (dur < 0)
		return 1;
	/* what still sits unsent in the socket buffers did not get through */
	for (int i = 0; i < nconns; i++) {
		int q = 0;

		if (!ioctl(conns[i].fd, SIOCOUTQ, &q))
			unsent += q;
	}
	blast_bytes = blast_bytes > unsent ? blast_bytes - unsent : 0;
	printf("{\"mode\":\"blast\",\"conns\":%d,\"size\":%zu,\"seconds\":%.3f,\"frames\":%llu,"
	       "\"mb_per_s\":%.3f}\n",
	       nconns, vsize, dur, blast_frames, blast_bytes / dur / 1e6);
	return 0;
}

/* ---- active --------------------------------------------------------------------------- */

static double interval = 0.1, win_from = 0, win_to = 1e9, stall_s = 1, t_start;
static unsigned long long tl[KW_TL_MAX];
static int active_up;	   /* connections answered at least once */
static double active_ready = -1; /* when the last of them was first answered */

static void gap_at(struct conn *c, double t)
{
	/* the longest stretch inside the window without an answer */
	double a = c->last_answer > win_from ? c->last_answer : win_from;
	double b = t < win_to ? t : win_to;

	if (b - a > c->win_gap)
		c->win_gap = b - a;
}

static void active_frame(struct conn *c, const uint8_t *p, size_t n)
{
	double t = now_s();
	int b = (int)(t - t_start);

	(void)p, (void)n;
	gap_at(c, t - t_start);
	c->last_answer = t - t_start;
	if (!c->answers++ && ++active_up == nconns)
		active_ready = t - t_start;
	c->inflight = 0;
	c->timed_out = false;
	if (b >= 0 && b < KW_TL_MAX)
		tl[b]++;
}

static int active_send(struct conn *c)
{
	c->wlen = c->woff = 0;
	c->wlen = metadata(c->wbuf, ++c->corr);
	c->inflight = 1;
	c->sent_at = now_s();
	return flush(c);
}

/* Starts a nonblocking connect (a flood must not hold the other connections up). */
static void active_dial(struct conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connecting = true;
	c->inflight = 0;
	c->rlen = 0;
	if (connect(c->fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	watch(c, EPOLLOUT);
}

/* The connection broke (reset or closed) at t: counted, closed, redialled by the loop. */
static void active_broken(struct conn *c, double t)
{
	double rel = t - t_start;

	if (rel >= win_from && rel <= win_to)
		c->resets++;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->connecting = false;
	c->retry_at = t;
}

static int active_event(struct conn *c, uint32_t events, double t)
{
	(void)events;
	if (c->connecting) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		c->connecting = false;
		if (err || active_send(c)) {
			/* refused or timed out: not a reset of a live connection; try again */
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
			c->retry_at = t + KW_REDIAL_S;
			return 0;
		}
		watch(c, EPOLLIN);
		return 0;
	}
	if (read_frames(c, active_frame) || flush(c))
		active_broken(c, t);
	return 0;
}

static void active_tick(struct conn *c, double t)
{
	if (c->fd < 0) {
		if (t >= c->retry_at && c->reconnects < KW_MAX_RECONNECTS) {
			c->reconnects++;
			active_dial(c);
		}
		return;
	}
	if (c->connecting)
		return;
	if (c->inflight && !c->timed_out && t - c->sent_at > stall_s) {
		c->timed_out = true;
		if (t - t_start >= win_from && t - t_start <= win_to)
			c->timeouts++;
	}
	if (!c->inflight && t - c->sent_at >= interval && active_send(c))
		active_broken(c, t);
}

static void active_ticks(double t)
{
	for (int i = 0; i < nconns; i++)
		if (!conns[i].dead)
			active_tick(&conns[i], t);
}

static int run_active(double seconds)
{
	conns_alloc(nconns, 1024);
	t_start = now_s();
	/*
	 * Dialled by the loop, KW_DIAL_GAP_S apart: the mock listens with a backlog of 5, and
	 * a burst of connects would lose SYNs to it and wait seconds for retransmissions.
	 */
	for (int i = 0; i < nconns; i++)
		conns[i].retry_at = t_start + i * KW_DIAL_GAP_S;
	serve(t_start + seconds - now_s(), 10, active_event, active_ticks);
	{
		unsigned survived = 0, reset = 0, stalled = 0, dead = 0, timeouts = 0;
		unsigned long long answers = 0;
		double max_gap = 0, tot = now_s() - t_start;

		for (int i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			gap_at(c, tot);
			answers += c->answers;
			reset += c->resets > 0;
			stalled += c->win_gap > stall_s;
			dead += c->dead;
			timeouts += c->timeouts;
			survived += !c->resets && c->win_gap <= stall_s && !c->dead;
			if (c->win_gap > max_gap)
				max_gap = c->win_gap;
		}
		printf("{\"mode\":\"active\",\"conns\":%d,\"seconds\":%.3f,\"window\":[%.3f,%.3f],"
		       "\"stall_s\":%.3f,\"survived\":%u,\"reset\":%u,\"stalled\":%u,\"dead\":%u,"
		       "\"timeouts\":%u,\"answers\":%llu,\"max_gap_s\":%.3f,\"ready_s\":%.3f,"
		       "\"answers_per_s\":[",
		       nconns, tot, win_from, win_to, stall_s, survived, reset, stalled, dead,
		       timeouts, answers, max_gap, active_ready);
		for (int b = 0; b < (int)tot && b < KW_TL_MAX; b++)
			printf("%s%llu", b ? "," : "", tl[b]);
		printf("]}\n");
	}
	return 0;
}

/* ---- idle ----------------------------------------------------------------------------- */

static void idle_frame(struct conn *c, const uint8_t *p, size_t n)
{
	(void)p, (void)n;
	c->answered = true;
}

/* Probes connections [from, to): one Metadata each, then waits for answers or resets. */
static void probe(int from, int to_, unsigned *answered, unsigned *reset, unsigned *silent)
{
	struct epoll_event evs[64];
	double end = now_s() + KW_PROBE_WAIT_S;
	int open = 0;

	for (int i = from; i < to_; i++) {
		struct conn *c = &conns[i];

		if (c->fd < 0)
			continue;
		c->wbuf = malloc(1024);
		if (!c->wbuf || active_send(c)) {
			c->reset = true;
			continue;
		}
		watch(c, EPOLLIN);
		open++;
	}
	while (open > 0 && now_s() < end && !stop) {
		int n = epoll_wait(ep, evs, 64, 50);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (read_frames(c, idle_frame) < 0 && !c->answered)
				c->reset = true;
			if (c->answered || c->reset) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				open--;
			}
		}
	}
	*answered = *reset = *silent = 0;
	for (int i = from; i < to_; i++) {
		struct conn *c = &conns[i];

		if (c->fd < 0)
			continue;
		if (c->answered)
			(*answered)++;
		else if (c->reset)
			(*reset)++;
		else
			(*silent)++;
	}
}

/*
 * One process holds at most KW_FDS_PER_PROC connections (the sandbox's file limit cannot
 * be raised), so idle mode opens its connections in children, one after the other: the
 * first child holds the oldest connections, the last the newest.
 */
struct idle_child {
	pid_t pid;
	int cmd, res; /* pipes: commands to the child, its lines back */
	int opened, failed;
};

/* In a child: open n connections from source ports sport0.., report, then probe as told.
 * Never returns. */
static void idle_child(int n, int sport0, int cmd, int res, double deadline)
{
	unsigned a = 0, r = 0, q = 0;
	int opened = 0, failed = 0, np;
	char line[128], c;

	conns_alloc(n, 0);
	for (int i = 0; i < n && !stop && now_s() < deadline; i++) {
		conns[i].fd = dial_from(sport0 + i);
		if (conns[i].fd < 0)
			failed++;
		else
			opened++;
	}
	snprintf(line, sizeof(line), "%d %d\n", opened, failed);
	if (write(res, line, strlen(line)) < 0 || read(cmd, &c, 1) != 1 || c == 'x')
		_exit(0);
	if (read(cmd, &np, sizeof(np)) != sizeof(np))
		_exit(1);
	np = np < opened ? np : opened;
	if (c == 'o')
		probe(0, np, &a, &r, &q);
	else
		probe(n - np, n, &a, &r, &q);
	snprintf(line, sizeof(line), "%u %u %u\n", a, r, q);
	if (write(res, line, strlen(line)) < 0)
		_exit(1);
	_exit(0);
}

static int readline(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	buf[n] = 0;
	return (int)n;
}

static int run_idle(double hold, int nprobe, double seconds)
{
	struct idle_child ch[KW_MAX_CONNS / KW_FDS_PER_PROC + 1];
	unsigned res[2][3] = {{0}};
	int nch = (nconns + KW_FDS_PER_PROC - 1) / KW_FDS_PER_PROC, opened = 0, failed = 0;
	double t0 = now_s(), t_open;
	char line[128];

	if (nconns < 1 || nconns > KW_MAX_CONNS)
		usage();
	for (int i = 0; i < nch; i++) {
		int pc[2], pr[2], n = nconns - i * KW_FDS_PER_PROC;

		n = n < KW_FDS_PER_PROC ? n : KW_FDS_PER_PROC;
		if (pipe(pc) || pipe(pr))
			return 1;
		ch[i].pid = fork();
		if (ch[i].pid == 0) {
			close(pc[1]);
			close(pr[0]);
			idle_child(n, KW_IDLE_SPORT + i * KW_FDS_PER_PROC, pc[0], pr[1],
				   t0 + seconds);
		}
		close(pc[0]);
		close(pr[1]);
		ch[i].cmd = pc[1];
		ch[i].res = pr[0];
		/* the next child starts once this one holds its connections */
		if (readline(ch[i].res, line, sizeof(line)) <= 0 ||
		    sscanf(line, "%d %d", &ch[i].opened, &ch[i].failed) != 2)
			return 1;
		opened += ch[i].opened;
		failed += ch[i].failed;
	}
	t_open = now_s() - t0;
	for (double h = now_s() + hold; now_s() < h && !stop;)
		usleep(50000);
	for (int i = 0; i < nch; i++) {
		/* the first child probes its oldest, the last its newest (one child: both) */
		char c = i == 0 ? 'o' : i == nch - 1 ? 'n' : 'x';

		if (write(ch[i].cmd, &c, 1) != 1)
			return 1;
		if (c != 'x' && write(ch[i].cmd, &nprobe, sizeof(nprobe)) != sizeof(nprobe))
			return 1;
	}
	for (int i = 0; i < nch; i++) {
		int k = i == 0 ? 0 : 1;

		if ((i == 0 || i == nch - 1) && readline(ch[i].res, line, sizeof(line)) > 0)
			sscanf(line, "%u %u %u", &res[k][0], &res[k][1], &res[k][2]);
	}
	if (nch == 1) {
		/* one child probed its oldest only; newest are not told apart from oldest */
		memset(res[1], 0, sizeof(res[1]));
	}
	for (int i = 0; i < nch; i++) {
		close(ch[i].cmd);
		waitpid(ch[i].pid, NULL, 0);
	}
	printf("{\"mode\":\"idle\",\"conns\":%d,\"opened\":%d,\"failed_connects\":%d,"
	       "\"open_s\":%.3f,\"probe\":%d,\"oldest\":{\"answered\":%u,\"reset\":%u,"
	       "\"silent\":%u},\"newest\":{\"answered\":%u,\"reset\":%u,\"silent\":%u}}\n",
	       nconns, opened, failed, t_open, nprobe, res[0][0], res[0][1], res[0][2], res[1][0],
	       res[1][1], res[1][2]);
	return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: kwire storm|blast|active|idle --to IP:PORT [--topic T] [--conns N] "
			"[--depth N] [--size B] [--seconds S] [--interval-ms MS] [--window FROM:TO] "
			"[--stall-s S] [--hold-s S] [--probe N] [--client-id ID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	double seconds = 10, hold = 2;
	int nprobe = 100;
	char host[64];

	nconns = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--to")) {
			const char *colon = strrchr(v, ':');

			if (!colon || colon - v >= (long)sizeof(host))
				usage();
			memcpy(host, v, colon - v);
			host[colon - v] = 0;
			to.sin_family = AF_INET;
			to.sin_port = htons(atoi(colon + 1));
			if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
				usage();
		} else if (!strcmp(a, "--topic")) {
			topic = v;
		} else if (!strcmp(a, "--conns")) {
			nconns = atoi(v);
		} else if (!strcmp(a, "--depth")) {
			depth = atoi(v);
		} else if (!strcmp(a, "--size")) {
			vsize = strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--seconds")) {
			seconds = atof(v);
		} else if (!strcmp(a, "--interval-ms")) {
			interval = atof(v) / 1000;
		} else if (!strcmp(a, "--window")) {
			if (sscanf(v, "%lf:%lf", &win_from, &win_to) != 2)
				usage();
		} else if (!strcmp(a, "--stall-s")) {
			stall_s = atof(v);
		} else if (!strcmp(a, "--hold-s")) {
			hold = atof(v);
		} else if (!strcmp(a, "--probe")) {
			nprobe = atoi(v);
		} else if (!strcmp(a, "--client-id")) {
			client_id = v;
		} else {
			usage();
		}
	}
	if (!to.sin_port || vsize > KW_MAX_VALUE || depth < 1 || depth > KW_MAX_DEPTH ||
	    seconds <= 0 || strlen(topic) > 249)
		usage();
	tool_signals();
	if (!strcmp(mode, "storm")) {
		nconns = nconns ? nconns : 4;
		return run_storm(seconds);
	}
	if (!strcmp(mode, "blast")) {
		nconns = nconns ? nconns : 1;
		return run_blast(seconds);
	}
	if (!strcmp(mode, "active")) {
		nconns = nconns ? nconns : 100;
		return run_active(seconds);
	}
	if (!strcmp(mode, "idle")) {
		nconns = nconns ? nconns : 40000;
		return run_idle(hold, nprobe, seconds);
	}
	usage();
	return 2;
}
