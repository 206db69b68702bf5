/* SPDX-License-Identifier: Apache-2.0 */
/* The end of every CUnit test binary's main (tests/unit, tests/bpf). */
#ifndef KGATE_TESTS_CU_RUN_H
#define KGATE_TESTS_CU_RUN_H

#include <stddef.h>

#include <CUnit/CUnit.h>

/* One test of a suite: what it proves, and the function that proves it. */
struct cu_test {
	const char *name;
	CU_TestFunc fn;
};

/*
 * Adds the suite name (init, clean: CUnit's, or NULL) with its n tests, in order: 0, or -1
 * when CUnit could not add one. CU_SUITE takes the tests as an array.
 */
int cu_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
	     const struct cu_test *tests, size_t n);
#define CU_SUITE(name, init, clean, tests)                                                         \
	cu_suite(name, init, clean, tests, sizeof(tests) / sizeof(tests[0]))

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
