// SPDX-License-Identifier: Apache-2.0
/*
 * kgate_tc_ingress: the same client->broker enforcement at TC ingress, for interfaces
 * where XDP cannot attach (see ingress.h; what an skb does its own way is in
 * ctx_skb.h). Verdicts are TC_ACT_OK, TC_ACT_SHOT and a redirect to the quarantine
 * ifindex of the active config.
 */
#include "ctx_skb.h"
#include "ingress.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Bytes from the frame start that kg_parse reads in place: L2, IP(v6 + ext), TCP. */
#define KG_HDR_PULL 256

SEC("tc")
int kgate_tc_ingress(struct __sk_buff *skb)
{
	__u32 linear = skb->data_end - skb->data;

	/* headers that cannot be made linear cannot be read: dropped, never passed */
	if (linear < KG_HDR_PULL && skb->len > linear &&
	    bpf_skb_pull_data(skb, skb->len < KG_HDR_PULL ? skb->len : KG_HDR_PULL))
		return TC_ACT_SHOT;
	return kg_ingress(skb);
}
