// SPDX-License-Identifier: Apache-2.0
/* The pin root, state and run directories, each overridable (agent/lib/lib.h). */
#include <stdlib.h>

#include "agent/lib/lib.h"

static const char *env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v && *v ? v : def;
}

const char *kg_pin_root(void)
{
	return env_or("KGATE_PIN_ROOT", KG_PIN_ROOT);
}

const char *kg_state_dir(void)
{
	return env_or("KGATE_STATE_DIR", KG_STATE_DIR);
}

const char *kg_run_dir(void)
{
	return env_or("KGATE_RUN_DIR", KG_RUN_DIR);
}
