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

/* ---- the writer: JSON into the caller's buffer --------------------------------------------- */

/*
 * Records are written piece by piece without printf (its format parsing was most of the
 * agent's CPU per record): each piece checks its room once, and what does not fit sets
 * `over`, so the record is refused at the end (-1), never cut. A new record kind is a
 * function of JW_* members after jw_head(), closed by jw_end().
 */
struct jw {
	char *p, *end; /* the next byte; the last usable one + 1 (a NUL goes there) */
	bool over;
};

static inline char *jw_room(struct jw *w, size_t n)
{
	if (w->over || (size_t)(w->end - w->p) < n) {
		w->over = true;
		return NULL;
	}
	return w->p;
}

static inline void jw_raw(struct jw *w, const void *s, size_t n)
{
	char *p = jw_room(w, n);

	if (p) {
		memcpy(p, s, n);
		w->p += n;
	}
}

/*
 * Room for a piece of at most max bytes: its place, or NULL near the end of the buffer,
 * where the caller writes it into its own storage first and jw_raw takes exactly its
 * length (a record that fits is never refused for a piece's worst case).
 */
static inline char *jw_room_max(struct jw *w, size_t max)
{
	return !w->over && (size_t)(w->end - w->p) >= max ? w->p : NULL;
}

static inline void jw_u64(struct jw *w, __u64 v)
{
	char t[KG_FMT_U64_MAX], *p = jw_room_max(w, KG_FMT_U64_MAX);

	if (p)
		w->p += kg_fmt_u64(p, v);
	else
		jw_raw(w, t, kg_fmt_u64(t, v));
}

static inline void jw_s64(struct jw *w, __s64 v)
{
	if (v < 0) {
		jw_raw(w, "-", 1);
		/* the magnitude of INT64_MIN does not fit an __s64: negated in unsigned */
		jw_u64(w, -(__u64)v);
	} else {
		jw_u64(w, (__u64)v);
	}
}

/* n bytes as a JSON string (agent/lib's one rule for every JSON kgate writes). */
static void jw_bytes(struct jw *w, const void *s, size_t n)
{
	size_t need = KG_JSON_ESCAPED_MAX(n);
	char *p;

	/* near the end of the buffer the exact length may still fit */
	if (!w->over && (size_t)(w->end - w->p) < need)
		need = kg_json_escaped_len(s, n);
	p = jw_room(w, need);
	if (p)
		w->p += kg_json_escape(p, s, n);
}

#define JW_LIT(w, lit) jw_raw(w, lit, sizeof(lit) - 1)
/* ,"name": (every member but the first) */
#define JW_KEY(w, name)	      JW_LIT(w, ",\"" name "\":")
#define JW_NULL(w, name)      JW_LIT(w, ",\"" name "\":null")
#define JW_U64(w, name, v)    (JW_KEY(w, name), jw_u64(w, v))
#define JW_S64(w, name, v)    (JW_KEY(w, name), jw_s64(w, v))
#define JW_BOOL(w, name, v)                                                                        \
	((v) ? JW_LIT(w, ",\"" name "\":true") : JW_LIT(w, ",\"" name "\":false"))
#define JW_BYTES(w, name, s, n) (JW_KEY(w, name), jw_bytes(w, s, n))
/* A C string member; NULL and "" are null (a name that does not apply). */
#define JW_OPT(w, name, s) (JW_KEY(w, name), jw_opt(w, s))

static void jw_opt(struct jw *w, const char *s)
{
	if (s && *s)
		jw_bytes(w, s, strlen(s));
	else
		JW_LIT(w, "null");
}

/*
 * A name from agent/lib's tables (kind, verdict, operation, api...): short plain words,
 * copied as scanned, without the strlen and escaping pass jw_bytes makes. Anything
 * longer than JW_NAME_MAX or with a byte to escape takes jw_bytes (NULL: null).
 */
#define JW_NAME_MAX 48
static void jw_name(struct jw *w, const char *s)
{
	char *p = jw_room_max(w, JW_NAME_MAX + 2);
	size_t i;

	if (!s) {
		JW_LIT(w, "null");
		return;
	}
	if (p) {
		p[0] = '"';
		for (i = 0; i < JW_NAME_MAX && s[i]; i++) {
			char c = s[i];

			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
				break;
			p[1 + i] = c;
		}
		if (!s[i]) {
			p[1 + i] = '"';
			w->p = p + i + 2;
			return;
		}
	}
	jw_bytes(w, s, strlen(s));
}

static void jw_time(struct jw *w, __u64 wall_ns)
{
	/* "2026-11-28T00:29:42.609063102Z" */
	char t[KG_FMT_DATETIME_LEN + 13], *p = jw_room_max(w, sizeof(t));

	if (!p)
		p = t;
	p[0] = '"';
	kg_fmt_datetime(p + 1, wall_ns / 1000000000ull);
	p[1 + KG_FMT_DATETIME_LEN] = '.';
	kg_fmt_ns9(p + 2 + KG_FMT_DATETIME_LEN, (__u32)(wall_ns % 1000000000ull));
	memcpy(p + 11 + KG_FMT_DATETIME_LEN, "Z\"", 2);
	if (p == t)
		jw_raw(w, t, sizeof(t));
	else
		w->p += sizeof(t);
}

/* Every record starts so: {"node":N,"seq":S,"time":T,"ts_ns":W */
static void jw_head(struct jw *w, char *buf, size_t len, const char *node, __u64 seq,
		    __u64 wall_ns)
{
	*w = (struct jw){.p = buf, .end = buf + (len ? len - 1 : 0), .over = !len};
	JW_LIT(w, "{\"node\":");
	jw_bytes(w, node ? node : "", node ? strlen(node) : 0);
	JW_U64(w, "seq", seq);
	JW_KEY(w, "time");
	jw_time(w, wall_ns);
	JW_U64(w, "ts_ns", wall_ns);
}

/* Closes the record: its length, or -1 when it did not fit. */
static int jw_end(struct jw *w, char *buf)
{
	JW_LIT(w, "}");
	if (w->over)
		return -1;
	*w->p = 0;
	return (int)(w->p - buf);
}

static void jw_addr(struct jw *w, __u8 family, const __u8 *addr)
{
	char s[INET6_ADDRSTRLEN + 2], *p;
	size_t n;

	if (family == 6) {
		/* rare enough for inet_ntop, whose zero-run rules are not worth a copy */
		if (!inet_ntop(AF_INET6, addr, s, sizeof(s)))
			s[0] = 0;
		jw_opt(w, s);
		return;
	}
	p = jw_room_max(w, KG_FMT_IPV4_MAX + 2);
	if (!p)
		p = s;
	p[0] = '"';
	n = 1 + kg_fmt_ipv4(p + 1, addr);
	p[n++] = '"';
	if (p == s)
		jw_raw(w, s, n);
	else
		w->p += n;
}

static void jw_uuid(struct jw *w, const __u8 *u)
{
	/* "10111213-1415-1617-1819-1a1b1c1d1e1f" */
	char *p = jw_room(w, 38);

	if (!p)
		return;
	p[0] = '"';
	kg_fmt_hex(p + 1, u, 4);
	p[9] = '-';
	kg_fmt_hex(p + 10, u + 4, 2);
	p[14] = '-';
	kg_fmt_hex(p + 15, u + 6, 2);
	p[19] = '-';
	kg_fmt_hex(p + 20, u + 8, 2);
	p[24] = '-';
	kg_fmt_hex(p + 25, u + 10, 6);
	p[37] = '"';
	w->p = p + 38;
}

/* ---- the records -------------------------------------------------------------------------- */

static size_t clamp(size_t n, size_t max)
{
	return n < max ? n : max;
}

int kg_audit_encode_at(char *buf, size_t len, const struct kg_event *ev,
		       const struct kg_event_names *names, __u64 seq, const char *node,
		       __u64 wall_ns)
{
	static const struct kg_event_names none;
	bool has_rule = ev->rule_id != ~0u;
	struct jw w;
	__u64 span;

	if (!names)
		names = &none;
	jw_head(&w, buf, len, node, seq, wall_ns);
	JW_U64(&w, "ktime_ns", ev->ts_ns);
	JW_KEY(&w, "kind");
	jw_name(&w, kg_event_kind_name(ev->kind));
	JW_KEY(&w, "verdict");
	jw_name(&w, kg_action_name(ev->verdict));
	JW_BOOL(&w, "enforced", ev->enforced);
	/* how many decisions this record stands for: allows are sampled (audit.allow); 0 is
	 * a policy version not known here */
	if ((ev->kind == KG_EV_TOPIC || ev->kind == KG_EV_REQUEST) && ev->verdict == KG_ACT_ALLOW &&
	    names->allow_sample != 1) {
		if (names->allow_sample)
			JW_U64(&w, "sample", names->allow_sample);
		else
			JW_NULL(&w, "sample");
	} else {
		JW_LIT(&w, ",\"sample\":1");
	}
	/* identical decisions folded into this record (bpf/fold.h), first and last; the others
	 * of the connection it carries that were past its event budget */
	JW_U64(&w, "count", kg_event_count(ev));
	span = ev->first_ts && ev->first_ts <= ev->ts_ns ? ev->ts_ns - ev->first_ts : 0;
	JW_U64(&w, "first_ts", span < wall_ns ? wall_ns - span : 0);
	JW_U64(&w, "last_ts", wall_ns);
	JW_U64(&w, "folded", ev->folded);
	JW_U64(&w, "folded_deny", ev->folded_deny);
	/* the rule's name only when a rule decided: "" from names is no rule */
	JW_OPT(&w, "rule", has_rule ? names->rule : NULL);
	if (has_rule)
		JW_U64(&w, "rule_id", ev->rule_id);
	else
		JW_NULL(&w, "rule_id");
	JW_OPT(&w, "policy_version", names->policy_version);
	JW_U64(&w, "version_id", ev->version_id);
	JW_U64(&w, "gen", ev->gen);
	JW_U64(&w, "family", ev->flow.family);
	JW_KEY(&w, "src_ip");
	jw_addr(&w, ev->flow.family, ev->flow.saddr);
	JW_U64(&w, "src_port", ntohs(ev->flow.sport));
	JW_KEY(&w, "dst_ip");
	jw_addr(&w, ev->flow.family, ev->flow.daddr);
	JW_U64(&w, "dst_port", ntohs(ev->flow.dport));
	JW_OPT(&w, "region", ev->region_id == KG_REGION_NONE ? NULL : names->region);
	JW_U64(&w, "region_id", ev->region_id);
	/* the principal's own bytes (a SASL user, possibly one no rule names) win */
	if (ev->principal_len)
		JW_BYTES(&w, "principal", ev->principal, clamp(ev->principal_len, KD_USER_MAX));
	else
		JW_OPT(&w, "principal", names->principal);
	JW_U64(&w, "principal_id", ev->principal_id);
	JW_KEY(&w, "principal_source");
	jw_name(&w, kg_psrc_name(ev->principal_src));
	/* 0xff: the request's client_id was null */
	if (ev->client_id_len == 0xff)
		JW_NULL(&w, "client_id");
	else
		JW_BYTES(&w, "client_id", ev->client_id,
			 clamp(ev->client_id_len, KD_CLIENT_ID_MAX));
	JW_U64(&w, "api_key", ev->api_key);
	JW_KEY(&w, "api_name");
	jw_name(&w, kafka_api_name(ev->api_key));
	JW_U64(&w, "api_version", ev->api_version);
	JW_S64(&w, "correlation_id", ev->corr);
	JW_KEY(&w, "operation");
	jw_name(&w, kg_op_name(ev->op));
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_NAME))
		JW_BYTES(&w, "topic", ev->topic, clamp(ev->topic_len, KD_TOPIC_MAX));
	else
		JW_NULL(&w, "topic");
	JW_KEY(&w, "topic_id");
	if (ev->kind == KG_EV_TOPIC && (ev->tkind & KD_TK_ID))
		jw_uuid(&w, ev->uuid);
	else
		JW_LIT(&w, "null");
	JW_KEY(&w, "reason");
	jw_name(&w, ev->kind == KG_EV_UNDECODABLE ? kd_reason_name(ev->reason)
		    : ev->kind == KG_EV_LIMIT     ? kg_limit_name(ev->reason)
						  : NULL);
	JW_U64(&w, "bytes", ev->frame_size);
	return jw_end(&w, buf);
}

int kg_audit_encode(char *buf, size_t len, const struct kg_event *ev,
		    const struct kg_event_names *names, __u64 seq, const char *node)
{
	return kg_audit_encode_at(buf, len, ev, names, seq, node, kg_mono_to_wall(ev->ts_ns));
}

int kg_audit_encode_gap(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			__u64 lost_deny, __u64 lost_allow, __u64 after_seq, const char *reason)
{
	struct jw w;

	jw_head(&w, buf, len, node, seq, wall_ns);
	JW_LIT(&w, ",\"kind\":\"gap\"");
	JW_U64(&w, "lost_deny", lost_deny);
	JW_U64(&w, "lost_allow", lost_allow);
	JW_U64(&w, "after_seq", after_seq);
	JW_U64(&w, "before_seq", seq);
	JW_KEY(&w, "reason");
	jw_bytes(&w, reason, strlen(reason));
	return jw_end(&w, buf);
}

int kg_audit_encode_fields(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			   const char *fields, size_t flen)
{
	struct jw w;

	jw_head(&w, buf, len, node, seq, wall_ns);
	JW_LIT(&w, ",");
	jw_raw(&w, fields, flen);
	return jw_end(&w, buf);
}

/* ---- reading our own records back ---------------------------------------------------------- */

/* The value after "field": in rec, or NULL. A quoted "name": only occurs as a key in our
 * encoding: inside strings a quote is always escaped. (The sender reads two fields of
 * every record it sends: no pattern is formatted, quotes are found by memchr.) */
static const char *json_find(const char *rec, size_t len, const char *field)
{
	const char *p = rec, *end = rec + len;
	size_t n = strlen(field);

	while (p < end && (p = memchr(p, '"', end - p))) {
		if ((size_t)(end - p) >= n + 3 && p[n + 1] == '"' && p[n + 2] == ':' &&
		    !memcmp(p + 1, field, n) && (p == rec || p[-1] != '\\'))
			return p + n + 3;
		p++;
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

bool kg_rec_raw(const char *rec, size_t len, const char *field, const char **val, size_t *vlen)
{
	const char *v = json_find(rec, len, field), *end = rec + len, *p;

	if (!v || v >= end)
		return false;
	p = v;
	if (*p == '"') {
		/* to the closing quote: every quote inside is escaped, and so is every backslash */
		for (p++; p < end && *p != '"'; p++)
			if (*p == '\\')
				p++;
		if (p >= end)
			return false;
		p++;
	} else {
		while (p < end && *p != ',' && *p != '}')
			p++;
	}
	*val = v;
	*vlen = p - v;
	return true;
}
