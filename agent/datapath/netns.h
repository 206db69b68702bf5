/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces, as attach.c needs them (internal to agent/datapath). An interface's
 * TC filters can only be reached by netlink from inside its network namespace, while pins
 * (bpffs) and the attach record (the state directory) are seen from everywhere: so the
 * record names the namespace of the attach, and a detach or an adoption from another one
 * enters it, or refuses, instead of acting on whatever the caller's namespace holds under
 * the same interface name.
 */
#ifndef KGATE_DATAPATH_NETNS_H
#define KGATE_DATAPATH_NETNS_H

#include <stdbool.h>
#include <stddef.h>

/* A network namespace's identity: its nsfs inode ("net:[ino]" in /proc/PID/ns/net). */
struct kg_netns {
	unsigned long long dev, ino; /* ino 0: unknown (a record written before it was kept) */
};

/* This thread's network namespace: 0, or -errno. */
int kg_netns_self(struct kg_netns *id);
bool kg_netns_same(const struct kg_netns *a, const struct kg_netns *b);

/*
 * An fd (O_RDONLY) on the namespace id names, found through what holds it where this
 * process can look: an nsfs mount of this mount namespace (an `ip netns` name, a
 * container runtime's bind mount), then the processes under /proc. where: the path found.
 * -ENOENT when nothing there holds it: the namespace is gone, or is held only by an open
 * descriptor or socket of some process, which no one can enter from outside.
 */
int kg_netns_open(const struct kg_netns *id, char *where, size_t len);

#endif
