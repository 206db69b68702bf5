// SPDX-License-Identifier: Apache-2.0
/*
 * xdp_pass: does nothing but XDP_PASS. Attached (native) where kgate would be, it shows
 * what XDP itself costs on an interface (a veth takes another receive path once a
 * program is attached), so the benchmark can tell that apart from kgate's own cost.
 * Frags-aware like kgate_xdp, so both take the same path for multi-buffer frames.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
