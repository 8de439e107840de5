/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-daemon seccomp profiles: an allowlist of syscalls (libseccomp), applied
 * after initialisation with no_new_privs set.  Anything not listed fails with
 * EPERM (the process is not killed, so a refused call is logged, not a crash).
 * The x32 ABI and every foreign architecture are refused.  After
 * sandbox_apply() /proc/self/status shows "Seccomp: 2" and "NoNewPrivs: 1".
 */
#pragma once

#include <seccomp.h>

/* Apply the base profile (what any sd-event daemon needs: epoll, timerfd,
 * signalfd, memory, reading and writing fds, sockets it already has,
 * sd_notify, logging) + extra (NULL-terminated list of syscall names, may be NULL).
 * Unknown names are an error (-EINVAL), not silently skipped.
 * $ODYSSEY_NO_SECCOMP=1 skips it with a warning (for debugging only). */
int sandbox_apply(const char *const *extra_syscalls);

/* Make a filter refuse (EPERM) every call made through another ABI than the
 * native one (i386 through int 0x80, x32): those reach the kernel by other
 * syscall numbers than the filter's rules name.  Also for filters other than
 * a daemon's (a native domain's). */
int sandbox_native_abi_only(scmp_filter_ctx ctx);
