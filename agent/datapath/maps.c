// SPDX-License-Identifier: Apache-2.0
/* The maps by their pins, and the retransmission key (agent/datapath/maps.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/maps.h"

#define KG_MAP_PIN(field, pin) pin,
const char *const kg_map_names[KG_NMAPS] = {KG_PINNED_MAPS(KG_MAP_PIN)};
#undef KG_MAP_PIN

_Static_assert(sizeof(struct kg_maps) == KG_NMAPS * sizeof(int), "one fd per map name");

int kg_maps_open_pinned(struct kg_maps *m, const char *dir, char *err, size_t errlen)
{
	int *fds = (int *)m;
	char path[512];

	kg_maps_none(m);
	for (int i = 0; i < KG_NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, kg_map_names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: %s", path, strerror(e));
			kg_maps_close(m);
			return -e;
		}
	}
	return 0;
}

void kg_maps_none(struct kg_maps *m)
{
	int *fds = (int *)m;

	for (int i = 0; i < KG_NMAPS; i++)
		fds[i] = -1;
}

void kg_maps_close(struct kg_maps *m)
{
	int *fds = (int *)m;

	for (int i = 0; i < KG_NMAPS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int kg_nhkey_init(int fd)
{
	struct kg_nhkey *key = calloc(1, sizeof(*key));
	__u32 zero = 0;
	size_t got = 0;
	int e = 0;

	if (!key)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, key)) {
		e = -errno;
		goto out;
	}
	if (key->ready)
		goto out;
	while (got < sizeof(key->k)) {
		ssize_t n = getrandom((char *)key->k + got, sizeof(key->k) - got, 0);

		if (n < 0 && errno != EINTR) {
			e = -errno;
			goto out;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	key->ready = 1;
	if (bpf_map_update_elem(fd, &zero, key, BPF_ANY))
		e = -errno;
out:
	free(key);
	return e;
}

int kg_maps_from_object(struct kg_maps *m, const struct bpf_object *obj)
{
	int *fds = (int *)m;

	kg_maps_none(m);
	for (int i = 0; i < KG_NMAPS; i++) {
		fds[i] = bpf_object__find_map_fd_by_name(obj, kg_map_names[i]);
		if (fds[i] < 0) {
			kg_maps_none(m);
			return -ENOENT;
		}
	}
	return 0;
}

int kg_pool_fill(int fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.max_entries; i++)
		if (bpf_map_update_elem(fd, NULL, &i, BPF_ANY))
			return -errno;
	return 0;
}

int kg_policy_active(const struct kg_maps *m)
{
	__u32 zero = 0, gen;

	if (bpf_map_lookup_elem(m->active, &zero, &gen))
		return -errno;
	return gen & 1;
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
