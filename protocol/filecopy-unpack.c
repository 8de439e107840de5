/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The strict receiver of the file-copy stream (see filecopy.h).  Every entry
 * is created beneath the target directory fd by walking its checked name one
 * component at a time with O_NOFOLLOW | O_DIRECTORY, so neither a symlink
 * sent earlier nor one planted by someone else is ever followed.  Regular
 * files are created O_EXCL; a symlink's target must stay inside the copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy.h"
#include "utf8.h"
#include "util.h"

#define COPY_CHUNK (64 * 1024)

struct unpacker {
        int in_fd;
        int dir_fd;
        const struct filecopy_unpack_options *opts;
        struct filecopy_unpack_result *result;
};

static int receive(struct unpacker *u, void *buf, size_t n) {
        int r = read_full(u->in_fd, buf, n);

        if (r < 0)
                return r;
        u->result->crc = filecopy_crc32(u->result->crc, buf, n);
        return 0;
}

bool filecopy_name_valid(const char *name, bool require_utf8) {
        const char *p = name;

        if (!*name || *name == '/')
                return false;
        for (;;) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!p[n])
                        break;
                p += n + 1;
        }
        return !require_utf8 || utf8_valid(name, strlen(name));
}

/* A symlink at `name` pointing to `target` stays inside the copy: relative,
 * its ".." components all at the start and no more of them than the
 * directories the link lives in.  A ".." after a name could climb out
 * through another link of the copy ("d" -> ".", then "e" -> "d/.."). */
static bool symlink_target_inside(const char *name, const char *target) {
        bool descended = false;
        long depth = 0;

        if (!*target || *target == '/')
                return false;
        for (const char *p = name; (p = strchr(p, '/')); p++)
                depth++;                /* directories the link lives in */
        for (const char *p = target;;) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (descended || --depth < 0)
                                return false;
                } else if (n > 0 && !(n == 1 && p[0] == '.'))
                        descended = true;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

/* The directory holding the last component of `name`, as an fd, walking
 * from the target dir without following symlinks; *ret_leaf points into
 * name. */
static int open_parent(int root_fd, char *name, const char **ret_leaf) {
        int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        char *p = name;

        if (fd < 0)
                return -errno;
        for (char *slash; (slash = strchr(p, '/')); p = slash + 1) {
                int next;

                *slash = '\0';
                next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                *slash = '/';
                close(fd);
                if (next < 0)
                        return errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : -errno;
                fd = next;
        }
        *ret_leaf = p;
        return fd;
}

static void set_times(int fd, const char *leaf, const struct filecopy_header *h, int flags) {
        struct timespec times[2] = {
                { .tv_sec = h->atime, .tv_nsec = h->atime_nsec < 1000000000 ? h->atime_nsec : 0 },
                { .tv_sec = h->mtime, .tv_nsec = h->mtime_nsec < 1000000000 ? h->mtime_nsec : 0 },
        };

        (void) utimensat(fd, leaf, times, flags);
}

static int receive_file(struct unpacker *u, int parent, const char *leaf, const struct filecopy_header *h) {
        _cleanup_free_ uint8_t *buf = malloc(COPY_CHUNK);
        _cleanup_close_ int fd = -1;
        uint64_t left = h->filelen;
        int r;

        if (!buf)
                return -ENOMEM;
        fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        while (left > 0) {
                size_t want = left < COPY_CHUNK ? (size_t) left : COPY_CHUNK;

                r = receive(u, buf, want);
                if (r < 0)
                        return r;
                r = write_full(fd, buf, want);
                if (r < 0)
                        return r;
                left -= want;
        }
        if (fchmod(fd, h->mode & 0777) < 0)
                return -errno;
        set_times(fd, "", h, AT_EMPTY_PATH);
        return 0;
}

static int receive_symlink(struct unpacker *u, int parent, const char *leaf, const char *name,
                           const struct filecopy_header *h) {
        char untrusted_target[FILECOPY_MAX_PATH_LENGTH + 1];
        int r;

        if (h->filelen == 0 || h->filelen > FILECOPY_MAX_PATH_LENGTH)
                return -EMSGSIZE;
        r = receive(u, untrusted_target, (size_t) h->filelen);
        if (r < 0)
                return r;
        untrusted_target[h->filelen] = '\0';
        if (strlen(untrusted_target) != h->filelen || !symlink_target_inside(name, untrusted_target) ||
            (u->opts->require_utf8 && !utf8_valid(untrusted_target, (size_t) h->filelen)))
                return -EINVAL;
        if (symlinkat(untrusted_target, parent, leaf) < 0)
                return -errno;
        set_times(parent, leaf, h, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static int receive_directory(int parent, const char *leaf, const struct filecopy_header *h) {
        struct stat st;

        if (mkdirat(parent, leaf, 0700) < 0) {
                if (errno != EEXIST)
                        return -errno;
                /* Seen before (its second header), or already there: only
                 * a real directory will do. */
                if (fstatat(parent, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -EEXIST;
        }
        /* Owner access kept, or the rest of the copy could not land in it. */
        if (fchmodat(parent, leaf, (h->mode & 0777) | 0700, 0) < 0)
                return -errno;
        set_times(parent, leaf, h, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static int receive_entry(struct unpacker *u, const struct filecopy_header *h) {
        _cleanup_free_ char *untrusted_name = NULL, *name = NULL;
        _cleanup_close_ int parent = -1;
        const char *leaf = NULL;
        int r;

        if (h->namelen > FILECOPY_MAX_PATH_LENGTH)
                return -EMSGSIZE;
        untrusted_name = malloc(h->namelen);
        if (!untrusted_name)
                return -ENOMEM;
        r = receive(u, untrusted_name, h->namelen);
        if (r < 0)
                return r;
        /* One string that fills namelen exactly. */
        if (untrusted_name[h->namelen - 1] != '\0' || strlen(untrusted_name) != h->namelen - 1)
                return -EINVAL;
        /* Kept for the sender's error message, cut to size. */
        strncpy(u->result->last_name, untrusted_name, sizeof(u->result->last_name) - 1);
        u->result->last_name[sizeof(u->result->last_name) - 1] = '\0';
        if (!filecopy_name_valid(untrusted_name, u->opts->require_utf8))
                return -EINVAL;
        name = TAKE_PTR(untrusted_name);        /* checked */

        if (u->opts->max_files && ++u->result->files > u->opts->max_files)
                return -EMSGSIZE;
        if (S_ISREG(h->mode) || S_ISLNK(h->mode)) {
                u->result->bytes += h->filelen;
                if (h->filelen > INT64_MAX || (u->opts->max_bytes && u->result->bytes > u->opts->max_bytes))
                        return -EMSGSIZE;
        }
        parent = open_parent(u->dir_fd, name, &leaf);
        if (parent < 0)
                return parent;
        if (S_ISDIR(h->mode))
                return h->filelen == 0 ? receive_directory(parent, leaf, h) : -EINVAL;
        if (S_ISREG(h->mode))
                return receive_file(u, parent, leaf, h);
        if (S_ISLNK(h->mode))
                return receive_symlink(u, parent, leaf, name, h);
        return -EINVAL;                 /* devices, fifos, sockets: never */
}

int filecopy_unpack(int in_fd, int dir_fd, const struct filecopy_unpack_options *opts,
                    struct filecopy_unpack_result *ret) {
        static const struct filecopy_unpack_options defaults = {};
        struct unpacker u = { .in_fd = in_fd, .dir_fd = dir_fd, .opts = opts ?: &defaults, .result = ret };

        *ret = (struct filecopy_unpack_result) {};
        for (;;) {
                uint8_t buf[FILECOPY_HEADER_SIZE];
                struct filecopy_header h;
                int r;

                r = receive(&u, buf, sizeof(buf));
                if (r < 0)
                        return r;
                filecopy_header_decode(buf, &h);
                if (h.namelen == 0)
                        return 0;       /* the end */
                r = receive_entry(&u, &h);
                if (r < 0)
                        return r;
        }
}

int filecopy_send_result(int out_fd, int error, const struct filecopy_unpack_result *r) {
        size_t namelen = strlen(r->last_name);
        uint8_t buf[FILECOPY_RESULT_SIZE + 4 + sizeof(r->last_name)];

        le32_store(buf, (uint32_t) (error < 0 ? -error : error));
        le32_store(buf + 4, 0);
        le64_store(buf + 8, r->crc);
        le32_store(buf + 16, (uint32_t) namelen);
        memcpy(buf + 20, r->last_name, namelen);
        return write_full(out_fd, buf, FILECOPY_RESULT_SIZE + 4 + namelen);
}
