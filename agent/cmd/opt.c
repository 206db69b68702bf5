// SPDX-License-Identifier: Apache-2.0
/*
 * Options as data (agent/cmd/cmd.h): one table per command gives the parser and the help.
 * The shape follows xdp-tools' DEFINE_OPTION tables; the code is ours.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"

const char *const kg_output_text_json[] = {"text", "json", NULL};

/* Help lines are wrapped to this width; an option's text starts at most this far in. */
#define HELP_WIDTH 80
#define HELP_COLUMN_MAX 30
/* More optional options than this and the usage line says [options] for them. */
#define SYNOPSIS_OPTIONS_MAX 8

bool kg_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int kg_usage_error(const struct kg_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kgate %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'kgate %s --help')\n", cmd->name);
	return 2;
}

bool kg_opt_takes_value(const struct kg_opt *o)
{
	return o->kind != KG_OPT_FLAG && o->kind != KG_OPT_JSONL;
}

bool kg_opt_positional(const struct kg_opt *o)
{
	return o->kind == KG_OPT_ARG || o->kind == KG_OPT_ARGS;
}


/* "a|b|c" of a choice list into buf. */
static const char *choices_bar(const struct kg_opt *o, char *buf, size_t len, const char *sep,
			       const char *last_sep)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; o->choices[i]; i++)
		n += snprintf(buf + n, len > n ? len - n : 0, "%s%s",
			      !i ? "" : o->choices[i + 1] ? sep : last_sep, o->choices[i]);
	return buf;
}

const char *kg_opt_metavar(const struct kg_opt *o, char *buf, size_t len)
{
	if (o->metavar)
		return o->metavar;
	if (o->kind == KG_OPT_CHOICE)
		return choices_bar(o, buf, len, "|", "|");
	return "";
}

/* ---- parsing ---------------------------------------------------------------------------- */

#define FIELD(args, off, type) ((type *)((char *)(args) + (off)))

static int store(const struct kg_cmd *cmd, const struct kg_opt *o, const char *spelled,
		 const char *v, void *args)
{
	char buf[256];
	char *end;

	switch (o->kind) {
	case KG_OPT_FLAG:
		*FIELD(args, o->off, bool) = true;
		return 0;
	case KG_OPT_JSONL:
		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(o->choices[i], "json"))
				*FIELD(args, o->off, int) = i;
		return 0;
	case KG_OPT_STR:
		*FIELD(args, o->off, const char *) = v;
		return 0;
	case KG_OPT_LIST: {
		int *n = FIELD(args, o->count_off, int);
		const char **list = FIELD(args, o->off, const char *);

		if ((unsigned long)*n >= o->max)
			return kg_usage_error(cmd, "at most %lu %s", o->max, spelled);
		for (int i = 0; i < *n; i++)
			if (!strcmp(list[i], v))
				return kg_usage_error(cmd, "%s %s given twice", spelled, v);
		list[(*n)++] = v;
		return 0;
	}
	case KG_OPT_CHOICE:
		for (int i = 0; o->choices[i]; i++) {
			if (strcmp(o->choices[i], v))
				continue;
			*FIELD(args, o->off, int) = i;
			return 0;
		}
		return kg_usage_error(cmd, "%s: '%s' is not %s", spelled, v,
				      choices_bar(o, buf, sizeof(buf), ", ", " or "));
	case KG_OPT_UINT: {
		unsigned long x = strtoul(v, &end, 10);

		if (!*v || *end || *v == '-' || x < o->min || x > o->max)
			return kg_usage_error(cmd, "%s: '%s' is not a number from %lu to %lu",
					      spelled, v, o->min, o->max);
		*FIELD(args, o->off, unsigned long) = x;
		return 0;
	}
	case KG_OPT_DURATION: {
		__u64 ns;

		if (kg_parse_duration(v, &ns) || !ns)
			return kg_usage_error(cmd, "%s: '%s' is not a duration (e.g. 90s, 5m, 1h30m)",
					      spelled, v);
		*FIELD(args, o->off, __u64) = ns;
		return 0;
	}
	default:
		return 2;
	}
}

/*
 * The long option "--NAME" or "--NAME=VALUE" names: the one called NAME, else the one
 * NAME begins (when only one does). NULL after a message when none or several do.
 */
static const struct kg_opt *find_long(const struct kg_cmd *cmd, const char *a, size_t *namelen)
{
	const struct kg_opt *found = NULL;
	size_t n = strcspn(a + 2, "="), matches = 0;
	char names[256];
	size_t used = 0;

	*namelen = 2 + n;
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
		if (kg_opt_positional(o) || strncmp(a + 2, o->name, n))
			continue;
		if (strlen(o->name) == n)
			return o; /* exact: --iface even if there were an --iface-group */
		used += snprintf(names + used, used < sizeof(names) ? sizeof(names) - used : 0,
				 "%s--%s", matches ? ", " : "", o->name);
		matches++;
		found = o;
	}
	if (matches == 1 && n)
		return found;
	if (matches > 1)
		kg_usage_error(cmd, "option '%.*s' is ambiguous: %s", (int)(2 + n), a, names);
	else
		kg_usage_error(cmd, "unknown option '%.*s'", (int)(2 + n), a);
	return NULL;
}

static const struct kg_opt *find_short(const struct kg_cmd *cmd, char c)
{
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++)
		if (!kg_opt_positional(o) && o->short_name && o->short_name == c)
			return o;
	return NULL;
}

/*
 * After parsing: when the command has an output option, tells jsondoc.c whether this
 * command line asked for JSON, and as lines. --jsonl with -o other than json is refused.
 */
static int output_mode(const struct kg_cmd *cmd, void *args, bool jsonl)
{
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
		const char *v;

		if (o->kind != KG_OPT_CHOICE || strcmp(o->name, "output"))
			continue;
		v = o->choices[*FIELD(args, o->off, int)];
		if (jsonl && strcmp(v, "json"))
			return kg_usage_error(cmd, "--jsonl writes JSON: not with -o %s", v);
		kg_json_mode(!strcmp(v, "json"), jsonl);
	}
	return 0;
}

/* What kg_opt_parse keeps while it reads argv. */
struct parse {
	const struct kg_cmd *cmd;
	int argc, i; /* argv[i]: the word being read */
	char **argv;
	void *args;
	unsigned char count[KG_OPT_MAX]; /* occurrences of each table entry, for the once ones */
	bool jsonl;
};

/*
 * One occurrence of o, spelled as the user may read it ("--policy", "-o"): its value is
 * v (what followed '=', or a short option's letter) or else, when o takes one, the next
 * word of argv. Stored, counted, its given flag set.
 */
static int occurrence(struct parse *p, const struct kg_opt *o, const char *spelled, const char *v)
{
	unsigned char *count = &p->count[o - p->cmd->opts];
	int rc;

	if (!v && kg_opt_takes_value(o)) {
		if (p->i + 1 >= p->argc)
			return kg_usage_error(p->cmd, "option '%s' needs a value", spelled);
		v = p->argv[++p->i];
	}
	if (o->once && *count)
		return kg_usage_error(p->cmd, "%s given twice (it takes one value)", spelled);
	if ((rc = store(p->cmd, o, spelled, v, p->args)))
		return rc;
	if (*count < 255)
		(*count)++;
	if (o->given_at)
		*FIELD(p->args, o->given_at - 1, bool) = true;
	p->jsonl |= o->kind == KG_OPT_JSONL;
	return 0;
}

int kg_opt_parse(const struct kg_cmd *cmd, int argc, char **argv, void *args)
{
	struct parse p = {.cmd = cmd, .argc = argc, .argv = argv, .args = args};
	const struct kg_opt *o;
	bool only_args = false;
	int nargs = 0, rc, nopts = 0;

	while (cmd->opts && cmd->opts[nopts].name)
		nopts++;
	if (nopts > KG_OPT_MAX) {
		fprintf(stderr, "kgate %s: %d options, more than the parser's %d (KG_OPT_MAX)\n",
			cmd->name, nopts, KG_OPT_MAX);
		return 2;
	}
	for (p.i = 1; p.i < argc; p.i++) {
		const char *a = argv[p.i];
		char spelled[64];
		size_t n;

		if (!only_args && !strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		if (only_args || a[0] != '-' || !a[1]) {
			argv[1 + nargs++] = argv[p.i]; /* positionals, in order, at the front */
			continue;
		}
		if (a[1] == '-') {
			if (!(o = find_long(cmd, a, &n)))
				return 2;
			snprintf(spelled, sizeof(spelled), "--%s", o->name);
			if (a[n] == '=' && !kg_opt_takes_value(o))
				return kg_usage_error(cmd, "option '%s' takes no value", spelled);
			if ((rc = occurrence(&p, o, spelled, a[n] == '=' ? a + n + 1 : NULL)))
				return rc;
			continue;
		}
		/* short options, clustered: -f, -fo json, -fojson; the one with a value ends it */
		for (const char *c = a + 1; *c; c++) {
			o = find_short(cmd, *c);
			if (!o)
				return kg_usage_error(cmd, "unknown option '-%c'%s%s%s", *c,
						      c > a + 1 ? " (in '" : "", c > a + 1 ? a : "",
						      c > a + 1 ? "')" : "");
			snprintf(spelled, sizeof(spelled), "-%c", *c);
			/* -ojson: the rest of the word is the value */
			if ((rc = occurrence(&p, o, spelled,
					     kg_opt_takes_value(o) && c[1] ? c + 1 : NULL)))
				return rc;
			if (kg_opt_takes_value(o))
				break;
		}
	}
	/* the positionals: ARG by ARG, then ARGS takes the rest */
	for (int k = 0; k < nargs;) {
		for (o = cmd->opts; o && o->name; o++) {
			if (o->kind == KG_OPT_ARG && !*FIELD(args, o->off, const char *)) {
				*FIELD(args, o->off, const char *) = argv[1 + k++];
				break;
			}
			if (o->kind == KG_OPT_ARGS) {
				*FIELD(args, o->off, char **) = argv + 1 + k;
				*FIELD(args, o->count_off, int) = nargs - k;
				k = nargs;
				break;
			}
		}
		if (!o || !o->name)
			return kg_usage_error(cmd, "unexpected argument '%s'", argv[1 + k]);
	}
	for (o = cmd->opts; o && o->name; o++) {
		if (!o->required)
			continue;
		if (o->kind == KG_OPT_STR && !*FIELD(args, o->off, const char *))
			return kg_usage_error(cmd, "--%s is required", o->name);
		if (o->kind == KG_OPT_LIST && !*FIELD(args, o->count_off, int))
			return kg_usage_error(cmd, "--%s is required", o->name);
		if ((o->kind == KG_OPT_ARG && !*FIELD(args, o->off, const char *)) ||
		    (o->kind == KG_OPT_ARGS && !*FIELD(args, o->count_off, int)))
			return kg_usage_error(cmd, "no %s given", o->name);
	}
	return output_mode(cmd, args, p.jsonl);
}

/* ---- help ------------------------------------------------------------------------------- */

/* The usage line's word for o: "--iface IF", "[-o text|json]", "FILE...". */
static void synopsis_word(const struct kg_opt *o, char *out, size_t len)
{
	char mv[128], flag[80];
	const char *m = kg_opt_metavar(o, mv, sizeof(mv));

	if (o->kind == KG_OPT_ARG) {
		snprintf(out, len, "%s", m);
		return;
	}
	if (o->kind == KG_OPT_ARGS) {
		snprintf(out, len, "%s...", m);
		return;
	}
	/* an option with a value and a short name is shown short: -o text|json */
	if (o->short_name && kg_opt_takes_value(o))
		snprintf(flag, sizeof(flag), "-%c %s", o->short_name, m);
	else if (kg_opt_takes_value(o))
		snprintf(flag, sizeof(flag), "--%s %s", o->name, m);
	else
		snprintf(flag, sizeof(flag), "--%s", o->name);
	if (o->kind == KG_OPT_LIST)
		snprintf(out, len, o->required ? "%s [%s ...]" : "[%s ...]", flag, flag);
	else
		snprintf(out, len, o->required ? "%s" : "[%s]", flag);
}

void kg_cmd_usage(const struct kg_cmd *cmd, FILE *f)
{
	int indent = (int)strlen("usage: kgate ") + (int)strlen(cmd->name) + 1, col = indent,
	    optional = 0;
	char word[300];

	fprintf(f, "usage: kgate %s", cmd->name);
	if (cmd->synopsis) {
		fprintf(f, " %s\n", cmd->synopsis);
		return;
	}
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++)
		optional += !o->required && !kg_opt_positional(o);
	for (int pass = 0; pass < 3; pass++) {
		/* required options, then optional ones, then the arguments */
		for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
			bool want = pass == 0 ? o->required && !kg_opt_positional(o)
				    : pass == 1 ? !o->required && !kg_opt_positional(o) &&
							 optional <= SYNOPSIS_OPTIONS_MAX
						: kg_opt_positional(o);

			if (!want)
				continue;
			synopsis_word(o, word, sizeof(word));
			if (col + 1 + (int)strlen(word) > HELP_WIDTH) {
				fprintf(f, "\n%*s", indent - 1, "");
				col = indent - 1;
			}
			col += fprintf(f, " %s", word);
		}
		if (pass == 1 && optional > SYNOPSIS_OPTIONS_MAX)
			col += fprintf(f, " [options]");
	}
	fputc('\n', f);
}

/* "  -o, --output text|json" or "      --iface IF" (without shorts: "  --iface IF") */
void kg_opt_spell(const struct kg_opt *o, bool shorts, char *out, size_t len)
{
	char mv[128];
	const char *m = kg_opt_metavar(o, mv, sizeof(mv));

	if (o->short_name)
		snprintf(out, len, "  -%c, --%s%s%s", o->short_name, o->name, *m ? " " : "", m);
	else
		snprintf(out, len, "  %s--%s%s%s", shorts ? "    " : "", o->name, *m ? " " : "", m);
}

static void options(const struct kg_cmd *cmd, FILE *f)
{
	char left[200];
	bool shorts = false, any = false;
	int column = 0;

	for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
		if (kg_opt_positional(o))
			continue;
		shorts |= o->short_name != 0;
		any = true;
	}
	if (!any)
		return;
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
		int w;

		if (kg_opt_positional(o))
			continue;
		kg_opt_spell(o, shorts, left, sizeof(left));
		w = (int)strlen(left) + 2;
		if (w <= HELP_COLUMN_MAX && w > column)
			column = w;
	}
	fprintf(f, "\nOptions:\n");
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++) {
		const char *h = o->help ? o->help : "";

		if (kg_opt_positional(o))
			continue;
		kg_opt_spell(o, shorts, left, sizeof(left));
		if ((int)strlen(left) + 2 > column)
			fprintf(f, "%s\n%*s", left, column, "");
		else
			fprintf(f, "%-*s", column, left);
		/* each line of the text at the column */
		for (;;) {
			size_t n = strcspn(h, "\n");

			fprintf(f, "%.*s\n", (int)n, h);
			if (!h[n])
				break;
			h += n + 1;
			fprintf(f, "%*s", column, "");
		}
	}
}

void kg_cmd_help(const struct kg_cmd *cmd, FILE *f)
{
	kg_cmd_usage(cmd, f);
	if (cmd->about)
		fprintf(f, "\n%s", cmd->about);
	if (cmd->subs) {
		fprintf(f, "\nSubcommands:\n");
		for (size_t i = 0; i < cmd->nsubs; i++) {
			const char *sub = cmd->subs[i]->name + strlen(cmd->name) + 1;

			fprintf(f, "  %-8s %s\n", sub, cmd->subs[i]->summary);
		}
	}
	options(cmd, f);
	if (cmd->epilog)
		fprintf(f, "\n%s", cmd->epilog);
}

/* ---- subcommands ------------------------------------------------------------------------ */

const struct kg_cmd *kg_cmd_sub(const struct kg_cmd *cmd, const char *name)
{
	for (size_t i = 0; i < cmd->nsubs; i++)
		if (!strcmp(cmd->subs[i]->name + strlen(cmd->name) + 1, name))
			return cmd->subs[i];
	return NULL;
}

int kg_cmd_dispatch(const struct kg_cmd *cmd, int argc, char **argv)
{
	const struct kg_cmd *sub;
	const char *name;
	bool help = false;

	if (argc < 2) {
		fprintf(stderr, "kgate %s: a subcommand is needed\n\n", cmd->name);
		kg_cmd_help(cmd, stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "help") && argc > 2) {
		name = argv[2]; /* kgate policy help apply: apply's help */
		help = true;
	} else if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
		kg_cmd_help(cmd, stdout);
		return 0;
	}
	sub = kg_cmd_sub(cmd, name);
	if (!sub) {
		fprintf(stderr, "kgate %s: unknown subcommand '%s'\n\n", cmd->name, name);
		kg_cmd_help(cmd, stderr);
		return 2;
	}
	if (help || kg_wants_help(argc - 1, argv + 1)) {
		kg_cmd_help(sub, stdout);
		return 0;
	}
	return sub->run(argc - 1, argv + 1);
}
