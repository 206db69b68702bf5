/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/cmd: the kgate binary's commands, one file per command or subcommand (main.c holds
 * the command table). Each command declares its options once, as a table of struct
 * kg_opt: the parser (kg_opt_parse), the --help text (kg_cmd_help), the man pages and the
 * shell completions (gen.c: `kgate __man`, `kgate __completion`) are all made from it.
 *
 * May call: everything else in agent/; nothing else calls it (it is not in libkgate.a).
 */
#ifndef KGATE_CMD_H
#define KGATE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/lib/lib.h"

/* How an option takes its value, and where the value goes (a field of the command's
 * own args struct). */
enum kg_opt_kind {
	KG_OPT_FLAG,   /* --name: bool = true */
	KG_OPT_STR,    /* --name VALUE: const char * */
	KG_OPT_LIST,   /* --name VALUE, repeatable: const char *[N], each value once */
	KG_OPT_CHOICE, /* --name VALUE, one of choices[]: int, its index */
	KG_OPT_UINT,   /* --name N, min..max: unsigned long */
	KG_OPT_DURATION, /* --name 90s|5m|1h30m...: __u64 ns, more than 0 (0: not given) */
	KG_OPT_ARG,    /* a positional argument: const char * */
	KG_OPT_ARGS,   /* every positional argument: const char ** (argv's), count */
	KG_OPT_JSONL,  /* --jsonl: the output CHOICE at off becomes "json", as lines */
};

/*
 * How a command line is read (kg_opt_parse): options and arguments may mix, "--" ends the
 * options. A long option is --name VALUE or --name=VALUE, and may be shortened to any
 * prefix that names one option of the command (--pol FILE for --policy; an exact name
 * wins over a longer one it begins). Short options may be clustered, the last one
 * taking a value: -fo json, -fojson, -ojson.
 */
struct kg_opt {
	const char *name;  /* long name without "--"; for ARG/ARGS what the user gives */
	char short_name;   /* 'o' for -o, 0 for none */
	enum kg_opt_kind kind;
	const char *metavar; /* IF, FILE...; CHOICE: made of choices when NULL */
	const char *help;    /* lines separated by '\n' */
	size_t off;          /* offsetof the value's field */
	size_t count_off;    /* LIST, ARGS: offsetof an int count */
	/*
	 * Any kind: KG_OPT_GIVEN(T, field) of a bool set when the option is given; 0: none.
	 * (Offset + 1, so that a field at offset 0 is still one, and a table entry that
	 * names none, zero-initialized, means none.)
	 */
	size_t given_at;
	const char *const *choices; /* CHOICE: NULL-terminated */
	unsigned long min, max;     /* UINT: the range; LIST: at most max values (the array's) */
	bool required;
	/* given twice is a usage error: every option that keeps one value (the macros
	 * below set it), where a repeat would silently drop the first */
	bool once;
};

/* An option table has at most this many entries: the parser counts each option's
 * occurrences in an array of this size, and a longer table fails every parse with a
 * message naming the command (the CLI tests parse every command's table). */
#define KG_OPT_MAX 64

#define KG_OPT_END {0}
#define KG_OPT_GIVEN(T, field) (offsetof(T, field) + 1)
/* The number of elements of the array T.field; a pointer in its place does not compile. */
#define KG_OPT_ARRAY_LEN(T, field)                                                                 \
	(sizeof(((T *)0)->field) / sizeof(((T *)0)->field[0]) +                                    \
	 0 * sizeof(struct {                                                                       \
		 int not_an_array : __builtin_types_compatible_p(__typeof__(((T *)0)->field),     \
								  __typeof__(&((T *)0)->field[0])) \
					    ? -1                                                   \
					    : 1;                                                   \
	 }))
/*
 * The options every command with output shares: -o text|json (or its choices; spelled
 * -o json, -ojson, --output json or --output=json) and --jsonl. Two table entries.
 */
#define KG_OPT_OUTPUT(T, field, choice_list, text)                                                 \
	{.name = "output", .short_name = 'o', .kind = KG_OPT_CHOICE, .off = offsetof(T, field),    \
	 .choices = choice_list, .help = text, .once = true},                                      \
	{.name = "jsonl", .kind = KG_OPT_JSONL, .off = offsetof(T, field), .choices = choice_list, \
	 .help = "JSON lines: one JSON value per line instead of one\n"                            \
		 "document (implies -o json)"}
#define KG_OPT_FLAG(n, T, field, text)                                                             \
	{.name = n, .kind = KG_OPT_FLAG, .off = offsetof(T, field), .help = text}
#define KG_OPT_STR(n, meta, T, field, text, ...)                                                   \
	{.name = n, .kind = KG_OPT_STR, .metavar = meta, .off = offsetof(T, field), .help = text,  \
	 .once = true, __VA_ARGS__}
/* A repeatable option into the array T.field (its count in T.count): at most as many
 * values as the array holds. */
#define KG_OPT_LIST(n, meta, T, field, count, text, ...)                                           \
	{.name = n, .kind = KG_OPT_LIST, .metavar = meta, .off = offsetof(T, field),               \
	 .count_off = offsetof(T, count), .max = KG_OPT_ARRAY_LEN(T, field), .help = text,         \
	 __VA_ARGS__}
#define KG_OPT_CHOICE(n, T, field, given, choice_list, text, ...)                                  \
	{.name = n, .kind = KG_OPT_CHOICE, .off = offsetof(T, field),                              \
	 .given_at = KG_OPT_GIVEN(T, given), .choices = choice_list, .help = text, .once = true,   \
	 __VA_ARGS__}
#define KG_OPT_UINT(n, meta, T, field, lo, hi, text)                                               \
	{.name = n, .kind = KG_OPT_UINT, .metavar = meta, .off = offsetof(T, field), .min = lo,    \
	 .max = hi, .help = text, .once = true}
#define KG_OPT_DURATION(n, T, field, text)                                                         \
	{.name = n, .kind = KG_OPT_DURATION, .metavar = "DURATION", .off = offsetof(T, field),     \
	 .help = text, .once = true}
#define KG_OPT_ARG(what, meta, T, field)                                                           \
	{.name = what, .kind = KG_OPT_ARG, .metavar = meta, .off = offsetof(T, field),             \
	 .required = true}
#define KG_OPT_ARGS(what, meta, T, field, count)                                                   \
	{.name = what, .kind = KG_OPT_ARGS, .metavar = meta, .off = offsetof(T, field),            \
	 .count_off = offsetof(T, count), .required = true}

/* "text" and "json": the choices of -o for most commands (index 1: json). */
extern const char *const kg_output_text_json[];

struct kg_cmd {
	const char *name;     /* as typed after "kgate": "run", "policy apply" */
	const char *summary;  /* one line, in the parent's list */
	const char *synopsis; /* usage lines after "usage: kgate NAME "; NULL: made of opts */
	const char *about;    /* what it does, after the usage lines */
	const struct kg_opt *opts; /* KG_OPT_END-terminated; NULL: none */
	const char *epilog;   /* after the options: notes, exit status */
	int (*run)(int argc, char **argv);
	/* a command of subcommands (kgate policy): run is kg_cmd_dispatch */
	const struct kg_cmd *const *subs;
	size_t nsubs;
	bool hidden; /* not in the overview, no man page (the generators themselves) */
};

/* The --help text of cmd, made from its table. */
void kg_cmd_help(const struct kg_cmd *cmd, FILE *f);
/* Its usage lines alone ("usage: kgate NAME ..."). */
void kg_cmd_usage(const struct kg_cmd *cmd, FILE *f);
/* What the help, man page and completion say of one option (opt.c). */
bool kg_opt_takes_value(const struct kg_opt *o);
bool kg_opt_positional(const struct kg_opt *o);
/* IF, FILE; a CHOICE without one: "text|json" in buf. */
const char *kg_opt_metavar(const struct kg_opt *o, char *buf, size_t len);
/* "  -o, --output text|json", or with shorts false and no short name "  --iface IF". */
void kg_opt_spell(const struct kg_opt *o, bool shorts, char *out, size_t len);
/* True when argv holds -h or --help (before a "--"); the caller prints the help. */
bool kg_wants_help(int argc, char **argv);
/* Prints "kgate NAME: message" to stderr and returns the usage exit code (2). */
int kg_usage_error(const struct kg_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Parses argv[1..argc) (argv[0] is the command's name) by cmd's table into args (as
 * struct kg_opt says): 0, or the usage exit code (2) after a message.
 */
int kg_opt_parse(const struct kg_cmd *cmd, int argc, char **argv, void *args);
/* The subcommand of cmd called name ("apply" of "policy"), or NULL. */
const struct kg_cmd *kg_cmd_sub(const struct kg_cmd *cmd, const char *name);
/* Runs the subcommand argv[1] of cmd (its --help included). */
int kg_cmd_dispatch(const struct kg_cmd *cmd, int argc, char **argv);

/*
 * JSON output is one document (jsondoc.c). With -o json a command writes exactly one JSON
 * value on stdout: an object when its command line names one item (one interface, one
 * file, the version), an array when it may name several (every pinned interface, several
 * files, a stream of events) -- the shape follows the command line, never the data, so a
 * script can rely on it. --jsonl writes each item on a line of its own instead.
 *
 * A command declares the shape once, after parsing (kg_json_doc), and calls kg_json_item
 * before it prints each JSON value (each value is printed whole, ending in '\n'); main()
 * closes the document (kg_json_doc_end) after the command returns. In text mode all three
 * do nothing. A command that declares nothing prints one value per line, as --jsonl.
 */
void kg_json_doc(bool list);
void kg_json_item(void);
void kg_json_doc_end(void);
/* True with -o json (or --jsonl) on this command line. */
bool kg_json_on(void);
/* kg_opt_parse tells it what the command line asked for. */
void kg_json_mode(bool json, bool jsonl);

/* The commands (main.c's table; kg_commands[] lists them for the generators). */
extern const struct kg_cmd kg_cmd_decode, kg_cmd_probe, kg_cmd_policy, kg_cmd_observe,
	kg_cmd_run, kg_cmd_flows, kg_cmd_stats, kg_cmd_detach, kg_cmd_version, kg_cmd_gen_man,
	kg_cmd_gen_completion, kg_cmd_audit;
extern const struct kg_cmd *const kg_commands[];
extern const size_t kg_ncommands;
/* kgate policy's subcommands (policy.c's table). */
extern const struct kg_cmd kg_cmd_policy_check, kg_cmd_policy_apply, kg_cmd_policy_show,
	kg_cmd_policy_diff, kg_cmd_policy_eval, kg_cmd_policy_history, kg_cmd_policy_rollback,
	kg_cmd_policy_confirm, kg_cmd_policy_pause, kg_cmd_policy_resume, kg_cmd_policy_whatif;
/* kgate audit's subcommands (audit.c's table). */
extern const struct kg_cmd kg_cmd_audit_trace;

/*
 * A text table sized to its content (table.c). Rows are kept (kg_table_add) until
 * kg_table_fit sets each column's width to its widest cell, then, with a budget (the
 * line's width), takes columns down -- always the widest that is above its floor -- until
 * the line fits; a cell longer than its column is shortened with an ellipsis,
 * keeping its start or (keep_end) its end. Rows printed after that (a stream) keep the
 * widths: with a budget they are shortened to them, without one a column widens.
 */
struct kg_col {
	const char *head;
	unsigned min;  /* floor when fitting; 0: never shortened */
	bool keep_end; /* shortened at the start ("…0.2:45342"), not the end */
	bool last;     /* shortened only when no other column can be */
	unsigned width;
};

struct kg_trow {
	char **cells; /* ncols strings from kg_table_cell, or NULL ... */
	char *line;   /* ... and a line printed whole instead (a gap record) */
};

struct kg_table {
	struct kg_col *cols;
	int ncols;
	unsigned budget; /* 0: no limit, nothing shortened */
	struct kg_trow *rows;
	size_t nrows;
};

/* A printable copy of s (malloc'ed): control bytes and bytes that are not UTF-8 as '?'. */
char *kg_table_cell(const char *s);
void kg_table_init(struct kg_table *t, struct kg_col *cols, int ncols, unsigned budget);
/* Keeps a row (cells and line become the table's). */
void kg_table_add(struct kg_table *t, char **cells, char *line);
void kg_table_fit(struct kg_table *t);
void kg_table_print_header(struct kg_table *t, FILE *f);
/* Prints the rows kept, and forgets them. */
void kg_table_flush(struct kg_table *t, FILE *f);
/* Prints one row now (not kept), and frees it. */
void kg_table_print(struct kg_table *t, char **cells, char *line, FILE *f);
void kg_table_free(struct kg_table *t);

/*
 * The interfaces a command acts on (iface_report.c): iface when given, else every one
 * pinned; 0 (after a message naming the pin root) when there is none, or more than
 * KG_REPORT_MAX_IFACES: a command without --iface refuses then (exit 1, saying to name
 * one) rather than act on some of them.
 */
#include <net/if.h>
#define KG_REPORT_MAX_IFACES 64
int kg_target_ifaces(const struct kg_cmd *cmd, const char *iface, char out[][IF_NAMESIZE]);

/* Opens the maps pinned for iface: 0, or -1 after "kgate CMD: IF: no kgate datapath". */
struct kg_maps;
int kg_cmd_open_maps(const struct kg_cmd *cmd, const char *iface, struct kg_maps *m);


/*
 * Changes of the running policy (policy_step.c). kg_agent_serves: whether a `kgate run`
 * holds iface now. kg_change_print: one change's report (nrules, load_ms: an apply's).
 * kg_policy_step: rq on --iface IF or every pinned interface, each reported; the exit
 * code. Who made the change is this process's user, and cmd's name.
 */
struct kg_change;
struct kg_change_req;
bool kg_agent_serves(const char *iface);
void kg_change_print(const char *iface, const struct kg_change *c, bool json, unsigned int nrules,
		     double load_ms);
int kg_policy_step(const struct kg_cmd *cmd, const char *iface, const struct kg_change_req *rq,
		   bool json, double load_ms);
/* A step with nothing but [--iface IF] [-o text|json] (confirm, pause, resume): the exit code. */
int kg_policy_iface_step(const struct kg_cmd *cmd, int step, int argc, char **argv);

/*
 * What a rule matches and does, as show prints it and diff compares it (policy_rules.c):
 * " topics=a,b ... -> reject", or in JSON the members after "name".
 */
struct kg_prule;
void kg_policy_rule_print(FILE *o, const struct kg_prule *r, bool json);

/* The linter's findings (policy_lint_print.c): "PATH:LINE:COL: [warning: |note: ]message
 * [code]" lines, or a JSON array of {level, code, line, col, message}. */
struct kg_lint;
void kg_lint_print_text(FILE *f, const char *path, const struct kg_lint *l);
void kg_lint_print_json(FILE *f, const struct kg_lint *l);

/*
 * A report per pinned interface (kgate flows, kgate stats): calls one for --iface IF or
 * for every interface pinned. The exit code: 0, 1 when one report failed or nothing is
 * pinned.
 */
struct kg_names_cache;
typedef int (*kg_iface_report_fn)(const char *iface, struct kg_names_cache *nc, bool json);
/* [--iface IF] [-o text|json] (kg_iface_report_opts); FILE: policy diff's own table. */
struct kg_iface_args {
	const char *iface;
	int output; /* 1: json */
	const char *file;
};
extern const struct kg_opt kg_iface_report_opts[];
int kg_iface_report(const struct kg_cmd *cmd, int argc, char **argv, kg_iface_report_fn one);

#endif
