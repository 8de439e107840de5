/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-daemon seccomp profiles: an allowlist of syscalls (libseccomp), applied
 * after initialisation with no_new_privs set.  Anything not listed fails with
 * EPERM (the process is not killed, so a refused call is logged, not a crash).
 * The x32 ABI and every foreign architecture are refused.  After
 * sandbox_apply() /proc/self/status shows "Seccomp: 2" and "NoNewPrivs: 1".
 */
#pragma once

/* Syscalls any sd-event daemon needs (epoll, timerfd, signalfd, memory,
 * reading and writing fds, sockets it already has, sd_notify, logging). */
extern const char *const sandbox_base_syscalls[];

/* Apply base + extra (NULL-terminated list of syscall names, may be NULL).
 * Unknown names are an error (-EINVAL), not silently skipped.
 * $ODYSSEY_NO_SECCOMP=1 skips it with a warning (for debugging only). */
int sandbox_apply(const char *const *extra_syscalls);
