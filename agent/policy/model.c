// SPDX-License-Identifier: Apache-2.0
/* The policy in memory, as a loader or a test builds it (agent/policy/policy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lib/lib.h"
#include "agent/policy/policy.h"

void kg_policy_init(struct kg_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->default_action = KG_ACT_ALLOW;
	p->unknown_id_action = KG_ACT_ALLOW;
	p->mode = KG_MODE_ENFORCE;
	p->fold_window_ms = KG_FOLD_WINDOW_MS;
	p->budget = KG_FLOW_BUDGET;
}

static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void kg_policy_free(struct kg_policy *p)
{
	for (int i = 0; i < p->nrules; i++) {
		struct kg_prule *r = &p->rules[i];

		strv_free(r->topics, r->ntopics);
		strv_free(r->principals, r->nprincipals);
		strv_free(r->client_ids, r->nclient_ids);
		strv_free(r->regions, r->nregions);
		strv_free(r->regions_not, r->nregions_not);
		free(r->topics_pos);
		free(r->principals_pos);
		free(r->client_ids_pos);
		free(r->regions_pos);
		free(r->regions_not_pos);
	}
	for (int i = 0; i < p->nregions; i++)
		free(p->regions[i].cidrs);
	for (int i = 0; i < p->nidentities; i++)
		free(p->identities[i].cidrs);
	free(p->rules);
	free(p->regions);
	free(p->identities);
	memset(p, 0, sizeof(*p));
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Appends an element to the array arr of count n: zeroed, with its name (in its field
 * namef) and its position, as each of the model's named elements begins. The element, or
 * NULL when out of memory (the array kept).
 */
#define ADD_NAMED(arr, n, namef, name, line, col)                                                  \
	({                                                                                         \
		__typeof__(arr) v_ = kg_grow(arr, n, sizeof(*v_));                                 \
		if (v_) {                                                                          \
			arr = v_;                                                                  \
			v_ = &arr[n++];                                                            \
			memset(v_, 0, sizeof(*v_));                                                \
			copy_name(v_->namef, sizeof(v_->namef), name);                             \
			v_->pos = (struct kg_pos){ line, col };                                    \
		}                                                                                  \
		v_;                                                                                \
	})

struct kg_prule *kg_policy_add_rule(struct kg_policy *p, const char *name, int line, int col)
{
	return ADD_NAMED(p->rules, p->nrules, name, name, line, col);
}

struct kg_pregion *kg_policy_add_region(struct kg_policy *p, const char *name, int line, int col)
{
	return ADD_NAMED(p->regions, p->nregions, name, name, line, col);
}

struct kg_pidentity *kg_policy_add_identity(struct kg_policy *p, const char *principal, int line,
					    int col)
{
	return ADD_NAMED(p->identities, p->nidentities, principal, principal, line, col);
}

int kg_strv_push(char ***v, int *n, const char *s)
{
	char **nv = kg_grow(*v, *n, sizeof(*nv));
	char *copy;

	if (!nv)
		return -1;
	*v = nv;
	copy = strdup(s);
	if (!copy)
		return -1;
	nv[(*n)++] = copy;
	return 0;
}

int kg_cidr_parse(const char *s, struct kg_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	char *end;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->family = 6;
	else
		return -1;
	if (!slash) {
		out->prefix = out->family == 4 ? 32 : 128;
		return 0;
	}
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end || prefix > (out->family == 4 ? 32u : 128u))
		return -1;
	out->prefix = (__u8)prefix;
	return 0;
}

int kg_cidrs_push(struct kg_cidr **v, int *n, const char *text, int line, int col)
{
	struct kg_cidr c, *nv;

	if (kg_cidr_parse(text, &c))
		return -1;
	nv = kg_grow(*v, *n, sizeof(*nv));
	if (!nv)
		return -1;
	*v = nv;
	c.pos = (struct kg_pos){ line, col };
	nv[(*n)++] = c;
	return 0;
}
