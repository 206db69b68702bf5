// SPDX-License-Identifier: Apache-2.0
/* kgate detach: removes kgate from an interface, leaving nothing behind (agent/runtime.c). */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"

const struct kg_cmd kg_cmd_detach = {
	.name = "detach",
	.summary = "remove programs, links, filters and pins from an interface",
	.usage = "usage: kgate detach --iface IF [-o text|json]\n"
		 "\n"
		 "Removes kgate from IF: the XDP link, the TC egress filter, the clsact qdisc\n"
		 "when kgate created it, every pinned program, link and map under\n"
		 "/sys/fs/bpf/kgate/IF/ and that directory. Enforcement on IF stops. Works\n"
		 "without an agent and when IF no longer exists; stop a running agent first\n"
		 "(or run it with --detach-on-exit). The policy store\n"
		 "(/var/lib/kgate/IF/policies) is kept: it names the version ids of past\n"
		 "audit records. Detaching twice is not an error: the second time says that\n"
		 "there was nothing to detach.\n"
		 "Exit 0 when IF is clean afterwards, 1 on a failure, 2 on usage errors.\n",
	.run = cmd_detach,
};

int cmd_detach(int argc, char **argv)
{
	const char *iface = NULL;
	bool json = false;
	char err[600];
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iface") || !strcmp(argv[i], "-o")) {
			if (i + 1 >= argc)
				return kg_usage_error(&kg_cmd_detach, "option '%s' needs a value",
						      argv[i]);
			if (argv[i][1] == 'o') {
				if (!strcmp(argv[i + 1], "json"))
					json = true;
				else if (strcmp(argv[i + 1], "text"))
					return kg_usage_error(&kg_cmd_detach,
							      "unknown output format '%s'",
							      argv[i + 1]);
			} else if (iface) {
				return kg_usage_error(&kg_cmd_detach, "one --iface at a time");
			} else {
				iface = argv[i + 1];
			}
			i++;
		} else {
			return kg_usage_error(&kg_cmd_detach, "unexpected argument '%s'", argv[i]);
		}
	}
	if (!iface)
		return kg_usage_error(&kg_cmd_detach, "--iface is required");
	r = kg_runtime_detach(iface, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "kgate detach: %s\n", err);
		return 1;
	}
	if (json) {
		printf("{\"iface\":");
		kg_rt_json_str(stdout, iface);
		printf(",\"detached\":%s}\n", r ? "true" : "false");
	} else if (r) {
		printf("%s: detached (XDP link, TC egress filter and pins under %s/%s removed)\n",
		       iface, kg_pin_root(), iface);
	} else {
		printf("%s: nothing to detach (no kgate pins under %s/%s)\n", iface, kg_pin_root(),
		       iface);
	}
	return 0;
}
