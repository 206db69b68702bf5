// SPDX-License-Identifier: Apache-2.0
/*
 * Where a command that reads recorded audit records takes them from (audit trace, policy
 * whatif): an audit file (--file) or the audit topic (--from-kafka BROKERS --audit-topic T),
 * never both; and the order of records of several nodes (those two and observe). The
 * readers are agent/audit's (reader.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent/audit/audit.h"
#include "agent/cmd/cmd.h"

/* --file's metavar in cmd's table (PATH, AUDIT), for the usage error naming it. */
static const char *file_metavar(const struct kg_cmd *cmd)
{
	for (const struct kg_opt *o = cmd->opts; o && o->name; o++)
		if (!strcmp(o->name, "file"))
			return o->metavar;
	return "FILE";
}

int kg_records_check(const struct kg_cmd *cmd, const struct kg_records_from *f)
{
	if (!!f->file == !!f->brokers)
		return kg_usage_error(cmd,
				      "the records come from --file %s or --from-kafka BROKERS",
				      file_metavar(cmd));
	if (!!f->brokers != !!f->topic)
		return kg_usage_error(cmd, "--from-kafka and --audit-topic go together");
	return 0;
}

int kg_records_read(const struct kg_cmd *cmd, const struct kg_records_from *f, __u64 since_ns,
		    kg_audit_rec_fn fn, void *ctx)
{
	char err[1024];
	int e;

	if (f->file)
		e = kg_audit_read_file(f->file, fn, ctx, err, sizeof(err));
	else
		e = kg_audit_read_kafka(f->brokers, f->topic, since_ns, fn, ctx, err, sizeof(err));
	if (!e)
		return 0;
	fprintf(stderr, "kgate %s: %s\n", cmd->name, err);
	return 1;
}

int kg_records_order(__u64 ts_a, const char *node_a, __u64 seq_a, __u64 ts_b, const char *node_b,
		     __u64 seq_b)
{
	int c;

	if (ts_a != ts_b)
		return ts_a < ts_b ? -1 : 1;
	if ((c = strcmp(node_a, node_b)))
		return c;
	return seq_a < seq_b ? -1 : seq_a > seq_b;
}
