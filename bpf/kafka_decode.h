/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The streaming Kafka request decoder: one source for the BPF programs and the
 * host (tests, fuzzers, `kgate decode`).
 *
 * It is fed the client->broker byte stream of one connection in chunks of any size
 * and keeps everything it needs between chunks in struct kd_state (maps/kgate_abi.h):
 * a frame never has to start at a chunk boundary or fit in one. Each call of
 * kd_step() does one bounded piece of work (one field, one skip, one byte of a SASL
 * token) and returns either an event (a header, a topic, a SASL fact, a frame end,
 * an error) or "continue"/"need more". Record batches and other payloads are
 * skipped by their length and never read.
 *
 * The includer defines where the bytes are and how they are fetched:
 *   KD_CTX                       the context type (struct xdp_md *, struct __sk_buff *)
 *   KD_LOAD(ctx, s, off, dst, len)  copy len (1..KD_WIN) bytes at absolute offset off
 *                                of ctx into dst; 0 on success (s: the kd_src being
 *                                read, for an includer that keeps a window of it)
 * The host build (no __bpf__) defines them over a plain buffer.
 *
 * Verifier notes: every copy into a kd_state buffer indexes it with a masked offset
 * and a length clamped to KD_WIN, and each buffer has KD_WIN bytes of slack, so the
 * verifier can prove the access in bounds without tracking the relation between
 * the two.
 */
#ifndef KAFKA_DECODE_H
#define KAFKA_DECODE_H

#include "../maps/kgate_abi.h"
#include "kafka_layouts.h"

#include <stdbool.h>
#ifndef __bpf__
#include <string.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

#ifdef __clang__
#define KD_UNROLL _Pragma("unroll")
#else
#define KD_UNROLL
#endif

/*
 * Clamps v to max where the verifier can see it: clang otherwise may test a copy
 * of v and use the original, and the verifier loses the bound.
 */
#ifdef __bpf__
#define KD_CLAMP(v, max) asm volatile("if %0 <= %1 goto +1; %0 = %1" : "+r"(v) : "i"(max))
#else
#define KD_CLAMP(v, max)                                                                           \
	do {                                                                                       \
		if ((v) > (max))                                                                   \
			(v) = (max);                                                               \
	} while (0)
#endif

/*
 * 8 bytes at any address of a map value, as one load or store. clang's BPF backend
 * turns a memcpy it cannot prove aligned into eight byte loads, shifts and ors (measured:
 * 5 times slower hashing); the verifier allows unaligned map-value access on CPUs that
 * do it efficiently (x86-64, arm64), never on the stack, which callers must not pass.
 */
#ifdef __bpf__
#define KD_LD64(p) (*(const __u64 *)(const void *)(p))
#define KD_ST64(p, v) (*(__u64 *)(void *)(p) = (v))
#else
static inline __u64 KD_LD64(const void *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return v;
}
#define KD_ST64(p, v)                                                                              \
	do {                                                                                       \
		__u64 v_ = (v);                                                                    \
		memcpy((p), &v_, 8);                                                               \
	} while (0)
#endif

/* n bytes (a constant multiple of 8) between map values, a word at a time. */
#define KD_COPY64(dst, src, n)                                                                     \
	do {                                                                                       \
		KD_UNROLL                                                                          \
		for (int w_ = 0; w_ < (int)(n) / 8; w_++)                                          \
			KD_ST64((__u8 *)(dst) + w_ * 8, KD_LD64((const __u8 *)(src) + w_ * 8));    \
	} while (0)

/* A chunk of the stream: bytes [off, end) of the context. */
struct kd_src {
	__u32 off;
	__u32 end;
	__u32 step; /* off when the current kd_step began (kd_frame_pos) */
#ifdef KD_SRC_EXTRA
	KD_SRC_EXTRA /* the includer's own fields (e.g. a window of the chunk's bytes) */
#endif
};

#ifndef KD_LOAD
#ifdef __bpf__
#error "define KD_CTX and KD_LOAD(ctx, s, off, dst, len) before including kafka_decode.h"
#else
#define KD_CTX const __u8 *
#define KD_LOAD(ctx, s, off, dst, len) (memcpy((dst), (ctx) + (off), (len)), 0)
#endif
#endif

/*
 * The larger steps are separate functions in BPF: global functions are verified
 * once each, on their own, so the verifier's work adds up instead of multiplying
 * across every path through the interpreter. Their pointer arguments may be null
 * as far as the verifier knows, hence the checks at their tops.
 */
#ifdef __bpf__
#define KD_FUNC __attribute__((noinline))
#else
#define KD_FUNC static inline
#endif

/* What kd_step() reports. Event data is read from the state right after. */
enum kd_event {
	KD_EV_NEED_MORE = 0, /* the chunk is used up */
	KD_EV_CONTINUE,      /* progress, nothing to report */
	KD_EV_FRAME,         /* request header decoded: api_key, api_version, corr, client_id */
	KD_EV_TOPIC,         /* a topic entry: name and/or uuid (kd_state.tkind) */
	KD_EV_GROUP,         /* a group id, in name */
	KD_EV_SASL_MECH,     /* SaslHandshake mechanism: mech, mech_name */
	KD_EV_SASL_USER,     /* SASL user name (PLAIN authcid, SCRAM n=), in user */
	KD_EV_FRAME_END,     /* the last byte of the current frame was consumed */
	KD_EV_ERROR,         /* decoding ended: kd_state.reason */
	KD_EV_SESSION,       /* Fetch v7+ session: sess_id, sess_epoch (sess_off if KD_H_SESSION);
			      * ShareFetch: sess_epoch at sess_off, the member id (kd_op1) */
	KD_EV_RESP,          /* response mode: corr read; the caller sets api_key, api_version,
			      * rprog/rprog_len (kd_resp_begin), or leaves rprog_len 0 to skip */
	KD_EV_ERRCODE,       /* response mode: an error_code (err_code; err_off if KD_H_ERR) */
	KD_EV_TERRCODE,      /* response mode: a topic's error_code that precedes its name */
	KD_EV_RAWRESP,       /* response mode: a raw SASL token from the broker (err_code) */
	KD_EV_TSET,          /* the request is about a set of topics (kd_state.tset, KD_TS_*;
			      * name for a prefix, match or regex), not a list of names */
	KD_EV_CURSOR,        /* a DescribeTopicPartitions (next) cursor's topic name, in name */
	KD_EV_ENTRY,         /* response mode: a topic entry ended here; it began at frame
			      * offset ent_begin, it ends at kd_frame_pos() */
	KD_EV_RESOURCE,      /* a request's ACL or config resource that is not (only) a topic:
			      * the cluster, a group, a broker... (kd_state.rtype, its type) */
};

/* kd_state.tkind for KD_EV_TOPIC. */
#define KD_TK_NAME 0x01 /* name[0..name_len) holds the topic name */
#define KD_TK_ID 0x02   /* uuid holds a non-zero topic id */
#define KD_TK_ZID 0x04  /* response mode: an entry by the all-zero id and no name (a
			 * rejected id-only topic, poisoned to zero, as the broker echoes it) */

/* Body ops run per kd_step() at most (see kd_op). */
#define KD_OPS_PER_STEP 8

/* Internal results of the field readers: 1 done, 0 need more, <0 -reason. */
#define KD_DONE 1
#define KD_MORE 0

static __always_inline __u32 kd_avail(const struct kd_src *s)
{
	return s->end > s->off ? s->end - s->off : 0;
}

/*
 * Where the decoder stands, as an offset from the first byte of the current frame (its
 * size field): inside a step (s->step is where the step began, frame_rem counts the
 * frame's bytes consumed before it) ...
 */
static __always_inline __u32 kd_fpos(const struct kd_state *st, const struct kd_src *s)
{
	return 4 + st->frame_size - st->frame_rem + (s->off - s->step);
}

/*
 * ... and after kd_step returned an event: the frame offset of the chunk's s->off. A
 * frame offset X lies at chunk offset s->off - (kd_frame_pos(st) - X), in an earlier
 * chunk when that is below the chunk's start (KD_EV_ENTRY's ent_begin may be).
 */
static __always_inline __u32 kd_frame_pos(const struct kd_state *st)
{
	return 4 + st->frame_size - st->frame_rem;
}

/* Skips what the chunk holds of a pending length skip; returns the bytes skipped. */
static __always_inline __u32 kd_skip(struct kd_state *st, struct kd_src *s)
{
	__u32 n = kd_avail(s);

	if (n > st->skip)
		n = st->skip;
	s->off += n;
	st->skip -= n;
	return n;
}

/* Ends decoding for the flow. */
static __always_inline int kd_fatal(struct kd_state *st, int reason)
{
	st->phase = KD_PH_DEAD;
	st->reason = reason;
	return KD_EV_ERROR;
}

/*
 * A frame that cannot be decoded. Its size is known, so the decoder skips what is
 * left of it and resumes at the next frame (kd_step arms the skip once this step's
 * bytes are accounted). Before a frame has started there is nothing to skip to.
 */
static __always_inline int kd_fail(struct kd_state *st, int reason)
{
	if (st->phase == KD_PH_SIZE || st->phase == KD_PH_DEAD || reason == KD_ERR_BOUND)
		return kd_fatal(st, reason);
	st->phase = KD_PH_RESYNC;
	st->sub = 0;
	st->flags &= ~KD_F_IN_TF; /* the error may come from inside a tagged-field section */
	st->reason = reason;
	return KD_EV_ERROR;
}

/* Big-endian fields of st->carry (a map value in BPF: one load and a byte swap). */
#if defined(__bpf__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static __always_inline __u16 kd_be16(const __u8 *p)
{
	return __builtin_bswap16(*(const __u16 *)(const void *)p);
}

static __always_inline __u32 kd_be32(const __u8 *p)
{
	return __builtin_bswap32(*(const __u32 *)(const void *)p);
}
#else
static __always_inline __u16 kd_be16(const __u8 *p)
{
	return (__u16)((p[0] << 8) | p[1]);
}

static __always_inline __u32 kd_be32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}
#endif

static __always_inline bool kd_flex(const struct kd_state *st)
{
	return st->flags & KD_F_FLEX;
}

/*
 * Gathers an n-byte fixed field (n <= KD_CARRY_MAX) into st->carry, across chunks
 * if need be. The frame accounting is charged when the field starts, so a field
 * that would run past the frame end fails at once.
 */
static __always_inline int kd_fixed(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u32 n)
{
	__u32 have = st->carry_len, want;

	if (!kd_avail(s))
		return KD_MORE;
	if (have == 0) {
		if (n > st->frame_left && st->phase != KD_PH_SIZE)
			return -KD_ERR_TRUNCATED;
		if (st->phase != KD_PH_SIZE)
			st->frame_left -= n;
	}
	want = n - have;
	if (want > kd_avail(s))
		want = kd_avail(s);
	KD_CLAMP(want, KD_CARRY_MAX);
	if (want == 0)
		return KD_MORE;
	if (KD_LOAD(ctx, s, s->off, &st->carry[have & (KD_CARRY_MAX - 1)], want))
		return -KD_ERR_BOUND;
	s->off += want;
	st->carry_len = have + want;
	if (st->carry_len < n)
		return KD_MORE;
	st->carry_len = 0;
	return KD_DONE;
}

/*
 * Reads an unsigned varint (at most 5 bytes; a 5th byte with its high bit set is
 * KD_ERR_VARINT, as in Kafka's ByteUtils). The value so far waits in st->uv and the
 * byte count in st->carry_len, so a varint may straddle chunks.
 */
static __always_inline int kd_uvarint(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u32 *out)
{
	__u8 b, i;

	KD_UNROLL
	for (int k = 0; k < 5; k++) {
		if (!kd_avail(s))
			return KD_MORE;
		if (!st->frame_left)
			return -KD_ERR_TRUNCATED;
		if (KD_LOAD(ctx, s, s->off, &b, 1))
			return -KD_ERR_BOUND;
		s->off++;
		st->frame_left--;
		i = st->carry_len;
		if (i == 0)
			st->uv = 0;
		if (i > 4)
			return -KD_ERR_VARINT;
		st->uv |= (__u32)(b & 0x7f) << (7 * i);
		st->carry_len = i + 1;
		if (b & 0x80) {
			if (i == 4)
				return -KD_ERR_VARINT;
			continue;
		}
		st->carry_len = 0;
		*out = st->uv;
		return KD_DONE;
	}
	return KD_MORE;
}

/*
 * Reads a length or count prefix: i16 (width 2) or i32 (width 4) in classic
 * versions, uvarint N+1 in flexible ones. *len is -1 for null.
 */
static __always_inline int kd_len(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u32 width, __s32 *len)
{
	__u32 u;
	int r;

	if (kd_flex(st)) {
		r = kd_uvarint(ctx, st, s, &u);
		if (r != KD_DONE)
			return r;
		if (u > 0x7fffffffu)
			return -KD_ERR_LEN_OVER;
		*len = (__s32)u - 1;
		return KD_DONE;
	}
	r = kd_fixed(ctx, st, s, width);
	if (r != KD_DONE)
		return r;
	*len = width == 2 ? (__s32)(__s16)kd_be16(st->carry) : (__s32)kd_be32(st->carry);
	return KD_DONE;
}

/*
 * Checks a string/bytes length against nullability, the frame and a limit, and
 * charges it to the frame. Returns 1 (non-null), 2 (null) or -reason.
 */
static __always_inline int kd_check_len(struct kd_state *st, __s32 len, __u8 null_from, __u32 limit)
{
	if (len == -1 && st->api_version >= null_from)
		return 2;
	if (len < 0)
		return -KD_ERR_NEG_LEN;
	if ((__u32)len > limit || (__u32)len > st->frame_left)
		return -KD_ERR_LEN_OVER;
	st->frame_left -= len;
	return 1;
}

/* Starts a tagged-field section; kd_tagged() reads it before anything else. */
static __always_inline int kd_begin_tf(struct kd_state *st)
{
	st->flags |= KD_F_IN_TF;
	st->tf_sub = 0;
	return KD_EV_CONTINUE;
}

/*
 * Whether the tagged field at hand (st->tf_tag) of size bytes is one the broker would read
 * otherwise than by its size (kd_known_tags): requests only, in their bodies. Responses
 * come from the broker, which writes each field at its type's size.
 */
static __always_inline bool kd_tag_misfits(const struct kd_state *st, __u32 size)
{
	if (st->resp || st->phase != KD_PH_BODY)
		return false;
	KD_UNROLL
	for (__u32 i = 0; i < KD_KNOWN_TAGS; i++) {
		const struct kd_known_tag *k = &kd_known_tags[i];

		if (st->api_key == k->key && st->depth == k->depth && st->tf_tag == k->tag &&
		    st->api_version >= k->vmin && size != k->size)
			return true;
	}
	return false;
}

/* uvarint count, then per field: uvarint tag, uvarint size, size bytes (skipped). */
KD_FUNC int kd_tagged(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__u32 v;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (st->tf_sub == 1 && st->tf_left == 0) {
		st->flags &= ~KD_F_IN_TF;
		return KD_EV_CONTINUE;
	}
	r = kd_uvarint(ctx, st, s, &v);
	if (r < 0)
		return kd_fail(st, -r);
	if (r == KD_MORE)
		return KD_EV_NEED_MORE;
	switch (st->tf_sub) {
	case 0:
		if (v > KD_MAX_ARRAY_ENTRIES)
			return kd_fail(st, KD_ERR_ARRAY_OVER);
		st->tf_left = v;
		st->tf_sub = 1;
		break;
	case 1: /* tag number: any, unknown tags are skipped by size */
		st->tf_tag = v > 255 ? 255 : v;
		st->tf_sub = 2;
		break;
	default:
		if (v > st->frame_left)
			return kd_fail(st, KD_ERR_LEN_OVER);
		/* a tag the broker knows, of another size: the two would part ways */
		if (kd_tag_misfits(st, v))
			return kd_fail(st, KD_ERR_LEN_OVER);
		st->frame_left -= v;
		st->skip = v;
		st->tf_left--;
		st->tf_sub = 1;
		break;
	}
	return KD_EV_CONTINUE;
}

/* SASL token parse states (kd_state.sasl_ps). */
enum {
	KD_SP_PLAIN_AUTHZ = 0, /* PLAIN: authzid up to the first NUL */
	KD_SP_PLAIN_USER,      /* PLAIN: authcid up to the second NUL */
	KD_SP_SCRAM_GS2 = 8,   /* SCRAM: gs2 cbind flag up to ',' */
	KD_SP_SCRAM_AUTHZ,     /* SCRAM: gs2 authzid up to ',' */
	KD_SP_SCRAM_ATTR,      /* SCRAM: an attribute name */
	KD_SP_SCRAM_EXT,       /* SCRAM: m=... up to ',' */
	KD_SP_SCRAM_EQ,        /* SCRAM: '=' after 'n' */
	KD_SP_SCRAM_USER,      /* SCRAM: saslname up to ',' */
	KD_SP_SCRAM_ESC,       /* SCRAM: after '=' in saslname */
	KD_SP_SCRAM_ESC2C,     /* SCRAM: after "=2" */
	KD_SP_SCRAM_ESC3D,     /* SCRAM: after "=3" */
	KD_SP_SCRAM_TAIL = 0x20, /* SCRAM: after the user, + chars of ",tokenauth=true" matched */
	KD_SP_DONE = 0x40,     /* user complete or token malformed: skip the rest */
};

/*
 * The SCRAM extension that makes the name a delegation token id (ScramExtensions):
 * ",tokenauth=true". A switch, not a string: BPF objects get no function-local data.
 */
#define KD_TOKENAUTH_LEN 15
static __always_inline __u8 kd_tokenauth_char(__u8 k)
{
	switch (k) {
	case 0: return ',';
	case 1: return 't';
	case 2: return 'o';
	case 3: return 'k';
	case 4: return 'e';
	case 5: return 'n';
	case 6: return 'a';
	case 7: return 'u';
	case 8: return 't';
	case 9: return 'h';
	case 10: return '=';
	case 11: return 't';
	case 12: return 'r';
	case 13: return 'u';
	default: return 'e';
	}
}

static __always_inline void kd_user_put(struct kd_state *st, __u8 c)
{
	if (st->user_len < KD_USER_MAX)
		st->user[st->user_len++ & (KD_USER_MAX - 1)] = c;
	else
		st->flags |= KD_F_TRUNC;
}

/*
 * One byte of a SASL token. Returns 1 when the user name is complete, -1 when the
 * token is not what the mechanism expects (no user is reported), 0 to go on.
 * The PLAIN password and the SCRAM nonce come after the terminator and are never
 * read: the caller skips them by length.
 */
static __always_inline int kd_sasl_byte(struct kd_state *st, __u8 c)
{
	switch (st->sasl_ps) {
	case KD_SP_PLAIN_AUTHZ:
		if (c == 0)
			st->sasl_ps = KD_SP_PLAIN_USER;
		return 0;
	case KD_SP_PLAIN_USER:
		if (c == 0)
			return st->user_len ? 1 : -1;
		kd_user_put(st, c);
		return 0;
	case KD_SP_SCRAM_GS2:
		if (c == ',')
			st->sasl_ps = KD_SP_SCRAM_AUTHZ;
		return 0;
	case KD_SP_SCRAM_AUTHZ:
		if (c == ',')
			st->sasl_ps = KD_SP_SCRAM_ATTR;
		return 0;
	case KD_SP_SCRAM_ATTR:
		if (c == 'm') {
			st->sasl_ps = KD_SP_SCRAM_EXT;
			return 0;
		}
		if (c == 'n') {
			st->sasl_ps = KD_SP_SCRAM_EQ;
			return 0;
		}
		return -1;
	case KD_SP_SCRAM_EXT:
		if (c == ',')
			st->sasl_ps = KD_SP_SCRAM_ATTR;
		return 0;
	case KD_SP_SCRAM_EQ:
		if (c != '=')
			return -1;
		st->sasl_ps = KD_SP_SCRAM_USER;
		return 0;
	case KD_SP_SCRAM_USER:
		if (c == ',') {
			if (!st->user_len)
				return -1;
			/* the rest (nonce, extensions) is not secret: look for tokenauth */
			st->sasl_ps = KD_SP_SCRAM_TAIL;
			return 0;
		}
		if (c == '=')
			st->sasl_ps = KD_SP_SCRAM_ESC;
		else
			kd_user_put(st, c);
		return 0;
	case KD_SP_SCRAM_ESC:
		if (c == '2')
			st->sasl_ps = KD_SP_SCRAM_ESC2C;
		else if (c == '3')
			st->sasl_ps = KD_SP_SCRAM_ESC3D;
		else
			return -1;
		return 0;
	case KD_SP_SCRAM_ESC2C:
		if (c != 'C')
			return -1;
		kd_user_put(st, ',');
		st->sasl_ps = KD_SP_SCRAM_USER;
		return 0;
	case KD_SP_SCRAM_ESC3D:
		if (c != 'D')
			return -1;
		kd_user_put(st, '=');
		st->sasl_ps = KD_SP_SCRAM_USER;
		return 0;
	}
	if (st->sasl_ps >= KD_SP_SCRAM_TAIL && st->sasl_ps < KD_SP_SCRAM_TAIL + KD_TOKENAUTH_LEN) {
		__u8 k = st->sasl_ps - KD_SP_SCRAM_TAIL, want;

		/* "true" is matched without case, as Boolean.parseBoolean does */
		if (k >= 11 && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		want = kd_tokenauth_char(k);
		if (c == want)
			st->sasl_ps++;
		else
			st->sasl_ps = KD_SP_SCRAM_TAIL + (c == ',');
		return 0;
	}
	if (st->sasl_ps == KD_SP_SCRAM_TAIL + KD_TOKENAUTH_LEN) {
		/* ",tokenauth=true" followed by more of the value is not it */
		st->sasl_ps = c == ',' ? KD_SP_SCRAM_TAIL + 16 : KD_SP_SCRAM_TAIL;
		return 0;
	}
	if (st->sasl_ps == KD_SP_SCRAM_TAIL + 16)
		return 0; /* tokenauth seen; the rest does not matter */
	return -1;
}

/* Prepares to parse a SASL token of st->str_len bytes (already charged to the frame). */
static __always_inline void kd_token_begin(struct kd_state *st)
{
	st->copied = 0;
	st->user_len = 0;
	st->uflags = 0;
	st->flags &= ~KD_F_TRUNC;
	if (st->flags & KD_F_SASL_USER_SEEN)
		st->sasl_ps = KD_SP_DONE;
	else if (st->mech == KD_MECH_PLAIN)
		st->sasl_ps = KD_SP_PLAIN_AUTHZ;
	else if (st->mech == KD_MECH_SCRAM_SHA_256 || st->mech == KD_MECH_SCRAM_SHA_512)
		st->sasl_ps = KD_SP_SCRAM_GS2;
	else
		st->sasl_ps = KD_SP_DONE;
}

/*
 * Advances through a SASL token one byte per step until the user name ends, then
 * skips the rest. Returns KD_EV_SASL_USER once, KD_EV_NEED_MORE, KD_EV_CONTINUE,
 * or KD_DONE (as a distinct value below) when the whole token is consumed.
 */
#define KD_TOKEN_END 0x100
KD_FUNC int kd_token(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__u8 c;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (st->copied >= st->str_len) {
		bool scram_tail = st->sasl_ps >= KD_SP_SCRAM_TAIL && st->sasl_ps < KD_SP_DONE;

		/* Only the first token of an exchange names the user. */
		st->flags |= KD_F_SASL_USER_SEEN;
		if (scram_tail) {
			/* a SCRAM name is reported at the token's end, once tokenauth is known */
			if (st->sasl_ps == KD_SP_SCRAM_TAIL + KD_TOKENAUTH_LEN ||
			    st->sasl_ps == KD_SP_SCRAM_TAIL + 16)
				st->uflags |= KD_U_TOKEN;
			st->sasl_ps = KD_SP_DONE;
			return KD_EV_SASL_USER;
		}
		if (st->sasl_ps != KD_SP_DONE || !st->user_len) {
			/*
			 * The token ended before the name did (e.g. PLAIN with one NUL): what
			 * was gathered may be a password. Forget it.
			 */
			__builtin_memset(st->user, 0, sizeof(st->user));
			st->user_len = 0;
		}
		st->sasl_ps = KD_SP_DONE;
		return KD_TOKEN_END;
	}
	if (st->sasl_ps == KD_SP_DONE) {
		/* header bytes already read count as consumed */
		st->skip = st->str_len - st->copied - st->carry_pending;
		st->carry_pending = 0;
		st->copied = st->str_len;
		return KD_EV_CONTINUE;
	}
	if (st->carry_pending) {
		/* bytes read as a would-be request header belong to the token */
		c = st->carry[(4 - st->carry_pending) & 3];
		st->carry_pending--;
	} else {
		if (!kd_avail(s))
			return KD_EV_NEED_MORE;
		if (KD_LOAD(ctx, s, s->off, &c, 1))
			return kd_fatal(st, KD_ERR_BOUND);
		s->off++;
	}
	st->copied++;
	r = kd_sasl_byte(st, c);
	if (r == 0)
		return KD_EV_CONTINUE;
	if (r < 0) {
		__builtin_memset(st->user, 0, sizeof(st->user));
		st->user_len = 0;
	}
	st->sasl_ps = KD_SP_DONE;
	return r > 0 ? KD_EV_SASL_USER : KD_EV_CONTINUE;
}

/* Copies up to KD_WIN bytes of the current string into buf[st->copied..]. */
static __always_inline int kd_copy(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u8 *buf, __u32 mask,
				   __u32 keep)
{
	__u32 n = keep - st->copied;

	if (n > kd_avail(s))
		n = kd_avail(s);
	KD_CLAMP(n, KD_WIN);
	if (n == 0)
		return KD_MORE;
	if (KD_LOAD(ctx, s, s->off, buf + (st->copied & mask), n))
		return -KD_ERR_BOUND;
	s->off += n;
	st->copied += n;
	return st->copied >= keep ? KD_DONE : KD_MORE;
}

static __always_inline bool kd_mech_is(const struct kd_state *st, const char *m, __u32 n)
{
	if (st->mech_len != n)
		return false;
	KD_UNROLL
	for (int i = 0; i < KD_MECH_NAME_MAX; i++)
		if (i < (int)n && st->mech_name[i] != (__u8)m[i])
			return false;
	return true;
}

KD_FUNC int kd_mech_set(struct kd_state *st)
{
	if (!st)
		return 0;
	if (kd_mech_is(st, "PLAIN", 5))
		st->mech = KD_MECH_PLAIN;
	else if (kd_mech_is(st, "SCRAM-SHA-256", 13))
		st->mech = KD_MECH_SCRAM_SHA_256;
	else if (kd_mech_is(st, "SCRAM-SHA-512", 13))
		st->mech = KD_MECH_SCRAM_SHA_512;
	else if (kd_mech_is(st, "GSSAPI", 6))
		st->mech = KD_MECH_GSSAPI;
	else if (kd_mech_is(st, "OAUTHBEARER", 11))
		st->mech = KD_MECH_OAUTHBEARER;
	else
		st->mech = KD_MECH_OTHER;
	st->flags &= ~KD_F_SASL_USER_SEEN;
	/*
	 * SaslHandshake v0: the tokens that follow are raw i32-framed, with no header, and
	 * how many there are depends on the mechanism and on the broker's answers. So no
	 * count is kept: from now on a frame whose first four bytes are not a known api
	 * key and version is a token, and the first frame that is a request ends this.
	 * No token of PLAIN, SCRAM, OAUTHBEARER or GSSAPI starts like a request header
	 * (their first bytes are printable text or ASN.1), and a request can never be taken
	 * for a token: the check looks at the same bytes the broker will.
	 */
	st->sasl_raw = st->api_version == 0;
	return 0;
}

/*
 * Request versions above this are taken for SASL token bytes after a v0 handshake
 * (today's highest version is 18; a PLAIN token's second and third bytes are text).
 */
#define KD_VERSION_PLAUSIBLE 31

/*
 * The current frame is a raw SASL token (after SaslHandshake v0); `pending` header
 * bytes of it were already read into the carry buffer.
 */
static __always_inline int kd_raw_begin(struct kd_state *st, __u8 pending)
{
	if (st->frame_size > KD_MAX_SASL_FRAME)
		return kd_fail(st, KD_ERR_LEN_OVER);
	st->api_key = KD_KEY_SASL_RAW;
	st->api_version = 0;
	st->corr = -1;
	st->opclass = KG_OP_OTHER;
	st->client_id_len = 0;
	st->client_id_null = 1;
	st->flags = st->flags & KD_F_SASL_USER_SEEN;
	st->str_len = st->frame_size;
	st->frame_left = 0;
	kd_token_begin(st);
	st->carry_pending = pending;
	st->phase = KD_PH_RAW;
	return KD_EV_FRAME;
}

/* Frame size: also where TLS is recognised. */
KD_FUNC int kd_ph_size(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__s32 size;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	r = kd_fixed(ctx, st, s, 4);
	if (r < 0)
		return kd_fatal(st, -r);
	if (r == KD_MORE)
		return KD_EV_NEED_MORE;
	/* A TLS record header: handshake (0x16), version 3.x. */
	if (st->carry[0] == 0x16 && st->carry[1] == 0x03 && st->carry[2] <= 0x04)
		return kd_fatal(st, KD_ERR_TLS);
	size = (__s32)kd_be32(st->carry);
	if (size < 0)
		return kd_fatal(st, KD_ERR_NEG_LEN);
	st->frame_size = size;
	st->frame_left = size;
	st->frame_rem = size;
	if ((__u32)size > KD_MAX_FRAME)
		return kd_fatal(st, KD_ERR_LEN_OVER);
	st->sub = 0;
	if (st->resp) {
		if (st->sasl_raw) {
			/* the broker's answer to a raw SASL token: no header */
			st->sasl_raw--;
			st->phase = KD_PH_RRAW;
			return KD_EV_CONTINUE;
		}
		if (size < 4)
			return kd_fatal(st, KD_ERR_TRUNCATED);
		st->phase = KD_PH_RHDR;
		return KD_EV_CONTINUE;
	}
	if (st->sasl_raw && size < 4)
		return kd_raw_begin(st, 0);
	if (size < 8 && !st->sasl_raw)
		return kd_fatal(st, KD_ERR_TRUNCATED);
	st->phase = KD_PH_HDR;
	return KD_EV_CONTINUE;
}

static __always_inline const struct kd_api *kd_api_of(__u32 key)
{
	if (key >= KD_API_COUNT)
		return 0;
	KD_CLAMP(key, KD_API_COUNT - 1);
	return &kd_apis[key];
}

KD_FUNC int kd_ph_hdr(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	const struct kd_api *api;
	__u16 key, ver;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (st->sub == 1) {
		r = kd_fixed(ctx, st, s, 4);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		st->corr = (__s32)kd_be32(st->carry);
		st->sub = 0;
		/* ControlledShutdown v0 is the one request with header v0: no client id. */
		if (st->api_key == KAFKA_CONTROLLED_SHUTDOWN && st->api_version == 0) {
			st->phase = KD_PH_BODY;
			return KD_EV_FRAME;
		}
		st->phase = KD_PH_CLIENT;
		return KD_EV_CONTINUE;
	}
	r = kd_fixed(ctx, st, s, 4);
	if (r < 0)
		return kd_fail(st, -r);
	if (r == KD_MORE)
		return KD_EV_NEED_MORE;
	key = kd_be16(st->carry);
	ver = kd_be16(st->carry + 2);
	api = kd_api_of(key);
	/*
	 * After a SaslHandshake v0, a frame is a raw token unless it starts like a request:
	 * a known api key and a version below KD_VERSION_PLAUSIBLE (so that a version newer
	 * than this table still counts as a request, and fails as one).
	 */
	if (st->sasl_raw && (!api || !api->known || ver > KD_VERSION_PLAUSIBLE ||
			     st->frame_size < 8))
		return kd_raw_begin(st, 4);
	st->sasl_raw = 0; /* a request: the SASL exchange is over */
	if (!api || !api->known || ver > api->max_ver) {
		st->api_key = key;
		st->api_version = ver;
		return kd_fail(st, KD_ERR_UNKNOWN_API);
	}
	st->api_key = key;
	st->api_version = ver;
	st->opclass = api->opclass;
	st->flags = (st->flags & KD_F_SASL_USER_SEEN) | (ver >= api->flex_min ? KD_F_FLEX : 0);
	st->pc = 0;
	st->depth = 0;
	st->skip_nest = 0;
	st->client_id_len = 0;
	st->client_id_null = 1;
	st->client_id_full = 0;
	st->acks = -1;
	st->sub = 1;
	return KD_EV_CONTINUE;
}

/* client_id: always an i16-length nullable string, even in header v2; then TF. */
KD_FUNC int kd_ph_client(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__u32 keep;
	__s32 len;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	switch (st->sub) {
	case 0:
		r = kd_fixed(ctx, st, s, 2);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		len = (__s16)kd_be16(st->carry);
		if (len == -1) {
			st->sub = 2;
			return KD_EV_CONTINUE;
		}
		if (len < 0)
			return kd_fail(st, KD_ERR_NEG_LEN);
		if ((__u32)len > st->frame_left)
			return kd_fail(st, KD_ERR_LEN_OVER);
		st->frame_left -= len;
		st->str_len = len;
		st->copied = 0;
		st->client_id_null = 0;
		st->client_id_full = len;
		st->sub = 1;
		return KD_EV_CONTINUE;
	case 1:
		keep = st->str_len < KD_CLIENT_ID_MAX ? st->str_len : KD_CLIENT_ID_MAX;
		if (st->copied < keep) {
			r = kd_copy(ctx, st, s, st->client_id, KD_CLIENT_ID_MAX - 1, keep);
			if (r < 0)
				return kd_fail(st, -r);
			if (r == KD_MORE)
				return kd_avail(s) ? KD_EV_CONTINUE : KD_EV_NEED_MORE;
		}
		st->client_id_len = keep;
		/* a longer id is not its prefix: policy lookups must not match the prefix */
		if (st->str_len > keep)
			st->client_id_null = KD_CLIENT_ID_CUT;
		st->skip = st->str_len - keep;
		st->sub = 2;
		return KD_EV_CONTINUE;
	case 2:
		if (kd_flex(st)) {
			st->sub = 3;
			return kd_begin_tf(st);
		}
		/* fall through */
	default:
		st->phase = KD_PH_BODY;
		st->sub = 0;
		return KD_EV_FRAME;
	}
}

/*
 * Array or struct begin: count, null, limits; opens a level or skips the element ops.
 * A struct field is an array of one element (its END reads its tagged fields), or of
 * none when a nullable struct's marker byte is negative (Kafka's generator writes -1 for
 * null and 1 for a present struct, and reads any byte >= 0 as present).
 */
KD_FUNC int kd_op_arr(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u32 code, __u32 arg)
{
	__u32 null_from = arg;
	bool all = false;
	__s32 n;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (code == KD_OP_STRUCT) {
		n = 1;
		if (st->api_version >= arg) {
			r = kd_fixed(ctx, st, s, 1);
			if (r < 0)
				return kd_fail(st, -r);
			if (r == KD_MORE)
				return KD_EV_NEED_MORE;
			if ((__s8)st->carry[0] < 0)
				n = 0;
		}
	} else {
		r = kd_len(ctx, st, s, 4, &n);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		if (code == KD_OP_ARRA) {
			null_from = KD_ARRA_NULL_FROM(arg);
			if (null_from == KD_ARRA_NULL_FROM(0xff))
				null_from = KD_NEVER;
			all = (n == -1 && st->api_version >= null_from) ||
			      (n == 0 && (arg & KD_ARRA_EMPTY) && st->api_version < null_from);
		}
		/* arrays of primitives are never nullable here; for ARRP, arg is the element size */
		if (n == -1 && code != KD_OP_ARRP && st->api_version >= null_from)
			n = 0;
	}
	if (n < 0)
		return kd_fail(st, KD_ERR_NEG_LEN);
	if ((__u32)n > KD_MAX_ARRAY_ENTRIES)
		return kd_fail(st, KD_ERR_ARRAY_OVER);
	if (code == KD_OP_ARRP) {
		__u32 bytes = (__u32)n * arg;

		if (bytes > st->frame_left)
			return kd_fail(st, KD_ERR_TRUNCATED);
		st->frame_left -= bytes;
		st->skip = bytes;
		st->pc++;
		return KD_EV_CONTINUE;
	}
	st->pc++;
	if (n == 0) {
		st->skip_nest = 1;
	} else {
		if (st->depth >= KD_MAX_DEPTH)
			return kd_fail(st, KD_ERR_BOUND);
		st->arr_left[st->depth & (KD_MAX_DEPTH - 1)] = n;
		st->arr_pc[st->depth & (KD_MAX_DEPTH - 1)] = st->pc - 1;
		st->depth++;
	}
	if (!all)
		return KD_EV_CONTINUE;
	st->tset = KD_TS_ALL;
	return KD_EV_TSET;
}

/* Ops that open a level closed by KD_OP_END (passed over whole when absent or empty). */
static __always_inline bool kd_opens(__u8 code)
{
	return code == KD_OP_ARR || code == KD_OP_ARRA || code == KD_OP_STRUCT;
}

static __always_inline int kd_op_end(struct kd_state *st, const struct kd_op *op)
{
	__u8 d;

	if (kd_flex(st) && op->arg != KD_END_PRIM && st->sub == 0) {
		st->sub = 1;
		return kd_begin_tf(st);
	}
	st->sub = 0;
	if (st->depth == 0)
		return kd_fail(st, KD_ERR_BOUND); /* a table error, never input */
	d = (st->depth - 1) & (KD_MAX_DEPTH - 1);
	if (--st->arr_left[d])
		st->pc = st->arr_pc[d] + 1;
	else {
		st->depth--;
		st->pc++;
	}
	return op->arg == KD_END_ENTRY ? KD_EV_ENTRY : KD_EV_CONTINUE;
}

/*
 * A string whose value is kept (topic name, group id, mechanism): copies up to
 * keep bytes into buf, skips the rest. Returns KD_EV_CONTINUE until done, then
 * the done marker KD_TOKEN_END; sets *is_null for a null string.
 */
static __always_inline int kd_op_keep(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u8 null_from,
				      __u32 limit, __u32 keep_max, __u8 *buf, __u32 mask,
				      bool *is_null)
{
	__u32 keep;
	__s32 len;
	int r;

	*is_null = false;
	if (st->sub == 0) {
		r = kd_len(ctx, st, s, 2, &len);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		r = kd_check_len(st, len, null_from, limit);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == 2) {
			*is_null = true;
			return KD_TOKEN_END;
		}
		st->str_len = len;
		st->copied = 0;
		st->sub = 1;
	}
	keep = st->str_len < keep_max ? st->str_len : keep_max;
	if (st->copied < keep) {
		r = kd_copy(ctx, st, s, buf, mask, keep);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return kd_avail(s) ? KD_EV_CONTINUE : KD_EV_NEED_MORE;
	}
	st->skip = st->str_len - keep;
	st->sub = 0;
	return KD_TOKEN_END;
}

/*
 * After kd_op_keep kept a name (up to KD_TOPIC_MAX bytes): its flags, its length, the
 * terminator that makes it a kg_topics key, where it ended in the chunk. KD_F_TRUNC
 * says the name on the wire was longer than what was kept (so it is no topic name).
 */
static __always_inline void kd_name_kept(struct kd_state *st, struct kd_src *s, bool null)
{
	st->flags &= ~KD_F_TRUNC;
	if (null) {
		st->flags |= KD_F_NAME_NULL;
		return;
	}
	st->name_len = st->str_len < KD_TOPIC_MAX ? st->str_len : KD_TOPIC_MAX;
	if (st->str_len > KD_TOPIC_MAX)
		st->flags |= KD_F_TRUNC;
	st->name[st->name_len & 0xff] = 0;
	st->flags |= KD_F_HAVE_NAME;
	st->here |= KD_H_NAME;
	st->name_off = s->off;
}

/* The topics an ACL resource (type, name, pattern type) covers (KafkaResourcePatternFilter). */
static __always_inline int kd_acl_emit(struct kd_state *st, __u8 f)
{
	bool star = st->name_len == 1 && st->name[0] == '*';

	if (st->rtype != KAFKA_RESOURCE_TOPIC && st->rtype != KAFKA_ACL_RESOURCE_ANY)
		return KD_EV_CONTINUE; /* a group, the cluster, ...: no topic (see KD_OP_AEMIT) */
	st->tset = KD_TS_ALL; /* a null name filter, a name too long for a topic */
	if ((f & KD_F_NAME_NULL) || !(f & KD_F_HAVE_NAME) || (f & KD_F_TRUNC))
		return KD_EV_TSET;
	switch (st->ptype) {
	case KAFKA_ACL_PATTERN_LITERAL:
		if (star)
			return KD_EV_TSET; /* the wildcard resource: every topic */
		st->tkind = KD_TK_NAME;
		return KD_EV_TOPIC;
	case KAFKA_ACL_PATTERN_ANY: /* the literal or the prefixed pattern of that name */
		if (star)
			return KD_EV_TSET;
		/* fall through */
	case KAFKA_ACL_PATTERN_PREFIXED:
		st->tset = KD_TS_PREFIX;
		return KD_EV_TSET;
	case KAFKA_ACL_PATTERN_MATCH:
		st->tset = KD_TS_MATCH;
		return KD_EV_TSET;
	}
	return KD_EV_TSET; /* UNKNOWN or no pattern type: the broker refuses it; every topic */
}

/*
 * Ops that read one field whose value is kept (names, ids, resource and pattern types,
 * mechanisms) and ops that report what was gathered.
 */
KD_FUNC int kd_op_field(KD_CTX ctx, struct kd_state *st, struct kd_src *s, __u32 code, __u32 arg)
{
	bool null;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	switch (code) {
	case KD_OP_RNAME:
		if (st->rtype != KAFKA_RESOURCE_TOPIC) {
			/* Not a topic: skip it like any string (no topic limit applies). */
			r = kd_op_keep(ctx, st, s, arg, KD_MAX_FRAME, 0, st->name, 0xff, &null);
			if (r == KD_TOKEN_END)
				st->pc++;
			return r == KD_TOKEN_END ? KD_EV_CONTINUE : r;
		}
		/* fall through */
	case KD_OP_NAME:
		r = kd_op_keep(ctx, st, s, arg, KD_TOPIC_MAX, KD_TOPIC_MAX, st->name, 0xff, &null);
		if (r != KD_TOKEN_END)
			return r;
		if (null) {
			st->flags |= KD_F_NAME_NULL;
		} else {
			st->name_len = st->str_len;
			/* Terminated, so that the name is ready as a kg_topics key. */
			st->name[st->name_len & 0xff] = 0;
			st->flags |= KD_F_HAVE_NAME;
			st->here |= KD_H_NAME;
			st->name_off = s->off;
		}
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_UUID:
		r = kd_fixed(ctx, st, s, 16);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		__builtin_memcpy(st->uuid, st->carry, 16);
		st->here |= KD_H_UUID;
		st->uuid_off = s->off;
		if (kd_be32(st->carry) | kd_be32(st->carry + 4) | kd_be32(st->carry + 8) |
		    kd_be32(st->carry + 12))
			st->flags |= KD_F_HAVE_ID;
		else if (st->resp)
			st->flags |= KD_F_ZERO_ID;
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_RTYPE:
	case KD_OP_PTYPE:
		r = kd_fixed(ctx, st, s, 1);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		if (code == KD_OP_RTYPE) {
			st->rtype = st->carry[0];
			/* ACL versions without a pattern type mean the literal name */
			st->ptype = KAFKA_ACL_PATTERN_LITERAL;
		} else {
			st->ptype = st->carry[0];
		}
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_ANAME:
		if (st->rtype != KAFKA_RESOURCE_TOPIC && st->rtype != KAFKA_ACL_RESOURCE_ANY) {
			r = kd_op_keep(ctx, st, s, arg, KD_MAX_FRAME, 0, st->name, 0xff, &null);
			if (r == KD_TOKEN_END)
				st->pc++;
			return r == KD_TOKEN_END ? KD_EV_CONTINUE : r;
		}
		/* fall through */
	case KD_OP_KNAME:
	case KD_OP_REGEX:
	case KD_OP_CNAME:
		/* kept up to a topic name's length, whatever the length on the wire */
		r = kd_op_keep(ctx, st, s, arg, code == KD_OP_CNAME ? KD_TOPIC_MAX : KD_MAX_FRAME,
			       KD_TOPIC_MAX, st->name, 0xff, &null);
		if (r != KD_TOKEN_END)
			return r;
		kd_name_kept(st, s, null);
		st->pc++;
		if (code == KD_OP_CNAME && !null) {
			st->flags &= ~KD_F_HAVE_NAME;
			return KD_EV_CURSOR;
		}
		if (code != KD_OP_REGEX)
			return KD_EV_CONTINUE;
		/* a null regex is unchanged; an empty one matches no topic name */
		st->flags &= ~(KD_F_HAVE_NAME | KD_F_NAME_NULL);
		if (null || !st->name_len)
			return KD_EV_CONTINUE;
		st->tset = KD_TS_REGEX;
		return KD_EV_TSET;
	case KD_OP_AEMIT:
		/*
		 * A request's resource that is not a topic (the cluster, a group, a user...)
		 * is reported as such. One of any type is that and its topics: the resource
		 * first, the topics at the next step (sub 1).
		 */
		if (st->rtype != KAFKA_RESOURCE_TOPIC && !st->resp && !st->sub) {
			if (st->rtype == KAFKA_ACL_RESOURCE_ANY) {
				st->sub = 1;
				return KD_EV_RESOURCE;
			}
			st->pc++;
			st->flags &= ~(KD_F_HAVE_NAME | KD_F_NAME_NULL | KD_F_TRUNC);
			return KD_EV_RESOURCE;
		}
		st->sub = 0;
		/* fall through */
	case KD_OP_REMIT: {
		__u8 f = st->flags;

		st->pc++;
		st->flags &= ~(KD_F_HAVE_NAME | KD_F_NAME_NULL | KD_F_TRUNC);
		if (code == KD_OP_AEMIT)
			return kd_acl_emit(st, f);
		if (st->rtype != KAFKA_RESOURCE_TOPIC || !(f & KD_F_HAVE_NAME))
			return KD_EV_CONTINUE;
		if (f & KD_F_TRUNC)
			return kd_fail(st, KD_ERR_LEN_OVER); /* no topic name is that long */
		st->tkind = KD_TK_NAME;
		return KD_EV_TOPIC;
	}
	case KD_OP_ALL:
		st->pc++;
		st->tset = KD_TS_ALL;
		return KD_EV_TSET;
	case KD_OP_EBEGIN:
		st->ent_begin = kd_fpos(st, s);
		st->rtype = 0; /* entries without a resource type are not topics */
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_GROUP:
		r = kd_op_keep(ctx, st, s, arg, KD_MAX_FRAME, KD_GROUP_MAX, st->name, 0xff, &null);
		if (r != KD_TOKEN_END)
			return r;
		if (null) {
			st->pc++;
			return KD_EV_CONTINUE; /* a null group id (ShareFetch) names no group */
		}
		st->name_len = st->str_len < KD_GROUP_MAX ? st->str_len : KD_GROUP_MAX;
		if (st->str_len > KD_GROUP_MAX)
			st->flags |= KD_F_TRUNC;
		else
			st->flags &= ~KD_F_TRUNC;
		st->pc++;
		return KD_EV_GROUP;
	case KD_OP_MECH:
		r = kd_op_keep(ctx, st, s, KD_NEVER, KD_MAX_FRAME, KD_MECH_NAME_MAX, st->mech_name,
			       0x1f, &null);
		if (r != KD_TOKEN_END)
			return r;
		st->mech_len = st->str_len < KD_MECH_NAME_MAX ? st->str_len : KD_MECH_NAME_MAX;
		if (st->str_len > KD_MECH_NAME_MAX)
			st->mech_len = 0; /* no known mechanism is that long */
		kd_mech_set(st);
		st->pc++;
		return KD_EV_SASL_MECH;
	}
	return kd_fail(st, KD_ERR_BOUND); /* a table error, never input */
}

/* SaslAuthenticate auth_bytes: the user name is parsed out, the rest skipped. */
KD_FUNC int kd_op_auth(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__s32 len;
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (st->sub == 0) {
		r = kd_len(ctx, st, s, 4, &len);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		r = kd_check_len(st, len, KD_NEVER, KD_MAX_SASL_FRAME);
		if (r < 0)
			return kd_fail(st, -r);
		st->str_len = len;
		kd_token_begin(st);
		st->sub = 1;
	}
	r = kd_token(ctx, st, s);
	if (r != KD_TOKEN_END)
		return r;
	st->sub = 0;
	st->pc++;
	return KD_EV_CONTINUE;
}

/* One op of the body program (api: the request's entry, plen: the program's length). */
static __always_inline int kd_op1(KD_CTX ctx, struct kd_state *st, struct kd_src *s,
				  const struct kd_api *api, __u32 plen)
{
	struct kd_op op;
	__u32 idx, n;
	__s32 len;
	int r;

	if (st->pc >= plen) {
		/* End of the body: the top-level tagged fields, then trailing bytes. */
		if (plen && kd_flex(st) && st->sub == 0) {
			st->sub = 1;
			return kd_begin_tf(st);
		}
		st->sub = 0;
		st->phase = KD_PH_TRAIL;
		return KD_EV_CONTINUE;
	}
	idx = (__u32)(st->resp ? st->rprog : api->prog) + st->pc;
	if (idx >= KD_P__END)
		return kd_fail(st, KD_ERR_BOUND);
	KD_CLAMP(idx, KD_P__END - 1);
	op = kd_prog[idx];

	/* Passing over the element ops of an empty, null or absent array. */
	if (st->skip_nest) {
		if (kd_opens(op.code))
			st->skip_nest++;
		else if (op.code == KD_OP_END)
			st->skip_nest--;
		st->pc++;
		return KD_EV_CONTINUE;
	}
	if (st->api_version < op.vmin || st->api_version > op.vmax) {
		if (kd_opens(op.code))
			st->skip_nest = 1;
		st->pc++;
		return KD_EV_CONTINUE;
	}

	switch (op.code) {
	case KD_OP_SKIP:
		if (op.arg > st->frame_left)
			return kd_fail(st, KD_ERR_TRUNCATED);
		st->frame_left -= op.arg;
		st->skip = op.arg;
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_STR:
	case KD_OP_BYTES:
		r = kd_len(ctx, st, s, op.code == KD_OP_STR ? 2 : 4, &len);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		r = kd_check_len(st, len, op.arg, KD_MAX_FRAME);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == 1)
			st->skip = len;
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_ARR:
	case KD_OP_ARRP:
	case KD_OP_ARRA:
	case KD_OP_STRUCT:
		return kd_op_arr(ctx, st, s, op.code, op.arg);
	case KD_OP_END:
		return kd_op_end(st, &op);
	case KD_OP_NAME:
	case KD_OP_RNAME:
	case KD_OP_UUID:
	case KD_OP_RTYPE:
	case KD_OP_GROUP:
	case KD_OP_MECH:
	case KD_OP_ALL:
	case KD_OP_REGEX:
	case KD_OP_ANAME:
	case KD_OP_PTYPE:
	case KD_OP_AEMIT:
	case KD_OP_CNAME:
	case KD_OP_EBEGIN:
	case KD_OP_KNAME:
	case KD_OP_REMIT:
		return kd_op_field(ctx, st, s, op.code, op.arg);
	case KD_OP_CEMIT:
		/* a request's config resource that is not a topic (a broker, a logger...) */
		if (st->rtype != KAFKA_RESOURCE_TOPIC) {
			st->pc++;
			return KD_EV_RESOURCE;
		}
		/* fall through */
	case KD_OP_EMIT:
		st->pc++;
		if (!(st->flags & (KD_F_HAVE_NAME | KD_F_HAVE_ID | KD_F_NAME_NULL | KD_F_ZERO_ID)))
			return KD_EV_CONTINUE; /* a resource that is not a topic */
		st->tkind = (st->flags & KD_F_HAVE_NAME ? KD_TK_NAME : 0) |
			    (st->flags & KD_F_HAVE_ID ? KD_TK_ID : 0);
		if (!st->tkind && (st->flags & KD_F_ZERO_ID))
			st->tkind = KD_TK_ZID;
		if (!(st->tkind & KD_TK_NAME))
			st->name_len = 0;
		st->flags &= ~(KD_F_HAVE_NAME | KD_F_HAVE_ID | KD_F_NAME_NULL | KD_F_ZERO_ID);
		return KD_EV_TOPIC;
	case KD_OP_AUTH:
		return kd_op_auth(ctx, st, s);
	case KD_OP_ERR:
	case KD_OP_TERR:
		if (st->carry_len == 0 && kd_avail(s) >= 2) {
			st->err_off = s->off;
			st->here |= KD_H_ERR;
		} else {
			st->here &= ~KD_H_ERR;
		}
		r = kd_fixed(ctx, st, s, 2);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		st->err_code = kd_be16(st->carry);
		st->pc++;
		return op.code == KD_OP_TERR ? KD_EV_TERRCODE : KD_EV_ERRCODE;
	case KD_OP_ACKS:
		r = kd_fixed(ctx, st, s, 6);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		st->acks = (__s16)kd_be16(st->carry);
		st->pc++;
		return KD_EV_CONTINUE;
	case KD_OP_SESSION:
		n = op.arg == KD_SESS_SHARE ? 4 : 8;
		/* the fields wholly in this chunk: the datapath may rewrite the epoch in place */
		if (st->carry_len == 0 && kd_avail(s) >= n) {
			st->sess_off = s->off;
			st->here |= KD_H_SESSION;
		}
		r = kd_fixed(ctx, st, s, n);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		st->pc++;
		if (op.arg == KD_SESS_SHARE) {
			/*
			 * A share session is the group's and member id's, which KD_OP_KNAME kept
			 * in name: sess_id says what is there, the member id's length on the
			 * wire (longer than name_len: cut) or -1 for null.
			 */
			st->sess_id = st->flags & KD_F_NAME_NULL ? -1 : (__s32)st->str_len;
			st->sess_epoch = (__s32)kd_be32(st->carry);
			st->flags &= ~(KD_F_HAVE_NAME | KD_F_NAME_NULL | KD_F_TRUNC);
			return KD_EV_SESSION;
		}
		st->sess_id = (__s32)kd_be32(st->carry);
		st->sess_epoch = (__s32)kd_be32(st->carry + 4);
		return KD_EV_SESSION;
	}
	return kd_fail(st, KD_ERR_BOUND); /* a table error, never input */
}

/*
 * The body: ops one after the other while each only continues (up to KD_OPS_PER_STEP
 * per step), a length skip taken at once when the chunk holds it. An op that reports
 * an event, needs more bytes, fails, ends the body or opens a tagged-field section
 * ends the step, so events come out exactly as one op per step would give them.
 */
KD_FUNC int kd_op(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	const struct kd_api *api;
	__u32 plen;
	int ev = KD_EV_CONTINUE;

	if (!st || !s)
		return KD_EV_ERROR;
	api = kd_api_of(st->api_key);
	if (!api)
		return kd_fail(st, KD_ERR_BOUND);
	plen = st->resp ? st->rprog_len : api->prog_len;
	for (int k = 0; k < KD_OPS_PER_STEP; k++) {
		ev = kd_op1(ctx, st, s, api, plen);
		if (ev != KD_EV_CONTINUE || st->phase != KD_PH_BODY || (st->flags & KD_F_IN_TF))
			break;
		if (st->skip) {
			kd_skip(st, s);
			if (st->skip)
				break; /* the skip runs past this chunk */
		}
	}
	return ev;
}

/*
 * One bounded piece of work. Returns a KD_EV_*; after KD_EV_NEED_MORE the chunk is
 * used up and the next chunk continues where this one stopped.
 */
/*
 * Response header: correlation_id, reported (KD_EV_RESP) so that the caller can say
 * which request it answers (kd_resp_begin); then, for a flexible version except
 * ApiVersions (whose response header is always v0), tagged fields; then the body.
 */
KD_FUNC int kd_ph_rhdr(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	int r;

	if (!st || !s)
		return KD_EV_ERROR;
	if (st->sub == 0) {
		r = kd_fixed(ctx, st, s, 4);
		if (r < 0)
			return kd_fail(st, -r);
		if (r == KD_MORE)
			return KD_EV_NEED_MORE;
		st->corr = (__s32)kd_be32(st->carry);
		st->rprog_len = 0;
		st->sub = 1;
		return KD_EV_RESP;
	}
	if (st->sub == 1) {
		st->pc = 0;
		st->depth = 0;
		st->skip_nest = 0;
		if (!st->rprog_len) {
			st->sub = 0;
			st->phase = KD_PH_TRAIL; /* not a response we read: skipped by size */
			return KD_EV_CONTINUE;
		}
		st->sub = 2;
		if (kd_flex(st) && st->api_key != KAFKA_API_VERSIONS)
			return kd_begin_tf(st);
	}
	st->sub = 0;
	st->phase = KD_PH_BODY;
	return KD_EV_CONTINUE;
}

/* After KD_EV_RESP: the response answers (key, ver), whose body the program reads. */
static __always_inline void kd_resp_begin(struct kd_state *st, __u16 key, __u16 ver)
{
	const struct kd_api *api = kd_api_of(key);

	if (!api)
		return;
	st->api_key = key;
	st->api_version = ver;
	st->rprog = api->rprog;
	st->rprog_len = api->rprog_len;
	st->flags = ver >= api->flex_min ? KD_F_FLEX : 0;
}

static __always_inline int kd_dispatch(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	int r;

	if (st->skip)
		return kd_skip(st, s) ? KD_EV_CONTINUE : KD_EV_NEED_MORE;
	if ((st->flags & KD_F_IN_TF) && st->phase != KD_PH_RESYNC)
		return kd_tagged(ctx, st, s);
	switch (st->phase) {
	case KD_PH_SIZE:
		return kd_ph_size(ctx, st, s);
	case KD_PH_HDR:
		return kd_ph_hdr(ctx, st, s);
	case KD_PH_CLIENT:
		return kd_ph_client(ctx, st, s);
	case KD_PH_BODY:
		return kd_op(ctx, st, s);
	case KD_PH_RAW:
		r = kd_token(ctx, st, s);
		if (r == KD_TOKEN_END) {
			st->phase = KD_PH_TRAIL;
			return KD_EV_CONTINUE;
		}
		return r;
	case KD_PH_TRAIL:
		if (st->frame_left) {
			st->skip = st->frame_left;
			st->frame_left = 0;
			return KD_EV_CONTINUE;
		}
		st->phase = KD_PH_SIZE;
		return KD_EV_FRAME_END;
	case KD_PH_RHDR:
		return kd_ph_rhdr(ctx, st, s);
	case KD_PH_RRAW:
		/* reported with its first byte (err_code; 0x100 when empty), rest skipped */
		if (st->frame_left) {
			int r = kd_fixed(ctx, st, s, 1);

			if (r < 0)
				return kd_fail(st, -r);
			if (r == KD_MORE)
				return KD_EV_NEED_MORE;
			st->err_code = st->carry[0];
		} else {
			st->err_code = 0x100;
		}
		st->phase = KD_PH_TRAIL;
		return KD_EV_RAWRESP;
	case KD_PH_RESYNC:
		/* the undecodable frame's rest was skipped (kd_step armed it) */
		st->phase = KD_PH_SIZE;
		st->flags &= KD_F_SASL_USER_SEEN;
		st->carry_len = 0;
		st->carry_pending = 0;
		st->sub = 0;
		st->depth = 0;
		st->skip_nest = 0;
		return KD_EV_CONTINUE;
	}
	return kd_fatal(st, KD_ERR_BOUND);
}

/*
 * One bounded piece of work. Returns a KD_EV_*; after KD_EV_NEED_MORE the chunk is
 * used up and the next chunk continues where this one stopped. After KD_EV_ERROR,
 * decoding goes on at the next frame unless kd_state.phase is KD_PH_DEAD.
 */
static __always_inline int kd_step(KD_CTX ctx, struct kd_state *st, struct kd_src *s)
{
	__u32 before = s->off;
	__u8 phase = st->phase;
	int ev;

	if (phase == KD_PH_DEAD)
		return KD_EV_ERROR;
	s->step = before;
	ev = kd_dispatch(ctx, st, s);
	/* every byte of a frame passes here once: the way back to its end is known */
	if (phase != KD_PH_SIZE)
		st->frame_rem -= s->off - before;
	if (ev == KD_EV_ERROR && st->phase == KD_PH_RESYNC)
		st->skip = st->frame_rem;
	return ev;
}

static __always_inline void kd_init(struct kd_state *st)
{
	__builtin_memset(st, 0, sizeof(*st));
}

#ifndef __bpf__
/*
 * Host driver: feeds one chunk and calls cb for every event. At most max_steps
 * steps (the datapath uses KD_MAX_STEPS_PER_CHUNK); running out is KD_ERR_BOUND.
 * Returns the last event (KD_EV_NEED_MORE or KD_EV_ERROR).
 */
typedef void (*kd_event_cb)(void *arg, const struct kd_state *st, int ev);

static inline int kd_feed(struct kd_state *st, const void *buf, __u32 len, __u32 max_steps,
			  kd_event_cb cb, void *arg)
{
	struct kd_src s = { .off = 0, .end = len };
	__u32 i;
	int ev;

	for (i = 0; i < max_steps; i++) {
		ev = kd_step(buf, st, &s);
		if (ev == KD_EV_NEED_MORE)
			return ev;
		if (ev == KD_EV_CONTINUE)
			continue;
		if (cb)
			cb(arg, st, ev);
		if (ev == KD_EV_ERROR && st->phase == KD_PH_DEAD)
			return ev;
	}
	kd_fatal(st, KD_ERR_BOUND);
	if (cb)
		cb(arg, st, KD_EV_ERROR);
	return KD_EV_ERROR;
}
#endif

#endif /* KAFKA_DECODE_H */
