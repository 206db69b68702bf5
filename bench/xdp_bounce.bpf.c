// SPDX-License-Identifier: Apache-2.0
/*
 * xdp_bounce: sends every frame on to the interface in bounce_to[0] with XDP_REDIRECT.
 * The L3 drop benchmark (bench/run.sh l3) puts it between the SYN generator and the
 * interface under test, so that interface receives XDP frames from another veth, as a
 * NIC driver hands them to XDP (no socket buffer yet), not the socket buffers that
 * AF_PACKET makes: XDP on a veth would otherwise first copy each one into a page.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bounce_to SEC(".maps");

SEC("xdp")
int xdp_bounce(struct xdp_md *ctx)
{
	(void)ctx;
	return bpf_redirect_map(&bounce_to, 0, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
