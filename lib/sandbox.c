/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seccomp allowlist every daemon applies after initialisation (see
 * sandbox.h).  The base profile is what an sd-event daemon does while
 * serving: wait for events, read and write the fds it already has, manage
 * memory, tell the time, notify the service manager and log.  Everything that
 * changes what the process is or can reach (execve, ptrace, mount, namespaces,
 * bpf, keyrings, modules, new network sockets, ...) is not in it.
 */
#include <fcntl.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#  define SANDBOX_HAVE_LSAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#    define SANDBOX_HAVE_LSAN 1
#  endif
#endif
#ifdef SANDBOX_HAVE_LSAN
#  include <sanitizer/lsan_interface.h>
#endif

/* The base profile, allowed with any arguments.  A few more are allowed
 * with restricted arguments only, in sandbox_add_restricted(). */
static const char *const sandbox_base_syscalls[] = {
        /* the sd-event loop */
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd4",
        "poll", "ppoll",
        /* fds the daemon already has */
        "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek",
        "close", "fcntl", "fstat", "newfstatat",
        "recvmsg", "sendmsg", "recvfrom", "sendto", "recvmmsg", "sendmmsg",
        "accept4", "shutdown", "getsockopt", "getsockname", "getpeername",
        /* memory (mmap and mprotect: below, never executable) */
        "brk", "munmap", "mremap", "madvise",
        /* time */
        "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
        /* who am I */
        "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
        /* signals delivered through signalfd, and glibc's own needs */
        "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
        /* locks in thread-safe libraries, randomness */
        "futex", "getrandom", "sched_yield", "sched_getaffinity",
        /* sd_journal_send() passes a large entry as a sealed memfd */
        "memfd_create",
        "exit", "exit_group",
        NULL
};

/* Rules with argument filters: things the base profile needs only in one harmless form.
 * (SCMP_CMP_EQ ignores its second datum; it is spelled out as 0 for -Wextra.) */
static int sandbox_add_restricted(scmp_filter_ctx ctx) {
        int r;

        /* sd_notify() and the journal open an AF_UNIX datagram socket each. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0));
        if (r < 0)
                return r;

        /* ... and try to enlarge its send buffer. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
                             SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET, 0), SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF, 0));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
                             SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET, 0), SCMP_A2(SCMP_CMP_EQ, SO_SNDBUFFORCE, 0));
        if (r < 0)
                return r;

        /* Bytes pending on a socket.  The kernel reads the request as a 32-bit
         * int, so compare only the low 32 bits: upper garbage must not let a
         * different request through. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, UINT32_MAX, FIONREAD));
        if (r < 0)
                return r;

        /* Memory, but no new code: a serving daemon never maps anything executable. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        if (r < 0)
                return r;

        /* abort() signals its own process; no other process can be signalled. */
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t) getpid(), 0));
}

static int sandbox_allow_names(scmp_filter_ctx ctx, const char *const *names) {
        for (const char *const *name = names; name && *name; name++) {
                int nr = seccomp_syscall_resolve_name(*name);
                if (nr == __NR_SCMP_ERROR)
                        return log_error_errno(EINVAL, "Unknown syscall '%s' in the sandbox profile", *name);

                int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to allow syscall '%s'", *name);
        }
        return 0;
}

int sandbox_native_abi_only(scmp_filter_ctx ctx) {
        int r;

        /* seccomp_init() already holds only the native architecture, and
         * libseccomp then sends x86-64 calls with __X32_SYSCALL_BIT set to the
         * bad-architecture action; this only makes sure of it. */
        if (seccomp_arch_exist(ctx, SCMP_ARCH_X32) == 0) {
                r = seccomp_arch_remove(ctx, SCMP_ARCH_X32);
                if (r < 0)
                        return r;
        }
        /* Refused like everything else: EPERM, not a kill. */
        return seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
}

int sandbox_apply(const char *const *extra_syscalls) {
        scmp_filter_ctx ctx;
        const char *skip = getenv("ODYSSEY_NO_SECCOMP");
        int r;

        if (skip && strcmp(skip, "1") == 0) {
                log_warning("ODYSSEY_NO_SECCOMP=1: running WITHOUT the seccomp sandbox.");
                return 0;
        }

        ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return log_error_errno(ENOMEM, "Failed to allocate the seccomp filter");

        r = sandbox_native_abi_only(ctx);
        if (r < 0) {
                log_error_errno(r, "Failed to restrict the sandbox to the native ABI");
                goto finish;
        }
        /* Every thread, not just the caller (libraries may have started some). */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r < 0) {
                log_error_errno(r, "Failed to ask for thread synchronisation");
                goto finish;
        }

        r = sandbox_allow_names(ctx, sandbox_base_syscalls);
        if (r < 0)
                goto finish;
        r = sandbox_allow_names(ctx, extra_syscalls);
        if (r < 0)
                goto finish;
        r = sandbox_add_restricted(ctx);
        if (r < 0) {
                log_error_errno(r, "Failed to add the restricted sandbox rules");
                goto finish;
        }

#ifdef SANDBOX_HAVE_LSAN
        /* LeakSanitizer's check at exit ptraces the process, which the sandbox
         * refuses (and LSan then fails the run).  Check now instead; this also
         * turns the exit-time check off.  Leaks made while serving are found
         * by running under ODYSSEY_NO_SECCOMP=1. */
        __lsan_do_leak_check();
#endif

        /* libseccomp sets it too (SCMP_FLTATR_CTL_NNP); be explicit: it is
         * what lets an unprivileged process load a filter at all. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                r = log_error_errno(errno, "Failed to set no_new_privs");
                goto finish;
        }

        r = seccomp_load(ctx);
        if (r < 0)
                log_error_errno(r, "Failed to load the seccomp filter");
        else
                log_debug("Seccomp sandbox applied.");

finish:
        seccomp_release(ctx);
        return r;
}
