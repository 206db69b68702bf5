// SPDX-License-Identifier: Apache-2.0
/* Growable and bounded string buffers, growable arrays (agent/lib/lib.h). */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lib/lib.h"

bool kg_buf_reserve(struct kg_buf *b, size_t n)
{
	size_t cap;
	char *np;

	if (b->over)
		return false;
	if (b->len + n < b->cap)
		return true;
	if (b->fixed) {
		b->over = true;
		return false;
	}
	cap = (b->len + n + 1) * 2;
	np = realloc(b->p, cap);
	if (!np)
		abort();
	b->p = np;
	b->cap = cap;
	return true;
}

void kg_buf_add(struct kg_buf *b, const void *p, size_t n)
{
	if (!kg_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void kg_buf_printf(struct kg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->p && b->len + n < b->cap) {
		b->len += n;
		return;
	}
	if (!kg_buf_reserve(b, n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += n;
}

void kg_buf_free(struct kg_buf *b)
{
	if (!b->fixed)
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Capacity for n elements: the next power of two, so pushes realloc O(log n) times. */
static size_t cap_for(size_t n)
{
	size_t c = 1;

	while (c < n)
		c <<= 1;
	return c;
}

/*
 * Makes room for element n of a malloc'ed array. The allocation's own size says whether
 * it has room, so the structs need no capacity field and any malloc'ed array may be
 * pushed onto; growing to powers of two keeps n pushes O(n).
 */
void *kg_grow(void *arr, size_t n, size_t elem)
{
	if (arr && malloc_usable_size(arr) >= (n + 1) * elem)
		return arr;
	return realloc(arr, cap_for(n + 1) * elem);
}
