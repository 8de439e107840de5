/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers every part of Odyssey uses: cleanup attributes and exact I/O. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p) { free(*(void **) p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Little-endian load/store for wire formats (no alignment assumed). */
static inline uint16_t le16_load(const uint8_t *p) { return (uint16_t) (p[0] | (p[1] << 8)); }
static inline uint32_t le32_load(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}
static inline uint64_t le64_load(const uint8_t *p) {
        return (uint64_t) le32_load(p) | ((uint64_t) le32_load(p + 4) << 32);
}
static inline void le16_store(uint8_t *p, uint16_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static inline void le32_store(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (8 * i));
}
static inline void le64_store(uint8_t *p, uint64_t v) {
        le32_store(p, (uint32_t) v);
        le32_store(p + 4, (uint32_t) (v >> 32));
}

/* Read/write exactly n bytes, retrying on EINTR and short transfers.
 * 0 on success, -EPIPE on EOF before n bytes, -errno otherwise. */
int read_full(int fd, void *buf, size_t n);
int write_full(int fd, const void *buf, size_t n);

/* mkdir -p with the given mode for every created component. */
int mkdir_p(const char *path, mode_t mode);

/* A directory at `path` (created if missing) that is not a symlink and has
 * exactly this owner, group and mode.  0 or -errno. */
int mkdir_owned(const char *path, uid_t uid, gid_t gid, mode_t mode);
/* Every signal to its default action and none blocked: a forked child that
 * is to run something else starts clean. */
void reset_signals(void);
/* A copy of src at dst with mode, replacing dst only once complete. */
int copy_file(const char *src, const char *dst, mode_t mode);

/* A memfd of `size` bytes, sealed against shrinking, growing and more
 * seals (pages shared with other processes): fd or -errno. */
int sealed_memfd_new(const char *name, size_t size);
/* Map such a memfd read-write, shared, once it is exactly `size` bytes and
 * sealed against shrinking (a shrink under the mapping would fault us):
 * 0 and *ret, -EBADF for another memfd, or -errno. */
int sealed_memfd_map(int fd, size_t size, void **ret);

#define FDS_WITH_DATAGRAM_MAX 4
/* One datagram carrying n_fds fds (at most FDS_WITH_DATAGRAM_MAX): bytes sent or -errno. */
ssize_t send_with_fds(int sock, const void *buf, size_t len, int flags, const int *fds, size_t n_fds);
ssize_t send_with_fd(int sock, const void *buf, size_t len, int flags, int fd);
/* One datagram and at most max_fds fds with it (close-on-exec; the rest
 * are closed; *ret_n_fds how many came): bytes received or -errno. */
ssize_t recv_with_fds(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds, size_t *ret_n_fds);
/* The same for one fd: *ret_fd -1 when none came. */
ssize_t recv_with_fd(int sock, void *buf, size_t len, int flags, int *ret_fd);

/* "DIR/NAME" into a fresh string; NULL on ENOMEM. */
char *path_join(const char *dir, const char *name);

/* Parse a decimal unsigned integer with no sign, no spaces, no trailing garbage.
 * 0, -EINVAL or -ERANGE. */
int parse_uint32(const char *s, uint32_t *ret);

/* Monotonic clock in microseconds. */
uint64_t now_usec(void);
/* Wall clock (CLOCK_REALTIME) in microseconds: for times shown to users. */
uint64_t realtime_usec(void);
