/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks that run in a forked child (where libcheck's asserts cannot be
 * used once a seccomp filter is loaded): a failed CHILD_CHECK prints where
 * and exits 1; the parent's wait_child_ok() turns that into a test failure.
 * Shared by the sandbox tests of the daemons and of the domains.
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_CHECK(cond)                                                                       \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        fprintf(stderr, "%s:%d: child check failed: %s (errno %d %s)\n",        \
                                __FILE__, __LINE__, #cond, errno, strerrorname_np(errno));      \
                        _exit(1);                                                               \
                }                                                                               \
        } while (0)

/* A raw call (returning -1 and errno) that the filter must refuse. */
#define CHILD_CHECK_EPERM(call) CHILD_CHECK((call) == -1 && errno == EPERM)

static inline void wait_child_ok(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status), "child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        ck_assert_msg(WEXITSTATUS(status) == 0, "child check failed (see its message above)");
}

#if defined(__x86_64__)
/* getpid through the i386 entry point (int 0x80, call number 20). */
static inline long i386_getpid(void) {
        long ret = 20;
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
        return ret;
}

/* Whether this kernel runs i386 code at all (else there is nothing to refuse). */
static inline bool i386_emulation_present(void) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(i386_getpid() == getpid() ? 0 : 1);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif
