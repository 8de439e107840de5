/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/sandbox.c: a forked child applies the base profile and then checks,
 * from inside, that the escape routes fail with EPERM while a daemon's normal
 * work (sd-event loop, timers, signals, sd_notify, logging, memory) goes on.
 * A child reports a failed check on stderr and exits non-zero.
 */
#include <check.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "check-helpers.h"
#include "child-check.h"
#include "daemon.h"
#include "log.h"
#include "sandbox.h"

#define __X32_SYSCALL_BIT 0x40000000

/* "Seccomp:\t2" etc. from an fd opened on /proc/self/status before the sandbox. */
static int status_field(int fd, const char *name) {
        char text[4096], key[64];
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

        if (n <= 0)
                return -1;
        text[n] = '\0';
        snprintf(key, sizeof(key), "\n%s:", name);
        const char *p = strstr(text, key);
        return p ? atoi(p + strlen(key)) : -1;
}

START_TEST(test_forbidden_calls_fail) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
                int unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                CHILD_CHECK(status_fd >= 0 && unix_fd >= 0);
                CHILD_CHECK(status_field(status_fd, "Seccomp") == 0);

                CHILD_CHECK(sandbox_apply(NULL) == 0);
                CHILD_CHECK(status_field(status_fd, "Seccomp") == 2);
                CHILD_CHECK(status_field(status_fd, "NoNewPrivs") == 1);

                char *const argv[] = { (char *) "true", NULL };
                CHILD_CHECK_EPERM(execve("/bin/true", argv, argv + 1));
                CHILD_CHECK_EPERM(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
                CHILD_CHECK_EPERM(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
                CHILD_CHECK_EPERM(socket(AF_INET, SOCK_STREAM, 0));
                CHILD_CHECK_EPERM(socket(AF_INET6, SOCK_DGRAM, 0));
                CHILD_CHECK_EPERM(socket(AF_NETLINK, SOCK_RAW, 0));
                CHILD_CHECK_EPERM(open("/etc/hostname", O_RDONLY | O_CLOEXEC));
                CHILD_CHECK_EPERM(mount("none", "/tmp", "tmpfs", 0, NULL));
                CHILD_CHECK_EPERM(unshare(0));
                CHILD_CHECK_EPERM(syscall(SYS_setns, 0, 0));
                CHILD_CHECK_EPERM(syscall(SYS_bpf, BPF_PROG_LOAD, NULL, 0));
                CHILD_CHECK_EPERM(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
                CHILD_CHECK_EPERM(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
                CHILD_CHECK_EPERM(syscall(SYS_userfaultfd, 0));
                CHILD_CHECK_EPERM(syscall(SYS_open_by_handle_at, -1, NULL, 0));
                CHILD_CHECK_EPERM(syscall(SYS_kexec_load, 0, 0, NULL, 0));
                CHILD_CHECK_EPERM(syscall(SYS_init_module, NULL, 0, ""));
                CHILD_CHECK_EPERM(syscall(SYS_clone3, NULL, 0));
                CHILD_CHECK_EPERM(fork());
                CHILD_CHECK_EPERM(kill(getppid(), 0));
                CHILD_CHECK_EPERM(setuid(0));

                /* No new executable memory, mapped or flipped. */
                CHILD_CHECK(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
                            errno == EPERM);
                void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                CHILD_CHECK(page != MAP_FAILED);
                CHILD_CHECK_EPERM(mprotect(page, 4096, PROT_READ | PROT_EXEC));
                CHILD_CHECK(mprotect(page, 4096, PROT_READ) == 0);

                /* ioctl: FIONREAD only, judged on the 32 bits the kernel reads. */
                int pending = -1;
                CHILD_CHECK(ioctl(unix_fd, FIONREAD, &pending) == 0 || errno == EINVAL);
                CHILD_CHECK(syscall(SYS_ioctl, unix_fd, (unsigned long) FIONREAD | (1UL << 32), &pending) == 0 ||
                            errno == EINVAL);
                char c = 'x';
                CHILD_CHECK_EPERM(ioctl(STDIN_FILENO, TIOCSTI, &c));
                CHILD_CHECK_EPERM(syscall(SYS_ioctl, STDIN_FILENO, (unsigned long) TIOCSTI | (1UL << 32), &c));

                /* x32 numbers reach other syscall entry points: refused too. */
                CHILD_CHECK_EPERM(syscall(__X32_SYSCALL_BIT | SYS_getpid));
                CHILD_CHECK_EPERM(syscall(__X32_SYSCALL_BIT | SYS_execve, "/bin/true", argv, argv + 1));

                /* Still alive and able to work. */
                CHILD_CHECK(getpid() > 0);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

#if defined(__x86_64__)
START_TEST(test_foreign_arch_refused) {
        pid_t pid;

        if (!i386_emulation_present()) {
                fprintf(stderr, "no i386 emulation in this kernel, nothing to refuse\n");
                return;
        }

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                CHILD_CHECK(sandbox_apply(NULL) == 0);
                CHILD_CHECK(i386_getpid() == -EPERM);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST
#endif

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        int *fired = userdata;

        (*fired)++;
        /* Readiness from inside the sandbox: a socket, sendmsg, close. */
        daemon_notify_ready("sandboxed");
        return 0;
}

START_TEST(test_daemon_work_goes_on) {
        char dir[] = "/tmp/test-sandbox-XXXXXX";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char message[256];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
        int notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(notify_fd, 0);
        ck_assert_int_eq(bind(notify_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                _cleanup_(sd_event_unrefp) sd_event *event = NULL;
                int fired = 0;
                uint64_t now;

                setenv("NOTIFY_SOCKET", sa.sun_path, 1);
                log_setup("test-sandbox");
                CHILD_CHECK(daemon_event_new(&event) == 0);
                CHILD_CHECK(sandbox_apply(NULL) == 0);

                /* Sources added after the sandbox, as a serving daemon does. */
                CHILD_CHECK(sd_event_now(event, CLOCK_MONOTONIC, &now) >= 0);
                CHILD_CHECK(sd_event_add_time(event, NULL, CLOCK_MONOTONIC, now + 20000, 0, on_timer, &fired) >= 0);
                int pair[2];
                CHILD_CHECK_EPERM(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
                int unix_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                CHILD_CHECK(unix_fd >= 0);
                close(unix_fd);

                /* Memory in quantity (mmap-backed malloc), and logging. */
                size_t big = 32 << 20;
                char *block = malloc(big);
                CHILD_CHECK(block);
                memset(block, 1, big);
                free(block);
                log_info("logging works in the sandbox");

                /* Runs until the parent's SIGTERM ends the loop with 0. */
                CHILD_CHECK(sd_event_loop(event) == 0);
                CHILD_CHECK(fired == 1);
                _exit(0);
        }

        /* READY=1 arrives only after the timer fired inside the sandbox. */
        struct timeval timeout = { .tv_sec = 20 };
        ck_assert_int_eq(setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
        ssize_t n = recv(notify_fd, message, sizeof(message) - 1, 0);
        if (n <= 0)
                kill(pid, SIGKILL);     /* do not leave it waiting for SIGTERM */
        ck_assert_int_gt(n, 0);
        message[n] = '\0';
        ck_assert_str_eq(message, "READY=1\nSTATUS=sandboxed");

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        wait_child_ok(pid);
        close(notify_fd);
        unlink(sa.sun_path);
        rmdir(dir);
}
END_TEST

START_TEST(test_extra_syscalls) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static const char *const extra[] = { "openat", "socketpair", NULL };
                int pair[2];

                CHILD_CHECK(sandbox_apply(extra) == 0);
                int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
                CHILD_CHECK(fd >= 0);
                CHILD_CHECK(status_field(fd, "Seccomp") == 2);
                CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
                /* What is not in either list stays refused. */
                CHILD_CHECK_EPERM(socket(AF_INET, SOCK_STREAM, 0));
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

START_TEST(test_unknown_syscall_name) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static const char *const extra[] = { "openat", "no_such_syscall", NULL };
                int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

                CHILD_CHECK(status_fd >= 0);
                CHILD_CHECK(sandbox_apply(extra) == -EINVAL);
                /* Nothing half-applied. */
                CHILD_CHECK(status_field(status_fd, "Seccomp") == 0);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

START_TEST(test_debug_escape_hatch) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

                setenv("ODYSSEY_NO_SECCOMP", "1", 1);
                CHILD_CHECK(sandbox_apply(NULL) == 0);
                CHILD_CHECK(status_field(status_fd, "Seccomp") == 0);
                /* Any other value does not disable it. */
                setenv("ODYSSEY_NO_SECCOMP", "yes", 1);
                CHILD_CHECK(sandbox_apply(NULL) == 0);
                CHILD_CHECK(status_field(status_fd, "Seccomp") == 2);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

int main(void) {
        /* The debugging escape hatch must not leak in from the caller's environment. */
        unsetenv("ODYSSEY_NO_SECCOMP");
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("sandbox");

        tcase_add_test(tc, test_forbidden_calls_fail);
#if defined(__x86_64__)
        tcase_add_test(tc, test_foreign_arch_refused);
#endif
        tcase_add_test(tc, test_daemon_work_goes_on);
        tcase_add_test(tc, test_extra_syscalls);
        tcase_add_test(tc, test_unknown_syscall_name);
        tcase_add_test(tc, test_debug_escape_hatch);
        suite_add_tcase(s, tc);

        return check_run_suite(s);
}
