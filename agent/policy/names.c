// SPDX-License-Identifier: Apache-2.0
/*
 * The names cache (agent/policy/store.h): the stored policy of a version id, loaded and
 * compiled once, so that an event's ids (rule, region, principal) get their names.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/lib/lib.h"
#include "agent/policy/store.h"

/* ---- the names cache ------------------------------------------------------------------- */

/* Stored policies kept compiled; events name few versions at a time (old and new). */
#define KG_NAMES_SLOTS 8
/* Ids the store does not have, remembered so that an event storm does not rescan it. */
#define KG_NAMES_MISSES 8
/* A missing id is looked for again after this long (an apply may be writing it). */
#define KG_NAMES_MISS_RETRY_US 1e6

struct kg_names_cache {
	pthread_mutex_t mu;
	struct kg_stored_policy *slot[KG_NAMES_SLOTS];
	unsigned next;
	struct {
		__u32 id;
		double at;
	} miss[KG_NAMES_MISSES];
	unsigned next_miss;
};

struct kg_names_cache *kg_names_cache_new(void)
{
	struct kg_names_cache *nc = calloc(1, sizeof(*nc));

	if (nc)
		pthread_mutex_init(&nc->mu, NULL);
	return nc;
}

static void stored_free(struct kg_stored_policy *sp)
{
	if (!sp)
		return;
	kg_policy_free(&sp->p);
	kg_compiled_free(&sp->c);
	free(sp);
}

void kg_names_cache_free(struct kg_names_cache *nc)
{
	if (!nc)
		return;
	for (int i = 0; i < KG_NAMES_SLOTS; i++)
		stored_free(nc->slot[i]);
	pthread_mutex_destroy(&nc->mu);
	free(nc);
}

static struct kg_stored_policy *load_stored(__u32 id)
{
	DIR *d = opendir(kg_state_dir());
	struct kg_stored_policy *sp = NULL;
	struct kg_policy_file f;
	struct dirent *de;
	char path[600], err[512];

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		kg_store_path(de->d_name, id, "yaml", path, sizeof(path));
		if (access(path, R_OK))
			continue;
		/* applied already (perhaps by an older kgate): read for its names, not judged */
		if (kg_policy_file_load_unjudged(&f, path, err, sizeof(err))) {
			kg_policy_file_free(&f);
			continue;
		}
		sp = calloc(1, sizeof(*sp));
		if (!sp) {
			kg_policy_file_free(&f);
			break;
		}
		sp->id = id;
		snprintf(sp->path, sizeof(sp->path), "%s", path);
		sp->p = f.p; /* moved out of f */
		sp->c = f.c;
		free(f.text);
		break;
	}
	closedir(d);
	return sp;
}

static const struct kg_stored_policy *lookup_locked(struct kg_names_cache *nc, __u32 id)
{
	struct kg_stored_policy *sp;
	double now;

	if (!id)
		return NULL;
	for (int i = 0; i < KG_NAMES_SLOTS; i++)
		if (nc->slot[i] && nc->slot[i]->id == id)
			return nc->slot[i];
	/* the clock only for a version not loaded: a hit is every event's path */
	now = kg_mono_ns() / 1e3;
	for (int i = 0; i < KG_NAMES_MISSES; i++)
		if (nc->miss[i].id == id && now - nc->miss[i].at < KG_NAMES_MISS_RETRY_US)
			return NULL;
	sp = load_stored(id);
	if (!sp) {
		nc->miss[nc->next_miss % KG_NAMES_MISSES].id = id;
		nc->miss[nc->next_miss % KG_NAMES_MISSES].at = now;
		nc->next_miss++;
		return NULL;
	}
	/* round robin: the slot replaced is the one filled longest ago */
	stored_free(nc->slot[nc->next % KG_NAMES_SLOTS]);
	nc->slot[nc->next++ % KG_NAMES_SLOTS] = sp;
	return sp;
}

const struct kg_stored_policy *kg_names_lookup(struct kg_names_cache *nc, __u32 version_id)
{
	const struct kg_stored_policy *sp;

	pthread_mutex_lock(&nc->mu);
	sp = lookup_locked(nc, version_id);
	pthread_mutex_unlock(&nc->mu);
	return sp;
}

/* s into out[cap] (cut, NUL-terminated): what snprintf("%s") would write, at memcpy's cost
 * (per event, per name). */
static void copy_name(char *out, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);

	memcpy(out, s, n);
	out[n] = 0;
}

void kg_names_resolve(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	struct kg_names_cache *nc = ctx;
	const struct kg_stored_policy *sp;

	memset(out, 0, sizeof(*out));
	if (ev->principal_len) {
		size_t n = ev->principal_len < KD_USER_MAX ? ev->principal_len : KD_USER_MAX;

		memcpy(out->principal, ev->principal, n);
	}
	if (!nc)
		return;
	pthread_mutex_lock(&nc->mu);
	sp = lookup_locked(nc, ev->version_id);
	if (sp) {
		copy_name(out->policy_version, sizeof(out->policy_version), sp->p.version);
		out->allow_sample = sp->p.audit_allow;
		if (ev->rule_id != ~0u && ev->rule_id < (__u32)sp->p.nrules)
			copy_name(out->rule, sizeof(out->rule), sp->p.rules[ev->rule_id].name);
		if (ev->region_id < KG_MAX_REGIONS && ev->region_id != KG_REGION_NONE)
			copy_name(out->region, sizeof(out->region),
				  sp->c.region_names[ev->region_id]);
		if (!ev->principal_len && ev->principal_id < KG_MAX_PRINCIPALS)
			copy_name(out->principal, sizeof(out->principal),
				  sp->c.principal_names[ev->principal_id]);
	}
	pthread_mutex_unlock(&nc->mu);
}
