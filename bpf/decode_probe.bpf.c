// SPDX-License-Identifier: Apache-2.0
/*
 * decode_probe: the smallest XDP program that runs the Kafka stream decoder on
 * real packets. It proves the decoder passes this kernel's verifier and lets the
 * tests compare the in-kernel decoder with the host build on the same streams
 * (tests/bpf/test_bpf.c). It decides nothing and always passes packets.
 *
 * Per flow (IPv4/IPv6 TCP to listen_port) it keeps a kd_state and reports every
 * decoder event to a ring buffer. It assumes in-order segments: in-order
 * normalization belongs to the datapath (bpf/kgate_xdp.bpf.c).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KD_CTX struct xdp_md *
#define KD_LOAD(ctx, s, off, dst, len) bpf_xdp_load_bytes((ctx), (off), (dst), (len))
#include "kafka_decode.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set through the skeleton's rodata before load. */
const volatile __u16 listen_port = 9092;

struct probe_flow_key {
	__u8 saddr[16];
	__u16 sport;
	__u16 pad;
};

struct probe_flow {
	__u32 seq;
	__u32 pad;
	struct kd_state st;
};

/* Flows being decoded. Full -> the oldest flow's state is dropped (LRU). */
#define PROBE_MAX_FLOWS 1024

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_MAX_FLOWS);
	__type(key, struct probe_flow_key);
	__type(value, struct probe_flow);
} probe_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} probe_events SEC(".maps");

/* [0] events lost because the ring buffer was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} probe_lost SEC(".maps");

/* An all-zero probe_flow, the template for new flows; never written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_flow);
} probe_zero SEC(".maps");

struct probe_loop {
	struct xdp_md *ctx;
	struct kd_src src;
	struct probe_flow *flow;
	int last;
};

static __always_inline void probe_report(struct probe_flow *f, int ev)
{
	struct kd_state *st = &f->st;
	struct kd_probe_event *e;
	__u32 zero = 0;
	__u64 *lost;

	e = bpf_ringbuf_reserve(&probe_events, sizeof(*e), 0);
	if (!e) {
		lost = bpf_map_lookup_elem(&probe_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return;
	}
	e->seq = f->seq++;
	e->ev = ev;
	e->reason = st->reason;
	e->tkind = st->tkind;
	e->client_id_len = st->client_id_len;
	e->client_id_null = st->client_id_null;
	e->client_id_full = st->client_id_full;
	e->api_key = st->api_key;
	e->api_version = st->api_version;
	e->corr = st->corr;
	e->frame_size = st->frame_size;
	e->name_len = st->name_len;
	e->user_len = st->user_len;
	e->mech_len = st->mech_len;
	e->flags = st->flags;
	e->uflags = st->uflags;
	e->phase = st->phase;
	e->tset = st->tset;
	e->rtype = st->rtype;
	e->sess_id = st->sess_id;
	e->sess_epoch = st->sess_epoch;
	__builtin_memcpy(e->uuid, st->uuid, sizeof(e->uuid));
	__builtin_memcpy(e->client_id, st->client_id, sizeof(e->client_id));
	/* events fall between tokens: the user buffer holds a reported name or zeroes */
	__builtin_memcpy(e->user, st->user, sizeof(e->user));
	__builtin_memcpy(e->mech_name, st->mech_name, sizeof(e->mech_name));
	__builtin_memcpy(e->name, st->name, sizeof(e->name));
	bpf_ringbuf_submit(e, 0);
}

static long probe_step(__u32 i, void *data)
{
	struct probe_loop *lp = data;
	struct probe_flow *f = lp->flow;
	int ev;

	ev = kd_step(lp->ctx, &f->st, &lp->src);
	lp->last = ev;
	if (ev == KD_EV_CONTINUE)
		return 0;
	if (ev == KD_EV_NEED_MORE)
		return 1;
	probe_report(f, ev);
	/* after an undecodable frame, decoding resumes at the next one */
	return ev == KD_EV_ERROR && f->st.phase == KD_PH_DEAD;
}

SEC("xdp")
int decode_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct probe_flow_key key = {};
	struct probe_loop lp = {};
	struct probe_flow *f;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;
	__u32 l4, payload;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	l4 = sizeof(*eth);
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		__builtin_memcpy(key.saddr, &ip->saddr, 4);
		l4 += ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		__builtin_memcpy(key.saddr, &ip6->saddr, 16);
		l4 += sizeof(*ip6);
	} else {
		return XDP_PASS;
	}
	if (l4 > 128)
		return XDP_PASS;
	tcp = data + l4;
	if ((void *)(tcp + 1) > data_end || tcp->dest != bpf_htons(listen_port))
		return XDP_PASS;
	key.sport = tcp->source;
	payload = l4 + tcp->doff * 4;

	f = bpf_map_lookup_elem(&probe_flows, &key);
	if (!f || tcp->syn) {
		/* A new flow starts from zeroes; kd_state is too large for the stack. */
		__u32 zero = 0;
		struct probe_flow *fresh = bpf_map_lookup_elem(&probe_zero, &zero);

		if (!fresh)
			return XDP_PASS;
		bpf_map_update_elem(&probe_flows, &key, fresh, BPF_ANY);
		f = bpf_map_lookup_elem(&probe_flows, &key);
		if (!f)
			return XDP_PASS;
	}
	lp.flow = f;
	lp.ctx = ctx;
	lp.src.off = payload;
	lp.src.end = bpf_xdp_get_buff_len(ctx);
	if (lp.src.off >= lp.src.end)
		return XDP_PASS;
	lp.last = KD_EV_CONTINUE;
	bpf_loop(KD_STEPS_FOR(lp.src.end - lp.src.off), probe_step, &lp, 0);
	if (lp.last != KD_EV_NEED_MORE && !(lp.last == KD_EV_ERROR && f->st.phase == KD_PH_DEAD)) {
		kd_fatal(&f->st, KD_ERR_BOUND);
		probe_report(f, KD_EV_ERROR);
	}
	return XDP_PASS;
}
