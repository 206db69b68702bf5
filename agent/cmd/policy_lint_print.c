// SPDX-License-Identifier: Apache-2.0
/*
 * How `kgate policy check` shows the linter's findings (agent/policy/lint.c): as
 * FILE:LINE:COL lines on stderr, like the loader's and the compiler's errors, and as a
 * "lint" list in the file's JSON object.
 */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/lint.h"

static const char *const levels[] = {
	[KG_LINT_ERROR] = "error", [KG_LINT_WARNING] = "warning", [KG_LINT_NOTE] = "note"};

void kg_lint_print_text(FILE *f, const char *path, const struct kg_lint *l)
{
	for (int i = 0; i < l->n; i++) {
		const struct kg_lint_item *it = &l->items[i];

		/* errors read as the loader's ("FILE:LINE:COL: message"); the rest say what */
		fprintf(f, "%s:%d:%d: %s%s%s [%s]\n", path, it->pos.line, it->pos.col,
			it->level == KG_LINT_ERROR ? "" : levels[it->level],
			it->level == KG_LINT_ERROR ? "" : ": ", it->msg,
			kg_lint_code_names[it->code]);
	}
}

void kg_lint_print_json(FILE *f, const struct kg_lint *l)
{
	fputc('[', f);
	for (int i = 0; i < l->n; i++) {
		const struct kg_lint_item *it = &l->items[i];

		fprintf(f, "%s{\"level\":\"%s\",\"code\":\"%s\",\"line\":%d,\"col\":%d,\"message\":",
			i ? "," : "", levels[it->level], kg_lint_code_names[it->code], it->pos.line,
			it->pos.col);
		kg_json_fput(f, it->msg);
		fputc('}', f);
	}
	fputc(']', f);
}
