// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath on an interface: load, attach, pin, adopt, detach (agent/datapath/datapath.h).
 *
 * What lives where:
 *   <pin root>/<iface>/           every map (libbpf pins them by name: pin_root_path),
 *                                 prog_xdp or prog_tc_ingress, prog_tc_egress, link_xdp
 *   <state dir>/<iface>/attach    what detach must undo that no pin says (clsact created),
 *                                 and the network namespace the hooks are in
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/datapath.h"
#include "agent/datapath/netns.h"
#include "kgate_tc.skel.h"
#include "kgate_tci.skel.h"
#include "kgate_xdp.skel.h"

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

/* A name an interface can have, and that is safe in a path: else false with err set. */
static bool iface_name_ok(const char *iface, char *err, size_t errlen)
{
	if (*iface && strlen(iface) < IF_NAMESIZE && !strchr(iface, '/'))
		return true;
	snprintf(err, errlen, "'%s': not an interface name", iface);
	return false;
}

int kg_runtime_maps(const char *iface, struct kg_maps *m, char *err, size_t errlen)
{
	char dir[512];

	kg_maps_none(m);
	if (!iface_name_ok(iface, err, errlen))
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", kg_pin_root(), iface);
	return kg_maps_open_pinned(m, dir, err, errlen) ? -1 : 0;
}

/* ---- the attach record ----------------------------------------------------------------- */

struct attach_rec {
	int clsact_created; /* of the interface ifindex: a later one of that name has its own */
	int generic;
	int tc_ingress; /* the TC ingress build instead of XDP */
	/* where the interface and its TC filters are: netlink reaches them from there only */
	struct kg_netns netns;
	int ifindex; /* the interface there (0: a record written before it was kept) */
};

static void rec_path(const char *iface, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/attach", kg_state_dir(), iface);
}

static int rec_write(const char *iface, const struct attach_rec *r)
{
	char path[512], dir[512], buf[192];
	int n, e;

	snprintf(dir, sizeof(dir), "%s/%s", kg_state_dir(), iface);
	if ((e = kg_mkdir_p(dir, KG_STATE_DIR_MODE)))
		return e;
	rec_path(iface, path, sizeof(path));
	n = snprintf(buf, sizeof(buf),
		     "clsact_created=%d\ningress=%s\nnetns=%llu:%llu\nnetns_cookie=%llu\n"
		     "ifindex=%d\n",
		     r->clsact_created,
		     r->tc_ingress ? "tc"
		     : r->generic  ? "xdp-generic"
				   : "xdp-native",
		     r->netns.dev, r->netns.ino, r->netns.cookie, r->ifindex);
	return kg_write_file_atomic(AT_FDCWD, path, buf, n, 0644);
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
		else if (!strncmp(line, "netns=", 6) &&
			 sscanf(line + 6, "%llu:%llu", &r->netns.dev, &r->netns.ino) != 2)
			r->netns.dev = r->netns.ino = 0;
		else if (!strncmp(line, "netns_cookie=", 13))
			r->netns.cookie = strtoull(line + 13, NULL, 10);
		else if (!strncmp(line, "ifindex=", 8))
			r->ifindex = atoi(line + 8);
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

/* Whether the XDP link pinned in dir is still on an interface (the kernel clears its
 * ifindex when the interface goes away, with its namespace or alone). */
static bool xdp_link_alive(const char *dir)
{
	struct bpf_link_info li = {0};
	__u32 len = sizeof(li);
	char path[600];
	bool alive;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, KG_PIN_XDP_LINK);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	alive = !bpf_obj_get_info_by_fd(fd, &li, &len) && li.xdp.ifindex;
	close(fd);
	return alive;
}

/*
 * Where iface's hooks are, by its attach record: 0 in this network namespace (or the
 * record names none: one written before it was kept); 1 in another one, which a mount or
 * a process holds: *nsfd is open on it, where says which; -ENOENT when nothing holds that
 * namespace any more: it is gone, and its interfaces and their filters with it; -EXDEV
 * with err set when it lives but is not entered from here: an open descriptor of some
 * process holds it (named), or nothing visible holds it yet the pinned XDP link says its
 * interface is there (a socket, a process of another PID namespace). A TC ingress attach
 * has no link to say so: in that last case it counts as gone (README, Limits).
 */
static int hooks_netns(const char *iface, const char *dir, const struct attach_rec *rec,
		       int *nsfd, char *where, size_t wlen, char *err, size_t errlen)
{
	struct kg_netns self;

	*nsfd = -1;
	if (!rec->netns.ino || kg_netns_self(&self) || kg_netns_same(&self, &rec->netns))
		return 0;
	*nsfd = kg_netns_open(&rec->netns, where, wlen);
	if (*nsfd >= 0)
		return 1;
	if (*nsfd == -EBUSY) {
		/* alive, with the interface and its filters (the TC ingress build's too, which
		 * has no link to tell): removing the pins would leave them running, unreachable */
		snprintf(err, errlen,
			 "%s: attached in network namespace net:[%llu], not this one (net:[%llu]); "
			 "that namespace has no name or process here, only an open descriptor (%s) "
			 "holds it: nothing removed; run 'kgate detach --iface %s' inside that "
			 "namespace (nsenter --net=/proc/PID/fd/N, with that descriptor)",
			 iface, rec->netns.ino, self.ino, where, iface);
		*nsfd = -1;
		return -EXDEV;
	}
	if (!xdp_link_alive(dir))
		return -ENOENT;
	snprintf(err, errlen,
		 "%s: attached in network namespace net:[%llu], not this one (net:[%llu]); no "
		 "mount or process here holds that namespace, yet its XDP link is still on the "
		 "interface: run 'kgate detach --iface %s' inside that namespace",
		 iface, rec->netns.ino, self.ino, iface);
	return -EXDEV;
}

static int xdp_link_new(struct kg_runtime *rt, bool generic, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	char path[512];
	int fd, e;

	lo.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(rt->ingress_prog, rt->ifindex, BPF_XDP, &lo);
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
	rt->ingress_link = fd;
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
	char path[512], where[300];
	bool created = false, created_i = false, moved = false;
	int e, nsfd;

	pin_path(rt, KG_PIN_TCI_PROG, path, sizeof(path));
	rt->tc_ingress = access(path, F_OK) == 0;
	pin_path(rt, rt->tc_ingress ? KG_PIN_TCI_PROG : KG_PIN_XDP_PROG, path, sizeof(path));
	rt->ingress_prog = bpf_obj_get(path);
	if (rt->ingress_prog < 0)
		goto pin_err;
	pin_path(rt, KG_PIN_TC_PROG, path, sizeof(path));
	rt->tc_prog = bpf_obj_get(path);
	if (rt->tc_prog < 0)
		goto pin_err;
	pin_path(rt, KG_PIN_REDIRECT, path, sizeof(path));
	rt->redirect = bpf_obj_get(path); /* optional: an older datapath had none */
	pin_path(rt, KG_PIN_SWEEP_PROG, path, sizeof(path));
	rt->sweep_prog = bpf_obj_get(path);
	if (rt->sweep_prog < 0)
		goto pin_err;
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
	rt->ingress_prog_id = prog_id_of(rt->ingress_prog);
	rt->tc_prog_id = prog_id_of(rt->tc_prog);
	rec_read(rt->iface, &rec);
	/* the pins are seen from every namespace, the hooks from theirs only */
	e = hooks_netns(rt->iface, rt->pin_dir, &rec, &nsfd, where, sizeof(where), err, errlen);
	if (e == 1) {
		close(nsfd);
		snprintf(err, errlen,
			 "%s: kgate is attached there in network namespace net:[%llu] (%s), not "
			 "this agent's: run the agent in that namespace, or 'kgate detach --iface "
			 "%s' first",
			 rt->iface, rec.netns.ino, where, rt->iface);
		return -EXDEV;
	}
	if (e == -EXDEV)
		return e;
	if (e == -ENOENT) {
		/* its namespace went away with the interface: attached again here, below */
		fprintf(stderr, "kgate: %s: the network namespace it was attached in (net:[%llu]) "
				"is gone; attaching here\n", rt->iface, rec.netns.ino);
		kg_netns_self(&rec.netns);
		moved = true;
	}
	if (rt->tc_ingress) {
		/* the TC ingress build: a filter, no link; put back when someone removed it */
		if (!fresh && (e = tc_ensure(rt, BPF_TC_INGRESS, rt->ingress_prog, rt->ingress_prog_id,
					     false, &created_i, err, errlen)))
			return e;
		goto egress;
	}

	pin_path(rt, KG_PIN_XDP_LINK, path, sizeof(path));
	rt->ingress_link = bpf_obj_get(path);
	if (rt->ingress_link >= 0 && !bpf_obj_get_info_by_fd(rt->ingress_link, &li, &lilen) &&
	    li.xdp.ifindex == (__u32)rt->ifindex && li.prog_id == rt->ingress_prog_id) {
		rt->ingress_link_id = li.id;
	} else {
		/* a link whose interface went away is defunct: replace it */
		if (rt->ingress_link >= 0)
			close(rt->ingress_link);
		rt->ingress_link = -1;
		unlink(path);
		fprintf(stderr, "kgate: %s: pinned XDP link no longer attached; re-attaching\n",
			rt->iface);
		if ((e = xdp_link_new(rt, rec.generic, err, errlen)))
			return e;
		if (!bpf_obj_get_info_by_fd(rt->ingress_link, &li, &lilen))
			rt->ingress_link_id = li.id;
		rt->adopted = false;
	}
egress:
	if (!fresh && (e = tc_ensure(rt, BPF_TC_EGRESS, rt->tc_prog, rt->tc_prog_id, false,
				     &created, err, errlen)))
		return e;
	/* moved, or the interface made anew since: the old one's qdisc went with it, and a
	 * clsact this one has is not kgate's unless made just now */
	if (moved || (rec.ifindex && rec.ifindex != rt->ifindex))
		rec.clsact_created = created || created_i;
	else if (created || created_i)
		rec.clsact_created = 1;
	if (moved || created || created_i || rec.ifindex != rt->ifindex) {
		rec.ifindex = rt->ifindex;
		rec_write(rt->iface, &rec);
	}
	return 0;
pin_err:
	e = -errno;
	snprintf(err, errlen, "%s: %s: %s (a partial kgate install: 'kgate detach --iface %s')",
		 rt->iface, path, strerror(-e), rt->iface);
	return e;
}

/*
 * Sets the object's read-only global name (a __u32, in .rodata) to val before it is
 * loaded: its offset from the section's BTF.
 */
static int rodata_set_u32(struct bpf_object *obj, const char *name, __u32 val)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	const void *init;
	__u8 *data;
	size_t size;
	int id, e = -ENOENT;

	if (!m || !btf || !(init = bpf_map__initial_value(m, &size)))
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (__u16 i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		if (vs->size != sizeof(val) || vs->offset + sizeof(val) > size)
			return -EINVAL;
		/* the section's bytes as they are, this one changed (a copy: they are const) */
		if (!(data = malloc(size)))
			return -ENOMEM;
		memcpy(data, init, size);
		memcpy(data + vs->offset, &val, sizeof(val));
		e = bpf_map__set_initial_value(m, data, size) ? -EINVAL : 0;
		free(data);
		break;
	}
	return e;
}

int kg_sizes_apply(struct bpf_object *obj, const struct kg_sizes *sz)
{
	__u32 flows = sz ? sz->max_flows : 0, slots = sz ? sz->pool_slots : 0;
	/* names for a share of kg_flows' connections; rejections: KG_PEND_CONN a slot */
	const struct {
		const char *map;
		__u32 n;
	} set[] = {{"kg_flows", flows},
		   {"kg_flow_principals", flows / KG_SASL_SHARE},
		   {"kg_pool", slots},
		   {"kg_pool_free", slots},
		   {"kg_pend", slots * KG_PEND_CONN}};

	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, set[i].map);

		if (!m)
			return -ENOENT;
		if (set[i].n && bpf_map__set_max_entries(m, set[i].n))
			return -EINVAL;
	}
	/* a source's share of the pool is of the pool loaded (KG_SRC_SHARE) */
	return slots ? rodata_set_u32(obj, "kg_pool_slots", slots) : 0;
}

static int fresh_load(struct kg_runtime *rt, enum kg_ingress_hook hook, const struct kg_sizes *sz,
		      char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, o);
	struct attach_rec rec = {.generic = hook == KG_INGRESS_XDP_GENERIC,
				 .tc_ingress = hook == KG_INGRESS_TC};
	struct kgate_xdp_bpf *xs = NULL;
	struct kgate_tci_bpf *is = NULL;
	struct kgate_tc_bpf *ts = NULL;
	struct bpf_program *ingress;
	bool created = false, created_i = false, tc_done = false;
	char path[512];
	int e;

	if ((e = kg_bpffs_ensure(rt->pin_dir, err, errlen)))
		return e;
	if ((e = kg_mkdir_p(rt->pin_dir, 0700))) {
		snprintf(err, errlen, "%s: %s", rt->pin_dir, strerror(-e));
		return e;
	}
	o.pin_root_path = rt->pin_dir;
	if (hook == KG_INGRESS_TC) {
		is = kgate_tci_bpf__open_opts(&o);
		if (!is || kg_sizes_apply(is->obj, sz) || kgate_tci_bpf__load(is)) {
			e = -errno;
			snprintf(err, errlen, "%s: loading kgate_tci: %s", rt->iface, strerror(-e));
			goto fail;
		}
		ingress = is->progs.kgate_tc_ingress;
	} else {
		xs = kgate_xdp_bpf__open_opts(&o);
		if (!xs || kg_sizes_apply(xs->obj, sz) || kgate_xdp_bpf__load(xs)) {
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
	/* every slot to the pool, before any packet needs one (an adoption keeps its own) */
	if ((e = kg_pool_fill(bpf_map__fd(is ? is->maps.kg_pool_free : xs->maps.kg_pool_free)))) {
		snprintf(err, errlen, "%s: filling the flow pool: %s", rt->iface, strerror(-e));
		goto fail;
	}
	ts = kgate_tc_bpf__open_opts(&o);
	if (!ts || kg_sizes_apply(ts->obj, sz) || kgate_tc_bpf__load(ts)) {
		e = -errno;
		snprintf(err, errlen, "%s: loading kgate_tc: %s", rt->iface, strerror(-e));
		goto fail;
	}
	pin_path(rt, hook == KG_INGRESS_TC ? KG_PIN_TCI_PROG : KG_PIN_XDP_PROG, path, sizeof(path));
	if ((e = bpf_program__pin(ingress, path)))
		goto pin_fail;
	pin_path(rt, KG_PIN_TC_PROG, path, sizeof(path));
	if ((e = bpf_program__pin(ts->progs.kgate_tc_egress, path)))
		goto pin_fail;
	pin_path(rt, KG_PIN_SWEEP_PROG, path, sizeof(path));
	if ((e = bpf_program__pin(ts->progs.kgate_sweep, path)))
		goto pin_fail;
	rt->ingress_prog = dup(bpf_program__fd(ingress));
	rt->ingress_prog_id = prog_id_of(rt->ingress_prog);
	rt->tc_prog = dup(bpf_program__fd(ts->progs.kgate_tc_egress));
	rt->tc_prog_id = prog_id_of(rt->tc_prog);
	/* egress first: once ingress decides, the responses must already be followed */
	if ((e = tc_ensure(rt, BPF_TC_EGRESS, rt->tc_prog, rt->tc_prog_id, true, &created, err,
			   errlen)))
		goto fail;
	tc_done = true;
	rec.clsact_created = created;
	rec.ifindex = rt->ifindex;
	kg_netns_self(&rec.netns);
	if ((e = rec_write(rt->iface, &rec))) {
		snprintf(err, errlen, "%s: writing the attach record under %s: %s", rt->iface,
			 kg_state_dir(), strerror(-e));
		goto fail;
	}
	if (hook == KG_INGRESS_TC) {
		/* the same clsact: created above when it was not there */
		if ((e = tc_ensure(rt, BPF_TC_INGRESS, rt->ingress_prog, rt->ingress_prog_id, true,
				   &created_i, err, errlen)))
			goto fail;
	} else {
		/* the link pin last: its presence means "attached", for adopt and detach */
		if ((e = xdp_link_new(rt, hook == KG_INGRESS_XDP_GENERIC, err, errlen)))
			goto fail;
		close(rt->ingress_link);
		rt->ingress_link = -1;
	}
	close(rt->ingress_prog);
	close(rt->tc_prog);
	rt->ingress_prog = rt->tc_prog = -1;
	kgate_tc_bpf__destroy(ts);
	kgate_xdp_bpf__destroy(xs);
	kgate_tci_bpf__destroy(is);
	return 0;
pin_fail:
	snprintf(err, errlen, "%s: pinning %s: %s", rt->iface, path, strerror(-e));
fail:
	if (tc_done)
		tc_remove(rt->ifindex, rt->tc_prog_id, 0, created || created_i);
	if (rt->ingress_prog >= 0)
		close(rt->ingress_prog);
	if (rt->tc_prog >= 0)
		close(rt->tc_prog);
	rt->ingress_prog = rt->tc_prog = -1;
	kgate_tc_bpf__destroy(ts);
	kgate_xdp_bpf__destroy(xs);
	kgate_tci_bpf__destroy(is);
	remove_pin_dir(rt->pin_dir);
	rec_path(rt->iface, path, sizeof(path));
	unlink(path);
	return e;
}

int kg_runtime_up(struct kg_runtime *rt, const char *iface, enum kg_ingress_hook hook,
		  const struct kg_sizes *sizes, char *err, size_t errlen)
{
	char path[512];
	int e;

	memset(rt, 0, sizeof(*rt));
	rt->ingress_prog = rt->tc_prog = rt->ingress_link = rt->redirect = rt->sweep_prog = -1;
	kg_maps_none(&rt->maps);
	if (!iface_name_ok(iface, err, errlen))
		return -EINVAL;
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
	if (!rt->adopted && (e = fresh_load(rt, hook, sizes, err, errlen)))
		return e;
	/* a fresh attach is then opened by its pins, like an adoption, minus the checks */
	e = adopt(rt, !rt->adopted, err, errlen);
	if (e)
		kg_runtime_close(rt);
	return e;
}

void kg_runtime_close(struct kg_runtime *rt)
{
	int *fds[] = {&rt->ingress_prog, &rt->tc_prog, &rt->ingress_link, &rt->redirect,
		      &rt->sweep_prog};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	kg_maps_close(&rt->maps);
}

/* Enters the network namespace nsfd names, keeping ours in *back: 0, or -errno. */
static int netns_enter(int nsfd, int *back)
{
	*back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0)
		return -errno;
	if (!setns(nsfd, CLONE_NEWNET))
		return 0;
	close(*back);
	*back = -1;
	return -errno;
}

int kg_runtime_detach(const char *iface, char *err, size_t errlen)
{
	struct attach_rec rec;
	struct stat st;
	char dir[512], path[600], where[300];
	bool have_dir, have_rec;
	__u32 tc_id = 0, tci_id = 0;
	int ifindex = 0, fd, ns, nsfd, back = -1, e;

	if (!iface_name_ok(iface, err, errlen))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/%s", kg_pin_root(), iface);
	have_dir = !stat(dir, &st) && S_ISDIR(st.st_mode);
	have_rec = rec_read(iface, &rec);
	if (!have_dir && !have_rec)
		return 0;
	/*
	 * The TC filters are reached by netlink, from the interface's namespace only (from
	 * another, the same name is another interface or none); the XDP link and the pins,
	 * from anywhere. Before anything is removed: where the hooks are.
	 */
	ns = hooks_netns(iface, dir, &rec, &nsfd, where, sizeof(where), err, errlen);
	if (ns == -EXDEV)
		return ns;
	if (ns == 1) {
		e = netns_enter(nsfd, &back);
		close(nsfd);
		if (e) {
			snprintf(err, errlen,
				 "%s: entering its network namespace net:[%llu] (%s): %s", iface,
				 rec.netns.ino, where, strerror(-e));
			return e;
		}
		fprintf(stderr,
			"kgate: %s: in network namespace net:[%llu] (%s): detaching there\n",
			iface, rec.netns.ino, where);
	} else if (ns == -ENOENT) {
		fprintf(stderr,
			"kgate: %s: the network namespace it was attached in (net:[%llu]) is "
			"gone, and the interface's filters with it: removing the pins\n",
			iface, rec.netns.ino);
	}
	/* 0: the interface is gone, and its hooks with it */
	if (ns != -ENOENT)
		ifindex = if_nametoindex(iface);

	snprintf(path, sizeof(path), "%s/%s", dir, KG_PIN_XDP_LINK);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* detaches even while an agent still holds the link */
		if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL) {
			e = -errno;
			snprintf(err, errlen, "%s: detaching XDP: %s", iface, strerror(-e));
			close(fd);
			goto out;
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
	/* the interface of that name made anew since the attach: its clsact is not ours */
	if (ifindex && have_rec && rec.ifindex && ifindex != rec.ifindex && rec.clsact_created)
		fprintf(stderr, "kgate: %s: the interface was made anew since kgate attached "
				"(ifindex %d, then %d): its clsact qdisc is not kgate's, kept\n",
			iface, rec.ifindex, ifindex);
	if (ifindex)
		tc_remove(ifindex, tc_id, tci_id,
			  have_rec && rec.clsact_created &&
				  (!rec.ifindex || ifindex == rec.ifindex));
	if (have_dir)
		remove_pin_dir(dir);
	rec_path(iface, path, sizeof(path));
	unlink(path);
	e = 1;
out:
	if (back >= 0) {
		if (setns(back, CLONE_NEWNET))
			fprintf(stderr, "kgate: %s: back to our network namespace: %s\n", iface,
				strerror(errno));
		close(back);
	}
	return e;
}

int kg_runtime_list(char out[][IF_NAMESIZE], int max)
{
	DIR *d = opendir(kg_pin_root());
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		if (n < max)
			strcpy(out[n], de->d_name);
		n++; /* past max: counted, so that the caller can refuse rather than skip */
	}
	closedir(d);
	/* sorted, so that every command lists interfaces in one order */
	for (int i = 1; i < n && i < max; i++)
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

