/* SPDX-License-Identifier: Apache-2.0 */
/* The end of every CUnit test binary's main (tests/unit, tests/bpf). */
#ifndef KGATE_TESTS_CU_RUN_H
#define KGATE_TESTS_CU_RUN_H

#include <stddef.h>

/*
 * Runs every registered suite, verbose, and frees the registry. Returns the exit status:
 * 0 when every assertion, test and suite setup passed, else 1.
 */
int cu_run(void);

/* A suite's own directory, /tmp/kgate-test-NAME.XXXXXX made anew into dir: 0 or -1. */
int cu_tmpdir(char *dir, size_t len, const char *name);
/* ... removed with everything in it, at the suite's end: 0 or -1. */
int cu_tmpdir_remove(const char *dir);

#endif
