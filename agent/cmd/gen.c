// SPDX-License-Identifier: Apache-2.0
/*
 * The man pages and the shell completions, made from the same kg_opt tables as --help
 * (hidden commands: `kgate __man PAGE`, `kgate __completion bash|zsh`; `make install`
 * runs them). They live in the binary, not in a generator of their own, because the
 * tables are the binary's: a page made by the binary it describes cannot drift from it,
 * and nothing has to link the command files twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "version.h" /* build/version.h, made by the Makefile */

/* ---- the command tree ------------------------------------------------------------------- */

/* Every command a page or a completion describes, in order: each command, then its
 * subcommands. Hidden commands (these generators) and help are left out. */
static size_t all_cmds(const struct kg_cmd **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < kg_ncommands; i++) {
		const struct kg_cmd *c = kg_commands[i];

		if (c->hidden || !strcmp(c->name, "help"))
			continue;
		if (n < max)
			out[n++] = c;
		for (size_t j = 0; j < c->nsubs && n < max; j++)
			out[n++] = c->subs[j];
	}
	return n;
}

/* Commands and subcommands: a few dozen at most (the tables in main.c and policy.c). */
#define GEN_MAX_CMDS 64

/* "policy check" -> "kgate-policy-check" */
static void page_name(const struct kg_cmd *c, char *out, size_t len)
{
	snprintf(out, len, "kgate-%s", c->name);
	for (char *p = out; *p; p++)
		if (*p == ' ')
			*p = '-';
}

/* ---- roff ------------------------------------------------------------------------------- */

/* Text for roff: backslashes and hyphens escaped (an escaped hyphen stays an ASCII '-'
 * that can be copied into a shell), a control character at a line start made literal. */
static void roff(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0 && (s[i] == '.' || s[i] == '\''))
			fputs("\\&", f);
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
}

static void roff_line(FILE *f, const char *s)
{
	roff(f, s, strlen(s));
	fputc('\n', f);
}

/*
 * A help text (lines separated by '\n') as roff: plain lines are filled into paragraphs,
 * an empty line starts a new one, and lines indented by the help text (examples, lists)
 * are kept as they are.
 */
static void roff_text(FILE *f, const char *t)
{
	bool verbatim = false;

	while (t && *t) {
		size_t n = strcspn(t, "\n");
		bool indented = n && t[0] == ' ';

		if (!n) {
			if (verbatim)
				fputs(".fi\n", f);
			verbatim = false;
			fputs(".PP\n", f);
		} else {
			if (indented != verbatim)
				fputs(indented ? ".nf\n" : ".fi\n", f);
			verbatim = indented;
			roff(f, t, n);
			fputc('\n', f);
		}
		t += n + (t[n] == '\n');
	}
	if (verbatim)
		fputs(".fi\n", f);
}

static void page_head(FILE *f, const char *name, const char *summary)
{
	char upper[128];
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(upper); i++)
		upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	upper[i] = 0;
	fprintf(f, ".\\\" Made by `kgate __man` from kgate's option tables; do not edit.\n");
	fprintf(f, ".TH %s 1 \"\" \"kgate %s\" \"kgate manual\"\n.SH NAME\n", upper, KGATE_SEMVER);
	roff(f, name, strlen(name));
	fputs(" \\- ", f);
	roff_line(f, summary);
}

static void page_options(FILE *f, const struct kg_cmd *c)
{
	bool any = false;

	for (const struct kg_opt *o = c->opts; o && o->name; o++) {
		char spell[200];
		const char *s;

		if (kg_opt_positional(o))
			continue;
		if (!any)
			fputs(".SH OPTIONS\n", f);
		any = true;
		kg_opt_spell(o, false, spell, sizeof(spell));
		for (s = spell; *s == ' '; s++)
			;
		fputs(".TP\n.B ", f);
		roff_line(f, s);
		for (const char *h = o->help ? o->help : ""; *h;) {
			size_t n = strcspn(h, "\n");

			roff(f, h, n);
			fputc('\n', f);
			h += n + (h[n] == '\n');
		}
	}
}

static void page_cmd(FILE *f, const struct kg_cmd *c, const struct kg_cmd *parent)
{
	char name[128], *usage = NULL;
	size_t ulen = 0;
	FILE *u;

	page_name(c, name, sizeof(name));
	page_head(f, name, c->summary);
	fputs(".SH SYNOPSIS\n.nf\n", f);
	u = open_memstream(&usage, &ulen);
	if (u) {
		kg_cmd_usage(c, u);
		fclose(u);
		/* "usage: kgate ..." and its continuation lines, without the "usage: " */
		for (char *l = usage; l && *l;) {
			size_t n = strcspn(l, "\n");

			if (!strncmp(l, "usage: ", 7))
				l += 7, n -= 7;
			else if (!strncmp(l, "       ", 7))
				l += 7, n -= 7;
			roff(f, l, n);
			fputc('\n', f);
			l += n + (l[n] == '\n');
		}
		free(usage);
	}
	fputs(".fi\n.SH DESCRIPTION\n", f);
	roff_text(f, c->about ? c->about : c->summary);
	if (c->subs) {
		fputs(".SH SUBCOMMANDS\n", f);
		for (size_t i = 0; i < c->nsubs; i++) {
			char sub[128];

			page_name(c->subs[i], sub, sizeof(sub));
			fputs(".TP\n.BR ", f);
			roff(f, sub, strlen(sub));
			fputs(" (1)\n", f);
			roff_line(f, c->subs[i]->summary);
		}
	}
	page_options(f, c);
	if (c->epilog) {
		fputs(".SH NOTES\n", f);
		roff_text(f, c->epilog);
	}
	fputs(".SH SEE ALSO\n.BR kgate (1)", f);
	if (parent) {
		char p[128];

		page_name(parent, p, sizeof(p));
		fputs(",\n.BR ", f);
		roff(f, p, strlen(p));
		fputs(" (1)", f);
	}
	fputs("\n", f);
}

static void page_kgate(FILE *f)
{
	const struct kg_cmd *cmds[GEN_MAX_CMDS];
	size_t n = all_cmds(cmds, GEN_MAX_CMDS);

	page_head(f, "kgate", "Kafka policy enforced in the Linux kernel of the broker host");
	fputs(".SH SYNOPSIS\n.B kgate\n.I COMMAND\n[\\fIARGS\\fR]\n.SH DESCRIPTION\n", f);
	roff_text(f, "XDP and TC programs read the Kafka protocol on the wire and decide, per\n"
		     "request, who may do what to which topic from where, without a proxy. 'kgate\n"
		     "run' is the agent; the other commands inspect and change what it enforces.\n"
		     "Every command takes --help; commands with output take -o text|json.\n");
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < n; i++) {
		char name[128];

		page_name(cmds[i], name, sizeof(name));
		fputs(".TP\n.BR ", f);
		roff(f, name, strlen(name));
		fputs(" (1)\n", f);
		roff_line(f, cmds[i]->summary);
	}
	fputs(".SH OUTPUT\n", f);
	roff_text(f, "-o json (also -ojson, --output json, --output=json) writes one JSON document\n"
		     "on stdout: an object when the command line names one item (one interface,\n"
		     "one file), an array when it may name several (every pinned interface,\n"
		     "several files, a stream of events). --jsonl writes one JSON value per line\n"
		     "instead. Errors go to stderr.\n");
	fputs(".SH ENVIRONMENT\n", f);
	roff_text(f, "KGATE_PIN_ROOT, KGATE_STATE_DIR and KGATE_RUN_DIR override the three\n"
		     "directories below.\n");
	fputs(".SH FILES\n", f);
	roff_text(f, "  " KG_PIN_ROOT "/IF/   programs, links and maps pinned per interface\n"
		     "  " KG_STATE_DIR "/      the policy store and the audit spool\n"
		     "  " KG_RUN_DIR "/observe.sock   the agent's socket for 'kgate observe'\n");
	fputs(".SH EXIT STATUS\n", f);
	roff_text(f, "0 on success, 1 on failure (with a message on stderr), 2 on a usage error.\n");
}

/* ---- kgate __man ------------------------------------------------------------------------ */

struct man_args {
	bool list;
	const char *page;
};

static const struct kg_opt man_opts[] = {
	KG_OPT_FLAG("list", struct man_args, list, "the page names, one per line"),
	{.name = "PAGE", .kind = KG_OPT_ARG, .metavar = "[PAGE]",
	 .off = offsetof(struct man_args, page)},
	KG_OPT_END,
};

static int gen_man(int argc, char **argv);

const struct kg_cmd kg_cmd_gen_man = {
	.name = "__man",
	.summary = "print a man page (roff) made from the option tables",
	.about = "Prints the man page PAGE (kgate, kgate-run, kgate-policy-check...) as roff on\n"
		 "stdout; --list prints every page's name. 'make install' uses it.\n",
	.opts = man_opts,
	.run = gen_man,
	.hidden = true,
};

static int gen_man(int argc, char **argv)
{
	const struct kg_cmd *cmds[GEN_MAX_CMDS];
	struct man_args a = {0};
	size_t n;
	int rc = kg_opt_parse(&kg_cmd_gen_man, argc, argv, &a);

	if (rc)
		return rc;
	n = all_cmds(cmds, GEN_MAX_CMDS);
	if (a.list || !a.page) {
		puts("kgate");
		for (size_t i = 0; i < n; i++) {
			char name[128];

			page_name(cmds[i], name, sizeof(name));
			puts(name);
		}
		return 0;
	}
	if (!strcmp(a.page, "kgate")) {
		page_kgate(stdout);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char name[128];
		const struct kg_cmd *parent = NULL;

		page_name(cmds[i], name, sizeof(name));
		if (strcmp(name, a.page))
			continue;
		/* a subcommand's parent is the command before it whose name it extends */
		for (size_t j = 0; j < i; j++)
			if (cmds[j]->subs && !strncmp(cmds[i]->name, cmds[j]->name,
						     strlen(cmds[j]->name)))
				parent = cmds[j];
		page_cmd(stdout, cmds[i], parent);
		return 0;
	}
	return kg_usage_error(&kg_cmd_gen_man, "no page '%s' (see --list)", a.page);
}

/* ---- completions ------------------------------------------------------------------------ */

/* What a value is completed with: a choice list, interface names, files, directories,
 * command names, or nothing (a number, a name kgate cannot know). */
enum value_kind { V_NONE, V_CHOICES, V_IFACE, V_FILE, V_DIR, V_COMMAND };

static enum value_kind value_kind(const struct kg_opt *o)
{
	const char *m = o->metavar ? o->metavar : "";

	if (o->kind == KG_OPT_CHOICE)
		return V_CHOICES;
	if (!strcmp(m, "IF"))
		return V_IFACE;
	if (!strcmp(m, "FILE") || !strcmp(m, "FILE|-") || !strcmp(m, "PATH") ||
	    !strcmp(m, "PCAP"))
		return V_FILE;
	if (!strcmp(m, "DIR"))
		return V_DIR;
	if (!strcmp(m, "[COMMAND]"))
		return V_COMMAND;
	return V_NONE;
}

static void words_of_choices(FILE *f, const struct kg_opt *o)
{
	for (int i = 0; o->choices[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", o->choices[i]);
}

static void top_words(FILE *f)
{
	bool first = true;

	for (size_t i = 0; i < kg_ncommands; i++) {
		if (kg_commands[i]->hidden)
			continue;
		fprintf(f, "%s%s", first ? "" : " ", kg_commands[i]->name);
		first = false;
	}
}

/* bash: the compgen call that completes a value of kind k into COMPREPLY. */
static void bash_value(FILE *f, const struct kg_opt *o, enum value_kind k)
{
	switch (k) {
	case V_CHOICES:
		fputs("COMPREPLY=($(compgen -W \"", f);
		words_of_choices(f, o);
		fputs("\" -- \"$cur\"))", f);
		break;
	case V_IFACE:
		fputs("COMPREPLY=($(compgen -W \"$(_kgate_ifaces)\" -- \"$cur\"))", f);
		break;
	case V_FILE:
		fputs("COMPREPLY=($(compgen -f -- \"$cur\"))", f);
		break;
	case V_DIR:
		fputs("COMPREPLY=($(compgen -d -- \"$cur\"))", f);
		break;
	case V_COMMAND:
		fputs("COMPREPLY=($(compgen -W \"", f);
		top_words(f);
		fputs("\" -- \"$cur\"))", f);
		break;
	case V_NONE:
		fputs(":", f);
		break;
	}
}

static void bash_cmd(FILE *f, const struct kg_cmd *c)
{
	const struct kg_opt *pos = NULL;
	bool first = true;

	fprintf(f, "\t\"%s\")\n\t\tcase $prev in\n", c->name);
	for (const struct kg_opt *o = c->opts; o && o->name; o++) {
		if (kg_opt_positional(o)) {
			pos = pos ? pos : o;
			continue;
		}
		if (!kg_opt_takes_value(o))
			continue;
		fputs("\t\t", f);
		if (o->short_name)
			fprintf(f, "-%c|", o->short_name);
		fprintf(f, "--%s) ", o->name);
		bash_value(f, o, value_kind(o));
		fputs("; return ;;\n", f);
	}
	fputs("\t\tesac\n\t\topts=\"", f);
	for (const struct kg_opt *o = c->opts; o && o->name; o++) {
		if (kg_opt_positional(o))
			continue;
		if (o->short_name)
			fprintf(f, "%s-%c", first ? "" : " ", o->short_name), first = false;
		fprintf(f, "%s--%s", first ? "" : " ", o->name);
		first = false;
	}
	fprintf(f, "%s--help\"\n\t\tif [[ $cur == -* ]]; then\n"
		   "\t\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
		   "\t\telse\n\t\t\t", first ? "" : " ");
	if (pos)
		bash_value(f, pos, value_kind(pos));
	else
		fputs(":", f);
	fputs("\n\t\tfi\n\t\t;;\n", f);
}

static void completion_bash(FILE *f)
{
	const struct kg_cmd *cmds[GEN_MAX_CMDS];
	size_t n = all_cmds(cmds, GEN_MAX_CMDS);

	fprintf(f, "# bash completion for kgate %s, made by `kgate __completion bash` from the\n"
		   "# option tables --help is made of. Install as\n"
		   "# share/bash-completion/completions/kgate, or source it.\n\n",
		KGATE_SEMVER);
	fputs("_kgate_ifaces() {\n\tlocal d\n\tfor d in /sys/class/net/*; do\n"
	      "\t\t[ -e \"$d\" ] && printf '%s\\n' \"${d##*/}\"\n\tdone\n}\n\n", f);
	fputs("_kgate() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\tlocal cmd=${COMP_WORDS[1]} opts\n"
	      "\tCOMPREPLY=()\n"
	      "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"", f);
	top_words(f);
	fputs("\" -- \"$cur\"))\n\t\treturn\n\tfi\n", f);
	/* a command of subcommands: the second word names one */
	fputs("\tcase $cmd in\n", f);
	for (size_t i = 0; i < kg_ncommands; i++) {
		const struct kg_cmd *c = kg_commands[i];

		if (!c->subs)
			continue;
		fprintf(f, "\t%s)\n\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then\n"
			   "\t\t\tCOMPREPLY=($(compgen -W \"",
			c->name);
		for (size_t j = 0; j < c->nsubs; j++)
			fprintf(f, "%s%s", j ? " " : "", c->subs[j]->name + strlen(c->name) + 1);
		fputs("\" -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n"
		      "\t\tcmd=\"$cmd ${COMP_WORDS[2]}\"\n\t\t;;\n",
		      f);
	}
	fputs("\tesac\n\tcase $cmd in\n", f);
	for (size_t i = 0; i < n; i++)
		if (!cmds[i]->subs)
			bash_cmd(f, cmds[i]);
	fputs("\thelp)\n\t\t[ \"$COMP_CWORD\" -eq 2 ] && ", f);
	bash_value(f, NULL, V_COMMAND);
	fputs("\n\t\t;;\n\tesac\n}\n\ncomplete -o filenames -F _kgate kgate\n", f);
}

/* zsh: a description (all its help lines as one), safe inside '...' and [...]. */
static void zsh_desc(FILE *f, const char *help)
{
	for (const char *h = help ? help : ""; *h; h++) {
		if (*h == '\'')
			fputs("'\\''", f);
		else if (*h == '[' || *h == ']' || *h == '\\')
			fprintf(f, "\\%c", *h);
		else
			fputc(*h == '\n' ? ' ' : *h, f);
	}
}

static void zsh_action(FILE *f, const struct kg_opt *o, enum value_kind k)
{
	switch (k) {
	case V_CHOICES:
		fputs("(", f);
		words_of_choices(f, o);
		fputs(")", f);
		break;
	case V_IFACE:
		fputs("_net_interfaces", f);
		break;
	case V_FILE:
		fputs("_files", f);
		break;
	case V_DIR:
		fputs("_files -/", f);
		break;
	case V_COMMAND:
		fputs("(", f);
		top_words(f);
		fputs(")", f);
		break;
	case V_NONE:
		fputs(" ", f);
		break;
	}
}

static void zsh_cmd(FILE *f, const struct kg_cmd *c)
{
	fprintf(f, "\t\"%s\")\n\t\t_arguments -s -S \\\n", c->name);
	for (const struct kg_opt *o = c->opts; o && o->name; o++) {
		char mv[128];
		const char *m = kg_opt_metavar(o, mv, sizeof(mv));

		fputs("\t\t\t'", f);
		if (kg_opt_positional(o)) {
			fprintf(f, "%s:%s:", o->kind == KG_OPT_ARGS ? "*" : "1", m);
			zsh_action(f, o, value_kind(o));
			fputs("' \\\n", f);
			continue;
		}
		if (o->kind == KG_OPT_LIST)
			fputs("*", f);
		if (o->short_name)
			fprintf(f, "(-%c --%s)'{-%c%s,--%s%s}'", o->short_name, o->name,
				o->short_name, kg_opt_takes_value(o) ? "+" : "", o->name,
				kg_opt_takes_value(o) ? "=" : "");
		else
			fprintf(f, "--%s%s", o->name, kg_opt_takes_value(o) ? "=" : "");
		fputs("[", f);
		zsh_desc(f, o->help);
		fputs("]", f);
		if (kg_opt_takes_value(o)) {
			fprintf(f, ":%s:", m);
			zsh_action(f, o, value_kind(o));
		}
		fputs("' \\\n", f);
	}
	fputs("\t\t\t'--help[show the help]'\n\t\t;;\n", f);
}

static void zsh_describe(FILE *f, const char *var, const struct kg_cmd *const *cmds, size_t n,
			 size_t skip)
{
	fprintf(f, "\t\t%s=(\n", var);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i]->hidden)
			continue;
		fprintf(f, "\t\t\t'%s:", cmds[i]->name + skip);
		zsh_desc(f, cmds[i]->summary);
		fputs("'\n", f);
	}
	fputs("\t\t)\n", f);
}

static void completion_zsh(FILE *f)
{
	const struct kg_cmd *cmds[GEN_MAX_CMDS];
	size_t n = all_cmds(cmds, GEN_MAX_CMDS);

	fprintf(f, "#compdef kgate\n# zsh completion for kgate %s, made by `kgate __completion zsh`\n"
		   "# from the option tables --help is made of. Install as _kgate in $fpath.\n\n",
		KGATE_SEMVER);
	fputs("_kgate() {\n\tlocal -a cmds\n\tlocal cmd\n\tif (( CURRENT == 2 )); then\n", f);
	zsh_describe(f, "cmds", kg_commands, kg_ncommands, 0);
	fputs("\t\t_describe -t commands 'kgate command' cmds\n\t\treturn\n\tfi\n"
	      "\tcmd=$words[2]\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n",
	      f);
	for (size_t i = 0; i < kg_ncommands; i++) {
		const struct kg_cmd *c = kg_commands[i];

		if (!c->subs)
			continue;
		fprintf(f, "\t%s)\n\t\tif (( CURRENT == 2 )); then\n", c->name);
		zsh_describe(f, "cmds", c->subs, c->nsubs, strlen(c->name) + 1);
		fprintf(f, "\t\t\t_describe -t commands 'kgate %s subcommand' cmds\n"
			   "\t\t\treturn\n\t\tfi\n\t\tcmd=\"$cmd $words[2]\"\n\t\tshift words\n"
			   "\t\t(( CURRENT-- ))\n\t\t;;\n",
			c->name);
	}
	fputs("\tesac\n\tcase $cmd in\n", f);
	for (size_t i = 0; i < n; i++)
		if (!cmds[i]->subs)
			zsh_cmd(f, cmds[i]);
	fputs("\thelp)\n\t\t_arguments '1:COMMAND:(", f);
	top_words(f);
	fputs(")'\n\t\t;;\n\tesac\n}\n\n_kgate \"$@\"\n", f);
}

struct completion_args {
	const char *shell;
};

static const struct kg_opt completion_opts[] = {
	KG_OPT_ARG("SHELL", "bash|zsh", struct completion_args, shell),
	KG_OPT_END,
};

static int gen_completion(int argc, char **argv);

const struct kg_cmd kg_cmd_gen_completion = {
	.name = "__completion",
	.summary = "print a shell completion script made from the option tables",
	.about = "Prints the bash or zsh completion script for kgate on stdout: commands,\n"
		 "subcommands, options, option choices, interfaces and files. 'make install'\n"
		 "uses it.\n",
	.opts = completion_opts,
	.run = gen_completion,
	.hidden = true,
};

static int gen_completion(int argc, char **argv)
{
	struct completion_args a = {0};
	int rc = kg_opt_parse(&kg_cmd_gen_completion, argc, argv, &a);

	if (rc)
		return rc;
	if (!strcmp(a.shell, "bash"))
		completion_bash(stdout);
	else if (!strcmp(a.shell, "zsh"))
		completion_zsh(stdout);
	else
		return kg_usage_error(&kg_cmd_gen_completion, "'%s' is not bash or zsh", a.shell);
	return 0;
}
