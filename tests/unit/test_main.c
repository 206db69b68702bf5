// SPDX-License-Identifier: Apache-2.0
/* CUnit runner for the unit tests: exits non-zero when any assertion fails. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "tests/lib/cu_run.h"

int register_decode_tests(void);
int register_policy_tests(void);
int register_policy_yaml_tests(void);
int register_policy_lint_tests(void);
int register_policy_eval_tests(void);
int register_audit_tests(void);
int register_codec_tests(void);
int register_events_tests(void);
int register_lifecycle_tests(void);

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (register_decode_tests() || register_policy_tests() ||
	    register_policy_yaml_tests() || register_policy_lint_tests() ||
	    register_policy_eval_tests() || register_audit_tests() || register_codec_tests() ||
	    register_events_tests() || register_lifecycle_tests()) {
		fprintf(stderr, "test registration failed\n");
		CU_cleanup_registry();
		return 2;
	}
	return cu_run();
}
