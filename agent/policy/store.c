// SPDX-License-Identifier: Apache-2.0
/*
 * Policy files, and the policy store as the source of truth for what runs
 * (agent/policy/store.h): versions, the current one, the file's digest, an apply awaiting
 * its confirm, and the journal of every change. The journal and the small state files
 * are kgate's own formats, read back only here.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/audit/internal.h"
#include "agent/lib/lib.h"
#include "agent/policy/lint.h"
#include "agent/policy/store.h"
#include "agent/policy/yaml.h"

/* The store's files: read by the directory's group, written by root alone. */
#define STORE_FILE_MODE 0640
/* A small state file read whole (state, meta, version, recorded): larger -> not read. */
#define STORE_SMALL_FILE_MAX (64 * 1024)
/* The end of a journal read to find its last entry: two records' worth, so at least one
 * whole line is in it (a line is at most one audit record). */
#define JOURNAL_TAIL_BYTES (2 * KG_AUDIT_RECORD_MAX)
/* An abort's reason: whether the flip the change meant was made (what runs now). */
#define KG_ABORT_BEFORE_FLIP "interrupted_before_flip"
#define KG_ABORT_AFTER_FLIP  "interrupted_after_flip"

static double mono_us(void)
{
	return kg_mono_ns() / 1e3;
}

/* ---- policy files and applies ---------------------------------------------------------- */

void kg_policy_err_at(const char *path, const char *e, char *err, size_t errlen)
{
	/* "0:0: " is no position (kg_policy_parse_yaml's I/O errors) */
	if (!strncmp(e, "0:0: ", 5))
		snprintf(err, errlen, "%s: %s", path, e + 5);
	else
		snprintf(err, errlen, "%s:%s", path, e);
}

static int parse_text(struct kg_policy_file *f, bool lint, char *err, size_t errlen)
{
	char e[512] = "";

	/* lint: a policy that would enforce nothing (no listeners, no rule) is refused too */
	if (kg_policy_parse_yaml(f->text, f->len, &f->p, e, sizeof(e)) ||
	    kg_compile(&f->p, &f->c, e, sizeof(e)) ||
	    (lint && kg_lint_refuse(&f->p, &f->c, e, sizeof(e)))) {
		kg_policy_err_at(f->path, e, err, errlen);
		return -1;
	}
	return 0;
}

static int file_load(struct kg_policy_file *f, const char *path, bool lint, char *err,
		     size_t errlen)
{
	int e;

	memset(f, 0, sizeof(*f));
	kg_policy_init(&f->p);
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->text = kg_read_file(path, KG_POLICY_FILE_MAX, &f->len, &e);
	if (!f->text) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 e == -EFBIG ? "larger than the policy file limit" : strerror(-e));
		return -1;
	}
	return parse_text(f, lint, err, errlen);
}

int kg_policy_file_load(struct kg_policy_file *f, const char *path, char *err, size_t errlen)
{
	return file_load(f, path, true, err, errlen);
}

int kg_policy_file_load_unjudged(struct kg_policy_file *f, const char *path, char *err,
				 size_t errlen)
{
	return file_load(f, path, false, err, errlen);
}

void kg_policy_file_free(struct kg_policy_file *f)
{
	free(f->text);
	kg_policy_free(&f->p);
	kg_compiled_free(&f->c);
	memset(f, 0, sizeof(*f));
}

/* ---- paths, names, who ------------------------------------------------------------------ */

#define KG_STEP_NAME(sym, name) [sym] = name,
static const char *const step_names[KG_STEP__COUNT] = {KG_STEPS(KG_STEP_NAME)};

const char *kg_step_name(unsigned int step)
{
	return step < KG_STEP__COUNT ? step_names[step] : "unknown";
}

void kg_store_path(const char *iface, __u32 id, const char *ext, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/policies/%u.%s", kg_state_dir(), iface, id, ext);
}

/* <state dir>/<iface>/<name> */
static void iface_path(const char *iface, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/%s", kg_state_dir(), iface, name);
}

/* Newlines would split the store's line formats: a name or path keeps one line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = '?';
}

/* A user name as the environment gives it: printable name characters only, others '?'. */
static void name_chars(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._@-", *s)))
			*s = '?';
}

/* The name of uid, or "uid N". */
static void user_name(__u32 uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (!getpwuid_r(uid, &pw, buf, sizeof(buf), &res) && res)
		snprintf(out, len, "%s", pw.pw_name);
	else
		snprintf(out, len, "uid %u", uid);
	one_line(out);
}

void kg_actor_self(struct kg_actor *a, const char *fmt, ...)
{
	const char *sudo = getenv("SUDO_USER");
	char num[32] = "";
	va_list ap;
	FILE *f;

	memset(a, 0, sizeof(*a));
	a->uid = getuid();
	user_name(a->uid, a->user, sizeof(a->user));
	/* the audit login uid: who logged in, whatever sudo or su made of it since */
	a->login_uid = KG_NO_LOGIN_UID;
	if ((f = fopen("/proc/self/loginuid", "r"))) {
		if (fgets(num, sizeof(num), f))
			a->login_uid = strtoul(num, NULL, 10);
		fclose(f);
	}
	if (sudo && *sudo) {
		snprintf(a->sudo_user, sizeof(a->sudo_user), "%s", sudo);
		name_chars(a->sudo_user);
	}
	va_start(ap, fmt);
	vsnprintf(a->source, sizeof(a->source), fmt, ap);
	va_end(ap);
	one_line(a->source);
}

/* A small state file's text (NUL-terminated, malloc'ed), or NULL when absent. */
static char *read_small(const char *path)
{
	size_t n;
	int e;

	return kg_read_file(path, STORE_SMALL_FILE_MAX, &n, &e);
}

/* The version string stored beside policy id, "" when unknown. */
static void stored_version(const char *iface, __u32 id, char *out, size_t len)
{
	char path[600], *s;

	*out = 0;
	if (!id)
		return;
	kg_store_path(iface, id, "version", path, sizeof(path));
	s = read_small(path);
	if (!s)
		return;
	snprintf(out, len, "%s", s);
	free(s);
}

/* The store's lock (<state dir>/lock): its fd, or -errno. */
static int store_lock(int how)
{
	char path[600];
	int e;

	if ((e = kg_mkdir_p(kg_state_dir(), KG_STATE_DIR_MODE)))
		return e;
	snprintf(path, sizeof(path), "%s/lock", kg_state_dir());
	return kg_lock_file(path, how);
}

/* ---- versions ---------------------------------------------------------------------------- */

/* The meta file: "digest D\ntime_ns T\nuid U\nuser NAME\nsource TEXT\n". */
static int write_meta(const char *iface, const struct kg_version_info *v)
{
	char path[600], b[1024];
	int n;

	kg_store_path(iface, v->id, "meta", path, sizeof(path));
	n = snprintf(b, sizeof(b), "digest %s\ntime_ns %llu\nuid %u\nuser %s\nsource %s\n",
		     v->digest, (unsigned long long)v->time_ns, v->uid, v->user, v->source);
	return kg_write_file_atomic(AT_FDCWD, path, b, n < (int)sizeof(b) ? n : sizeof(b) - 1,
				    STORE_FILE_MODE);
}

/* The value of "key VALUE" lines. */
static void meta_field(const char *text, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, k) || l[k] != ' ')
			continue;
		snprintf(out, len, "%.*s", (int)strcspn(l + k + 1, "\n"), l + k + 1);
		return;
	}
}

/* A version kept by an older agent, before the journal: no meta file. */
#define KG_SOURCE_BEFORE_JOURNAL "unknown (kept before the journal)"

/* What the store knows of version id: 0, or -ENOENT when it does not keep it. A version
 * kept by an older agent (no meta) gets its digest from its bytes, its time from the file. */
static int version_info(const char *iface, __u32 id, struct kg_version_info *v)
{
	char path[600], num[32] = "";
	struct stat st;
	char *meta, *text;
	size_t n;
	int e;

	memset(v, 0, sizeof(*v));
	v->id = id;
	kg_store_path(iface, id, "yaml", path, sizeof(path));
	if (stat(path, &st))
		return -errno;
	stored_version(iface, id, v->version, sizeof(v->version));
	kg_store_path(iface, id, "meta", path, sizeof(path));
	meta = read_small(path);
	if (meta) {
		meta_field(meta, "digest", v->digest, sizeof(v->digest));
		meta_field(meta, "time_ns", num, sizeof(num));
		v->time_ns = strtoull(num, NULL, 10);
		*num = 0;
		meta_field(meta, "uid", num, sizeof(num));
		v->uid = strtoul(num, NULL, 10);
		meta_field(meta, "user", v->user, sizeof(v->user));
		meta_field(meta, "source", v->source, sizeof(v->source));
		free(meta);
	} else {
		v->time_ns = (__u64)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
		v->uid = st.st_uid;
		snprintf(v->source, sizeof(v->source), KG_SOURCE_BEFORE_JOURNAL);
	}
	if (!*v->digest) {
		kg_store_path(iface, id, "yaml", path, sizeof(path));
		text = kg_read_file(path, KG_POLICY_FILE_MAX, &n, &e);
		if (text)
			kg_digest(text, n, v->digest);
		free(text);
	}
	return 0;
}

static int cmp_u32_desc(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x > y ? -1 : x < y;
}

/* The ids kept for iface, newest first (malloc'ed): count, or -errno. */
static int stored_ids(const char *iface, __u32 **out)
{
	char dir[512];
	__u32 *ids = NULL;
	struct dirent *de;
	int n = 0;
	DIR *d;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/%s/policies", kg_state_dir(), iface);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long id = strtoul(de->d_name, &end, 10);
		__u32 *ni;

		if (end == de->d_name || strcmp(end, ".yaml") || !id || id > UINT32_MAX)
			continue;
		ni = kg_grow(ids, n, sizeof(*ids));
		if (!ni) {
			closedir(d);
			free(ids);
			return -ENOMEM;
		}
		ids = ni;
		ids[n++] = id;
	}
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_u32_desc);
	*out = ids;
	return n;
}

static bool version_kept(const char *iface, __u32 id)
{
	char path[600];

	kg_store_path(iface, id, "yaml", path, sizeof(path));
	return !access(path, R_OK);
}

int kg_store_versions(const char *iface, struct kg_version_info **out, int *n)
{
	__u32 *ids;
	int k = stored_ids(iface, &ids);

	*out = NULL;
	*n = 0;
	if (k < 0)
		return k;
	*out = calloc(k ? k : 1, sizeof(**out));
	if (!*out) {
		free(ids);
		return -ENOMEM;
	}
	for (int i = 0; i < k; i++)
		if (!version_info(iface, ids[i], &(*out)[*n]))
			(*n)++;
	free(ids);
	return 0;
}

/*
 * Keeps the newest KG_STORE_KEEP versions of iface, and always those in keep[] (the
 * generations', the current one, an unconfirmed apply's way back). Under the lock;
 * failures only leave files behind.
 */
static void store_prune(const char *iface, const __u32 *keep, int nkeep)
{
	static const char *const exts[] = {"version", "meta", "yaml"};
	char path[600];
	__u32 *ids;
	int n = stored_ids(iface, &ids);

	for (int i = KG_STORE_KEEP; i < n; i++) {
		bool kept = false;

		for (int k = 0; k < nkeep; k++)
			kept |= ids[i] == keep[k];
		for (size_t e = 0; !kept && e < sizeof(exts) / sizeof(exts[0]); e++) {
			kg_store_path(iface, ids[i], exts[e], path, sizeof(path));
			unlink(path);
		}
	}
	free(ids);
}

/* A version's files gone: one that never ran (its flip failed), whose id nothing names. */
static void version_remove(const char *iface, __u32 id)
{
	static const char *const exts[] = {"version", "meta", "yaml"};
	char path[600];

	for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
		kg_store_path(iface, id, exts[e], path, sizeof(path));
		unlink(path);
	}
}

/* The next version id: monotonic across interfaces and restarts. Under the lock. */
static int next_version_id(__u32 *id)
{
	char path[512], buf[32], *s;
	unsigned long last = 0;
	size_t n;
	int e;

	snprintf(path, sizeof(path), "%s/version_id", kg_state_dir());
	s = kg_read_file(path, 64, &n, &e);
	if (s) {
		last = strtoul(s, NULL, 10);
		free(s);
	} else if (e != -ENOENT) {
		return e;
	}
	if (last >= UINT32_MAX - 1)
		return -EOVERFLOW;
	*id = last + 1;
	n = snprintf(buf, sizeof(buf), "%u\n", *id);
	return kg_write_file_atomic(AT_FDCWD, path, buf, n, STORE_FILE_MODE);
}

/* Version id's files: the file's bytes, its version string and who put it in. */
static int save_version(const char *iface, const struct kg_policy_file *f,
			const struct kg_actor *by, __u64 now, __u32 id, char *err, size_t errlen)
{
	struct kg_version_info v = {.id = id, .time_ns = now, .uid = by->uid};
	char path[600], dir[512];
	int e;

	snprintf(dir, sizeof(dir), "%s/%s/policies", kg_state_dir(), iface);
	if ((e = kg_mkdir_p(dir, KG_STATE_DIR_MODE))) {
		snprintf(err, errlen, "policy store %s: %s", dir, strerror(-e));
		return e;
	}
	kg_digest(f->text, f->len, v.digest);
	snprintf(v.version, sizeof(v.version), "%s", f->p.version);
	snprintf(v.user, sizeof(v.user), "%s", by->user);
	snprintf(v.source, sizeof(v.source), "%s", by->source);
	/* the bytes first: once the version file names it, every event's id can be named */
	kg_store_path(iface, id, "yaml", path, sizeof(path));
	if (!(e = kg_write_file_atomic(AT_FDCWD, path, f->text, f->len, STORE_FILE_MODE))) {
		kg_store_path(iface, id, "version", path, sizeof(path));
		e = kg_write_file_atomic(AT_FDCWD, path, f->p.version, strlen(f->p.version),
					 STORE_FILE_MODE);
	}
	if (!e)
		e = write_meta(iface, &v);
	if (e)
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
	return e;
}

/*
 * A kept version, read and compiled. Not judged by the linter: it was applied already
 * (perhaps by an older kgate), and refusing it now would leave a datapath made anew
 * with no policy at all.
 */
static int load_version(const char *iface, __u32 id, struct kg_policy_file *f, char *err,
			size_t errlen)
{
	char path[600];

	kg_store_path(iface, id, "yaml", path, sizeof(path));
	if (access(path, R_OK)) {
		int e = -errno;

		memset(f, 0, sizeof(*f));
		kg_policy_init(&f->p);
		snprintf(err, errlen,
			 "version %u is not in the store of %s ('kgate policy "
			 "history --iface %s' lists what is)",
			 id, iface, iface);
		return e;
	}
	return kg_policy_file_load_unjudged(f, path, err, errlen) ? -EINVAL : 0;
}

/* ---- the interface's state ------------------------------------------------------------------ */

/*
 * The state file, and the change being made while it holds an intent: `next` is the
 * state once the change is whole, `by` who started it.
 */
struct store_file {
	struct kg_store_state st; /* as committed by the last whole change */
	__u64 intent_change;
	enum kg_step intent_step;
	struct kg_actor intent_by;
	struct kg_store_state next;
};

/* The first line of the state file: its format. */
#define STATE_HEADER "kgate-store-state 1\n"

enum field_kind { F_U32, F_U64, F_BOOL, F_MODE, F_STR };

/* A field of struct kg_store_state as a "key value" line of the state file. */
struct state_field {
	const char *key;
	enum field_kind kind;
	size_t off, len;
	bool pending; /* written only with a pending confirm */
};

#define SF(key, kind, member, pend)                                                                \
	{key, kind, offsetof(struct kg_store_state, member),                                       \
	 sizeof(((struct kg_store_state *)0)->member), pend}

static const struct state_field state_fields[] = {
	SF("change", F_U64, last_change, false),
	SF("current", F_U32, current, false),
	SF("paused", F_BOOL, paused, false),
	SF("mode", F_MODE, mode, false),
	SF("file_digest", F_STR, file_digest, false),
	SF("file_path", F_STR, file_path, false),
	SF("pending_id", F_U32, pending.id, true),
	SF("pending_revert_to", F_U32, pending.revert_to, true),
	SF("pending_deadline_ns", F_U64, pending.deadline_ns, true),
	SF("pending_boot_deadline_ns", F_U64, pending.boot_deadline_ns, true),
	SF("pending_boot_id", F_STR, pending.boot_id, true),
	SF("pending_guard_rejects", F_U64, pending.guard_rejects, true),
	SF("pending_guard_undecodable", F_U64, pending.guard_undecodable, true),
	SF("pending_change", F_U64, pending.change, true),
};

static void fields_write(struct kg_buf *b, const char *prefix, const struct kg_store_state *st)
{
	for (size_t i = 0; i < sizeof(state_fields) / sizeof(state_fields[0]); i++) {
		const struct state_field *f = &state_fields[i];
		const char *p = (const char *)st + f->off;

		if (f->pending && !st->has_pending)
			continue;
		switch (f->kind) {
		case F_U32:
			kg_buf_printf(b, "%s%s %u\n", prefix, f->key, *(const __u32 *)p);
			break;
		case F_U64:
			kg_buf_printf(b, "%s%s %llu\n", prefix, f->key,
				      (unsigned long long)*(const __u64 *)p);
			break;
		case F_BOOL:
			kg_buf_printf(b, "%s%s %d\n", prefix, f->key, *(const bool *)p);
			break;
		case F_MODE:
			kg_buf_printf(b, "%s%s %s\n", prefix, f->key,
				      *(const __u8 *)p == KG_MODE_UNKNOWN
					      ? "unknown"
					      : kg_mode_name(*(const __u8 *)p));
			break;
		case F_STR:
			if (*p)
				kg_buf_printf(b, "%s%s %s\n", prefix, f->key, p);
			break;
		}
	}
}

/* One "key value" line into st: false when the key is not a state field. */
static bool field_read(struct kg_store_state *st, const char *key, size_t klen, const char *v)
{
	for (size_t i = 0; i < sizeof(state_fields) / sizeof(state_fields[0]); i++) {
		const struct state_field *f = &state_fields[i];
		char *p = (char *)st + f->off;

		if (strlen(f->key) != klen || strncmp(f->key, key, klen))
			continue;
		if (f->pending)
			st->has_pending = true;
		switch (f->kind) {
		case F_U32:
			*(__u32 *)p = strtoul(v, NULL, 10);
			break;
		case F_U64:
			*(__u64 *)p = strtoull(v, NULL, 10);
			break;
		case F_BOOL:
			*(bool *)p = *v == '1';
			break;
		case F_MODE:
			*(__u8 *)p = !strcmp(v, "monitor")   ? KG_MODE_MONITOR
				     : !strcmp(v, "enforce") ? KG_MODE_ENFORCE
							     : KG_MODE_UNKNOWN;
			break;
		case F_STR:
			snprintf(p, f->len, "%s", v);
			break;
		}
		return true;
	}
	return false;
}

/* The intent's own lines: the change's number, its step, and who made it. */
static void intent_write(struct kg_buf *b, const struct store_file *sf)
{
	const struct kg_actor *a = &sf->intent_by;

	kg_buf_printf(b, "intent_change %llu\nintent_step %s\nintent_uid %u\nintent_user %s\n"
			 "intent_login_uid %u\nintent_source %s\n",
		      (unsigned long long)sf->intent_change, kg_step_name(sf->intent_step),
		      a->uid, a->user, a->login_uid, a->source);
	if (*a->sudo_user)
		kg_buf_printf(b, "intent_sudo_user %s\n", a->sudo_user);
	fields_write(b, "next_", &sf->next);
}

static void intent_read(struct store_file *sf, const char *key, size_t klen, const char *v)
{
	struct kg_actor *a = &sf->intent_by;

#define IS(k) (klen == strlen(k) && !strncmp(key, k, klen))
	if (IS("intent_change"))
		sf->intent_change = strtoull(v, NULL, 10);
	else if (IS("intent_step"))
		sf->intent_step = kg_name_index(step_names, KG_STEP__COUNT, v);
	else if (IS("intent_uid"))
		a->uid = strtoul(v, NULL, 10);
	else if (IS("intent_login_uid"))
		a->login_uid = strtoul(v, NULL, 10);
	else if (IS("intent_user"))
		snprintf(a->user, sizeof(a->user), "%s", v);
	else if (IS("intent_sudo_user"))
		snprintf(a->sudo_user, sizeof(a->sudo_user), "%s", v);
	else if (IS("intent_source"))
		snprintf(a->source, sizeof(a->source), "%s", v);
	else if (klen > 5 && !strncmp(key, "next_", 5))
		field_read(&sf->next, key + 5, klen - 5, v);
#undef IS
}

/* The number of the last whole entry of a journal file (0: none), read from its tail. */
static __u64 journal_file_last(const char *path)
{
	char buf[JOURNAL_TAIL_BYTES + 1];
	unsigned long long t, c;
	struct stat st;
	off_t off;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st)) {
		close(fd);
		return 0;
	}
	off = st.st_size > JOURNAL_TAIL_BYTES ? st.st_size - JOURNAL_TAIL_BYTES : 0;
	n = pread(fd, buf, JOURNAL_TAIL_BYTES, off);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* whole lines from the end back; a torn last line (no newline) does not count, nor
	 * the first one when the tail starts within it */
	for (char *end = memrchr(buf, '\n', n); end; end = memrchr(buf, '\n', end - buf)) {
		char *l;

		*end = 0;
		l = memrchr(buf, '\n', end - buf);
		if (!l && off)
			break;
		l = l ? l + 1 : buf;
		if (sscanf(l, "{\"ts_ns\":%llu,\"kind\":\"policy\",\"change\":%llu", &t, &c) == 2)
			return c;
	}
	return 0;
}

/* The newest entry's number in iface's journal files. */
static __u64 journal_last(const char *iface)
{
	char path[600];
	__u64 c;

	iface_path(iface, "journal", path, sizeof(path));
	if ((c = journal_file_last(path)))
		return c;
	iface_path(iface, "journal.1", path, sizeof(path));
	return journal_file_last(path);
}

/* A store kept by an older kgate: `current`, `pending` and `file`; no mode. */
static void legacy_read(const char *iface, struct kg_store_state *st, bool *has_current)
{
	char path[600], *s;
	unsigned int id = 0, paused = 0;

	iface_path(iface, "current", path, sizeof(path));
	if ((s = read_small(path))) {
		*has_current = sscanf(s, "id %u paused %u", &id, &paused) == 2;
		st->current = id;
		st->paused = paused;
		free(s);
	}
	iface_path(iface, "pending", path, sizeof(path));
	if ((s = read_small(path))) {
		struct kg_pending *p = &st->pending;
		unsigned long long d, r, u, c;

		st->has_pending = sscanf(s,
					 "id %u revert_to %u deadline_ns %llu guard_rejects %llu "
					 "guard_undecodable %llu change %llu",
					 &p->id, &p->revert_to, &d, &r, &u, &c) == 6;
		p->deadline_ns = d, p->guard_rejects = r, p->guard_undecodable = u, p->change = c;
		free(s);
	}
	iface_path(iface, "file", path, sizeof(path));
	if ((s = read_small(path))) {
		size_t n = strcspn(s, " ");

		if (n < sizeof(st->file_digest) && s[n] == ' ') {
			snprintf(st->file_digest, sizeof(st->file_digest), "%.*s", (int)n, s);
			snprintf(st->file_path, sizeof(st->file_path), "%.*s",
				 (int)strcspn(s + n + 1, "\n"), s + n + 1);
		}
		free(s);
	}
}

/*
 * The state of iface; has_current: whether it says what runs (a store kept before
 * `current` existed does not). The last change's number is the state's, or the
 * journal's last line's when that is newer (a store kept by an older kgate).
 */
static void state_read(const char *iface, struct store_file *sf, bool *has_current)
{
	char path[600], *s;

	memset(sf, 0, sizeof(*sf));
	sf->st.mode = KG_MODE_UNKNOWN;
	*has_current = false;
	iface_path(iface, "state", path, sizeof(path));
	if ((s = read_small(path)) && !strncmp(s, STATE_HEADER, strlen(STATE_HEADER))) {
		for (char *l = s + strlen(STATE_HEADER), *nl; *l; l = nl + 1) {
			size_t klen;

			if ((nl = strchr(l, '\n')))
				*nl = 0;
			klen = strcspn(l, " ");
			if (klen && !field_read(&sf->st, l, klen, l + klen + !!l[klen]))
				intent_read(sf, l, klen, l + klen + !!l[klen]);
			if (!nl)
				break;
		}
		*has_current = true;
		sf->st.has_intent = sf->intent_change != 0;
	} else {
		legacy_read(iface, &sf->st, has_current);
	}
	free(s);
	{
		__u64 j = journal_last(iface);

		if (j > sf->st.last_change)
			sf->st.last_change = j;
	}
}

int kg_store_state(const char *iface, struct kg_store_state *st)
{
	struct store_file sf;
	bool has_current;

	state_read(iface, &sf, &has_current);
	*st = sf.st;
	return 0;
}

/* The state as sf says, in one file replaced whole; a store's older files go. */
static int state_write(const char *iface, const struct store_file *sf)
{
	static const char *const legacy[] = {"current", "pending", "file"};
	struct kg_buf b = {0};
	char path[600];
	int e;

	if ((e = kg_mkdir_p((iface_path(iface, "", path, sizeof(path)), path), KG_STATE_DIR_MODE)))
		return e;
	kg_buf_printf(&b, STATE_HEADER);
	fields_write(&b, "", &sf->st);
	if (sf->st.has_intent)
		intent_write(&b, sf);
	iface_path(iface, "state", path, sizeof(path));
	e = kg_write_file_atomic(AT_FDCWD, path, b.p, b.len, STORE_FILE_MODE);
	kg_buf_free(&b);
	for (size_t i = 0; !e && i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		iface_path(iface, legacy[i], path, sizeof(path));
		unlink(path);
	}
	return e;
}

bool kg_pending_due(const struct kg_pending *p, __u64 wall_now_ns, __u64 boot_now_ns,
		    const char *boot_id)
{
	if (*p->boot_id && !strcmp(p->boot_id, boot_id))
		return boot_now_ns >= p->boot_deadline_ns;
	/* another boot (the boot clock started again), or kept by an older kgate */
	return wall_now_ns >= p->deadline_ns;
}

/* ---- the journal ------------------------------------------------------------------------- */

static void json_opt_u32(struct kg_buf *b, const char *k, __u32 v)
{
	if (v)
		kg_buf_printf(b, ",\"%s\":%u", k, v);
	else
		kg_buf_printf(b, ",\"%s\":null", k);
}

static void json_str(struct kg_buf *b, const char *k, const char *v)
{
	kg_buf_printf(b, ",\"%s\":", k);
	kg_json_cstr(b, v && *v ? v : NULL);
}

static void json_time(struct kg_buf *b, const char *k, __u64 wall_ns)
{
	char t[40];

	if (!wall_ns) {
		kg_buf_printf(b, ",\"%s\":null", k);
		return;
	}
	kg_time_text(wall_ns, t, sizeof(t));
	kg_buf_printf(b, ",\"%s\":\"%s\"", k, t);
}

/*
 * The entry: {"ts_ns":T, then the fields of the `policy` audit record (README.md, "Audit
 * records"), "kind" first}. Every field is always there (null where it does not apply).
 */
static void journal_line(const char *iface, const struct kg_change *c, struct kg_buf *b)
{
	char login_user[64] = "";

	if (c->by.login_uid != KG_NO_LOGIN_UID)
		user_name(c->by.login_uid, login_user, sizeof(login_user));
	kg_buf_printf(b, "{\"ts_ns\":%llu,\"kind\":\"policy\",\"change\":%llu",
		      (unsigned long long)c->time_ns, (unsigned long long)c->change);
	json_str(b, "step", kg_step_name(c->step));
	json_str(b, "iface", iface);
	kg_buf_printf(b, ",\"uid\":%u", c->by.uid);
	json_str(b, "user", c->by.user);
	if (c->by.login_uid != KG_NO_LOGIN_UID)
		kg_buf_printf(b, ",\"login_uid\":%u", c->by.login_uid);
	else
		kg_buf_printf(b, ",\"login_uid\":null");
	json_str(b, "login_user", login_user);
	json_str(b, "sudo_user", c->by.sudo_user);
	json_str(b, "source", c->by.source);
	json_opt_u32(b, "old_version_id", c->old_id);
	json_str(b, "old_policy_version", c->old_id ? c->old_version : NULL);
	json_opt_u32(b, "version_id", c->new_id);
	json_str(b, "policy_version", c->new_id ? c->new_version : NULL);
	json_str(b, "digest", c->digest);
	json_str(b, "mode", kg_mode_name(c->mode));
	kg_buf_printf(b, ",\"paused\":%s", c->paused ? "true" : "false");
	json_time(b, "confirm_by", c->confirm_deadline_ns);
	json_opt_u32(b, "revert_to_version_id", c->confirm_deadline_ns ? c->revert_to : 0);
	if (c->confirm_deadline_ns && (c->guard_rejects || c->guard_undecodable))
		kg_buf_printf(b, ",\"guard\":{\"rejects_per_s\":%llu,\"undecodable_per_s\":%llu}",
			      (unsigned long long)c->guard_rejects,
			      (unsigned long long)c->guard_undecodable);
	else
		kg_buf_printf(b, ",\"guard\":null");
	json_opt_u32(b, "superseded_version_id", c->superseded);
	json_str(b, "reason", c->reason);
	if (c->step == KG_STEP_REVERT && c->limit > 0)
		kg_buf_printf(b, ",\"rate_per_s\":%.1f,\"limit_per_s\":%.0f", c->rate, c->limit);
	else
		kg_buf_printf(b, ",\"rate_per_s\":null,\"limit_per_s\":null");
	json_str(b, "interrupted_step",
		 c->step == KG_STEP_ABORT ? kg_step_name(c->interrupted_step) : NULL);
	json_opt_u32(b, "interrupted_version_id", c->step == KG_STEP_ABORT ? c->interrupted_id : 0);
	kg_buf_printf(b, "}\n");
}

/* Appends c's entry (rotating the journal past its size). Under the lock. 0 or -errno. */
static int journal_append(const char *iface, const struct kg_change *c)
{
	char path[600], old[600], last;
	struct kg_buf b = {0};
	struct stat st;
	ssize_t w;
	int fd, e = 0;

	iface_path(iface, "journal", path, sizeof(path));
	if (!stat(path, &st) && st.st_size >= KG_JOURNAL_MAX_BYTES) {
		iface_path(iface, "journal.1", old, sizeof(old));
		if (rename(path, old))
			return -errno;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, STORE_FILE_MODE);
	if (fd < 0)
		return -errno;
	/* a last line torn by a crash (no newline) stays a line of its own, not the head of
	 * this entry, which would then be lost with it */
	if (!fstat(fd, &st) && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n')
		kg_buf_add(&b, "\n", 1);
	journal_line(iface, c, &b);
	/* one write(2): a reader sees a whole line or none of it */
	w = write(fd, b.p, b.len);
	if (w != (ssize_t)b.len)
		e = w < 0 ? -errno : -EIO;
	if (!e && fdatasync(fd))
		e = -errno;
	close(fd);
	kg_buf_free(&b);
	return e;
}

/* Each entry of one journal file after `after`: 0, 1 when fn stopped, or -errno. */
static int journal_file_each(const char *path, __u64 after, kg_journal_fn fn, void *ctx)
{
	size_t n;
	int e;
	char *s = kg_read_file(path, 4 * KG_JOURNAL_MAX_BYTES, &n, &e), *l, *nl;

	if (!s)
		return e == -ENOENT ? 0 : e;
	for (l = s; l < s + n; l = nl + 1) {
		unsigned long long t, c;
		const char *fields;
		int r;

		nl = memchr(l, '\n', s + n - l);
		if (!nl)
			break; /* a line being written: whole lines only */
		if (sscanf(l, "{\"ts_ns\":%llu,\"kind\":\"policy\",\"change\":%llu", &t, &c) != 2 ||
		    c <= after)
			continue;
		fields = strstr(l, "\"kind\"");
		if (!fields || fields > nl || nl[-1] != '}')
			continue;
		if ((r = fn(ctx, c, t, fields, nl - 1 - fields))) {
			free(s);
			return 1;
		}
	}
	free(s);
	return 0;
}

/* Both files, the rotated one first; the caller holds the lock. */
static int journal_each(const char *iface, __u64 after, kg_journal_fn fn, void *ctx)
{
	char path[600];
	int r;

	iface_path(iface, "journal.1", path, sizeof(path));
	if ((r = journal_file_each(path, after, fn, ctx)))
		return r < 0 ? r : 0;
	iface_path(iface, "journal", path, sizeof(path));
	r = journal_file_each(path, after, fn, ctx);
	return r < 0 ? r : 0;
}

int kg_journal_each(const char *iface, __u64 after, kg_journal_fn fn, void *ctx, bool nowait)
{
	int lock = store_lock(LOCK_SH | (nowait ? LOCK_NB : 0)), r;

	if (lock < 0)
		return lock;
	r = journal_each(iface, after, fn, ctx);
	close(lock);
	return r;
}

__u64 kg_journal_recorded(const char *iface)
{
	char path[600], *s;
	__u64 n = 0;

	iface_path(iface, "recorded", path, sizeof(path));
	if ((s = read_small(path))) {
		n = strtoull(s, NULL, 10);
		free(s);
	}
	return n;
}

int kg_journal_set_recorded(const char *iface, __u64 change)
{
	char path[600], b[32];
	int n = snprintf(b, sizeof(b), "%llu\n", (unsigned long long)change);

	iface_path(iface, "recorded", path, sizeof(path));
	return kg_write_file_atomic(AT_FDCWD, path, b, n, STORE_FILE_MODE);
}

/* ---- what ran, by the journal ----------------------------------------------------------------- */

/*
 * The journal read as a history of what ran. `ran` is the way back: the versions that
 * ran, oldest first, each below the one that replaced it; a rollback or a revert goes
 * back down it (what it leaves is no longer the way back), an apply puts a version on
 * top. A reverted version leaves it. So the default rollback is the version under the
 * current one: what ran before it, never an apply that failed its confirm or guard, nor
 * one that never ran.
 */
struct lineage {
	__u32 *ran;
	int n;
	struct fate_of {
		__u32 id;
		int fate;
		char reason[32];
	} *fates;
	int nfates;
	__u64 last;  /* the last entry taken: entries are taken in their numbers' order */
	__u64 first; /* the first entry the files hold (1: the journal is whole) */
	bool oom;
};

static struct fate_of *fate_slot(struct lineage *l, __u32 id)
{
	struct fate_of *nf;

	for (int i = 0; i < l->nfates; i++)
		if (l->fates[i].id == id)
			return &l->fates[i];
	if (!(nf = kg_grow(l->fates, l->nfates, sizeof(*nf)))) {
		l->oom = true;
		return NULL;
	}
	l->fates = nf;
	nf = &l->fates[l->nfates++];
	memset(nf, 0, sizeof(*nf));
	nf->id = id;
	return nf;
}

static void set_fate(struct lineage *l, __u32 id, int fate, const char *reason)
{
	struct fate_of *f = id ? fate_slot(l, id) : NULL;

	if (!f)
		return;
	f->fate = fate;
	snprintf(f->reason, sizeof(f->reason), "%s", reason ? reason : "");
}

static void ran_push(struct lineage *l, __u32 id)
{
	__u32 *nr;

	if (!id || (l->n && l->ran[l->n - 1] == id))
		return;
	if (!(nr = kg_grow(l->ran, l->n, sizeof(*nr)))) {
		l->oom = true;
		return;
	}
	l->ran = nr;
	l->ran[l->n++] = id;
}

/* Back down the way to id when it is on it, else id on top. */
static void ran_goto(struct lineage *l, __u32 id)
{
	for (int i = l->n - 1; i >= 0; i--)
		if (l->ran[i] == id) {
			l->n = i + 1;
			return;
		}
	ran_push(l, id);
}

static int lineage_entry(void *ctx, __u64 change, __u64 time_ns, const char *fields, size_t len)
{
	struct lineage *l = ctx;
	char step[16] = "", reason[32] = "";
	__u64 old = 0, now = 0, meant = 0;
	int s;

	(void)time_ns;
	/* a copy of an older entry (or one out of order) changes nothing */
	if (change <= l->last)
		return 0;
	if (!l->first)
		l->first = change;
	l->last = change;
	kg_rec_str(fields, len, "step", step, sizeof(step));
	kg_rec_u64(fields, len, "old_version_id", &old);
	kg_rec_u64(fields, len, "version_id", &now);
	kg_rec_str(fields, len, "reason", reason, sizeof(reason));
	kg_rec_u64(fields, len, "interrupted_version_id", &meant);
	s = kg_name_index(step_names, KG_STEP__COUNT, step);
	if (s == KG_STEP_MISMATCH || s < 0)
		return 0; /* not the store's doing */
	if (!l->n)
		ran_push(l, old);
	switch (s) {
	case KG_STEP_ROLLBACK:
		ran_goto(l, now);
		break;
	case KG_STEP_REVERT:
		set_fate(l, old, KG_FATE_REVERTED, reason);
		while (l->n && l->ran[l->n - 1] == old)
			l->n--;
		ran_goto(l, now);
		break;
	case KG_STEP_ABORT:
		if (meant && meant != now && !strcmp(reason, KG_ABORT_BEFORE_FLIP)) {
			struct fate_of *f = fate_slot(l, meant);

			if (f && f->fate != KG_FATE_RAN)
				f->fate = KG_FATE_NEVER_RAN;
		}
		ran_goto(l, now);
		break;
	default: /* apply, restore, pause, resume, confirm */
		ran_push(l, now);
	}
	if (s != KG_STEP_REVERT || now)
		set_fate(l, now, KG_FATE_RAN, NULL);
	return 0;
}

static void lineage_free(struct lineage *l)
{
	free(l->ran);
	free(l->fates);
}

/* The default rollback of a store whose current version is cur: 0 when there is none. */
static __u32 lineage_back(const char *iface, struct lineage *l, __u32 cur)
{
	if (cur)
		ran_goto(l, cur);
	for (int i = l->n - 2; i >= 0; i--) {
		__u32 id = l->ran[i];

		if (id != cur && version_kept(iface, id))
			return id;
	}
	return 0;
}

int kg_store_fates(const char *iface, struct kg_version_info *v, int n)
{
	struct lineage l = {0};
	struct kg_store_state st;
	int e = kg_journal_each(iface, 0, lineage_entry, &l, false);

	kg_store_state(iface, &st);
	for (int i = 0; !e && i < n; i++) {
		v[i].fate = KG_FATE_UNKNOWN;
		*v[i].reverted_reason = 0;
		for (int k = 0; k < l.nfates; k++)
			if (l.fates[k].id == v[i].id) {
				v[i].fate = l.fates[k].fate;
				snprintf(v[i].reverted_reason, sizeof(v[i].reverted_reason), "%s",
					 l.fates[k].reason);
			}
		if (v[i].id == st.current)
			v[i].fate = KG_FATE_RAN;
		/* a whole journal names every version put in since it began */
		else if (v[i].fate == KG_FATE_UNKNOWN && l.first == 1 &&
			 strcmp(v[i].source, KG_SOURCE_BEFORE_JOURNAL))
			v[i].fate = KG_FATE_NEVER_RAN;
	}
	lineage_free(&l);
	return e;
}

/* ---- changes ------------------------------------------------------------------------------ */

/*
 * A generation's rule hits start from zero with each policy written into it: they count
 * the decisions of the rules now there, not of the policy that held the slots before.
 */
static int zero_rule_hits(const struct kg_maps *m, int gen, __u32 nrules)
{
	int ncpu = libbpf_num_possible_cpus();
	/* one batch call per chunk: 10,000 rules are not 10,000 syscalls */
	enum { CHUNK = 4096 };
	__u32 *keys;
	__u64 *zeros;
	int e = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	keys = malloc(CHUNK * sizeof(*keys));
	zeros = calloc((size_t)CHUNK * ncpu, sizeof(*zeros));
	if (!keys || !zeros) {
		e = -ENOMEM;
		goto out;
	}
	for (__u32 base = 0; base < nrules; base += CHUNK) {
		__u32 n = nrules - base < CHUNK ? nrules - base : CHUNK;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		for (__u32 i = 0; i < n; i++)
			keys[i] = gen * KG_MAX_RULES + base + i;
		if (bpf_map_update_batch(m->rule_hits, keys, zeros, &n, &bo)) {
			e = -errno;
			break;
		}
	}
out:
	free(keys);
	free(zeros);
	return e;
}

/* The mode f runs in: monitor while paused, else its own. */
static __u8 run_mode(const struct kg_policy_file *f, bool paused)
{
	return paused ? KG_MODE_MONITOR : f->c.config.mode;
}

/*
 * f as version id into the inactive generation, in monitor mode when paused, then the
 * flip. The quarantine interface is the agent's setting, not the policy's: kept.
 */
static int write_flip(const char *iface, const struct kg_maps *m, struct kg_policy_file *f,
		      __u32 id, bool paused, const struct kg_config *active, struct kg_change *c,
		      char *err, size_t errlen)
{
	__u8 own_mode = f->c.config.mode;
	double t0, t1, t2;
	int e;

	c->new_gen = 1 - c->old_gen;
	f->c.config.redirect_ifindex = active->redirect_ifindex;
	/* for this write only: the same file may go to an interface that is not paused */
	f->c.config.mode = c->mode = run_mode(f, paused);
	t0 = mono_us();
	if ((e = zero_rule_hits(m, c->new_gen, f->c.nrules)))
		snprintf(err, errlen, "%s: clearing kg_rule_hits: %s", iface, strerror(-e));
	else
		e = kg_policy_write(m, &f->c, c->new_gen, id, err, errlen);
	f->c.config.mode = own_mode;
	if (e)
		return e;
	t1 = mono_us();
	if ((e = kg_policy_activate(m, c->new_gen))) {
		snprintf(err, errlen, "%s: flipping to generation %d: %s", iface, c->new_gen,
			 strerror(-e));
		return e;
	}
	t2 = mono_us();
	c->write_us = t1 - t0;
	c->swap_us = t2 - t1;
	return 0;
}

/* The newest kept version older than cur (a store with no journal to say what ran). */
static __u32 older_version(const char *iface, __u32 cur)
{
	__u32 *ids, prev = 0;
	int n = stored_ids(iface, &ids);

	for (int i = 0; i < n && !prev; i++)
		if (ids[i] < cur)
			prev = ids[i];
	free(ids);
	return prev;
}

/* The default rollback: the version that ran before the current one (struct lineage). */
static __u32 previous_version(const char *iface, __u32 cur)
{
	struct lineage l = {0};
	__u32 to;

	/* under the change's lock already: the journal is read as it stands */
	journal_each(iface, 0, lineage_entry, &l);
	to = l.last && !l.oom ? lineage_back(iface, &l, cur) : older_version(iface, cur);
	lineage_free(&l);
	return to;
}

/* Whether version id's kept bytes are f's. */
static bool same_bytes(const char *iface, __u32 id, const struct kg_policy_file *f)
{
	char path[600], *old;
	size_t n;
	bool same;
	int e;

	kg_store_path(iface, id, "yaml", path, sizeof(path));
	old = kg_read_file(path, KG_POLICY_FILE_MAX, &n, &e);
	same = old && n == f->len && !memcmp(old, f->text, n);
	free(old);
	return same;
}

/* What runs as the store says it, when the store does not keep the mode (older kgate). */
static __u8 expected_mode(const char *iface, const struct kg_store_state *st)
{
	struct kg_policy_file f;
	char err[512];
	__u8 mode = KG_MODE_UNKNOWN;

	if (st->mode != KG_MODE_UNKNOWN || !st->current)
		return st->mode;
	if (st->paused)
		return KG_MODE_MONITOR;
	if (!load_version(iface, st->current, &f, err, sizeof(err)))
		mode = f.c.config.mode;
	kg_policy_file_free(&f);
	return mode;
}

bool kg_store_runs_as(const struct kg_config *cfg, const struct kg_store_state *st)
{
	return cfg->version_id == st->current &&
	       (st->mode == KG_MODE_UNKNOWN || cfg->mode == st->mode);
}

/*
 * What the step asks for, under the lock: the version to run after it (*to, 0: the same
 * as now), loaded into *f when it is a kept one; st becomes the state after it (but its
 * mode, set once the version to run is known). 0, 1 when there is nothing to do, or
 * -errno with err set.
 */
static int plan(const char *iface, const struct kg_change_req *rq, struct kg_store_state *st,
		const struct kg_config *cfg, struct kg_change *c, struct kg_policy_file *f,
		__u32 *to, char *err, size_t errlen)
{
	bool had_pending = st->has_pending;
	__u32 pending_id = st->pending.id;
	__u8 want;

	*to = 0;
	switch (rq->step) {
	case KG_STEP_APPLY:
		if (rq->from_file && st->current && !rq->fallback) {
			/* the agent's file: the same bytes as what runs are no change */
			if (same_bytes(iface, st->current, rq->file))
				return 1;
			/* a store kept before it recorded the file: FILE's bytes are taken as
			 * seen, and what runs stays (it may be a command's apply) */
			if (!*st->file_digest) {
				c->file_noted = true;
				return 1;
			}
		}
		if (rq->confirm_within_ns && !st->current) {
			snprintf(err, errlen,
				 "%s: --confirm-within: no version runs that it could "
				 "go back to",
				 iface);
			return -ENOENT;
		}
		if (rq->confirm_within_ns) {
			struct kg_pending *p = &st->pending;

			/* a second unconfirmed apply goes back to the last confirmed version */
			*p = (struct kg_pending){
				.revert_to = had_pending ? p->revert_to : st->current,
				.deadline_ns = c->time_ns + rq->confirm_within_ns,
				.boot_deadline_ns = kg_boot_ns() + rq->confirm_within_ns,
				.guard_rejects = rq->guard_rejects,
				.guard_undecodable = rq->guard_undecodable,
			};
			kg_boot_id(p->boot_id);
			st->has_pending = true;
			c->confirm_deadline_ns = p->deadline_ns;
			c->revert_to = p->revert_to;
			stored_version(iface, p->revert_to, c->revert_to_version,
				       sizeof(c->revert_to_version));
			c->guard_rejects = rq->guard_rejects;
			c->guard_undecodable = rq->guard_undecodable;
		} else {
			st->has_pending = false;
		}
		break;
	case KG_STEP_ROLLBACK:
		*to = rq->to ? rq->to : previous_version(iface, st->current);
		if (!*to) {
			snprintf(err, errlen,
				 "%s: no version ran before version %u that the store still "
				 "keeps ('kgate policy history --iface %s')",
				 iface, st->current, iface);
			return -ENOENT;
		}
		/* the store's version on a datapath that runs another (a mismatch): run it */
		if (*to == st->current && cfg->version_id == st->current) {
			snprintf(err, errlen, "%s: version %u already runs", iface, *to);
			return -EALREADY;
		}
		st->has_pending = false;
		break;
	case KG_STEP_REVERT:
		if (!st->has_pending || st->pending.id != rq->expect_pending) {
			snprintf(err, errlen, "%s: version %u no longer awaits a confirm", iface,
				 rq->expect_pending);
			return -ESTALE;
		}
		*to = st->pending.revert_to;
		st->has_pending = false;
		snprintf(c->reason, sizeof(c->reason), "%s", rq->reason ? rq->reason : "");
		c->rate = rq->rate;
		c->limit = rq->limit;
		break;
	case KG_STEP_RESTORE:
		/* the version and the mode: a pause or a resume that died midway leaves the
		 * version as it was, in the other mode */
		want = expected_mode(iface, st);
		if (!st->current ||
		    (st->current == cfg->version_id && (want == KG_MODE_UNKNOWN || want == cfg->mode)))
			return 1;
		*to = st->current;
		break;
	case KG_STEP_PAUSE:
	case KG_STEP_RESUME: {
		bool was = st->paused;

		if (!st->current) {
			snprintf(err, errlen, "%s: no policy runs", iface);
			return -ENOENT;
		}
		if (load_version(iface, st->current, f, err, errlen))
			return -ENOENT;
		st->paused = rq->step == KG_STEP_PAUSE;
		/* nothing to do only when the datapath agrees: a resume that died midway
		 * leaves the store resumed and the datapath in monitor mode */
		if (was == st->paused && cfg->version_id == st->current &&
		    cfg->mode == run_mode(f, st->paused))
			return 1;
		*to = st->current;
		return 0; /* loaded; a pause leaves a pending confirm as it is */
	}
	case KG_STEP_CONFIRM:
		if (!st->has_pending) {
			snprintf(err, errlen, "%s: no apply awaits a confirm", iface);
			return -ENOENT;
		}
		st->has_pending = false;
		break;
	default:
		snprintf(err, errlen, "unknown step %d", rq->step);
		return -EINVAL;
	}
	if (had_pending && !st->has_pending && rq->step != KG_STEP_CONFIRM &&
	    rq->step != KG_STEP_REVERT)
		c->superseded = pending_id;
	if (*to && load_version(iface, *to, f, err, errlen))
		return -ENOENT;
	return 0;
}

/* c's old and new version strings, and the digest of what runs after it. */
static void change_names(const char *iface, struct kg_change *c)
{
	struct kg_version_info vi;

	stored_version(iface, c->old_id, c->old_version, sizeof(c->old_version));
	stored_version(iface, c->new_id, c->new_version, sizeof(c->new_version));
	if (c->new_id && !version_info(iface, c->new_id, &vi))
		memcpy(c->digest, vi.digest, sizeof(c->digest));
}

/*
 * An intent left by a process that died midway (the model in store.h), finished under
 * the lock by what is known, never by applying anything. 0 or -errno.
 */
static int finish_intent(const char *iface, struct store_file *sf, const struct kg_config *cfg)
{
	struct kg_store_state *st = &sf->st;
	struct kg_change c = {
		.step = KG_STEP_ABORT,
		.time_ns = kg_wall_now_ns(),
		.by = sf->intent_by,
		.change = sf->intent_change,
		.interrupted_step = sf->intent_step,
		.interrupted_id = sf->next.current,
		.old_id = st->current,
	};
	int e;

	/* its entry is in the journal: the change was made, but for its state */
	if (journal_last(iface) >= sf->intent_change) {
		*st = sf->next;
		return state_write(iface, sf);
	}
	/* a flip that was made is kept; a confirm has none, and is not made without its entry */
	if (sf->intent_step != KG_STEP_CONFIRM && kg_store_runs_as(cfg, &sf->next)) {
		snprintf(c.reason, sizeof(c.reason), KG_ABORT_AFTER_FLIP);
		*st = sf->next;
	} else {
		snprintf(c.reason, sizeof(c.reason), KG_ABORT_BEFORE_FLIP);
		st->has_intent = false;
	}
	st->last_change = c.change;
	c.new_id = st->current;
	c.mode = cfg->version_id == st->current ? cfg->mode : st->mode;
	c.paused = st->paused;
	change_names(iface, &c);
	if (!(e = journal_append(iface, &c)))
		e = state_write(iface, sf);
	return e;
}

/* KG_STEP_MISMATCH: the datapath runs other than the store says. 0 or -errno. */
static int note_mismatch(const char *iface, struct store_file *sf, const struct kg_config *cfg,
			 struct kg_change *c)
{
	struct kg_store_state *st = &sf->st;
	int e;

	if (kg_store_runs_as(cfg, st)) {
		c->unchanged = true;
		c->old_id = c->new_id = st->current;
		change_names(iface, c);
		return 0;
	}
	c->change = st->last_change + 1;
	c->old_id = st->current;
	c->new_id = cfg->version_id;
	c->mode = cfg->mode;
	c->paused = st->paused;
	change_names(iface, c);
	if ((e = journal_append(iface, c)))
		return e;
	st->last_change = c->change;
	return state_write(iface, sf);
}

/* What a command holds back while it changes the store (kg_change_req.hold_signals). */
static void held_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
	sigaddset(s, SIGQUIT);
	sigaddset(s, SIGTSTP);
}

int kg_store_change(const char *iface, const struct kg_maps *m, const struct kg_change_req *rq,
		    struct kg_change *c, char *err, size_t errlen)
{
	struct store_file sf;
	struct kg_store_state before, *st = &sf.st;
	struct kg_policy_file kept = {0};
	struct kg_policy_file *f = NULL;
	struct kg_config cfg;
	sigset_t hold, saved;
	bool has_current;
	int lock, e, gen;
	__u32 to = 0, keep[4];

	memset(c, 0, sizeof(*c));
	c->step = rq->step;
	c->by = *rq->by;
	kg_policy_init(&kept.p);
	lock = store_lock(LOCK_EX | (rq->nowait ? LOCK_NB : 0));
	if (lock < 0) {
		snprintf(err, errlen, "%s/lock: %s", kg_state_dir(),
			 lock == -EWOULDBLOCK ? "another change is being made" : strerror(-lock));
		return lock;
	}
	if (rq->hold_signals) {
		held_signals(&hold);
		sigprocmask(SIG_BLOCK, &hold, &saved);
	}
	/* the clock from when the lock is held: a wait for it takes nothing off a deadline */
	c->time_ns = kg_wall_now_ns();
	if ((e = kg_active_config(m, &gen, &cfg))) {
		snprintf(err, errlen, "%s: reading the active policy: %s", iface, strerror(-e));
		goto out;
	}
	state_read(iface, &sf, &has_current);
	/* a store kept before `current` existed: what the maps run is current */
	if (!has_current)
		st->current = cfg.version_id;
	if (st->has_intent && (e = finish_intent(iface, &sf, &cfg))) {
		snprintf(err, errlen, "%s: finishing a change whose process died: %s", iface,
			 strerror(-e));
		goto out;
	}
	/* a store kept by an older kgate knows no mode: the one its state implies */
	st->mode = expected_mode(iface, st);
	if (rq->step == KG_STEP_MISMATCH) {
		if ((e = note_mismatch(iface, &sf, &cfg, c)))
			snprintf(err, errlen, "%s: %s", iface, strerror(-e));
		goto out;
	}
	before = *st;
	c->old_gen = c->new_gen = gen;
	c->old_id = rq->step == KG_STEP_RESTORE ? cfg.version_id : st->current;
	c->change = st->last_change + 1;
	e = plan(iface, rq, st, &cfg, c, &kept, &to, err, errlen);
	if (e) {
		c->unchanged = e == 1;
		c->new_id = c->old_id;
		c->mode = cfg.mode;
		c->paused = before.paused;
		change_names(iface, c);
		*st = before;
		if (e == 1 && rq->step == KG_STEP_APPLY && rq->from_file) {
			/* the file's bytes are taken: remembered, so that only a change of them
			 * applies them */
			kg_digest(rq->file->text, rq->file->len, st->file_digest);
			snprintf(st->file_path, sizeof(st->file_path), "%s", rq->file->path);
			one_line(st->file_path);
			e = state_write(iface, &sf);
		} else if (e == 1) {
			e = 0;
		}
		goto out;
	}
	if (rq->step == KG_STEP_APPLY) {
		f = rq->file;
		if ((e = next_version_id(&to))) {
			snprintf(err, errlen, "%s/version_id: %s", kg_state_dir(), strerror(-e));
			goto out;
		}
		if (st->has_pending) {
			st->pending.id = to;
			st->pending.change = c->change;
		}
		if (rq->from_file) {
			kg_digest(f->text, f->len, st->file_digest);
			snprintf(st->file_path, sizeof(st->file_path), "%s", f->path);
			one_line(st->file_path);
		}
	} else if (to) {
		f = &kept;
	}
	c->new_id = to ? to : st->current;
	st->current = c->new_id;
	st->last_change = c->change;
	if (f)
		st->mode = run_mode(f, st->paused);
	/* the intent: the state as it will be, beside the state as it is */
	sf.next = *st;
	*st = before;
	st->has_intent = true;
	sf.intent_change = c->change;
	sf.intent_step = rq->step;
	sf.intent_by = *rq->by;
	if ((e = state_write(iface, &sf))) {
		snprintf(err, errlen, "%s: writing the store's state: %s", iface, strerror(-e));
		goto out;
	}
	if (rq->step == KG_STEP_APPLY &&
	    (e = save_version(iface, f, rq->by, c->time_ns, to, err, errlen)))
		goto undo;
	if (f && (e = write_flip(iface, m, f, c->new_id, sf.next.paused, &cfg, c, err, errlen)))
		goto undo;
	if (!f)
		c->mode = cfg.mode;
	c->paused = sf.next.paused;
	change_names(iface, c);
	if (f)
		kg_digest(f->text, f->len, c->digest);
	if (rq->step == KG_STEP_APPLY)
		snprintf(c->new_version, sizeof(c->new_version), "%s", f->p.version);
	/* without its entry the change is not whole: the intent stays, and whoever takes
	 * the lock next finishes it (an `abort` that keeps the flip) */
	if ((e = journal_append(iface, c))) {
		snprintf(err, errlen,
			 "%s: the change is made, but its journal entry failed: %s (the next "
			 "change records it)",
			 iface, strerror(-e));
		goto out;
	}
	*st = sf.next;
	if ((e = state_write(iface, &sf)))
		snprintf(err, errlen,
			 "%s: the change is made and journaled, but the store's state was not "
			 "written: %s (the next change finishes it)",
			 iface, strerror(-e));
	keep[0] = before.current, keep[1] = c->new_id, keep[2] = st->pending.revert_to;
	keep[3] = cfg.version_id;
	store_prune(iface, keep, 4);
	goto out;
undo:
	/* what runs is what ran: the state as it was, and no version that never ran */
	st->has_intent = false;
	state_write(iface, &sf);
	if (rq->step == KG_STEP_APPLY)
		version_remove(iface, to);
out:
	kg_policy_file_free(&kept);
	close(lock); /* releases the flock */
	if (rq->hold_signals)
		sigprocmask(SIG_SETMASK, &saved, NULL); /* a signal held back is taken now */
	return e;
}
