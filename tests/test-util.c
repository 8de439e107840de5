/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/util.c: exact I/O, mkdir_p, path_join, parse_uint32, now_usec. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check-helpers.h"
#include "util.h"

START_TEST(test_read_write_full) {
        int fds[2];
        char in[10] = "", big[100000];
        _cleanup_free_ char *back = malloc(sizeof(big));

        ck_assert_ptr_nonnull(back);
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        ck_assert_int_eq(write_full(fds[1], "0123456789", 10), 0);
        ck_assert_int_eq(read_full(fds[0], in, 10), 0);
        ck_assert_int_eq(memcmp(in, "0123456789", 10), 0);

        /* More than a pipe holds: the writer must loop over short writes. */
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char) (i * 7);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(fds[0]);
                _exit(write_full(fds[1], big, sizeof(big)) == 0 ? 0 : 1);
        }
        close(fds[1]);
        ck_assert_int_eq(read_full(fds[0], back, sizeof(big)), 0);
        ck_assert_int_eq(memcmp(back, big, sizeof(big)), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* EOF before the count is -EPIPE, a bad fd is -EBADF. */
        ck_assert_int_eq(read_full(fds[0], in, 1), -EPIPE);
        close(fds[0]);
        ck_assert_int_eq(read_full(fds[0], in, 1), -EBADF);
        ck_assert_int_eq(write_full(fds[0], in, 1), -EBADF);
}
END_TEST

START_TEST(test_mkdir_p) {
        char base[] = "/tmp/test-util-XXXXXX";
        struct stat st;

        ck_assert_ptr_nonnull(mkdtemp(base));
        _cleanup_free_ char *deep = path_join(base, "a/b//c/");
        _cleanup_free_ char *middle = path_join(base, "a/b");
        _cleanup_free_ char *file = path_join(base, "file");
        _cleanup_free_ char *under_file = path_join(base, "file/x");

        ck_assert_int_eq(mkdir_p(deep, 0750), 0);
        ck_assert_int_eq(stat(deep, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(stat(middle, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777 & ~0750, 0);
        /* Existing directories are fine. */
        ck_assert_int_eq(mkdir_p(deep, 0750), 0);
        ck_assert_int_eq(mkdir_p(base, 0750), 0);

        /* A file in the way is an error, not success. */
        int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(mkdir_p(file, 0750), -ENOTDIR);
        ck_assert_int_eq(mkdir_p(under_file, 0750), -ENOTDIR);
        ck_assert_int_eq(mkdir_p("", 0750), -EINVAL);

        unlink(file);
        _cleanup_free_ char *c = path_join(base, "a/b/c");
        ck_assert_int_eq(rmdir(c), 0);
        ck_assert_int_eq(rmdir(middle), 0);
        _cleanup_free_ char *a = path_join(base, "a");
        ck_assert_int_eq(rmdir(a), 0);
        ck_assert_int_eq(rmdir(base), 0);
}
END_TEST

START_TEST(test_path_join) {
        static const struct { const char *dir, *name, *joined; } cases[] = {
                { "/run/qubes", "bus.sock", "/run/qubes/bus.sock" },
                { "/run/qubes/", "bus.sock", "/run/qubes/bus.sock" },
                { "/run/qubes//", "/bus.sock", "/run/qubes/bus.sock" },
                { "/", "x", "/x" },
                { "rel", "x/y", "rel/x/y" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *joined = path_join(cases[i].dir, cases[i].name);
                ck_assert_ptr_nonnull(joined);
                ck_assert_str_eq(joined, cases[i].joined);
        }
}
END_TEST

START_TEST(test_parse_uint32) {
        uint32_t v = 12345;

        ck_assert_int_eq(parse_uint32("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_uint32("64100", &v), 0);
        ck_assert_uint_eq(v, 64100);
        ck_assert_int_eq(parse_uint32("4294967295", &v), 0);
        ck_assert_uint_eq(v, UINT32_MAX);

        v = 7;
        ck_assert_int_eq(parse_uint32("4294967296", &v), -ERANGE);
        ck_assert_int_eq(parse_uint32("99999999999999999999999", &v), -ERANGE);
        static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.5", "١" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse_uint32(bad[i], &v) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_int_eq(parse_uint32(NULL, &v), -EINVAL);
        /* Failures leave the output alone. */
        ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_now_usec) {
        uint64_t a = now_usec();
        struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };

        nanosleep(&ts, NULL);
        uint64_t b = now_usec();
        ck_assert_uint_gt(a, 0);
        ck_assert_uint_ge(b - a, 20000);
        ck_assert_uint_lt(b - a, 5 * 1000 * 1000);
}
END_TEST

int main(void) {
        Suite *s = suite_create("util");
        TCase *tc = tcase_create("util");

        tcase_add_test(tc, test_read_write_full);
        tcase_add_test(tc, test_mkdir_p);
        tcase_add_test(tc, test_path_join);
        tcase_add_test(tc, test_parse_uint32);
        tcase_add_test(tc, test_now_usec);
        suite_add_tcase(s, tc);

        return check_run_suite(s);
}
