// SPDX-License-Identifier: Apache-2.0
/*
 * Numbers, addresses and times as text into raw memory (agent/lib/lib.h), for the audit
 * record codec: printf's format parsing and locale handling were most of the agent's CPU
 * per record. Each writes exactly what the printf/inet_ntop/strftime call it stands for
 * writes (tests/unit/test_audit.c compares them on edge and random values).
 */
#include <string.h>

#include "agent/lib/lib.h"

/* "00".."99": two digits per division. */
static const char digit_pairs[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

/* Decimal digits of v. */
static size_t digits(__u64 v)
{
	size_t n = 1;

	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

size_t kg_fmt_u64(char *p, __u64 v)
{
	size_t n = digits(v);
	char *s = p + n;

	/* from the last digit back, two at a time, straight into place */
	while (v >= 100) {
		unsigned int d = (unsigned int)(v % 100) * 2;

		v /= 100;
		s -= 2;
		s[0] = digit_pairs[d];
		s[1] = digit_pairs[d + 1];
	}
	if (v >= 10) {
		s[-2] = digit_pairs[v * 2];
		s[-1] = digit_pairs[v * 2 + 1];
	} else {
		s[-1] = (char)('0' + v);
	}
	return n;
}

size_t kg_fmt_ipv4(char *p, const __u8 a[4])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i)
			p[n++] = '.';
		n += kg_fmt_u64(p + n, a[i]);
	}
	return n;
}

/* Two digits of v (0..99) at p. */
static void two(char *p, unsigned int v)
{
	p[0] = digit_pairs[v * 2];
	p[1] = digit_pairs[v * 2 + 1];
}

/*
 * Days since 1970-01-01 -> year, month, day of the proleptic Gregorian calendar, by whole
 * 400-year eras (146,097 days each), the year taken to start in March so that the leap
 * day is the era-year's last (the well-known civil-from-days construction).
 */
static void civil(__u64 days, unsigned int *y, unsigned int *m, unsigned int *d)
{
	__u64 z = days + 719468; /* days from 0000-03-01 */
	__u64 era = z / 146097;
	/* day of the era [0, 146096], year of the era [0, 399], day of the year [0, 365],
	 * month from March [0, 11] */
	unsigned int doe = (unsigned int)(z - era * 146097);
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned int)(yoe + era * 400) + (*m <= 2);
}

void kg_fmt_datetime(char *p, __u64 unix_s)
{
	/* records come many to a second: the last second's text is kept (per thread) */
	static __thread __u64 last_s = ~0ull;
	static __thread char last[KG_FMT_DATETIME_LEN];
	unsigned int y, mo, d, sod = (unsigned int)(unix_s % 86400);

	if (unix_s == last_s) {
		memcpy(p, last, KG_FMT_DATETIME_LEN);
		return;
	}
	civil(unix_s / 86400, &y, &mo, &d);
	two(p, y / 100 % 100);
	two(p + 2, y % 100);
	p[4] = '-';
	two(p + 5, mo);
	p[7] = '-';
	two(p + 8, d);
	p[10] = 'T';
	two(p + 11, sod / 3600);
	p[13] = ':';
	two(p + 14, sod / 60 % 60);
	p[16] = ':';
	two(p + 17, sod % 60);
	memcpy(last, p, KG_FMT_DATETIME_LEN);
	last_s = unix_s;
}

void kg_fmt_ns9(char *p, __u32 ns)
{
	two(p + 7, ns % 100);
	ns /= 100;
	two(p + 5, ns % 100);
	ns /= 100;
	two(p + 3, ns % 100);
	ns /= 100;
	two(p + 1, ns % 100);
	p[0] = (char)('0' + ns / 100 % 10);
}

size_t kg_fmt_hex(char *p, const void *bytes, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const __u8 *b = bytes;

	for (size_t i = 0; i < n; i++) {
		p[2 * i] = hex[b[i] >> 4];
		p[2 * i + 1] = hex[b[i] & 15];
	}
	return 2 * n;
}
