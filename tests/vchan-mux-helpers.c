/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vchan-mux-helpers.h"
#include "vchan-socket.h"

char mux_tmp[64];
char mux_host_dir[PATH_MAX];
char mux_guest_dir[PATH_MAX];

#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static unsigned n_children;

static long long now_ms(void) {
        return (long long) (now_usec() / 1000);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

void mux_setup(void) {
        snprintf(mux_tmp, sizeof(mux_tmp), "/tmp/test-vchan-mux.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(mux_tmp));
        snprintf(mux_host_dir, sizeof(mux_host_dir), "%s/host", mux_tmp);
        snprintf(mux_guest_dir, sizeof(mux_guest_dir), "%s/guest", mux_tmp);
        ck_assert_int_eq(mkdir(mux_host_dir, 0770), 0);
        ck_assert_int_eq(mkdir(mux_guest_dir, 0755), 0);
        n_children = 0;
        signal(SIGPIPE, SIG_IGN);
}

void mux_teardown(void) {
        char cmd[PATH_MAX + 16];

        for (unsigned i = 0; i < n_children; i++) {
                if (kill(children[i], SIGKILL) == 0)
                        (void) waitpid(children[i], NULL, 0);
        }
        n_children = 0;
        if (getenv("VCHAN_MUX_TEST_KEEP")) {
                fprintf(stderr, "kept %s\n", mux_tmp);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", mux_tmp);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", mux_tmp);
}

pid_t mux_spawn(const char *const *extra, int fd, const char *log) {
        return mux_spawn_limited(extra, fd, log, 0);
}

pid_t mux_spawn_limited(const char *const *extra, int fd, const char *log, unsigned nofile) {
        const char *argv[32];
        char fd_text[16];
        unsigned n = 0;
        pid_t pid;

        argv[n++] = AGENTS_BINDIR "/odyssey-vchan-mux";
        for (; extra && *extra && n < ELEMENTSOF(argv) - 3; extra++)
                argv[n++] = *extra;
        if (fd >= 0) {
                snprintf(fd_text, sizeof(fd_text), "%d", fd);
                argv[n++] = "--fd";
                argv[n++] = fd_text;
        }
        argv[n] = NULL;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                        _exit(126);
                if (fd >= 0)
                        (void) fcntl(fd, F_SETFD, 0);
                if (nofile) {
                        struct rlimit rl = { .rlim_cur = nofile, .rlim_max = nofile };
                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                _exit(125);
                }
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        ck_assert_uint_lt(n_children, MAX_CHILDREN);
        children[n_children++] = pid;
        return pid;
}

pid_t mux_spawn_host(int fd) {
        char domid[16], log[PATH_MAX];
        pid_t pid;

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(log, sizeof(log), "%s/host.log", mux_tmp);
        const char *args[] = { "--side", "host", "--domid", domid, "--dir", mux_host_dir, NULL };
        pid = mux_spawn(args, fd, log);
        close(fd);
        return pid;
}

void mux_start_pair(pid_t *host, pid_t *guest) {
        char domid[16], guest_log[PATH_MAX];
        int sv[2];

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(guest_log, sizeof(guest_log), "%s/guest.log", mux_tmp);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        const char *guest_args[] = { "--side", "guest", "--domid", domid, "--dir", mux_guest_dir, NULL };
        *host = mux_spawn_host(sv[0]);
        *guest = mux_spawn(guest_args, sv[1], guest_log);
        close(sv[1]);
}

int mux_wait_exit(pid_t pid, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid) {
                        for (unsigned i = 0; i < n_children; i++)
                                if (children[i] == pid)
                                        children[i] = children[--n_children];
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                if (r < 0 || now_ms() > deadline)
                        return -1;
                sleep_ms(5);
        }
}

char *mux_path(const char *dir, const char *name) {
        static char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return path;
}

bool wait_for_file(const char *path, bool present, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        struct stat st;

        for (;;) {
                if ((lstat(path, &st) == 0) == present)
                        return true;
                if (now_ms() > deadline)
                        return false;
                sleep_ms(2);
        }
}

bool file_contains(const char *path, const char *text) {
        char buf[65536];
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return false;
        buf[n] = 0;
        return strstr(buf, text) != NULL;
}

long process_rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

int listen_at(const char *dir, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(vchan_socket_publish(fd, &sa, 128), 0);
        return fd;
}

int connect_to(const char *dir, const char *name) {
        int fd = vchan_socket_connect_path(mux_path(dir, name));

        ck_assert_msg(fd >= 0, "connect to %s/%s: %s", dir, name, strerror(-fd));
        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        return fd;
}

int accept_one(int listen_fd, int timeout_ms) {
        struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };

        if (poll(&pfd, 1, timeout_ms) <= 0)
                return -1;
        return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

uint8_t pump_byte(uint64_t i, unsigned seed) {
        return (uint8_t) ((i * 131u) ^ (i >> 9) ^ (seed * 77u));
}

struct flow {
        int from, to;
        unsigned seed;
        uint64_t sent, received;
        bool shut, eof, bad;
};

static bool pump_flows(unsigned n, struct flow *flows, uint64_t bytes, int timeout_ms) {
        _cleanup_free_ struct pollfd *pfds = calloc(2 * n, sizeof(*pfds));
        _cleanup_free_ uint8_t *buf = malloc(65536);
        long long deadline = now_ms() + timeout_ms;

        ck_assert_ptr_nonnull(pfds);
        ck_assert_ptr_nonnull(buf);
        for (;;) {
                unsigned done = 0;

                for (unsigned i = 0; i < n; i++) {
                        struct flow *f = &flows[i];

                        pfds[2 * i] = (struct pollfd) { .fd = f->shut ? -1 : f->from, .events = POLLOUT };
                        pfds[2 * i + 1] = (struct pollfd) { .fd = f->eof ? -1 : f->to, .events = POLLIN };
                        done += f->shut && f->eof;
                        if (f->bad)
                                return false;
                }
                if (done == n)
                        break;
                if (now_ms() > deadline) {
                        fprintf(stderr, "pump: timed out\n");
                        return false;
                }
                if (poll(pfds, 2 * n, 1000) < 0 && errno != EINTR)
                        return false;
                for (unsigned i = 0; i < n; i++) {
                        struct flow *f = &flows[i];
                        ssize_t k;

                        if (!f->shut && (pfds[2 * i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                                size_t len = bytes - f->sent < 65536 ? (size_t) (bytes - f->sent) : 65536;
                                for (size_t j = 0; j < len; j++)
                                        buf[j] = pump_byte(f->sent + j, f->seed);
                                k = len ? send(f->from, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
                                if (k < 0 && errno != EAGAIN) {
                                        fprintf(stderr, "pump: send: %m\n");
                                        return false;
                                }
                                if (k > 0)
                                        f->sent += (uint64_t) k;
                                if (f->sent == bytes) {
                                        ck_assert_int_eq(shutdown(f->from, SHUT_WR), 0);
                                        f->shut = true;
                                }
                        }
                        if (!f->eof && (pfds[2 * i + 1].revents & (POLLIN | POLLERR | POLLHUP))) {
                                k = recv(f->to, buf, 65536, MSG_DONTWAIT);
                                if (k < 0 && errno != EAGAIN) {
                                        fprintf(stderr, "pump: recv: %m\n");
                                        return false;
                                }
                                if (k == 0) {
                                        f->eof = true;
                                        if (f->received != bytes) {
                                                fprintf(stderr, "pump: EOF after %llu of %llu bytes\n",
                                                        (unsigned long long) f->received,
                                                        (unsigned long long) bytes);
                                                return false;
                                        }
                                }
                                for (ssize_t j = 0; j < k; j++)
                                        if (buf[j] != pump_byte(f->received + (uint64_t) j, f->seed)) {
                                                fprintf(stderr, "pump: bad byte at %llu\n",
                                                        (unsigned long long) (f->received + (uint64_t) j));
                                                return false;
                                        }
                                if (k > 0)
                                        f->received += (uint64_t) k;
                        }
                }
        }
        return true;
}

bool pump_pairs(unsigned n, const int *a, const int *b, uint64_t bytes, int timeout_ms) {
        _cleanup_free_ struct flow *flows = calloc(2 * n, sizeof(*flows));

        ck_assert_ptr_nonnull(flows);
        for (unsigned i = 0; i < n; i++) {
                flows[2 * i] = (struct flow) { .from = a[i], .to = b[i], .seed = 2 * i };
                flows[2 * i + 1] = (struct flow) { .from = b[i], .to = a[i], .seed = 2 * i + 1 };
        }
        return pump_flows(2 * n, flows, bytes, timeout_ms);
}

bool pump_one_way(int from, int to, uint64_t bytes, int timeout_ms) {
        struct flow f = { .from = from, .to = to, .seed = 99 };

        return pump_flows(1, &f, bytes, timeout_ms);
}

void expect_mirror(const char *dir, const char *name) {
        ck_assert_msg(wait_for_file(mux_path(dir, name), true, MUX_WAIT_MS), "no mirror %s/%s", dir, name);
}

/* A real server in real_dir, once its mirror is in mirror_dir: the listener. */
int serve_mirrored(const char *real_dir, const char *mirror_dir, const char *name) {
        int l = listen_at(real_dir, name);

        expect_mirror(mirror_dir, name);
        return l;
}

/* A client of the mirror, and the server's end of it. */
void open_relayed(int listener, const char *mirror_dir, const char *name, int *client, int *server) {
        *client = connect_to(mirror_dir, name);
        *server = accept_one(listener, MUX_WAIT_MS);
        ck_assert_msg(*server >= 0, "no connection relayed to %s", name);
}
