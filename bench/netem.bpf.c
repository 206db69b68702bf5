// SPDX-License-Identifier: Apache-2.0
/*
 * netem: loss and reordering for the benchmark's rig, where this kernel has no sch_netem.
 * On the router's broker-facing interface (TC egress), TCP segments with data from one
 * client address to the listener port are dropped with probability drop_ppm, or with
 * probability reorder_ppm sent round a veth loop in the router's namespace (out of
 * loop_ifindex, back in at its peer, where netem_back sends them out of out_ifindex
 * again): a segment that takes the loop waits one pass of the backlog queue, and the
 * segments forwarded meanwhile overtake it. Loaded by bench/netem.c.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* skb->mark of a segment on its way round the loop: it passes the second time. */
#define NETEM_MARK 0x6e65

const volatile __u32 saddr;	/* the client whose segments suffer (network order) */
const volatile __u16 dport;	/* the listener port, host order */
const volatile __u32 drop_ppm;
const volatile __u32 reorder_ppm;
const volatile __u32 loop_ifindex;
const volatile __u32 out_ifindex;

/* [0] segments seen, [1] dropped, [2] sent round the loop */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} netem_counts SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&netem_counts, &i);

	if (c)
		(*c)++;
}

SEC("tc")
int netem(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;
	__u32 r;

	if (skb->mark == NETEM_MARK) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP || ip->saddr != saddr || ip->ihl != 5)
		return TC_ACT_OK;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > end || tcp->dest != bpf_htons(dport))
		return TC_ACT_OK;
	/* only segments with data: a lost SYN or bare ACK is not what this is about */
	if (bpf_ntohs(ip->tot_len) <= sizeof(*ip) + tcp->doff * 4)
		return TC_ACT_OK;
	count(0);
	r = bpf_get_prandom_u32() % 1000000;
	if (r < drop_ppm) {
		count(1);
		return TC_ACT_SHOT;
	}
	if (r < drop_ppm + reorder_ppm) {
		count(2);
		skb->mark = NETEM_MARK;
		return bpf_redirect(loop_ifindex, 0);
	}
	return TC_ACT_OK;
}

/* TC ingress of the loop's far end: back out of the broker-facing interface. */
SEC("tc")
int netem_back(struct __sk_buff *skb)
{
	if (skb->mark != NETEM_MARK)
		return TC_ACT_SHOT; /* nothing else belongs on the loop */
	return bpf_redirect(out_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
