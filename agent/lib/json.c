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

void kg_json_bytes(struct kg_buf *b, const void *str, size_t n)
{
	const __u8 *s = str;

	kg_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t run = i, u;

		/* the common case, printable ASCII, goes in runs */
		while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			kg_buf_add(b, s + i, run - i);
			i = run;
			continue;
		}
		if (s[i] == '"' || s[i] == '\\') {
			char e[2] = {'\\', (char)s[i]};

			kg_buf_add(b, e, 2);
			i++;
		} else if (s[i] >= 0x80 && (u = kg_utf8_len(s + i, n - i))) {
			kg_buf_add(b, s + i, u);
			i += u;
		} else {
			kg_buf_printf(b, "\\u%04x", s[i]);
			i++;
		}
	}
	kg_buf_add(b, "\"", 1);
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
