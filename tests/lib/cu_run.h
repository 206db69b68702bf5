/* SPDX-License-Identifier: Apache-2.0 */
/* The end of every CUnit test binary's main (tests/unit, tests/bpf). */
#ifndef KGATE_TESTS_CU_RUN_H
#define KGATE_TESTS_CU_RUN_H

/*
 * Runs every registered suite, verbose, and frees the registry. Returns the exit status:
 * 0 when every assertion, test and suite setup passed, else 1.
 */
int cu_run(void);

#endif
