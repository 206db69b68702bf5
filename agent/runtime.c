// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath on an interface (load, attach, pin, adopt, detach), policy applies through
 * the pinned maps, and the policy store that names an event's ids (agent/runtime.h).
 *
 * What lives where:
 *   <pin root>/<iface>/           every map (libbpf pins them by name: pin_root_path),
 *                                 prog_xdp, prog_tc_egress, link_xdp
 *   <state dir>/version_id        the last version id handed out (ids are global, so an
 *                                 event's version id names one policy whatever its iface)
 *   <state dir>/lock              held (flock) by every apply
 *   <state dir>/<iface>/policies/<id>.yaml, <id>.version   the store
 *   <state dir>/<iface>/attach    what detach must undo that no pin says (clsact created)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/policy_lint.h"
#include "agent/policy_yaml.h"
#include "agent/runtime.h"
#include "kgate_tc.skel.h"
#include "kgate_tci.skel.h"
#include "kgate_xdp.skel.h"

#define KG_NAME_ENTRY_RT(sym, name) name,
const char *const kg_rt_action_names[] = {KG_ACTIONS(KG_NAME_ENTRY_RT)};
const char *const kg_rt_op_names[] = {KG_OPS(KG_NAME_ENTRY_RT)};

/* ---- paths -------------------------------------------------------------------------- */

static const char *env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v && *v ? v : def;
}

const char *kg_pin_root(void)
{
	return env_or("KGATE_PIN_ROOT", KG_PIN_ROOT);
}

const char *kg_state_dir(void)
{
	return env_or("KGATE_STATE_DIR", KG_STATE_DIR);
}

const char *kg_run_dir(void)
{
	return env_or("KGATE_RUN_DIR", KG_RUN_DIR);
}

/* mkdir -p: 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[512];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

int kg_bpffs_ensure(const char *dir, char *err, size_t errlen)
{
	char at[512];
	struct statfs fs;
	size_t n = strlen(dir);

	if (n >= sizeof(at)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	/* the deepest part of the path that exists says which filesystem pins would land on */
	memcpy(at, dir, n + 1);
	while (statfs(at, &fs)) {
		char *slash = strrchr(at, '/');
		int e = errno;

		if (e != ENOENT) {
			snprintf(err, errlen, "%s: %s", at, strerror(e));
			return -e;
		}
		if (!slash) /* a relative path: its first part does not exist yet */
			snprintf(at, sizeof(at), ".");
		else if (slash == at) /* directly under / */
			at[1] = 0;
		else
			*slash = 0;
	}
	if ((__u32)fs.f_type == BPF_FS_MAGIC)
		return 0;
	/* a fresh host: the usual place is mounted, as systemd would */
	if (!strcmp(at, "/sys/fs/bpf") && !mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") &&
	    !statfs(at, &fs) && (__u32)fs.f_type == BPF_FS_MAGIC) {
		/* in a container's own mount namespace it would vanish with the container */
		fprintf(stderr, "kgate: no BPF filesystem was mounted at /sys/fs/bpf: mounted one "
				"(pins outlive the agent in this mount namespace only; a container "
				"needs the host's /sys/fs/bpf)\n");
		return 0;
	}
	snprintf(err, errlen,
		 "%s is not on a BPF filesystem (pins would not outlive the agent): "
		 "mount one there (mount -t bpf bpf %s) or set KGATE_PIN_ROOT to a directory on one",
		 dir, at);
	return -ENOTSUP;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Writes len bytes to path through a temporary file and a rename: never half a file. */
static int write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[600];
	FILE *f;
	int e = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (len && fwrite(data, 1, len, f) != len)
		e = -EIO;
	if (fflush(f) || fsync(fileno(f)))
		e = e ? e : -errno;
	if (fclose(f))
		e = e ? e : -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

/* Whole file into a malloc'ed, NUL-terminated buffer (at most max bytes). */
static char *read_file(const char *path, size_t max, size_t *len, int *e)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*e = 0;
	if (!f) {
		*e = -errno;
		return NULL;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				*e = -ENOMEM;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (n > max) {
			*e = -EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				*e = -EIO;
			break;
		}
	}
	fclose(f);
	if (*e) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* ---- JSON ----------------------------------------------------------------------------- */

void kg_rt_json_bytes(FILE *f, const __u8 *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void kg_rt_json_str(FILE *f, const char *s)
{
	kg_rt_json_bytes(f, (const __u8 *)s, strlen(s));
}

/* ---- the attach record ----------------------------------------------------------------- */

struct attach_rec {
	int clsact_created;
	int generic;
	int tc_ingress; /* the TC ingress build instead of XDP */
};

static void rec_path(const char *iface, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/attach", kg_state_dir(), iface);
}

static int rec_write(const char *iface, const struct attach_rec *r)
{
	char path[512], dir[512], buf[128];
	int n, e;

	snprintf(dir, sizeof(dir), "%s/%s", kg_state_dir(), iface);
	if ((e = mkdir_p(dir, 0755)))
		return e;
	rec_path(iface, path, sizeof(path));
	n = snprintf(buf, sizeof(buf), "clsact_created=%d\ningress=%s\n", r->clsact_created,
		     r->tc_ingress ? "tc"
		     : r->generic  ? "xdp-generic"
				   : "xdp-native");
	return write_file_atomic(path, buf, n);
}

static bool rec_read(const char *iface, struct attach_rec *r)
{
	char path[512], line[128];
	FILE *f;

	memset(r, 0, sizeof(*r));
	rec_path(iface, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "clsact_created=", 15))
			r->clsact_created = atoi(line + 15);
		else if (!strncmp(line, "ingress=xdp-generic", 19))
			r->generic = 1;
		else if (!strncmp(line, "ingress=tc", 10))
			r->tc_ingress = 1;
	}
	fclose(f);
	return true;
}

/* ---- attach, adopt, detach ----------------------------------------------------------- */

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

static void pin_path(const struct kg_runtime *rt, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", rt->pin_dir, name);
}

/* Removes every pin in dir, then dir itself, then the pin root when it is left empty. */
static void remove_pin_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[600];

	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	rmdir(kg_pin_root()); /* fails, harmlessly, while another interface is pinned */
}

static int xdp_link_new(struct kg_runtime *rt, bool generic, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	char path[512];
	int fd, e;

	lo.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(rt->xdp_prog, rt->ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: attaching XDP (%s): %s%s", rt->iface,
			 generic ? "generic" : "native", strerror(-e),
			 !generic && (e == -EOPNOTSUPP || e == -EINVAL)
				 ? " (the driver may lack native XDP: try --xdp-mode generic)"
			 : e == -EBUSY || e == -EEXIST ? " (another XDP program is attached)"
						       : "");
		return e;
	}
	pin_path(rt, KG_PIN_XDP_LINK, path, sizeof(path));
	if (bpf_obj_pin(fd, path)) {
		e = -errno;
		snprintf(err, errlen, "%s: pinning %s: %s", rt->iface, path, strerror(-e));
		close(fd); /* the last reference: XDP detaches again */
		return e;
	}
	rt->xdp_link = fd;
	return 0;
}

/* Attaches prog at point (TC egress or ingress) unless our filter there already runs it. */
static int tc_ensure(struct kg_runtime *rt, enum bpf_tc_attach_point point, int prog, __u32 prog_id,
		     bool fresh, bool *created, char *err, size_t errlen)
{
	const char *where = point == BPF_TC_INGRESS ? "ingress" : "egress";
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rt->ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = KG_TC_HANDLE, .priority = KG_TC_PRIORITY);
	LIBBPF_OPTS(bpf_tc_opts, a, .handle = KG_TC_HANDLE, .priority = KG_TC_PRIORITY);
	int e;

	*created = false;
	/*
	 * Adopting: ours is normally there, found with one query. On a fresh attach the
	 * qdisc is created first (a query under a missing qdisc makes the kernel complain).
	 */
	if (!fresh && !bpf_tc_query(&hook, &q) && q.prog_id == prog_id)
		return 0;
	e = bpf_tc_hook_create(&hook);
	if (!e) {
		*created = true;
	} else if (e != -EEXIST) {
		snprintf(err, errlen, "%s: creating the clsact qdisc: %s", rt->iface, strerror(-e));
		return e;
	}
	a.prog_fd = prog;
	a.flags = BPF_TC_F_REPLACE;
	e = bpf_tc_attach(&hook, &a);
	if (e) {
		snprintf(err, errlen, "%s: attaching TC %s: %s", rt->iface, where, strerror(-e));
		if (*created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
			*created = false;
		}
		return e;
	}
	return 0;
}

/* Removes our filter at point when it runs prog_id (0: a program we cannot name). */
static void tc_filter_remove(int ifindex, enum bpf_tc_attach_point point, __u32 prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = KG_TC_HANDLE, .priority = KG_TC_PRIORITY);

	if (!bpf_tc_query(&hook, &q) && (!prog_id || q.prog_id == prog_id)) {
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = KG_TC_HANDLE, .priority = KG_TC_PRIORITY);

		bpf_tc_detach(&hook, &d);
	}
}

static void tc_remove(int ifindex, __u32 tc_prog_id, __u32 tci_prog_id, bool destroy_clsact)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);

	tc_filter_remove(ifindex, BPF_TC_EGRESS, tc_prog_id);
	if (tci_prog_id)
		tc_filter_remove(ifindex, BPF_TC_INGRESS, tci_prog_id);
	if (destroy_clsact) {
		/* clsact is one qdisc for both directions: destroying it takes both */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/*
 * Opens what is pinned; re-attaches what is pinned but no longer attached (the interface
 * was re-created, a filter removed by hand). Nothing attached and working is touched.
 */
static int adopt(struct kg_runtime *rt, bool fresh, char *err, size_t errlen)
{
	struct bpf_link_info li = {0};
	__u32 lilen = sizeof(li);
	struct attach_rec rec;
	char path[512];
	bool created = false, created_i = false;
	int e;

	pin_path(rt, KG_PIN_TCI_PROG, path, sizeof(path));
	rt->tc_ingress = access(path, F_OK) == 0;
	pin_path(rt, rt->tc_ingress ? KG_PIN_TCI_PROG : KG_PIN_XDP_PROG, path, sizeof(path));
	rt->xdp_prog = bpf_obj_get(path);
	if (rt->xdp_prog < 0)
		goto pin_err;
	pin_path(rt, KG_PIN_TC_PROG, path, sizeof(path));
	rt->tc_prog = bpf_obj_get(path);
	if (rt->tc_prog < 0)
		goto pin_err;
	pin_path(rt, KG_PIN_REDIRECT, path, sizeof(path));
	rt->redirect = bpf_obj_get(path); /* optional: an older datapath had none */
	if ((e = kg_maps_open_pinned(&rt->maps, rt->pin_dir, err, errlen))) {
		/* a map this agent needs is not pinned: the datapath is of another version */
		if (e == -ENOENT && !fresh) {
			size_t n = strlen(err);

			snprintf(err + n, errlen > n ? errlen - n : 0,
				 " (the pinned datapath is of another kgate version: "
				 "`kgate detach %s`, then run again)", rt->iface);
		}
		return e;
	}
	rt->xdp_prog_id = prog_id_of(rt->xdp_prog);
	rt->tc_prog_id = prog_id_of(rt->tc_prog);
	rec_read(rt->iface, &rec);
	if (rt->tc_ingress) {
		/* the TC ingress build: a filter, no link; put back when someone removed it */
		if (!fresh && (e = tc_ensure(rt, BPF_TC_INGRESS, rt->xdp_prog, rt->xdp_prog_id,
					     false, &created_i, err, errlen)))
			return e;
		goto egress;
	}

	pin_path(rt, KG_PIN_XDP_LINK, path, sizeof(path));
	rt->xdp_link = bpf_obj_get(path);
	if (rt->xdp_link >= 0 && !bpf_obj_get_info_by_fd(rt->xdp_link, &li, &lilen) &&
	    li.xdp.ifindex == (__u32)rt->ifindex && li.prog_id == rt->xdp_prog_id) {
		rt->xdp_link_id = li.id;
	} else {
		/* a link whose interface went away is defunct: replace it */
		if (rt->xdp_link >= 0)
			close(rt->xdp_link);
		rt->xdp_link = -1;
		unlink(path);
		fprintf(stderr, "kgate: %s: pinned XDP link no longer attached; re-attaching\n",
			rt->iface);
		if ((e = xdp_link_new(rt, rec.generic, err, errlen)))
			return e;
		if (!bpf_obj_get_info_by_fd(rt->xdp_link, &li, &lilen))
			rt->xdp_link_id = li.id;
		rt->adopted = false;
	}
egress:
	if (!fresh && (e = tc_ensure(rt, BPF_TC_EGRESS, rt->tc_prog, rt->tc_prog_id, false,
				     &created, err, errlen)))
		return e;
	if (created || created_i) {
		rec.clsact_created = 1;
		rec_write(rt->iface, &rec);
	}
	return 0;
pin_err:
	e = -errno;
	snprintf(err, errlen, "%s: %s: %s (a partial kgate install: 'kgate detach --iface %s')",
		 rt->iface, path, strerror(-e), rt->iface);
	return e;
}

static int fresh_load(struct kg_runtime *rt, enum kg_xdp_mode mode, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, o);
	struct attach_rec rec = {.generic = mode == KG_XDP_GENERIC,
				 .tc_ingress = mode == KG_TC_INGRESS};
	struct kgate_xdp_bpf *xs = NULL;
	struct kgate_tci_bpf *is = NULL;
	struct kgate_tc_bpf *ts = NULL;
	struct bpf_program *ingress;
	bool created = false, created_i = false, tc_done = false;
	char path[512];
	int e;

	if ((e = kg_bpffs_ensure(rt->pin_dir, err, errlen)))
		return e;
	if ((e = mkdir_p(rt->pin_dir, 0700))) {
		snprintf(err, errlen, "%s: %s", rt->pin_dir, strerror(-e));
		return e;
	}
	o.pin_root_path = rt->pin_dir;
	if (mode == KG_TC_INGRESS) {
		is = kgate_tci_bpf__open_opts(&o);
		if (!is || kgate_tci_bpf__load(is)) {
			e = -errno;
			snprintf(err, errlen, "%s: loading kgate_tci: %s", rt->iface, strerror(-e));
			goto fail;
		}
		ingress = is->progs.kgate_tc_ingress;
	} else {
		xs = kgate_xdp_bpf__open_opts(&o);
		if (!xs || kgate_xdp_bpf__load(xs)) {
			e = -errno;
			snprintf(err, errlen, "%s: loading kgate_xdp: %s", rt->iface, strerror(-e));
			goto fail;
		}
		ingress = xs->progs.kgate_xdp;
	}
	/* the retransmission hash's key, before any packet is seen (kept when pinned) */
	if ((e = kg_nhkey_init(bpf_map__fd(is ? is->maps.kg_nhkey : xs->maps.kg_nhkey)))) {
		snprintf(err, errlen, "%s: writing the retransmission key: %s", rt->iface,
			 strerror(-e));
		goto fail;
	}
	ts = kgate_tc_bpf__open_opts(&o);
	if (!ts || kgate_tc_bpf__load(ts)) {
		e = -errno;
		snprintf(err, errlen, "%s: loading kgate_tc: %s", rt->iface, strerror(-e));
		goto fail;
	}
	pin_path(rt, mode == KG_TC_INGRESS ? KG_PIN_TCI_PROG : KG_PIN_XDP_PROG, path, sizeof(path));
	if ((e = bpf_program__pin(ingress, path)))
		goto pin_fail;
	pin_path(rt, KG_PIN_TC_PROG, path, sizeof(path));
	if ((e = bpf_program__pin(ts->progs.kgate_tc_egress, path)))
		goto pin_fail;
	rt->xdp_prog = dup(bpf_program__fd(ingress));
	rt->xdp_prog_id = prog_id_of(rt->xdp_prog);
	rt->tc_prog = dup(bpf_program__fd(ts->progs.kgate_tc_egress));
	rt->tc_prog_id = prog_id_of(rt->tc_prog);
	/* egress first: once ingress decides, the responses must already be followed */
	if ((e = tc_ensure(rt, BPF_TC_EGRESS, rt->tc_prog, rt->tc_prog_id, true, &created, err,
			   errlen)))
		goto fail;
	tc_done = true;
	rec.clsact_created = created;
	if ((e = rec_write(rt->iface, &rec))) {
		snprintf(err, errlen, "%s: writing the attach record under %s: %s", rt->iface,
			 kg_state_dir(), strerror(-e));
		goto fail;
	}
	if (mode == KG_TC_INGRESS) {
		/* the same clsact: created above when it was not there */
		if ((e = tc_ensure(rt, BPF_TC_INGRESS, rt->xdp_prog, rt->xdp_prog_id, true,
				   &created_i, err, errlen)))
			goto fail;
	} else {
		/* the link pin last: its presence means "attached", for adopt and detach */
		if ((e = xdp_link_new(rt, mode == KG_XDP_GENERIC, err, errlen)))
			goto fail;
		close(rt->xdp_link);
		rt->xdp_link = -1;
	}
	close(rt->xdp_prog);
	close(rt->tc_prog);
	rt->xdp_prog = rt->tc_prog = -1;
	kgate_tc_bpf__destroy(ts);
	kgate_xdp_bpf__destroy(xs);
	kgate_tci_bpf__destroy(is);
	return 0;
pin_fail:
	snprintf(err, errlen, "%s: pinning %s: %s", rt->iface, path, strerror(-e));
fail:
	if (tc_done)
		tc_remove(rt->ifindex, rt->tc_prog_id, 0, created || created_i);
	if (rt->xdp_prog >= 0)
		close(rt->xdp_prog);
	if (rt->tc_prog >= 0)
		close(rt->tc_prog);
	rt->xdp_prog = rt->tc_prog = -1;
	kgate_tc_bpf__destroy(ts);
	kgate_xdp_bpf__destroy(xs);
	kgate_tci_bpf__destroy(is);
	remove_pin_dir(rt->pin_dir);
	rec_path(rt->iface, path, sizeof(path));
	unlink(path);
	return e;
}

int kg_runtime_up(struct kg_runtime *rt, const char *iface, enum kg_xdp_mode mode, char *err,
		  size_t errlen)
{
	char path[512];
	int e;

	memset(rt, 0, sizeof(*rt));
	rt->xdp_prog = rt->tc_prog = rt->xdp_link = rt->redirect = -1;
	for (int i = 0; i < KG_NMAPS; i++)
		((int *)&rt->maps)[i] = -1;
	if (!*iface || strlen(iface) >= IF_NAMESIZE || strchr(iface, '/')) {
		snprintf(err, errlen, "'%s': not an interface name", iface);
		return -EINVAL;
	}
	strcpy(rt->iface, iface);
	rt->ifindex = if_nametoindex(iface);
	if (!rt->ifindex) {
		snprintf(err, errlen, "%s: %s", iface, strerror(errno));
		return -ENODEV;
	}
	snprintf(rt->pin_dir, sizeof(rt->pin_dir), "%s/%s", kg_pin_root(), iface);
	/* attached means: the XDP link is pinned, or (TC ingress build) its program is */
	pin_path(rt, KG_PIN_XDP_LINK, path, sizeof(path));
	rt->adopted = access(path, F_OK) == 0;
	pin_path(rt, KG_PIN_TCI_PROG, path, sizeof(path));
	rt->adopted = rt->adopted || access(path, F_OK) == 0;
	if (!rt->adopted && (e = fresh_load(rt, mode, err, errlen)))
		return e;
	/* a fresh attach is then opened by its pins, like an adoption, minus the checks */
	e = adopt(rt, !rt->adopted, err, errlen);
	if (e)
		kg_runtime_close(rt);
	return e;
}

void kg_runtime_close(struct kg_runtime *rt)
{
	int *fds[] = {&rt->xdp_prog, &rt->tc_prog, &rt->xdp_link, &rt->redirect};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	kg_maps_close(&rt->maps);
}

int kg_runtime_detach(const char *iface, char *err, size_t errlen)
{
	struct attach_rec rec;
	struct stat st;
	char dir[512], path[600];
	bool have_dir, have_rec;
	__u32 tc_id = 0, tci_id = 0;
	int ifindex, fd;

	if (!*iface || strlen(iface) >= IF_NAMESIZE || strchr(iface, '/')) {
		snprintf(err, errlen, "'%s': not an interface name", iface);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s/%s", kg_pin_root(), iface);
	have_dir = !stat(dir, &st) && S_ISDIR(st.st_mode);
	have_rec = rec_read(iface, &rec);
	if (!have_dir && !have_rec)
		return 0;
	ifindex = if_nametoindex(iface); /* 0: the interface is gone, and its hooks with it */

	snprintf(path, sizeof(path), "%s/%s", dir, KG_PIN_XDP_LINK);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* detaches even while an agent still holds the link */
		if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL) {
			snprintf(err, errlen, "%s: detaching XDP: %s", iface, strerror(errno));
			close(fd);
			return -errno;
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, KG_PIN_TC_PROG);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		tc_id = prog_id_of(fd);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, KG_PIN_TCI_PROG);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		tci_id = prog_id_of(fd);
		close(fd);
	}
	if (ifindex)
		tc_remove(ifindex, tc_id, tci_id, have_rec && rec.clsact_created);
	if (have_dir)
		remove_pin_dir(dir);
	rec_path(iface, path, sizeof(path));
	unlink(path);
	return 1;
}

int kg_runtime_list(char out[][IF_NAMESIZE], int max)
{
	DIR *d = opendir(kg_pin_root());
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		strcpy(out[n++], de->d_name);
	}
	closedir(d);
	/* sorted, so that every command lists interfaces in one order */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
			char t[IF_NAMESIZE];

			memcpy(t, out[j], IF_NAMESIZE);
			memcpy(out[j], out[j - 1], IF_NAMESIZE);
			memcpy(out[j - 1], t, IF_NAMESIZE);
		}
	return n;
}

int kg_runtime_set_quarantine(const struct kg_runtime *rt, const char *qiface, char *err,
			      size_t errlen)
{
	__u32 qidx = if_nametoindex(qiface), zero = 0;

	if (!qidx) {
		snprintf(err, errlen, "quarantine interface %s: %s", qiface, strerror(errno));
		return -ENODEV;
	}
	/* XDP redirects through the devmap; the TC ingress build reads the config's ifindex */
	if (rt->redirect >= 0 && bpf_map_update_elem(rt->redirect, &zero, &qidx, BPF_ANY)) {
		snprintf(err, errlen, "%s: setting the quarantine interface %s: %s", rt->iface,
			 qiface, strerror(errno));
		return -errno;
	}
	for (__u32 gen = 0; gen < 2; gen++) {
		struct kg_config cfg;

		if (bpf_map_lookup_elem(rt->maps.config, &gen, &cfg))
			return -errno;
		cfg.redirect_ifindex = qidx;
		if (bpf_map_update_elem(rt->maps.config, &gen, &cfg, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* ---- policy files and applies ---------------------------------------------------------- */

static void prefix_err(const char *path, const char *e, char *err, size_t errlen)
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
		prefix_err(f->path, e, err, errlen);
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
	f->text = read_file(path, KG_POLICY_FILE_MAX, &f->len, &e);
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

void kg_policy_file_free(struct kg_policy_file *f)
{
	free(f->text);
	kg_policy_free(&f->p);
	kg_compiled_free(&f->c);
	memset(f, 0, sizeof(*f));
}

int kg_active_config(const struct kg_maps *m, int *gen, struct kg_config *cfg)
{
	__u32 g;
	int a = kg_policy_active(m);

	if (a < 0)
		return a;
	g = a;
	if (bpf_map_lookup_elem(m->config, &g, cfg))
		return -errno;
	*gen = a;
	return 0;
}

static void store_path(const char *iface, __u32 id, const char *ext, char *out, size_t len)
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
	store_path(iface, id, "version", path, sizeof(path));
	s = read_file(path, 4096, &n, &e);
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
			store_path(iface, ids[i], "version", path, sizeof(path));
			unlink(path);
			store_path(iface, ids[i], "yaml", path, sizeof(path));
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
	s = read_file(path, 64, &n, &e);
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
	return write_file_atomic(path, buf, n);
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
	if ((e = mkdir_p(kg_state_dir(), 0755))) {
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

		store_path(iface, r->old_id, "yaml", path, sizeof(path));
		old = read_file(path, KG_POLICY_FILE_MAX, &n, &e);
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
	if ((e = mkdir_p(dir, 0755)) || (e = next_version_id(&r->new_id))) {
		snprintf(err, errlen, "policy store %s: %s", dir, strerror(-e));
		goto out;
	}
	/* stored before it enforces: every event's version id can be named */
	store_path(iface, r->new_id, "yaml", path, sizeof(path));
	if ((e = write_file_atomic(path, f->text, f->len))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	store_path(iface, r->new_id, "version", path, sizeof(path));
	if ((e = write_file_atomic(path, f->p.version, strlen(f->p.version)))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		goto out;
	}
	snprintf(r->new_version, sizeof(r->new_version), "%s", f->p.version);
	r->new_gen = 1 - gen;
	/* the quarantine interface is the agent's setting, not the policy's */
	f->c.config.redirect_ifindex = cfg.redirect_ifindex;
	t0 = now_us();
	if ((e = zero_rule_hits(m, r->new_gen, f->c.nrules))) {
		snprintf(err, errlen, "%s: clearing kg_rule_hits: %s", iface, strerror(-e));
		goto out;
	}
	if ((e = kg_policy_write(m, &f->c, r->new_gen, r->new_id, err, errlen)))
		goto out;
	t1 = now_us();
	if ((e = kg_policy_activate(m, r->new_gen))) {
		snprintf(err, errlen, "%s: flipping to generation %d: %s", iface, r->new_gen,
			 strerror(-e));
		goto out;
	}
	t2 = now_us();
	r->write_us = t1 - t0;
	r->swap_us = t2 - t1;
	store_prune(iface, r->old_id, r->new_id);
out:
	if (lock >= 0)
		close(lock); /* releases the flock */
	return e;
}

/* ---- the names cache ------------------------------------------------------------------- */

/* Stored policies kept compiled; events name few versions at a time (old and new). */
#define KG_NAMES_SLOTS 8
/* Ids the store does not have, remembered so that an event storm does not rescan it. */
#define KG_NAMES_MISSES 8
/* A missing id is looked for again after this long (an apply may be writing it). */
#define KG_NAMES_MISS_RETRY_US 1e6

struct kg_names_cache {
	pthread_mutex_t mu;
	struct kg_stored_policy *slot[KG_NAMES_SLOTS];
	unsigned next;
	struct {
		__u32 id;
		double at;
	} miss[KG_NAMES_MISSES];
	unsigned next_miss;
};

struct kg_names_cache *kg_names_cache_new(void)
{
	struct kg_names_cache *nc = calloc(1, sizeof(*nc));

	if (nc)
		pthread_mutex_init(&nc->mu, NULL);
	return nc;
}

static void stored_free(struct kg_stored_policy *sp)
{
	if (!sp)
		return;
	kg_policy_free(&sp->p);
	kg_compiled_free(&sp->c);
	free(sp);
}

void kg_names_cache_free(struct kg_names_cache *nc)
{
	if (!nc)
		return;
	for (int i = 0; i < KG_NAMES_SLOTS; i++)
		stored_free(nc->slot[i]);
	pthread_mutex_destroy(&nc->mu);
	free(nc);
}

static struct kg_stored_policy *load_stored(__u32 id)
{
	DIR *d = opendir(kg_state_dir());
	struct kg_stored_policy *sp = NULL;
	struct kg_policy_file f;
	struct dirent *de;
	char path[600], err[512];

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		store_path(de->d_name, id, "yaml", path, sizeof(path));
		if (access(path, R_OK))
			continue;
		/* applied already (perhaps by an older kgate): read for its names, not judged */
		if (file_load(&f, path, false, err, sizeof(err))) {
			kg_policy_file_free(&f);
			continue;
		}
		sp = calloc(1, sizeof(*sp));
		if (!sp) {
			kg_policy_file_free(&f);
			break;
		}
		sp->id = id;
		snprintf(sp->path, sizeof(sp->path), "%s", path);
		sp->p = f.p; /* moved out of f */
		sp->c = f.c;
		free(f.text);
		break;
	}
	closedir(d);
	return sp;
}

static const struct kg_stored_policy *lookup_locked(struct kg_names_cache *nc, __u32 id)
{
	struct kg_stored_policy *sp;
	double now = now_us();

	if (!id)
		return NULL;
	for (int i = 0; i < KG_NAMES_SLOTS; i++)
		if (nc->slot[i] && nc->slot[i]->id == id)
			return nc->slot[i];
	for (int i = 0; i < KG_NAMES_MISSES; i++)
		if (nc->miss[i].id == id && now - nc->miss[i].at < KG_NAMES_MISS_RETRY_US)
			return NULL;
	sp = load_stored(id);
	if (!sp) {
		nc->miss[nc->next_miss % KG_NAMES_MISSES].id = id;
		nc->miss[nc->next_miss % KG_NAMES_MISSES].at = now;
		nc->next_miss++;
		return NULL;
	}
	/* round robin: the slot replaced is the one filled longest ago */
	stored_free(nc->slot[nc->next % KG_NAMES_SLOTS]);
	nc->slot[nc->next++ % KG_NAMES_SLOTS] = sp;
	return sp;
}

const struct kg_stored_policy *kg_names_lookup(struct kg_names_cache *nc, __u32 version_id)
{
	const struct kg_stored_policy *sp;

	pthread_mutex_lock(&nc->mu);
	sp = lookup_locked(nc, version_id);
	pthread_mutex_unlock(&nc->mu);
	return sp;
}

void kg_names_resolve(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	struct kg_names_cache *nc = ctx;
	const struct kg_stored_policy *sp;

	memset(out, 0, sizeof(*out));
	if (ev->principal_len) {
		size_t n = ev->principal_len < KD_USER_MAX ? ev->principal_len : KD_USER_MAX;

		memcpy(out->principal, ev->principal, n);
	}
	if (!nc)
		return;
	pthread_mutex_lock(&nc->mu);
	sp = lookup_locked(nc, ev->version_id);
	if (sp) {
		snprintf(out->policy_version, sizeof(out->policy_version), "%s", sp->p.version);
		if (ev->rule_id != ~0u && ev->rule_id < (__u32)sp->p.nrules)
			snprintf(out->rule, sizeof(out->rule), "%s", sp->p.rules[ev->rule_id].name);
		if (ev->region_id < KG_MAX_REGIONS && ev->region_id != KG_REGION_NONE)
			snprintf(out->region, sizeof(out->region), "%s",
				 sp->c.region_names[ev->region_id]);
		if (!ev->principal_len && ev->principal_id < KG_MAX_PRINCIPALS)
			snprintf(out->principal, sizeof(out->principal), "%s",
				 sp->c.principal_names[ev->principal_id]);
	}
	pthread_mutex_unlock(&nc->mu);
}
