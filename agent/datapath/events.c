// SPDX-License-Identifier: Apache-2.0
/* Splitting kg_event_recs records into decision events, and reading the ring buffers
 * (agent/datapath/events.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "agent/datapath/events.h"

/* The event that a decision entry d (its variable part at var) and its context c make. */
static void event_of(struct kg_event *e, const struct kg_rec_ctx *c, const __u8 *principal,
		     const struct kg_rec_dec *d, const __u8 *var)
{
	size_t cl = KG_REC_CID_BYTES(d->client_id_len);

	memset(e, 0, sizeof(*e));
	e->ts_ns = c->ts_ns;
	e->flow = c->flow;
	e->version_id = c->version_id;
	e->principal_id = c->principal_id;
	e->region_id = c->region_id;
	e->principal_src = c->principal_src;
	e->gen = c->gen;
	e->principal_len = c->principal_len;
	memcpy(e->principal, principal, KG_REC_PRINCIPAL_BYTES(c->principal_len));
	e->rule_id = d->rule_id;
	e->corr = d->corr;
	e->frame_size = d->frame_size;
	e->api_key = d->api_key;
	e->api_version = d->api_version;
	e->kind = d->kind;
	e->verdict = d->verdict;
	e->enforced = d->enforced;
	e->op = d->op;
	e->reason = d->reason;
	e->tkind = d->tkind;
	e->client_id_len = d->client_id_len;
	e->topic_len = d->topic_len;
	e->count = d->count;
	e->folded = d->folded;
	e->folded_deny = d->folded_deny;
	e->first_ts = d->first_ts;
	if (d->flags & KG_REC_F_UUID) {
		memcpy(e->uuid, var, sizeof(e->uuid));
		var += sizeof(e->uuid);
	}
	memcpy(e->client_id, var, cl);
	memcpy(e->topic, var + KG_REC_PAD8(cl), d->topic_len);
}

int kg_events_each(const void *rec, size_t size, kg_event_cb cb, void *ctx)
{
	const __u8 *p = rec, *principal = NULL;
	struct kg_rec_ctx c;
	struct kg_rec_dec d;
	struct kg_rec_hdr h;
	struct kg_event e;
	size_t off;
	int n = 0;

	/* every length is checked before it is used to read or to advance */
	for (off = 0; off < size; off += h.size) {
		if (size - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		if (h.size > size - off)
			return -EBADMSG; /* cut short */
		switch (h.type) {
		case KG_REC_CTX:
			if (h.size < sizeof(c))
				return -EBADMSG;
			memcpy(&c, p + off, sizeof(c));
			if (h.size != KG_REC_CTX_SIZE(c.principal_len))
				return -EBADMSG;
			principal = p + off + sizeof(c);
			break;
		case KG_REC_DEC:
			if (h.size < sizeof(d) || !principal)
				return -EBADMSG; /* an event needs a context before it */
			memcpy(&d, p + off, sizeof(d));
			if (h.size != KG_REC_DEC_SIZE(d.flags, d.client_id_len, d.topic_len))
				return -EBADMSG;
			event_of(&e, &c, principal, &d, p + off + sizeof(d));
			cb(ctx, &e);
			n++;
			break;
		default:
			return -EBADMSG;
		}
	}
	return n;
}

/* ---- the ring reader ------------------------------------------------------------------ */

struct kg_ring {
	int fd;
	unsigned long *consumer; /* the page the kernel reads our position from (RW) */
	const unsigned long *producer; /* the kernel's page, then the data mapped twice (RO) */
	const __u8 *data;
	size_t mask;  /* data bytes - 1 (a power of two) */
	size_t map_len; /* of the producer mapping */
};

struct kg_evring {
	struct kg_ring *rings;
	int n;
	kg_evring_rec_fn rec;
	kg_evring_commit_fn commit;
	void *ctx;
	size_t page;
};

struct kg_evring *kg_evring_new(kg_evring_rec_fn rec, kg_evring_commit_fn commit, void *ctx)
{
	struct kg_evring *er = calloc(1, sizeof(*er));

	if (!er)
		return NULL;
	er->rec = rec;
	er->commit = commit;
	er->ctx = ctx;
	er->page = (size_t)sysconf(_SC_PAGESIZE);
	return er;
}

int kg_evring_add(struct kg_evring *er, int map_fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	struct kg_ring *r, *rings;
	void *c, *p;
	int e;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	/* the kernel only makes ring buffers of a power-of-two number of pages */
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	rings = realloc(er->rings, (er->n + 1) * sizeof(*rings));
	if (!rings)
		return -ENOMEM;
	er->rings = rings;
	c = mmap(NULL, er->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (c == MAP_FAILED)
		return -errno;
	/* the data pages follow the producer's page twice over: a record that wraps around
	 * the end reads as one piece */
	p = mmap(NULL, er->page + 2 * (size_t)info.max_entries, PROT_READ, MAP_SHARED, map_fd,
		 er->page);
	if (p == MAP_FAILED) {
		e = -errno;
		munmap(c, er->page);
		return e;
	}
	r = &er->rings[er->n];
	*r = (struct kg_ring){.fd = map_fd, .consumer = c, .producer = p,
			      .data = (const __u8 *)p + er->page, .mask = info.max_entries - 1,
			      .map_len = er->page + 2 * (size_t)info.max_entries};
	return er->n++;
}

/* Bytes a record of header word len takes in the ring: header and data, 8-aligned. */
static size_t rec_span(__u32 len)
{
	return ((len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ +
		7) & ~(size_t)7;
}

/*
 * Hands ring i's submitted records from *pos on to rec (discarded ones are skipped), each
 * taken one moving *pos past it, until rec returns non-zero (a negative result leaves
 * *pos before its record), the producer's position, a record still being written, or the
 * position limit (the caller's bound on one call). Returns rec's last result.
 */
static int ring_walk(struct kg_evring *er, int i, unsigned long *pos, unsigned long limit,
		     kg_evring_rec_fn rec, void *ctx)
{
	struct kg_ring *r = &er->rings[i];
	unsigned long prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	int rc = 0;

	while (*pos < prod && *pos < limit && !rc) {
		const __u32 *hdr = (const __u32 *)(r->data + (*pos & r->mask));
		__u32 len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not yet submitted: the next call */
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			rc = rec(ctx, i, (const __u8 *)hdr + BPF_RINGBUF_HDR_SZ, len);
			if (rc < 0)
				break; /* this record is not taken */
		}
		*pos += rec_span(len);
		if (*pos >= prod)
			prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	}
	return rc;
}

/* Records taken since the last commit, and in all, by consume_ring's walk. */
struct take {
	struct kg_evring *er;
	long n;
	int taken;
};

static int take_rec(void *ctx, int i, const void *data, size_t size)
{
	struct take *t = ctx;
	int rc = t->er->rec(t->er->ctx, i, data, size);

	if (rc < 0)
		return rc;
	t->n++;
	t->taken++;
	return rc || t->taken == KG_EVRING_BATCH ? KG_EVRING_COMMIT : 0;
}

/*
 * One ring to its end, or to one ring's size of bytes from where this call began: the
 * number of records, or a negative rec() result. *more when it stopped at that bound
 * with records left.
 */
static long consume_ring(struct kg_evring *er, int i, bool *more)
{
	struct kg_ring *r = &er->rings[i];
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_RELAXED);
	unsigned long limit = cons + r->mask + 1;
	struct take t = {.er = er};
	int rc;

	/* each commit point: the records taken are in the caller's sinks, then they go */
	while ((rc = ring_walk(er, i, &cons, limit, take_rec, &t)) > 0) {
		er->commit(er->ctx);
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
		t.taken = 0;
	}
	if (t.taken) {
		er->commit(er->ctx);
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
	}
	if (more && cons >= limit && cons < __atomic_load_n(r->producer, __ATOMIC_ACQUIRE))
		*more = true;
	return rc < 0 ? rc : t.n;
}

long kg_evring_consume(struct kg_evring *er, bool *more)
{
	long total = 0;

	if (more)
		*more = false;
	for (int i = 0; i < er->n; i++) {
		long n = consume_ring(er, i, more);

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

/* What kg_evring_peek's walk hands on, and counts. */
struct peek {
	kg_evring_rec_fn rec;
	void *ctx;
	long n;
};

static int peek_rec(void *ctx, int i, const void *data, size_t size)
{
	struct peek *p = ctx;

	p->n++;
	return p->rec(p->ctx, i, data, size) ? -1 : 0;
}

long kg_evring_peek(struct kg_evring *er, int ring, kg_evring_rec_fn rec, void *ctx)
{
	struct peek p = {.rec = rec, .ctx = ctx};
	unsigned long pos;

	if (ring < 0 || ring >= er->n)
		return -EINVAL;
	pos = __atomic_load_n(er->rings[ring].consumer, __ATOMIC_RELAXED);
	ring_walk(er, ring, &pos, pos + er->rings[ring].mask + 1, peek_rec, &p);
	return p.n;
}

void kg_evring_free(struct kg_evring *er)
{
	if (!er)
		return;
	for (int i = 0; i < er->n; i++) {
		munmap(er->rings[i].consumer, er->page);
		munmap((void *)er->rings[i].producer, er->rings[i].map_len);
	}
	free(er->rings);
	free(er);
}
