/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exact I/O, directory creation, path and number helpers (see util.h). */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

int read_full(int fd, void *buf, size_t n) {
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EPIPE;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int write_full(int fd, const void *buf, size_t n) {
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;    /* would loop forever otherwise */
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Create one directory; an existing directory is fine, anything else there is not. */
static int mkdir_one(const char *path, mode_t mode) {
        struct stat st;

        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = NULL;

        if (!path || !*path)
                return -EINVAL;
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;

        /* Walk the components left to right, creating each prefix. */
        for (char *slash = copy + 1; (slash = strchr(slash, '/')); slash++) {
                if (slash[-1] == '/')
                        continue;       /* "a//b" */
                *slash = '\0';
                int r = mkdir_one(copy, mode);
                *slash = '/';
                if (r < 0)
                        return r;
        }
        return mkdir_one(copy, mode);
}

int mkdir_owned(const char *path, uid_t uid, gid_t gid, mode_t mode) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

char *path_join(const char *dir, const char *name) {
        size_t dir_len = strlen(dir), name_len;
        char *joined;

        while (dir_len > 1 && dir[dir_len - 1] == '/')
                dir_len--;
        while (*name == '/')
                name++;
        name_len = strlen(name);

        joined = malloc(dir_len + 1 + name_len + 1);
        if (!joined)
                return NULL;
        memcpy(joined, dir, dir_len);
        if (dir_len > 0 && dir[dir_len - 1] != '/')
                joined[dir_len++] = '/';
        memcpy(joined + dir_len, name, name_len + 1);
        return joined;
}

int parse_uint32(const char *s, uint32_t *ret) {
        uint64_t value = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                value = value * 10 + (uint64_t) (*p - '0');
                if (value > UINT32_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t) value;
        return 0;
}

static uint64_t clock_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t now_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

uint64_t realtime_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}
