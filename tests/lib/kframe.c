// SPDX-License-Identifier: Apache-2.0
/*
 * kframe: hand-written Kafka request frame builder for tests.
 *
 * Layouts follow the upstream message definitions (clients/src/main/resources/common/
 * message/<Name>Request.json, cross-checked with the generated protocol documentation for
 * Kafka 4.2). Each API has its own writer with version conditions in the style of Kafka's
 * generated code; there is deliberately no field table.
 *
 * Conventions:
 *   - flex: the version is in the API's flexibleVersions. Then the header is v2 (v1 + TF),
 *     strings/arrays/bytes are compact (uvarint N+1) and every struct, array element and the
 *     top level end with a tagged-field section (TF).
 *   - A NULL name where the field is a non-nullable STRING is written as "".
 *   - ntopics == -1 writes a null array where the version allows it, an empty one elsewhere.
 *   - extra_tags adds unknown tags 100, 150, 200, ... with 0..3 byte payloads to every TF.
 */
#include <stdio.h>
#include <string.h>

#include "kframe.h"

struct kw {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

struct ktag {
	uint32_t tag;
	const uint8_t *data;
	size_t len;
};

/* ---- primitives ---------------------------------------------------------------------- */

static void put_raw(struct kw *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u8(struct kw *w, uint8_t v)
{
	put_raw(w, &v, 1);
}

static void put_i8(struct kw *w, int8_t v)
{
	put_u8(w, (uint8_t)v);
}

static void put_bool(struct kw *w, int v)
{
	put_u8(w, v ? 1 : 0);
}

static void put_i16(struct kw *w, int16_t v)
{
	uint16_t u = (uint16_t)v;
	uint8_t b[2] = { (uint8_t)(u >> 8), (uint8_t)u };

	put_raw(w, b, sizeof(b));
}

static void put_i32(struct kw *w, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t b[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };

	put_raw(w, b, sizeof(b));
}

static void put_i64(struct kw *w, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (56 - 8 * i));
	put_raw(w, b, sizeof(b));
}

static void put_uvarint(struct kw *w, uint32_t v)
{
	while (v >= 0x80) {
		put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_u8(w, (uint8_t)v);
}

static void put_uuid(struct kw *w, const uint8_t id[16])
{
	put_raw(w, id, 16);
}

/* STRING / COMPACT_STRING. NULL is written as the empty string. */
static void put_str(struct kw *w, int flex, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > 0x7fff) {
		w->err = 1;
		return;
	}
	if (flex)
		put_uvarint(w, (uint32_t)n + 1);
	else
		put_i16(w, (int16_t)n);
	put_raw(w, s, n);
}

/* NULLABLE_STRING / COMPACT_NULLABLE_STRING. */
static void put_nstr(struct kw *w, int flex, const char *s)
{
	if (!s) {
		if (flex)
			put_uvarint(w, 0);
		else
			put_i16(w, -1);
		return;
	}
	put_str(w, flex, s);
}

/* ARRAY / COMPACT_ARRAY count; n < 0 writes null. */
static void put_arr(struct kw *w, int flex, int n)
{
	if (flex)
		put_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
	else
		put_i32(w, n < 0 ? -1 : n);
}

/* BYTES / COMPACT_BYTES length prefix (also NULLABLE_BYTES / RECORDS when not null). */
static void put_bytes_len(struct kw *w, int flex, size_t n)
{
	if (n > 0x7ffffffe) {
		w->err = 1;
		return;
	}
	if (flex)
		put_uvarint(w, (uint32_t)n + 1);
	else
		put_i32(w, (int32_t)n);
}

/* RECORDS / COMPACT_RECORDS with n opaque filler bytes. */
static void put_records(struct kw *w, int flex, size_t n, int partition)
{
	size_t i;

	put_bytes_len(w, flex, n);
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	for (i = 0; i < n; i++)
		w->p[w->len + i] = (uint8_t)(i * 131u + (unsigned int)partition + 1u);
	w->len += n;
}

/*
 * Tagged-field section: the known tags (ascending, caller's order) followed by
 * r->extra_tags unknown tags 100, 150, 200, ... (all above any known tag).
 */
static void put_tf(struct kw *w, const struct kf_req *r, const struct ktag *known, int nknown)
{
	static const uint8_t junk[3] = { 0xde, 0xad, 0xbe };
	int extra = r->extra_tags > 0 ? r->extra_tags : 0;
	int i;

	put_uvarint(w, (uint32_t)(nknown + extra));
	for (i = 0; i < nknown; i++) {
		put_uvarint(w, known[i].tag);
		put_uvarint(w, (uint32_t)known[i].len);
		put_raw(w, known[i].data, known[i].len);
	}
	for (i = 0; i < extra; i++) {
		put_uvarint(w, 100u + 50u * (uint32_t)i);
		put_uvarint(w, (uint32_t)(i % 4));
		put_raw(w, junk, (size_t)(i % 4));
	}
}

static void put_tf0(struct kw *w, const struct kf_req *r)
{
	put_tf(w, r, NULL, 0);
}

/* ---- helpers ------------------------------------------------------------------------- */

static int ntop(const struct kf_req *r)
{
	return r->topics && r->ntopics > 0 ? r->ntopics : 0;
}

static int nparts(const struct kf_topic *t)
{
	return t->partitions > 0 ? t->partitions : 0;
}

static const char *group_id(const struct kf_req *r)
{
	return r->group ? r->group : "";
}

static void put_header(struct kw *w, const struct kf_req *r, int flex)
{
	put_i16(w, r->api_key);
	put_i16(w, r->api_version);
	put_i32(w, r->corr);
	/* client_id is always a non-compact NULLABLE_STRING, also in header v2. */
	put_nstr(w, 0, r->client_id);
	if (flex)
		put_tf0(w, r);
}

/* ---- Produce (0): v0-13, flexible 9+ ------------------------------------------------- */

static void b_produce(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 9;
	int i, p;

	if (v >= 3)
		put_nstr(w, flex, r->txn_id);		/* transactional_id */
	put_i16(w, -1);					/* acks */
	put_i32(w, 30000);				/* timeout_ms */
	put_arr(w, flex, ntop(r));			/* topic_data */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		if (v <= 12)
			put_str(w, flex, t->name);	/* name */
		if (v >= 13)
			put_uuid(w, t->id);		/* topic_id */
		put_arr(w, flex, nparts(t));		/* partition_data */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* index */
			put_records(w, flex, t->record_bytes, p); /* records */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- Fetch (1): v0-18, flexible 12+ -------------------------------------------------- */

static const struct kf_topic kf_default_forgotten = {
	.name = "kf-forgotten",
	.id = { 0xf0, 0x0f, 0xf0, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
	.partitions = 1,
};

static void b_fetch(struct kw *w, const struct kf_req *r, int v)
{
	static const uint8_t dir_id[16] = { 0xd1, 0x2e, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0, 0x07 };
	const struct kf_topic *fg;
	int flex = v >= 12;
	int i, p;

	if (v <= 14)
		put_i32(w, -1);				/* replica_id */
	put_i32(w, 500);				/* max_wait_ms */
	put_i32(w, 1);					/* min_bytes */
	if (v >= 3)
		put_i32(w, 52428800);			/* max_bytes */
	if (v >= 4)
		put_i8(w, 0);				/* isolation_level */
	if (v >= 7) {
		put_i32(w, 0);				/* session_id */
		put_i32(w, -1);				/* session_epoch */
	}
	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		if (v <= 12)
			put_str(w, flex, t->name);	/* topic */
		if (v >= 13)
			put_uuid(w, t->id);		/* topic_id */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition */
			if (v >= 9)
				put_i32(w, -1);		/* current_leader_epoch */
			put_i64(w, 0);			/* fetch_offset */
			if (v >= 12)
				put_i32(w, -1);		/* last_fetched_epoch */
			if (v >= 5)
				put_i64(w, -1);		/* log_start_offset */
			put_i32(w, 1048576);		/* partition_max_bytes */
			if (flex) {
				uint8_t hw[8] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
				struct ktag tags[2];
				int n = 0;

				if (r->known_tags && v >= 17) /* replica_directory_id<tag 0> */
					tags[n++] = (struct ktag){ 0, dir_id, sizeof(dir_id) };
				if (r->known_tags && v >= 18) /* high_watermark<tag 1> */
					tags[n++] = (struct ktag){ 1, hw, sizeof(hw) };
				put_tf(w, r, tags, n);
			}
		}
		if (flex)
			put_tf0(w, r);
	}
	if (v >= 7) {					/* forgotten_topics_data */
		fg = r->forgotten ? r->forgotten : ntop(r) ? &r->topics[0] : &kf_default_forgotten;
		put_arr(w, flex, 1);
		if (v <= 12)
			put_str(w, flex, fg->name);	/* topic */
		if (v >= 13)
			put_uuid(w, fg->id);		/* topic_id */
		put_arr(w, flex, nparts(fg) ? nparts(fg) : 1); /* partitions */
		for (p = 0; p < (nparts(fg) ? nparts(fg) : 1); p++)
			put_i32(w, p);
		if (flex)
			put_tf0(w, r);
	}
	if (v >= 11)
		put_str(w, flex, "kf-rack");		/* rack_id */
	if (flex) {
		uint8_t cid[32], rs[4096];
		struct kw cw = { cid, sizeof(cid), 0, 0 };
		struct kw rw = { rs, sizeof(rs), 0, 0 };
		struct ktag tags[2];
		int n = 0;

		if (r->known_tags) {			/* cluster_id<tag 0>: CNS */
			put_nstr(&cw, 1, "kf-cluster");
			tags[n++] = (struct ktag){ 0, cid, cw.len };
		}
		if (r->known_tags && v >= 15) {		/* replica_state<tag 1> */
			put_i32(&rw, -1);		/* replica_id */
			put_i64(&rw, -1);		/* replica_epoch */
			put_tf0(&rw, r);
			tags[n++] = (struct ktag){ 1, rs, rw.len };
		}
		if (cw.err || rw.err)
			w->err = 1;
		put_tf(w, r, tags, n);
	}
}

/* ---- ListOffsets (2): v0-11, flexible 6+ --------------------------------------------- */

static void b_list_offsets(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 6;
	int i, p;

	put_i32(w, -1);					/* replica_id */
	if (v >= 2)
		put_i8(w, 0);				/* isolation_level */
	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition_index */
			if (v >= 4)
				put_i32(w, -1);		/* current_leader_epoch */
			put_i64(w, -1);			/* timestamp (latest) */
			if (v == 0)
				put_i32(w, 1);		/* max_num_offsets */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	if (v >= 10)
		put_i32(w, 30000);			/* timeout_ms */
	if (flex)
		put_tf0(w, r);
}

/* ---- Metadata (3): v0-13, flexible 9+ ------------------------------------------------ */

static void b_metadata(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 9;
	int i;

	/* topics: nullable from v1 (null = all topics; v0 uses the empty array for that) */
	put_arr(w, flex, r->ntopics < 0 && v >= 1 ? -1 : ntop(r));
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		if (v >= 10) {
			put_uuid(w, t->id);		/* topic_id */
			put_nstr(w, flex, t->name);	/* name (nullable 10+) */
		} else {
			put_str(w, flex, t->name);	/* name */
		}
		if (flex)
			put_tf0(w, r);
	}
	if (v >= 4)
		put_bool(w, 1);				/* allow_auto_topic_creation */
	if (v >= 8 && v <= 10)
		put_bool(w, 0);				/* include_cluster_authorized_ops */
	if (v >= 8)
		put_bool(w, 0);				/* include_topic_authorized_ops */
	if (flex)
		put_tf0(w, r);
}

/* ---- OffsetCommit (8): v0-10, flexible 8+ -------------------------------------------- */

static void b_offset_commit(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 8;
	int i, p;

	put_str(w, flex, group_id(r));			/* group_id */
	if (v >= 1) {
		put_i32(w, 1);				/* generation_id_or_member_epoch */
		put_str(w, flex, "kf-member");		/* member_id */
	}
	if (v >= 7)
		put_nstr(w, flex, NULL);		/* group_instance_id */
	if (v >= 2 && v <= 4)
		put_i64(w, -1);				/* retention_time_ms */
	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		if (v <= 9)
			put_str(w, flex, t->name);	/* name */
		if (v >= 10)
			put_uuid(w, t->id);		/* topic_id */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition_index */
			put_i64(w, 100 + p);		/* committed_offset */
			if (v >= 6)
				put_i32(w, -1);		/* committed_leader_epoch */
			if (v == 1)
				put_i64(w, -1);		/* commit_timestamp */
			put_nstr(w, flex, "");		/* committed_metadata */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- OffsetFetch (9): v0-10, flexible 6+ --------------------------------------------- */

static void b_offset_fetch_topics(struct kw *w, const struct kf_req *r, int v, int flex, int n)
{
	int i, p;

	put_arr(w, flex, n);				/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		if (v <= 9)
			put_str(w, flex, t->name);	/* name */
		if (v >= 10)
			put_uuid(w, t->id);		/* topic_id */
		put_arr(w, flex, nparts(t));		/* partition_indexes */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);
		if (flex)
			put_tf0(w, r);
	}
}

static void b_offset_fetch(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 6;
	int g, ng;

	if (v <= 7) {
		put_str(w, flex, group_id(r));		/* group_id */
		/* topics: nullable 2-7 (null = all topics) */
		b_offset_fetch_topics(w, r, v, flex, r->ntopics < 0 && v >= 2 ? -1 : ntop(r));
		if (v >= 7)
			put_bool(w, 0);			/* require_stable */
		if (flex)
			put_tf0(w, r);
		return;
	}
	ng = r->ngroups > 0 ? r->ngroups : 1;
	put_arr(w, flex, ng);				/* groups */
	for (g = 0; g < ng; g++) {
		char name[300];

		if (g == 0)
			snprintf(name, sizeof(name), "%s", group_id(r));
		else
			snprintf(name, sizeof(name), "%s-%d", group_id(r), g);
		put_str(w, flex, name);			/* group_id */
		if (v >= 9) {
			put_nstr(w, flex, "kf-member");	/* member_id */
			put_i32(w, 5);			/* member_epoch */
		}
		/* topics: nullable 8+ (null = all topics) */
		b_offset_fetch_topics(w, r, v, flex, r->ntopics < 0 ? -1 : ntop(r));
		put_tf0(w, r);
	}
	put_bool(w, 0);					/* require_stable */
	put_tf0(w, r);
}

/* ---- CreateTopics (19): v0-7, flexible 5+ -------------------------------------------- */

static void b_create_topics(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 5;
	int i, p, na;

	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_i32(w, -1);				/* num_partitions (manual) */
		put_i16(w, -1);				/* replication_factor */
		na = nparts(t) ? nparts(t) : 1;
		put_arr(w, flex, na);			/* assignments */
		for (p = 0; p < na; p++) {
			put_i32(w, p);			/* partition_index */
			put_arr(w, flex, 1);		/* broker_ids */
			put_i32(w, 1);
			if (flex)
				put_tf0(w, r);
		}
		put_arr(w, flex, 1);			/* configs */
		put_str(w, flex, "cleanup.policy");	/* name */
		put_nstr(w, flex, "compact");		/* value */
		if (flex)
			put_tf0(w, r);
		if (flex)
			put_tf0(w, r);
	}
	put_i32(w, 30000);				/* timeout_ms */
	if (v >= 1)
		put_bool(w, 0);				/* validate_only */
	if (flex)
		put_tf0(w, r);
}

/* ---- DeleteTopics (20): v0-6, flexible 4+ -------------------------------------------- */

static void b_delete_topics(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 4;
	int i;

	if (v >= 6) {
		put_arr(w, flex, ntop(r));		/* topics */
		for (i = 0; i < ntop(r); i++) {
			put_nstr(w, flex, r->topics[i].name); /* name (nullable) */
			put_uuid(w, r->topics[i].id);	/* topic_id */
			put_tf0(w, r);
		}
	} else {
		put_arr(w, flex, ntop(r));		/* topic_names */
		for (i = 0; i < ntop(r); i++)
			put_str(w, flex, r->topics[i].name);
	}
	put_i32(w, 30000);				/* timeout_ms */
	if (flex)
		put_tf0(w, r);
}

/* ---- DeleteRecords (21): v0-2, flexible 2+ ------------------------------------------- */

static void b_delete_records(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;
	int i, p;

	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition_index */
			put_i64(w, 100);		/* offset */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	put_i32(w, 30000);				/* timeout_ms */
	if (flex)
		put_tf0(w, r);
}

/* ---- AddPartitionsToTxn (24): v0-5, flexible 3+ -------------------------------------- */

static void b_txn_topics(struct kw *w, const struct kf_req *r, int flex)
{
	int i, p;

	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);
		if (flex)
			put_tf0(w, r);
	}
}

static void b_add_partitions_to_txn(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 3;

	if (v >= 4) {
		put_arr(w, flex, 1);			/* transactions */
		put_str(w, flex, r->txn_id);		/* transactional_id */
		put_i64(w, 1000);			/* producer_id */
		put_i16(w, 0);				/* producer_epoch */
		put_bool(w, 0);				/* verify_only */
		b_txn_topics(w, r, flex);		/* topics */
		put_tf0(w, r);
	} else {
		put_str(w, flex, r->txn_id);		/* v3_and_below_transactional_id */
		put_i64(w, 1000);			/* v3_and_below_producer_id */
		put_i16(w, 0);				/* v3_and_below_producer_epoch */
		b_txn_topics(w, r, flex);		/* v3_and_below_topics */
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- DescribeConfigs (32): v0-4, flexible 4+ ----------------------------------------- */

static void b_describe_configs(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 4;
	int i;

	put_arr(w, flex, ntop(r));			/* resources */
	for (i = 0; i < ntop(r); i++) {
		put_i8(w, (int8_t)r->resource_type);	/* resource_type */
		put_str(w, flex, r->topics[i].name);	/* resource_name */
		put_arr(w, flex, 1);			/* configuration_keys (nullable) */
		put_str(w, flex, "cleanup.policy");
		if (flex)
			put_tf0(w, r);
	}
	if (v >= 1)
		put_bool(w, 0);				/* include_synonyms */
	if (v >= 3)
		put_bool(w, 0);				/* include_documentation */
	if (flex)
		put_tf0(w, r);
}

/* ---- AlterConfigs (33): v0-2, flexible 2+ -------------------------------------------- */

static void b_alter_configs(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;
	int i;

	put_arr(w, flex, ntop(r));			/* resources */
	for (i = 0; i < ntop(r); i++) {
		put_i8(w, (int8_t)r->resource_type);	/* resource_type */
		put_str(w, flex, r->topics[i].name);	/* resource_name */
		put_arr(w, flex, 1);			/* configs */
		put_str(w, flex, "retention.ms");	/* name */
		put_nstr(w, flex, "86400000");		/* value */
		if (flex)
			put_tf0(w, r);
		if (flex)
			put_tf0(w, r);
	}
	put_bool(w, 0);					/* validate_only */
	if (flex)
		put_tf0(w, r);
}

/* ---- ApiVersions (18): v0-4, flexible 3+ --------------------------------------------- */

static void b_api_versions(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 3;

	if (v >= 3) {
		put_str(w, flex, "kgate-kframe");	/* client_software_name */
		put_str(w, flex, "1.0.0");		/* client_software_version */
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- SaslHandshake (17): v0-1, never flexible ---------------------------------------- */

static void b_sasl_handshake(struct kw *w, const struct kf_req *r, int v)
{
	(void)v;
	put_str(w, 0, r->mechanism ? r->mechanism : "PLAIN"); /* mechanism */
}

/* ---- SaslAuthenticate (36): v0-2, flexible 2+ ---------------------------------------- */

static void b_sasl_authenticate(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;

	put_bytes_len(w, flex, r->auth ? r->auth_len : 0); /* auth_bytes */
	if (r->auth)
		put_raw(w, r->auth, r->auth_len);
	if (flex)
		put_tf0(w, r);
}

/* ---- OffsetForLeaderEpoch (23): v0-4, flexible 4+ ----------------------------------- */

static void b_offset_for_leader_epoch(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 4;
	int i, p;

	if (v >= 3)
		put_i32(w, -1);				/* replica_id (consumer) */
	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* topic */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition */
			if (v >= 2)
				put_i32(w, 7);		/* current_leader_epoch */
			put_i32(w, 6);			/* leader_epoch */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- TxnOffsetCommit (28): v0-5, flexible 3+ ----------------------------------------- */

static void b_txn_offset_commit(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 3;
	int i, p;

	put_str(w, flex, r->txn_id);			/* transactional_id */
	put_str(w, flex, group_id(r));			/* group_id */
	put_i64(w, 1000);				/* producer_id */
	put_i16(w, 0);					/* producer_epoch */
	if (v >= 3) {
		put_i32(w, -1);				/* generation_id */
		put_str(w, flex, "kf-member");		/* member_id */
		put_nstr(w, flex, NULL);		/* group_instance_id */
	}
	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition_index */
			put_i64(w, 100 + p);		/* committed_offset */
			if (v >= 2)
				put_i32(w, -1);		/* committed_leader_epoch */
			put_nstr(w, flex, p % 2 ? NULL : "m"); /* committed_metadata (nullable) */
			if (flex)
				put_tf0(w, r);
		}
		if (flex)
			put_tf0(w, r);
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- CreatePartitions (37): v0-3, flexible 2+ ---------------------------------------- */

static void b_create_partitions(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;
	int i, p;

	put_arr(w, flex, ntop(r));			/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* name */
		put_i32(w, nparts(t) + 1);		/* count */
		if (i % 2) {
			put_arr(w, flex, -1);		/* assignments: null (broker decides) */
		} else {
			put_arr(w, flex, nparts(t));	/* assignments */
			for (p = 0; p < nparts(t); p++) {
				put_arr(w, flex, 2);	/* broker_ids */
				put_i32(w, 1);
				put_i32(w, 2);
				if (flex)
					put_tf0(w, r);
			}
		}
		if (flex)
			put_tf0(w, r);
	}
	put_i32(w, 30000);				/* timeout_ms */
	put_bool(w, 0);					/* validate_only */
	if (flex)
		put_tf0(w, r);
}

/* ---- DeleteGroups (42): v0-2, flexible 2+ -------------------------------------------- */

static void b_delete_groups(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;
	int g, ng = r->ngroups > 0 ? r->ngroups : 1;

	put_arr(w, flex, ng);				/* groups_names */
	for (g = 0; g < ng; g++) {
		char name[300];

		if (g == 0)
			snprintf(name, sizeof(name), "%s", group_id(r));
		else
			snprintf(name, sizeof(name), "%s-%d", group_id(r), g);
		put_str(w, flex, name);
	}
	if (flex)
		put_tf0(w, r);
}

/* ---- ElectLeaders (43): v0-2, flexible 2+ -------------------------------------------- */

static void b_elect_leaders(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 2;
	int i, p;

	if (v >= 1)
		put_i8(w, 0);				/* election_type (preferred) */
	/* topic_partitions: nullable 0+ (null = all partitions) */
	put_arr(w, flex, r->ntopics < 0 ? -1 : ntop(r));
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, flex, t->name);		/* topic */
		put_arr(w, flex, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);
		if (flex)
			put_tf0(w, r);
	}
	put_i32(w, 60000);				/* timeout_ms */
	if (flex)
		put_tf0(w, r);
}

/* ---- IncrementalAlterConfigs (44): v0-1, flexible 1+ --------------------------------- */

static void b_incremental_alter_configs(struct kw *w, const struct kf_req *r, int v)
{
	int flex = v >= 1;
	int i;

	put_arr(w, flex, ntop(r));			/* resources */
	for (i = 0; i < ntop(r); i++) {
		put_i8(w, (int8_t)r->resource_type);	/* resource_type */
		put_str(w, flex, r->topics[i].name);	/* resource_name */
		put_arr(w, flex, 2);			/* configs */
		put_str(w, flex, "retention.ms");	/* name */
		put_i8(w, 0);				/* config_operation (SET) */
		put_nstr(w, flex, "86400000");		/* value */
		if (flex)
			put_tf0(w, r);
		put_str(w, flex, "cleanup.policy");	/* name */
		put_i8(w, 1);				/* config_operation (DELETE) */
		put_nstr(w, flex, NULL);		/* value */
		if (flex)
			put_tf0(w, r);
		if (flex)
			put_tf0(w, r);
	}
	put_bool(w, 0);					/* validate_only */
	if (flex)
		put_tf0(w, r);
}

/* ---- AlterPartitionReassignments (45): v0-1, flexible 0+ ----------------------------- */

static void b_alter_partition_reassignments(struct kw *w, const struct kf_req *r, int v)
{
	int i, p;

	put_i32(w, 60000);				/* timeout_ms */
	if (v >= 1)
		put_bool(w, 1);				/* allow_replication_factor_change */
	put_arr(w, 1, ntop(r));				/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, 1, t->name);			/* name */
		put_arr(w, 1, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++) {
			put_i32(w, p);			/* partition_index */
			if (p % 2) {
				put_arr(w, 1, -1);	/* replicas: null = cancel */
			} else {
				put_arr(w, 1, 3);	/* replicas */
				put_i32(w, 1);
				put_i32(w, 2);
				put_i32(w, 3);
			}
			put_tf0(w, r);
		}
		put_tf0(w, r);
	}
	put_tf0(w, r);
}

/* ---- ListPartitionReassignments (46): v0, flexible 0+ -------------------------------- */

static void b_list_partition_reassignments(struct kw *w, const struct kf_req *r, int v)
{
	int i, p;

	(void)v;
	put_i32(w, 60000);				/* timeout_ms */
	/* topics: nullable 0+ (null = every reassignment) */
	put_arr(w, 1, r->ntopics < 0 ? -1 : ntop(r));
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, 1, t->name);			/* name */
		put_arr(w, 1, nparts(t));		/* partition_indexes */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);
		put_tf0(w, r);
	}
	put_tf0(w, r);
}

/* ---- OffsetDelete (47): v0, never flexible ------------------------------------------- */

static void b_offset_delete(struct kw *w, const struct kf_req *r, int v)
{
	int i, p;

	(void)v;
	put_str(w, 0, group_id(r));			/* group_id */
	put_arr(w, 0, ntop(r));				/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, 0, t->name);			/* name */
		put_arr(w, 0, nparts(t));		/* partitions */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);			/* partition_index */
	}
}

/* ---- DescribeProducers (61): v0, flexible 0+ ----------------------------------------- */

static void b_describe_producers(struct kw *w, const struct kf_req *r, int v)
{
	int i, p;

	(void)v;
	put_arr(w, 1, ntop(r));				/* topics */
	for (i = 0; i < ntop(r); i++) {
		const struct kf_topic *t = &r->topics[i];

		put_str(w, 1, t->name);			/* name */
		put_arr(w, 1, nparts(t));		/* partition_indexes */
		for (p = 0; p < nparts(t); p++)
			put_i32(w, p);
		put_tf0(w, r);
	}
	put_tf0(w, r);
}

/* ---- public API ---------------------------------------------------------------------- */

static int vrange(int16_t *min, int16_t *max, int16_t hi)
{
	if (min)
		*min = 0;
	if (max)
		*max = hi;
	return 1;
}

int kf_versions(int16_t api_key, int16_t *min, int16_t *max)
{
	switch (api_key) {
	case 0:		/* Produce */
		return vrange(min, max, 13);
	case 1:		/* Fetch */
		return vrange(min, max, 18);
	case 2:		/* ListOffsets */
		return vrange(min, max, 11);
	case 3:		/* Metadata */
		return vrange(min, max, 13);
	case 8:		/* OffsetCommit */
		return vrange(min, max, 10);
	case 9:		/* OffsetFetch */
		return vrange(min, max, 10);
	case 17:	/* SaslHandshake */
		return vrange(min, max, 1);
	case 18:	/* ApiVersions */
		return vrange(min, max, 4);
	case 19:	/* CreateTopics */
		return vrange(min, max, 7);
	case 20:	/* DeleteTopics */
		return vrange(min, max, 6);
	case 21:	/* DeleteRecords */
		return vrange(min, max, 2);
	case 24:	/* AddPartitionsToTxn */
		return vrange(min, max, 5);
	case 32:	/* DescribeConfigs */
		return vrange(min, max, 4);
	case 33:	/* AlterConfigs */
		return vrange(min, max, 2);
	case 36:	/* SaslAuthenticate */
		return vrange(min, max, 2);
	case 23:	/* OffsetForLeaderEpoch */
		return vrange(min, max, 4);
	case 28:	/* TxnOffsetCommit */
		return vrange(min, max, 5);
	case 37:	/* CreatePartitions */
		return vrange(min, max, 3);
	case 42:	/* DeleteGroups */
		return vrange(min, max, 2);
	case 43:	/* ElectLeaders */
		return vrange(min, max, 2);
	case 44:	/* IncrementalAlterConfigs */
		return vrange(min, max, 1);
	case 45:	/* AlterPartitionReassignments */
		return vrange(min, max, 1);
	case 46:	/* ListPartitionReassignments */
		return vrange(min, max, 0);
	case 47:	/* OffsetDelete */
		return vrange(min, max, 0);
	case 61:	/* DescribeProducers */
		return vrange(min, max, 0);
	default:
		return 0;
	}
}

int kf_is_flexible(int16_t api_key, int16_t v)
{
	switch (api_key) {
	case 0:
		return v >= 9;
	case 1:
		return v >= 12;
	case 2:
		return v >= 6;
	case 3:
		return v >= 9;
	case 8:
		return v >= 8;
	case 9:
		return v >= 6;
	case 17:
		return 0;
	case 18:
		return v >= 3;
	case 19:
		return v >= 5;
	case 20:
		return v >= 4;
	case 21:
		return v >= 2;
	case 24:
		return v >= 3;
	case 32:
		return v >= 4;
	case 33:
		return v >= 2;
	case 36:
		return v >= 2;
	case 23:
		return v >= 4;
	case 28:
		return v >= 3;
	case 37:
		return v >= 2;
	case 42:
		return v >= 2;
	case 43:
		return v >= 2;
	case 44:
		return v >= 1;
	case 45:
	case 46:
		return 1;
	case 47:
		return 0;
	case 61:
		return 1;
	default:
		return 0;
	}
}

size_t kf_build(const struct kf_req *r, uint8_t *out, size_t cap)
{
	struct kw w = { out, cap, 0, 0 };
	int16_t lo, hi;
	int v;

	if (!r || !out || !kf_versions(r->api_key, &lo, &hi))
		return 0;
	v = r->api_version;
	if (v < lo || v > hi)
		return 0;

	put_i32(&w, 0);					/* size, patched below */
	put_header(&w, r, kf_is_flexible(r->api_key, r->api_version));
	switch (r->api_key) {
	case 0:
		b_produce(&w, r, v);
		break;
	case 1:
		b_fetch(&w, r, v);
		break;
	case 2:
		b_list_offsets(&w, r, v);
		break;
	case 3:
		b_metadata(&w, r, v);
		break;
	case 8:
		b_offset_commit(&w, r, v);
		break;
	case 9:
		b_offset_fetch(&w, r, v);
		break;
	case 17:
		b_sasl_handshake(&w, r, v);
		break;
	case 18:
		b_api_versions(&w, r, v);
		break;
	case 19:
		b_create_topics(&w, r, v);
		break;
	case 20:
		b_delete_topics(&w, r, v);
		break;
	case 21:
		b_delete_records(&w, r, v);
		break;
	case 24:
		b_add_partitions_to_txn(&w, r, v);
		break;
	case 32:
		b_describe_configs(&w, r, v);
		break;
	case 33:
		b_alter_configs(&w, r, v);
		break;
	case 36:
		b_sasl_authenticate(&w, r, v);
		break;
	case 23:
		b_offset_for_leader_epoch(&w, r, v);
		break;
	case 28:
		b_txn_offset_commit(&w, r, v);
		break;
	case 37:
		b_create_partitions(&w, r, v);
		break;
	case 42:
		b_delete_groups(&w, r, v);
		break;
	case 43:
		b_elect_leaders(&w, r, v);
		break;
	case 44:
		b_incremental_alter_configs(&w, r, v);
		break;
	case 45:
		b_alter_partition_reassignments(&w, r, v);
		break;
	case 46:
		b_list_partition_reassignments(&w, r, v);
		break;
	case 47:
		b_offset_delete(&w, r, v);
		break;
	case 61:
		b_describe_producers(&w, r, v);
		break;
	default:
		return 0;
	}
	if (w.err || w.len - 4 > 0x7fffffff)
		return 0;
	out[0] = (uint8_t)((w.len - 4) >> 24);
	out[1] = (uint8_t)((w.len - 4) >> 16);
	out[2] = (uint8_t)((w.len - 4) >> 8);
	out[3] = (uint8_t)(w.len - 4);
	return w.len;
}

size_t kf_sasl_plain(const char *authzid, const char *user, const char *pass, uint8_t *out,
		     size_t cap)
{
	struct kw w = { out, cap, 0, 0 };
	uint8_t nul = 0;

	if (!out)
		return 0;
	if (authzid)
		put_raw(&w, authzid, strlen(authzid));
	put_raw(&w, &nul, 1);
	if (user)
		put_raw(&w, user, strlen(user));
	put_raw(&w, &nul, 1);
	if (pass)
		put_raw(&w, pass, strlen(pass));
	return w.err ? 0 : w.len;
}

size_t kf_sasl_scram_first(const char *user, const char *nonce, uint8_t *out, size_t cap)
{
	struct kw w = { out, cap, 0, 0 };
	const char *s;

	if (!out)
		return 0;
	put_raw(&w, "n,,n=", 5);
	for (s = user ? user : ""; *s; s++) {
		if (*s == ',')
			put_raw(&w, "=2C", 3);
		else if (*s == '=')
			put_raw(&w, "=3D", 3);
		else
			put_raw(&w, s, 1);
	}
	put_raw(&w, ",r=", 3);
	if (nonce)
		put_raw(&w, nonce, strlen(nonce));
	return w.err ? 0 : w.len;
}

size_t kf_raw_frame(const uint8_t *tok, size_t len, uint8_t *out, size_t cap)
{
	struct kw w = { out, cap, 0, 0 };

	if (!out || len > 0x7fffffff)
		return 0;
	put_i32(&w, (int32_t)len);
	if (len)
		put_raw(&w, tok, len);
	return w.err ? 0 : w.len;
}
