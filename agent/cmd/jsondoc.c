// SPDX-License-Identifier: Apache-2.0
/*
 * -o json as one document (agent/cmd/cmd.h says the rule). Items are printed whole, each
 * ending in '\n', so an array comes out as
 *
 *   [{"iface":"eth0",...}
 *   ,{"iface":"eth1",...}
 *   ]
 *
 * which any JSON parser reads as one value, a line-oriented reader still sees one item a
 * line, and a stream (observe --follow, probe) stays valid up to its last complete item
 * until the closing bracket comes (on SIGINT/SIGTERM, or when the stream ends).
 */
#include <stdio.h>
#include <stdlib.h>

#include "agent/cmd/cmd.h"

enum shape {
	SHAPE_LINES, /* not declared: one value per line */
	SHAPE_ONE,
	SHAPE_LIST,
};

static struct {
	bool json, jsonl;
	enum shape shape;
	unsigned long n; /* items begun */
} doc;

/* From kg_opt_parse: what this command line asked for. */
void kg_json_mode(bool json, bool jsonl)
{
	doc.json = json;
	doc.jsonl = jsonl;
}

bool kg_json_on(void)
{
	return doc.json;
}

void kg_json_doc(bool list)
{
	doc.shape = list ? SHAPE_LIST : SHAPE_ONE;
}

void kg_json_item(void)
{
	if (!doc.json)
		return;
	if (doc.shape == SHAPE_ONE && doc.n) {
		/* a command that declared one value printed a second: never valid JSON */
		fprintf(stderr, "kgate: internal error: a second JSON value in a one-value document\n");
		abort();
	}
	if (doc.shape == SHAPE_LIST && !doc.jsonl)
		fputc(doc.n ? ',' : '[', stdout);
	doc.n++;
}

void kg_json_doc_end(void)
{
	if (doc.json && !doc.jsonl && doc.shape == SHAPE_LIST)
		fputs(doc.n ? "]\n" : "[]\n", stdout);
	fflush(stdout);
}
