// SPDX-License-Identifier: Apache-2.0
/*
 * Field access on an encoded record beyond what the codec's readers need (internal.h):
 * signed numbers, which the `write` and `read` records carry (a Kafka error code may be
 * negative: -1 is UNKNOWN_SERVER_ERROR). Same assumption as the codec's: a field name
 * appears quoted and followed by ':' only as a field name, since our encoder escapes every
 * quote inside a string.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/audit/internal.h"

/* Digits of an i64 past which a number is not one we wrote (19 digits hold 2^63 - 1). */
#define S64_DIGITS_MAX 19

bool kg_rec_s64(const char *rec, size_t len, const char *field, __s64 *out)
{
	const char *end = rec + len, *at = rec, *v;
	char pat[72];
	int plen = snprintf(pat, sizeof(pat), "\"%s\":", field), digits = 0;
	bool neg;
	__u64 x = 0;

	if (plen <= 0 || (size_t)plen >= sizeof(pat))
		return false;
	/* the first occurrence not preceded by a backslash (an escaped quote in a string) */
	for (;;) {
		at = memmem(at, (size_t)(end - at), pat, (size_t)plen);
		if (!at)
			return false;
		if (at == rec || at[-1] != '\\')
			break;
		at++;
	}
	v = at + plen;
	neg = v < end && *v == '-';
	v += neg;
	for (; v < end && *v >= '0' && *v <= '9'; v++, digits++)
		x = x * 10 + (__u64)(*v - '0');
	if (!digits || digits > S64_DIGITS_MAX || x > (__u64)INT64_MAX + neg)
		return false;
	*out = neg ? (__s64)(0 - x) : (__s64)x;
	return true;
}
