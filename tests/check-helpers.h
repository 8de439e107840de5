/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the libcheck test programs share: main()'s run of a suite with the
 * exit status automake's test driver reads (0 pass, 1 fail, 77 skip), the
 * root requirement of the tests that take other uids, and the check that a
 * daemon serves inside its seccomp sandbox.
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Run every test of s ($CK_VERBOSITY picks the output; the runner frees s):
 * EXIT_SUCCESS when all passed. */
static inline int check_run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* For main() of a test that must run as root: false, after saying why, when
 * it does not (main() then returns 77, "skipped"). */
static inline bool check_running_as_root(const char *why) {
        if (geteuid() == 0)
                return true;
        fprintf(stderr, "%s needs root: %s\n", program_invocation_short_name, why);
        return false;
}

/* Process pid runs under a seccomp filter with no_new_privs, as
 * sandbox_apply() leaves a daemon. */
static inline void check_process_sandboxed(pid_t pid) {
        char path[64], line[256];
        bool seccomp = false, nnp = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot read %s", path);
        while (fgets(line, sizeof(line), f)) {
                seccomp = seccomp || strcmp(line, "Seccomp:\t2\n") == 0;
                nnp = nnp || strcmp(line, "NoNewPrivs:\t1\n") == 0;
        }
        fclose(f);
        ck_assert_msg(seccomp, "process %d is not in seccomp filter mode", (int) pid);
        ck_assert_msg(nnp, "process %d has no no_new_privs", (int) pid);
}
