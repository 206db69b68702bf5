// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the audit pipeline without Kafka or a datapath (agent/audit/,
 * agent/metrics/, agent/lib/json.c):
 *
 *  - the record codec: one full record compared byte for byte (field names and order
 *    are an interface), then each field's alternatives (default rule, no region, null
 *    client id, topic id, undecodable reason, IPv6, names vs the event's own principal),
 *    escaping (quote, backslash, control bytes, UTF-8, invalid bytes) read back, a buffer
 *    too small, gap records;
 *  - the spool: append and read in order, the delivered mark, restart (reopen) with and
 *    without a record cut by a crash, segments rolled and removed once delivered;
 *  - the pipeline: the file sink, sequence numbers across a clean restart and across a
 *    crash (a child that _exit()s), observe clients (backlog, marker, live records, a
 *    slow client dropped without blocking), metrics text, spool-full gap records.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/audit/internal.h"
#include "agent/datapath/datapath.h"
#include "agent/decode/report.h"
#include "agent/metrics/metrics.h"
#include "bpf/kafka_decode.h"
#include "tests/lib/cu_run.h"

/* 2026-11-27T23:35:00.123456789Z */
#define WALL 1795822500123456789ull

static char tmpdir[256];

static int suite_init(void)
{
	return cu_tmpdir(tmpdir, sizeof(tmpdir), "audit");
}

static int suite_clean(void)
{
	return cu_tmpdir_remove(tmpdir);
}

static void full_event(struct kg_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = 12345;
	ev->flow.family = 4;
	inet_pton(AF_INET, "10.1.2.3", ev->flow.saddr);
	inet_pton(AF_INET, "10.9.9.9", ev->flow.daddr);
	ev->flow.sport = htons(40000);
	ev->flow.dport = htons(9092);
	ev->version_id = 7;
	ev->rule_id = 3;
	ev->corr = 42;
	ev->frame_size = 1234;
	ev->api_key = 0;
	ev->api_version = 9;
	ev->principal_id = 5;
	ev->kind = KG_EV_TOPIC;
	ev->verdict = KG_ACT_REJECT;
	ev->enforced = 1;
	ev->op = KG_OP_PRODUCE;
	ev->region_id = 1;
	ev->principal_src = KG_PSRC_SASL;
	ev->gen = 1;
	ev->tkind = KD_TK_NAME;
	ev->principal_len = 5;
	memcpy(ev->principal, "alice", 5);
	ev->client_id_len = 8;
	memcpy(ev->client_id, "producer", 8);
	ev->topic_len = 6;
	memcpy(ev->topic, "orders", 6);
	/* a run's summary: 37 identical decisions over 12 us, 5 others past the budget */
	ev->count = 37;
	ev->first_ts = 345;
	ev->folded = 5;
	ev->folded_deny = 2;
}

static const struct kg_event_names full_names = {
	.policy_version = "2026-11-27.1",
	.rule = "no-eu-writes",
	.region = "eu",
	.principal = "alice-by-id",
};

static void test_codec_full_record(void)
{
	struct kg_event ev;
	char b[KG_AUDIT_RECORD_MAX];
	const char *want =
		"{\"node\":\"broker-1\",\"seq\":17,\"time\":\"2026-11-27T23:35:00.123456789Z\","
		"\"ts_ns\":1795822500123456789,\"ktime_ns\":12345,\"kind\":\"topic\","
		"\"verdict\":\"reject\",\"enforced\":true,\"sample\":1,\"count\":37,"
		"\"first_ts\":1795822500123444789,\"last_ts\":1795822500123456789,\"folded\":5,"
		"\"folded_deny\":2,\"rule\":\"no-eu-writes\",\"rule_id\":3,"
		"\"policy_version\":\"2026-11-27.1\",\"version_id\":7,\"gen\":1,\"family\":4,"
		"\"src_ip\":\"10.1.2.3\",\"src_port\":40000,\"dst_ip\":\"10.9.9.9\","
		"\"dst_port\":9092,\"region\":\"eu\",\"region_id\":1,\"principal\":\"alice\","
		"\"principal_id\":5,\"principal_source\":\"sasl\",\"client_id\":\"producer\","
		"\"api_key\":0,\"api_name\":\"Produce\",\"api_version\":9,\"correlation_id\":42,"
		"\"operation\":\"produce\",\"topic\":\"orders\",\"topic_id\":null,\"reason\":null,"
		"\"bytes\":1234}";
	int n;

	full_event(&ev);
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 17, "broker-1", WALL);
	CU_ASSERT_EQUAL(n, (int)strlen(want));
	CU_ASSERT_STRING_EQUAL(b, want);
	if (strcmp(b, want))
		fprintf(stderr, "\ngot  %s\nwant %s\n", b, want);
}

static void test_codec_alternatives(void)
{
	struct kg_event ev;
	char b[KG_AUDIT_RECORD_MAX], s[512];
	__u64 u;
	bool t;
	int n;

	/* the default decided: no rule name even if names has one; region none; null client
	 * id; principal by id when the event carries no bytes; monitor mode */
	full_event(&ev);
	ev.rule_id = ~0u;
	ev.region_id = KG_REGION_NONE;
	ev.client_id_len = 0xff;
	ev.principal_len = 0;
	ev.enforced = 0;
	ev.verdict = KG_ACT_ALLOW;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"rule\":null,\"rule_id\":null,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"region\":null,\"region_id\":63,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"client_id\":null,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"principal\":\"alice-by-id\","));
	CU_ASSERT(kg_rec_bool(b, n, "enforced", &t) && !t);
	CU_ASSERT(kg_rec_str(b, n, "verdict", s, sizeof(s)) && !strcmp(s, "allow"));

	/* no names at all: ids only, null strings */
	n = kg_audit_encode_at(b, sizeof(b), &ev, NULL, 1, "n", WALL);
	CU_ASSERT(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"policy_version\":null,\"version_id\":7,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"principal\":null,\"principal_id\":5,"));

	/* a topic id (Produce v13 / Fetch v13+): uuid text, no name */
	full_event(&ev);
	ev.tkind = KD_TK_ID;
	ev.topic_len = 0;
	for (int i = 0; i < 16; i++)
		ev.uuid[i] = (__u8)(0x10 + i);
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b, "\"topic\":null,\"topic_id\":\"10111213-1415-1617-1819-1a1b1c1d1e1f\","));

	/* undecodable: the reason by name, no topic */
	full_event(&ev);
	ev.kind = KG_EV_UNDECODABLE;
	ev.reason = KD_ERR_MIDSTREAM;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "kind", s, sizeof(s)) && !strcmp(s, "undecodable"));
	CU_ASSERT(kg_rec_str(b, n, "reason", s, sizeof(s)) && !strcmp(s, "midstream"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"topic\":null,"));

	/* the other kinds, an unknown api key, every operation name */
	ev.kind = KG_EV_REQUEST;
	ev.api_key = 500;
	ev.op = KG_OP_ADMIN;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "kind", s, sizeof(s)) && !strcmp(s, "request"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"api_key\":500,\"api_name\":null,"));
	CU_ASSERT(kg_rec_str(b, n, "operation", s, sizeof(s)) && !strcmp(s, "admin"));
	ev.kind = KG_EV_CONNECTION;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "kind", s, sizeof(s)) && !strcmp(s, "connection"));
	ev.kind = KG_EV_SESSION;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "kind", s, sizeof(s)) && !strcmp(s, "session"));
	/* a limit record names the limit in reason */
	ev.kind = KG_EV_LIMIT;
	ev.reason = KG_LIMIT_POOL;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "kind", s, sizeof(s)) && !strcmp(s, "limit"));
	CU_ASSERT(kg_rec_str(b, n, "reason", s, sizeof(s)) && !strcmp(s, "pool_exhausted"));
	ev.reason = KG_LIMIT_FLOWS;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT(kg_rec_str(b, n, "reason", s, sizeof(s)) && !strcmp(s, "flow_table_full"));

	/* IPv6 and a negative correlation id */
	full_event(&ev);
	ev.flow.family = 6;
	inet_pton(AF_INET6, "2001:db8::1", ev.flow.saddr);
	inet_pton(AF_INET6, "fd00::9", ev.flow.daddr);
	ev.corr = -5;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"family\":6,\"src_ip\":\"2001:db8::1\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"dst_ip\":\"fd00::9\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"correlation_id\":-5,"));
	CU_ASSERT(kg_rec_u64(b, n, "seq", &u) && u == 1);
}

/*
 * What `kgate flows -o json`, `kgate policy show -o json` and the other commands print
 * (kg_json_fput) is what the audit record holds for the same bytes: a UTF-8 principal
 * such as "jos\xc3\xa9" stays as written, not one \u00XX per byte ("jos\u00c3\u00a9",
 * which a JSON reader takes for "jos\xc3\x83\xc2\xa9").
 */
static void test_json_commands_as_records(void)
{
	/* each name, and the JSON string both must write for it, spelled out here */
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"jos\xc3\xa9", "\"jos\xc3\xa9\""},                     /* UTF-8 as it is */
		{"a\"b\\c\nd\x7f", "\"a\\\"b\\\\c\\u000ad\\u007f\""},  /* escapes, DEL */
		{"\xe2\x82\xac\x80", "\"\xe2\x82\xac\\u0080\""},       /* the euro, a stray byte */
		{"\xc3", "\"\\u00c3\""},                                 /* a lone lead byte */
	};
	struct kg_event ev;
	char b[KG_AUDIT_RECORD_MAX], *out = NULL;
	size_t outlen = 0;
	FILE *f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];

		out = NULL;
		f = open_memstream(&out, &outlen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		kg_json_fput(f, cases[i].in);
		fclose(f);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		free(out);
		full_event(&ev);
		ev.principal_len = strlen(cases[i].in);
		memcpy(ev.principal, cases[i].in, ev.principal_len);
		CU_ASSERT_FATAL(kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL) > 0);
		snprintf(want, sizeof(want), "\"principal\":%s,", cases[i].want);
		CU_ASSERT_PTR_NOT_NULL(strstr(b, want));
	}
	/* NULL is null */
	out = NULL;
	f = open_memstream(&out, &outlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	kg_json_fput(f, NULL);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(out, "null");
	free(out);
}

static void test_codec_escaping(void)
{
	/* quote, backslash, newline, tab, NUL, DEL, valid 2- and 3-byte UTF-8, an invalid
	 * lone continuation byte and a truncated sequence at the end */
	static const __u8 raw[] = "a\"b\\c\nd\te\x00"
				  "f\x7fg\xc3\xa9h\xe2\x82\xaci\x80j\xe2\x82";
	size_t rawlen = sizeof(raw) - 1;
	struct kg_event ev;
	char b[KG_AUDIT_RECORD_MAX], s[512], node[64];
	int n;

	full_event(&ev);
	memcpy(ev.topic, raw, rawlen);
	ev.topic_len = rawlen;
	memcpy(ev.principal, raw, rawlen);
	ev.principal_len = rawlen;
	memcpy(ev.client_id, raw, rawlen);
	ev.client_id_len = rawlen;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "node\"x", WALL);
	CU_ASSERT(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b, "\"topic\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0000f\\u007fg\xc3\xa9h\xe2\x82\xaci"
		   "\\u0080j\\u00e2\\u0082\","));
	/* no raw control byte anywhere in the record */
	for (int i = 0; i < n; i++)
		CU_ASSERT((unsigned char)b[i] >= 0x20);
	/* read back: every byte below 0x80 exact (the reader undoes \u00XX byte-wise) */
	CU_ASSERT(kg_rec_str(b, n, "node", node, sizeof(node)) && !strcmp(node, "node\"x"));
	CU_ASSERT(kg_rec_str(b, n, "client_id", s, sizeof(s)));
	CU_ASSERT(!memcmp(s, "a\"b\\c\nd\te", 10));
	/* a field name inside a string value is not a field */
	full_event(&ev);
	memcpy(ev.topic, "\"seq\":99", 8);
	ev.topic_len = 8;
	n = kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 5, "n", WALL);
	{
		__u64 seq = 0;

		CU_ASSERT(kg_rec_u64(b, n, "seq", &seq) && seq == 5);
	}
}

static void test_codec_limits(void)
{
	struct kg_event ev;
	char b[KG_AUDIT_RECORD_MAX];
	int n;

	/* the worst case fits: every byte of topic, principal and client id escaped */
	full_event(&ev);
	memset(ev.topic, 0x01, sizeof(ev.topic));
	ev.topic_len = KD_TOPIC_MAX;
	memset(ev.principal, 0x01, sizeof(ev.principal));
	ev.principal_len = KD_USER_MAX;
	memset(ev.client_id, 0x01, sizeof(ev.client_id));
	ev.client_id_len = KD_CLIENT_ID_MAX;
	/* ... with every name the lookup gives at its longest, and the longest node name:
	 * a record must fit KG_AUDIT_RECORD_MAX whatever it carries */
	{
		static struct kg_event_names worst;
		char node[KG_AUDIT_NODE_MAX + 1];

		memset(&worst, 0x01, sizeof(worst));
		worst.policy_version[sizeof(worst.policy_version) - 1] = 0;
		worst.rule[sizeof(worst.rule) - 1] = 0;
		worst.region[sizeof(worst.region) - 1] = 0;
		worst.principal[sizeof(worst.principal) - 1] = 0;
		worst.allow_sample = ~0u;
		memset(node, 0x01, KG_AUDIT_NODE_MAX);
		node[KG_AUDIT_NODE_MAX] = 0;
		ev.rule_id = 1;
		ev.region_id = 1;
		n = kg_audit_encode_at(b, sizeof(b), &ev, &worst, ~0ull, node, WALL);
		CU_ASSERT(n > 0 && n < KG_AUDIT_RECORD_MAX);
		printf("(worst record: %d bytes) ", n);
	}
	/* lengths beyond the buffers are clamped, never read past */
	ev.topic_len = 0xffff;
	ev.principal_len = 0xff;
	ev.client_id_len = 0xfe;
	CU_ASSERT(kg_audit_encode_at(b, sizeof(b), &ev, &full_names, 1, "n", WALL) > 0);
	/* too small a buffer: -1, not a cut record */
	full_event(&ev);
	CU_ASSERT_EQUAL(kg_audit_encode_at(b, 100, &ev, &full_names, 1, "n", WALL), -1);
	/* kg_audit_encode: wall time from the monotonic clock, close to now */
	{
		struct timespec m;
		__u64 ts = 0, now = kg_wall_now_ns();

		clock_gettime(CLOCK_MONOTONIC, &m);
		ev.ts_ns = (__u64)m.tv_sec * 1000000000ull + m.tv_nsec - 1000000000ull;
		n = kg_audit_encode(b, sizeof(b), &ev, &full_names, 1, "n");
		CU_ASSERT(kg_rec_u64(b, n, "ts_ns", &ts));
		CU_ASSERT(ts < now && now - ts > 900000000ull && now - ts < 1200000000ull);
	}
}

static void test_codec_gap(void)
{
	char b[512];
	int n = kg_audit_encode_gap(b, sizeof(b), "broker-1", 120, WALL, 5, 7, 100, KG_GAP_RINGBUF);

	CU_ASSERT_STRING_EQUAL(
		b, "{\"node\":\"broker-1\",\"seq\":120,\"time\":\"2026-11-27T23:35:00.123456789Z\","
		   "\"ts_ns\":1795822500123456789,\"kind\":\"gap\",\"lost_deny\":5,"
		   "\"lost_allow\":7,\"after_seq\":100,\"before_seq\":120,"
		   "\"reason\":\"ring_buffer_full\"}");
	CU_ASSERT_EQUAL(n, (int)strlen(b));
	CU_ASSERT_EQUAL(kg_audit_encode_gap(b, 50, "n", 1, WALL, 1, 1, 0, KG_GAP_SPOOL), -1);
}

/* ---- spool ----------------------------------------------------------------------------------- */

static void subdir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void rec_of(char *b, size_t n, __u64 seq)
{
	snprintf(b, n, "{\"node\":\"n\",\"seq\":%llu,\"pad\":\"%0*d\"}", (unsigned long long)seq,
		 (int)(seq % 50), 0);
}

/* Reads every record after after_seq; checks they are first..last in order. */
static void expect_records(struct kg_spool *sp, __u64 after_seq, __u64 first, __u64 last)
{
	struct kg_spool_reader r;
	const char *rec;
	size_t len;
	__u64 seq, want = first;
	char b[256];

	CU_ASSERT_EQUAL_FATAL(kg_spool_reader_open(&r, sp, after_seq), 0);
	while (kg_spool_next(&r, &rec, &len, &seq) == 1) {
		CU_ASSERT_EQUAL(seq, want);
		rec_of(b, sizeof(b), seq);
		CU_ASSERT(len == strlen(b) && !memcmp(rec, b, len));
		want++;
	}
	CU_ASSERT_EQUAL(want, last + 1);
	kg_spool_reader_close(&r);
}

/* Signed fields (kg_rec_s64): a Kafka error code may be negative; the bounds of an i64;
 * what is not a number; a field name inside a string is not the field. */
static void test_rec_signed(void)
{
	const char *r = "{\"node\":\"a\\\"error_code\\\":5\",\"error_code\":-1,\"max\":9223372036854775807,"
			"\"min\":-9223372036854775808,\"over\":9223372036854775808,\"n\":null,"
			"\"s\":\"7\",\"minus\":-}";
	size_t n = strlen(r);
	__s64 v = 0;

	CU_ASSERT(kg_rec_s64(r, n, "error_code", &v) && v == -1);
	CU_ASSERT(kg_rec_s64(r, n, "max", &v) && v == INT64_MAX);
	CU_ASSERT(kg_rec_s64(r, n, "min", &v) && v == INT64_MIN);
	CU_ASSERT(!kg_rec_s64(r, n, "over", &v));
	CU_ASSERT(!kg_rec_s64(r, n, "n", &v));
	CU_ASSERT(!kg_rec_s64(r, n, "s", &v));
	CU_ASSERT(!kg_rec_s64(r, n, "minus", &v));
	CU_ASSERT(!kg_rec_s64(r, n, "absent", &v));
}

static void test_spool_append_restart(void)
{
	struct kg_spool sp;
	char dir[300], err[256], b[256], path[400];
	int fd;

	subdir(dir, sizeof(dir), "spool1");
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sp.records, 0);
	for (__u64 s = 1; s <= 100; s++) {
		rec_of(b, sizeof(b), s);
		CU_ASSERT_EQUAL(kg_spool_append(&sp, s, b, strlen(b)), 0);
	}
	CU_ASSERT_EQUAL(sp.records, 100);
	CU_ASSERT_EQUAL(sp.last_seq, 100);
	expect_records(&sp, 0, 1, 100);
	expect_records(&sp, 60, 61, 100);
	CU_ASSERT_EQUAL(kg_spool_mark_delivered(&sp, 40, 40, 0, 39), 0);
	CU_ASSERT_EQUAL(sp.records, 60);
	kg_spool_close(&sp);

	/* a restart: the delivered mark, the count, the last seq come back from disk */
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sp.delivered_seq, 40);
	CU_ASSERT_EQUAL(sp.delivered_partition, 0);
	CU_ASSERT_EQUAL(sp.delivered_offset, 39);
	CU_ASSERT_EQUAL(sp.records, 60);
	CU_ASSERT_EQUAL(sp.last_seq, 100);
	expect_records(&sp, sp.delivered_seq, 41, 100);
	kg_spool_close(&sp);

	/* a crash in the middle of a write: the partial record is cut, nothing else */
	snprintf(path, sizeof(path), "%s/seg-%020llu.jsonl", dir, 1ull);
	fd = open(path, O_WRONLY | O_APPEND);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, "{\"node\":\"n\",\"seq\":101,\"pa", 25) == 25);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sp.last_seq, 100);
	CU_ASSERT_EQUAL(sp.records, 60);
	rec_of(b, sizeof(b), 101);
	CU_ASSERT_EQUAL(kg_spool_append(&sp, 101, b, strlen(b)), 0);
	expect_records(&sp, 40, 41, 101);
	kg_spool_close(&sp);
}

static int count_segments(const char *dir)
{
	char cmd[400];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^seg-'", dir);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static void test_spool_segments(void)
{
	struct kg_spool sp;
	char dir[300], err[256], b[256];

	subdir(dir, sizeof(dir), "spool2");
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	sp.seg_max = 1000; /* ~15 records a segment */
	for (__u64 s = 1; s <= 300; s++) {
		rec_of(b, sizeof(b), s);
		CU_ASSERT_EQUAL(kg_spool_append(&sp, s, b, strlen(b)), 0);
	}
	CU_ASSERT(sp.nsegs > 10);
	CU_ASSERT_EQUAL(count_segments(dir), (int)sp.nsegs);
	/* a reader follows the records across every segment */
	expect_records(&sp, 0, 1, 300);
	expect_records(&sp, 150, 151, 300);
	/* delivered through 150: the wholly delivered segments go, the one holding 151 stays */
	CU_ASSERT_EQUAL(kg_spool_mark_delivered(&sp, 150, 150, 2, 1000), 0);
	CU_ASSERT(sp.segs[0].first_seq <= 151);
	CU_ASSERT(sp.nsegs < 2 || sp.segs[1].first_seq > 151);
	CU_ASSERT_EQUAL(count_segments(dir), (int)sp.nsegs);
	expect_records(&sp, 150, 151, 300);
	/* everything delivered: only the newest segment remains, and it still names the
	 * next sequence number after a restart */
	CU_ASSERT_EQUAL(kg_spool_mark_delivered(&sp, 300, 150, 2, 1150), 0);
	CU_ASSERT_EQUAL(sp.nsegs, 1);
	CU_ASSERT_EQUAL(sp.records, 0);
	kg_spool_close(&sp);
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sp.last_seq, 300);
	CU_ASSERT_EQUAL(sp.records, 0);
	expect_records(&sp, 300, 301, 300);
	kg_spool_close(&sp);
}

/* The next record kept in memory is seq, with its bytes and time; its block into *blk. */
static void expect_mem(struct kg_spool *sp, __u64 want, __u64 want_ts,
		       struct kg_spool_block **blk)
{
	const char *rec;
	size_t len;
	__u64 seq, ts;
	char b[256];

	CU_ASSERT_EQUAL_FATAL(kg_spool_mem_next(sp, &rec, &len, &seq, &ts, blk), 1);
	CU_ASSERT_EQUAL(seq, want);
	CU_ASSERT_EQUAL(ts, want_ts); /* as kg_spool_add had it; kg_spool_append gives none */
	rec_of(b, sizeof(b), want);
	CU_ASSERT(len == strlen(b) && !memcmp(rec, b, len));
}

/*
 * The spool's blocks in memory (what the sender sends while it keeps up): kept once the
 * sender asks, one block per write, handed out in order, freed once done, none kept past
 * KG_SPOOL_MEM_BYTES (then -1 once the kept ones are taken: the rest is in the files
 * only), all dropped by a stop. The files hold every record throughout.
 */
static void test_spool_mem(void)
{
	struct kg_spool_block *b1, *b2, *b3, *x;
	struct kg_spool_reader r;
	struct kg_spool sp;
	const char *rec;
	char dir[300], err[256], b[256];
	size_t len;
	__u64 seq, ts;

	subdir(dir, sizeof(dir), "m1");
	CU_ASSERT_EQUAL_FATAL(kg_spool_open(&sp, dir, err, sizeof(err)), 0);
	for (__u64 i = 1; i <= 3; i++) {
		rec_of(b, sizeof(b), i);
		CU_ASSERT_EQUAL(kg_spool_append(&sp, i, b, strlen(b)), 0);
	}
	/* not asked for: nothing kept */
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), -1);
	CU_ASSERT_EQUAL(kg_spool_mem_first(&sp), 0);
	kg_spool_mem_start(&sp);
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), 0);

	/* a write of two records, then one of one: two blocks, in order */
	rec_of(b, sizeof(b), 4);
	CU_ASSERT_EQUAL(kg_spool_add(&sp, 4, 1004, b, strlen(b)), 0);
	rec_of(b, sizeof(b), 5);
	CU_ASSERT_EQUAL(kg_spool_add(&sp, 5, 1005, b, strlen(b)), 0);
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), 0); /* not written */
	CU_ASSERT_EQUAL(kg_spool_flush(&sp), 0);
	CU_ASSERT_EQUAL(kg_spool_mem_first(&sp), 4);
	rec_of(b, sizeof(b), 6);
	CU_ASSERT_EQUAL(kg_spool_append(&sp, 6, b, strlen(b)), 0);
	expect_mem(&sp, 4, 1004, &b1);
	CU_ASSERT_EQUAL(kg_spool_mem_first(&sp), 5);
	expect_mem(&sp, 5, 1005, &x);
	CU_ASSERT_PTR_EQUAL(x, b1);
	CU_ASSERT_EQUAL(kg_spool_mem_first(&sp), 6);
	expect_mem(&sp, 6, 0, &b2);
	CU_ASSERT_PTR_NOT_EQUAL(b2, b1);
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), 0);
	CU_ASSERT_EQUAL(kg_spool_mem_first(&sp), 0);
	/* done in order: a block goes once every record of it is done */
	kg_spool_mem_done(&sp, b1, 1);
	CU_ASSERT_PTR_EQUAL(sp.mem_head, b1);
	kg_spool_mem_done(&sp, b1, 1);
	CU_ASSERT_PTR_EQUAL(sp.mem_head, b2);
	kg_spool_mem_done(&sp, b2, 1);
	CU_ASSERT(sp.mem_head == NULL && sp.mem_bytes == 0);

	/* a block past the bound is not kept: the kept ones, then -1 */
	rec_of(b, sizeof(b), 7);
	CU_ASSERT_EQUAL(kg_spool_append(&sp, 7, b, strlen(b)), 0);
	sp.mem_max = sp.mem_bytes; /* as if the sender were far behind */
	rec_of(b, sizeof(b), 8);
	CU_ASSERT_EQUAL(kg_spool_append(&sp, 8, b, strlen(b)), 0);
	sp.mem_max = KG_SPOOL_MEM_BYTES;
	expect_mem(&sp, 7, 0, &b3);
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), -1);
	kg_spool_mem_done(&sp, b3, 1);
	/* the files have every record, 8 included */
	CU_ASSERT_EQUAL_FATAL(kg_spool_reader_open(&r, &sp, 0), 0);
	for (__u64 i = 1; i <= 8; i++)
		CU_ASSERT(kg_spool_next(&r, &rec, &len, &seq) == 1 && seq == i);
	CU_ASSERT_EQUAL(kg_spool_next(&r, &rec, &len, &seq), 0);
	kg_spool_reader_close(&r);

	/* asked again (a spare block's buffers reused), then stopped: nothing kept */
	kg_spool_mem_start(&sp);
	rec_of(b, sizeof(b), 9);
	CU_ASSERT_EQUAL(kg_spool_append(&sp, 9, b, strlen(b)), 0);
	expect_mem(&sp, 9, 0, &x);
	kg_spool_mem_stop(&sp);
	CU_ASSERT(sp.mem_head == NULL && sp.mem_bytes == 0);
	CU_ASSERT_EQUAL(kg_spool_mem_next(&sp, &rec, &len, &seq, &ts, &x), -1);
	kg_spool_close(&sp);
}

/* ---- the pipeline without Kafka ------------------------------------------------------------- */

static void names_fn(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	(void)ctx;
	snprintf(out->policy_version, sizeof(out->policy_version), "v%u", ev->version_id);
	if (ev->rule_id == 3)
		snprintf(out->rule, sizeof(out->rule), "no-eu-writes");
	snprintf(out->region, sizeof(out->region), "eu");
}

/* The lines of a file, each checked for node n and seq first, first+1, ... */
static __u64 file_check_seqs(const char *path, __u64 first)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	__u64 want = first, seq;

	if (!f)
		return 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		CU_ASSERT(kg_rec_u64(line, len, "seq", &seq) && seq == want);
		want++;
	}
	free(line);
	fclose(f);
	return want - first;
}

static struct kg_audit *open_pipeline(const char *name, const char *sock)
{
	char spool[300], file[300], err[256];
	struct kg_audit_opts o = {.node = "n1", .names = names_fn};
	struct kg_audit *a;

	subdir(spool, sizeof(spool), name);
	snprintf(file, sizeof(file), "%s.jsonl", spool);
	o.spool_dir = spool;
	o.file = file;
	o.observe_sock = sock;
	a = kg_audit_open(&o, err, sizeof(err));
	if (!a)
		fprintf(stderr, "kg_audit_open: %s\n", err);
	return a;
}

/* A pipeline's n records of ev, written, then it is closed. */
static void write_closed(const char *name, const struct kg_event *ev, int n)
{
	struct kg_audit *a = open_pipeline(name, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(kg_audit_event(a, ev), 0);
	kg_audit_close(a, 0);
}

static void test_pipeline_file_and_seq(void)
{
	struct kg_event ev;
	struct kg_audit *a;
	char file[300];
	pid_t pid;
	int st;

	subdir(file, sizeof(file), "p1.jsonl");
	full_event(&ev);
	write_closed("p1", &ev, 10);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 10);

	/* clean restart: numbering continues */
	a = open_pipeline("p1", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->next_seq, 11);
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	kg_audit_close(a, 0);

	/* a crash (no close): the restarted pipeline reads the file's last record */
	pid = fork();
	if (pid == 0) {
		a = open_pipeline("p1", NULL);
		for (int i = 0; a && i < 5; i++)
			kg_audit_event(a, &ev);
		_exit(a ? 0 : 1);
	}
	CU_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	a = open_pipeline("p1", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->next_seq, 17);
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	kg_audit_close(a, 0);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 17);

	/* a crash with no file to read: numbering resumes above the lease, never reused */
	unlink(file);
	pid = fork();
	if (pid == 0) {
		a = open_pipeline("p1", NULL);
		for (int i = 0; a && i < 3; i++)
			kg_audit_event(a, &ev);
		_exit(a ? 0 : 1);
	}
	CU_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(file);
	a = open_pipeline("p1", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT(a->next_seq >= 18 + 3);
	kg_audit_close(a, 0);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/*
 * A kill between the pages of a write leaves the audit file ending in part of a record: the
 * next open cuts it off, so the file stays JSON lines (the next record would be glued to
 * it). A file that holds no line end in its last KG_AUDIT_RECORD_MAX bytes is not an audit
 * file: refused, left as it is.
 */
static void test_pipeline_file_cut(void)
{
	static const char part[] = "{\"node\":\"n1\",\"seq\":6,\"time\":\"2026-";
	char file[300], junk[KG_AUDIT_RECORD_MAX + 10], err[256];
	struct kg_audit_opts o = {.node = "n1"};
	struct kg_event ev;
	struct kg_audit *a;
	off_t whole;
	int fd;

	subdir(file, sizeof(file), "cut.jsonl");
	full_event(&ev);
	write_closed("cut", &ev, 5);
	whole = file_size(file);
	fd = open(file, O_WRONLY | O_APPEND);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, part, strlen(part)), (ssize_t)strlen(part));
	close(fd);

	a = open_pipeline("cut", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(file_size(file), whole); /* cut back to the last whole record */
	CU_ASSERT_EQUAL(a->next_seq, 6);
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	kg_audit_close(a, 0);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 6);

	/* not JSON lines: refused, untouched */
	subdir(file, sizeof(file), "notjsonl.bin");
	memset(junk, 'x', sizeof(junk));
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	o.file = file;
	CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a file of audit records"));
	CU_ASSERT_EQUAL(file_size(file), (off_t)sizeof(junk));
}

/*
 * An event whose record does not fit (impossible with the real bound: the test makes the
 * room smaller): it is not lost silently, a record_too_long gap record of its class stands
 * under its number, and numbering goes on.
 */
static void test_pipeline_encode_gap(void)
{
	char file[300], *line = NULL;
	struct kg_event ev;
	struct kg_audit *a;
	size_t cap = 0;
	ssize_t len;
	bool gap = false;
	FILE *f;

	subdir(file, sizeof(file), "enc.jsonl");
	full_event(&ev);
	ev.verdict = KG_ACT_REJECT;
	a = open_pipeline("enc", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	a->record_room = 200;
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), -EMSGSIZE);
	a->record_room = KG_AUDIT_RECORD_MAX;
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	CU_ASSERT_EQUAL(a->gap_records, 1);
	kg_audit_close(a, 0);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 3);
	f = fopen(file, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((len = getline(&line, &cap, f)) > 0)
		gap |= strstr(line, "\"seq\":2,") &&
		       strstr(line, "\"kind\":\"gap\",\"lost_deny\":1,\"lost_allow\":0,"
			      "\"after_seq\":1,\"before_seq\":2,"
			      "\"reason\":\"record_too_long\"");
	CU_ASSERT(gap);
	free(line);
	fclose(f);
}

/* A crash between the spool write and the file write of a record: the restarted
 * pipeline numbers from the spool, and copies the record the file missed. */
static void test_pipeline_crash_file_catch_up(void)
{
	char spool[300], file[300], err[256], cmd[700];
	struct kg_audit_opts o = {.node = "n1", .brokers = "127.0.0.1:1", .topic = "audit"};
	struct kg_event ev;
	struct kg_audit *a;
	pid_t pid;
	int st;

	subdir(spool, sizeof(spool), "c1");
	snprintf(file, sizeof(file), "%s.jsonl", spool);
	o.spool_dir = spool;
	o.file = file;
	full_event(&ev);
	pid = fork();
	if (pid == 0) {
		a = kg_audit_open(&o, err, sizeof(err));
		for (int i = 0; a && i < 5; i++)
			kg_audit_event(a, &ev);
		_exit(a ? 0 : 1);
	}
	CU_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the file lost its last record (the crash came between the two writes) */
	snprintf(cmd, sizeof(cmd), "sed -i '$d' '%s'", file);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 4);
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->next_seq, 6); /* from the spool, not the lease */
	CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	kg_audit_close(a, 0);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 6);
}

static int connect_sock(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads from fd (with the pipeline polled) until s appears or ~2 s pass. */
static bool read_until(struct kg_audit *a, int fd, char *buf, size_t cap, size_t *len,
		       const char *s)
{
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		kg_audit_poll(a, 10);
		n = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);
		if (n > 0) {
			*len += n;
			buf[*len] = 0;
		}
		if (strstr(buf, s))
			return true;
	}
	return false;
}

static void test_pipeline_observe(void)
{
	char sock[300], buf[65536];
	size_t len = 0;
	struct kg_event ev;
	struct kg_audit *a;
	int fd, slow, rcv = 4096;

	subdir(sock, sizeof(sock), "obs.sock");
	a = open_pipeline("p2", sock);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	full_event(&ev);
	for (int i = 0; i < 3; i++)
		kg_audit_event(a, &ev);
	/* a second agent on the same socket is refused */
	CU_ASSERT_PTR_NULL(open_pipeline("p2b", sock));

	fd = connect_sock(sock);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(read_until(a, fd, buf, sizeof(buf), &len, "\"kind\":\"backlog_end\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"seq\":1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"seq\":3,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"records\":3}"));
	/* live records follow */
	kg_audit_event(a, &ev);
	CU_ASSERT(read_until(a, fd, buf, sizeof(buf), &len, "\"seq\":4,"));

	/* a client that never reads is dropped; the pipeline never waits for it */
	slow = socket(AF_UNIX, SOCK_STREAM, 0);
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	{
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
		CU_ASSERT_FATAL(connect(slow, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	}
	kg_audit_poll(a, 10);
	for (int i = 0; i < 8000; i++) {
		kg_audit_event(a, &ev);
		if (i % 64 == 0) {
			kg_audit_poll(a, 0);
			/* the good client keeps reading */
			while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
	}
	CU_ASSERT(a->obs_dropped >= 1);
	len = 0;
	buf[0] = 0;
	kg_audit_event(a, &ev);
	CU_ASSERT(read_until(a, fd, buf, sizeof(buf), &len, "\"seq\":8005,"));
	close(slow);
	close(fd);
	kg_audit_close(a, 0);
	/* the socket is gone with the pipeline */
	CU_ASSERT(access(sock, F_OK) != 0);
}

static void test_pipeline_metrics_text(void)
{
	struct kg_buf b = {0};
	struct kg_event ev;
	struct kg_audit *a = open_pipeline("p3", NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	full_event(&ev);
	kg_audit_event(a, &ev);
	kg_audit_event(a, &ev);
	ev.rule_id = ~0u;
	ev.verdict = KG_ACT_ALLOW;
	ev.op = KG_OP_CONSUME;
	kg_audit_event(a, &ev);
	ev.kind = KG_EV_UNDECODABLE;
	ev.reason = KD_ERR_TLS;
	kg_audit_event(a, &ev);
	kg_metrics_render(&(struct kg_metrics_sources){.audit = a}, &b);
	/* decisions are counted by each record's count (full_event: a summary of 37) */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b.p, "kgate_decisions_total{verdict=\"reject\",operation=\"produce\",rule="
			    "\"no-eu-writes\",enforced=\"true\"} 74\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_decisions_total{verdict=\"allow\",operation="
					   "\"consume\",rule=\"\",enforced=\"true\"} 74\n"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b.p, "kgate_undecodable_total{reason=\"tls_on_plaintext\"} 37\n"));
	/* and the decisions past the budget they carry (5 each, 2 of them denies) */
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_audit_folded_total{class=\"deny\"} 8\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_audit_folded_total{class=\"allow\"} 12\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_audit_records_total 4\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "# TYPE kgate_decisions_total counter\n"));
	kg_buf_free(&b);
	kg_audit_close(a, 0);
}

static void test_pipeline_spool_full_gap(void)
{
	char spool[300], err[256], b[KG_AUDIT_RECORD_MAX];
	struct kg_audit_opts o = {.node = "n1", .brokers = "127.0.0.1:1", .topic = "audit"};
	struct kg_spool_reader r;
	struct kg_event ev;
	struct kg_audit *a;
	const char *rec;
	size_t len;
	__u64 seq, want = 1, n = 0;
	bool gap = false;

	subdir(spool, sizeof(spool), "p4");
	o.spool_dir = spool;
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	full_event(&ev);
	kg_audit_event(a, &ev);
	/* the spool is full: records 2..4 are counted, not spooled */
	a->spool_max = a->spool.bytes;
	kg_audit_event(a, &ev);
	ev.verdict = KG_ACT_ALLOW;
	kg_audit_event(a, &ev);
	kg_audit_event(a, &ev);
	CU_ASSERT_EQUAL(a->spool_dropped_total, 3);
	/* room again: a gap record (5) before the next record (6) */
	a->spool_max = 1 << 20;
	kg_audit_event(a, &ev);
	CU_ASSERT_EQUAL_FATAL(kg_spool_reader_open(&r, &a->spool, 0), 0);
	while (kg_spool_next(&r, &rec, &len, &seq) == 1) {
		n++;
		if (seq == 5) {
			memcpy(b, rec, len);
			b[len] = 0;
			gap = strstr(b,
				     "\"kind\":\"gap\",\"lost_deny\":1,\"lost_allow\":2,\"after_"
				     "seq\":1,\"before_seq\":5,\"reason\":\"spool_full\"") != NULL;
		}
		CU_ASSERT(seq == want);
		want = seq == 1 ? 5 : seq + 1;
	}
	kg_spool_reader_close(&r);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(gap);
	kg_audit_close(a, 0);
}

/*
 * A batch (kg_audit_batch_begin/_end, as kgate run drains its ring buffers): no sink sees
 * a record before the batch ends (kg_audit_batch_full says when it holds
 * KG_AUDIT_BATCH_BYTES), then every sink has all of them in order; a spool write that
 * fails in a batch loses exactly the batch's records, counted by class and reported in
 * one gap record, whose number a failed try does not use up.
 */
static void test_pipeline_batch(void)
{
	char spool[300], file[300], sock[300], err[256], buf[65536], b[KG_AUDIT_RECORD_MAX];
	struct kg_audit_opts o = {.node = "n1", .brokers = "127.0.0.1:1", .topic = "audit",
				  .names = names_fn};
	struct kg_spool_reader r;
	struct kg_event ev;
	struct kg_audit *a;
	const char *rec;
	size_t len = 0, rlen;
	__u64 seq, want = 1, n = 0, held, last, per, fill = 0;
	int fd, good;
	bool gap = false;

	subdir(spool, sizeof(spool), "b1");
	snprintf(file, sizeof(file), "%s.jsonl", spool);
	subdir(sock, sizeof(sock), "b1.sock");
	o.spool_dir = spool;
	o.file = file;
	o.observe_sock = sock;
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	fd = connect_sock(sock);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(read_until(a, fd, buf, sizeof(buf), &len, "\"kind\":\"backlog_end\""));
	full_event(&ev);

	/* held until the end */
	kg_audit_batch_begin(a);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(kg_audit_event(a, &ev), 0);
	CU_ASSERT_EQUAL(file_size(file), 0);
	CU_ASSERT_EQUAL(a->spool.records, 0);
	CU_ASSERT(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	kg_audit_batch_end(a);
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), 10);
	CU_ASSERT_EQUAL(a->spool.records, 10);
	len = 0;
	CU_ASSERT(read_until(a, fd, buf, sizeof(buf), &len, "\"seq\":10,"));

	/*
	 * Past the byte bound the batch says it is full, and still nothing is written before
	 * its end: its events are still in the ring buffer, a record on disk now would be
	 * recorded again by the next agent after a kill.
	 */
	held = file_size(file);
	kg_audit_batch_begin(a);
	per = KG_AUDIT_BATCH_BYTES / (held / 10); /* records of this size in a full batch */
	while (!kg_audit_batch_full(a) && fill++ < 2 * per)
		kg_audit_event(a, &ev);
	CU_ASSERT(fill >= per && fill <= per + 2);
	kg_audit_event(a, &ev);
	CU_ASSERT_EQUAL(file_size(file), (off_t)held);
	CU_ASSERT_EQUAL(a->spool.records, 10);
	kg_audit_batch_end(a);
	CU_ASSERT(!kg_audit_batch_full(a));
	last = a->next_seq - 1;
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), last);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;

	/* the spool's write fails at the end of a batch of 3 denies and 5 allows */
	kg_audit_batch_begin(a);
	for (int i = 0; i < 8; i++) {
		ev.verdict = i < 3 ? KG_ACT_REJECT : KG_ACT_ALLOW;
		kg_audit_event(a, &ev);
	}
	good = a->spool.fd;
	a->spool.fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* write(2): EBADF */
	kg_audit_batch_end(a);
	close(a->spool.fd);
	a->spool.fd = good;
	CU_ASSERT_EQUAL(a->spool_dropped[KG_LOST_DENY], 3);
	CU_ASSERT_EQUAL(a->spool_dropped[KG_LOST_ALLOW], 5);
	/* the file and observe have them all; the next record brings the gap record */
	CU_ASSERT_EQUAL(file_check_seqs(file, 1), last + 8);
	kg_audit_event(a, &ev);
	CU_ASSERT_EQUAL(a->spool_dropped_total, 8);
	CU_ASSERT_EQUAL(a->spool_dropped[0] + a->spool_dropped[1], 0);
	CU_ASSERT_EQUAL_FATAL(kg_spool_reader_open(&r, &a->spool, 0), 0);
	while (kg_spool_next(&r, &rec, &rlen, &seq) == 1) {
		n++;
		CU_ASSERT_EQUAL(seq, want);
		if (seq == last + 9) {
			snprintf(b, sizeof(b), "\"kind\":\"gap\",\"lost_deny\":3,\"lost_allow\":5,"
				 "\"after_seq\":%llu,\"before_seq\":%llu,\"reason\":\"spool_full\"",
				 (unsigned long long)last, (unsigned long long)last + 9);
			gap = memmem(rec, rlen, b, strlen(b)) != NULL;
		}
		want = seq == last ? last + 9 : seq + 1;
	}
	kg_spool_reader_close(&r);
	CU_ASSERT_EQUAL(n, last + 2); /* 1..last, the gap record, the record after it */
	CU_ASSERT(gap);
	close(fd);
	kg_audit_close(a, 0);
}

static void test_open_errors(void)
{
	char err[256];
	struct kg_audit_opts o = {.node = "n1", .brokers = "127.0.0.1:1"};

	CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--audit-topic"));
	o.topic = "t";
	CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "spool"));
	o = (struct kg_audit_opts){.node = "n1", .file = "/nonexistent-dir/x.jsonl"};
	CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-dir/x.jsonl"));
	/* a node name past KG_AUDIT_NODE_MAX: refused (every record must fit its buffer) */
	{
		char node[KG_AUDIT_NODE_MAX + 2];
		struct kg_audit *a;

		memset(node, 'n', sizeof(node) - 1);
		node[sizeof(node) - 1] = 0;
		o = (struct kg_audit_opts){.node = node};
		CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "node name is longer than"));
		node[KG_AUDIT_NODE_MAX] = 0;
		a = kg_audit_open(&o, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL(a);
		if (a)
			kg_audit_close(a, 0);
	}
	CU_ASSERT_PTR_NULL(kg_metrics_open("nocolon", &(struct kg_metrics_sources){0}, err,
					   sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ADDR:PORT"));
	o = (struct kg_audit_opts){.node = ""};
	CU_ASSERT_PTR_NULL(kg_audit_open(&o, err, sizeof(err)));
}

/* ---- with datapath maps (created here: needs BPF, skipped without) -------------------------- */

static int ncpus;

static int set_percpu(int fd, __u32 key, __u64 cpu0, __u64 cpu1)
{
	__u64 v[ncpus];

	memset(v, 0, sizeof(v));
	v[0] = cpu0;
	if (ncpus > 1)
		v[1] = cpu1;
	else
		v[0] += cpu1;
	return bpf_map_update_elem(fd, &key, v, BPF_ANY);
}

static void rules_names(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	(void)ctx;
	snprintf(out->policy_version, sizeof(out->policy_version), "v%u", ev->version_id);
	if (ev->rule_id < 3)
		snprintf(out->rule, sizeof(out->rule), "r%u", ev->rule_id);
}

/* The records of path, as lines, into lines[] (at most n); returns the count. */
static int read_lines(const char *path, char lines[][KG_AUDIT_RECORD_MAX], int n)
{
	FILE *f = fopen(path, "r");
	int i = 0;

	if (!f)
		return 0;
	while (i < n && fgets(lines[i], KG_AUDIT_RECORD_MAX, f))
		i++;
	fclose(f);
	return i;
}

/* Opens o with spool TMP/name and audit file TMP/name.jsonl (their paths into spool, file). */
static struct kg_audit *open_spool_file(struct kg_audit_opts *o, const char *name, char *spool,
					char *file, size_t n)
{
	char err[256];
	struct kg_audit *a;

	subdir(spool, n, name);
	snprintf(file, n, "%s.jsonl", spool);
	o->spool_dir = spool;
	o->file = file;
	a = kg_audit_open(o, err, sizeof(err));
	if (!a)
		fprintf(stderr, "kg_audit_open: %s\n", err);
	return a;
}

static void test_gaps_and_datapath_metrics(void)
{
	static char lines[16][KG_AUDIT_RECORD_MAX];
	struct kg_maps m;
	struct kg_audit_opts o = {
		.node = "n1", .names = rules_names, .lost = kg_datapath_lost, .lost_ctx = &m};
	char spool[300], file[300], err[256];
	struct kg_buf b = {0};
	struct kg_config cfg = {.version_id = 9, .mode = KG_MODE_MONITOR};
	struct kg_event ev;
	struct kg_audit *a;
	__u32 zero = 0, one = 1;
	int n;

	memset(&m, -1, sizeof(m));
	ncpus = libbpf_num_possible_cpus();
	m.counters =
		bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_counters", 4, 8, KG_C__COUNT, NULL);
	if (m.counters < 0) {
		fprintf(stderr, "(skipped: no BPF maps here: %s) ", strerror(errno));
		return;
	}
	m.active = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_active", 4, 4, 1, NULL);
	m.config = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_config", 4, sizeof(cfg), 2, NULL);
	m.flows = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct kg_flow_key), 8, 16,
				 NULL);
	m.rule_hits =
		bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_hits", 4, 8, 2 * KG_MAX_RULES, NULL);
	CU_ASSERT_FATAL(m.active >= 0 && m.config >= 0 && m.flows >= 0 && m.rule_hits >= 0);

	a = open_spool_file(&o, "g1", spool, file, sizeof(spool));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	full_event(&ev);
	kg_audit_event(a, &ev);
	kg_audit_event(a, &ev);
	/* nothing lost: no gap record */
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0);
	CU_ASSERT_EQUAL(a->next_seq, 3);
	/* 3 deny and 2 allow lost (summed over CPUs): one gap record, after record 2 */
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_EVENTS_LOST_DENY, 1, 2), 0);
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_EVENTS_LOST_ALLOW, 2, 0), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* no change: no second record */
	kg_audit_event(a, &ev);			    /* 4 */
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_EVENTS_LOST_DENY, 4, 1), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* 5: 2 more deny since record 3 */
	kg_audit_close(a, 0);

	/* a restart: the reported counts were persisted, nothing is reported twice */
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0);
	CU_ASSERT_EQUAL(a->next_seq, 6);
	/* maps made anew (counts below what was reported): every count is new */
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_EVENTS_LOST_DENY, 1, 0), 0);
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_EVENTS_LOST_ALLOW, 0, 0), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* 6 */

	n = read_lines(file, lines, 16);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "\"seq\":3,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "\"kind\":\"gap\",\"lost_deny\":3,\"lost_allow\":2,"
						"\"after_seq\":2,\"before_seq\":3,"
						"\"reason\":\"ring_buffer_full\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[4], "\"kind\":\"gap\",\"lost_deny\":2,\"lost_allow\":0,"
						"\"after_seq\":3,\"before_seq\":5,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[5], "\"kind\":\"gap\",\"lost_deny\":1,\"lost_allow\":0,"
						"\"after_seq\":5,\"before_seq\":6,"));

	/* metrics from the maps: generation 1 active, 3 flows, rule hits, verdicts */
	CU_ASSERT_EQUAL(bpf_map_update_elem(m.active, &zero, &one, BPF_ANY), 0);
	CU_ASSERT_EQUAL(bpf_map_update_elem(m.config, &one, &cfg, BPF_ANY), 0);
	for (int i = 0; i < 3; i++) {
		struct kg_flow_key k = {.family = 4, .sport = (__u16)i};
		__u64 v = 0;

		CU_ASSERT_EQUAL(bpf_map_update_elem(m.flows, &k, &v, BPF_ANY), 0);
	}
	CU_ASSERT_EQUAL(set_percpu(m.rule_hits, KG_MAX_RULES + 1, 5, 2), 0);
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_VERDICT_BASE + KG_ACT_REJECT, 10, 1), 0);
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_UNDECODABLE_BASE + KD_ERR_MIDSTREAM, 4, 0), 0);
	CU_ASSERT_EQUAL(set_percpu(m.counters, KG_C_OOO_DROPS, 6, 0), 0);
	kg_metrics_render(&(struct kg_metrics_sources){.audit = a, .maps = &m, .nmaps = 1,
						       .names = rules_names},
			  &b);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "\nkgate_flows 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_policy_info{version=\"v9\",version_id=\"9\","
					   "generation=\"1\",mode=\"monitor\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "\nkgate_policy_generation 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_rule_hits_total{rule=\"r0\",rule_id=\"0\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_rule_hits_total{rule=\"r1\",rule_id=\"1\"} 7\n"));
	CU_ASSERT_PTR_NULL(strstr(b.p, "rule_id=\"3\""));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b.p, "kgate_datapath_decisions_total{verdict=\"reject\"} 11\n"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b.p, "kgate_datapath_undecodable_total{reason=\"midstream\"} 4\n"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b.p, "kgate_datapath_counter_total{name=\"out_of_order_drops\"} 6\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "kgate_events_lost_total{class=\"deny\"} 1\n"));
	kg_buf_free(&b);
	kg_audit_close(a, 0);
	close(m.counters);
	close(m.active);
	close(m.config);
	close(m.flows);
	close(m.rule_hits);
}

/*
 * Two interfaces (kgate run --iface a --iface b): one gap record for what both lost,
 * baselines kept per interface across a restart (one interface's maps made anew
 * reports only its own counts), an older agent's state file (no per-interface lines)
 * taken as the first interface's, and metrics summed over both.
 */
static void test_gaps_two_interfaces(void)
{
	static char lines[16][KG_AUDIT_RECORD_MAX];
	static const char *const names[2] = {"eth0", "eth1"};
	static const char *const summed[] = {
		"kgate_datapath_counter_total{name=\"out_of_order_drops\"} 9\n",
		"kgate_events_lost_total{class=\"deny\"} 3\n",
		"kgate_events_lost_total{class=\"allow\"} 3\n",
	};
	struct kg_maps m[2];
	struct kg_audit_opts o = {.node = "n1", .lost = kg_datapath_lost, .lost_ctx = m,
				  .ifaces = names, .nifaces = 2};
	char spool[300], file[300], path[400], err[256];
	struct kg_buf b = {0};
	struct kg_audit *a;
	FILE *f;
	int n;

	ncpus = libbpf_num_possible_cpus();
	for (int i = 0; i < 2; i++) {
		memset(&m[i], -1, sizeof(m[i]));
		m[i].counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_counters", 4, 8,
					       KG_C__COUNT, NULL);
		if (m[i].counters < 0) {
			fprintf(stderr, "(skipped: no BPF maps here: %s) ", strerror(errno));
			if (i)
				close(m[0].counters);
			return;
		}
	}
	a = open_spool_file(&o, "g2", spool, file, sizeof(spool));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	/* 1 deny lost on eth0, 2 deny + 3 allow on eth1: one record of 3 and 3 */
	CU_ASSERT_EQUAL(set_percpu(m[0].counters, KG_C_EVENTS_LOST_DENY, 1, 0), 0);
	CU_ASSERT_EQUAL(set_percpu(m[1].counters, KG_C_EVENTS_LOST_DENY, 0, 2), 0);
	CU_ASSERT_EQUAL(set_percpu(m[1].counters, KG_C_EVENTS_LOST_ALLOW, 3, 0), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* 1 */
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0);
	/* metrics: both interfaces' counters */
	CU_ASSERT_EQUAL(set_percpu(m[0].counters, KG_C_OOO_DROPS, 4, 0), 0);
	CU_ASSERT_EQUAL(set_percpu(m[1].counters, KG_C_OOO_DROPS, 0, 5), 0);
	kg_metrics_render(&(struct kg_metrics_sources){.audit = a, .maps = m, .nmaps = 2}, &b);
	for (size_t i = 0; i < sizeof(summed) / sizeof(summed[0]); i++)
		if (!strstr(b.p, summed[i]))
			CU_FAIL_FATAL("a metric not summed over the interfaces");
	kg_buf_free(&b);
	kg_audit_close(a, 0);

	/* a restart: nothing reported twice; then eth1's maps made anew with 1 allow lost */
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0);
	CU_ASSERT_EQUAL(a->next_seq, 2);
	CU_ASSERT_EQUAL(set_percpu(m[1].counters, KG_C_EVENTS_LOST_DENY, 0, 0), 0);
	CU_ASSERT_EQUAL(set_percpu(m[1].counters, KG_C_EVENTS_LOST_ALLOW, 1, 0), 0);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* 2: 0 deny, 1 allow */
	kg_audit_close(a, 0);

	/* an older agent's state (one interface, no per-interface lines): eth0's baseline */
	snprintf(path, sizeof(path), "%s/state", spool);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "next_seq 3 clean 1 lease 3 lost_deny 1 lost_allow 0\n");
	fclose(f);
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(kg_audit_check_gaps(a), 0); /* 3: eth1's 1 allow, not known reported */
	kg_audit_close(a, 0);

	n = read_lines(file, lines, 16);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "\"kind\":\"gap\",\"lost_deny\":3,\"lost_allow\":3,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[1], "\"kind\":\"gap\",\"lost_deny\":0,\"lost_allow\":1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "\"kind\":\"gap\",\"lost_deny\":0,\"lost_allow\":1,"));
	close(m[0].counters);
	close(m[1].counters);
}

int register_audit_tests(void)
{
	CU_pSuite s = CU_add_suite("audit", suite_init, suite_clean);

	if (!s)
		return -1;
	if (!CU_add_test(s, "codec: a full record, byte for byte", test_codec_full_record) ||
	    !CU_add_test(s, "codec: each field's alternatives", test_codec_alternatives) ||
	    !CU_add_test(s, "codec: escaping and reading back", test_codec_escaping) ||
	    !CU_add_test(s, "JSON of the commands (-o json) = JSON of the records: UTF-8 kept",
			 test_json_commands_as_records) ||
	    !CU_add_test(s, "codec: worst case fits, short buffer refused", test_codec_limits) ||
	    !CU_add_test(s, "codec: gap records", test_codec_gap) ||
	    !CU_add_test(s, "signed fields of a record", test_rec_signed) ||
	    !CU_add_test(s, "spool: append, read in order, restart, cut partial record",
			 test_spool_append_restart) ||
	    !CU_add_test(s, "spool: blocks kept in memory for the sender, in order, bounded",
			 test_spool_mem) ||
	    !CU_add_test(s, "spool: segments rolled, removed once delivered",
			 test_spool_segments) ||
	    !CU_add_test(s, "pipeline: file sink, seq across clean and crashed restarts",
			 test_pipeline_file_and_seq) ||
	    !CU_add_test(
		    s, "pipeline: crash between spool and file: seq from the spool, file caught up",
		    test_pipeline_crash_file_catch_up) ||
	    !CU_add_test(s, "pipeline: a record cut by a crash cut off at open; not JSONL refused",
			 test_pipeline_file_cut) ||
	    !CU_add_test(s, "pipeline: a record that does not fit: a record_too_long gap record",
			 test_pipeline_encode_gap) ||
	    !CU_add_test(s, "pipeline: observe backlog, live records, slow client dropped",
			 test_pipeline_observe) ||
	    !CU_add_test(s, "pipeline: metrics text", test_pipeline_metrics_text) ||
	    !CU_add_test(s, "pipeline: a batch is held, then written in order; a failed spool "
			    "write is counted exactly", test_pipeline_batch) ||
	    !CU_add_test(s, "pipeline: spool full -> counted, then a spool_full gap record",
			 test_pipeline_spool_full_gap) ||
	    !CU_add_test(s, "two interfaces: one gap record for both, baselines per interface",
			 test_gaps_two_interfaces) ||
	    !CU_add_test(s, "gaps from the lost counters; metrics from the datapath maps",
			 test_gaps_and_datapath_metrics) ||
	    !CU_add_test(s, "open: option errors name the option", test_open_errors))
		return -1;
	return 0;
}
