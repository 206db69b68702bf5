// SPDX-License-Identifier: Apache-2.0
/* kgate detach: removes kgate from an interface, leaving nothing behind (agent/datapath). */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"

struct detach_args {
	const char *iface;
	int output;
};

static const struct kg_opt detach_opts[] = {
	KG_OPT_STR("iface", "IF", struct detach_args, iface, "the interface", .required = true),
	KG_OPT_OUTPUT(struct detach_args, output, kg_output_text_json,
		      "text (default) or json:\n{\"iface\":...,\"detached\":true|false}"),
	KG_OPT_END,
};

static int cmd_detach(int argc, char **argv);

const struct kg_cmd kg_cmd_detach = {
	.name = "detach",
	.summary = "remove programs, links, filters and pins from an interface",
	.about = "Removes kgate from IF: the XDP link, the TC egress filter, the clsact qdisc\n"
		 "when kgate created it, every pinned program, link and map under\n"
		 "/sys/fs/bpf/kgate/IF/ and that directory. Enforcement on IF stops. Works\n"
		 "without an agent and when IF no longer exists; stop a running agent first\n"
		 "(or run it with --detach-on-exit). The policy store\n"
		 "(/var/lib/kgate/IF/policies) is kept: it names the version ids of past\n"
		 "audit records. Detaching twice is not an error: the second time says that\n"
		 "there was nothing to detach.\n"
		 "\n"
		 "The TC filters can only be removed from IF's network namespace: run from\n"
		 "another one, detach enters it (found by its 'ip netns' name, another mount, or\n"
		 "a process in it); when nothing holds it any more it is gone, with IF's filters,\n"
		 "and the pins are removed; when it cannot be entered but IF is still there\n"
		 "(held by a descriptor only), nothing is removed and the message says so.\n",
	.opts = detach_opts,
	.epilog = "Exit 0 when IF is clean afterwards, 1 on a failure, 2 on usage errors.\n",
	.run = cmd_detach,
};

static int cmd_detach(int argc, char **argv)
{
	struct detach_args a = {0};
	char err[600];
	int r;

	if ((r = kg_opt_parse(&kg_cmd_detach, argc, argv, &a)))
		return r;
	kg_json_doc(false);
	r = kg_runtime_detach(a.iface, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "kgate detach: %s\n", err);
		return 1;
	}
	if (a.output) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, a.iface);
		printf(",\"detached\":%s}\n", r ? "true" : "false");
	} else if (r) {
		printf("%s: detached (XDP link, TC egress filter and pins under %s/%s removed)\n",
		       a.iface, kg_pin_root(), a.iface);
	} else {
		printf("%s: nothing to detach (no kgate pins under %s/%s)\n", a.iface, kg_pin_root(),
		       a.iface);
	}
	return 0;
}
