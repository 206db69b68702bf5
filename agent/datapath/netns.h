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

/*
 * A network namespace's identity. Its nsfs inode ("net:[ino]" in /proc/PID/ns/net) finds
 * it, but the kernel gives a freed namespace's inode number to the next one made (the
 * lowest free number): so the namespace is its cookie (SO_NETNS_COOKIE), a number never
 * given twice within a boot.
 */
struct kg_netns {
	unsigned long long dev, ino; /* ino 0: unknown (a record written before it was kept) */
	unsigned long long cookie;   /* 0: unknown (such a record, a kernel before 5.14) */
};

/* This thread's network namespace: 0, or -errno. */
int kg_netns_self(struct kg_netns *id);
/* The same namespace: the same inode, and the same cookie where both are known. */
bool kg_netns_same(const struct kg_netns *a, const struct kg_netns *b);

/*
 * An fd (O_RDONLY) on the namespace id names, found through what holds it where this
 * process can look: an nsfs mount of this mount namespace (an `ip netns` name, a
 * container runtime's bind mount), then the processes under /proc in it; a namespace of
 * that inode but another cookie is a later one, not it. where: the path found.
 * -EBUSY when only an open descriptor holds it (where: "process PID, descriptor N"): it
 * lives, but whoever holds it did not give it a name to enter it by. -ENOENT when
 * nothing this process can see holds it: it is gone (or only a socket, or a process of
 * another PID namespace, holds it).
 */
int kg_netns_open(const struct kg_netns *id, char *where, size_t len);

#endif
