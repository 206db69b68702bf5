// SPDX-License-Identifier: Apache-2.0
/* Network namespaces: who we are in, and finding another one again (netns.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/datapath/netns.h"

int kg_netns_self(struct kg_netns *id)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

bool kg_netns_same(const struct kg_netns *a, const struct kg_netns *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Opens path when it is the namespace id (checked again on the descriptor: a process may
 * have exited, and its pid gone to another, since it was looked at): fd, or -1. */
static int open_if(const char *path, const struct kg_netns *id)
{
	struct stat st;
	int fd;

	if (stat(path, &st) || st.st_dev != id->dev || st.st_ino != id->ino)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_dev != id->dev || st.st_ino != id->ino) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A mountinfo path field with its \ooo escapes (space, tab, newline, backslash) undone. */
static void unescape(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (*in && n + 1 < len) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' &&
		    isdigit((unsigned char)in[2]) && isdigit((unsigned char)in[3])) {
			out[n++] = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 4;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = 0;
}

/* The nsfs mounts of this mount namespace: `ip netns add` names, runtimes' bind mounts. */
static int from_mounts(const struct kg_netns *id, char *where, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], point[4096];
	int fd = -1;

	if (!f)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		char *dash = strstr(line, " - "), *p = line;

		if (!dash || strncmp(dash + 3, "nsfs ", 5))
			continue;
		for (int field = 0; field < 4 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (!p)
			continue;
		p[strcspn(p, " ")] = 0;
		unescape(p, point, sizeof(point));
		fd = open_if(point, id);
		if (fd >= 0)
			snprintf(where, len, "%s", point);
	}
	fclose(f);
	return fd;
}

/* A process in it: the agent that attached is one, while it runs. */
static int from_processes(const struct kg_netns *id, char *where, size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300];
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		fd = open_if(path, id);
		if (fd >= 0)
			snprintf(where, len, "process %s", de->d_name);
	}
	closedir(d);
	return fd;
}

int kg_netns_open(const struct kg_netns *id, char *where, size_t len)
{
	int fd = from_mounts(id, where, len);

	if (fd < 0)
		fd = from_processes(id, where, len);
	return fd >= 0 ? fd : -ENOENT;
}
