/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-ask-dialog's check of an Ask's text (client/ask-dialog/question.c):
 * what qubesd relays is shown only when it is printable ASCII of a bounded
 * length, with at least one target; "SERVICE+ARG" is split; the default
 * target is found among the targets or there is none.  (The window itself is
 * tested under Xvfb by tests/test-ask-dialog.sh.)
 */
#include <sys/socket.h>

#include "ask-dialog.h"
#include "check-helpers.h"

static sd_bus *bus;
static int peer_fd = -1;                /* the other end, never read: the bus only makes messages */

/* An Ask call as qubesd sends it, sealed and rewound for reading. */
static sd_bus_message *ask_message(const char *source, const char *service, const char *const *targets,
                                   const char *default_target) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, NULL, "/org/qubes/AskAgent1",
                                                        "org.qubes.AskAgent1", "Ask"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "ss", source, service), 0);
        ck_assert_int_ge(sd_bus_message_append_strv(m, (char **) targets), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "s", default_target), 0);
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        return m;
}

static int parse(const char *source, const char *service, const char *const *targets, const char *default_target,
                 struct question *q) {
        sd_bus_message *m = ask_message(source, service, targets, default_target);
        int r = question_parse(m, q);
        sd_bus_message_unref(m);
        return r;
}

static void setup(void) {
        int pair[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        peer_fd = pair[1];
        ck_assert_int_ge(sd_bus_new(&bus), 0);
        ck_assert_int_ge(sd_bus_set_fd(bus, pair[0], pair[0]), 0);
        ck_assert_int_ge(sd_bus_start(bus), 0);
}

static void teardown(void) {
        bus = sd_bus_close_unref(bus);
        close(peer_fd);
}

START_TEST(test_well_formed) {
        static const char *const targets[] = { "vault", "work", "@dispvm:dvm", NULL };
        struct question q;

        ck_assert_int_eq(parse("personal", "test.Echo+hello", targets, "work", &q), 0);
        ck_assert_str_eq(q.source, "personal");
        ck_assert_str_eq(q.service, "test.Echo");
        ck_assert_str_eq(q.argument, "hello");
        ck_assert_uint_eq(q.n_targets, 3);
        ck_assert_str_eq(q.targets[2], "@dispvm:dvm");
        ck_assert_uint_eq(q.default_index, 1);
        question_done(&q);

        /* no argument, no default; a default not offered is no default */
        ck_assert_int_eq(parse("personal", "test.Echo", targets, "", &q), 0);
        ck_assert_str_eq(q.argument, "");
        ck_assert_uint_eq(q.default_index, 3);
        question_done(&q);
        ck_assert_int_eq(parse("personal", "test.Echo+", targets, "dom0", &q), 0);
        ck_assert_str_eq(q.argument, "");
        ck_assert_uint_eq(q.default_index, 3);
        question_done(&q);
}
END_TEST

START_TEST(test_refused_text) {
        static const char *const targets[] = { "work", NULL };
        static const char *const no_targets[] = { NULL };
        static const char *const bad_target[] = { "work", "evil\033[2J", NULL };
        static const char *const empty_target[] = { "", NULL };
        char long_name[ASK_TEXT_MAX + 2];
        struct question q;

        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        ck_assert_int_eq(parse("per\nsonal", "test.Echo", targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo+\x7f", targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo+caf\xc3\xa9", targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("", "test.Echo", targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "+arg", targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo", no_targets, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo", bad_target, "work", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo", empty_target, "", &q), -EBADMSG);
        ck_assert_int_eq(parse("personal", "test.Echo", targets, "wo\trk", &q), -EBADMSG);
        ck_assert_int_eq(parse(long_name, "test.Echo", targets, "", &q), -EBADMSG);
        long_name[ASK_TEXT_MAX] = '\0';         /* exactly the limit: shown */
        ck_assert_int_eq(parse(long_name, "test.Echo", targets, "", &q), 0);
        question_done(&q);
}
END_TEST

START_TEST(test_too_many_targets) {
        static char names[ASK_TARGETS_MAX + 1][16];
        static const char *targets[ASK_TARGETS_MAX + 2];
        struct question q;

        for (size_t i = 0; i <= ASK_TARGETS_MAX; i++) {
                snprintf(names[i], sizeof(names[i]), "vm%zu", i);
                targets[i] = names[i];
        }
        ck_assert_int_eq(parse("personal", "test.Echo", targets, "", &q), -EBADMSG);
        targets[ASK_TARGETS_MAX] = NULL;
        ck_assert_int_eq(parse("personal", "test.Echo", targets, "vm7", &q), 0);
        ck_assert_uint_eq(q.n_targets, ASK_TARGETS_MAX);
        ck_assert_uint_eq(q.default_index, 7);
        question_done(&q);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ask-dialog-question");
        TCase *tc = tcase_create("question");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_well_formed);
        tcase_add_test(tc, test_refused_text);
        tcase_add_test(tc, test_too_many_targets);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
