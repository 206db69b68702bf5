// SPDX-License-Identifier: Apache-2.0
/*
 * The Kafka spool (internal.h explains the layout). One writer (the thread that
 * calls kg_audit_event) appends; one sender reads from the head and marks what its
 * delivery reports confirmed. The segment list and counters are shared under sp->lock;
 * a reader never reads past a segment's published size, so it never sees half a record.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/audit/internal.h"

/* Reader buffer: a read(2) of this much at a time; grows for (impossible) longer lines. */
#define KG_SPOOL_READ_CHUNK (256u << 10)
#define DELIVERED_FILE	    "delivered"

static void seg_name(char *b, size_t n, __u64 first)
{
	snprintf(b, n, "seg-%020llu.jsonl", (unsigned long long)first);
}

static int cmp_seg(const void *a, const void *b)
{
	const struct kg_spool_seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

static int push_seg(struct kg_spool *sp, __u64 first, __u64 size)
{
	if (sp->nsegs == sp->capsegs) {
		size_t cap = sp->capsegs ? sp->capsegs * 2 : 16;
		struct kg_spool_seg *s = realloc(sp->segs, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		sp->segs = s;
		sp->capsegs = cap;
	}
	sp->segs[sp->nsegs++] = (struct kg_spool_seg){.first_seq = first, .size = size};
	return 0;
}

/*
 * Walks segment i's complete records: counts those after after_seq into *count, the last
 * seq into *last. *complete = bytes up to the last newline (a crash may leave a partial
 * record after it, which the caller cuts).
 */
static int scan_seg(struct kg_spool *sp, size_t i, __u64 after_seq, __u64 *count, __u64 *last,
		    __u64 *complete)
{
	char name[64], *buf;
	size_t len = 0, cap = KG_SPOOL_READ_CHUNK;
	__u64 off = 0;
	int fd;

	seg_name(name, sizeof(name), sp->segs[i].first_seq);
	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	*complete = 0;
	for (;;) {
		ssize_t n;
		size_t pos = 0;
		char *nl;

		if (len == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += n;
		while ((nl = memchr(buf + pos, '\n', len - pos))) {
			__u64 seq;

			if (kg_rec_u64(buf + pos, nl - (buf + pos), "seq", &seq)) {
				*last = seq;
				if (seq > after_seq)
					(*count)++;
			}
			off += nl + 1 - (buf + pos);
			pos = nl + 1 - buf;
		}
		memmove(buf, buf + pos, len - pos);
		len -= pos;
	}
	*complete = off;
	free(buf);
	close(fd);
	return 0;
}

static int read_delivered(struct kg_spool *sp)
{
	char b[256];
	long long s = 0, o = -1;
	int p = -1, fd = openat(sp->dirfd, DELIVERED_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	sp->delivered_seq = 0;
	sp->delivered_partition = -1;
	sp->delivered_offset = -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = 0;
	if (sscanf(b, "seq %lld partition %d offset %lld", &s, &p, &o) >= 1 && s >= 0) {
		sp->delivered_seq = (__u64)s;
		sp->delivered_partition = p;
		sp->delivered_offset = o;
	}
	return 0;
}

int kg_spool_open(struct kg_spool *sp, const char *dir, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	int r;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->seg_max = KG_SPOOL_SEGMENT_BYTES;
	sp->mem_max = KG_SPOOL_MEM_BYTES;
	pthread_mutex_init(&sp->lock, NULL);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		return r;
	}
	sp->dir = strdup(dir);
	sp->dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (sp->dirfd < 0 || !sp->dir) {
		r = sp->dir ? -errno : -ENOMEM;
		snprintf(err, errlen, "spool %s: %s", dir, strerror(-r));
		goto fail;
	}
	r = read_delivered(sp);
	if (r) {
		snprintf(err, errlen, "spool %s/%s: %s", dir, DELIVERED_FILE, strerror(-r));
		goto fail;
	}
	d = fdopendir(dup(sp->dirfd));
	if (!d) {
		r = -errno;
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d))) {
		unsigned long long first;
		char tail[16];
		struct stat st;

		if (sscanf(de->d_name, "seg-%20llu.%15s", &first, tail) != 2 ||
		    strcmp(tail, "jsonl") || fstatat(sp->dirfd, de->d_name, &st, 0))
			continue;
		if (push_seg(sp, first, st.st_size)) {
			closedir(d);
			r = -ENOMEM;
			snprintf(err, errlen, "spool %s: out of memory", dir);
			goto fail;
		}
	}
	closedir(d);
	if (sp->nsegs)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), cmp_seg);
	for (size_t i = 0; i < sp->nsegs; i++) {
		__u64 complete, last = sp->segs[i].first_seq ? sp->segs[i].first_seq - 1 : 0;
		char name[64];

		r = scan_seg(sp, i, sp->delivered_seq, &sp->records, &last, &complete);
		if (r) {
			snprintf(err, errlen, "spool %s: segment %llu: %s", dir,
				 (unsigned long long)sp->segs[i].first_seq, strerror(-r));
			goto fail;
		}
		seg_name(name, sizeof(name), sp->segs[i].first_seq);
		if (complete < sp->segs[i].size) {
			/* a record cut by a crash: it was never handed to any sink */
			int fd = openat(sp->dirfd, name, O_WRONLY | O_CLOEXEC);

			if (fd < 0 || ftruncate(fd, complete)) {
				r = -errno;
				snprintf(err, errlen, "spool %s/%s: cutting a partial record: %s",
					 dir, name, strerror(errno));
				if (fd >= 0)
					close(fd);
				goto fail;
			}
			close(fd);
			sp->segs[i].size = complete;
		}
		sp->bytes += sp->segs[i].size;
		if (last > sp->last_seq)
			sp->last_seq = last;
	}
	if (sp->nsegs) {
		char name[64];

		seg_name(name, sizeof(name), sp->segs[sp->nsegs - 1].first_seq);
		sp->tail_bytes = sp->segs[sp->nsegs - 1].size;
		sp->fd = openat(sp->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (sp->fd < 0) {
			r = -errno;
			snprintf(err, errlen, "spool %s/%s: %s", dir, name, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	kg_spool_close(sp);
	return r;
}

void kg_spool_close(struct kg_spool *sp)
{
	kg_spool_flush(sp);
	if (sp->fd >= 0) {
		fdatasync(sp->fd);
		close(sp->fd);
	}
	if (sp->dirfd > 0)
		close(sp->dirfd);
	free(sp->segs);
	free(sp->dir);
	kg_buf_free(&sp->held);
	free(sp->held_recs);
	kg_spool_mem_stop(sp);
	while (sp->nspares > 0) {
		struct kg_spool_block *b = sp->spares[--sp->nspares];

		kg_buf_free(&b->buf);
		free(b->recs);
		free(b);
	}
	pthread_mutex_destroy(&sp->lock);
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
}

static int roll(struct kg_spool *sp, __u64 seq)
{
	char name[64];
	int fd, r;

	seg_name(name, sizeof(name), seq);
	fd = openat(sp->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&sp->lock);
	r = push_seg(sp, seq, 0);
	pthread_mutex_unlock(&sp->lock);
	if (r) {
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		return r;
	}
	if (sp->fd >= 0) {
		fdatasync(sp->fd);
		close(sp->fd);
	}
	sp->fd = fd;
	sp->tail_bytes = 0;
	fsync(sp->dirfd); /* the new name survives a crash */
	return 0;
}

/* ---- blocks kept in memory for the sender (internal.h) ------------------------------------ */

/* The held records become a block for the sender (under the lock, with mem_open); the
 * writer goes on with a spare buffer. Past mem_max bytes none are kept any more. */
static void keep_block(struct kg_spool *sp)
{
	struct kg_spool_rec *recs;
	struct kg_spool_block *b;
	struct kg_buf buf;

	if (sp->mem_bytes + sp->held.len > sp->mem_max) {
		sp->mem_open = false; /* the sender goes back to the files */
		return;
	}
	b = sp->nspares ? sp->spares[--sp->nspares] : calloc(1, sizeof(*b));
	if (!b) {
		sp->mem_open = false;
		return;
	}
	/* swapped: the block takes what was held, the writer takes the spare's buffers */
	buf = b->buf;
	recs = b->recs;
	b->buf = sp->held;
	b->recs = sp->held_recs;
	b->n = sp->held_records;
	b->done = 0;
	b->next = NULL;
	sp->held = buf;
	sp->held_recs = recs;
	if (sp->mem_tail)
		sp->mem_tail->next = b;
	else
		sp->mem_head = b;
	sp->mem_tail = b;
	sp->mem_bytes += b->buf.len;
}

static void block_free(struct kg_spool *sp, struct kg_spool_block *b)
{
	sp->mem_bytes -= b->buf.len;
	if (sp->nspares < KG_SPOOL_SPARES) {
		sp->spares[sp->nspares++] = b;
		return;
	}
	kg_buf_free(&b->buf);
	free(b->recs);
	free(b);
}

void kg_spool_mem_start(struct kg_spool *sp)
{
	pthread_mutex_lock(&sp->lock);
	sp->mem_open = true;
	pthread_mutex_unlock(&sp->lock);
}

__u64 kg_spool_mem_first(struct kg_spool *sp)
{
	struct kg_spool_block *b;
	__u64 seq = 0;

	pthread_mutex_lock(&sp->lock);
	b = sp->mem_read;
	if (b && sp->mem_read_idx < b->n)
		seq = b->recs[sp->mem_read_idx].seq;
	else if ((b = b ? b->next : sp->mem_head))
		seq = b->recs[0].seq;
	pthread_mutex_unlock(&sp->lock);
	return seq;
}

int kg_spool_mem_next(struct kg_spool *sp, const char **rec, size_t *len, __u64 *seq,
		      __u64 *ts_ns, struct kg_spool_block **blk)
{
	struct kg_spool_block *b = sp->mem_read;
	const struct kg_spool_rec *x;

	/* the cursor is the sender's own, and a kept block never changes: the rest of the one
	 * being read needs no lock, only the step to the next (the writer links it) */
	if (!b || sp->mem_read_idx == b->n) {
		int r = 0;

		pthread_mutex_lock(&sp->lock);
		b = b ? b->next : sp->mem_head;
		if (b) {
			sp->mem_read = b;
			sp->mem_read_idx = 0;
		} else if (!sp->mem_open) {
			r = -1;
		}
		pthread_mutex_unlock(&sp->lock);
		if (!b)
			return r;
	}
	x = &b->recs[sp->mem_read_idx++];
	*rec = b->buf.p + x->off;
	*len = x->len;
	*seq = x->seq;
	*ts_ns = x->ts_ns;
	*blk = b;
	return 1;
}

void kg_spool_mem_done(struct kg_spool *sp, struct kg_spool_block *blk, size_t n)
{
	pthread_mutex_lock(&sp->lock);
	blk->done += n;
	/* delivery reports come in order: done blocks are the oldest */
	while (sp->mem_head && sp->mem_head->done == sp->mem_head->n) {
		struct kg_spool_block *b = sp->mem_head;

		sp->mem_head = b->next;
		if (!sp->mem_head)
			sp->mem_tail = NULL;
		if (sp->mem_read == b)
			sp->mem_read = NULL; /* read to its end: the next is the new oldest */
		block_free(sp, b);
	}
	pthread_mutex_unlock(&sp->lock);
}

void kg_spool_mem_stop(struct kg_spool *sp)
{
	pthread_mutex_lock(&sp->lock);
	sp->mem_open = false;
	while (sp->mem_head) {
		struct kg_spool_block *b = sp->mem_head;

		sp->mem_head = b->next;
		block_free(sp, b);
	}
	sp->mem_tail = sp->mem_read = NULL;
	pthread_mutex_unlock(&sp->lock);
}

/* Forgets what is held (it was not spooled). */
static void drop_held(struct kg_spool *sp)
{
	sp->held.len = 0;
	sp->held_records = 0;
}

int kg_spool_flush(struct kg_spool *sp)
{
	size_t off = 0;

	if (!sp->held_records)
		return 0;
	if (sp->fd < 0) {
		drop_held(sp);
		return -EBADF; /* impossible: kg_spool_add rolled before holding anything */
	}
	while (off < sp->held.len) {
		ssize_t n = write(sp->fd, sp->held.p + off, sp->held.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -ENOSPC;

			/* a partial record must not stay: the reader would glue the next one to
			 * it */
			if (off && ftruncate(sp->fd, sp->tail_bytes))
				r = -errno;
			drop_held(sp);
			return r;
		}
		off += n;
	}
	/* published: the sender reads up to the new size, or takes the block */
	pthread_mutex_lock(&sp->lock);
	sp->segs[sp->nsegs - 1].size += off;
	sp->bytes += off;
	sp->records += sp->held_records;
	sp->last_seq = sp->held_last_seq;
	if (sp->mem_open)
		keep_block(sp);
	pthread_mutex_unlock(&sp->lock);
	sp->tail_bytes += off;
	sp->unsynced += off;
	drop_held(sp);
	return 0;
}

bool kg_spool_rolls(const struct kg_spool *sp)
{
	return sp->fd < 0 || sp->tail_bytes + sp->held.len >= sp->seg_max;
}

int kg_spool_add(struct kg_spool *sp, __u64 seq, __u64 ts_ns, const char *rec, size_t len)
{
	struct kg_spool_rec *recs;
	int r;

	/* a new segment starts with this record once the newest one is full: what is held goes
	 * into the old one first */
	if (kg_spool_rolls(sp)) {
		r = kg_spool_flush(sp);
		if (!r)
			r = roll(sp, seq);
		if (r)
			return r;
	}
	recs = kg_grow(sp->held_recs, sp->held_records, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	sp->held_recs = recs;
	recs[sp->held_records] =
		(struct kg_spool_rec){.seq = seq, .ts_ns = ts_ns, .off = sp->held.len, .len = len};
	kg_buf_add(&sp->held, rec, len);
	kg_buf_add(&sp->held, "\n", 1);
	sp->held_records++;
	sp->held_last_seq = seq;
	return 0;
}

int kg_spool_append(struct kg_spool *sp, __u64 seq, const char *rec, size_t len)
{
	int r = kg_spool_add(sp, seq, 0, rec, len);

	return r ? r : kg_spool_flush(sp);
}

void kg_spool_sync(struct kg_spool *sp)
{
	if (sp->fd >= 0 && sp->unsynced) {
		fdatasync(sp->fd);
		sp->unsynced = 0;
	}
}

int kg_spool_mark_delivered(struct kg_spool *sp, __u64 seq, __u64 nrec, __s32 partition,
			    __s64 offset)
{
	char b[128];
	int n, r;

	n = snprintf(b, sizeof(b), "seq %llu partition %d offset %lld\n", (unsigned long long)seq,
		     partition, (long long)offset);
	r = kg_write_file_atomic(sp->dirfd, DELIVERED_FILE, b, n, 0600);
	if (r)
		return r;
	pthread_mutex_lock(&sp->lock);
	sp->delivered_seq = seq;
	sp->delivered_partition = partition;
	sp->delivered_offset = offset;
	sp->records = sp->records > nrec ? sp->records - nrec : 0;
	/* the newest segment stays: its name and records tell the next sequence number */
	while (sp->nsegs > 1 && sp->segs[1].first_seq <= seq + 1) {
		char name[64];

		seg_name(name, sizeof(name), sp->segs[0].first_seq);
		unlinkat(sp->dirfd, name, 0);
		sp->bytes -= sp->segs[0].size;
		memmove(sp->segs, sp->segs + 1, (sp->nsegs - 1) * sizeof(*sp->segs));
		sp->nsegs--;
	}
	pthread_mutex_unlock(&sp->lock);
	return 0;
}

/* ---- reader ------------------------------------------------------------------------------ */

/* Opens the segment that starts at first (0: the one holding after_seq + 1). */
static int reader_seek(struct kg_spool_reader *r, __u64 want_first)
{
	struct kg_spool *sp = r->sp;
	__u64 first = 0;
	bool found = false;
	char name[64];

	pthread_mutex_lock(&sp->lock);
	for (size_t i = 0; i < sp->nsegs; i++) {
		if (want_first ? sp->segs[i].first_seq >= want_first
			       : sp->segs[i].first_seq <= r->after_seq + 1 || !found) {
			first = sp->segs[i].first_seq;
			found = true;
			if (want_first)
				break;
		}
	}
	pthread_mutex_unlock(&sp->lock);
	if (!found)
		return 0;
	if (r->fd >= 0)
		close(r->fd);
	seg_name(name, sizeof(name), first);
	r->fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	r->seg_first = first;
	r->off = 0;
	r->len = r->pos = 0;
	return 1;
}

int kg_spool_reader_open(struct kg_spool_reader *r, struct kg_spool *sp, __u64 after_seq)
{
	memset(r, 0, sizeof(*r));
	r->sp = sp;
	r->fd = -1;
	r->after_seq = after_seq;
	r->cap = KG_SPOOL_READ_CHUNK;
	r->buf = malloc(r->cap);
	if (!r->buf)
		return -ENOMEM;
	return reader_seek(r, 0) < 0 ? -errno : 0;
}

void kg_spool_reader_close(struct kg_spool_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int kg_spool_next(struct kg_spool_reader *r, const char **rec, size_t *len, __u64 *seq)
{
	struct kg_spool *sp = r->sp;

	for (;;) {
		char *nl;
		__u64 published = 0, next_first = 0;
		bool have = false;
		ssize_t n;

		if (r->fd < 0) {
			int s = reader_seek(r, 0);

			if (s <= 0)
				return s;
		}
		if (r->pos < r->len && (nl = memchr(r->buf + r->pos, '\n', r->len - r->pos))) {
			const char *line = r->buf + r->pos;
			size_t l = nl - line;
			__u64 s = 0;

			r->pos += l + 1;
			if (!kg_rec_u64(line, l, "seq", &s) || s <= r->after_seq)
				continue;
			r->after_seq = s;
			*rec = line;
			*len = l;
			*seq = s;
			return 1;
		}
		/* keep the partial line, read more of what is published */
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->off += r->pos;
		r->len -= r->pos;
		r->pos = 0;
		if (r->len == r->cap) {
			char *b = realloc(r->buf, r->cap * 2);

			if (!b)
				return -ENOMEM;
			r->buf = b;
			r->cap *= 2;
		}
		pthread_mutex_lock(&sp->lock);
		for (size_t i = 0; i < sp->nsegs; i++) {
			if (sp->segs[i].first_seq == r->seg_first) {
				published = sp->segs[i].size;
				have = true;
			} else if (sp->segs[i].first_seq > r->seg_first && !next_first) {
				next_first = sp->segs[i].first_seq;
			}
		}
		pthread_mutex_unlock(&sp->lock);
		if (have && r->off + r->len < published) {
			size_t want = r->cap - r->len;

			if (want > published - r->off - r->len)
				want = published - r->off - r->len;
			n = pread(r->fd, r->buf + r->len, want, r->off + r->len);
			if (n < 0)
				return -errno;
			if (n == 0)
				return 0; /* cut under us: nothing more to read now */
			r->len += n;
			continue;
		}
		if (!next_first)
			return 0;
		if (reader_seek(r, next_first) < 0)
			return -errno;
	}
}
