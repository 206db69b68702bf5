// SPDX-License-Identifier: Apache-2.0
/* A policy generation written into the maps, and the flip (agent/policy/write.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>

#include "agent/policy/write.h"

int kg_policy_activate(const struct kg_maps *m, __u32 gen)
{
	__u32 zero = 0;

	__u32 epoch;

	/* the next epoch whose low bit is gen (flows compare epochs, not generations) */
	if (bpf_map_lookup_elem(m->active, &zero, &epoch))
		return -errno;
	epoch++;
	if ((epoch & 1) != (gen & 1))
		epoch++;
	/* flows keep epoch + 1, 0 meaning none: the last epoch is never used */
	if (epoch == ~0u)
		epoch = 1;
	return bpf_map_update_elem(m->active, &zero, &epoch, BPF_ANY) ? -errno : 0;
}

/*
 * Deletes every key of fd whose generation byte (at gen_off in the key) is gen. Keys
 * are collected first: deleting while walking with get_next_key would restart the walk.
 */
static int clear_gen(int fd, size_t key_size, size_t gen_off, __u32 gen, bool gen_is_u32_hi)
{
	size_t cap = 1024, n = 0;
	char *keys = malloc(cap * key_size), *prev = NULL, *cur;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	cur = malloc(key_size);
	if (!cur) {
		free(keys);
		return -ENOMEM;
	}
	while (bpf_map_get_next_key(fd, prev, cur) == 0) {
		bool mine;

		if (gen_is_u32_hi) {
			__u32 k;

			memcpy(&k, cur, sizeof(k));
			mine = k / KG_MAX_PATTERNS == gen;
		} else {
			mine = (__u8)cur[gen_off] == gen;
		}
		if (mine) {
			if (n == cap) {
				char *nk = realloc(keys, (cap *= 2) * key_size);

				if (!nk) {
					err = -ENOMEM;
					break;
				}
				keys = nk;
			}
			memcpy(keys + n * key_size, cur, key_size);
			n++;
		}
		if (!prev)
			prev = malloc(key_size);
		if (!prev) {
			err = -ENOMEM;
			break;
		}
		memcpy(prev, cur, key_size);
	}
	for (size_t i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT)
			err = -errno;
	free(keys);
	free(prev);
	free(cur);
	return err;
}

#define FAIL(what)                                                                                 \
	do {                                                                                       \
		e = -errno;                                                                        \
		snprintf(err, errlen, "writing %s: %s", what, strerror(errno));                   \
		return e;                                                                          \
	} while (0)

/* Elements 0..n-1 of v (size bytes each) at keys gen * per_gen + i of the array map fd. */
static int write_indexed(int fd, const void *v, size_t size, __u32 n, __u32 gen, __u32 per_gen,
			 const char *what, char *err, size_t errlen)
{
	int e;

	for (__u32 i = 0; i < n; i++) {
		__u32 k = gen * per_gen + i;

		if (bpf_map_update_elem(fd, &k, (const char *)v + i * size, BPF_ANY))
			FAIL(what);
	}
	return 0;
}

static int write_cidrs(const struct kg_maps *m, const struct kg_ccidr *v, __u32 n, __u32 gen,
		       int fd4, int fd6, const char *what, char *err, size_t errlen)
{
	int e;

	(void)m;
	for (__u32 i = 0; i < n; i++) {
		struct kg_id_val val = { .id = v[i].id };

		if (v[i].family == 4) {
			struct kg_cidr4_key k;

			kg_cidr4_key_fill(&v[i], gen, &k);
			if (bpf_map_update_elem(fd4, &k, &val, BPF_ANY))
				FAIL(what);
		} else {
			struct kg_cidr6_key k;

			kg_cidr6_key_fill(&v[i], gen, &k);
			if (bpf_map_update_elem(fd6, &k, &val, BPF_ANY))
				FAIL(what);
		}
	}
	return 0;
}

/*
 * Waits until no packet can still be deciding under the inactive generation. A packet
 * reads kg_active once and uses that generation for all its lookups; a packet that began
 * before the last flip may still be reading the generation that is now inactive (a BPF
 * program can be preempted, or a CPU can be slow). The programs run inside RCU read-side
 * sections (softirq for XDP and TC, rcu_read_lock for BPF_PROG_RUN), so an RCU grace
 * period -- membarrier(MEMBARRIER_CMD_GLOBAL) is synchronize_rcu() -- ends them all.
 * Without it, two applies in quick succession could clear a generation under a packet
 * still deciding with it (seen: decisions with no event, under load, in the test of
 * generation flips). Where membarrier is refused (nohz_full CPUs), a pause far longer
 * than any packet's decision stands in.
 */
#define KG_QUIESCE_FALLBACK_MS 100

static void quiesce(void)
{
	struct timespec ts = {0, KG_QUIESCE_FALLBACK_MS * 1000000L};

	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		nanosleep(&ts, NULL);
}

int kg_policy_write(const struct kg_maps *m, const struct kg_compiled *c, __u32 gen,
		    __u32 version_id, char *err, size_t errlen)
{
	struct kg_config cfg = c->config;
	static __u8 ports[65536];
	int e;

	gen &= 1;
	/* 0. no packet still decides under this generation (it may have been active) */
	quiesce();
	/* 1. forget what this generation held */
	if ((e = clear_gen(m->topics, sizeof(struct kg_topic_key), 4, gen, false)) ||
	    (e = clear_gen(m->classes, sizeof(__u32), 0, gen, true)) ||
	    (e = clear_gen(m->names, sizeof(struct kg_name_key), 0, gen, false)) ||
	    (e = clear_gen(m->regions4, sizeof(struct kg_cidr4_key), 4, gen, false)) ||
	    (e = clear_gen(m->regions6, sizeof(struct kg_cidr6_key), 4, gen, false)) ||
	    (e = clear_gen(m->identities4, sizeof(struct kg_cidr4_key), 4, gen, false)) ||
	    (e = clear_gen(m->identities6, sizeof(struct kg_cidr6_key), 4, gen, false))) {
		snprintf(err, errlen, "clearing generation %u: %s", gen, strerror(-e));
		return e;
	}

	/* 2. rules and classes: indexes of this generation */
	if ((e = write_indexed(m->rules, c->rules, sizeof(c->rules[0]), c->nrules, gen,
			       KG_MAX_RULES, "kg_rules", err, errlen)) ||
	    (e = write_indexed(m->classes, c->classes, sizeof(c->classes[0]), c->nclasses, gen,
			       KG_MAX_PATTERNS, "kg_classes", err, errlen)))
		return e;
	for (__u32 i = 0; i < c->npatterns; i++) {
		struct kg_topic_key k;
		struct kg_class_ref v = { .class_id = c->patterns[i].class_id };

		kg_topic_key_fill(&c->patterns[i], gen, &k);
		if (bpf_map_update_elem(m->topics, &k, &v, BPF_ANY))
			FAIL("kg_topics");
	}
	for (__u32 i = 0; i < c->nnames; i++) {
		struct kg_name_key k;
		struct kg_id_val v = { .id = c->names[i].id };

		kg_name_key_fill(&c->names[i], gen, &k);
		if (bpf_map_update_elem(m->names, &k, &v, BPF_ANY))
			FAIL("kg_names");
	}
	if ((e = write_cidrs(m, c->region_cidrs, c->nregion_cidrs, gen, m->regions4, m->regions6,
			     "kg_regions", err, errlen)) ||
	    (e = write_cidrs(m, c->identity_cidrs, c->nidentity_cidrs, gen, m->identities4,
			     m->identities6, "kg_identities", err, errlen)))
		return e;

	/* 3. listeners: one batch over this generation's 65536 ports */
	memset(ports, 0, sizeof(ports));
	for (int i = 0; i < KG_MAX_LISTENERS; i++)
		if (cfg.listeners[i])
			ports[cfg.listeners[i]] = i + 1;
	{
		static __u32 keys[65536];
		__u32 count = 65536;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		for (__u32 p = 0; p < 65536; p++)
			keys[p] = gen * 65536 + p;
		if (bpf_map_update_batch(m->ports, keys, ports, &count, &bo))
			FAIL("kg_ports");
	}

	/* 4. policy-wide settings last: the generation is complete once they are there */
	cfg.version_id = version_id;
	/* the quarantine interface is the agent's setting: a policy that sets none keeps it */
	if (!cfg.redirect_ifindex) {
		struct kg_config cur;
		__u32 k = 1 - gen;

		if (!bpf_map_lookup_elem(m->config, &k, &cur))
			cfg.redirect_ifindex = cur.redirect_ifindex;
	}
	{
		__u32 k = gen;

		if (bpf_map_update_elem(m->config, &k, &cfg, BPF_ANY))
			FAIL("kg_config");
	}
	return 0;
}
