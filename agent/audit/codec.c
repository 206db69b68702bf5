// SPDX-License-Identifier: Apache-2.0
/*
 * The audit record codec: one kg_event -> one JSON object on one line, field names
 * stable and documented in README.md ("The audit record"). Every field is always
 * present (null where it does not apply), so consumers see one schema.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/audit/internal.h"
#include "bpf/kafka_decode.h"

/* ---- the record, written into the caller's buffer ---------------------------------------- */

/* "name": */
static void jw_key(struct kg_buf *w, const char *k)
{
	kg_buf_printf(w, ",\"%s\":", k);
}

/* A string field, null when s is empty. */
static void jw_opt(struct kg_buf *w, const char *k, const char *s)
{
	jw_key(w, k);
	if (s && *s)
		kg_json_cstr(w, s);
	else
		kg_buf_add(w, "null", 4);
}

static void jw_time(struct kg_buf *w, __u64 wall_ns)
{
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	char b[40];

	gmtime_r(&sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	kg_buf_printf(w, ",\"time\":\"%s.%09lluZ\",\"ts_ns\":%llu", b,
	       (unsigned long long)(wall_ns % 1000000000ull), (unsigned long long)wall_ns);
}

static void jw_head(struct kg_buf *w, const char *node, __u64 seq, __u64 wall_ns)
{
	kg_buf_add(w, "{\"node\":", 8);
	kg_json_cstr(w, node ? node : "");
	kg_buf_printf(w, ",\"seq\":%llu", (unsigned long long)seq);
	jw_time(w, wall_ns);
}

static void jw_addr(struct kg_buf *w, const char *k, __u8 family, const __u8 *addr)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, s, sizeof(s)))
		s[0] = 0;
	jw_opt(w, k, s);
}

static void jw_uuid(struct kg_buf *w, const __u8 *u)
{
	kg_buf_printf(w, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", u[0],
	       u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
	       u[14], u[15]);
}

static void jw_sample(struct kg_buf *w, __u32 n)
{
	if (n)
		kg_buf_printf(w, ",\"sample\":%u", n);
	else
		kg_buf_printf(w, ",\"sample\":null"); /* the policy version is not known here */
}

int kg_audit_encode_at(char *buf, size_t len, const struct kg_event *ev,
		       const struct kg_event_names *names, __u64 seq, const char *node,
		       __u64 wall_ns)
{
	static const struct kg_event_names none;
	struct kg_buf w = {.p = buf, .cap = len, .fixed = true};
	const char *api = kafka_api_name(ev->api_key);
	bool has_rule = ev->rule_id != ~0u;

	if (!names)
		names = &none;
	jw_head(&w, node, seq, wall_ns);
	kg_buf_printf(&w, ",\"ktime_ns\":%llu", (unsigned long long)ev->ts_ns);
	jw_key(&w, "kind");
	kg_json_cstr(&w, kg_event_kind_name(ev->kind));
	jw_key(&w, "verdict");
	kg_json_cstr(&w, kg_action_name(ev->verdict));
	kg_buf_printf(&w, ",\"enforced\":%s", ev->enforced ? "true" : "false");
	/* how many decisions this record stands for: allows are sampled (audit.allow) */
	if ((ev->kind == KG_EV_TOPIC || ev->kind == KG_EV_REQUEST) && ev->verdict == KG_ACT_ALLOW &&
	    names->allow_sample != 1)
		jw_sample(&w, names->allow_sample);
	else
		kg_buf_printf(&w, ",\"sample\":1");
	/* the rule's name only when a rule decided: "" from names is no rule */
	jw_opt(&w, "rule", has_rule ? names->rule : NULL);
	if (has_rule)
		kg_buf_printf(&w, ",\"rule_id\":%u", ev->rule_id);
	else
		kg_buf_add(&w, ",\"rule_id\":null", 15);
	jw_opt(&w, "policy_version", names->policy_version);
	kg_buf_printf(&w, ",\"version_id\":%u,\"gen\":%u", ev->version_id, ev->gen);
	kg_buf_printf(&w, ",\"family\":%u", ev->flow.family);
	jw_addr(&w, "src_ip", ev->flow.family, ev->flow.saddr);
	kg_buf_printf(&w, ",\"src_port\":%u", ntohs(ev->flow.sport));
	jw_addr(&w, "dst_ip", ev->flow.family, ev->flow.daddr);
	kg_buf_printf(&w, ",\"dst_port\":%u", ntohs(ev->flow.dport));
	jw_opt(&w, "region", ev->region_id == KG_REGION_NONE ? NULL : names->region);
	kg_buf_printf(&w, ",\"region_id\":%u", ev->region_id);
	/* the principal's own bytes (a SASL user, possibly one no rule names) win */
	jw_key(&w, "principal");
	if (ev->principal_len)
		kg_json_bytes(&w, ev->principal,
		       ev->principal_len < KD_USER_MAX ? ev->principal_len : KD_USER_MAX);
	else if (names->principal[0])
		kg_json_cstr(&w, names->principal);
	else
		kg_buf_add(&w, "null", 4);
	kg_buf_printf(&w, ",\"principal_id\":%u", ev->principal_id);
	jw_key(&w, "principal_source");
	kg_json_cstr(&w, kg_psrc_name(ev->principal_src));
	/* 0xff: the request's client_id was null */
	jw_key(&w, "client_id");
	if (ev->client_id_len == 0xff)
		kg_buf_add(&w, "null", 4);
	else
		kg_json_bytes(&w, ev->client_id,
		       ev->client_id_len < KD_CLIENT_ID_MAX ? ev->client_id_len : KD_CLIENT_ID_MAX);
	kg_buf_printf(&w, ",\"api_key\":%u", ev->api_key);
	jw_opt(&w, "api_name", api);
	kg_buf_printf(&w, ",\"api_version\":%u,\"correlation_id\":%d", ev->api_version, ev->corr);
	jw_key(&w, "operation");
	kg_json_cstr(&w, kg_op_name(ev->op));
	jw_key(&w, "topic");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_NAME))
		kg_json_bytes(&w, ev->topic, ev->topic_len < KD_TOPIC_MAX ? ev->topic_len : KD_TOPIC_MAX);
	else
		kg_buf_add(&w, "null", 4);
	jw_key(&w, "topic_id");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_ID))
		jw_uuid(&w, ev->uuid);
	else
		kg_buf_add(&w, "null", 4);
	jw_key(&w, "reason");
	if (ev->kind == KG_EV_UNDECODABLE)
		kg_json_cstr(&w, kd_reason_name(ev->reason));
	else if (ev->kind == KG_EV_LIMIT)
		kg_json_cstr(&w, kg_limit_name(ev->reason));
	else
		kg_buf_add(&w, "null", 4);
	kg_buf_printf(&w, ",\"bytes\":%u}", ev->frame_size);
	if (w.over)
		return -1;
	buf[w.len] = 0;
	return (int)w.len;
}

int kg_audit_encode(char *buf, size_t len, const struct kg_event *ev,
		    const struct kg_event_names *names, __u64 seq, const char *node)
{
	return kg_audit_encode_at(buf, len, ev, names, seq, node, kg_mono_to_wall(ev->ts_ns));
}

int kg_audit_encode_gap(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			__u64 lost_deny, __u64 lost_allow, __u64 after_seq, const char *reason)
{
	struct kg_buf w = {.p = buf, .cap = len, .fixed = true};

	jw_head(&w, node, seq, wall_ns);
	kg_buf_printf(&w,
	       ",\"kind\":\"gap\",\"lost_deny\":%llu,\"lost_allow\":%llu,\"after_seq\":%llu,"
	       "\"before_seq\":%llu",
	       (unsigned long long)lost_deny, (unsigned long long)lost_allow,
	       (unsigned long long)after_seq, (unsigned long long)seq);
	jw_key(&w, "reason");
	kg_json_cstr(&w, reason);
	kg_buf_add(&w, "}", 1);
	if (w.over)
		return -1;
	buf[w.len] = 0;
	return (int)w.len;
}

int kg_audit_encode_fields(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			   const char *fields, size_t flen)
{
	struct kg_buf w = {.p = buf, .cap = len, .fixed = true};

	jw_head(&w, node, seq, wall_ns);
	kg_buf_add(&w, ",", 1);
	kg_buf_add(&w, fields, flen);
	kg_buf_add(&w, "}", 1);
	if (w.over)
		return -1;
	buf[w.len] = 0;
	return (int)w.len;
}

/* ---- reading our own records back ---------------------------------------------------------- */

/* The value after "field": in rec, or NULL. A quoted "name": only occurs as a key in our
 * encoding: inside strings a quote is always escaped. */
static const char *json_find(const char *rec, size_t len, const char *field)
{
	char pat[64];
	int n = snprintf(pat, sizeof(pat), "\"%s\":", field);

	if (n <= 0 || (size_t)n >= sizeof(pat))
		return NULL;
	for (const char *p = rec; p + n <= rec + len; p++) {
		p = memchr(p, '"', rec + len - p);
		if (!p || p + n > rec + len)
			return NULL;
		if (!memcmp(p, pat, n) && (p == rec || p[-1] != '\\'))
			return p + n;
	}
	return NULL;
}

bool kg_rec_u64(const char *rec, size_t len, const char *field, __u64 *out)
{
	const char *v = json_find(rec, len, field), *end = rec + len;
	__u64 x = 0;

	if (!v || v >= end || *v < '0' || *v > '9')
		return false;
	while (v < end && *v >= '0' && *v <= '9')
		x = x * 10 + (__u64)(*v++ - '0');
	*out = x;
	return true;
}

bool kg_rec_bool(const char *rec, size_t len, const char *field, bool *out)
{
	const char *v = json_find(rec, len, field), *end = rec + len;

	if (v && end - v >= 4 && !memcmp(v, "true", 4)) {
		*out = true;
		return true;
	}
	if (v && end - v >= 5 && !memcmp(v, "false", 5)) {
		*out = false;
		return true;
	}
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool kg_rec_str(const char *rec, size_t len, const char *field, char *out, size_t outlen)
{
	const char *v = json_find(rec, len, field), *end = rec + len;
	size_t o = 0;

	if (!v || v >= end || *v != '"' || !outlen)
		return false;
	for (v++; v < end && *v != '"'; v++) {
		char c = *v;

		if (c == '\\' && v + 1 < end) {
			c = *++v;
			if (c == 'u' && v + 4 < end) {
				/* only \u00XX is ever written: one byte */
				int h = hexval(v[3]), l = hexval(v[4]);

				if (v[1] != '0' || v[2] != '0' || h < 0 || l < 0)
					return false;
				c = (char)(h << 4 | l);
				v += 4;
			}
		}
		if (o + 1 < outlen)
			out[o++] = c;
	}
	out[o] = 0;
	return v < end;
}
