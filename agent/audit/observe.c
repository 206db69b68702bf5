// SPDX-License-Identifier: Apache-2.0
/*
 * The observe socket (agent/audit/internal.h): `kgate observe` clients connect to a unix
 * socket and get the backlog (the newest KG_OBSERVE_BACKLOG records), a backlog_end
 * marker, then every new record. A client that reads too slowly is dropped: it never
 * blocks the pipeline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/audit/internal.h"

static void observe_drop(struct kg_audit *a, struct kg_outq *q)
{
	kg_outq_close(q);
	a->obs_dropped++;
}

void kg_observe_add(struct kg_audit *a, const char *rec, size_t len)
{
	struct kg_backlog_rec *b = &a->backlog[a->backlog_next++ % KG_OBSERVE_BACKLOG];

	/* the slot's memory is kept for the next record it holds: no allocation per record */
	if (b->cap < len + 1) {
		char *p = realloc(b->p, len + 1);

		if (!p) {
			b->len = 0; /* an empty slot, skipped by new clients */
			return;
		}
		b->p = p;
		b->cap = len + 1;
	}
	memcpy(b->p, rec, len);
	b->p[len] = '\n';
	b->len = len + 1;
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++) {
		struct kg_outq *q = &a->obs[i];

		if (q->fd >= 0 && !kg_outq_add(q, b->p, b->len, KG_OBSERVE_CLIENT_MAX))
			observe_drop(a, q);
	}
}

void kg_observe_flush(struct kg_audit *a)
{
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++) {
		struct kg_outq *q = &a->obs[i];

		if (q->fd >= 0 && q->len > q->off && kg_outq_flush(q))
			observe_drop(a, q);
	}
}

/* ---- observe socket ------------------------------------------------------------------------ */

/* A listener answers on sun: another agent runs. */
static bool observe_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return false;
	up = !connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return up;
}

int kg_observe_open(struct kg_audit *a, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	char *slash, dir[sizeof(sun.sun_path)];

	if (strlen(a->observe_sock) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "observe socket %s: path too long", a->observe_sock);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, a->observe_sock);
	strcpy(dir, a->observe_sock);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755); /* /run/kgate: its parent exists; an error shows at bind */
	}
	/* a socket left by a previous agent (killed) is replaced; anything else is not ours */
	if (!lstat(a->observe_sock, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "observe socket %s: exists and is not a socket",
				 a->observe_sock);
			return -EEXIST;
		}
		if (observe_in_use(&sun)) {
			snprintf(err, errlen, "observe socket %s: in use by a running agent",
				 a->observe_sock);
			return -EADDRINUSE;
		}
		unlink(a->observe_sock);
	}
	a->obs_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->obs_fd < 0 || bind(a->obs_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(a->obs_fd, 16)) {
		int e = errno;

		snprintf(err, errlen, "observe socket %s: %s", a->observe_sock, strerror(e));
		return -e;
	}
	/* records name principals and topics: owner and group only */
	chmod(a->observe_sock, 0660);
	return 0;
}

static void observe_accept(struct kg_audit *a)
{
	char marker[96];
	int fd, n;

	while ((fd = accept4(a->obs_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct kg_outq *q = NULL;
		size_t count = 0;

		for (int i = 0; i < KG_OBSERVE_CLIENTS && !q; i++)
			if (a->obs[i].fd < 0)
				q = &a->obs[i];
		if (!q) {
			close(fd);
			a->obs_dropped++;
			continue;
		}
		q->fd = fd;
		/* the backlog, oldest first, then a marker: `kgate observe` without --follow
		 * stops there */
		for (size_t i = 0; i < KG_OBSERVE_BACKLOG; i++) {
			const struct kg_backlog_rec *b =
				&a->backlog[(a->backlog_next + i) % KG_OBSERVE_BACKLOG];

			if (b->len && kg_outq_add(q, b->p, b->len, KG_OBSERVE_CLIENT_MAX))
				count++;
		}
		n = snprintf(marker, sizeof(marker),
			     "{\"kind\":\"backlog_end\",\"node\":\"\",\"records\":%zu}\n", count);
		if (!kg_outq_add(q, marker, n, KG_OBSERVE_CLIENT_MAX) || kg_outq_flush(q))
			observe_drop(a, q);
	}
}

int kg_observe_pollfds(struct kg_audit *a, struct pollfd *p)
{
	int n = 0;

	if (a->obs_fd < 0)
		return 0;
	p[n++] = (struct pollfd){.fd = a->obs_fd, .events = POLLIN};
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++) {
		struct kg_outq *q = &a->obs[i];

		/* fd -1 keeps the slot: poll() ignores it */
		p[n++] = (struct pollfd){.fd = q->fd,
					 .events = POLLIN | (q->len > q->off ? POLLOUT : 0)};
	}
	return n;
}

void kg_observe_serve(struct kg_audit *a, const struct pollfd *p, int n)
{
	if (a->obs_fd < 0 || n < 1)
		return;
	if (p[0].revents)
		observe_accept(a);
	for (int i = 0; i < KG_OBSERVE_CLIENTS && 1 + i < n; i++) {
		const struct pollfd *pp = &p[1 + i];
		struct kg_outq *q = &a->obs[i];
		char junk[256];

		if (q->fd < 0 || pp->fd != q->fd || !pp->revents)
			continue;
		if (pp->revents & (POLLHUP | POLLERR | POLLNVAL)) {
			kg_outq_close(q);
			continue;
		}
		/* clients send nothing; EOF means they left */
		if ((pp->revents & POLLIN) && recv(q->fd, junk, sizeof(junk), MSG_DONTWAIT) == 0) {
			kg_outq_close(q);
			continue;
		}
		if ((pp->revents & POLLOUT) && kg_outq_flush(q))
			observe_drop(a, q);
	}
}

void kg_observe_close(struct kg_audit *a)
{
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++)
		if (a->obs[i].fd >= 0 || a->obs[i].p)
			kg_outq_close(&a->obs[i]);
	if (a->obs_fd >= 0) {
		close(a->obs_fd);
		unlink(a->observe_sock);
	}
	a->obs_fd = -1;
	for (int i = 0; i < KG_OBSERVE_BACKLOG; i++) {
		free(a->backlog[i].p);
		a->backlog[i] = (struct kg_backlog_rec){0};
	}
}
