// SPDX-License-Identifier: Apache-2.0
/* kgate_xdp: client->broker enforcement at XDP (native or generic); see ingress.h. */
#include "ctx_xdp.h"
#include "ingress.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp.frags")
int kgate_xdp(struct xdp_md *ctx)
{
	return kg_ingress(ctx);
}
