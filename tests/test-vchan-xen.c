/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xen vchan backend where there is no Xen: every init fails at once,
 * cleanly, with -errno; nothing waits, nothing crashes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check-helpers.h"
#include "vchan.h"

static struct vchan_endpoint xen_endpoint(int local, int remote, int port) {
        return (struct vchan_endpoint) {
                .backend = VCHAN_XEN,
                .local_domid = local,
                .remote_domid = remote,
                .port = port,
        };
}

static long long now_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_server_init_fails_without_xen) {
        struct vchan_endpoint ep = xen_endpoint(0, 5, 512);
        struct vchan *v = NULL;

        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -ENOENT);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(vchan_server_init(&ep, 65536, 65536, &v), -ENOENT);
        ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_client_init_fails_at_once_without_xen) {
        struct vchan_endpoint ep = xen_endpoint(5, 0, 512);
        struct vchan *v = NULL;
        long long start = now_msec();

        /* Not "no server yet": no amount of waiting brings Xen. */
        ck_assert_int_eq(vchan_client_init(&ep, 10000, &v), -ENOENT);
        ck_assert_int_lt(now_msec() - start, 1000);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(vchan_client_init(&ep, -1, &v), -ENOENT);
        ck_assert_int_eq(vchan_client_init_async(&ep, &v), -ENOENT);
        ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_loopback_refused) {
        struct vchan_endpoint ep = xen_endpoint(3, 3, 512);
        struct vchan *v = NULL;

        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), -EINVAL);
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -EINVAL);
        ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_domain_from_environment) {
        struct vchan_endpoint ep = xen_endpoint(-1, 4, 512);
        struct vchan *v = NULL;

        /* $VCHAN_DOMAIN says we are domain 4: a vchan to ourselves. */
        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "4", 1), 0);
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -EINVAL);
        ck_assert_int_eq(setenv("VCHAN_DOMAIN", "2", 1), 0);
        ck_assert_int_eq(vchan_client_init(&ep, 0, &v), -ENOENT);
        ck_assert_ptr_null(v);
        unsetenv("VCHAN_DOMAIN");
}
END_TEST

START_TEST(test_null_channel_is_harmless) {
        char buf[4];

        ck_assert_int_eq(vchan_read(NULL, buf, sizeof(buf)), -EINVAL);
        ck_assert_int_eq(vchan_write(NULL, buf, sizeof(buf)), -EINVAL);
        ck_assert_int_eq(vchan_wait(NULL), -EINVAL);
        ck_assert_int_eq(vchan_is_open(NULL), VCHAN_DISCONNECTED);
        ck_assert_uint_eq(vchan_data_ready(NULL), 0);
        vchan_close(NULL);
}
END_TEST

int main(void) {
        Suite *s;
        TCase *tc;

        /* On a real Xen host these expectations do not hold: skip. */
        if (access("/dev/xen/evtchn", F_OK) == 0)
                return 77;

        s = suite_create("vchan-xen");
        tc = tcase_create("no-xen");
        tcase_add_test(tc, test_server_init_fails_without_xen);
        tcase_add_test(tc, test_client_init_fails_at_once_without_xen);
        tcase_add_test(tc, test_loopback_refused);
        tcase_add_test(tc, test_domain_from_environment);
        tcase_add_test(tc, test_null_channel_is_harmless);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
