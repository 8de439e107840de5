/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The escape battery: a program run INSIDE a native domain, as the domain's
 * root (no capabilities, no_new_privs, the domain's seccomp filter), that
 * tries the known ways out and reports each as
 *     ESCAPE <name> blocked <how>        the attempt failed
 *     ESCAPE <name> ESCAPED <detail>     it worked: isolation is broken
 * then "N passed, M failed".  It links nothing but libc, so it runs in a
 * domain whose root is the host's own /usr.
 *
 * Attempts must never harm the host if they succeed: where the call itself
 * would do damage, it is made with an argument the kernel checks only AFTER
 * the permission check (a bad magic number, a missing file, a NULL pointer),
 * so "permission granted" shows as that argument error and counts as ESCAPED.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ESCAPE_MAX_LIST 16

/* What the test tells the battery about the host (all optional). */
struct escape_config {
        pid_t host_pids[ESCAPE_MAX_LIST];       /* host processes to ptrace/signal */
        size_t n_host_pids;
        const char *other_volumes[ESCAPE_MAX_LIST]; /* another domain's private volume (host path) */
        size_t n_other_volumes;
        const char *admin_socket;               /* default /run/qubes/admin.sock */
        const char *bus_socket;                 /* default /run/qubes/bus.sock */
        const char *display_socket;             /* default /tmp/.X11-unix/X0 */
        int host_tcp_port;                      /* a port listening on the host's 127.0.0.1; 0 = none */
        long host_uid;                          /* -1 = none */
        const char *host_markers[ESCAPE_MAX_LIST]; /* strings in host processes' command lines */
        size_t n_host_markers;
        const char *host_namespaces[ESCAPE_MAX_LIST]; /* the host's /proc/self/ns links, "net:[4026531840]" */
        size_t n_host_namespaces;
        const char *host_init_cmdline;          /* the host's /proc/1/cmdline, NULs as spaces */
        const char *setuid_helper;              /* a setuid/setgid-root copy of this program */
        const char *self_path;                  /* this program, for exec checks */
};

/* Reporting: one line per attempt, counted for the final line. */
void escape_blocked(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void escape_escaped(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append printf-style text to a NUL-terminated buffer, truncating quietly. */
void escape_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The outcome of a call that must be refused: blocked when it failed with one
 * of the errnos in `walls` (0-terminated; NULL = EPERM, EACCES) or with ENOSYS
 * (a call this kernel lacks), ESCAPED when it succeeded or failed for any other
 * reason (which means the permission check was passed). */
void escape_expect_refused(const char *name, long ret, int err, const int *walls);

/* Run fn(arg) in a forked child (for calls that change the process: unshare,
 * setns, chroot, setuid...).  fn returns the call's result with errno set;
 * *ret_err gets that errno.  Returns fn's result, or -1 with *ret_err = EIO
 * when the child died. */
long escape_in_child(long (*fn)(void *arg), void *arg, int *ret_err);

/* Every pid listed in this process's /proc except its own (at most max). */
size_t escape_visible_pids(pid_t *pids, size_t max);

/* A scratch directory of this run on the domain's /tmp. */
const char *escape_scratch_dir(void);

/* The groups of attempts. */
void escape_run_tty(const struct escape_config *c);
void escape_run_processes(const struct escape_config *c);
void escape_run_namespaces(const struct escape_config *c);
void escape_run_kernel(const struct escape_config *c);
void escape_run_reach(const struct escape_config *c);
void escape_run_files(const struct escape_config *c);
void escape_run_privileges(const struct escape_config *c);

/* --print-ids: "ids uid=R/E/S gid=R/E/S CapEff=HEX CapPrm=HEX" on stdout. */
int escape_print_ids(void);
