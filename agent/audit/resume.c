// SPDX-License-Identifier: Apache-2.0
/*
 * What a restarted agent finds written (audit.h, kg_audit_resume_*). A batch of events
 * leaves the ring buffer at a commit, right after the pipeline wrote it; a kill between
 * the write and the commit leaves the batch's events in the ring buffer although their
 * records are on disk. At open the pipeline keeps the keys of the newest decision records
 * written (the spool's or the file's, whichever got further); the caller hands it the
 * events found at the head of each ring buffer, and skips those that are the end of what
 * was written.
 *
 * The key of a decision is what the datapath gave it: the decision's own time
 * (bpf_ktime_get_ns, in ns), the connection, the request (api, correlation id, frame
 * size), the topic, the verdict and the ids; never what the agent adds (node, seq, wall
 * time, names looked up). Two decisions with one key would be two events of one packet
 * about the same topic with the same outcome, or of two packets of one connection decided
 * in the same nanosecond; the match below asks for a whole run of them in order, which
 * tells the first case apart (see kg_audit_resume_skip).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/audit/internal.h"

/* The fields of a decision record that make its key (all of the event's own). */
static const char *const key_fields[] = {
	"ktime_ns",	   "kind",	   "verdict",	  "enforced",	 "rule_id",
	"version_id",	   "gen",	   "family",	  "src_ip",	 "src_port",
	"dst_ip",	   "dst_port",	   "region_id",	  "principal_id", "principal_source",
	"client_id",	   "api_key",	   "api_version", "correlation_id", "operation",
	"topic",	   "topic_id",	   "reason",	  "bytes",
};

/* A list of keys: each NUL-terminated in buf, at off[i]. */
struct keys {
	struct kg_buf buf;
	size_t *off, n;
};

struct kg_audit_written {
	struct keys tail; /* the newest decision records written, oldest first */
	struct keys seen; /* the events handed over since the last reset, in ring order */
};

/* The key of record rec into b (cleared first): false when rec is not a decision. */
static bool rec_key(const char *rec, size_t len, struct kg_buf *b)
{
	b->len = 0;
	for (size_t i = 0; i < sizeof(key_fields) / sizeof(key_fields[0]); i++) {
		const char *v;
		size_t n;

		if (!kg_rec_raw(rec, len, key_fields[i], &v, &n))
			return false;
		/* a newline is never in a record: it separates the values */
		kg_buf_add(b, v, n);
		kg_buf_add(b, "\n", 1);
	}
	return true;
}

static int keys_add(struct keys *k, const struct kg_buf *key)
{
	size_t *off = kg_grow(k->off, k->n, sizeof(*off));

	if (!off)
		return -ENOMEM;
	k->off = off;
	off[k->n++] = k->buf.len;
	kg_buf_add(&k->buf, key->p, key->len);
	kg_buf_add(&k->buf, "", 1);
	return 0;
}

static void keys_free(struct keys *k)
{
	kg_buf_free(&k->buf);
	free(k->off);
	memset(k, 0, sizeof(*k));
}

static const char *key_at(const struct keys *k, size_t i)
{
	return k->buf.p + k->off[i];
}

/*
 * The decision records of a tail of written bytes (whole lines after the first newline
 * unless whole is set: the first one may be cut) into k; *last the seq of its last
 * record of any kind (0: none).
 */
static int tail_keys(const struct kg_buf *t, bool whole, struct keys *k, __u64 *last)
{
	const char *p = t->p, *end = t->p + t->len, *nl;
	struct kg_buf key = {0};
	int e = 0;

	*last = 0;
	if (!whole) {
		nl = memchr(p, '\n', end - p);
		p = nl ? nl + 1 : end;
	}
	for (; p < end && (nl = memchr(p, '\n', end - p)); p = nl + 1) {
		kg_rec_u64(p, nl - p, "seq", last);
		if (rec_key(p, nl - p, &key) && (e = keys_add(k, &key)))
			break;
	}
	kg_buf_free(&key);
	return e;
}

/* The last max bytes of the audit file into t; *whole when that is all of it. */
static int file_tail(struct kg_audit *a, size_t max, struct kg_buf *t, bool *whole)
{
	struct stat st;
	off_t from;
	ssize_t n;

	t->len = 0;
	if (fstat(a->file_fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ESPIPE; /* a pipe or a device: nothing to read back */
	if (!kg_buf_reserve(t, max))
		return -ENOMEM;
	from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	n = pread(a->file_fd, t->p, st.st_size - from, from);
	if (n < 0)
		return -errno;
	t->len = n;
	*whole = from == 0;
	return 0;
}

void kg_audit_resume_load(struct kg_audit *a)
{
	struct kg_audit_written *w = calloc(1, sizeof(*w));
	struct keys fk = {0};
	struct kg_buf t = {0};
	__u64 spool_last = 0, file_last = 0;
	bool whole = false;

	if (!w)
		return;
	/* the spool is written first, the file after it (and caught up with it at open):
	 * whichever went further holds the batch a kill may have cut short of its commit */
	if (a->kafka && !kg_spool_tail(&a->spool, KG_AUDIT_RESUME_BYTES, &t))
		tail_keys(&t, a->spool.nsegs && t.len == a->spool.bytes, &w->tail, &spool_last);
	if (a->file_fd >= 0 && !file_tail(a, KG_AUDIT_RESUME_BYTES, &t, &whole) &&
	    !tail_keys(&t, whole, &fk, &file_last) && file_last >= spool_last) {
		keys_free(&w->tail);
		w->tail = fk;
		fk = (struct keys){0};
	}
	keys_free(&fk);
	kg_buf_free(&t);
	if (!w->tail.n) {
		keys_free(&w->tail);
		free(w);
		return;
	}
	a->written = w;
}

void kg_audit_resume_reset(struct kg_audit *a)
{
	if (!a->written)
		return;
	keys_free(&a->written->seen);
}

bool kg_audit_resume_add(struct kg_audit *a, const struct kg_event *ev)
{
	struct kg_audit_written *w = a->written;
	char rec[KG_AUDIT_RECORD_MAX];
	struct kg_buf key = {0};
	int n;

	/* as many as the tail holds: a longer run cannot be the end of it */
	if (!w || w->seen.n >= w->tail.n)
		return false;
	n = kg_audit_encode_at(rec, sizeof(rec), ev, NULL, 0, "", 0);
	if (n < 0 || !rec_key(rec, n, &key) || keys_add(&w->seen, &key)) {
		/* an event without a key ends the run: what came before still counts */
		kg_buf_free(&key);
		return false;
	}
	kg_buf_free(&key);
	return w->seen.n < w->tail.n;
}

/*
 * The longest run of the events handed over, from the first, that is the end of the tail
 * (seen[0..j) == tail[m-j..m)): what was written of the ring's head. The events of a
 * batch that the kill left in the ring come first in it, in the order they were written,
 * and the records of that batch end the tail; a run that ends the tail but is not that
 * batch would need an event that was never taken to have the key of one that was, and a
 * run of several repeats of one key (two events of one packet alike) is matched as long
 * as it is, no longer.
 */
size_t kg_audit_resume_skip(struct kg_audit *a)
{
	struct kg_audit_written *w = a->written;
	size_t m, best = 0;

	if (!w)
		return 0;
	m = w->tail.n;
	for (size_t j = w->seen.n < m ? w->seen.n : m; j > 0 && !best; j--) {
		size_t i = 0;

		while (i < j && !strcmp(key_at(&w->seen, i), key_at(&w->tail, m - j + i)))
			i++;
		if (i == j)
			best = j;
	}
	return best;
}

void kg_audit_resume_done(struct kg_audit *a)
{
	if (!a->written)
		return;
	keys_free(&a->written->tail);
	keys_free(&a->written->seen);
	free(a->written);
	a->written = NULL;
}
