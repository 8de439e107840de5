/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Nothing acknowledged is lost: a client makes 1,000 writes through the
 * Admin API (features and a property, alternately) while a domain runs;
 * qubesd is killed with SIGKILL at a random point among them; a fresh qubesd
 * on the same root must show every acknowledged write, a database that
 * passes PRAGMA integrity_check, and the running domain still Running.
 */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin-client.h"
#include "util.h"
#include "stack-harness.h"

#define WRITES 1000

static struct test_stack stack;

/* Child: the writes, each acknowledged index reported on fd as 4 bytes. */
static void writer(int fd, const char *path) {
        sd_bus *bus = admin_connect(stack.admin_address);
        if (!bus)
                _exit(1);
        for (uint32_t i = 0; i < WRITES; i++) {
                char key[32], value[32];
                int r;
                if (i % 2 == 0) {
                        snprintf(key, sizeof(key), "w%u", i);
                        snprintf(value, sizeof(value), "%u", i);
                        r = admin_call(bus, path, ADMIN_DOMAIN, "SetFeature", NULL, 0, NULL, "ss", key, value);
                } else {
                        snprintf(value, sizeof(value), "%u", 1000 + i);
                        r = admin_call(bus, path, ADMIN_DOMAIN, "SetProperty", NULL, 0, NULL, "ss", "memory", value);
                }
                if (r < 0)
                        _exit(0);       /* qubesd is gone: stop at the first refusal */
                if (write(fd, &i, sizeof(i)) != sizeof(i))
                        _exit(1);
        }
        _exit(0);
}

static sd_bus *connect_retrying(void) {
        for (int i = 0; i < 300; i++) {
                sd_bus *b = NULL;
                if (sd_bus_new(&b) >= 0 && sd_bus_set_address(b, stack.admin_address) >= 0 && sd_bus_start(b) >= 0 &&
                    sd_bus_call_method(b, NULL, ADMIN_PATH, ADMIN_MANAGER, "ListDomains", NULL, NULL, "") >= 0)
                        return b;
                sd_bus_unref(b);
                usleep(20000);
        }
        return NULL;
}

static void check_database(void) {
        char path[sizeof(stack.root) + 32];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        snprintf(path, sizeof(path), "%s/state/qubes.db", stack.root);
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void stack_teardown(void) {
        test_stack_stop(&stack);
}

START_TEST(test_kill_during_writes) {
        sd_bus *bus;
        char *path;
        int pipefd[2];
        uint16_t delay_ms;     /* random */

        ck_assert_int_eq(test_stack_start(&stack, NULL), 0);
        bus = admin_connect(stack.admin_address);
        ck_assert_ptr_nonnull(bus);
        ck_assert_str_eq(admin_create(bus, "du-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "du-run", "AppVM", "green", "template", "du-tpl"), "");
        ck_assert_str_eq(admin_create(bus, "du-w", "AppVM", "blue", "template", "du-tpl"), "");
        ck_assert_str_eq(admin_domain_call(bus, "du-run", "Start", NULL, NULL), "");
        ck_assert_str_eq(admin_prop(bus, "du-run", "state"), "Running");
        sd_bus_unref(bus);

        path = admin_path("du-w");
        ck_assert_ptr_nonnull(path);
        ck_assert_int_eq(pipe(pipefd), 0);
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                close(pipefd[0]);
                writer(pipefd[1], path);
        }
        close(pipefd[1]);

        /* Kill qubesd after a random number of acknowledged writes, while
         * the writer keeps going. */
        ck_assert_int_eq(getrandom(&delay_ms, sizeof(delay_ms), 0), (ssize_t) sizeof(delay_ms));
        uint32_t kill_after = 50 + delay_ms % (WRITES - 100);
        pid_t old = test_stack_daemon_pid(&stack, "qubesd");
        ck_assert_int_gt(old, 0);

        bool acked[WRITES] = { false };
        uint32_t i, n_acked = 0, last_memory_write = 0;
        bool any_memory = false;
        while (read(pipefd[0], &i, sizeof(i)) == sizeof(i)) {
                ck_assert_uint_lt(i, WRITES);
                acked[i] = true;
                if (++n_acked == kill_after)
                        ck_assert_int_eq(kill(old, SIGKILL), 0);
                if (i % 2) {
                        last_memory_write = i;
                        any_memory = true;
                }
        }
        close(pipefd[0]);
        waitpid(child, NULL, 0);
        ck_assert_msg(n_acked > 0 && n_acked < WRITES, "qubesd was killed after %u of %u writes", n_acked, WRITES);
        for (int w = 0; w < 200 && kill(old, 0) == 0; w++)
                usleep(10000);

        check_database();
        pid_t fresh = test_stack_spawn_daemon(&stack, "daemons/qubesd/qubesd", "qubesd-restarted");
        ck_assert_int_gt(fresh, 0);
        bus = connect_retrying();
        ck_assert_msg(bus, "the restarted qubesd did not answer");

        /* Every acknowledged feature write is there. */
        bool present[WRITES] = { false };
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *key, *value;
        _cleanup_free_ char *run_path = admin_path("du-w");
        ck_assert_int_ge(sd_bus_get_property(bus, "org.qubes.Admin1", run_path, ADMIN_DOMAIN, "features", &error,
                                             &reply, "a{ss}"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{ss}"), 0);
        while (sd_bus_message_read(reply, "{ss}", &key, &value) > 0) {
                unsigned k = (unsigned) strtoul(key + 1, NULL, 10);
                ck_assert_uint_lt(k, WRITES);
                ck_assert_uint_eq(strtoul(value, NULL, 10), k);
                present[k] = true;
        }
        sd_bus_message_unref(reply);
        for (uint32_t k = 0; k < WRITES; k += 2)
                ck_assert_msg(!acked[k] || present[k], "acknowledged write %u is lost", k);
        /* The property holds the last acknowledged value, or the one in
         * flight when qubesd died (committed but not yet answered). */
        if (any_memory) {
                long memory = strtol(admin_prop(bus, "du-w", "memory"), NULL, 10);
                ck_assert_msg(memory == 1000 + (long) last_memory_write || memory == 1000 + (long) last_memory_write + 2,
                              "memory %ld after the last acknowledged %u", memory, 1000 + last_memory_write);
        }
        ck_assert_str_eq(admin_prop(bus, "du-run", "state"), "Running");
        ck_assert_str_eq(admin_domain_call(bus, "du-run", "Kill", NULL, NULL), "");
        sd_bus_unref(bus);
        check_database();
        kill(fresh, SIGTERM);
        waitpid(fresh, NULL, 0);
        free(path);
        test_stack_stop(&stack);
}
END_TEST

int main(void) {
        Suite *s = suite_create("durability");
        TCase *tc = tcase_create("kill -9 during writes");
        tcase_set_timeout(tc, 120);
        tcase_add_checked_fixture(tc, NULL, stack_teardown);
        tcase_add_test(tc, test_kill_during_writes);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
