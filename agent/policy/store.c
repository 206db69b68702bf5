// SPDX-License-Identifier: Apache-2.0
/* Policy files, applies and the policy store (agent/policy/store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

void kg_store_path(const char *iface, __u32 id, const char *ext, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/policies/%u.%s", kg_state_dir(), iface, id, ext);
}

/* The version string stored beside policy id (any interface), "" when unknown. */
static void stored_version(const char *iface, __u32 id, char *out, size_t len)
{
	char path[600], *s;
	size_t n;
	int e;

	*out = 0;
	if (!id)
		return;
	kg_store_path(iface, id, "version", path, sizeof(path));
	s = kg_read_file(path, 4096, &n, &e);
	if (!s)
		return;
	snprintf(out, len, "%s", s);
	free(s);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Keeps the newest KG_STORE_KEEP policies of iface's store, and always the two a
 * generation holds (keep_a, keep_b). Older ones go: their events were named when they
 * were recorded. Under the apply lock; failures only leave files behind.
 */
static void store_prune(const char *iface, __u32 keep_a, __u32 keep_b)
{
	char dir[512], path[600];
	__u32 *ids = NULL, n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/policies", kg_state_dir(), iface);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long id = strtoul(de->d_name, &end, 10);

		if (end == de->d_name || strcmp(end, ".yaml") || !id || id > UINT32_MAX)
			continue;
		if (n == cap) {
			__u32 *ni = realloc(ids, (cap = cap ? cap * 2 : 128) * sizeof(*ids));

			if (!ni)
				break;
			ids = ni;
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n > KG_STORE_KEEP) {
		qsort(ids, n, sizeof(*ids), cmp_u32);
		for (__u32 i = 0; i < n - KG_STORE_KEEP; i++) {
			if (ids[i] == keep_a || ids[i] == keep_b)
				continue;
			kg_store_path(iface, ids[i], "version", path, sizeof(path));
			unlink(path);
			kg_store_path(iface, ids[i], "yaml", path, sizeof(path));
			unlink(path);
		}
	}
	free(ids);
}

/* The next version id: monotonic across interfaces and restarts. Under the apply lock. */
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

int kg_policy_apply(const char *iface, const struct kg_maps *m, struct kg_policy_file *f,
		    bool skip_same, struct kg_apply_result *r, char *err, size_t errlen)
{
	char path[600], dir[512];
	struct kg_config cfg;
	int lock = -1, e, gen;
	double t0, t1, t2;

	memset(r, 0, sizeof(*r));
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
	r->old_id = cfg.version_id;
	r->old_gen = gen;
	stored_version(iface, r->old_id, r->old_version, sizeof(r->old_version));
	if (skip_same && r->old_id) {
		size_t n;
		char *old;

		kg_store_path(iface, r->old_id, "yaml", path, sizeof(path));
		old = kg_read_file(path, KG_POLICY_FILE_MAX, &n, &e);
		if (old && n == f->len && !memcmp(old, f->text, n)) {
			free(old);
			r->unchanged = true;
			r->new_id = r->old_id;
			r->new_gen = gen;
			snprintf(r->new_version, sizeof(r->new_version), "%s", r->old_version);
			e = 0;
			goto out;
		}
		free(old);
	}
	snprintf(dir, sizeof(dir), "%s/%s/policies", kg_state_dir(), iface);
	if ((e = kg_mkdir_p(dir, 0755)) || (e = next_version_id(&r->new_id))) {
		snprintf(err, errlen, "policy store %s: %s", dir, strerror(-e));
		goto out;
	}
	/* stored before it enforces: every event's version id can be named */
	kg_store_path(iface, r->new_id, "yaml", path, sizeof(path));
	if ((e = kg_write_file_atomic(AT_FDCWD, path, f->text, f->len, 0644))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	kg_store_path(iface, r->new_id, "version", path, sizeof(path));
	if ((e = kg_write_file_atomic(AT_FDCWD, path, f->p.version, strlen(f->p.version), 0644))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	snprintf(r->new_version, sizeof(r->new_version), "%s", f->p.version);
	r->new_gen = 1 - gen;
	/* the quarantine interface is the agent's setting, not the policy's */
	f->c.config.redirect_ifindex = cfg.redirect_ifindex;
	t0 = mono_us();
	if ((e = zero_rule_hits(m, r->new_gen, f->c.nrules))) {
		snprintf(err, errlen, "%s: clearing kg_rule_hits: %s", iface, strerror(-e));
		goto out;
	}
	if ((e = kg_policy_write(m, &f->c, r->new_gen, r->new_id, err, errlen)))
		goto out;
	t1 = mono_us();
	if ((e = kg_policy_activate(m, r->new_gen))) {
		snprintf(err, errlen, "%s: flipping to generation %d: %s", iface, r->new_gen,
			 strerror(-e));
		goto out;
	}
	t2 = mono_us();
	r->write_us = t1 - t0;
	r->swap_us = t2 - t1;
	store_prune(iface, r->old_id, r->new_id);
out:
	if (lock >= 0)
		close(lock); /* releases the flock */
	return e;
}

