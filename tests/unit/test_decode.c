// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the streaming Kafka request decoder (bpf/kafka_decode.h, host build).
 *
 *  - fixtures: real client captures (tests/fixtures/captures) decode to exactly the
 *    requests and topics an independent dissector (tshark) saw;
 *  - synthesized: every (api, version) the decoder covers, built by the independent
 *    frame builder (kframe.c), decodes to exactly the topics put in;
 *  - split invariance: any chunking gives the identical report;
 *  - negative inputs: each reason code;
 *  - SASL: PLAIN and SCRAM users via SaslAuthenticate and raw v0 tokens; the password
 *    never reaches the decoder's state.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"
#include "decode_util.h"
#include "kframe.h"

#define FIXTURES "fixtures/captures"
#define BUF_CAP (4u << 20)

static uint8_t *frame_buf;

/* ---- helpers ------------------------------------------------------------ */

static void assert_text_eq(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want)) {
		fprintf(stderr, "\n--- %s: want ---\n%s--- got ---\n%s---\n", what, want, got);
		CU_FAIL("decoder report differs");
	} else {
		CU_PASS("report matches");
	}
}

static void hex(struct kg_buf *b, const uint8_t *id)
{
	for (int i = 0; i < 16; i++)
		kg_buf_printf(b, "%02x", id[i]);
}

static int uses_topic_id(int key, int v)
{
	return (key == KAFKA_PRODUCE && v >= 13) || (key == KAFKA_FETCH && v >= 13) ||
	       (key == KAFKA_OFFSET_COMMIT && v >= 10) || (key == KAFKA_OFFSET_FETCH && v >= 10);
}

/* Entries that carry both a name and an id: Metadata v10+, DeleteTopics v6. */
static int uses_name_and_id(int key, int v)
{
	return (key == KAFKA_METADATA && v >= 10) || (key == KAFKA_DELETE_TOPICS && v >= 6);
}

static void expect_topics(struct kg_buf *b, const struct kf_req *r)
{
	for (int i = 0; i < r->ntopics; i++) {
		const struct kf_topic *t = &r->topics[i];

		if ((r->api_key == KAFKA_DESCRIBE_CONFIGS || r->api_key == KAFKA_ALTER_CONFIGS ||
		     r->api_key == KAFKA_INCREMENTAL_ALTER_CONFIGS) &&
		    r->resource_type != KAFKA_RESOURCE_TOPIC)
			continue;
		if (uses_topic_id(r->api_key, r->api_version)) {
			kg_buf_printf(b, "topic id=");
			hex(b, t->id);
		} else {
			kg_buf_printf(b, "topic name=%s", t->name);
			if (uses_name_and_id(r->api_key, r->api_version)) {
				kg_buf_printf(b, " id=");
				hex(b, t->id);
			}
		}
		kg_buf_printf(b, "\n");
	}
}

/* What the decoder must report for a frame kf_build made from r. */
static char *expect_for(const struct kf_req *r, size_t frame_len)
{
	struct kg_buf b = { 0 };
	int groups = r->ngroups > 0 ? r->ngroups : 1;

	kg_buf_printf(&b, "frame key=%d ver=%d corr=%d size=%zu client=%s\n", r->api_key,
		   r->api_version, r->corr, frame_len - 4, r->client_id ? r->client_id : "-");
	switch (r->api_key) {
	case KAFKA_OFFSET_FETCH:
		if (r->api_version < 8)
			groups = 1;
		/* kframe names group g > 0 "<group>-<g>". */
		for (int g = 0; g < groups; g++) {
			kg_buf_printf(&b, "group %s", r->group ? r->group : "");
			if (g)
				kg_buf_printf(&b, "-%d", g);
			kg_buf_printf(&b, "\n");
			expect_topics(&b, r);
		}
		break;
	case KAFKA_OFFSET_COMMIT:
	case KAFKA_TXN_OFFSET_COMMIT:
	case KAFKA_OFFSET_DELETE:
		kg_buf_printf(&b, "group %s\n", r->group ? r->group : "");
		expect_topics(&b, r);
		break;
	case KAFKA_DELETE_GROUPS:
		/* Groups only, no topics; kframe names group g > 0 "<group>-<g>". */
		for (int g = 0; g < groups; g++) {
			kg_buf_printf(&b, "group %s", r->group ? r->group : "");
			if (g)
				kg_buf_printf(&b, "-%d", g);
			kg_buf_printf(&b, "\n");
		}
		break;
	case KAFKA_SASL_HANDSHAKE:
		kg_buf_printf(&b, "mechanism %s\n", r->mechanism ? r->mechanism : "PLAIN");
		break;
	case KAFKA_API_VERSIONS:
	case KAFKA_SASL_AUTHENTICATE:
		break;
	default:
		expect_topics(&b, r);
	}
	kg_buf_printf(&b, "end\neof phase=0 skip=0 carry=0\n");
	return b.p;
}

struct api_cov {
	int key, vmin, vmax;
};

/* What the decoder covers (issue #2): every version of each. */
static const struct api_cov coverage[] = {
	{ KAFKA_PRODUCE, 0, 13 },	    { KAFKA_FETCH, 0, 18 },
	{ KAFKA_LIST_OFFSETS, 0, 11 },	    { KAFKA_METADATA, 0, 13 },
	{ KAFKA_OFFSET_COMMIT, 0, 10 },	    { KAFKA_OFFSET_FETCH, 0, 10 },
	{ KAFKA_CREATE_TOPICS, 0, 7 },	    { KAFKA_DELETE_TOPICS, 0, 6 },
	{ KAFKA_DELETE_RECORDS, 0, 2 },	    { KAFKA_ADD_PARTITIONS_TO_TXN, 0, 5 },
	{ KAFKA_DESCRIBE_CONFIGS, 0, 4 },   { KAFKA_ALTER_CONFIGS, 0, 2 },
	{ KAFKA_API_VERSIONS, 0, 4 },	    { KAFKA_SASL_HANDSHAKE, 0, 1 },
	{ KAFKA_SASL_AUTHENTICATE, 0, 2 },
	{ KAFKA_OFFSET_FOR_LEADER_EPOCH, 0, 4 },
	{ KAFKA_TXN_OFFSET_COMMIT, 0, 5 },
	{ KAFKA_CREATE_PARTITIONS, 0, 3 },
	{ KAFKA_DELETE_GROUPS, 0, 2 },
	{ KAFKA_ELECT_LEADERS, 0, 2 },
	{ KAFKA_INCREMENTAL_ALTER_CONFIGS, 0, 1 },
	{ KAFKA_ALTER_PARTITION_REASSIGNMENTS, 0, 1 },
	{ KAFKA_LIST_PARTITION_REASSIGNMENTS, 0, 0 },
	{ KAFKA_OFFSET_DELETE, 0, 0 },
	{ KAFKA_DESCRIBE_PRODUCERS, 0, 0 },
};
#define NCOV (sizeof(coverage) / sizeof(coverage[0]))

static char long_name[KD_TOPIC_MAX + 1];

static struct kf_topic topics3[3] = {
	{ .name = "orders.eu", .partitions = 2 },
	{ .name = "payments-us_v2", .partitions = 1 },
	{ .name = long_name, .partitions = 3 },
};

static void init_topics(void)
{
	memset(long_name, 'x', KD_TOPIC_MAX);
	long_name[0] = 'L';
	long_name[KD_TOPIC_MAX - 1] = 'z';
	for (int t = 0; t < 3; t++)
		for (int i = 0; i < 16; i++)
			topics3[t].id[i] = (uint8_t)(0x10 * (t + 1) + i);
}

/* The scenarios every (api, version) is run through. */
struct scenario {
	const char *name;
	int ntopics;
	size_t record_bytes;
	int extra_tags;
	int known_tags;
	const char *client_id;
	int resource_type;
	int ngroups;
};

static const struct scenario scenarios[] = {
	{ "one topic", 1, 100, 0, 0, "rdkafka", KAFKA_RESOURCE_TOPIC, 1 },
	{ "three topics, large records, tags", 3, 70000, 2, 1, "app-1.eu", KAFKA_RESOURCE_TOPIC,
	  2 },
	{ "no topics, null client id", 0, 0, 1, 0, NULL, KAFKA_RESOURCE_TOPIC, 1 },
	{ "broker resources, empty client id", 2, 10, 0, 1, "", 4, 3 },
};

static void test_synthesized_every_version(void)
{
	char what[160];
	int built = 0;

	for (size_t c = 0; c < NCOV; c++) {
		for (int v = coverage[c].vmin; v <= coverage[c].vmax; v++) {
			for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
				const struct scenario *sc = &scenarios[s];
				struct kf_topic tp[3];
				struct kf_req r = {
					.api_key = coverage[c].key,
					.api_version = v,
					.corr = 1000 + v,
					.client_id = sc->client_id,
					.topics = tp,
					.ntopics = sc->ntopics,
					.group = "group.one",
					.txn_id = "txn-1",
					.mechanism = "SCRAM-SHA-256",
					.auth = (const uint8_t *)"\0u\0p",
					.auth_len = 4,
					.resource_type = sc->resource_type,
					.extra_tags = sc->extra_tags,
					.known_tags = sc->known_tags,
					.ngroups = sc->ngroups,
				};
				size_t n;
				char *got, *want;

				memcpy(tp, topics3, sizeof(tp));
				for (int i = 0; i < 3; i++)
					tp[i].record_bytes = sc->record_bytes;
				n = kf_build(&r, frame_buf, BUF_CAP);
				snprintf(what, sizeof(what), "api %d v%d, %s", r.api_key, v, sc->name);
				if (!n) {
					fprintf(stderr, "\nkframe cannot build %s\n", what);
					CU_FAIL("frame builder refused a covered version");
					continue;
				}
				built++;
				got = du_render_chunked(frame_buf, n, 0);
				want = expect_for(&r, n);
				assert_text_eq(what, got, want);
				free(got);
				free(want);
			}
		}
	}
	CU_ASSERT(built >= 4 * 100);
}

/* ---- split invariance --------------------------------------------------- */

static void check_split_invariance(const char *what, const uint8_t *buf, size_t len)
{
	char *whole = du_render_chunked(buf, len, 0);
	char *bytewise = du_render_chunked(buf, len, 1);
	int bad = 0;

	assert_text_eq(what, bytewise, whole);
	for (size_t cut = 1; cut < len && bad < 3; cut++) {
		char *split = du_render_cuts(buf, len, &cut, 1);

		if (strcmp(split, whole)) {
			fprintf(stderr, "\n%s: split at %zu differs\n", what, cut);
			assert_text_eq(what, split, whole);
			bad++;
		}
		free(split);
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(whole);
	free(bytewise);
}

static void test_split_synthesized(void)
{
	/* A pipelined stream: one frame of every covered version, small records. */
	size_t len = 0;
	struct kf_topic tp[3];

	memcpy(tp, topics3, sizeof(tp));
	for (size_t c = 0; c < NCOV; c++) {
		for (int v = coverage[c].vmin; v <= coverage[c].vmax; v++) {
			struct kf_req r = {
				.api_key = coverage[c].key, .api_version = v, .corr = v,
				.client_id = "split", .topics = tp, .ntopics = 2, .group = "g",
				.mechanism = "PLAIN", .auth = (const uint8_t *)"\0a\0b", .auth_len = 4,
				.resource_type = 2, .extra_tags = 1,
			};

			len += kf_build(&r, frame_buf + len, BUF_CAP - len);
		}
	}
	CU_ASSERT(len > 5000);
	check_split_invariance("all versions pipelined", frame_buf, len);
}

/* ---- fixtures ------------------------------------------------------------ */

/* Lines of an .expect file that are not comments. */
static char *expect_lines(const char *path)
{
	struct kg_buf b = { 0 };
	char line[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	kg_buf_printf(&b, "%s", "");
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && line[0] != '\n')
			kg_buf_printf(&b, "%s", line);
	fclose(f);
	return b.p;
}

static int for_each_fixture(void (*fn)(const char *bin, const char *expect))
{
	DIR *d = opendir(FIXTURES);
	struct dirent *e;
	int n = 0;

	if (!d) {
		CU_FAIL("fixtures directory missing");
		return 0;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char bin[512], exp[512];

		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		snprintf(bin, sizeof(bin), "%s/%s", FIXTURES, e->d_name);
		snprintf(exp, sizeof(exp), "%s/%.*s.expect", FIXTURES, (int)(l - 4), e->d_name);
		fn(bin, exp);
		n++;
	}
	closedir(d);
	return n;
}

static void fixture_matches(const char *bin, const char *exp)
{
	size_t len;
	uint8_t *buf = du_read_file(bin, &len);
	char *want = expect_lines(exp), *got;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	got = du_summary(buf, len);
	assert_text_eq(bin, got, want);
	free(got);
	free(want);
	free(buf);
}

static void fixture_split(const char *bin, const char *exp)
{
	size_t len;
	uint8_t *buf = du_read_file(bin, &len);

	(void)exp;
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	check_split_invariance(bin, buf, len);
	free(buf);
}

static void test_fixtures_match_dissector(void)
{
	CU_ASSERT(for_each_fixture(fixture_matches) >= 6);
}

static void test_fixtures_split_invariance(void)
{
	CU_ASSERT(for_each_fixture(fixture_split) >= 6);
}

/* ---- negative inputs ------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void first_error(void *arg, const struct kd_state *st, int ev)
{
	int *r = arg;

	if (ev == KD_EV_ERROR && *r == KD_OK)
		*r = st->reason;
}

/* The reason of the first error decoding buf reports, or KD_OK. */
static int reason_of(const uint8_t *buf, size_t len)
{
	struct kd_state st;
	int r = KD_OK;

	kd_init(&st);
	kd_feed(&st, buf, len, 1u << 30, first_error, &r);
	return r;
}

/* Builds a valid frame, then patches it; the frame's size field stays right. */
static size_t build(int key, int ver, int ntopics, uint8_t *out)
{
	struct kf_topic tp[3];
	struct kf_req r = { .api_key = key, .api_version = ver, .corr = 5, .client_id = "neg",
			    .topics = tp, .ntopics = ntopics, .group = "g" };

	memcpy(tp, topics3, sizeof(tp));
	tp[0].record_bytes = tp[1].record_bytes = tp[2].record_bytes = 8;
	return kf_build(&r, out, BUF_CAP);
}

static void test_negative_inputs(void)
{
	uint8_t *b = frame_buf;
	size_t n;

	/* A valid frame decodes cleanly. */
	n = build(KAFKA_PRODUCE, 3, 1, b);
	CU_ASSERT_EQUAL(reason_of(b, n), KD_OK);

	/* Truncated field: the frame size ends inside the acks/timeout fields. */
	n = build(KAFKA_PRODUCE, 3, 1, b);
	put32(b, 4 + 2 + 4 + 2 + 3 + 2 + 3); /* header + client "neg" + null txn id + 3 bytes */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_TRUNCATED);
	/* A frame too short for a request header. */
	put32(b, 6);
	CU_ASSERT_EQUAL(reason_of(b, 10), KD_ERR_TRUNCATED);

	/*
	 * Offsets in a Produce v3 frame from build(): size 4, header 8 + client "neg" 5,
	 * then the body: null txn id 2, acks 2, timeout 4, topic count (body +8), first
	 * name length (body +12).
	 */
#define P3_COUNT (4 + 13 + 8)
#define P3_NAME (4 + 13 + 12)
	/* Negative length: the first topic name length -2. */
	n = build(KAFKA_PRODUCE, 3, 1, b);
	b[P3_NAME] = 0xff, b[P3_NAME + 1] = 0xfe;
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_NEG_LEN);
	/* A null (-1) topic name where names are not nullable. */
	b[P3_NAME + 1] = 0xff;
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_NEG_LEN);
	/* Negative frame size. */
	put32(b, 0x80000001u);
	CU_ASSERT_EQUAL(reason_of(b, 8), KD_ERR_NEG_LEN);

	/* Oversized: a frame above KD_MAX_FRAME; a name longer than the frame or than 249. */
	put32(b, KD_MAX_FRAME + 1);
	CU_ASSERT_EQUAL(reason_of(b, 8), KD_ERR_LEN_OVER);
	n = build(KAFKA_PRODUCE, 3, 1, b);
	b[P3_NAME] = 0x00, b[P3_NAME + 1] = 0xfa; /* 250 > 249 */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_LEN_OVER);
	b[P3_NAME] = 0x00, b[P3_NAME + 1] = 0xf0; /* 240: fits the limit, not the frame */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_LEN_OVER);
	{
		char big[KD_TOPIC_MAX + 2];
		struct kf_topic t = { .name = big, .partitions = 1 };
		struct kf_req r = { .api_key = KAFKA_METADATA, .api_version = 4, .corr = 1,
				    .client_id = "neg", .topics = &t, .ntopics = 1 };

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		n = kf_build(&r, b, BUF_CAP);
		CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_LEN_OVER);
	}

	/* Too many array entries: Produce v3 topic count 0x10000000. */
	n = build(KAFKA_PRODUCE, 3, 1, b);
	put32(b + P3_COUNT, 0x10000000);
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_ARRAY_OVER);
	/* A negative array count that is not -1 (null). */
	put32(b + P3_COUNT, 0xfffffff0u);
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_NEG_LEN);

	/* uvarint over 5 bytes: Metadata v9 topic count 0x80 0x80 0x80 0x80 0x80. */
	n = build(KAFKA_METADATA, 9, 1, b);
	CU_ASSERT_EQUAL(reason_of(b, n), KD_OK);
	memset(b + 4 + 13 + 1, 0x80, 5); /* header v2: 8 + 2 + 3 + TF(1) */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_VARINT);

	/* Unknown api key, and a known key at an unknown version. */
	n = build(KAFKA_PRODUCE, 3, 1, b);
	b[4] = 0x03, b[5] = 0xe8; /* key 1000 */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_UNKNOWN_API);
	n = build(KAFKA_PRODUCE, 3, 1, b);
	b[7] = 14; /* Produce v14 */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_UNKNOWN_API);
	b[4] = 0xff, b[5] = 0xff, b[7] = 3; /* key -1 */
	CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_UNKNOWN_API);

	/* TLS ClientHello on a plaintext listener, alone and after a valid frame. */
	{
		static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };

		CU_ASSERT_EQUAL(reason_of(hello, sizeof(hello)), KD_ERR_TLS);
		n = build(KAFKA_PRODUCE, 3, 1, b);
		memcpy(b + n, hello, sizeof(hello));
		CU_ASSERT_EQUAL(reason_of(b, n + sizeof(hello)), KD_ERR_TLS);
	}

	/* Decoder bound: nesting is at most KD_MAX_DEPTH by the tables, so use the step
	 * budget: a chunk with more work than KD_MAX_STEPS_PER_CHUNK allows (a step runs
	 * up to KD_OPS_PER_STEP body ops: 20,000 partitions need more steps). */
	{
		struct kf_topic many[1] = { { .name = "t", .partitions = 20000 } };
		struct kf_req r = { .api_key = KAFKA_FETCH, .api_version = 4, .corr = 1,
				    .client_id = "neg", .topics = many, .ntopics = 1 };
		struct kd_state st;

		n = kf_build(&r, b, BUF_CAP);
		kd_init(&st);
		CU_ASSERT_EQUAL(kd_feed(&st, b, n, KD_MAX_STEPS_PER_CHUNK, NULL, NULL),
				KD_EV_ERROR);
		CU_ASSERT_EQUAL(st.reason, KD_ERR_BOUND);
		/* The same frame in MTU-sized chunks stays within the bound. */
		kd_init(&st);
		for (size_t off = 0; off < n; off += 1448)
			kd_feed(&st, b + off, n - off < 1448 ? n - off : 1448,
				KD_MAX_STEPS_PER_CHUNK, NULL, NULL);
		CU_ASSERT_EQUAL(st.phase, KD_PH_SIZE);
	}

	/*
	 * An undecodable frame is skipped and decoding resumes at the next frame; errors in
	 * framing itself (TLS, a bad size) end decoding for good.
	 */
	{
		struct kd_state st;
		char *got;

		n = build(KAFKA_PRODUCE, 3, 1, b);
		b[7] = 14; /* Produce v14 */
		n += build(KAFKA_PRODUCE, 3, 1, b + n);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "error unknown_api (frame skipped)\nframe key=0 ver=3"));
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "topic name=orders.eu\nend\n"));
		free(got);
		check_split_invariance("resync after an undecodable frame", b, n);
		/* a field error deep inside a body resyncs too */
		n = build(KAFKA_PRODUCE, 3, 1, b);
		b[P3_NAME] = 0x00, b[P3_NAME + 1] = 0xfa;
		n += build(KAFKA_METADATA, 4, 2, b + n);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "error oversized_length (frame skipped)\nframe key=3"));
		free(got);
		/* an error inside a tagged-field section resyncs too (found by the fuzzer) */
		{
			size_t len;
			uint8_t *fx = du_read_file("../tests/fuzz/seeds/resync-in-tagged-fields.bin", &len);

			CU_ASSERT_PTR_NOT_NULL_FATAL(fx);
			got = du_render_chunked(fx, len, 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(got, "error truncated_field (frame skipped)\nframe key=18 ver=0"));
			CU_ASSERT_PTR_NULL(strstr(got, "decoder_bound"));
			free(got);
			free(fx);
		}
		/* fatal: nothing after TLS bytes is decoded */
		kd_init(&st);
		CU_ASSERT_EQUAL(kd_feed(&st, (const uint8_t *)"\x16\x03\x01\x00\x10", 5, 100, NULL, NULL),
				KD_EV_ERROR);
		CU_ASSERT_EQUAL(st.phase, KD_PH_DEAD);
		n = build(KAFKA_PRODUCE, 3, 1, b);
		CU_ASSERT_EQUAL(kd_feed(&st, b, n, 100, NULL, NULL), KD_EV_ERROR);
		CU_ASSERT_EQUAL(st.reason, KD_ERR_TLS);
	}

	/* A client.id longer than what is kept is reported as cut, never as its prefix. */
	{
		char cid[101];
		struct kf_req r = { .api_key = KAFKA_METADATA, .api_version = 1, .corr = 1,
				    .client_id = cid, .ntopics = -1 };
		char *got;

		memset(cid, 'c', 100);
		cid[100] = 0;
		n = kf_build(&r, b, BUF_CAP);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "cccc...\n"));
		free(got);
	}

	/* A null array of primitives (partition_indexes) is not valid: OffsetFetch v1. */
	{
		struct kf_topic t = { .name = "t", .partitions = 1 };
		struct kf_req r = { .api_key = KAFKA_OFFSET_FETCH, .api_version = 1, .corr = 1,
				    .client_id = "neg", .topics = &t, .ntopics = 1, .group = "g" };

		n = kf_build(&r, b, BUF_CAP);
		CU_ASSERT_EQUAL(reason_of(b, n), KD_OK);
		put32(b + 4 + 13 + 3 + 4 + 3, 0xffffffffu); /* group "g", count, name "t" */
		CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_NEG_LEN);
	}

	/*
	 * Fetch v17+: a known tagged field (replica_directory_id, a uuid) declared with a
	 * size other than 16. The broker reads 16 bytes whatever the size says, so the
	 * decoder must not skip by the size.
	 */
	{
		struct kf_topic t = { .name = "t", .partitions = 1 };
		struct kf_req r = { .api_key = KAFKA_FETCH, .api_version = 17, .corr = 1,
				    .client_id = "neg", .topics = &t, .ntopics = 1,
				    .known_tags = 1 };
		size_t i;

		n = kf_build(&r, b, BUF_CAP);
		CU_ASSERT_EQUAL(reason_of(b, n), KD_OK);
		for (i = 0; i + 3 < n; i++) /* the partition's tagged fields: 1 field, tag 0, size 16 */
			if (b[i] == 1 && b[i + 1] == 0 && b[i + 2] == 16)
				break;
		CU_ASSERT_FATAL(i + 3 < n);
		b[i + 2] = 0;
		CU_ASSERT_EQUAL(reason_of(b, n), KD_ERR_LEN_OVER);
	}
}

/* ---- SASL ------------------------------------------------------------------ */

static size_t handshake(int ver, const char *mech, uint8_t *out)
{
	struct kf_req r = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = ver, .corr = 1,
			    .client_id = "sasl", .mechanism = mech };

	return kf_build(&r, out, BUF_CAP);
}

static size_t authenticate(int ver, const uint8_t *tok, size_t tlen, uint8_t *out)
{
	struct kf_req r = { .api_key = KAFKA_SASL_AUTHENTICATE, .api_version = ver, .corr = 2,
			    .client_id = "sasl", .auth = tok, .auth_len = tlen };

	return kf_build(&r, out, BUF_CAP);
}

/* The decoder's state must never hold the password, at any point of the stream. */
static void assert_no_secret(const uint8_t *buf, size_t len, const char *secret)
{
	struct kd_state st;

	kd_init(&st);
	for (size_t i = 0; i < len; i++) {
		kd_feed(&st, buf + i, 1, 1000, NULL, NULL);
		if (memmem(&st, sizeof(st), secret, strlen(secret))) {
			CU_FAIL("password found in decoder state");
			return;
		}
	}
	CU_PASS("password never held");
}

static void test_sasl_users(void)
{
	uint8_t tok[512];
	uint8_t *b = frame_buf;
	size_t n, t;
	char *got;

	/* Handshake v1 + SaslAuthenticate v0..v2, PLAIN with empty authzid (librdkafka). */
	for (int v = 0; v <= 2; v++) {
		t = kf_sasl_plain("", "alice", "S3cretPW!", tok, sizeof(tok));
		n = handshake(1, "PLAIN", b);
		n += authenticate(v, tok, t, b + n);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "mechanism PLAIN\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "user alice\n"));
		CU_ASSERT_PTR_NULL(strstr(got, "S3cretPW"));
		free(got);
		assert_no_secret(b, n, "S3cretPW!");
	}

	/* kafka-python: authzid = user; handshake v0 + one raw token frame. */
	t = kf_sasl_plain("bob", "bob", "hunter2hunter2", tok, sizeof(tok));
	n = handshake(0, "PLAIN", b);
	n += kf_raw_frame(tok, t, b + n, BUF_CAP - n);
	n += build(KAFKA_METADATA, 1, 1, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "user bob\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "frame key=32767 ver=0 corr=-1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "frame key=3 ver=1"));
	free(got);
	assert_no_secret(b, n, "hunter2hunter2");

	/* SCRAM via raw v0 tokens: client-first then client-final; escaped user name. */
	t = kf_sasl_scram_first("a,b=c", "nonce123", tok, sizeof(tok));
	n = handshake(0, "SCRAM-SHA-512", b);
	n += kf_raw_frame(tok, t, b + n, BUF_CAP - n);
	n += kf_raw_frame((const uint8_t *)"c=biws,r=nonce123srv,p=PROOF", 28, b + n, BUF_CAP - n);
	n += build(KAFKA_PRODUCE, 7, 1, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "user a\\x2cb=c\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "frame key=0 ver=7"));
	CU_ASSERT_PTR_NULL(strstr(got, "error"));
	free(got);
	check_split_invariance("scram raw tokens", b, n);

	/* SCRAM via SaslAuthenticate v2, with an m= extension before n=. */
	{
		static const char first[] = "n,,m=ext,n=carol,r=abc";

		n = handshake(1, "SCRAM-SHA-256", b);
		n += authenticate(2, (const uint8_t *)first, sizeof(first) - 1, b + n);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, "user carol\n"));
		free(got);
	}

	/* Malformed tokens report no user: PLAIN without a second NUL, SCRAM without n=. */
	n = handshake(1, "PLAIN", b);
	n += authenticate(1, (const uint8_t *)"\0dave", 5, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NULL(strstr(got, "user"));
	free(got);
	n = handshake(1, "SCRAM-SHA-256", b);
	n += authenticate(1, (const uint8_t *)"n,,r=xyz,n=eve", 14, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NULL(strstr(got, "user"));
	free(got);

	/* A user name above KD_USER_MAX is reported cut, and flagged. */
	{
		char user[100];

		memset(user, 'u', sizeof(user) - 1);
		user[sizeof(user) - 1] = 0;
		t = kf_sasl_plain("", user, "pw", tok, sizeof(tok));
		n = handshake(1, "PLAIN", b);
		n += authenticate(0, tok, t, b + n);
		got = du_render_chunked(b, n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(got, " (truncated)\n"));
		free(got);
	}

	/*
	 * GSSAPI over handshake v0: any number of raw tokens (ASN.1, never a request
	 * header), then requests again.
	 */
	n = handshake(0, "GSSAPI", b);
	n += kf_raw_frame((const uint8_t *)"\x60\x82\x01\x00\x06", 5, b + n, BUF_CAP - n);
	n += kf_raw_frame((const uint8_t *)"\x60\x10", 2, b + n, BUF_CAP - n);
	n += kf_raw_frame((const uint8_t *)"\x05", 1, b + n, BUF_CAP - n);
	n += build(KAFKA_METADATA, 1, 1, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "frame key=3 ver=1"));
	CU_ASSERT_PTR_NULL(strstr(got, "error"));
	free(got);
	check_split_invariance("gssapi raw tokens", b, n);

	/*
	 * A SaslHandshake v0 that the broker refuses (a PLAINTEXT listener answers
	 * ILLEGAL_SASL_STATE and goes on): the next frames are requests, and are decoded as
	 * such, not hidden as "tokens".
	 */
	n = handshake(0, "SCRAM-SHA-256", b);
	n += build(KAFKA_PRODUCE, 3, 2, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "frame key=0 ver=3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "topic name=orders.eu\ntopic name=payments-us_v2\n"));
	free(got);

	/* PLAIN with one NUL ("user\0password", invalid): no user, and nothing kept. */
	n = handshake(1, "PLAIN", b);
	n += authenticate(0, (const uint8_t *)"frank\0Pa55word-X", 16, b + n);
	got = du_render_chunked(b, n, 0);
	CU_ASSERT_PTR_NULL(strstr(got, "user"));
	free(got);
	{
		struct kd_state st;

		du_decode(b, n, &st);
		CU_ASSERT_PTR_NULL(memmem(&st, sizeof(st), "Pa55word", 8));
	}

	/* SCRAM with tokenauth=true: the name is a delegation token id, and says so. */
	{
		static const char *const toks[] = { "n,,n=tok123,r=abc,tokenauth=true",
						    "n,,n=tok123,r=abc,tokenauth=TRUE,x=y",
						    "n,,n=tok123,r=abc,tokenauth=truex",
						    "n,,n=tok123,r=abc,tokenauth=false" };
		static const int is_token[] = { 1, 1, 0, 0 };

		for (int i = 0; i < 4; i++) {
			n = handshake(1, "SCRAM-SHA-512", b);
			n += authenticate(1, (const uint8_t *)toks[i], strlen(toks[i]), b + n);
			got = du_render_chunked(b, n, 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(got, "user tok123"));
			CU_ASSERT_EQUAL(strstr(got, "(delegation token)") != NULL, is_token[i]);
			free(got);
		}
	}
}

/* ---- table sanity ---------------------------------------------------------- */

static void test_layout_tables_balanced(void)
{
	for (unsigned int k = 0; k < KD_API_COUNT; k++) {
		const struct kd_api *a = &kd_apis[k];
		int depth = 0, ok = 1;

		CU_ASSERT_TRUE(a->known);
		for (unsigned int i = 0; i < a->prog_len; i++) {
			const struct kd_op *op = &kd_prog[a->prog + i];

			if (op->code == KD_OP_ARR)
				depth++;
			if (op->code == KD_OP_END)
				depth--;
			if (depth < 0 || depth > KD_MAX_DEPTH)
				ok = 0;
		}
		if (!ok || depth)
			fprintf(stderr, "\napi %u: unbalanced program\n", k);
		CU_ASSERT_TRUE(ok && depth == 0);
	}
}

int register_decode_tests(void)
{
	CU_pSuite s = CU_add_suite("decoder", NULL, NULL);

	frame_buf = malloc(BUF_CAP);
	init_topics();
	if (!s || !frame_buf)
		return -1;
	if (!CU_add_test(s, "layout tables are balanced", test_layout_tables_balanced) ||
	    !CU_add_test(s, "real client captures match the dissector", test_fixtures_match_dissector) ||
	    !CU_add_test(s, "every covered version decodes exactly", test_synthesized_every_version) ||
	    !CU_add_test(s, "captures: identical at every split and bytewise",
			 test_fixtures_split_invariance) ||
	    !CU_add_test(s, "synthesized: identical at every split", test_split_synthesized) ||
	    !CU_add_test(s, "undecodable inputs end with their reason", test_negative_inputs) ||
	    !CU_add_test(s, "SASL users, never passwords", test_sasl_users))
		return -1;
	return 0;
}
