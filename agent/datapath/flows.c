// SPDX-License-Identifier: Apache-2.0
/*
 * The connections table from user space (agent/datapath/datapath.h): walked in batches
 * (a million entries in about a second), and swept of connections idle past the flow
 * timeout, closed by the broker long ago or holding a pool slot without progress, by the
 * datapath's own kgate_sweep, which checks each again and ends it the way the datapath
 * ends one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>

#include "agent/datapath/datapath.h"

/* Entries read per BPF_MAP_LOOKUP_BATCH call: ~130 KB of keys and values. */
#define KG_FLOWS_BATCH 1024

__u32 kg_flow_now(void)
{
	struct timespec ts;

	/* the clock of bpf_ktime_get_coarse_ns, in the units of kg_conn.last_seen */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u32)((((__u64)ts.tv_sec * 1000000000ull) + (__u64)ts.tv_nsec) >> KG_NOW_SHIFT);
}

/* The same walk one key at a time, where the kernel has no batch lookup for the map. */
static long long each_by_key(int fd, kg_flow_fn fn, void *ctx)
{
	struct kg_flow_key k, nk, *prev = NULL;
	struct kg_conn c;
	long long n = 0;

	while (!bpf_map_get_next_key(fd, prev, &nk)) {
		k = nk;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &c))
			continue; /* ended between the two calls */
		n++;
		if (fn(ctx, &k, &c))
			break;
	}
	return n;
}

long long kg_flows_each(int fd, kg_flow_fn fn, void *ctx)
{
	struct kg_flow_key *keys = calloc(KG_FLOWS_BATCH, sizeof(*keys));
	struct kg_conn *vals = calloc(KG_FLOWS_BATCH, sizeof(*vals));
	__u64 in = 0, out = 0;
	bool first = true, stop = false;
	long long n = 0;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	while (!stop) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = KG_FLOWS_BATCH;
		int e = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &o);

		e = e ? -errno : 0;
		if (e && e != -ENOENT) {
			/* -524: ENOTSUPP, the kernel's own */
			if (first && (e == -EINVAL || e == -524 || e == -EOPNOTSUPP)) {
				free(keys);
				free(vals);
				return each_by_key(fd, fn, ctx);
			}
			n = e;
			break;
		}
		for (__u32 i = 0; i < count && !stop; i++) {
			n++;
			stop = fn(ctx, &keys[i], &vals[i]) != 0;
		}
		if (e == -ENOENT)
			break; /* the last batch */
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return n;
}

struct sweep {
	int prog;
	__u32 now;
	struct kg_sweep_limits lim;
	struct kg_sweep_stats *st;
	/* an Ethernet header the test run wants, the request, its keys */
	__u8 pkt[ETH_HLEN + sizeof(struct kg_sweep_req) +
		 KG_SWEEP_KEYS * sizeof(struct kg_flow_key)];
	__u32 n;
};

/* Runs kgate_sweep over the keys gathered. */
static void sweep_run(struct sweep *s)
{
	struct kg_sweep_req rq = {.n = s->n, .idle_s = s->lim.idle_s,
				  .closed_s = s->lim.closed_s, .stall_s = s->lim.stall_s};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = s->pkt,
		    .data_size_in = ETH_HLEN + sizeof(rq) + s->n * sizeof(struct kg_flow_key),
		    .repeat = 1);

	if (!s->n)
		return;
	memcpy(s->pkt + ETH_HLEN, &rq, sizeof(rq));
	if (bpf_prog_test_run_opts(s->prog, &o)) {
		s->st->errors++;
	} else {
		s->st->ended += KG_SWEEP_ENDED(o.retval);
		s->st->stalled += KG_SWEEP_STALLED(o.retval);
	}
	s->n = 0;
}

static int sweep_one(void *ctx, const struct kg_flow_key *k, const struct kg_conn *c)
{
	struct sweep *s = ctx;
	__u32 idle = s->now - c->last_seen;
	bool stalled = s->lim.stall_s && (c->own & KG_OWN_SLOT) &&
		       (__u16)(s->now - c->progress) > s->lim.stall_s;

	s->st->seen++;
	if (!(c->own & KG_OWN_DYING) && idle <= s->lim.idle_s && !stalled &&
	    !(c->rclosed && idle > s->lim.closed_s))
		return 0;
	memcpy(s->pkt + ETH_HLEN + sizeof(struct kg_sweep_req) + s->n * sizeof(*k), k,
	       sizeof(*k));
	if (++s->n == KG_SWEEP_KEYS)
		sweep_run(s);
	return 0;
}

/*
 * Entries of a map keyed by a flow key first (kg_pend, kg_flow_principals) whose
 * connection is gone: left by an end that raced a use, or by a connection whose responses
 * stopped being followed. Removed (a new connection on the same 5-tuple writes its own).
 */
static __u64 sweep_orphans(int fd, size_t key_size, int flows_fd)
{
	__u8 k[64], nk[64];
	struct kg_conn c;
	void *prev = NULL;
	__u64 n = 0;

	if (fd < 0 || key_size > sizeof(k))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, nk)) {
		memcpy(k, nk, key_size);
		prev = k;
		if (bpf_map_lookup_elem(flows_fd, k, &c) && errno == ENOENT &&
		    !bpf_map_delete_elem(fd, k))
			n++;
	}
	return n;
}

int kg_folds_sweep(int sweep_prog, bool all, __u64 *sent)
{
	/* the frame the test run wants, the request, no keys: as long as an IPv4 header at
	 * least (the test run refuses a shorter IPv4 frame) */
	__u8 pkt[ETH_HLEN + 20] = {0};
	struct kg_sweep_req rq = {.folds = all ? KG_SWEEP_FOLDS_ALL : KG_SWEEP_FOLDS_ENDED};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);

	pkt[12] = 0x08; /* an IPv4 ethertype: any frame the test run accepts */
	memcpy(pkt + ETH_HLEN, &rq, sizeof(rq));
	*sent = 0;
	_Static_assert(sizeof(rq) <= 20, "the request fits the frame");
	if (bpf_prog_test_run_opts(sweep_prog, &o))
		return -errno;
	*sent = o.retval;
	return 0;
}

int kg_flows_sweep(const struct kg_maps *m, int sweep_prog, const struct kg_sweep_limits *lim,
		   struct kg_sweep_stats *st)
{
	struct sweep *s = calloc(1, sizeof(*s));
	long long n;

	memset(st, 0, sizeof(*st));
	if (!s)
		return -ENOMEM;
	s->prog = sweep_prog;
	s->now = kg_flow_now();
	s->lim = *lim;
	s->st = st;
	s->pkt[12] = 0x08; /* an IPv4 ethertype: any frame the test run accepts */
	n = kg_flows_each(m->flows, sweep_one, s);
	sweep_run(s);
	free(s);
	st->orphans = sweep_orphans(m->pend, sizeof(struct kg_pend_key), m->flows) +
		      sweep_orphans(m->principals, sizeof(struct kg_flow_key), m->flows);
	return n < 0 ? (int)n : 0;
}
