/* SPDX-License-Identifier: GPL-2.0-or-later */
/* daemons/qubesd/uid-shift.c: moving a tree into a domain's uid range. Needs root (chown). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal.h"
#include "uid-shift.h"
#include "util.h"

#define NEW_BASE hal_native_uid_base(3)

static char dir[] = "/tmp/test-uid-shift-XXXXXX";
static char outside[] = "/tmp/test-uid-shift-out-XXXXXX";

static void make_file(const char *name, uid_t uid, gid_t gid, mode_t mode) {
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(chown(path, uid, gid), 0);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static struct stat stat_of(const char *name) {
        char path[256];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        ck_assert_int_eq(lstat(path, &st), 0);
        return st;
}

static void check_owner(const char *name, uid_t uid, gid_t gid) {
        struct stat st = stat_of(name);
        ck_assert_msg(st.st_uid == uid && st.st_gid == gid, "%s: %u:%u, expected %u:%u", name,
                      (unsigned) st.st_uid, (unsigned) st.st_gid, (unsigned) uid, (unsigned) gid);
}

START_TEST(test_shift_id) {
        uint32_t b = NEW_BASE, t = hal_native_uid_base(5);

        ck_assert_uint_eq(uid_shift_id(0, 0, b), b);
        ck_assert_uint_eq(uid_shift_id(1000, 0, b), b + 1000);
        ck_assert_uint_eq(uid_shift_id(65535, 0, b), b + 65535);
        ck_assert_uint_eq(uid_shift_id(65536, 0, b), b + UID_SHIFT_NOBODY);
        ck_assert_uint_eq(uid_shift_id(b + 7, 0, b), b + 7);               /* already there */
        ck_assert_uint_eq(uid_shift_id(t + 42, t, b), b + 42);
        ck_assert_uint_eq(uid_shift_id(0, t, b), b + UID_SHIFT_NOBODY);     /* host root: not the source's */
        ck_assert_uint_eq(uid_shift_id(t - 1, t, b), b + UID_SHIFT_NOBODY);
        ck_assert_int_eq(uid_shift_tree("/nonexistent", 0, b), -ENOENT);
        ck_assert_int_eq(uid_shift_tree("/tmp", b + 1, b), -EINVAL);       /* overlapping ranges */
}
END_TEST

START_TEST(test_shift_tree) {
        char path[256], target[256];
        struct stat st;
        uint32_t b = NEW_BASE;

        if (geteuid() != 0)
                return;         /* the main program skips the whole test */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_ptr_nonnull(mkdtemp(outside));
        snprintf(path, sizeof(path), "%s/sub", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/sub/deeper", dir);
        ck_assert_int_eq(mkdir(path, 0750), 0);
        ck_assert_int_eq(chown(path, 100, 101), 0);
        make_file("plain", 0, 0, 0644);
        make_file("sub/user", 1000, 1000, 0600);
        make_file("sub/deeper/far", 70000, 5, 0640);            /* uid outside [0, 65536) */
        make_file("setuid", 0, 0, 04755);
        make_file("setgid", 0, 42, 02755);
        /* a symlink pointing out of the tree: itself shifted, its target not touched */
        snprintf(target, sizeof(target), "%s/victim", outside);
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        close(fd);
        snprintf(path, sizeof(path), "%s/link", dir);
        ck_assert_int_eq(symlink(target, path), 0);
        snprintf(path, sizeof(path), "%s/dirlink", dir);
        ck_assert_int_eq(symlink(outside, path), 0);

        for (int round = 0; round < 2; round++) {      /* the second run changes nothing */
                ck_assert_int_eq(uid_shift_tree(dir, 0, b), 0);
                check_owner(".", b, b);
                check_owner("sub", b, b);
                check_owner("sub/deeper", b + 100, b + 101);
                check_owner("plain", b, b);
                check_owner("sub/user", b + 1000, b + 1000);
                check_owner("sub/deeper/far", b + UID_SHIFT_NOBODY, b + 5);
                check_owner("setuid", b, b);
                ck_assert_uint_eq(stat_of("setuid").st_mode & 07777, 04755);
                check_owner("setgid", b, b + 42);
                ck_assert_uint_eq(stat_of("setgid").st_mode & 07777, 02755);
                ck_assert_uint_eq(stat_of("sub/deeper").st_mode & 07777, 0750);
                check_owner("link", b, b);
                check_owner("dirlink", b, b);
                ck_assert_int_eq(lstat(target, &st), 0);
                ck_assert(st.st_uid == 0 && st.st_gid == 0);
                ck_assert_int_eq(lstat(outside, &st), 0);
                ck_assert(st.st_uid == 0 && st.st_gid == 0);
        }

        /* from that domain's range on to another's: host root (not the source's) becomes nobody */
        uint32_t c = hal_native_uid_base(9);
        make_file("hostroot", 0, 0, 0644);
        ck_assert_int_eq(uid_shift_tree(dir, b, c), 0);
        check_owner("sub/user", c + 1000, c + 1000);
        check_owner("sub/deeper/far", c + UID_SHIFT_NOBODY, c + 5);
        check_owner("hostroot", c + UID_SHIFT_NOBODY, c + UID_SHIFT_NOBODY);
        ck_assert_uint_eq(stat_of("setuid").st_mode & 07777, 04755);

        /* a symlink as the tree itself is refused */
        snprintf(path, sizeof(path), "%s/dirlink", dir);
        ck_assert_int_eq(uid_shift_tree(path, 0, b), -ENOTDIR);

        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s' '%s'", dir, outside);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
        if (geteuid() != 0) {
                printf("SKIP: chown to other uids needs root\n");
                return 77;
        }
        Suite *s = suite_create("uid-shift");
        TCase *tc = tcase_create("uid-shift");

        tcase_add_test(tc, test_shift_id);
        tcase_add_test(tc, test_shift_tree);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
