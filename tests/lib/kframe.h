// SPDX-License-Identifier: Apache-2.0
/*
 * kframe: a test-only builder of Kafka request frames.
 *
 * Written by hand from the Kafka message definitions (the *Request.json files and the
 * generated protocol documentation), one function per API with explicit version
 * conditions, so that it is independent of the table-driven decoder it is used to test.
 *
 * Every frame is complete: i32 size prefix, request header (v1, or v2 when the API
 * version is flexible), and the whole request body down to the final tagged-field
 * section.
 */
#ifndef KGATE_TESTS_KFRAME_H
#define KGATE_TESTS_KFRAME_H

#include <stdint.h>
#include <stddef.h>

struct kf_topic {
	const char *name;	/* topic name; NULL when only IDs are used */
	uint8_t id[16];		/* topic ID (written where the version has a UUID) */
	int partitions;		/* partitions written; partition i has index i */
	size_t record_bytes;	/* Produce: records blob size per partition */
};

struct kf_req {
	int16_t api_key, api_version;
	int32_t corr;
	const char *client_id;		/* NULL = null client id */
	const struct kf_topic *topics;
	int ntopics;			/* -1 = null array where allowed */
	const char *group;		/* OffsetCommit/OffsetFetch group (NULL = "") */
	const char *txn_id;		/* Produce / AddPartitionsToTxn txn id */
	const char *mechanism;		/* SaslHandshake (NULL = "PLAIN") */
	const uint8_t *auth;		/* SaslAuthenticate auth_bytes */
	size_t auth_len;
	int resource_type;		/* Describe/AlterConfigs type (2 topic, 4 broker) */
	int extra_tags;			/* flex: unknown tags >= 100 in every TF */
	int ngroups;			/* OffsetFetch v8+: groups; 0 = 1 */

	/* Additions beyond the base API (all optional, zero = default). */
	int known_tags;			/* flex: also write optional known tagged fields */
	const struct kf_topic *forgotten; /* Fetch v7+ forgotten (NULL = topics[0]) */
};

/*
 * Writes one complete frame (i32 size prefix + header + body) into out.
 * Returns the frame length, or 0 if cap is too small or the (api_key, version) is not
 * supported by the builder.
 */
size_t kf_build(const struct kf_req *r, uint8_t *out, size_t cap);

/* Lowest and highest version kf_build supports for api_key; returns 0 if unsupported. */
int kf_versions(int16_t api_key, int16_t *min, int16_t *max);

/* Whether (api_key, version) is a flexible version (header v2, compact types, TF). */
int kf_is_flexible(int16_t api_key, int16_t api_version);

/* Raw SASL tokens (the bytes, not framed). Return the length, or 0 if cap is too small. */
size_t kf_sasl_plain(const char *authzid, const char *user, const char *pass, uint8_t *out,
		     size_t cap);
/* "n,,n=<user>,r=<nonce>"; ',' in user is escaped as =2C and '=' as =3D. */
size_t kf_sasl_scram_first(const char *user, const char *nonce, uint8_t *out, size_t cap);

/* A raw token frame (SaslHandshake v0 style): i32 len + token. */
size_t kf_raw_frame(const uint8_t *tok, size_t len, uint8_t *out, size_t cap);

#endif /* KGATE_TESTS_KFRAME_H */
