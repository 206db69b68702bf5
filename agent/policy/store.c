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
#include <stdarg.h>
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

#include "agent/lib/lib.h"
#include "agent/policy/lint.h"
#include "agent/policy/store.h"
#include "agent/policy/yaml.h"

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

void kg_actor_self(struct kg_actor *a, const char *fmt, ...)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	va_list ap;

	memset(a, 0, sizeof(*a));
	a->uid = getuid();
	if (!getpwuid_r(a->uid, &pw, buf, sizeof(buf), &res) && res)
		snprintf(a->user, sizeof(a->user), "%s", pw.pw_name);
	else
		snprintf(a->user, sizeof(a->user), "uid %u", a->uid);
	va_start(ap, fmt);
	vsnprintf(a->source, sizeof(a->source), fmt, ap);
	va_end(ap);
	one_line(a->user);
	one_line(a->source);
}

/* A small state file's text (NUL-terminated, malloc'ed), or NULL when absent. */
static char *read_small(const char *path)
{
	size_t n;
	int e;

	return kg_read_file(path, 64 * 1024, &n, &e);
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
				    0644);
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
		snprintf(v->source, sizeof(v->source), "unknown (kept before the journal)");
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
	return kg_write_file_atomic(AT_FDCWD, path, buf, n, 0644);
}

/* A new version of iface: the file's bytes, its version string and who put it in. */
static int save_version(const char *iface, const struct kg_policy_file *f,
			const struct kg_actor *by, __u64 now, __u32 *id, char *err, size_t errlen)
{
	struct kg_version_info v = {.time_ns = now, .uid = by->uid};
	char path[600], dir[512];
	int e;

	snprintf(dir, sizeof(dir), "%s/%s/policies", kg_state_dir(), iface);
	if ((e = kg_mkdir_p(dir, 0755)) || (e = next_version_id(id))) {
		snprintf(err, errlen, "policy store %s: %s", dir, strerror(-e));
		return e;
	}
	v.id = *id;
	kg_digest(f->text, f->len, v.digest);
	snprintf(v.version, sizeof(v.version), "%s", f->p.version);
	snprintf(v.user, sizeof(v.user), "%s", by->user);
	snprintf(v.source, sizeof(v.source), "%s", by->source);
	/* the bytes first: once the version file names it, every event's id can be named */
	kg_store_path(iface, *id, "yaml", path, sizeof(path));
	if (!(e = kg_write_file_atomic(AT_FDCWD, path, f->text, f->len, 0644))) {
		kg_store_path(iface, *id, "version", path, sizeof(path));
		e = kg_write_file_atomic(AT_FDCWD, path, f->p.version, strlen(f->p.version), 0644);
	}
	if (!e)
		e = write_meta(iface, &v);
	if (e)
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
	return e;
}

/* A kept version, read and compiled. */
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
	return kg_policy_file_load(f, path, err, errlen) ? -EINVAL : 0;
}

/* ---- the interface's state files ----------------------------------------------------------- */

/* Also whether a `current` file exists (a store kept before it had one does not). */
static int state_read(const char *iface, struct kg_store_state *st, bool *has_current)
{
	char path[600], *s;
	unsigned int id = 0, paused = 0;

	memset(st, 0, sizeof(*st));
	*has_current = false;
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
	iface_path(iface, "journal", path, sizeof(path));
	if ((s = read_small(path)) ||
	    (iface_path(iface, "journal.1", path, sizeof(path)), (s = read_small(path)))) {
		/* the last whole line's number: the newest entry */
		char *end = strrchr(s, '\n'), *last;
		unsigned long long t, c;

		if (end) {
			*end = 0;
			last = strrchr(s, '\n');
			last = last ? last + 1 : s;
			if (sscanf(last, "{\"ts_ns\":%llu,\"kind\":\"policy\",\"change\":%llu", &t,
				   &c) == 2)
				st->last_change = c;
		}
		free(s);
	}
	return 0;
}

int kg_store_state(const char *iface, struct kg_store_state *st)
{
	bool has_current;

	return state_read(iface, st, &has_current);
}

/* current, pending and file as st says (pending and file removed when there is none). */
static int state_write(const char *iface, const struct kg_store_state *st)
{
	char path[600], b[1200];
	int n, e;

	if ((e = kg_mkdir_p((iface_path(iface, "", path, sizeof(path)), path), 0755)))
		return e;
	iface_path(iface, "current", path, sizeof(path));
	n = snprintf(b, sizeof(b), "id %u paused %u\n", st->current, st->paused);
	if ((e = kg_write_file_atomic(AT_FDCWD, path, b, n, 0644)))
		return e;
	iface_path(iface, "pending", path, sizeof(path));
	if (st->has_pending) {
		const struct kg_pending *p = &st->pending;

		n = snprintf(b, sizeof(b),
			     "id %u revert_to %u deadline_ns %llu guard_rejects %llu "
			     "guard_undecodable %llu change %llu\n",
			     p->id, p->revert_to, (unsigned long long)p->deadline_ns,
			     (unsigned long long)p->guard_rejects,
			     (unsigned long long)p->guard_undecodable,
			     (unsigned long long)p->change);
		if ((e = kg_write_file_atomic(AT_FDCWD, path, b, n, 0644)))
			return e;
	} else if (unlink(path) && errno != ENOENT) {
		return -errno;
	}
	iface_path(iface, "file", path, sizeof(path));
	if (!*st->file_digest)
		return unlink(path) && errno != ENOENT ? -errno : 0;
	n = snprintf(b, sizeof(b), "%s %s\n", st->file_digest, st->file_path);
	return kg_write_file_atomic(AT_FDCWD, path, b, n < (int)sizeof(b) ? n : sizeof(b) - 1,
				    0644);
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
	kg_buf_printf(b, "{\"ts_ns\":%llu,\"kind\":\"policy\",\"change\":%llu",
		      (unsigned long long)c->time_ns, (unsigned long long)c->change);
	json_str(b, "step", kg_step_name(c->step));
	json_str(b, "iface", iface);
	kg_buf_printf(b, ",\"uid\":%u", c->by.uid);
	json_str(b, "user", c->by.user);
	json_str(b, "source", c->by.source);
	json_opt_u32(b, "old_version_id", c->old_id);
	json_str(b, "old_policy_version", c->old_id ? c->old_version : NULL);
	json_opt_u32(b, "version_id", c->new_id);
	json_str(b, "policy_version", c->new_id ? c->new_version : NULL);
	json_str(b, "digest", c->digest);
	json_str(b, "mode", kg_mode_name(c->mode));
	kg_buf_printf(b, ",\"paused\":%s", c->paused ? "true" : "false");
	json_time(b, "confirm_by", c->confirm_deadline_ns);
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
	kg_buf_printf(b, "}\n");
}

/* Appends c's entry (rotating the journal past its size). 0 or -errno. */
static int journal_append(const char *iface, const struct kg_change *c)
{
	char path[600], old[600];
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
	journal_line(iface, c, &b);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = -errno;
	} else {
		/* one write(2): a reader sees a whole line or none of it */
		w = write(fd, b.p, b.len);
		if (w != (ssize_t)b.len)
			e = w < 0 ? -errno : -EIO;
		if (!e && fdatasync(fd))
			e = -errno;
		close(fd);
	}
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

int kg_journal_each(const char *iface, __u64 after, kg_journal_fn fn, void *ctx)
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
	return kg_write_file_atomic(AT_FDCWD, path, b, n, 0644);
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
	if (paused)
		f->c.config.mode = KG_MODE_MONITOR;
	c->mode = f->c.config.mode;
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

/* The newest kept version older than cur: 0 when there is none. */
static __u32 previous_version(const char *iface, __u32 cur)
{
	__u32 *ids, prev = 0;
	int n = stored_ids(iface, &ids);

	for (int i = 0; i < n && !prev; i++)
		if (ids[i] < cur)
			prev = ids[i];
	free(ids);
	return prev;
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

/*
 * What the step asks for, under the lock: the version to run after it (*to, 0: the same
 * as now), loaded into *f when it is a kept one; st becomes the state after it. 0, 1 when
 * there is nothing to do, or -errno with err set.
 */
static int plan(const char *iface, const struct kg_change_req *rq, struct kg_store_state *st,
		__u32 active_id, struct kg_change *c, struct kg_policy_file *f, __u32 *to,
		char *err, size_t errlen)
{
	bool had_pending = st->has_pending;
	__u32 pending_id = st->pending.id;

	*to = 0;
	switch (rq->step) {
	case KG_STEP_APPLY:
		/* the agent's file: the same bytes as what runs are no change */
		if (rq->from_file && st->current && same_bytes(iface, st->current, rq->file))
			return 1;
		if (rq->confirm_within_ns && !st->current) {
			snprintf(err, errlen,
				 "%s: --confirm-within: no version runs that it could "
				 "go back to",
				 iface);
			return -ENOENT;
		}
		if (rq->confirm_within_ns) {
			/* a second unconfirmed apply goes back to the last confirmed version */
			st->pending = (struct kg_pending){
				.revert_to = had_pending ? st->pending.revert_to : st->current,
				.deadline_ns = c->time_ns + rq->confirm_within_ns,
				.guard_rejects = rq->guard_rejects,
				.guard_undecodable = rq->guard_undecodable,
			};
			st->has_pending = true;
			c->confirm_deadline_ns = st->pending.deadline_ns;
			c->guard_rejects = rq->guard_rejects;
			c->guard_undecodable = rq->guard_undecodable;
		} else {
			st->has_pending = false;
		}
		break;
	case KG_STEP_ROLLBACK:
		*to = rq->to ? rq->to : previous_version(iface, st->current);
		if (!*to) {
			snprintf(err, errlen, "%s: no version older than %u in the store", iface,
				 st->current);
			return -ENOENT;
		}
		if (*to == st->current) {
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
		if (!st->current || st->current == active_id)
			return 1;
		*to = st->current;
		break;
	case KG_STEP_PAUSE:
	case KG_STEP_RESUME:
		if (!st->current) {
			snprintf(err, errlen, "%s: no policy runs", iface);
			return -ENOENT;
		}
		if (st->paused == (rq->step == KG_STEP_PAUSE))
			return 1;
		st->paused = rq->step == KG_STEP_PAUSE;
		*to = st->current;
		break;
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

int kg_store_change(const char *iface, const struct kg_maps *m, const struct kg_change_req *rq,
		    struct kg_change *c, char *err, size_t errlen)
{
	struct kg_store_state st, before;
	struct kg_policy_file kept = {0};
	struct kg_policy_file *f = NULL;
	struct kg_config cfg;
	char path[600];
	bool has_current;
	int lock = -1, e, gen;
	__u32 to = 0, keep[4];

	memset(c, 0, sizeof(*c));
	c->step = rq->step;
	c->by = *rq->by;
	c->time_ns = kg_wall_now_ns();
	kg_policy_init(&kept.p);
	if ((e = kg_mkdir_p(kg_state_dir(), 0755))) {
		snprintf(err, errlen, "%s: %s", kg_state_dir(), strerror(-e));
		return e;
	}
	snprintf(path, sizeof(path), "%s/lock", kg_state_dir());
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	if ((e = kg_active_config(m, &gen, &cfg))) {
		snprintf(err, errlen, "%s: reading the active policy: %s", iface, strerror(-e));
		goto out;
	}
	state_read(iface, &st, &has_current);
	/* a store kept before `current` existed: what the maps run is current */
	if (!has_current)
		st.current = cfg.version_id;
	before = st;
	c->old_gen = c->new_gen = gen;
	c->old_id = rq->step == KG_STEP_RESTORE ? cfg.version_id : st.current;
	stored_version(iface, c->old_id, c->old_version, sizeof(c->old_version));
	c->change = st.last_change + 1;
	e = plan(iface, rq, &st, cfg.version_id, c, &kept, &to, err, errlen);
	if (e) {
		c->unchanged = e == 1;
		if (e == 1 && rq->step == KG_STEP_APPLY && rq->from_file) {
			/* the file's bytes are what runs: remember them as taken */
			kg_digest(rq->file->text, rq->file->len, st.file_digest);
			snprintf(st.file_path, sizeof(st.file_path), "%s", rq->file->path);
			one_line(st.file_path);
			e = state_write(iface, &st);
		} else if (e == 1) {
			e = 0;
		}
		c->new_id = c->old_id;
		snprintf(c->new_version, sizeof(c->new_version), "%s", c->old_version);
		goto out;
	}
	if (rq->step == KG_STEP_APPLY) {
		f = rq->file;
		if ((e = save_version(iface, f, rq->by, c->time_ns, &to, err, errlen)))
			goto out;
		if (st.has_pending)
			st.pending.id = to;
		if (rq->from_file) {
			kg_digest(f->text, f->len, st.file_digest);
			snprintf(st.file_path, sizeof(st.file_path), "%s", f->path);
			one_line(st.file_path);
		}
	} else if (to) {
		f = &kept;
	}
	if (st.has_pending && rq->step == KG_STEP_APPLY)
		st.pending.change = c->change;
	c->new_id = to ? to : st.current;
	st.current = c->new_id;
	stored_version(iface, c->new_id, c->new_version, sizeof(c->new_version));
	/*
	 * The store first, then the flip: an agent that starts after a crash in between finds
	 * the maps behind the store's current version and restores it (a `restore` step).
	 */
	if ((e = state_write(iface, &st))) {
		snprintf(err, errlen, "%s: writing the store's state: %s", iface, strerror(-e));
		goto out;
	}
	if (f && (e = write_flip(iface, m, f, c->new_id, st.paused, &cfg, c, err, errlen))) {
		state_write(iface, &before); /* what runs is what ran */
		goto out;
	}
	if (!f)
		c->mode = cfg.mode;
	c->paused = st.paused;
	if (f) {
		kg_digest(f->text, f->len, c->digest);
	} else {
		struct kg_version_info vi;

		if (!version_info(iface, c->new_id, &vi))
			memcpy(c->digest, vi.digest, sizeof(c->digest));
	}
	if ((e = journal_append(iface, c)))
		snprintf(err, errlen, "%s: the change is made, but its journal entry failed: %s",
			 iface, strerror(-e));
	keep[0] = before.current, keep[1] = c->new_id, keep[2] = st.pending.revert_to;
	keep[3] = cfg.version_id;
	store_prune(iface, keep, 4);
out:
	kg_policy_file_free(&kept);
	if (lock >= 0)
		close(lock); /* releases the flock */
	return e;
}
