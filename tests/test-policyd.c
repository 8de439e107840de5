/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-policyd in a private stack of busd + qrexec-policyd, with this test
 * connected to busd as root, i.e. in qubesd's role: it answers the daemon's
 * SYSTEM_INFO_SUBSCRIBE with the domains it wants, answers ASK_REQUEST as
 * an ask agent would (or as qubesd does without one), and receives
 * POLICY_STATUS.  Requests go through the Qubes line protocol on
 * ROOT/run/policy.sock, as qrexec-daemon sends them.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "check-helpers.h"
#include "bus-client.h"
#include "stack-harness.h"
#include "util.h"

#define WAIT_USEC (30 * UINT64_C(1000000))
#define UUID_WORK "11111111-1111-1111-1111-111111111111"
#define UUID_PERSONAL "22222222-2222-2222-2222-222222222222"

static struct test_stack stack;
static struct bus_client *qubesd;       /* this test, as qubesd */
static struct bus_message *msg;         /* large: allocated once */

/* How the fake qubesd answers ASK_REQUEST: an errno (e.g. -EHOSTDOWN) or 0 + ask_answer. */
static int ask_error = -EHOSTDOWN;
static const char *ask_answer = "";
static char last_ask_targets[BUS_TARGETS_MAX + 1], last_ask_default[BUS_QREXEC_DOMAIN_MAX + 1];
static unsigned n_asks;
/* The last POLICY_STATUS. */
static struct bus_msg_policy_status last_status;
static unsigned n_status;
static bool hide_personal;              /* leave "personal" out of the next snapshot */

static void send_domain(const char *name, const char *klass, uint32_t domid, bool running, const char *uuid,
                        bool dvm_template) {
        struct bus_msg_domain_info info = { .domid = domid, .template_for_dispvms = dvm_template,
                                            .power_state = running ? BUS_POWER_RUNNING : BUS_POWER_HALTED };
        snprintf(info.name, sizeof(info.name), "%s", name);
        snprintf(info.klass, sizeof(info.klass), "%s", klass);
        snprintf(info.uuid, sizeof(info.uuid), "%s", uuid);
        snprintf(info.default_user, sizeof(info.default_user), "user");
        snprintf(info.default_dispvm, sizeof(info.default_dispvm), "%s", strcmp(klass, "AppVM") == 0 ? "default-dvm" : "");
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_INFO, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0, &info), 0);
}

static void send_snapshot(void) {
        struct bus_msg_system_info_done done = { .domains = hide_personal ? 3 : 4 };

        send_domain("dom0", "AdminVM", 0, true, "00000000-0000-0000-0000-000000000000", false);
        send_domain("work", "AppVM", 1, true, UUID_WORK, false);
        if (!hide_personal)
                send_domain("personal", "AppVM", 2, false, UUID_PERSONAL, false);
        send_domain("default-dvm", "AppVM", 3, false, "33333333-3333-3333-3333-333333333333", true);
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_SYSTEM_INFO_DONE, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0, &done), 0);
}

/* Handle one message from busd as qubesd would. */
static void handle(const struct bus_message *m) {
        switch (m->hdr.type) {
        case BUS_MSG_SYSTEM_INFO_SUBSCRIBE:
                send_snapshot();
                break;
        case BUS_MSG_ASK_REQUEST: {
                struct bus_msg_ask_reply reply = { .error = ask_error };
                snprintf(reply.target, sizeof(reply.target), "%s", ask_answer);
                snprintf(last_ask_targets, sizeof(last_ask_targets), "%s", m->u.ask_request.targets);
                snprintf(last_ask_default, sizeof(last_ask_default), "%s", m->u.ask_request.default_target);
                n_asks++;
                ck_assert_int_eq(bus_client_reply(qubesd, m, BUS_MSG_ASK_REPLY, &reply), 0);
                break;
        }
        case BUS_MSG_POLICY_STATUS:
                last_status = m->u.policy_status;
                n_status++;
                break;
        default:
                break;
        }
}

/* Serve busd until `done` says so or the time is up. */
static bool pump_until(bool (*done)(void), uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        while (!done()) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return false;
                int r = bus_client_receive(qubesd, deadline - now, msg);
                if (r == -ETIMEDOUT)
                        return done();
                ck_assert_int_eq(r, 0);
                handle(msg);
        }
        return true;
}

static unsigned status_seen_before;
static bool new_status(void) { return n_status > status_seen_before; }

/* Send a raw request on policy.sock; serve busd meanwhile (asks).  The
 * answer, or "" when the daemon closed without one. */
static void line_call(const char *request, size_t size, char *answer, size_t answer_size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t deadline = now_usec() + WAIT_USEC;
        size_t have = 0;
        int fd;

        ck_assert_uint_lt(strlen(stack.root) + strlen("/run/policy.sock"), sizeof(sa.sun_path));
        memcpy(sa.sun_path, stack.root, strlen(stack.root));
        strcat(sa.sun_path, "/run/policy.sock");
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0, "connect %s: %m", sa.sun_path);
        /* A daemon that closes early makes this write fail: that is an answer too. */
        (void) write_full(fd, request, size);
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = bus_client_fd(qubesd), .events = POLLIN } };
                ck_assert_msg(now_usec() < deadline, "no answer on policy.sock in time");
                ck_assert_int_ge(poll(p, 2, 1000), 0);
                if (p[1].revents) {
                        /* Readable is a kick or a message: take all there is
                         * (a kick may come for a message already taken). */
                        int r;
                        while ((r = bus_client_receive(qubesd, 0, msg)) == 0)
                                handle(msg);
                        ck_assert_int_eq(r, -ETIMEDOUT);
                }
                if (p[0].revents) {
                        ssize_t n = read(fd, answer + have, answer_size - 1 - have);
                        if (n < 0 && errno == ECONNRESET)
                                n = 0;
                        ck_assert_int_ge(n, 0);
                        if (n == 0)
                                break;
                        have += (size_t) n;
                        ck_assert_uint_lt(have, answer_size - 1);
                }
        }
        answer[have] = '\0';
        close(fd);
}

static void ask_policyd(const char *source, const char *target, const char *service, const char *extra,
                        char *answer, size_t size) {
        char req[1024];
        int n = snprintf(req, sizeof(req), "source=%s\nintended_target=%s\nservice_and_arg=%s\n%s\n", source, target,
                         service, extra ?: "");
        line_call(req, (size_t) n, answer, size);
}

/* Messages to policyd over the bus and requests on policy.sock race: ask
 * until the answer is the expected one (or the time is up). */
static void expect_eventually(const char *target, const char *service, const char *expected) {
        char answer[4096];

        for (uint64_t deadline = now_usec() + WAIT_USEC;;) {
                ask_policyd("work", target, service, NULL, answer, sizeof(answer));
                if (strcmp(answer, expected) == 0)
                        return;
                ck_assert_msg(now_usec() < deadline, "%s %s: still '%s', not '%s'", target, service, answer, expected);
                pump_until(new_status, 50 * 1000);
        }
}

static void write_policy(const char *name, const char *text) {
        char path[512], tmp[520];
        snprintf(path, sizeof(path), "%s/etc/policy.d/%s", stack.root, name);
        snprintf(tmp, sizeof(tmp), "%s/etc/policy.d/.%s.tmp", stack.root, name);
        FILE *f = fopen(tmp, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(tmp, 0644), 0);
        status_seen_before = n_status;
        ck_assert_int_eq(rename(tmp, path), 0);
        ck_assert_msg(pump_until(new_status, WAIT_USEC), "no POLICY_STATUS after changing %s", name);
}

static const char *const test_policy =
        "test.Allow     *  work  personal  allow\n"
        "test.Deny      *  work  personal  deny\n"
        "test.User      *  work  personal  allow user=alice\n"
        "test.Ask       *  work  @anyvm    ask default_target=personal\n"
        "test.Dispvm    *  work  @dispvm   allow\n"
        "test.Any       *  work  @anyvm    allow\n";

#define ALLOW_PERSONAL(user) \
        "user=" user "\nresult=allow\ntarget=personal\ntarget_uuid=uuid:" UUID_PERSONAL \
        "\nautostart=True\nrequested_target=personal"

static bool have_personal(void) {
        char answer[4096];
        ask_policyd("work", "personal", "test.Allow", NULL, answer, sizeof(answer));
        return strstr(answer, "result=allow") != NULL;
}

static void setup(void) {
        char path[512];

        msg = calloc(1, sizeof(*msg));
        ck_assert_ptr_nonnull(msg);
        ck_assert_int_eq(test_stack_start(&stack, "--only", "busd,qrexec-policyd", NULL), 0);
        ck_assert_int_eq(bus_client_connect(stack.bus_socket, WAIT_USEC, &qubesd), 0);
        ck_assert_int_eq(bus_client_role(qubesd), BUS_ROLE_QUBESD);
        ask_error = -EHOSTDOWN;
        n_asks = 0;
        hide_personal = false;
        /* The stack seeded the default policy. */
        snprintf(path, sizeof(path), "%s/etc/policy.d/90-default.policy", stack.root);
        ck_assert_int_eq(access(path, R_OK), 0);
        write_policy("10-test.policy", test_policy);
        /* The daemon asks for the system info every second until qubesd answers. */
        for (uint64_t deadline = now_usec() + WAIT_USEC; !have_personal();) {
                ck_assert_msg(now_usec() < deadline, "policyd never took the system info");
                pump_until(new_status, 200 * 1000);
        }
}

static void teardown(void) {
        bus_client_free(qubesd);
        qubesd = NULL;
        test_stack_stop(&stack);
        free(msg);
}

START_TEST(test_line_allow_deny) {
        char answer[4096];

        ask_policyd("work", "personal", "test.Allow", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));
        ask_policyd("work", "personal", "test.User+arg", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("alice"));
        ask_policyd("work", "personal", "test.Deny", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        /* No rule: the default policy's final deny. */
        ask_policyd("work", "personal", "test.Nothing", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        /* A disposable: the template, by name and uuid. */
        ask_policyd("work", "@dispvm", "test.Dispvm", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "user=DEFAULT\nresult=allow\ntarget=@dispvm:default-dvm\n"
                                 "target_uuid=@dispvm:uuid:33333333-3333-3333-3333-333333333333\n"
                                 "autostart=True\nrequested_target=@dispvm");
        /* Loopback is refused; an unknown source has no rule. */
        ask_policyd("work", "work", "test.Any", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ask_policyd("nobody", "personal", "test.Allow", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
}
END_TEST

START_TEST(test_line_ask) {
        char answer[4096];

        /* Non-interactive forms. */
        ask_policyd("work", "personal", "test.Ask", "assume_yes_for_ask=yes\n", answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));
        ask_policyd("work", "personal", "test.Ask", "just_evaluate=yes\n", answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ck_assert_uint_eq(n_asks, 0);

        /* No ask agent (qubesd says -EHOSTDOWN): deny. */
        ask_error = -EHOSTDOWN;
        ask_policyd("work", "personal", "test.Ask", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ck_assert_uint_eq(n_asks, 1);
        ck_assert_str_eq(last_ask_default, "personal");
        ck_assert_ptr_nonnull(strstr(last_ask_targets, "personal"));
        ck_assert_ptr_null(strstr(last_ask_targets, "work"));      /* not itself */

        /* The user picks personal: allowed to personal. */
        ask_error = 0;
        ask_answer = "personal";
        ask_policyd("work", "", "test.Ask", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "user=DEFAULT\nresult=allow\ntarget=personal\ntarget_uuid=uuid:" UUID_PERSONAL
                                 "\nautostart=True\nrequested_target=@default");
        /* The user refuses; or answers something never offered. */
        ask_error = -EACCES;
        ask_policyd("work", "personal", "test.Ask", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ask_error = 0;
        ask_answer = "work";
        ask_policyd("work", "personal", "test.Ask", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ck_assert_uint_eq(n_asks, 4);
}
END_TEST

/* Every malformed request: the connection closes without an answer. */
START_TEST(test_line_malformed) {
        static const char *const bad[] = {
                "source=work\nsource=work\nintended_target=personal\nservice_and_arg=test.Allow\n\n",
                "source=work\nintended_target=personal\nservice_and_arg=test.Allow\ndomain_id=1\n\n",
                "source=work\nintended_target=personal\nservice_and_arg=test.Allow\njust_evaluate=true\n\n",
                "source=work\nintended_target=personal\nservice_and_arg=test.Allow\nassume_yes_for_ask=yes\n"
                "assume_yes_for_ask=yes\n\n",
                "source=work\nservice_and_arg=test.Allow\n\n",
                "intended_target=personal\nservice_and_arg=test.Allow\n\n",
                "source=work\nintended_target=personal\n\n",
                "source=work\nintended_target=personal\nservice_and_arg\n\n",
                "source=work\nintended_target=personal\nservice_and_arg=test.Allow\n\nsource=x\n",
        };
        char answer[4096];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                line_call(bad[i], strlen(bad[i]), answer, sizeof(answer));
                ck_assert_msg(answer[0] == '\0', "request %zu answered: %s", i, answer);
        }
        /* Oversize: 70,000 bytes of one value, never an empty line. */
        size_t big = 70000;
        char *huge = malloc(big);
        ck_assert_ptr_nonnull(huge);
        memcpy(huge, "source=", 7);
        memset(huge + 7, 'a', big - 7);
        line_call(huge, big, answer, sizeof(answer));
        ck_assert_str_eq(answer, "");
        free(huge);
        /* The daemon still serves. */
        ask_policyd("work", "personal", "test.Allow", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));
}
END_TEST

START_TEST(test_reload) {
        char answer[4096];

        ck_assert_uint_eq(last_status.ok, 1);
        ck_assert_uint_eq(last_status.files, 2);
        ck_assert_ptr_nonnull(strstr(last_status.policy_dir, "/etc/policy.d"));
        ask_policyd("work", "personal", "test.New", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");

        /* A new rule takes effect. */
        write_policy("20-new.policy", "test.New * work personal allow\n");
        ck_assert_uint_eq(last_status.ok, 1);
        ask_policyd("work", "personal", "test.New", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));

        /* A broken file: everything denied, the error reported with file:line. */
        write_policy("20-new.policy", "test.New * work personal allow\n\ntest.New * work personal perhaps\n");
        ck_assert_uint_eq(last_status.ok, 0);
        ck_assert_msg(strstr(last_status.errors, "20-new.policy:3: invalid action"), "errors: %s", last_status.errors);
        ask_policyd("work", "personal", "test.New", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");
        ask_policyd("work", "personal", "test.Allow", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, "result=deny");

        /* Fixing it restores both. */
        write_policy("20-new.policy", "test.New * work personal allow\n");
        ck_assert_uint_eq(last_status.ok, 1);
        ck_assert_str_eq(last_status.errors, "");
        ask_policyd("work", "personal", "test.New", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));
        ask_policyd("work", "personal", "test.Allow", NULL, answer, sizeof(answer));
        ck_assert_str_eq(answer, ALLOW_PERSONAL("DEFAULT"));
}
END_TEST

START_TEST(test_system_info_follows_qubesd) {
        char answer[4096];
        struct bus_msg_domain_info_removed removed = {};

        /* A new domain is known at once. */
        send_domain("newvm", "AppVM", 7, true, "77777777-7777-7777-7777-777777777777", false);
        expect_eventually("newvm", "test.Any", "user=DEFAULT\nresult=allow\ntarget=newvm\n"
                                 "target_uuid=uuid:77777777-7777-7777-7777-777777777777\n"
                                 "autostart=True\nrequested_target=newvm");
        ask_policyd("work", "newvm", "test.Any", NULL, answer, sizeof(answer));
        ck_assert_str_ne(answer, "result=deny");
        /* Removed: an unknown name becomes @default, which nothing allows. */
        snprintf(removed.name, sizeof(removed.name), "newvm");
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_INFO_REMOVED, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0,
                                         &removed), 0);
        expect_eventually("newvm", "test.Any", "result=deny");

        /* A new snapshot without a domain (removed while qubesd was away) drops it. */
        hide_personal = true;
        send_snapshot();
        expect_eventually("personal", "test.Allow", "result=deny");
        /* ... and the rest is still known. */
        ask_policyd("work", "@dispvm", "test.Dispvm", NULL, answer, sizeof(answer));
        ck_assert_ptr_nonnull(strstr(answer, "result=allow"));
}
END_TEST

START_TEST(test_sandboxed) {
        pid_t pid = test_stack_daemon_pid(&stack, "qrexec-policyd");

        ck_assert_int_gt(pid, 0);
        check_process_sandboxed(pid);
}
END_TEST

int main(void) {
        Suite *s;
        TCase *tc;

        if (!check_running_as_root("the stack runs daemons under their own uids"))
                return 77;
        s = suite_create("qrexec-policyd");
        tc = tcase_create("stack");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_line_allow_deny);
        tcase_add_test(tc, test_line_ask);
        tcase_add_test(tc, test_line_malformed);
        tcase_add_test(tc, test_reload);
        tcase_add_test(tc, test_system_info_follows_qubesd);
        tcase_add_test(tc, test_sandboxed);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
