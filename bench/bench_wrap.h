/* SPDX-License-Identifier: Apache-2.0 */
/* What bench_wrap.bpf.c puts back before each repeated run (kg_bench_state[0]). */
#ifndef KGATE_BENCH_WRAP_H
#define KGATE_BENCH_WRAP_H

#include "../maps/kgate_maps.h"

struct kg_bench_state {
	struct kg_flow_key key;
	struct kg_conn conn; /* the connection's small entry */
	struct kg_flow flow; /* its pool slot's state, when conn names one */
};

_Static_assert(sizeof(struct kg_flow) % 8 == 0, "the flow is copied a word at a time");

#endif
