/* SPDX-License-Identifier: Apache-2.0 */
/* The linter's findings as `kgate policy check` prints them (agent/policy_lint_cmd.c). */
#ifndef KGATE_POLICY_LINT_CMD_H
#define KGATE_POLICY_LINT_CMD_H

#include <stdio.h>

#include "agent/policy_lint.h"

/* One line per finding: "PATH:LINE:COL: [warning: |note: ]message [code]". */
void kg_lint_print_text(FILE *f, const char *path, const struct kg_lint *l);
/* The findings as a JSON array of {level, code, line, col, message}. */
void kg_lint_print_json(FILE *f, const struct kg_lint *l);

#endif /* KGATE_POLICY_LINT_CMD_H */
