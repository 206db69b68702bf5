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
#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"

#define KG_NAME_ENTRY(sym, name) [sym] = name,
static const char *const action_names[] = {KG_ACTIONS(KG_NAME_ENTRY)};
static const char *const psrc_names[] = {KG_PSRCS(KG_NAME_ENTRY)};

const char *kg_action_name(unsigned int action)
{
	return action < KG_ACT__COUNT ? action_names[action] : "unknown";
}

const char *kg_psrc_name(unsigned int src)
{
	return src < KG_PSRC__COUNT ? psrc_names[src] : "unknown";
}

const char *kg_audit_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[KG_EV_TOPIC] = "topic",
		[KG_EV_REQUEST] = "request",
		[KG_EV_UNDECODABLE] = "undecodable",
		[KG_EV_CONNECTION] = "connection",
		[KG_EV_SESSION] = "session",
	};
	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "unknown";
}

__u64 kg_wall_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__u64 kg_mono_to_wall(__u64 mono_ns)
{
	struct timespec m;
	__u64 now_mono, now_wall = kg_wall_now_ns();

	clock_gettime(CLOCK_MONOTONIC, &m);
	now_mono = (__u64)m.tv_sec * 1000000000ull + m.tv_nsec;
	/* an event is never from the future; a clock step backwards must not wrap */
	if (mono_ns > now_mono)
		mono_ns = now_mono;
	return now_wall > now_mono - mono_ns ? now_wall - (now_mono - mono_ns) : 0;
}

/* ---- a bounded writer ------------------------------------------------------------------ */

struct jw {
	char *p;
	size_t len, cap;
	bool over;
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->over || w->len + n >= w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void jw_fmt(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw_fmt(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len)
		w->over = true;
	else
		w->len += n;
}

/* Length of a valid UTF-8 sequence at p (overlongs, surrogates and > U+10FFFF are not
 * valid), or 0. */
static size_t utf8_len(const __u8 *p, size_t n)
{
	__u32 cp;
	size_t need;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	need = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (need > n)
		return 0;
	cp = p[0] & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/*
 * A JSON string of n bytes. Valid UTF-8 passes through; quotes, backslashes, control
 * bytes and DEL are escaped; a byte that is not part of valid UTF-8 is written as
 * \u00XX (its Latin-1 reading), so every record is valid JSON whatever the wire held.
 */
static void jw_str(struct jw *w, const __u8 *s, size_t n)
{
	jw_raw(w, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t u;

		if (s[i] == '"' || s[i] == '\\') {
			char e[2] = {'\\', (char)s[i]};

			jw_raw(w, e, 2);
			i++;
		} else if (s[i] >= 0x20 && s[i] < 0x7f) {
			jw_raw(w, (const char *)s + i, 1);
			i++;
		} else if (s[i] >= 0x80 && (u = utf8_len(s + i, n - i))) {
			jw_raw(w, (const char *)s + i, u);
			i += u;
		} else {
			jw_fmt(w, "\\u%04x", s[i]);
			i++;
		}
	}
	jw_raw(w, "\"", 1);
}

static void jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, (const __u8 *)s, strlen(s));
}

/* "name": */
static void jw_key(struct jw *w, const char *k)
{
	jw_fmt(w, ",\"%s\":", k);
}

/* A string field, null when s is empty. */
static void jw_opt(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	if (s && *s)
		jw_cstr(w, s);
	else
		jw_raw(w, "null", 4);
}

static void jw_time(struct jw *w, __u64 wall_ns)
{
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	char b[40];

	gmtime_r(&sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	jw_fmt(w, ",\"time\":\"%s.%09lluZ\",\"ts_ns\":%llu", b,
	       (unsigned long long)(wall_ns % 1000000000ull), (unsigned long long)wall_ns);
}

static void jw_head(struct jw *w, const char *node, __u64 seq, __u64 wall_ns)
{
	jw_raw(w, "{\"node\":", 8);
	jw_cstr(w, node ? node : "");
	jw_fmt(w, ",\"seq\":%llu", (unsigned long long)seq);
	jw_time(w, wall_ns);
}

static void jw_addr(struct jw *w, const char *k, __u8 family, const __u8 *addr)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, s, sizeof(s)))
		s[0] = 0;
	jw_opt(w, k, s);
}

static void jw_uuid(struct jw *w, const __u8 *u)
{
	jw_fmt(w, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", u[0],
	       u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
	       u[14], u[15]);
}

int kg_audit_encode_at(char *buf, size_t len, const struct kg_event *ev,
		       const struct kg_event_names *names, __u64 seq, const char *node,
		       __u64 wall_ns)
{
	static const struct kg_event_names none;
	struct jw w = {.p = buf, .cap = len};
	const char *api = kafka_api_name(ev->api_key);
	bool has_rule = ev->rule_id != ~0u;

	if (!names)
		names = &none;
	jw_head(&w, node, seq, wall_ns);
	jw_fmt(&w, ",\"ktime_ns\":%llu", (unsigned long long)ev->ts_ns);
	jw_key(&w, "kind");
	jw_cstr(&w, kg_audit_kind_name(ev->kind));
	jw_key(&w, "verdict");
	jw_cstr(&w, kg_action_name(ev->verdict));
	jw_fmt(&w, ",\"enforced\":%s", ev->enforced ? "true" : "false");
	/* the rule's name only when a rule decided: "" from names is no rule */
	jw_opt(&w, "rule", has_rule ? names->rule : NULL);
	if (has_rule)
		jw_fmt(&w, ",\"rule_id\":%u", ev->rule_id);
	else
		jw_raw(&w, ",\"rule_id\":null", 15);
	jw_opt(&w, "policy_version", names->policy_version);
	jw_fmt(&w, ",\"version_id\":%u,\"gen\":%u", ev->version_id, ev->gen);
	jw_fmt(&w, ",\"family\":%u", ev->flow.family);
	jw_addr(&w, "src_ip", ev->flow.family, ev->flow.saddr);
	jw_fmt(&w, ",\"src_port\":%u", ntohs(ev->flow.sport));
	jw_addr(&w, "dst_ip", ev->flow.family, ev->flow.daddr);
	jw_fmt(&w, ",\"dst_port\":%u", ntohs(ev->flow.dport));
	jw_opt(&w, "region", ev->region_id == KG_REGION_NONE ? NULL : names->region);
	jw_fmt(&w, ",\"region_id\":%u", ev->region_id);
	/* the principal's own bytes (a SASL user, possibly one no rule names) win */
	jw_key(&w, "principal");
	if (ev->principal_len)
		jw_str(&w, ev->principal,
		       ev->principal_len < KD_USER_MAX ? ev->principal_len : KD_USER_MAX);
	else if (names->principal[0])
		jw_cstr(&w, names->principal);
	else
		jw_raw(&w, "null", 4);
	jw_fmt(&w, ",\"principal_id\":%u", ev->principal_id);
	jw_key(&w, "principal_source");
	jw_cstr(&w, kg_psrc_name(ev->principal_src));
	/* 0xff: the request's client_id was null */
	jw_key(&w, "client_id");
	if (ev->client_id_len == 0xff)
		jw_raw(&w, "null", 4);
	else
		jw_str(&w, ev->client_id,
		       ev->client_id_len < KD_CLIENT_ID_MAX ? ev->client_id_len : KD_CLIENT_ID_MAX);
	jw_fmt(&w, ",\"api_key\":%u", ev->api_key);
	jw_opt(&w, "api_name", api);
	jw_fmt(&w, ",\"api_version\":%u,\"correlation_id\":%d", ev->api_version, ev->corr);
	jw_key(&w, "operation");
	jw_cstr(&w, kg_op_name(ev->op));
	jw_key(&w, "topic");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_NAME))
		jw_str(&w, ev->topic, ev->topic_len < KD_TOPIC_MAX ? ev->topic_len : KD_TOPIC_MAX);
	else
		jw_raw(&w, "null", 4);
	jw_key(&w, "topic_id");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_ID))
		jw_uuid(&w, ev->uuid);
	else
		jw_raw(&w, "null", 4);
	jw_key(&w, "reason");
	if (ev->kind == KG_EV_UNDECODABLE)
		jw_cstr(&w, kd_reason_name(ev->reason));
	else
		jw_raw(&w, "null", 4);
	jw_fmt(&w, ",\"bytes\":%u}", ev->frame_size);
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
	struct jw w = {.p = buf, .cap = len};

	jw_head(&w, node, seq, wall_ns);
	jw_fmt(&w,
	       ",\"kind\":\"gap\",\"lost_deny\":%llu,\"lost_allow\":%llu,\"after_seq\":%llu,"
	       "\"before_seq\":%llu",
	       (unsigned long long)lost_deny, (unsigned long long)lost_allow,
	       (unsigned long long)after_seq, (unsigned long long)seq);
	jw_key(&w, "reason");
	jw_cstr(&w, reason);
	jw_raw(&w, "}", 1);
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

bool kg_json_u64(const char *rec, size_t len, const char *field, __u64 *out)
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

bool kg_json_bool(const char *rec, size_t len, const char *field, bool *out)
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

bool kg_json_str(const char *rec, size_t len, const char *field, char *out, size_t outlen)
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
