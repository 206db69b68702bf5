/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/lib: the small helpers every other folder of the agent uses, each written once:
 * the clock, growable and bounded buffers, the one JSON string writer, the name tables
 * (from the X-macros in maps/), whole-file reads and atomic writes, the three
 * directories, and the output queue of a non-blocking socket.
 *
 * May call: libc, maps/, and bpf/kafka_decode.h for its enums alone (names.c names the
 * decoder's event kinds and api keys; no decoding happens here). Everything in agent/ may
 * call it.
 */
#ifndef KGATE_LIB_H
#define KGATE_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "maps/kgate_maps.h"

/* ---- clock (lib/clock.c) ------------------------------------------------------------- */

/* CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns) in ns, and in ms. */
__u64 kg_mono_ns(void);
__u64 kg_now_ms(void);
/* CLOCK_REALTIME in Unix ns. */
__u64 kg_wall_now_ns(void);
/*
 * CLOCK_BOOTTIME in ns: since boot, suspend included, never stepped (a deadline kept in it
 * is not moved by a wall clock set forward or back), and meaningful only within one boot.
 */
__u64 kg_boot_ns(void);
/* KG_BOOT_ID_LEN - 1 characters that name this boot (the kernel's random boot_id), into
 * out; "" when the kernel does not say. */
#define KG_BOOT_ID_LEN 40
void kg_boot_id(char out[KG_BOOT_ID_LEN]);
/* CLOCK_MONOTONIC ns -> Unix ns, by the clocks' offset now (never in the future). */
__u64 kg_mono_to_wall(__u64 mono_ns);
/*
 * "90s", "5m", "1h30m", "500ms", "2d" -> ns: 0, or -1 when s is not a duration (a number
 * without a unit is not one: seconds or minutes would be a guess).
 */
int kg_parse_duration(const char *s, __u64 *ns);
/* Unix ns as "2026-11-28T00:29:42.609Z" (UTC, ms) into buf. */
void kg_time_text(__u64 wall_ns, char *buf, size_t len);

/* ---- text into raw memory (lib/fmt.c): no NUL, the caller has the room ---------------- */

/* Longest decimal __u64. */
#define KG_FMT_U64_MAX 20
/* v as printf("%llu") writes it: the length. */
size_t kg_fmt_u64(char *p, __u64 v);
/* Longest dotted IPv4 address. */
#define KG_FMT_IPV4_MAX 15
/* An IPv4 address (network order) as inet_ntop writes it: the length. */
size_t kg_fmt_ipv4(char *p, const __u8 a[4]);
/* Unix seconds (UTC) as gmtime_r + strftime("%Y-%m-%dT%H:%M:%S"): exactly this many bytes,
 * for years up to 9999 (every time a __u64 of Unix ns can hold). */
#define KG_FMT_DATETIME_LEN 19
void kg_fmt_datetime(char *p, __u64 unix_s);
/* ns (below 1e9) as printf("%09u"): 9 bytes. */
void kg_fmt_ns9(char *p, __u32 ns);
/* n bytes as lowercase hex: 2n bytes. */
size_t kg_fmt_hex(char *p, const void *bytes, size_t n);

/* ---- digests (lib/sha256.c) ------------------------------------------------------------ */

/* "sha256:" and 64 hex digits, NUL-terminated. */
#define KG_DIGEST_LEN 72
void kg_sha256(const void *data, size_t n, __u8 out[32]);
/* The digest of a policy text as the store and the audit records write it. */
void kg_digest(const void *data, size_t n, char out[KG_DIGEST_LEN]);

/* ---- buffers (lib/buf.c) --------------------------------------------------------------- */

/*
 * A string being built. Growable (zeroed: { 0 }), or bounded on the caller's storage
 * (kg_buf_fixed): what does not fit sets `over` and is dropped, so a caller checks once
 * at the end. Growth that fails aborts: the agent cannot go on without memory.
 */
struct kg_buf {
	char *p;
	size_t len, cap;
	bool fixed; /* p is the caller's, cap bytes: never grown */
	bool over;  /* fixed, and something did not fit */
};

static inline void kg_buf_fixed(struct kg_buf *b, char *storage, size_t cap)
{
	*b = (struct kg_buf){.p = storage, .cap = cap, .fixed = true};
}

void kg_buf_add(struct kg_buf *b, const void *p, size_t n);
/* Room for n more bytes and a NUL at p + len: false when a fixed buffer has none (then it
 * is over). */
bool kg_buf_reserve(struct kg_buf *b, size_t n);
void kg_buf_printf(struct kg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees a growable buffer (a fixed one only forgets its storage). */
void kg_buf_free(struct kg_buf *b);

/*
 * Room for element n (0-based) of a malloc'ed array of elem-byte elements: arr, or arr
 * moved by realloc to a power-of-two capacity; NULL when out of memory (arr is kept).
 */
void *kg_grow(void *arr, size_t n, size_t elem);

/* ---- JSON strings (lib/json.c) --------------------------------------------------------- */

/*
 * n bytes as a JSON string, quotes included. The one rule for every JSON kgate writes:
 * valid UTF-8 passes through as it is; quotes, backslashes, control bytes and DEL are
 * escaped; a byte that is not part of valid UTF-8 becomes \u00XX (its Latin-1
 * reading), so the output is valid JSON whatever the wire held.
 */
void kg_json_bytes(struct kg_buf *b, const void *s, size_t n);
/* Length of a valid UTF-8 sequence of two or more bytes at s (overlongs, surrogates and
 * code points past U+10FFFF are not valid), or 0: the rule above, and the text views'. */
size_t kg_utf8_len(const void *s, size_t n);
/* The most bytes kg_json_escape writes for n bytes: each as \u00XX, and the quotes. */
#define KG_JSON_ESCAPED_MAX(n) (6 * (size_t)(n) + 2)
/* kg_json_bytes into raw memory with room for KG_JSON_ESCAPED_MAX(n) bytes (no NUL): the
 * length written. kg_json_escaped_len: that length, without writing. */
size_t kg_json_escape(char *p, const void *s, size_t n);
size_t kg_json_escaped_len(const void *s, size_t n);
/* A C string as a JSON string; NULL as null. */
void kg_json_cstr(struct kg_buf *b, const char *s);
/* The same, written to a stream. */
void kg_json_fput(FILE *f, const char *s);
void kg_json_fput_bytes(FILE *f, const void *s, size_t n);

/* ---- name tables (lib/names.c): the X-macros of maps/, expanded once ------------------- */

extern const char *const kg_action_names[KG_ACT__COUNT];
extern const char *const kg_op_names[KG_OP__COUNT];
extern const char *const kd_reason_names[KD_REASON__COUNT];
extern const char *const kg_psrc_names[KG_PSRC__COUNT];
/* The plain counters, KG_C_VERDICT_BASE of them (verdicts and reasons follow them). */
extern const char *const kg_counter_names[KG_C_VERDICT_BASE];
extern const char *const kg_limit_names[KG_LIMIT__COUNT];

/* Each: the name, or "unknown" past the table. */
const char *kg_action_name(unsigned int action);
const char *kg_op_name(unsigned int op);
const char *kd_reason_name(unsigned int reason);
const char *kg_psrc_name(unsigned int src);
const char *kg_limit_name(unsigned int limit); /* enum kg_limit: a KG_EV_LIMIT's reason */
const char *kg_counter_name(unsigned int counter); /* below KG_C_VERDICT_BASE */
const char *kg_mode_name(unsigned int mode); /* KG_MODE_*: enforce, monitor */
/* The kinds of decision events (KG_EV_*): "topic", "request"... as audit records say. */
const char *kg_event_kind_name(unsigned int kind);
/* The decoder's events (KD_EV_*). */
const char *kd_event_name(unsigned int ev);
/* "all", "prefix", "match", "regex" for kd_state.tset (KD_TS_*). */
const char *kd_tset_name(unsigned int tset);
/* Kafka's name for an api key ("Produce"), or NULL. */
const char *kafka_api_name(unsigned int key);
/* The index of name in names[0..n), or -1. */
int kg_name_index(const char *const *names, int n, const char *name);

/* ---- files (lib/file.c) ---------------------------------------------------------------- */

/*
 * Writes data as the file name (relative to dirfd, or absolute; AT_FDCWD for the
 * working directory) through a temporary file beside it, fsync and rename: a reader
 * sees the old file or the new one, never half of one. 0 or -errno.
 */
int kg_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* A whole file into a malloc'ed, NUL-terminated buffer: NULL with *e = -errno
 * (-EFBIG past max bytes). */
char *kg_read_file(const char *path, size_t max, size_t *len, int *e);
/* mkdir -p: 0 or -errno. */
int kg_mkdir_p(const char *path, mode_t mode);
/*
 * A lock file: path opened (created 0600) and flock(how), how being LOCK_EX or LOCK_SH,
 * | LOCK_NB not to wait. Returns the fd, which holds the lock until closed, or -errno
 * (-EWOULDBLOCK: held elsewhere, with LOCK_NB). A file that others could open (group or
 * other bits, or another owner: kgate made its lock files 0644 before) is first replaced
 * by a fresh 0600 one, so that whoever opened the old one holds nothing that matters;
 * and a lock taken on a file that was replaced meanwhile is taken again on the new one.
 */
int kg_lock_file(const char *path, int how);

/* ---- directories (lib/paths.c) --------------------------------------------------------- */

#define KG_PIN_ROOT  "/sys/fs/bpf/kgate"
#define KG_STATE_DIR "/var/lib/kgate"
#define KG_RUN_DIR   "/run/kgate"
/* The state dir and every directory kgate makes in it: no other user reaches the policy
 * store, its lock or the spool. */
#define KG_STATE_DIR_MODE 0750

/*
 * The three directories, each overridable by the environment (KGATE_PIN_ROOT,
 * KGATE_STATE_DIR, KGATE_RUN_DIR) so that tests never touch a host's real state.
 */
const char *kg_pin_root(void);
const char *kg_state_dir(void);
const char *kg_run_dir(void);

/* ---- output queues (lib/outq.c) -------------------------------------------------------- */

/* What is queued for a non-blocking socket: it never blocks the agent. */
struct kg_outq {
	int fd;
	char *p;
	size_t len, off, cap;
};

/* Appends (false when over max bytes queued: the caller drops the peer). */
bool kg_outq_add(struct kg_outq *q, const char *p, size_t n, size_t max);
/* Sends what the socket takes now: 0, or -1 when the peer is gone. */
int kg_outq_flush(struct kg_outq *q);
void kg_outq_close(struct kg_outq *q);

#endif /* KGATE_LIB_H */
