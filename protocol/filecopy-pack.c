/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The file-copy stream's layout, its CRC and the sender (see filecopy.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy.h"
#include "util.h"

#define PROGRESS_STEP ((uint64_t) 4 * 1024 * 1024)
#define COPY_CHUNK (64 * 1024)

void filecopy_header_encode(const struct filecopy_header *h, uint8_t buf[FILECOPY_HEADER_SIZE]) {
        le32_store(buf, h->namelen);
        le32_store(buf + 4, h->mode);
        le64_store(buf + 8, h->filelen);
        le32_store(buf + 16, h->atime);
        le32_store(buf + 20, h->atime_nsec);
        le32_store(buf + 24, h->mtime);
        le32_store(buf + 28, h->mtime_nsec);
}

void filecopy_header_decode(const uint8_t buf[FILECOPY_HEADER_SIZE], struct filecopy_header *h) {
        h->namelen = le32_load(buf);
        h->mode = le32_load(buf + 4);
        h->filelen = le64_load(buf + 8);
        h->atime = le32_load(buf + 16);
        h->atime_nsec = le32_load(buf + 20);
        h->mtime = le32_load(buf + 24);
        h->mtime_nsec = le32_load(buf + 28);
}

uint32_t filecopy_crc32(uint32_t crc, const void *buf, size_t n) {
        static uint32_t table[256];
        const uint8_t *p = buf;

        if (!table[1])
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;

                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                        table[i] = c;
                }
        crc = ~crc;
        while (n--)
                crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}

void filecopy_sender_init(struct filecopy_sender *s, int out_fd) {
        *s = (struct filecopy_sender) { .out_fd = out_fd };
}

static int send_bytes(struct filecopy_sender *s, const void *buf, size_t n) {
        int r = write_full(s->out_fd, buf, n);

        if (r < 0)
                return r;
        s->crc = filecopy_crc32(s->crc, buf, n);
        s->bytes_sent += n;
        if (s->progress && s->bytes_sent - s->last_progress >= PROGRESS_STEP) {
                s->last_progress = s->bytes_sent;
                s->progress(s->bytes_sent, s->userdata);
        }
        return 0;
}

static int send_header(struct filecopy_sender *s, const char *name, const struct stat *st, uint64_t filelen) {
        struct filecopy_header h = {
                .namelen = (uint32_t) strlen(name) + 1,
                .mode = st->st_mode,
                .filelen = filelen,
                .atime = (uint32_t) st->st_atim.tv_sec,
                .atime_nsec = (uint32_t) st->st_atim.tv_nsec,
                .mtime = (uint32_t) st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t) st->st_mtim.tv_nsec,
        };
        uint8_t buf[FILECOPY_HEADER_SIZE];
        int r;

        if (h.namelen > FILECOPY_MAX_PATH_LENGTH)
                return -ENAMETOOLONG;
        filecopy_header_encode(&h, buf);
        r = send_bytes(s, buf, sizeof(buf));
        if (r < 0)
                return r;
        return send_bytes(s, name, h.namelen);
}

static int send_file_data(struct filecopy_sender *s, int fd, uint64_t size) {
        _cleanup_free_ uint8_t *buf = malloc(COPY_CHUNK);

        if (!buf)
                return -ENOMEM;
        while (size > 0) {
                size_t want = size < COPY_CHUNK ? (size_t) size : COPY_CHUNK;
                int r = read_full(fd, buf, want);

                if (r < 0)
                        return r == -EPIPE ? -EIO : r;  /* the file shrank while we sent it */
                r = send_bytes(s, buf, want);
                if (r < 0)
                        return r;
                size -= want;
        }
        return 0;
}

/* One entry at dir_fd/leaf, sent as `name`. */
static int send_entry(struct filecopy_sender *s, int dir_fd, const char *leaf, const char *name) {
        struct stat st;
        int r;

        if (fstatat(dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int fd = openat(dir_fd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

                if (fd < 0)
                        return -errno;
                r = send_header(s, name, &st, (uint64_t) st.st_size);
                return r < 0 ? r : send_file_data(s, fd, (uint64_t) st.st_size);
        }
        if (S_ISLNK(st.st_mode)) {
                char target[FILECOPY_MAX_PATH_LENGTH];
                ssize_t n;

                if (s->ignore_symlinks)
                        return 0;
                n = readlinkat(dir_fd, leaf, target, sizeof(target));
                if (n < 0)
                        return -errno;
                if ((size_t) n >= sizeof(target))
                        return -ENAMETOOLONG;
                r = send_header(s, name, &st, (uint64_t) n);
                return r < 0 ? r : send_bytes(s, target, (size_t) n);
        }
        if (!S_ISDIR(st.st_mode))
                return -EOPNOTSUPP;     /* devices, fifos, sockets: not copied */

        int fd = openat(dir_fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        r = send_header(s, name, &st, 0);
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                _cleanup_free_ char *child = NULL;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                child = path_join(name, de->d_name);
                r = child ? send_entry(s, dirfd(d), de->d_name, child) : -ENOMEM;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        /* Again after the contents, so the receiver sets its times last. */
        return r < 0 ? r : send_header(s, name, &st, 0);
}

int filecopy_send_path(struct filecopy_sender *s, const char *path) {
        _cleanup_free_ char *copy = strdup(path), *dir = NULL;
        _cleanup_close_ int dir_fd = -1;
        char *slash, *leaf;

        if (!copy)
                return -ENOMEM;
        /* "a/b/" names "b"; "/" and "." / ".." have no name to send. */
        for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
                copy[n - 1] = '\0';
        slash = strrchr(copy, '/');
        leaf = slash ? slash + 1 : copy;
        if (!*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
                return -EINVAL;
        if (slash == copy)
                dir = strdup("/");
        else if (slash) {
                *slash = '\0';
                dir = strdup(copy);
        } else
                dir = strdup(".");
        if (!dir)
                return -ENOMEM;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return send_entry(s, dir_fd, leaf, leaf);
}

int filecopy_send_end(struct filecopy_sender *s, int in_fd) {
        struct filecopy_header end = {};
        uint8_t buf[FILECOPY_HEADER_SIZE];
        int r;

        filecopy_header_encode(&end, buf);
        r = send_bytes(s, buf, sizeof(buf));
        /* A receiver that refused the copy stopped reading: its result says why. */
        if (r < 0 && r != -EPIPE)
                return r;
        return filecopy_read_result(s, in_fd);
}

int filecopy_read_result(struct filecopy_sender *s, int in_fd) {
        uint8_t result[FILECOPY_RESULT_SIZE];
        uint32_t error, crc;
        int r;

        r = read_full(in_fd, result, sizeof(result));
        if (r < 0)
                return r;
        error = le32_load(result);
        crc = (uint32_t) le64_load(result + 8);
        if (error != 0)
                return error < 4096 ? -(int) error : -EIO;
        return crc == s->crc ? 0 : -EIO;
}
