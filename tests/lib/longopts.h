/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The long options of a test or benchmark tool (bench/kprod.c, tests/agent/audit_driver.c)
 * as a table: each --name VALUE (or --name=VALUE; a prefix naming one option is enough, as
 * getopt_long reads them) into its variable, converted by its kind. Header-only: the
 * tools are built from one source each, or beside libkgate.
 */
#ifndef KGATE_TESTS_LONGOPTS_H
#define KGATE_TESTS_LONGOPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>

enum lopt_kind {
	LOPT_STR,    /* const char * */
	LOPT_DOUBLE, /* double (atof) */
	LOPT_SIZE,   /* size_t (strtoul) */
	LOPT_ULL,    /* unsigned long long, or __u64 (strtoull) */
};

struct lopt {
	const char *name;
	enum lopt_kind kind;
	void *dst;
};

/* Past the characters getopt_long returns for itself, so no option's value is one of them. */
#define LOPT_VAL0 256

/* Reads argv by the n options: 0, or -1 after getopt_long's message on an option that is
 * not one of them or lacks its value. */
static inline int lopt_parse(const struct lopt *opts, size_t n, int argc, char **argv)
{
	struct option lo[n + 1];
	int c;

	for (size_t i = 0; i < n; i++)
		lo[i] = (struct option){opts[i].name, required_argument, NULL, LOPT_VAL0 + (int)i};
	lo[n] = (struct option){0};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		const struct lopt *o;

		if (c < LOPT_VAL0 || c >= LOPT_VAL0 + (int)n)
			return -1;
		o = &opts[c - LOPT_VAL0];
		switch (o->kind) {
		case LOPT_STR:
			*(const char **)o->dst = optarg;
			break;
		case LOPT_DOUBLE:
			*(double *)o->dst = atof(optarg);
			break;
		case LOPT_SIZE:
			*(size_t *)o->dst = strtoul(optarg, NULL, 10);
			break;
		case LOPT_ULL:
			*(unsigned long long *)o->dst = strtoull(optarg, NULL, 10);
			break;
		}
	}
	return 0;
}

#endif
