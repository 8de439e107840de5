/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Durability: a child process makes 1000 store_set_value calls and reports
 * each acknowledged one on a pipe; the parent kills it with SIGKILL at a
 * random point, reopens the database and finds every acknowledged write, an
 * intact file (integrity and foreign keys), and a set that loads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "model-helpers.h"
#include "store.h"
#include "test-store.h"

#define WRITES 1000

static void writer(const char *path, int ack_fd) {
        struct store *s = NULL;

        if (store_open(path, &s) < 0)
                _exit(2);
        for (uint32_t i = 0; i < WRITES; i++) {
                char prop[32], value[32];

                snprintf(prop, sizeof(prop), "x-%04u", i);
                snprintf(value, sizeof(value), "%u", i * 7);
                if (store_set_value(s, "work", prop, value) < 0)
                        _exit(3);
                if (write(ack_fd, &i, sizeof(i)) != sizeof(i))
                        _exit(4);
        }
        _exit(0);
}

START_TEST(test_kill_during_writes) {
        char dir[64], path[128], query[128];
        _cleanup_set_ struct domain_set *set = model_typical(), *back = NULL;
        static bool acked[WRITES];
        struct store *s = NULL;
        uint32_t kill_at, index, n_acked = 0;
        int fds[2], status;
        pid_t pid;

        store_test_dir(dir, path);
        ck_assert_int_eq(store_open(path, &s), 0);
        ck_assert_int_eq(store_add_domain(s, domain_set_find(set, "debian")), 0);
        ck_assert_int_eq(store_set_global(s, "default_template", "debian"), 0);
        ck_assert_int_eq(store_add_domain(s, domain_set_find(set, "work")), 0);
        store_close(s);

        ck_assert_int_eq(getrandom(&kill_at, sizeof(kill_at), 0), (ssize_t) sizeof(kill_at));
        kill_at = 50 + kill_at % (WRITES - 100);
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(fds[0]);
                writer(path, fds[1]);
        }
        close(fds[1]);
        memset(acked, 0, sizeof(acked));
        while (read(fds[0], &index, sizeof(index)) == sizeof(index)) {
                ck_assert_uint_lt(index, WRITES);
                acked[index] = true;
                n_acked++;
                if (index == kill_at)
                        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        }
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer was not killed (status %d)",
                      status);
        ck_assert_uint_ge(n_acked, kill_at + 1);
        ck_assert_uint_lt(n_acked, WRITES);

        ck_assert_int_eq(store_open(path, &s), 0);
        ck_assert_int_eq(store_check(s), 0);
        for (uint32_t i = 0; i < WRITES; i++) {
                if (!acked[i])
                        continue;
                char expected[32];
                snprintf(query, sizeof(query), "SELECT value FROM props WHERE domain = 'work' AND name = 'x-%04u'", i);
                snprintf(expected, sizeof(expected), "%u", i * 7);
                ck_assert_msg(strcmp(sql_text(path, query), expected) == 0, "acknowledged write %u lost", i);
        }
        /* At most the one write in flight may have landed beyond the acks. */
        snprintf(query, sizeof(query), "SELECT count(*) FROM props WHERE domain = 'work' AND name LIKE 'x-%%'");
        ck_assert_uint_le((uint32_t) atoi(sql_text(path, query)), n_acked + 1);
        log_set_max_level(LOG_ERR);     /* the x-* properties are unknown to the table: dropped, with warnings */
        ck_assert_int_eq(store_load(s, &back), 0);
        ck_assert_ptr_nonnull(domain_set_find(back, "work"));
        ck_assert_str_eq(model_get(back, domain_set_find(back, "work"), "template"), "debian");
        /* And it takes writes again. */
        ck_assert_int_eq(store_set_value(s, "work", "memory", "600"), 0);
        store_close(s);
        store_test_cleanup(dir);
}
END_TEST

TCase *store_durability_tcase(void) {
        TCase *tc = tcase_create("durability");

        tcase_add_test(tc, test_kill_during_writes);
        tcase_set_timeout(tc, 120);
        return tc;
}
