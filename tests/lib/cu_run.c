// SPDX-License-Identifier: Apache-2.0
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cu_run.h"

int cu_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
	     const struct cu_test *tests, size_t n)
{
	CU_pSuite s = CU_add_suite(name, init, clean);

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}

int cu_run(void)
{
	unsigned int failed;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

int cu_tmpdir(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/kgate-test-%s.XXXXXX", name);
	return mkdtemp(dir) ? 0 : -1;
}

int cu_tmpdir_remove(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}
