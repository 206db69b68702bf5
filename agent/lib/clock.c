// SPDX-License-Identifier: Apache-2.0
/* The agent's one clock (agent/lib/lib.h). */
#include <time.h>

#include "agent/lib/lib.h"

static __u64 ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__u64 kg_mono_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

__u64 kg_now_ms(void)
{
	return kg_mono_ns() / 1000000;
}

__u64 kg_wall_now_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}

__u64 kg_mono_to_wall(__u64 mono_ns)
{
	__u64 now_wall = kg_wall_now_ns(), now_mono = kg_mono_ns();

	/* an event is never from the future; a clock step backwards must not wrap */
	if (mono_ns > now_mono)
		mono_ns = now_mono;
	return now_wall > now_mono - mono_ns ? now_wall - (now_mono - mono_ns) : 0;
}
