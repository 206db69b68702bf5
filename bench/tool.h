/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every benchmark tool in bench/ does the same way: stop cleanly on SIGTERM or
 * SIGINT (bench/run.sh ends runs with a signal and still wants their JSON line), and read
 * a monotonic clock in seconds.
 */
#ifndef KGATE_BENCH_TOOL_H
#define KGATE_BENCH_TOOL_H

#include <signal.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void tool_on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT set stop (no SA_RESTART: a blocking call returns); SIGPIPE ignored. */
static inline void tool_signals(void)
{
	struct sigaction sa = {.sa_handler = tool_on_signal};

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
