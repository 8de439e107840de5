/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts on terminals and other processes: typing into a terminal with
 * TIOCSTI/TIOCLINUX, ptrace, reading another process's memory, pidfds and
 * signals to host processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"

#define MAX_TARGETS 32
#define HIGH_BITS 0xdead00000000UL
#define MAX_VISIBLE 4096

struct tty_target {
        char label[32];
        int fd;
};

/* Every terminal this process can reach: the controlling one, inherited fds,
 * the console and a VT if they exist here. */
static size_t collect_ttys(struct tty_target *t, size_t max, char *missing, size_t missing_size) {
        static const char *const paths[] = { "/dev/tty", "/dev/console", "/dev/tty0", "/dev/tty1" };
        size_t n = 0;

        missing[0] = '\0';
        for (int fd = 0; fd < 1024 && n < max; fd++)
                if (isatty(fd)) {
                        snprintf(t[n].label, sizeof(t[n].label), "fd%d", fd);
                        t[n++].fd = fd;
                }
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && n < max; i++) {
                int fd = open(paths[i], O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) {
                        size_t used = strlen(missing);
                        snprintf(missing + used, missing_size - used, " %s:%s", paths[i], strerrorname_np(errno));
                        continue;
                }
                snprintf(t[n].label, sizeof(t[n].label), "%s", paths[i]);
                t[n++].fd = fd;
        }
        return n;
}

/* The request with a NULL argument: the kernel checks permission first and
 * reads the argument after, so EFAULT means "allowed" and nothing is typed. */
static void try_tty_ioctl(const char *name, unsigned long request, const struct tty_target *t, size_t n,
                          const char *missing, const int *walls) {
        char detail[512] = "";
        bool escaped = false;

        for (size_t i = 0; i < n; i++) {
                long r = syscall(SYS_ioctl, t[i].fd, request, NULL);
                int err = errno;
                bool refused = false;
                for (const int *w = walls; *w; w++)
                        refused = refused || (r < 0 && err == *w);
                escape_append(detail, sizeof(detail), " %s:%s", t[i].label,
                         r >= 0 ? "ALLOWED" : strerrorname_np(err));
                escaped = escaped || !refused;
        }
        if (escaped)
                escape_escaped(name, "a terminal accepted it:%s", detail);
        else
                escape_blocked(name, "%s%s%s", n ? "refused on" : "no terminal reachable", detail, missing);
}

/* A pty of its own made its controlling terminal: the one terminal where
 * the kernel itself would allow TIOCSTI, so only the filter can refuse it. */
static long own_ctty_tiocsti(void *arg) {
        unsigned long request = *(unsigned long *) arg;
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || setsid() < 0)
                return -1;
        const char *slave_name = ptsname(master);
        if (!slave_name)
                return -1;
        int slave = open(slave_name, O_RDWR | O_CLOEXEC);      /* becomes the controlling tty */
        if (slave < 0)
                return -1;
        return syscall(SYS_ioctl, slave, request, NULL);
}

static void try_own_ctty(const char *name, unsigned long request) {
        int err;
        long r = escape_in_child(own_ctty_tiocsti, &request, &err);

        if (r >= 0 || err == EFAULT)
                escape_escaped(name, "TIOCSTI went through on a controlling pty (%s)",
                               r >= 0 ? "success" : "EFAULT: permission granted");
        else
                escape_blocked(name, "%s", strerrorname_np(err));
}

void escape_run_tty(const struct escape_config *c) {
        static const int sti_walls[] = { EPERM, EIO, ENOTTY, EINVAL, 0 };
        /* TIOCLINUX exists on virtual consoles only; ptys answer ENOTTY/EINVAL. */
        static const int linux_walls[] = { EPERM, EIO, ENOTTY, EINVAL, 0 };
        struct tty_target t[MAX_TARGETS];
        char missing[256];
        size_t n = collect_ttys(t, MAX_TARGETS, missing, sizeof(missing));

        try_tty_ioctl("tiocsti", TIOCSTI, t, n, missing, sti_walls);
        try_tty_ioctl("tiocsti-highbits", HIGH_BITS | TIOCSTI, t, n, missing, sti_walls);
        try_tty_ioctl("tioclinux", TIOCLINUX, t, n, missing, linux_walls);
        try_tty_ioctl("tioclinux-highbits", HIGH_BITS | TIOCLINUX, t, n, missing, linux_walls);
        try_own_ctty("tiocsti-own-ctty", TIOCSTI);
        try_own_ctty("tiocsti-own-ctty-highbits", HIGH_BITS | TIOCSTI);

        for (size_t i = 0; i < n; i++)
                if (t[i].fd > 2 && strncmp(t[i].label, "fd", 2) != 0)
                        close(t[i].fd);
}

/* ptrace(PTRACE_ATTACH) on each pid; a success is detached at once. */
static void try_ptrace(const char *name, const pid_t *pids, size_t n) {
        char detail[256] = "";

        for (size_t i = 0; i < n; i++) {
                if (ptrace(PTRACE_ATTACH, pids[i], NULL, NULL) == 0) {
                        ptrace(PTRACE_DETACH, pids[i], NULL, NULL);
                        escape_escaped(name, "attached to pid %d", (int) pids[i]);
                        return;
                }
                if (errno != EPERM && errno != ESRCH && errno != EACCES) {
                        escape_escaped(name, "pid %d: got past the permission check (%s)", (int) pids[i],
                                       strerrorname_np(errno));
                        return;
                }
                if (i < 8) {
                        escape_append(detail, sizeof(detail), " %d:%s", (int) pids[i],
                                 strerrorname_np(errno));
                }
        }
        escape_blocked(name, "%zu pids refused:%s%s", n, detail, n > 8 ? " ..." : "");
}

/* process_vm_readv() of one byte; EFAULT would mean access was granted and
 * only the address was wrong. */
static void try_vm_read(const char *name, const pid_t *pids, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char byte;
                struct iovec local = { &byte, 1 }, remote = { (void *) 0x400000, 1 };
                ssize_t r = process_vm_readv(pids[i], &local, 1, &remote, 1, 0);
                if (r >= 0 || (errno != EPERM && errno != ESRCH && errno != EACCES)) {
                        escape_escaped(name, "pid %d: %s", (int) pids[i],
                                       r >= 0 ? "read its memory" : strerrorname_np(errno));
                        return;
                }
        }
        escape_blocked(name, "%zu pids refused", n);
}

void escape_run_processes(const struct escape_config *c) {
        static pid_t visible[MAX_VISIBLE];

        /* A process of this domain with the same uid, which the kernel alone
         * would let us trace: there is always one target only the filter
         * protects. */
        pid_t sibling = fork();
        if (sibling == 0) {
                for (;;)
                        pause();
        }
        size_t n_visible = escape_visible_pids(visible, MAX_VISIBLE);

        if (c->n_host_pids > 0) {
                try_ptrace("ptrace-host-pid", c->host_pids, c->n_host_pids);
                try_vm_read("process-vm-readv-host", c->host_pids, c->n_host_pids);
        }
        try_ptrace("ptrace-visible-pids", visible, n_visible);
        try_vm_read("process-vm-readv-visible", visible, n_visible);

        for (size_t i = 0; i < c->n_host_pids; i++) {
                char name[64];
                pid_t pid = c->host_pids[i];

                /* A host pid must not even exist here (the domain has its own
                 * pid namespace): any answer but ESRCH is a leak. */
                snprintf(name, sizeof(name), "pidfd-host-%d", (int) pid);
                long fd = syscall(SYS_pidfd_open, pid, 0);
                if (fd >= 0)
                        close((int) fd);
                escape_expect_refused(name, fd, errno, (const int[]) { ESRCH, EPERM, 0 });

                snprintf(name, sizeof(name), "kill-host-%d", (int) pid);
                long r = kill(pid, SIGKILL);
                escape_expect_refused(name, r, errno, (const int[]) { ESRCH, EPERM, 0 });
        }

        if (sibling > 0) {
                kill(sibling, SIGKILL);
                waitpid(sibling, NULL, 0);
        }
}
