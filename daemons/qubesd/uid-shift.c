/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Moving a tree into a domain's uid range (see uid-shift.h). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal.h"
#include "uid-shift.h"
#include "util.h"

/* Deeper than any real root tree; every level holds one fd. */
#define UID_SHIFT_DEPTH_MAX 256

struct shift {
        uint32_t old_base, new_base;
        dev_t dev;
        int error;                      /* the first one */
};

uint32_t uid_shift_id(uint32_t id, uint32_t old_base, uint32_t new_base) {
        /* unsigned: an id below a base wraps around to far outside the range */
        if (id - new_base < HAL_NATIVE_UID_RANGE)
                return id;
        if (id - old_base < HAL_NATIVE_UID_RANGE)
                return id - old_base + new_base;
        return new_base + UID_SHIFT_NOBODY;
}

static void shift_error(struct shift *s, int r) {
        if (s->error == 0)
                s->error = r;
}

/* One entry: name in dirfd, or dirfd itself when name is NULL. */
static void shift_entry(struct shift *s, int dirfd, const char *name, const struct stat *st) {
        uid_t uid = uid_shift_id(st->st_uid, s->old_base, s->new_base);
        gid_t gid = uid_shift_id(st->st_gid, s->old_base, s->new_base);

        if (uid == st->st_uid && gid == st->st_gid)
                return;
        if ((name ? fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) : fchown(dirfd, uid, gid)) < 0) {
                shift_error(s, -errno);
                return;
        }
        /* chown cleared setuid/setgid (and security.capability, which a domain
         * without capabilities has no use for); a symlink has no mode of its own */
        if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
            (name ? fchmodat(dirfd, name, st->st_mode & 07777, 0) : fchmod(dirfd, st->st_mode & 07777)) < 0)
                shift_error(s, -errno);
}

/* The entries of the directory fd (which the walk takes). */
static void shift_dir(struct shift *s, int fd, unsigned depth) {
        DIR *dir;

        if (depth > UID_SHIFT_DEPTH_MAX) {
                close(fd);
                shift_error(s, -ELOOP);
                return;
        }
        dir = fdopendir(fd);
        if (!dir) {
                shift_error(s, -errno);
                close(fd);
                return;
        }
        for (;;) {
                struct dirent *de;
                struct stat st;

                errno = 0;
                de = readdir(dir);
                if (!de) {
                        if (errno != 0)
                                shift_error(s, -errno);
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        shift_error(s, -errno);
                        continue;
                }
                if (S_ISDIR(st.st_mode) && st.st_dev == s->dev) {
                        int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                shift_error(s, -errno);
                        else
                                shift_dir(s, sub, depth + 1);
                }
                /* a mount point inside is left alone, and what is below it */
                if (st.st_dev == s->dev)
                        shift_entry(s, dirfd(dir), de->d_name, &st);
        }
        closedir(dir);
}

int uid_shift_tree(const char *path, uint32_t old_base, uint32_t new_base) {
        struct shift s = { .old_base = old_base, .new_base = new_base };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (old_base != new_base &&
            (old_base - new_base < HAL_NATIVE_UID_RANGE || new_base - old_base < HAL_NATIVE_UID_RANGE))
                return -EINVAL;
        if (old_base > UINT32_MAX - HAL_NATIVE_UID_RANGE || new_base > UINT32_MAX - HAL_NATIVE_UID_RANGE)
                return -ERANGE;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        s.dev = st.st_dev;
        shift_entry(&s, fd, NULL, &st);
        int sub = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (sub < 0)
                return -errno;
        shift_dir(&s, sub, 0);
        return s.error;
}
