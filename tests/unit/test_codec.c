// SPDX-License-Identifier: Apache-2.0
/*
 * The audit record codec and the formatting under it (agent/lib/fmt.c, agent/lib/json.c,
 * agent/audit/codec.c) against what they replaced, which is kept here as the reference:
 *
 *  - numbers, IPv4 addresses, times, nanoseconds and hex against printf, inet_ntop and
 *    gmtime_r + strftime, on edge values and on random ones;
 *  - the JSON escaper against the byte-at-a-time escaper it replaced (with UTF-8 checked
 *    by Unicode's table of well-formed sequences, not by decoding code points), on random
 *    bytes drawn to hit every class: printable, quote and backslash, control bytes, valid
 *    and broken UTF-8; its length function; a bounded buffer at every size around the
 *    exact one;
 *  - whole records against the printf codec they replaced, byte for byte, on random events
 *    and names (every field's alternatives), and a buffer one byte short refused.
 *
 * Random cases come from a fixed seed (printed with a failure), so a run is repeatable.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/audit/internal.h"
#include "bpf/kafka_decode.h"

#define SEED 0x6b67617465ull /* "kgate" */

static __u64 rng = SEED;

/* xorshift64*: reproducible, no libc state shared with anything else */
static __u64 rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static __u64 rnd_below(__u64 n)
{
	return n ? rnd() % n : 0;
}

/* ---- formatting ------------------------------------------------------------------------ */

static void check_u64(__u64 v)
{
	char want[32], got[KG_FMT_U64_MAX + 1];
	size_t n = kg_fmt_u64(got, v);

	snprintf(want, sizeof(want), "%" PRIu64, (uint64_t)v);
	got[n] = 0;
	CU_ASSERT_STRING_EQUAL(got, want);
}

static void test_fmt_numbers(void)
{
	__u64 p = 1;

	/* every power of ten and its neighbours: where the digit count changes */
	for (int i = 0; i < 20; i++, p *= 10) {
		check_u64(p - 1);
		check_u64(p);
		check_u64(p + 1);
	}
	check_u64(0);
	check_u64(~0ull);
	check_u64(~0ull - 1);
	for (int i = 0; i < 200000; i++)
		check_u64(rnd() >> rnd_below(64)); /* every magnitude */
}

static void test_fmt_ipv4_hex_ns(void)
{
	for (int i = 0; i < 100000; i++) {
		__u8 a[16];
		__u32 ns = (__u32)rnd_below(1000000000);
		char want[64], got[64];
		size_t n;

		for (int k = 0; k < 16; k++)
			a[k] = (__u8)rnd();
		/* the edges of each octet's digit count */
		if (i < 4)
			memset(a, (int[]){0, 9, 99, 255}[i], 4);
		inet_ntop(AF_INET, a, want, sizeof(want));
		n = kg_fmt_ipv4(got, a);
		got[n] = 0;
		CU_ASSERT_STRING_EQUAL(got, want);
		CU_ASSERT(n <= KG_FMT_IPV4_MAX);

		if (i < 3)
			ns = (__u32[]){0, 999999999, 1}[i];
		snprintf(want, sizeof(want), "%09u", ns);
		kg_fmt_ns9(got, ns);
		got[9] = 0;
		CU_ASSERT_STRING_EQUAL(got, want);

		for (int k = 0; k < 16; k++)
			snprintf(want + 2 * k, 3, "%02x", a[k]);
		CU_ASSERT_EQUAL(kg_fmt_hex(got, a, 16), 32);
		got[32] = 0;
		CU_ASSERT_STRING_EQUAL(got, want);
	}
}

static void check_datetime(__u64 s)
{
	time_t t = (time_t)s;
	struct tm tm;
	char want[64], got[KG_FMT_DATETIME_LEN + 1];

	gmtime_r(&t, &tm);
	strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	kg_fmt_datetime(got, s);
	got[KG_FMT_DATETIME_LEN] = 0;
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want))
		fprintf(stderr, "\n%llu: got %s want %s\n", (unsigned long long)s, got, want);
}

static void test_fmt_datetime(void)
{
	/* leap days and the days around them (2000 is leap, 2100 is not), a year's and a day's
	 * last second, the last second a __u64 of Unix ns can hold, the last of 9999 */
	static const __u64 edges[] = {
		0, 59, 86399, 86400, 68169599, 68169600, 951782399, 951782400, 951868799,
		951868800, 4107542399, 4107542400, 4107628800, 1795822500, 1798761599,
		1798761600, 18446744073, 253402300799,
	};

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		check_datetime(edges[i]);
		check_datetime(edges[i]); /* the same second again: the kept text */
	}
	for (int i = 0; i < 200000; i++)
		check_datetime(rnd_below(18446744074ull));
	/* consecutive seconds across days, months and years */
	for (__u64 s = 946684800 - 3 * 86400; s < 946684800 + 3 * 86400; s += 37)
		check_datetime(s);
}

/* ---- the escaper ------------------------------------------------------------------------- */

/* Well-formed UTF-8 at p (Unicode's table of well-formed byte sequences): its length, or
 * 0. */
static size_t ref_utf8_len(const __u8 *p, size_t n)
{
	__u8 lo = 0x80, hi = 0xbf;
	size_t need;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/* The escaper before agent/lib/json.c's table: one byte at a time, \u00XX by printf. */
static void ref_json_bytes(struct kg_buf *b, const void *str, size_t n)
{
	const __u8 *s = str;

	kg_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t u;

		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') {
			kg_buf_add(b, s + i, 1);
			i++;
		} else if (s[i] == '"' || s[i] == '\\') {
			kg_buf_printf(b, "\\%c", s[i]);
			i++;
		} else if (s[i] >= 0x80 && (u = ref_utf8_len(s + i, n - i))) {
			kg_buf_add(b, s + i, u);
			i += u;
		} else {
			kg_buf_printf(b, "\\u%04x", s[i]);
			i++;
		}
	}
	kg_buf_add(b, "\"", 1);
}

/* n bytes of every class the escaper tells apart; cstr: no NUL (a C string). */
static void rnd_bytes(__u8 *p, size_t n, bool cstr)
{
	static const __u8 utf8[][4] = {
		{0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80}, {0xed, 0x9f, 0xbf},
		{0xef, 0xbf, 0xbf}, {0xf4, 0x8f, 0xbf, 0xbf}, {0xc2, 0x80},
	};
	/* not well-formed: surrogates, overlongs, past U+10FFFF, lone continuation bytes */
	static const __u8 bad[][3] = {
		{0xed, 0xa0, 0x80}, {0xc0, 0xaf}, {0xe0, 0x80, 0xaf}, {0xf4, 0x90, 0x80}, {0x80},
		{0xbf}, {0xf5}, {0xff}, {0xc3},
	};
	size_t i = 0;

	while (i < n) {
		__u64 k = rnd_below(100);
		const __u8 *seq;
		size_t len;

		if (k < 55) {
			p[i++] = (__u8)(0x20 + rnd_below(0x5f));
			continue;
		}
		if (k < 62) {
			p[i++] = rnd_below(2) ? '"' : '\\';
			continue;
		}
		if (k < 72) {
			p[i] = (__u8)rnd_below(0x20);
			if (p[i] == 0 && cstr)
				p[i] = 0x1f;
			if (rnd_below(8) == 0)
				p[i] = 0x7f;
			i++;
			continue;
		}
		if (k < 87) {
			seq = utf8[rnd_below(sizeof(utf8) / sizeof(utf8[0]))];
			len = seq[0] < 0xe0 ? 2 : seq[0] < 0xf0 ? 3 : 4;
		} else if (k < 95) {
			seq = bad[rnd_below(sizeof(bad) / sizeof(bad[0]))];
			len = strnlen((const char *)seq, 3);
		} else {
			p[i++] = (__u8)(0x80 | rnd());
			continue;
		}
		/* cut at the end: a sequence broken off is a case too */
		for (size_t j = 0; j < len && i < n; j++)
			p[i++] = seq[j];
	}
}

static void test_escape_vs_reference(void)
{
	static __u8 s[600];
	static char raw[6 * 600 + 2];
	struct kg_buf want = {0}, got = {0};

	for (int i = 0; i < 100000; i++) {
		size_t n = rnd_below(i < 1000 ? 8 : 300), len;

		rnd_bytes(s, n, false);
		want.len = got.len = 0;
		ref_json_bytes(&want, s, n);
		kg_json_bytes(&got, s, n);
		CU_ASSERT_FATAL(want.len == got.len && !memcmp(want.p, got.p, got.len));
		len = kg_json_escape(raw, s, n);
		CU_ASSERT(len == want.len && !memcmp(raw, want.p, len));
		CU_ASSERT(len <= KG_JSON_ESCAPED_MAX(n));
		CU_ASSERT_EQUAL(kg_json_escaped_len(s, n), want.len);
	}
	/* the worst case is what the bound says */
	memset(s, 0x01, 300);
	CU_ASSERT_EQUAL(kg_json_escaped_len(s, 300), KG_JSON_ESCAPED_MAX(300));
	kg_buf_free(&want);
	kg_buf_free(&got);
}

/* A bounded buffer takes a string exactly when its text and a NUL fit, at every size. */
static void test_escape_bounded(void)
{
	static __u8 s[64];
	char store[512];

	for (int i = 0; i < 2000; i++) {
		size_t n = 1 + rnd_below(sizeof(s)), len;

		rnd_bytes(s, n, false);
		len = kg_json_escaped_len(s, n);
		for (size_t cap = len - 1; cap <= len + 2; cap++) {
			struct kg_buf b;

			kg_buf_fixed(&b, store, cap);
			kg_json_bytes(&b, s, n);
			CU_ASSERT_EQUAL(b.over, cap <= len);
			if (!b.over)
				CU_ASSERT(b.len == len && store[len] == 0);
		}
	}
}

/* ---- whole records ------------------------------------------------------------------------ */

/* The codec before agent/audit/codec.c's writer: kg_buf_printf for every field. */
static void ref_key(struct kg_buf *w, const char *k)
{
	kg_buf_printf(w, ",\"%s\":", k);
}

static void ref_opt(struct kg_buf *w, const char *k, const char *s)
{
	ref_key(w, k);
	if (s && *s)
		ref_json_bytes(w, s, strlen(s));
	else
		kg_buf_add(w, "null", 4);
}

static void ref_cstr(struct kg_buf *w, const char *s)
{
	if (s)
		ref_json_bytes(w, s, strlen(s));
	else
		kg_buf_add(w, "null", 4);
}

static int ref_encode(char *buf, size_t len, const struct kg_event *ev,
		      const struct kg_event_names *names, __u64 seq, const char *node,
		      __u64 wall_ns)
{
	struct kg_buf w;
	bool has_rule = ev->rule_id != ~0u;
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	char t[40], ip[INET6_ADDRSTRLEN];
	const __u8 *u = ev->uuid;
	struct tm tm;
	__u64 first;

	kg_buf_fixed(&w, buf, len);
	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	kg_buf_add(&w, "{\"node\":", 8);
	ref_cstr(&w, node);
	kg_buf_printf(&w, ",\"seq\":%llu,\"time\":\"%s.%09lluZ\",\"ts_ns\":%llu",
		      (unsigned long long)seq, t, (unsigned long long)(wall_ns % 1000000000ull),
		      (unsigned long long)wall_ns);
	kg_buf_printf(&w, ",\"ktime_ns\":%llu", (unsigned long long)ev->ts_ns);
	ref_key(&w, "kind");
	ref_cstr(&w, kg_event_kind_name(ev->kind));
	ref_key(&w, "verdict");
	ref_cstr(&w, kg_action_name(ev->verdict));
	kg_buf_printf(&w, ",\"enforced\":%s", ev->enforced ? "true" : "false");
	if ((ev->kind == KG_EV_TOPIC || ev->kind == KG_EV_REQUEST) && ev->verdict == KG_ACT_ALLOW &&
	    names->allow_sample != 1) {
		if (names->allow_sample)
			kg_buf_printf(&w, ",\"sample\":%u", names->allow_sample);
		else
			kg_buf_printf(&w, ",\"sample\":null");
	} else {
		kg_buf_printf(&w, ",\"sample\":1");
	}
	/* README: count 1 for an event with no fold information; first_ts is the record's
	 * time less the span from the first to the last decision, not before 1970 */
	if (ev->first_ts == 0 || ev->first_ts > ev->ts_ns)
		first = wall_ns;
	else if (ev->ts_ns - ev->first_ts >= wall_ns)
		first = 0;
	else
		first = wall_ns - (ev->ts_ns - ev->first_ts);
	kg_buf_printf(&w, ",\"count\":%u,\"first_ts\":%llu,\"last_ts\":%llu,\"folded\":%u,"
		      "\"folded_deny\":%u",
		      ev->count == 0 && ev->folded == 0 ? 1 : ev->count, (unsigned long long)first,
		      (unsigned long long)wall_ns, ev->folded, ev->folded_deny);
	ref_opt(&w, "rule", has_rule ? names->rule : NULL);
	if (has_rule)
		kg_buf_printf(&w, ",\"rule_id\":%u", ev->rule_id);
	else
		kg_buf_printf(&w, ",\"rule_id\":null");
	ref_opt(&w, "policy_version", names->policy_version);
	kg_buf_printf(&w, ",\"version_id\":%u,\"gen\":%u,\"family\":%u", ev->version_id, ev->gen,
		      ev->flow.family);
	inet_ntop(ev->flow.family == 6 ? AF_INET6 : AF_INET, ev->flow.saddr, ip, sizeof(ip));
	ref_opt(&w, "src_ip", ip);
	kg_buf_printf(&w, ",\"src_port\":%u", ntohs(ev->flow.sport));
	inet_ntop(ev->flow.family == 6 ? AF_INET6 : AF_INET, ev->flow.daddr, ip, sizeof(ip));
	ref_opt(&w, "dst_ip", ip);
	kg_buf_printf(&w, ",\"dst_port\":%u", ntohs(ev->flow.dport));
	ref_opt(&w, "region", ev->region_id == KG_REGION_NONE ? NULL : names->region);
	kg_buf_printf(&w, ",\"region_id\":%u", ev->region_id);
	ref_key(&w, "principal");
	if (ev->principal_len)
		ref_json_bytes(&w, ev->principal,
			       ev->principal_len < KD_USER_MAX ? ev->principal_len : KD_USER_MAX);
	else
		ref_cstr(&w, names->principal[0] ? names->principal : NULL);
	kg_buf_printf(&w, ",\"principal_id\":%u", ev->principal_id);
	ref_key(&w, "principal_source");
	ref_cstr(&w, kg_psrc_name(ev->principal_src));
	ref_key(&w, "client_id");
	if (ev->client_id_len == 0xff)
		kg_buf_add(&w, "null", 4);
	else
		ref_json_bytes(&w, ev->client_id,
			       ev->client_id_len < KD_CLIENT_ID_MAX ? ev->client_id_len
								    : KD_CLIENT_ID_MAX);
	kg_buf_printf(&w, ",\"api_key\":%u", ev->api_key);
	ref_opt(&w, "api_name", kafka_api_name(ev->api_key));
	kg_buf_printf(&w, ",\"api_version\":%u,\"correlation_id\":%d", ev->api_version, ev->corr);
	ref_key(&w, "operation");
	ref_cstr(&w, kg_op_name(ev->op));
	ref_key(&w, "topic");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_NAME))
		ref_json_bytes(&w, ev->topic,
			       ev->topic_len < KD_TOPIC_MAX ? ev->topic_len : KD_TOPIC_MAX);
	else
		kg_buf_add(&w, "null", 4);
	ref_key(&w, "topic_id");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_ID))
		kg_buf_printf(&w,
			      "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
			      "%02x\"",
			      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
			      u[11], u[12], u[13], u[14], u[15]);
	else
		kg_buf_add(&w, "null", 4);
	ref_key(&w, "reason");
	if (ev->kind == KG_EV_UNDECODABLE)
		ref_cstr(&w, kd_reason_name(ev->reason));
	else if (ev->kind == KG_EV_LIMIT)
		ref_cstr(&w, kg_limit_name(ev->reason));
	else
		kg_buf_add(&w, "null", 4);
	kg_buf_printf(&w, ",\"bytes\":%u}", ev->frame_size);
	return w.over ? -1 : (int)w.len;
}

/* A C string of up to max - 1 bytes (often empty, often plain). */
static void rnd_cstr(char *s, size_t max)
{
	size_t n = rnd_below(4) == 0 ? 0 : rnd_below(max);

	if (rnd_below(2))
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('a' + rnd_below(26));
	else
		rnd_bytes((__u8 *)s, n, true);
	s[n] = 0;
}

static void rnd_event(struct kg_event *ev, struct kg_event_names *nm)
{
	memset(ev, 0, sizeof(*ev));
	memset(nm, 0, sizeof(*nm));
	ev->ts_ns = rnd() >> rnd_below(64);
	/* a run's summary, one decision, a record that only carries folded ones, none set */
	switch (rnd_below(4)) {
	case 0:
		ev->count = (__u32)rnd_below(100000) + 2;
		ev->first_ts = ev->ts_ns - (rnd() >> rnd_below(64)) % (ev->ts_ns + 1);
		break;
	case 1:
		ev->count = 1;
		ev->first_ts = rnd_below(2) ? ev->ts_ns : rnd(); /* any: clamped */
		break;
	case 2:
		ev->count = 0;
		ev->first_ts = ev->ts_ns;
		break;
	}
	if (rnd_below(2)) {
		ev->folded = (__u32)rnd();
		ev->folded_deny = (__u32)rnd() % (ev->folded + 1);
	}
	ev->flow.family = (__u8[]){4, 4, 6, 0}[rnd_below(4)];
	for (int i = 0; i < 16; i++) {
		ev->flow.saddr[i] = (__u8)rnd();
		ev->flow.daddr[i] = rnd_below(3) ? 0 : (__u8)rnd(); /* zero runs for :: */
		ev->uuid[i] = (__u8)rnd();
	}
	ev->flow.sport = (__u16)rnd();
	ev->flow.dport = (__u16)rnd();
	ev->version_id = (__u32)(rnd() >> rnd_below(32));
	ev->rule_id = rnd_below(3) ? (__u32)rnd_below(5000) : ~0u;
	ev->corr = (__s32)rnd();
	ev->frame_size = (__u32)(rnd() >> rnd_below(32));
	ev->api_key = (__u16)(rnd_below(10) ? rnd_below(100) : rnd());
	ev->api_version = (__u16)rnd_below(20);
	ev->principal_id = (__u16)rnd();
	ev->kind = (__u8)rnd_below(KG_EV_LIMIT + 2);
	ev->verdict = (__u8)rnd_below(KG_ACT__COUNT + 2);
	ev->enforced = (__u8)rnd_below(2);
	ev->op = (__u8)rnd_below(KG_OP__COUNT + 2);
	ev->region_id = (__u8)(rnd_below(3) ? rnd_below(8) : KG_REGION_NONE);
	ev->principal_src = (__u8)rnd_below(KG_PSRC__COUNT + 2);
	ev->reason = (__u8)rnd_below(KD_REASON__COUNT + 2);
	ev->gen = (__u8)rnd();
	ev->tkind = (__u8)rnd_below(4);
	/* lengths past the buffers too: the codec clamps them */
	ev->principal_len = (__u8)(rnd_below(3) ? 0 : rnd_below(KD_USER_MAX + 8));
	ev->client_id_len = (__u8)(rnd_below(5) ? rnd_below(KD_CLIENT_ID_MAX + 8) : 0xff);
	ev->topic_len = (__u16)rnd_below(KD_TOPIC_MAX + 20);
	rnd_bytes(ev->principal, sizeof(ev->principal), false);
	rnd_bytes(ev->client_id, sizeof(ev->client_id), false);
	rnd_bytes(ev->topic, sizeof(ev->topic), false);
	rnd_cstr(nm->policy_version, sizeof(nm->policy_version));
	rnd_cstr(nm->rule, sizeof(nm->rule));
	rnd_cstr(nm->region, sizeof(nm->region));
	rnd_cstr(nm->principal, sizeof(nm->principal));
	nm->allow_sample = (__u32[]){0, 1, 1, 10, 1000000}[rnd_below(5)];
}

static void test_records_vs_reference(void)
{
	static char want[KG_AUDIT_RECORD_MAX], got[KG_AUDIT_RECORD_MAX];
	struct kg_event ev;
	struct kg_event_names nm;
	char node[64];

	for (int i = 0; i < 50000; i++) {
		/* any __u64 of Unix ns: up to the year 2554 */
		__u64 seq = rnd() >> rnd_below(64), wall = rnd() >> rnd_below(8);
		int n, m;

		rnd_event(&ev, &nm);
		rnd_cstr(node, sizeof(node));
		n = ref_encode(want, sizeof(want), &ev, &nm, seq, node, wall);
		m = kg_audit_encode_at(got, sizeof(got), &ev, &nm, seq, node, wall);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(m, n);
		CU_ASSERT(m == n && !memcmp(got, want, n) && got[n] == 0);
		if (m != n || memcmp(got, want, n)) {
			fprintf(stderr, "\ncase %d (seed %#llx)\nwant %s\ngot  %.*s\n", i,
				(unsigned long long)SEED, want, m > 0 ? m : 0, got);
			return;
		}
		/* the signed field at its edges */
		if (i < 4)
			ev.corr = (__s32[]){INT32_MIN, -1, 0, INT32_MAX}[i];
		n = ref_encode(want, sizeof(want), &ev, &nm, seq, node, wall);
		m = kg_audit_encode_at(got, sizeof(got), &ev, &nm, seq, node, wall);
		CU_ASSERT(m == n && !memcmp(got, want, n));
		/* the exact size is refused one byte short (the NUL needs its place) */
		if (i % 16 == 0) {
			CU_ASSERT_EQUAL(kg_audit_encode_at(got, n, &ev, &nm, seq, node, wall), -1);
			CU_ASSERT_EQUAL(kg_audit_encode_at(got, n + 1, &ev, &nm, seq, node, wall),
					n);
		}
	}
}

int register_codec_tests(void)
{
	CU_pSuite s = CU_add_suite("audit codec against its reference", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "numbers: printf's text, every digit count", test_fmt_numbers) ||
	    !CU_add_test(s, "IPv4, nanoseconds, hex: inet_ntop's and printf's text",
			 test_fmt_ipv4_hex_ns) ||
	    !CU_add_test(s, "times: gmtime_r + strftime's text, leap days, far years",
			 test_fmt_datetime) ||
	    !CU_add_test(s, "escaper = the byte-at-a-time reference on random bytes",
			 test_escape_vs_reference) ||
	    !CU_add_test(s, "escaper in a bounded buffer: fits exactly when it should",
			 test_escape_bounded) ||
	    !CU_add_test(s, "records = the printf codec, byte for byte, on random events",
			 test_records_vs_reference))
		return -1;
	return 0;
}
