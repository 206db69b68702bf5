// SPDX-License-Identifier: Apache-2.0
/* Network namespaces: who we are in, and finding another one again (netns.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/datapath/netns.h"

/* This thread's namespace's cookie (a socket's: each socket has its namespace's); 0 when
 * the kernel has none to give (before 5.14). */
static unsigned long long self_cookie(void)
{
	unsigned long long c = 0;
	socklen_t len = sizeof(c);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len))
		c = 0;
	close(fd);
	return c;
}

int kg_netns_self(struct kg_netns *id)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->cookie = self_cookie();
	return 0;
}

bool kg_netns_same(const struct kg_netns *a, const struct kg_netns *b)
{
	return a->dev == b->dev && a->ino == b->ino &&
	       (!a->cookie || !b->cookie || a->cookie == b->cookie);
}

/*
 * Whether the namespace fd is on has the cookie id names (a later namespace may have its
 * inode number): looked at from inside, this thread going in and back. True when either
 * is unknown, or when it cannot go in to look (the inode then decides, as before cookies).
 */
static bool cookie_matches(int fd, const struct kg_netns *id)
{
	unsigned long long c;
	int back;

	if (!id->cookie)
		return true;
	back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back < 0)
		return true;
	if (setns(fd, CLONE_NEWNET)) {
		close(back);
		return true;
	}
	c = self_cookie();
	if (setns(back, CLONE_NEWNET))
		fprintf(stderr, "kgate: back to our network namespace: %s\n", strerror(errno));
	close(back);
	return !c || c == id->cookie;
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

/* Of process pid: its namespace, or (descriptors) one of its open descriptors on it. */
static int from_process(const char *pid, const struct kg_netns *id, bool descriptors,
			char *where, size_t len)
{
	struct dirent *fe;
	char path[300];
	int fd = -1;
	DIR *fds;

	if (!descriptors) {
		snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
		fd = open_if(path, id);
		if (fd >= 0)
			snprintf(where, len, "process %s", pid);
		return fd;
	}
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fds = opendir(path);
	if (!fds)
		return -1;
	while (fd < 0 && (fe = readdir(fds))) {
		if (fe->d_name[0] == '.')
			continue;
		/* by what it is (stat follows the descriptor), not by its link text: one opened
		 * through a mount reads as that path, or "/" once unmounted */
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fe->d_name);
		fd = open_if(path, id);
		if (fd >= 0)
			snprintf(where, len, "process %s, descriptor %s", pid, fe->d_name);
	}
	closedir(fds);
	return fd;
}

/* A process in it (the agent that attached is one, while it runs), or (descriptors) a
 * process holding it open: an fd on it, where naming what; or -1. */
static int from_processes(const struct kg_netns *id, bool descriptors, char *where,
			  size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			fd = from_process(de->d_name, id, descriptors, where, len);
	closedir(d);
	return fd;
}

int kg_netns_open(const struct kg_netns *id, char *where, size_t len)
{
	bool held = false;
	int fd = from_mounts(id, where, len);

	if (fd < 0)
		fd = from_processes(id, false, where, len);
	if (fd < 0) {
		fd = from_processes(id, true, where, len);
		held = fd >= 0;
	}
	if (fd < 0)
		return -ENOENT;
	/* that inode, but a later namespace: the one named is gone (a live one's inode is its
	 * own, so nothing else holds it either) */
	if (!cookie_matches(fd, id)) {
		close(fd);
		return -ENOENT;
	}
	if (held) {
		/* it lives; entering it through another program's descriptor is the operator's
		 * call (the holder may be taking it down), not something detach does on its own */
		close(fd);
		return -EBUSY;
	}
	return fd;
}
