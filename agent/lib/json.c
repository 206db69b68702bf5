// SPDX-License-Identifier: Apache-2.0
/* The one JSON string writer (agent/lib/lib.h): audit records, -o json, decode reports. */
#include <stdio.h>
#include <string.h>

#include "agent/lib/lib.h"

size_t kg_utf8_len(const void *s, size_t n)
{
	const __u8 *p = s;
	__u32 cp;
	size_t need;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	need = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (need > n)
		return 0;
	cp = p[0] & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* What a byte needs: copied as is, a backslash before it, \u00XX, or a UTF-8 check. */
enum { ESC_COPY, ESC_BACKSLASH, ESC_U00, ESC_HIGH };

static const __u8 esc_class[256] = {
	[0x00 ... 0x1f] = ESC_U00,
	['"'] = ESC_BACKSLASH,
	['\\'] = ESC_BACKSLASH,
	[0x7f] = ESC_U00,
	[0x80 ... 0xff] = ESC_HIGH,
};

/*
 * The one escaper: writes at p when write is set, else only counts (always_inline: each
 * caller gets its own copy without the dead half). Runs of bytes that need nothing (the
 * common case: names are printable ASCII) take one table lookup per byte.
 */
static inline __attribute__((always_inline)) size_t escape(char *p, const __u8 *s, size_t n,
							  bool write)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (write)
		p[o] = '"';
	o++;
	for (size_t i = 0; i < n;) {
		size_t run = i, u;

		/* copied as scanned: the runs are short (names), a memcpy call would cost more */
		while (run < n && esc_class[s[run]] == ESC_COPY) {
			if (write)
				p[o + run - i] = (char)s[run];
			run++;
		}
		if (run > i) {
			o += run - i;
			i = run;
			continue;
		}
		switch (esc_class[s[i]]) {
		case ESC_BACKSLASH:
			if (write) {
				p[o] = '\\';
				p[o + 1] = (char)s[i];
			}
			o += 2;
			i++;
			continue;
		case ESC_HIGH:
			u = kg_utf8_len(s + i, n - i);
			if (u) {
				if (write)
					memcpy(p + o, s + i, u);
				o += u;
				i += u;
				continue;
			}
			break; /* not UTF-8: its Latin-1 reading, \u00XX */
		}
		if (write) {
			memcpy(p + o, "\\u00", 4);
			p[o + 4] = hex[s[i] >> 4];
			p[o + 5] = hex[s[i] & 15];
		}
		o += 6;
		i++;
	}
	if (write)
		p[o] = '"';
	return o + 1;
}

size_t kg_json_escape(char *p, const void *s, size_t n)
{
	return escape(p, s, n, true);
}

size_t kg_json_escaped_len(const void *s, size_t n)
{
	return escape(NULL, s, n, false);
}

void kg_json_bytes(struct kg_buf *b, const void *str, size_t n)
{
	size_t need = KG_JSON_ESCAPED_MAX(n);

	/* a fixed buffer near its end may still hold the exact text */
	if (b->fixed && !b->over && b->cap - b->len <= need)
		need = kg_json_escaped_len(str, n);
	if (!kg_buf_reserve(b, need))
		return;
	b->len += kg_json_escape(b->p + b->len, str, n);
	b->p[b->len] = 0;
}

void kg_json_cstr(struct kg_buf *b, const char *s)
{
	if (s)
		kg_json_bytes(b, s, strlen(s));
	else
		kg_buf_add(b, "null", 4);
}

void kg_json_fput_bytes(FILE *f, const void *s, size_t n)
{
	struct kg_buf b = {0};

	kg_json_bytes(&b, s, n);
	fwrite(b.p, 1, b.len, f);
	kg_buf_free(&b);
}

void kg_json_fput(FILE *f, const char *s)
{
	if (s)
		kg_json_fput_bytes(f, s, strlen(s));
	else
		fputs("null", f);
}
