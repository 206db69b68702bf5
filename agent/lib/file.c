// SPDX-License-Identifier: Apache-2.0
/* Whole-file reads, atomic writes, mkdir -p (agent/lib/lib.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/lib/lib.h"

/* Longest path written atomically (the temporary name adds a dot and a pid). */
#define KG_FILE_PATH_MAX 600

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
