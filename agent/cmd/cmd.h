/* SPDX-License-Identifier: Apache-2.0 */
/* The kgate command table: one entry per subcommand, each with its own --help. */
#ifndef KGATE_CLI_H
#define KGATE_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct kg_cmd {
	const char *name;
	const char *summary;
	const char *usage; /* full --help text */
	int (*run)(int argc, char **argv);
	bool own_help; /* has subcommands: handles -h/--help itself, at every level */
};

/* True when argv holds -h or --help; the caller prints its usage and exits 0. */
bool kg_wants_help(int argc, char **argv);
/* Prints "kgate NAME: message" to stderr and returns the usage exit code (2). */
int kg_usage_error(const struct kg_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_decode(int argc, char **argv);
int cmd_probe(int argc, char **argv);
extern const struct kg_cmd kg_cmd_decode, kg_cmd_probe;
int cmd_policy(int argc, char **argv);
extern const struct kg_cmd kg_cmd_policy;
extern const struct kg_cmd kg_cmd_observe; /* agent/observe_cmd.c */
/* kgate policy apply|show|diff (agent/policy_apply_cmd.c), in kgate policy's table. */
int kg_policy_apply_run(int argc, char **argv);
int kg_policy_show_run(int argc, char **argv);
int kg_policy_diff_run(int argc, char **argv);
/* s as a JSON string, quotes included; NULL as null (agent/policy_cmd.c). */
void kg_policy_json_str(FILE *f, const char *s);
extern const char *const kg_policy_apply_usage, *const kg_policy_show_usage,
	*const kg_policy_diff_usage;
/* The datapath: run, flows, stats, detach (agent/run_cmd.c, flows_cmd.c, ...). */
int cmd_run(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_detach(int argc, char **argv);
extern const struct kg_cmd kg_cmd_run, kg_cmd_flows, kg_cmd_stats, kg_cmd_detach;

/*
 * A report per pinned interface (agent/iface_cmd.c): parses --iface IF and
 * -o text|json for cmd, then calls one for IF or for every interface pinned.
 * Returns the exit code: 0, 1 when one report failed or nothing is pinned, 2 on usage.
 */
struct kg_names_cache;
typedef int (*kg_iface_report_fn)(const char *iface, struct kg_names_cache *nc, bool json);
int kg_iface_report(const struct kg_cmd *cmd, int argc, char **argv, kg_iface_report_fn one);

#endif
