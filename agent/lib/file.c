// SPDX-License-Identifier: Apache-2.0
/* Whole-file reads, atomic writes, mkdir -p (agent/lib/lib.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/lib/lib.h"

/* Longest path written atomically (the temporary name adds a dot and a pid). */
#define KG_FILE_PATH_MAX 600
/*
 * Times kg_lock_file opens its file again because it was replaced under it (each
 * replacement is of a file others could open, or by another locker): more -> -EAGAIN.
 * Only a process that keeps replacing the file could make it run out.
 */
#define KG_LOCK_REOPENS 16

int kg_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	const char *base = strrchr(name, '/');
	char tmp[KG_FILE_PATH_MAX + 32];
	int fd, err = 0;

	if (strlen(name) > KG_FILE_PATH_MAX)
		return -ENAMETOOLONG;
	/* beside the file (a rename works within one filesystem), hidden, one per process */
	base = base ? base + 1 : name;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%d", (int)(base - name), name, base, getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (len && write(fd, data, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && renameat(dirfd, tmp, dirfd, name))
		err = -errno;
	if (err)
		unlinkat(dirfd, tmp, 0);
	return err;
}

char *kg_read_file(const char *path, size_t max, size_t *len, int *e)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*e = 0;
	if (!f) {
		*e = -errno;
		return NULL;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				*e = -ENOMEM;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (n > max) {
			*e = -EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				*e = -EIO;
			break;
		}
	}
	fclose(f);
	if (*e) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

int kg_mkdir_p(const char *path, mode_t mode)
{
	char buf[512];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether a lock file could be opened (and so flock'ed) by anyone but its owner, us. */
static bool lock_loose(const struct stat *st)
{
	return (st->st_mode & 077) || st->st_uid != geteuid() || !S_ISREG(st->st_mode);
}

/* A fresh 0600 file renamed over path: the old one, and whoever holds it, are out. */
static int lock_replace(const char *path)
{
	char tmp[KG_FILE_PATH_MAX + 32];
	int fd;

	if (strlen(path) > KG_FILE_PATH_MAX)
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.new.%d", path, getpid());
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	if (rename(tmp, path)) {
		int e = -errno;

		unlink(tmp);
		return e;
	}
	return 0;
}

int kg_lock_file(const char *path, int how)
{
	for (int i = 0; i < KG_LOCK_REOPENS; i++) {
		struct stat held, now;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), e;

		/* a symbolic link in its place is replaced like a loose file */
		if (fd < 0 && errno == ELOOP) {
			if ((e = lock_replace(path)))
				return e;
			continue;
		}
		if (fd < 0)
			return -errno;
		if (fstat(fd, &held)) {
			e = -errno;
			close(fd);
			return e;
		}
		if (lock_loose(&held)) {
			close(fd);
			if ((e = lock_replace(path)))
				return e;
			continue;
		}
		if (flock(fd, how)) {
			e = -errno;
			close(fd);
			return e;
		}
		/* the file we hold must still be the one at path (another locker may have
		 * replaced a loose one while we waited) */
		if (!stat(path, &now) && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}
