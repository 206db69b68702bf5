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
#include "tests/lib/decode_util.h"
#include "tests/lib/kframe.h"

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
		    r->resource_type != KAFKA_RESOURCE_TOPIC) {
			/* a broker, a logger...: reported as a resource that is not a topic */
			kg_buf_printf(b, "resource type=%d\n", r->resource_type);
			continue;
		}
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
	/* Metadata v0: an empty list asks for every topic (null does from v1) */
	if (r->api_key == KAFKA_METADATA && r->api_version == 0 && !r->ntopics)
		kg_buf_printf(&b, "topics all\n");
	if (r->api_key == KAFKA_FETCH && r->api_version >= 7)
		kg_buf_printf(&b, "session id=0 epoch=-1\n"); /* kframe's: a full fetch, no session */
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

/* What the decoder covers: every version of each (the README's table of keys). */
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

/* ---- keys Kafka 4.x defines, by hand-written frames ------------------------- */

/* A frame writer for the cases below: classic or flexible encodings. */
struct fw {
	uint8_t *p;
	size_t n;
	bool flex;
};

static void fw_raw(struct fw *w, const void *b, size_t n)
{
	memcpy(w->p + w->n, b, n);
	w->n += n;
}

static void fw_zero(struct fw *w, size_t n)
{
	memset(w->p + w->n, 0, n);
	w->n += n;
}

/* bytes (1..8) of v, big-endian */
static void fw_be(struct fw *w, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		w->p[w->n++] = (uint8_t)(v >> (8 * i));
}

static void fw_uv(struct fw *w, uint32_t v)
{
	while (v >= 0x80) {
		w->p[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->p[w->n++] = (uint8_t)v;
}

/* A length or count (-1: null): uvarint n+1 when flexible, else i16 or i32. */
static void fw_len(struct fw *w, int32_t n, int width)
{
	if (w->flex)
		fw_uv(w, (uint32_t)(n + 1));
	else
		fw_be(w, (uint32_t)n, width);
}

static void fw_str(struct fw *w, const char *s)
{
	fw_len(w, s ? (int32_t)strlen(s) : -1, 2);
	if (s)
		fw_raw(w, s, strlen(s));
}

static void fw_tf(struct fw *w)
{
	if (w->flex)
		fw_uv(w, 0); /* no tagged fields */
}

static void fw_uuid(struct fw *w, uint8_t fill)
{
	for (int i = 0; i < 16; i++)
		w->p[w->n++] = (uint8_t)(fill + i);
}

/* Size placeholder, request header v1/v2 (client id "t"). */
static void fw_req(struct fw *w, int key, int ver, bool flex)
{
	w->n = 0;
	w->flex = false;
	fw_be(w, 0, 4);
	fw_be(w, key, 2);
	fw_be(w, ver, 2);
	fw_be(w, 7, 4);
	fw_str(w, "t");
	w->flex = flex;
	fw_tf(w);
}

/* Size placeholder, response header (correlation id 7; tagged fields when flexible). */
static void fw_resp(struct fw *w, bool flex)
{
	w->n = 0;
	w->flex = flex;
	fw_be(w, 0, 4);
	fw_be(w, 7, 4);
	fw_tf(w);
}

static size_t fw_done(struct fw *w)
{
	uint32_t size = (uint32_t)(w->n - 4);

	w->p[0] = size >> 24, w->p[1] = size >> 16, w->p[2] = size >> 8, w->p[3] = size;
	return w->n;
}

/*
 * Decodes a request frame, whole and byte by byte, and compares every event line with
 * want_fmt, whose %zu is the frame's size.
 */
static void expect_req(const char *what, const uint8_t *b, size_t n, const char *want_fmt)
{
	char *got = du_render_chunked(b, n, 0), *eof = strstr(got, "eof phase="), want[1024];

	snprintf(want, sizeof(want), want_fmt, n - 4);
	if (eof)
		*eof = 0;
	assert_text_eq(what, got, want);
	free(got);
	/* and byte by byte: the same report */
	got = du_render_chunked(b, n, 1);
	eof = strstr(got, "eof phase=");
	if (eof)
		*eof = 0;
	assert_text_eq(what, got, want);
	free(got);
}

/* Decodes a response to (key, ver) and compares every event line with want_fmt (%zu: size). */
static void expect_resp(const char *what, int key, int ver, const uint8_t *b, size_t n,
			const char *want_fmt)
{
	char want[1024];
	struct kg_buf out = { 0 };
	struct kd_state st;
	struct kd_src s = { .off = 0, .end = (__u32)n };
	int ev;

	kd_init(&st);
	st.resp = 1;
	for (int i = 0; i < 10000; i++) {
		ev = kd_step(b, &st, &s);
		if (ev == KD_EV_NEED_MORE)
			break;
		if (ev == KD_EV_CONTINUE)
			continue;
		kdr_event_text(&out, &st, ev);
		if (ev == KD_EV_RESP)
			kd_resp_begin(&st, key, ver);
		if (ev == KD_EV_ERROR && st.phase == KD_PH_DEAD)
			break;
	}
	kg_buf_printf(&out, "%s", "");
	snprintf(want, sizeof(want), want_fmt, n - 4);
	assert_text_eq(what, out.p, want);
	kg_buf_free(&out);
}

static void test_describe_topic_partitions(void)
{
	struct fw w = { .p = frame_buf };
	size_t n, cut;

	/* two topics, a cursor at the first */
	fw_req(&w, 75, 0, true);
	fw_len(&w, 2, 4);
	fw_str(&w, "orders.eu"), fw_tf(&w);
	fw_str(&w, "pay"), fw_tf(&w);
	fw_be(&w, 2000, 4);
	fw_be(&w, 1, 1); /* the cursor is present */
	fw_str(&w, "orders.eu"), fw_be(&w, 3, 4), fw_tf(&w);
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("DescribeTopicPartitions, cursor", w.p, n,
		   "frame key=75 ver=0 corr=7 size=%zu client=t\ntopic name=orders.eu\n"
		   "topic name=pay\ncursor name=orders.eu\nend\n");
	/* the cursor cut inside its partition index: the frame is skipped */
	cut = n - 3;
	w.n = cut;
	fw_done(&w);
	expect_req("DescribeTopicPartitions, truncated cursor", w.p, cut,
		   "frame key=75 ver=0 corr=7 size=%zu client=t\ntopic name=orders.eu\n"
		   "topic name=pay\ncursor name=orders.eu\nerror truncated_field (frame skipped)\n");

	/* no topics: every topic; a null cursor (any negative marker) */
	fw_req(&w, 75, 0, true);
	fw_len(&w, 0, 4);
	fw_be(&w, 2000, 4);
	fw_be(&w, 0x80, 1);
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("DescribeTopicPartitions, all topics", w.p, n,
		   "frame key=75 ver=0 corr=7 size=%zu client=t\ntopics all\nend\n");

	/* a null topic list is not allowed */
	fw_req(&w, 75, 0, true);
	fw_len(&w, -1, 4);
	fw_be(&w, 2000, 4), fw_be(&w, 0xff, 1), fw_tf(&w);
	n = fw_done(&w);
	expect_req("DescribeTopicPartitions, null topics", w.p, n,
		   "frame key=75 ver=0 corr=7 size=%zu client=t\n"
		   "error negative_length (frame skipped)\n");
	/* nor a null cursor name */
	fw_req(&w, 75, 0, true);
	fw_len(&w, 0, 4);
	fw_be(&w, 2000, 4), fw_be(&w, 1, 1), fw_str(&w, NULL), fw_be(&w, 0, 4), fw_tf(&w), fw_tf(&w);
	n = fw_done(&w);
	expect_req("DescribeTopicPartitions, null cursor name", w.p, n,
		   "frame key=75 ver=0 corr=7 size=%zu client=t\ntopics all\n"
		   "error negative_length (frame skipped)\n");

	/* the answer: an entry per topic (where it begins and ends), the next cursor */
	fw_resp(&w, true);
	fw_be(&w, 0, 4);
	fw_len(&w, 1, 4);
	fw_be(&w, 0, 2), fw_str(&w, "pay"), fw_uuid(&w, 0x10), fw_be(&w, 0, 1);
	fw_len(&w, 1, 4);
	fw_be(&w, 3, 2), fw_zero(&w, 12);
	fw_len(&w, 0, 4), fw_len(&w, 0, 4), fw_len(&w, -1, 4), fw_len(&w, -1, 4), fw_len(&w, 0, 4);
	fw_tf(&w);
	fw_be(&w, 0, 4), fw_tf(&w);
	fw_be(&w, 1, 1), fw_str(&w, "zeta"), fw_be(&w, 0, 4), fw_tf(&w);
	fw_tf(&w);
	n = fw_done(&w);
	expect_resp("DescribeTopicPartitions response", 75, 0, w.p, n,
		    "response corr=7 size=%zu\ntopic_error_code 0\n"
		    "topic name=pay id=101112131415161718191a1b1c1d1e1f\nerror_code 3\n"
		    "entry begin=14 end=63\ncursor name=zeta\nend\n");
}

/* ACL bindings and filters by what they cover (Kafka's ResourcePatternFilter). */
static void fw_acl(struct fw *w, int rtype, const char *name, int ptype, bool filter)
{
	fw_be(w, rtype, 1);
	fw_str(w, name);
	fw_be(w, ptype, 1);
	fw_str(w, filter ? NULL : "User:a"); /* principal */
	fw_str(w, filter ? NULL : "*");      /* host */
	fw_be(w, 0x0203, 2);                 /* operation, permission */
	fw_tf(w);
}

static void test_acls(void)
{
	struct fw w = { .p = frame_buf };
	size_t n;

	fw_req(&w, 30, 3, true); /* CreateAcls */
	fw_len(&w, 5, 4);
	fw_acl(&w, 2, "sec", 4, false);   /* TOPIC, PREFIXED */
	fw_acl(&w, 2, "pay", 3, false);   /* TOPIC, LITERAL: exactly that topic */
	fw_acl(&w, 2, "*", 3, false);     /* the wildcard: every topic */
	fw_acl(&w, 3, "grp", 3, false);   /* GROUP: a resource, no topic */
	fw_acl(&w, 2, "odd", 9, false);   /* no such pattern type: every topic */
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("CreateAcls", w.p, n,
		   "frame key=30 ver=3 corr=7 size=%zu client=t\ntopics prefix=sec\n"
		   "topic name=pay\ntopics all\nresource type=3\ntopics all\nend\n");

	fw_req(&w, 31, 3, true); /* DeleteAcls filters */
	fw_len(&w, 4, 4);
	fw_acl(&w, 1, NULL, 1, true);     /* ANY type (every resource), any name, ANY pattern */
	fw_acl(&w, 2, "x", 2, true);      /* MATCH: the ACLs that apply to x */
	fw_acl(&w, 1, "ord", 1, true);    /* ANY pattern: literal or prefixed "ord" */
	fw_acl(&w, 4, NULL, 1, true);     /* CLUSTER: a resource, no topic */
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("DeleteAcls", w.p, n,
		   "frame key=31 ver=3 corr=7 size=%zu client=t\nresource type=1\ntopics all\n"
		   "topics match=x\nresource type=1\ntopics prefix=ord\nresource type=4\nend\n");

	/* DescribeAcls v0 (classic, no pattern type: literal) */
	fw_req(&w, 29, 0, false);
	fw_be(&w, 2, 1), fw_str(&w, "orders"), fw_str(&w, NULL), fw_str(&w, NULL), fw_be(&w, 0, 2);
	n = fw_done(&w);
	expect_req("DescribeAcls v0", w.p, n,
		   "frame key=29 ver=0 corr=7 size=%zu client=t\ntopic name=orders\nend\n");

	/* CreateAcls v1: a null resource name is not allowed */
	fw_req(&w, 30, 1, false);
	fw_len(&w, 1, 4);
	fw_be(&w, 2, 1), fw_str(&w, NULL), fw_be(&w, 3, 1), fw_str(&w, "User:a"), fw_str(&w, "*");
	fw_be(&w, 0x0203, 2);
	n = fw_done(&w);
	expect_req("CreateAcls, null name", w.p, n,
		   "frame key=30 ver=1 corr=7 size=%zu client=t\n"
		   "error negative_length (frame skipped)\n");
}

static void test_group_heartbeats(void)
{
	struct fw w = { .p = frame_buf };
	size_t n;

	/* ConsumerGroupHeartbeat v1: names, a regex; owned partitions are not reported */
	fw_req(&w, 68, 1, true);
	fw_str(&w, "g1"), fw_str(&w, "m"), fw_be(&w, 0, 4), fw_str(&w, NULL), fw_str(&w, NULL);
	fw_be(&w, 30000, 4);
	fw_len(&w, 2, 4), fw_str(&w, "orders"), fw_str(&w, "eu.pay");
	fw_str(&w, "eu\\..*");
	fw_str(&w, "uniform");
	fw_len(&w, 1, 4), fw_uuid(&w, 0x40), fw_len(&w, 1, 4), fw_be(&w, 0, 4), fw_tf(&w);
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("ConsumerGroupHeartbeat", w.p, n,
		   "frame key=68 ver=1 corr=7 size=%zu client=t\ngroup g1\ntopic name=orders\n"
		   "topic name=eu.pay\ntopics regex=eu\\x5c..*\nend\n");
	/* unchanged names (null), an empty regex (matches no topic name) */
	fw_req(&w, 68, 1, true);
	fw_str(&w, "g1"), fw_str(&w, "m"), fw_be(&w, 5, 4), fw_str(&w, NULL), fw_str(&w, NULL);
	fw_be(&w, 0, 4), fw_len(&w, -1, 4), fw_str(&w, ""), fw_str(&w, NULL), fw_len(&w, -1, 4);
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("ConsumerGroupHeartbeat, unchanged", w.p, n,
		   "frame key=68 ver=1 corr=7 size=%zu client=t\ngroup g1\nend\n");
	/* v0 has no regex: a null group id is not allowed */
	fw_req(&w, 68, 0, true);
	fw_str(&w, NULL);
	n = fw_done(&w);
	expect_req("ConsumerGroupHeartbeat, null group", w.p, n,
		   "frame key=68 ver=0 corr=7 size=%zu client=t\n"
		   "error negative_length (frame skipped)\n");

	/* ShareGroupHeartbeat v1 */
	fw_req(&w, 76, 1, true);
	fw_str(&w, "sg"), fw_str(&w, "m"), fw_be(&w, 0, 4), fw_str(&w, NULL);
	fw_len(&w, 1, 4), fw_str(&w, "jobs");
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("ShareGroupHeartbeat", w.p, n,
		   "frame key=76 ver=1 corr=7 size=%zu client=t\ngroup sg\ntopic name=jobs\nend\n");
}

static void test_share_fetch_and_log_dirs(void)
{
	struct fw w = { .p = frame_buf };
	size_t n;

	/*
	 * ShareFetch v1: a null group id, the share session (member id, epoch), topics by id;
	 * forgotten topics are not reported
	 */
	fw_req(&w, 78, 1, true);
	fw_str(&w, NULL), fw_str(&w, "m");
	fw_zero(&w, 24); /* epoch, max_wait, min_bytes, max_bytes, max_records, batch_size */
	fw_len(&w, 1, 4), fw_uuid(&w, 0x20);
	fw_len(&w, 1, 4), fw_be(&w, 0, 4);
	fw_len(&w, 1, 4), fw_zero(&w, 16), fw_len(&w, 1, 4), fw_be(&w, 1, 1), fw_tf(&w); /* ack */
	fw_tf(&w), fw_tf(&w);
	fw_len(&w, 1, 4), fw_uuid(&w, 0x30), fw_len(&w, 0, 4), fw_tf(&w);
	fw_tf(&w);
	n = fw_done(&w);
	expect_req("ShareFetch", w.p, n,
		   "frame key=78 ver=1 corr=7 size=%zu client=t\nsession member=m epoch=0\n"
		   "topic id=202122232425262728292a2b2c2d2e2f\nend\n");
	/* an incremental one (epoch 3) of group g, a null member id, no topic */
	fw_req(&w, 78, 1, true);
	fw_str(&w, "g"), fw_str(&w, NULL), fw_be(&w, 3, 4);
	fw_zero(&w, 20); /* max_wait, min_bytes, max_bytes, max_records, batch_size */
	fw_len(&w, 0, 4), fw_len(&w, 0, 4), fw_tf(&w);
	n = fw_done(&w);
	expect_req("ShareFetch, incremental", w.p, n,
		   "frame key=78 ver=1 corr=7 size=%zu client=t\ngroup g\n"
		   "session member=null epoch=3\nend\n");
	/* ShareAcknowledge v2: a negative partition count */
	fw_req(&w, 79, 2, true);
	fw_str(&w, "g"), fw_str(&w, "m"), fw_be(&w, 1, 4), fw_be(&w, 0, 1);
	fw_len(&w, 1, 4), fw_uuid(&w, 0x50), fw_len(&w, -1, 4);
	n = fw_done(&w);
	expect_req("ShareAcknowledge, null partitions", w.p, n,
		   "frame key=79 ver=2 corr=7 size=%zu client=t\ngroup g\n"
		   "topic id=505152535455565758595a5b5c5d5e5f\n"
		   "error negative_length (frame skipped)\n");

	/* DescribeLogDirs v4: null topics ask for every topic; named ones are reported */
	fw_req(&w, 35, 4, true);
	fw_len(&w, -1, 4), fw_tf(&w);
	n = fw_done(&w);
	expect_req("DescribeLogDirs, all", w.p, n,
		   "frame key=35 ver=4 corr=7 size=%zu client=t\ntopics all\nend\n");
	fw_req(&w, 35, 1, false);
	fw_len(&w, 1, 4), fw_str(&w, "logs"), fw_len(&w, 2, 4), fw_zero(&w, 8);
	n = fw_done(&w);
	expect_req("DescribeLogDirs v1", w.p, n,
		   "frame key=35 ver=1 corr=7 size=%zu client=t\ntopic name=logs\nend\n");
	/* Metadata v1: null is every topic */
	fw_req(&w, 3, 1, false);
	fw_len(&w, -1, 4);
	n = fw_done(&w);
	expect_req("Metadata v1, all", w.p, n,
		   "frame key=3 ver=1 corr=7 size=%zu client=t\ntopics all\nend\n");
}

static void test_streams_heartbeat(void)
{
	struct fw w = { .p = frame_buf };
	size_t n;

	fw_req(&w, 88, 0, true);
	fw_str(&w, "app"), fw_str(&w, "m"), fw_zero(&w, 8), fw_str(&w, NULL), fw_str(&w, NULL);
	fw_be(&w, 0, 4);
	fw_be(&w, 1, 1), fw_be(&w, 1, 4);     /* topology: present, epoch */
	fw_len(&w, 1, 4), fw_str(&w, "0");    /* one subtopology */
	fw_len(&w, 1, 4), fw_str(&w, "in");   /* source topics */
	fw_len(&w, 1, 4), fw_str(&w, "in-.*");  /* source regexes */
	fw_len(&w, 1, 4), fw_str(&w, "app-store-changelog"), fw_be(&w, 0, 6), fw_len(&w, 0, 4);
	fw_tf(&w);
	fw_len(&w, 0, 4), fw_len(&w, 0, 4), fw_len(&w, 0, 4); /* sinks, repartition, copart. */
	fw_tf(&w), fw_tf(&w);
	for (int i = 0; i < 3; i++)
		fw_len(&w, -1, 4); /* tasks: unchanged */
	fw_str(&w, NULL), fw_be(&w, 0xff, 1); /* process id, user endpoint: null */
	for (int i = 0; i < 3; i++)
		fw_len(&w, -1, 4); /* client tags, task offsets, task end offsets */
	fw_be(&w, 0, 1), fw_tf(&w);
	n = fw_done(&w);
	expect_req("StreamsGroupHeartbeat", w.p, n,
		   "frame key=88 ver=0 corr=7 size=%zu client=t\ngroup app\ntopic name=in\n"
		   "topics regex=in-.*\ntopic name=app-store-changelog\nend\n");
}

/* ---- table sanity ---------------------------------------------------------- */

static void test_layout_tables_balanced(void)
{
	for (unsigned int k = 0; k < KD_API_COUNT; k++) {
		const struct kd_api *a = &kd_apis[k];
		int depth = 0, ok = 1;

		CU_ASSERT_TRUE(a->known);
		/* the request's program, then the response's */
		for (int r = 0; r < 2; r++) {
			unsigned int start = r ? a->rprog : a->prog, len = r ? a->rprog_len : a->prog_len;

			depth = 0;
			for (unsigned int i = 0; i < len; i++) {
				const struct kd_op *op = &kd_prog[start + i];

				if (kd_opens(op->code))
					depth++;
				if (op->code == KD_OP_END)
					depth--;
				if (depth < 0 || depth > KD_MAX_DEPTH)
					ok = 0;
			}
			if (!ok || depth)
				fprintf(stderr, "\napi %u: unbalanced %s program\n", k,
					r ? "response" : "request");
			CU_ASSERT_TRUE(ok && depth == 0);
		}
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
	    !CU_add_test(s, "SASL users, never passwords", test_sasl_users) ||
	    !CU_add_test(s, "DescribeTopicPartitions: topics, all topics, the nullable cursor",
			 test_describe_topic_partitions) ||
	    !CU_add_test(s, "ACL bindings and filters by the topics they cover", test_acls) ||
	    !CU_add_test(s, "group heartbeats: subscribed names, regexes", test_group_heartbeats) ||
	    !CU_add_test(s, "ShareFetch by id, DescribeLogDirs and Metadata for every topic",
			 test_share_fetch_and_log_dirs) ||
	    !CU_add_test(s, "StreamsGroupHeartbeat: the topology's topics", test_streams_heartbeat))
		return -1;
	return 0;
}
