/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy language: a YAML file (README "Policy language") read with libyaml into a
 * struct kg_policy, every item with its source position so that kg_compile's errors
 * point at the line and column that caused them.
 */
#ifndef KGATE_POLICY_YAML_H
#define KGATE_POLICY_YAML_H

#include <stddef.h>

#include "agent/policy/policy.h"

/* Largest policy file read (bytes). */
#define KG_POLICY_FILE_MAX (64u << 20)

/*
 * Loads the policy file path into out (initialized here; the caller frees it with
 * kg_policy_free, also after an error). Returns 0, or -1 with err = "LINE:COL: message"
 * (1-based; the caller prefixes the file name), or "0:0: message" when the file cannot be
 * read. Checks the schema: unknown or repeated
 * keys, wrong types, bad CIDRs, unknown actions / operations / modes, malformed audit,
 * duplicate rule and region names, lengths and counts over the limits, YAML syntax.
 * What only the compiled whole can tell (topic patterns, undefined regions, the map
 * limits) is kg_compile's to report.
 */
int kg_policy_load_yaml(const char *path, struct kg_policy *out, char *err, size_t errlen);

/* The same, from a buffer (the tests and a fuzzer). */
int kg_policy_parse_yaml(const char *buf, size_t len, struct kg_policy *out, char *err,
			 size_t errlen);

#endif /* KGATE_POLICY_YAML_H */
