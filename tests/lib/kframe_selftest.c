// SPDX-License-Identifier: Apache-2.0
/*
 * Self-test for the kframe builder: exact byte sequences derived by hand from the
 * Kafka request layouts, plus structural checks over every supported (key, version).
 *
 * cc -std=c11 -Wall -Wextra -fsanitize=address,undefined -g -o /tmp/kfs \
 *	tests/lib/kframe_selftest.c tests/lib/kframe.c && /tmp/kfs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kframe.h"

static int failures;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			failures++;					\
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
		}							\
	} while (0)

static void hexdump(const char *tag, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "%s (%zu):", tag, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p[i]);
	fputc('\n', stderr);
}

static void expect(const char *name, const uint8_t *got, size_t n, const uint8_t *want,
		   size_t wn)
{
	if (n == wn && !memcmp(got, want, n))
		return;
	failures++;
	fprintf(stderr, "FAIL %s: bytes differ\n", name);
	hexdump("got", got, n);
	hexdump("want", want, wn);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t buf[1 << 20], buf2[1 << 20];

static const struct kf_topic one_t = { .name = "t", .partitions = 1 };

/* Produce v3, client "c", corr 1, null txn, topic "t", 1 partition, 0 record bytes. */
static const uint8_t produce_v3[] = {
	0x00, 0x00, 0x00, 0x26,				/* size 38 */
	0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,	/* key 0, v3, corr 1 */
	0x00, 0x01, 'c',				/* client_id NS */
	0xff, 0xff,					/* transactional_id null */
	0xff, 0xff,					/* acks -1 */
	0x00, 0x00, 0x75, 0x30,				/* timeout_ms 30000 */
	0x00, 0x00, 0x00, 0x01,				/* topic_data [1] */
	0x00, 0x01, 't',				/* name */
	0x00, 0x00, 0x00, 0x01,				/* partition_data [1] */
	0x00, 0x00, 0x00, 0x00,				/* index 0 */
	0x00, 0x00, 0x00, 0x00,				/* records len 0 */
};

/* Metadata v9 (first flexible), client "c", corr 2, topic "t". */
static const uint8_t metadata_v9[] = {
	0x00, 0x00, 0x00, 0x14,				/* size 20 */
	0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x02,	/* key 3, v9, corr 2 */
	0x00, 0x01, 'c',				/* client_id: still NS */
	0x00,						/* header TF */
	0x02,						/* topics CA [1] */
	0x02, 't',					/* name CS */
	0x00,						/* topic TF */
	0x01,						/* allow_auto_topic_creat. */
	0x00,						/* incl. cluster auth ops */
	0x00,						/* incl. topic auth ops */
	0x00,						/* top-level TF */
};

/* Fetch v12 (first flexible, still names), client "c", corr 3, topic "t", 1 partition. */
static const uint8_t fetch_v12[] = {
	0x00, 0x00, 0x00, 0x5d,				/* size 93 */
	0x00, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x03,	/* key 1, v12, corr 3 */
	0x00, 0x01, 'c', 0x00,				/* client_id, header TF */
	0xff, 0xff, 0xff, 0xff,				/* replica_id -1 */
	0x00, 0x00, 0x01, 0xf4,				/* max_wait_ms 500 */
	0x00, 0x00, 0x00, 0x01,				/* min_bytes 1 */
	0x03, 0x20, 0x00, 0x00,				/* max_bytes 50 MiB */
	0x00,						/* isolation_level */
	0x00, 0x00, 0x00, 0x00,				/* session_id 0 */
	0xff, 0xff, 0xff, 0xff,				/* session_epoch -1 */
	0x02, 0x02, 't',				/* topics [1], topic CS */
	0x02,						/* partitions [1] */
	0x00, 0x00, 0x00, 0x00,				/* partition 0 */
	0xff, 0xff, 0xff, 0xff,				/* current_leader_epoch */
	0, 0, 0, 0, 0, 0, 0, 0,				/* fetch_offset 0 */
	0xff, 0xff, 0xff, 0xff,				/* last_fetched_epoch */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,	/* log_start_offset */
	0x00, 0x10, 0x00, 0x00,				/* partition_max_bytes */
	0x00,						/* partition TF */
	0x00,						/* topic TF */
	0x02, 0x02, 't',				/* forgotten [1], topic CS */
	0x02, 0x00, 0x00, 0x00, 0x00,			/* partitions [0] */
	0x00,						/* forgotten TF */
	0x08, 'k', 'f', '-', 'r', 'a', 'c', 'k',	/* rack_id CS */
	0x00,						/* top-level TF */
};

/* ApiVersions v3, null client id, corr 7, two unknown tags in every TF. */
static const uint8_t api_versions_v3_tags[] = {
	0x00, 0x00, 0x00, 0x2b,				/* size 43 */
	0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,	/* key 18, v3, corr 7 */
	0xff, 0xff,					/* client_id null */
	0x02, 0x64, 0x00, 0x96, 0x01, 0x01, 0xde,	/* TF: tag 100 [], tag 150 [de] */
	0x0d, 'k', 'g', 'a', 't', 'e', '-', 'k', 'f', 'r', 'a', 'm', 'e',
	0x06, '1', '.', '0', '.', '0',
	0x02, 0x64, 0x00, 0x96, 0x01, 0x01, 0xde,	/* top-level TF */
};

static const struct kf_topic produce_v13_topic = {
	.id = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
	.partitions = 1, .record_bytes = 3,
};

/* Produce v13: topic ID instead of name, txn "x", 3 record bytes. */
static const uint8_t produce_v13[] = {
	0x00, 0x00, 0x00, 0x31,				/* size 49 */
	0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x09,	/* key 0, v13, corr 9 */
	0x00, 0x01, 'c', 0x00,
	0x02, 'x',					/* transactional_id CNS */
	0xff, 0xff, 0x00, 0x00, 0x75, 0x30,		/* acks, timeout_ms */
	0x02,						/* topic_data [1] */
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* topic_id */
	0x02, 0x00, 0x00, 0x00, 0x00,			/* partitions [1], index 0 */
	0x04, 0x01, 0x84, 0x07,				/* CREC len 3 + filler */
	0x00, 0x00, 0x00,				/* partition, topic, top TF */
};

static const struct kf_topic delete_topics_v6_topic = {
	.id = { 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbb }, .partitions = 1,
};

/* DeleteTopics v6: name null, topic_id set. */
static const uint8_t delete_topics_v6[] = {
	0x00, 0x00, 0x00, 0x24,				/* size 36 */
	0x00, 0x14, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04,	/* key 20, v6, corr 4 */
	0x00, 0x01, 'c', 0x00,
	0x02,						/* topics [1] */
	0x00,						/* name CNS null */
	0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbb, /* topic_id */
	0x00,						/* topic TF */
	0x00, 0x00, 0x75, 0x30,				/* timeout_ms */
	0x00,						/* top-level TF */
};

/* OffsetFetch v8, group "g", null topics (= all). */
static const uint8_t offset_fetch_v8_all[] = {
	0x00, 0x00, 0x00, 0x13,				/* size 19 */
	0x00, 0x09, 0x00, 0x08, 0x00, 0x00, 0x00, 0x05,	/* key 9, v8, corr 5 */
	0x00, 0x01, 'c', 0x00,
	0x02,						/* groups [1] */
	0x02, 'g',					/* group_id CS */
	0x00,						/* topics null */
	0x00,						/* group TF */
	0x00,						/* require_stable */
	0x00,						/* top-level TF */
};

static const struct kf_topic id_only = {
	.id = { 0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xcd }, .partitions = 1,
};

#define ID_ONLY 0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xcd

/* Metadata v11: topic_id then a null name; include_cluster_authorized_ops (8-10) gone. */
static const uint8_t metadata_v11[] = {
	0x00, 0x00, 0x00, 0x22,				/* size 34 */
	0x00, 0x03, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x06,	/* key 3, v11, corr 6 */
	0x00, 0x01, 'c', 0x00,
	0x02,						/* topics [1] */
	ID_ONLY,					/* topic_id */
	0x00,						/* name CNS null */
	0x00,						/* topic TF */
	0x01,						/* allow_auto_topic_creat. */
	0x00,						/* incl. topic auth ops */
	0x00,						/* top-level TF */
};

/* Fetch v15: replica_id gone from the fixed fields, topic IDs in topics and forgotten. */
static const uint8_t fetch_v15[] = {
	0x00, 0x00, 0x00, 0x75,				/* size 117 */
	0x00, 0x01, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x08,	/* key 1, v15, corr 8 */
	0x00, 0x01, 'c', 0x00,
	0x00, 0x00, 0x01, 0xf4,				/* max_wait_ms 500 */
	0x00, 0x00, 0x00, 0x01,				/* min_bytes 1 */
	0x03, 0x20, 0x00, 0x00,				/* max_bytes */
	0x00,						/* isolation_level */
	0x00, 0x00, 0x00, 0x00,				/* session_id */
	0xff, 0xff, 0xff, 0xff,				/* session_epoch */
	0x02, ID_ONLY,					/* topics [1], topic_id */
	0x02,						/* partitions [1] */
	0x00, 0x00, 0x00, 0x00,				/* partition 0 */
	0xff, 0xff, 0xff, 0xff,				/* current_leader_epoch */
	0, 0, 0, 0, 0, 0, 0, 0,				/* fetch_offset */
	0xff, 0xff, 0xff, 0xff,				/* last_fetched_epoch */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,	/* log_start_offset */
	0x00, 0x10, 0x00, 0x00,				/* partition_max_bytes */
	0x00, 0x00,					/* partition TF, topic TF */
	0x02, ID_ONLY,					/* forgotten [1], topic_id */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00,		/* partitions [0], TF */
	0x08, 'k', 'f', '-', 'r', 'a', 'c', 'k',	/* rack_id */
	0x00,						/* top-level TF */
};

/* OffsetCommit v10: topic_id replaces the name. */
static const uint8_t offset_commit_v10[] = {
	0x00, 0x00, 0x00, 0x43,				/* size 67 */
	0x00, 0x08, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0a,	/* key 8, v10, corr 10 */
	0x00, 0x01, 'c', 0x00,
	0x02, 'g',					/* group_id */
	0x00, 0x00, 0x00, 0x01,				/* generation/member epoch */
	0x0a, 'k', 'f', '-', 'm', 'e', 'm', 'b', 'e', 'r', /* member_id */
	0x00,						/* group_instance_id null */
	0x02, ID_ONLY,					/* topics [1], topic_id */
	0x02, 0x00, 0x00, 0x00, 0x00,			/* partitions [1], index 0 */
	0, 0, 0, 0, 0, 0, 0, 0x64,			/* committed_offset 100 */
	0xff, 0xff, 0xff, 0xff,				/* committed_leader_epoch */
	0x01,						/* committed_metadata "" */
	0x00, 0x00, 0x00,				/* partition, topic, top TF */
};

/* Each request and the exact bytes it must build (above). */
#define WANT(bytes) bytes, sizeof(bytes)

static const struct {
	const char *name;
	struct kf_req req;
	const uint8_t *want;
	size_t len;
} exact[] = {
	{"produce v3", {.api_key = 0, .api_version = 3, .corr = 1, .client_id = "c",
			.topics = &one_t, .ntopics = 1}, WANT(produce_v3)},
	{"metadata v9", {.api_key = 3, .api_version = 9, .corr = 2, .client_id = "c",
			 .topics = &one_t, .ntopics = 1}, WANT(metadata_v9)},
	{"fetch v12", {.api_key = 1, .api_version = 12, .corr = 3, .client_id = "c",
		       .topics = &one_t, .ntopics = 1}, WANT(fetch_v12)},
	{"apiversions v3 +tags", {.api_key = 18, .api_version = 3, .corr = 7, .extra_tags = 2},
	 WANT(api_versions_v3_tags)},
	{"produce v13", {.api_key = 0, .api_version = 13, .corr = 9, .client_id = "c",
			 .topics = &produce_v13_topic, .ntopics = 1, .txn_id = "x"},
	 WANT(produce_v13)},
	{"deletetopics v6", {.api_key = 20, .api_version = 6, .corr = 4, .client_id = "c",
			     .topics = &delete_topics_v6_topic, .ntopics = 1},
	 WANT(delete_topics_v6)},
	{"offsetfetch v8 all", {.api_key = 9, .api_version = 8, .corr = 5, .client_id = "c",
				.ntopics = -1, .group = "g"}, WANT(offset_fetch_v8_all)},
	{"metadata v11", {.api_key = 3, .api_version = 11, .corr = 6, .client_id = "c",
			  .topics = &id_only, .ntopics = 1}, WANT(metadata_v11)},
	{"fetch v15", {.api_key = 1, .api_version = 15, .corr = 8, .client_id = "c",
		       .topics = &id_only, .ntopics = 1}, WANT(fetch_v15)},
	{"offsetcommit v10", {.api_key = 8, .api_version = 10, .corr = 10, .client_id = "c",
			      .topics = &id_only, .ntopics = 1, .group = "g"},
	 WANT(offset_commit_v10)},
};

static void t_exact(void)
{
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		size_t n = kf_build(&exact[i].req, buf, sizeof(buf));

		expect(exact[i].name, buf, n, exact[i].want, exact[i].len);
	}
}

static void t_sasl(void)
{
	static const uint8_t plain[] = { 0, 'u', 0, 'p' };
	static const uint8_t plain2[] = { 'u', 0, 'u', 0, 'p', 'w' };
	static const char scram[] = "n,,n=a=2Cb=3Dc,r=xyz";
	static const uint8_t raw[] = { 0, 0, 0, 4, 0, 'u', 0, 'p' };
	size_t n;

	n = kf_sasl_plain(NULL, "u", "p", buf, sizeof(buf));
	expect("sasl plain", buf, n, plain, sizeof(plain));
	n = kf_sasl_plain("u", "u", "pw", buf, sizeof(buf));
	expect("sasl plain authzid", buf, n, plain2, sizeof(plain2));
	n = kf_sasl_scram_first("a,b=c", "xyz", buf, sizeof(buf));
	expect("scram first", buf, n, (const uint8_t *)scram, strlen(scram));
	n = kf_raw_frame(plain, sizeof(plain), buf, sizeof(buf));
	expect("raw frame", buf, n, raw, sizeof(raw));
	CHECK(kf_sasl_plain(NULL, "u", "p", buf, 3) == 0, "plain with short cap");
	CHECK(kf_raw_frame(plain, sizeof(plain), buf, 7) == 0, "raw frame with short cap");
}

/* Structural checks for one frame of every supported (key, version). */
static void check_one(struct kf_req *r, int nt, int et)
{
	int16_t k = r->api_key, v = r->api_version;
	size_t n = kf_build(r, buf, sizeof(buf));
	size_t n0;

	CHECK(n >= 14, "key %d v%d: n=%zu", k, v, n);
	if (n < 14)
		return;
	CHECK(be32(buf) == n - 4, "key %d v%d: size %u vs %zu", k, v, be32(buf), n - 4);
	CHECK(buf[4] == 0 && buf[5] == k && buf[6] == 0 && buf[7] == v,
	      "key %d v%d: header", k, v);
	CHECK(be32(buf + 8) == (uint32_t)(1000 + v), "key %d v%d: corr", k, v);
	CHECK(buf[12] == 0 && buf[13] == 5 && !memcmp(buf + 14, "kgate", 5),
	      "key %d v%d: client_id", k, v);
	/* One byte short must fail cleanly. */
	CHECK(kf_build(r, buf2, n - 1) == 0, "key %d v%d nt %d: short cap", k, v, nt);
	/* Tags only change flexible versions. */
	r->extra_tags = 0;
	r->known_tags = 0;
	n0 = kf_build(r, buf2, sizeof(buf2));
	if (!kf_is_flexible(k, v))
		CHECK(n0 == n && !memcmp(buf, buf2, n), "key %d v%d: tags changed non-flex", k, v);
	else if (et)
		CHECK(n0 < n, "key %d v%d: tags not written", k, v);
	/* Flexible frames carry header v2: an (empty) TF right after client_id. */
	if (kf_is_flexible(k, v))
		CHECK(buf2[19] == 0, "key %d v%d: header TF", k, v);
}

static void t_all_versions(void)
{
	static const int16_t keys[] = { 0, 1, 2, 3, 8, 9, 17, 18, 19, 20, 21, 24, 32, 33, 36 };
	static const uint8_t auth[] = { 0, 'u', 0, 'p' };
	static const struct kf_topic tp[3] = {
		{ .name = "orders", .id = { 0x11, [15] = 0x01 }, .partitions = 3,
		  .record_bytes = 100000 },
		{ .name = "a", .id = { 0x22, [15] = 0x02 }, .partitions = 1 },
		{ .name = NULL, .id = { 0x33, [15] = 0x03 }, .partitions = 2, .record_bytes = 17 },
	};
	int total = 0;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int16_t lo, hi, v;
		int nt, et, kt;

		CHECK(kf_versions(keys[k], &lo, &hi), "key %d unsupported", keys[k]);
		for (v = lo; v <= hi; v++)
			for (nt = -1; nt <= 3; nt++)
				for (et = 0; et <= 3; et += 3)
					for (kt = 0; kt <= 1; kt++) {
						struct kf_req r = {
							.api_key = keys[k], .api_version = v,
							.corr = 1000 + v, .client_id = "kgate",
							.topics = tp, .ntopics = nt, .group = "grp",
							.txn_id = "txn", .mechanism = "PLAIN",
							.auth = auth, .auth_len = sizeof(auth),
							.resource_type = 2, .extra_tags = et,
							.known_tags = kt,
							.ngroups = nt == 3 ? 2 : 0,
						};

						check_one(&r, nt, et);
						total++;
					}
		CHECK(kf_build(&(struct kf_req){ .api_key = keys[k], .api_version = hi + 1 },
			       buf, sizeof(buf)) == 0, "key %d v%d accepted", keys[k], hi + 1);
		CHECK(kf_build(&(struct kf_req){ .api_key = keys[k], .api_version = -1 },
			       buf, sizeof(buf)) == 0, "key %d v-1 accepted", keys[k]);
	}
	CHECK(kf_build(&(struct kf_req){ .api_key = 4 }, buf, sizeof(buf)) == 0, "key 4");
	printf("structural checks: %d frames\n", total);
}

/* Produce with a large records blob: the length fields cover it exactly. */
static void t_produce_large(void)
{
	struct kf_topic t = { .name = "big", .partitions = 1, .record_bytes = 100000 };
	struct kf_req r = { .api_key = 0, .api_version = 7, .client_id = "c", .topics = &t,
			    .ntopics = 1 };
	size_t n = kf_build(&r, buf, sizeof(buf));

	/* size 4, hdr 11, txn 2, acks 2, timeout 4, arr 4, name 5, arr 4, idx 4, len 4 */
	CHECK(n == 44 + 100000, "produce v7 large n=%zu", n);
	CHECK(be32(buf + 40) == 100000, "records length %u", be32(buf + 40));
	r.api_version = 9;
	n = kf_build(&r, buf, sizeof(buf));
	/* flex: hdr 12, txn 1, arr 1, name 4, arr 1, len uvarint(100001) 3 bytes, 3 TFs */
	CHECK(n == 4 + 12 + 1 + 2 + 4 + 1 + 4 + 1 + 4 + 3 + 100000 + 3, "v9 large n=%zu", n);
	CHECK(buf[33] == 0xa1 && buf[34] == 0x8d && buf[35] == 0x06, "uvarint 100001");
}

int main(void)
{
	t_exact();
	t_sasl();
	t_produce_large();
	t_all_versions();
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	printf("kframe selftest: OK\n");
	return 0;
}
