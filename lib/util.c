/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exact I/O, directory creation, path and number helpers (see util.h). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

void reset_signals(void) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
}

int copy_file(const char *src, const char *dst, mode_t mode) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        _cleanup_free_ char *tmp = NULL;
        ssize_t n;
        int r = 0;

        if (asprintf(&tmp, "%s.tmp", dst) < 0)
                return -ENOMEM;
        in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
        if (out < 0)
                return -errno;
        while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
                ;
        if (n < 0) {
                /* across file systems on older kernels, or a file system without it */
                char buf[65536];
                ssize_t got;

                if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
                        r = -errno;
                while (r == 0 && (got = read(in, buf, sizeof(buf))) != 0) {
                        if (got < 0 || write_full(out, buf, (size_t) got) < 0)
                                r = got < 0 ? -errno : -EIO;
                }
        }
        if (r == 0 && fchmod(out, mode) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, dst) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
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

int sealed_memfd_new(const char *name, size_t size) {
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int sealed_memfd_map(int fd, size_t size, void **ret) {
        struct stat st;
        void *p;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size < 0 || (size_t) st.st_size != size || !(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK))
                return -EBADF;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *ret = p;
        return 0;
}

ssize_t send_with_fds(int sock, const void *buf, size_t len, int flags, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * FDS_WITH_DATAGRAM_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        if (n_fds == 0 || n_fds > FDS_WITH_DATAGRAM_MAX)
                return -EINVAL;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        ssize_t n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
}

ssize_t send_with_fd(int sock, const void *buf, size_t len, int flags, int fd) {
        return send_with_fds(sock, buf, len, flags, &fd, 1);
}

ssize_t recv_with_fds(int sock, void *buf, size_t len, int flags, int *fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * FDS_WITH_DATAGRAM_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);

        *ret_n_fds = 0;
        if (n < 0)
                return -errno;
        /* The kernel drops what did not fit the buffer (MSG_CTRUNC); of what
         * did, only the first max_fds are kept. */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (*ret_n_fds < max_fds)
                                fds[(*ret_n_fds)++] = fd;
                        else
                                close(fd);
                }
        }
        return n;
}

ssize_t recv_with_fd(int sock, void *buf, size_t len, int flags, int *ret_fd) {
        size_t n_fds;
        ssize_t n = recv_with_fds(sock, buf, len, flags, ret_fd, 1, &n_fds);

        if (n_fds == 0)
                *ret_fd = -1;
        return n;
}
