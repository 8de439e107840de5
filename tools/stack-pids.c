/* SPDX-License-Identifier: GPL-2.0-or-later */
/* odyssey-stack: stack.pids, keeper.pid, and what became of the processes they name. */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>

#include "log.h"
#include "stack.h"

#define PROC_FILE_MAX (64 * 1024)

/* The whole of a small file (procfs files have no size to ask for). */
static int read_small_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;

        if (fd < 0)
                return -errno;
        text = malloc(PROC_FILE_MAX + 1);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, text + size, PROC_FILE_MAX - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size == PROC_FILE_MAX)
                        return -EFBIG;
        }
        text[size] = '\0';
        *ret = TAKE_PTR(text);
        if (ret_size)
                *ret_size = size;
        return 0;
}

static int write_file_atomic(const char *path, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        r = write_full(fd, text, strlen(text));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int stack_read_pids(const char *path, struct stack_entry **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct stack_entry *entries = NULL;
        size_t n = 0;
        char *saveptr = NULL;
        int r;

        r = read_small_file(path, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *space = strchr(line, ' ');
                uint32_t pid;

                if (!space || (size_t) (space - line) >= sizeof(entries->name) || space == line)
                        return -EBADMSG;
                *space = '\0';
                if (parse_uint32(space + 1, &pid) < 0 || pid <= 1 || pid > INT32_MAX)
                        return -EBADMSG;
                struct stack_entry *grown = reallocarray(entries, n + 1, sizeof(*entries));
                if (!grown)
                        return -ENOMEM;
                entries = grown;
                snprintf(entries[n].name, sizeof(entries[n].name), "%s", line);
                entries[n++].pid = (pid_t) pid;
        }
        *ret = TAKE_PTR(entries);
        *ret_n = n;
        return 0;
}

int stack_write_pids(const char *path, const struct stack_entry *entries, size_t n) {
        _cleanup_free_ char *text = calloc(n + 1, sizeof(entries->name) + 16);
        size_t used = 0;

        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                used += (size_t) sprintf(text + used, "%s %i\n", entries[i].name, (int) entries[i].pid);
        return write_file_atomic(path, text);
}

int stack_read_pid_file(const char *path, pid_t *ret) {
        _cleanup_free_ char *text = NULL;
        uint32_t pid;
        int r;

        r = read_small_file(path, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = '\0';
        if (parse_uint32(text, &pid) < 0 || pid <= 1 || pid > INT32_MAX)
                return -EBADMSG;
        *ret = (pid_t) pid;
        return 0;
}

int stack_write_pid_file(const char *path, pid_t pid) {
        char text[32];

        snprintf(text, sizeof(text), "%i\n", (int) pid);
        return write_file_atomic(path, text);
}

/* Alive: exists and is not a zombie waiting for its parent. */
bool stack_process_alive(pid_t pid) {
        char path[64], state[8];

        snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
        _cleanup_free_ char *text = NULL;
        if (read_small_file(path, &text, NULL) < 0)
                return false;
        /* "pid (comm) S ...": comm may hold anything, so look after the last ')'. */
        const char *paren = strrchr(text, ')');
        if (!paren || sscanf(paren + 1, " %7s", state) != 1)
                return false;
        return state[0] != 'Z' && state[0] != 'X';
}

/* Guards against pid reuse: the daemons the launcher started carry this
 * stack's NOTIFY_SOCKET in their environment, the keeper sits in run/. */
bool stack_process_ours(const struct stack *s, pid_t pid) {
        char path[64];
        _cleanup_free_ char *text = NULL, *wanted = NULL, *cwd = NULL;
        size_t size;
        int r;

        snprintf(path, sizeof(path), "/proc/%i/environ", (int) pid);
        r = read_small_file(path, &text, &size);
        if (r == -EACCES || r == -EPERM)
                return true;    /* cannot tell without privileges: trust stack.pids */
        if (r < 0)
                return false;
        if (asprintf(&wanted, "NOTIFY_SOCKET=%s", s->notify_path) < 0)
                return true;
        for (size_t off = 0; off < size; off += strlen(text + off) + 1)
                if (strcmp(text + off, wanted) == 0)
                        return true;

        snprintf(path, sizeof(path), "/proc/%i/cwd", (int) pid);
        cwd = realpath(path, NULL);
        _cleanup_free_ char *run_dir = realpath(s->run_dir, NULL);
        return cwd && run_dir && strcmp(cwd, run_dir) == 0;
}

int stack_proc_status_field(pid_t pid, const char *field, char *buf, size_t size) {
        char path[64], key[64];
        _cleanup_free_ char *text = NULL;
        int r;

        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        r = read_small_file(path, &text, NULL);
        if (r < 0)
                return r;
        snprintf(key, sizeof(key), "\n%s:", field);
        const char *p = strstr(text, key);
        if (!p)
                return -ENOENT;
        p += strlen(key);
        p += strspn(p, " \t");
        snprintf(buf, size, "%.*s", (int) strcspn(p, "\n"), p);
        return 0;
}

/* Wait until every pidfd in fds[] (-1: done) is readable, i.e. its process has exited. */
static size_t wait_exits(int *fds, size_t n, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        size_t left;

        for (;;) {
                struct pollfd pfds[n];
                size_t map[n];
                left = 0;
                for (size_t i = 0; i < n; i++)
                        if (fds[i] >= 0) {
                                pfds[left] = (struct pollfd) { .fd = fds[i], .events = POLLIN };
                                map[left++] = i;
                        }
                uint64_t now = now_usec();
                if (left == 0 || now >= deadline)
                        return left;
                int k = poll(pfds, left, (int) ((deadline - now + 999) / 1000));
                if (k < 0 && errno != EINTR)
                        return left;
                for (size_t j = 0; k > 0 && j < left; j++)
                        if (pfds[j].revents) {
                                close(fds[map[j]]);
                                fds[map[j]] = -1;
                        }
        }
}

int stack_terminate(const pid_t *pids, const char *const *names, size_t n, uint64_t timeout_usec) {
        if (n == 0)
                return 0;

        int fds[n];
        size_t left;

        for (size_t i = 0; i < n; i++) {
                fds[i] = pidfd_open(pids[i], 0);
                if (fds[i] < 0)
                        continue;       /* already gone */
                if (pidfd_send_signal(fds[i], SIGTERM, NULL, 0) < 0 && errno == ESRCH) {
                        close(fds[i]);
                        fds[i] = -1;
                }
        }
        left = wait_exits(fds, n, timeout_usec);
        if (left == 0)
                return 0;

        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0) {
                        fprintf(stderr, "odyssey-stack: %s (pid %i) did not stop within %" PRIu64 " s, killing it\n",
                                names[i], (int) pids[i], timeout_usec / 1000000);
                        (void) pidfd_send_signal(fds[i], SIGKILL, NULL, 0);
                }
        left = wait_exits(fds, n, 5 * UINT64_C(1000000));
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return left == 0 ? 0 : -ETIMEDOUT;
}

bool stack_wait_exit(pid_t pid, uint64_t timeout_usec) {
        int fd = pidfd_open(pid, 0);

        if (fd < 0)
                return true;    /* already gone */
        bool exited = wait_exits(&fd, 1, timeout_usec) == 0;   /* closes fd once it exited */
        if (!exited)
                close(fd);
        return exited;
}
