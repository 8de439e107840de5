/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A private Odyssey stack for an integration test: `tools/odyssey-stack start`
 * from the build tree in a fresh temporary root, and the addresses a test
 * needs.  Every test that needs running daemons uses this, never its own copy.
 */
#pragma once

#include <limits.h>
#include <stdarg.h>
#include <sys/types.h>

struct test_stack {
        char root[256];            /* the stack's --root (a fresh mkdtemp dir) */
        char admin_address[512]; /* QUBES_ADMIN_ADDRESS printed by the launcher */
        char admin_socket[512];    /* the path inside it */
        char bus_socket[512];      /* ROOT/run/bus.sock */
        char builddir[2048];
};

/* Start every built daemon (extra launcher options may follow, NULL-terminated,
 * e.g. "--only", "busd", NULL).  0 or -errno; on failure the launcher's output
 * and the daemons' logs are printed to stderr. */
int test_stack_start(struct test_stack *s, ...);
/* The same with the options as option, then the rest of a va_list up to NULL. */
int test_stack_startv(struct test_stack *s, const char *option, va_list more);
/* Stop the daemons and remove the root. */
void test_stack_stop(struct test_stack *s);
/* Run `program args...` (NULL-terminated) with QUBES_ADMIN_ADDRESS set to the
 * stack's; its stdout (at most size-1 bytes, NUL-terminated) into out when out
 * is not NULL.  Returns the exit status (0..255), or -errno. */
int test_stack_run(const struct test_stack *s, char *out, size_t size, const char *program, ...);

/* The pid of daemon `name` from the launcher's stack.pids, or -ENOENT. */
pid_t test_stack_daemon_pid(const struct test_stack *s, const char *name);
/* Start another copy of a daemon (program relative to the build dir, e.g.
 * "daemons/qubesd/qubesd") with the stack's runtime and state dirs, output to
 * ROOT/log/<log_name>.log: as after a crash of the launcher's copy.  The pid,
 * or -errno; stop it with kill + waitpid. */
pid_t test_stack_spawn_daemon(const struct test_stack *s, const char *program, const char *log_name);
