// SPDX-License-Identifier: Apache-2.0
/* The event ring buffers into the audit pipeline, in batches let go once written (drain.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/datapath/events.h"
#include "agent/drain/drain.h"

/* Ring buffers one drain reads: one per interface an agent serves. */
#define DRAIN_RINGS KG_AUDIT_MAX_IFACES

struct kg_drain {
	struct kg_audit *a;
	struct kg_evring *rings;
	int nrings;
	int ring;			    /* the ring of the record being read */
	unsigned long long skip[DRAIN_RINGS]; /* events at a ring's head written already */
	struct kg_drain_stats st;
};

static void on_event(void *ctx, const struct kg_event *e)
{
	struct kg_drain *d = ctx;

	if (d->skip[d->ring]) {
		d->skip[d->ring]--;
		d->st.skipped++;
		return;
	}
	d->st.events++;
	kg_audit_event(d->a, e);
}

/* One ring-buffer record: the decision events of one packet. */
static int on_record(void *ctx, int ring, const void *data, size_t size)
{
	struct kg_drain *d = ctx;

	d->ring = ring;
	/* events before a fault were shipped; a record this agent cannot read is skipped */
	if (kg_events_each(data, size, on_event, d) < 0 && !d->st.bad_records++)
		fprintf(stderr,
			"kgate: event ring buffer: a record of %zu bytes is not a list of events "
			"this agent knows (a datapath of another version?): skipped, and later "
			"ones counted\n",
			size);
	/* the batch is as large as it gets: written now, and let go right after */
	return kg_audit_batch_full(d->a) ? KG_EVRING_COMMIT : 0;
}

/* The records read since the last commit are in the sinks: they may leave the ring. */
static void on_commit(void *ctx)
{
	struct kg_drain *d = ctx;

	kg_audit_batch_end(d->a);
	kg_audit_batch_begin(d->a);
}

struct kg_drain *kg_drain_new(struct kg_audit *a)
{
	struct kg_drain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->a = a;
	d->rings = kg_evring_new(on_record, on_commit, d);
	if (!d->rings) {
		free(d);
		return NULL;
	}
	return d;
}

int kg_drain_add(struct kg_drain *d, int map_fd)
{
	int i;

	if (d->nrings == DRAIN_RINGS)
		return -E2BIG;
	i = kg_evring_add(d->rings, map_fd);
	if (i < 0)
		return i;
	d->nrings++;
	return 0;
}

/* What the peek at a ring's head hands the pipeline's resume check. */
struct resume_peek {
	struct kg_audit *a;
	bool more; /* it wants more events */
};

static void resume_event(void *ctx, const struct kg_event *e)
{
	struct resume_peek *p = ctx;

	if (p->more)
		p->more = kg_audit_resume_add(p->a, e);
}

static int resume_record(void *ctx, int ring, const void *data, size_t size)
{
	struct resume_peek *p = ctx;

	(void)ring;
	kg_events_each(data, size, resume_event, p);
	return p->more ? 0 : 1;
}

unsigned long long kg_drain_resume(struct kg_drain *d)
{
	unsigned long long total = 0;
	int matched = 0;

	for (int i = 0; i < d->nrings; i++) {
		struct resume_peek p = {.a = d->a, .more = true};

		kg_audit_resume_reset(d->a);
		kg_evring_peek(d->rings, i, resume_record, &p);
		d->skip[i] = kg_audit_resume_skip(d->a);
		matched += d->skip[i] > 0;
		total += d->skip[i];
	}
	kg_audit_resume_done(d->a);
	/* the batch a kill cut short is one ring's: a match on two would be a coincidence on
	 * one of them, and skipping there would lose events (recording twice loses none) */
	if (matched > 1) {
		fprintf(stderr, "kgate: %d event ring buffers start with the last records written: "
				"recording them all (some may be recorded twice)\n", matched);
		for (int i = 0; i < d->nrings; i++)
			d->skip[i] = 0;
		return 0;
	}
	if (total)
		fprintf(stderr, "kgate: %llu events at the head of the ring buffer were written "
				"before a restart: not recorded again\n", total);
	return total;
}

bool kg_drain_run(struct kg_drain *d)
{
	bool more = false;

	kg_audit_batch_begin(d->a);
	kg_evring_consume(d->rings, &more); /* on_record never stops it */
	kg_audit_batch_end(d->a);
	return more;
}

void kg_drain_stats(const struct kg_drain *d, struct kg_drain_stats *st)
{
	*st = d->st;
}

void kg_drain_free(struct kg_drain *d)
{
	if (!d)
		return;
	kg_evring_free(d->rings);
	free(d);
}
