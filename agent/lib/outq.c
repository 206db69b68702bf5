// SPDX-License-Identifier: Apache-2.0
/* The output queue of a non-blocking socket (agent/lib/lib.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/lib/lib.h"

bool kg_outq_add(struct kg_outq *q, const char *p, size_t n, size_t max)
{
	if (q->len - q->off + n > max)
		return false;
	if (q->off && q->len + n > q->cap) {
		memmove(q->p, q->p + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	if (q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap : 16384;
		char *np;

		while (cap < q->len + n)
			cap *= 2;
		np = realloc(q->p, cap);
		if (!np)
			return false;
		q->p = np;
		q->cap = cap;
	}
	memcpy(q->p + q->len, p, n);
	q->len += n;
	return true;
}

int kg_outq_flush(struct kg_outq *q)
{
	while (q->off < q->len) {
		ssize_t n =
			send(q->fd, q->p + q->off, q->len - q->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		q->off += n;
	}
	q->off = q->len = 0;
	return 0;
}

void kg_outq_close(struct kg_outq *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->p);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}
