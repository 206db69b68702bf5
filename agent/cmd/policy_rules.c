// SPDX-License-Identifier: Apache-2.0
/* A rule as `kgate policy show` prints it and `kgate policy diff` compares it. */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/lib/lib.h"
#include "agent/policy/policy.h"

/* A list: " key=a,b" (nothing when empty: any), or ,"key":["a","b"] */
static void list_print(FILE *o, const char *key, char *const *v, int n, bool json)
{
	if (!json && !n)
		return;
	fprintf(o, json ? ",\"%s\":[" : " %s=", key);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', o);
		if (json)
			kg_json_fput(o, v[i]);
		else
			fputs(v[i], o);
	}
	if (json)
		fputc(']', o);
}

void kg_policy_rule_print(FILE *o, const struct kg_prule *r, bool json)
{
	const char *ops[KG_OP__COUNT];
	int nops = 0;

	for (int i = 0; i < KG_OP__COUNT; i++)
		if (r->ops & (1u << i))
			ops[nops++] = kg_op_names[i];
	/* '<' is in no topic name: `topics: none` is never read as a topic named none */
	if (!json && r->topics_none)
		fputs(" topics=<none>", o);
	list_print(o, "topics", r->topics, r->ntopics, json);
	if (json)
		fprintf(o, ",\"topics_none\":%s", r->topics_none ? "true" : "false");
	list_print(o, "principals", r->principals, r->nprincipals, json);
	list_print(o, "client_ids", r->client_ids, r->nclient_ids, json);
	list_print(o, "operations", (char *const *)ops, nops, json);
	list_print(o, "regions", r->regions, r->nregions, json);
	list_print(o, "regions_not", r->regions_not, r->nregions_not, json);
	if (json)
		fprintf(o, ",\"action\":\"%s\",\"audit\":%s}", kg_action_name(r->action),
			r->audit ? "true" : "false");
	else
		fprintf(o, " -> %s%s", kg_action_name(r->action), r->audit ? " (audit only)" : "");
}
