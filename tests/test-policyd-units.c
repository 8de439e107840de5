/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-policyd's pure parts: the line protocol's request parser and answer
 * writer, and what a decision means for a domain's call (call_plan_make):
 * refuse, ask, connect to a running target, start a halted one, create a
 * disposable, with the command line sent to the target.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "call-plan.h"
#include "line-request.h"

static int parse(const char *text, struct line_request *r, const char **why) {
        return line_request_parse(text, strlen(text), r, why);
}

START_TEST(test_parse_valid) {
        struct line_request r;
        const char *why;
        size_t len;

        const char *text = "source=work\nintended_target=@dispvm:dvm\nservice_and_arg=qubes.Filecopy+a+b\n"
                           "just_evaluate=yes\nassume_yes_for_ask=no\n\n";
        ck_assert(line_request_complete(text, strlen(text), &len));
        ck_assert_uint_eq(len, strlen(text));
        ck_assert(!line_request_complete(text, strlen(text) - 1, &len));
        ck_assert_int_eq(parse(text, &r, &why), 0);
        ck_assert_str_eq(r.source, "work");
        ck_assert_str_eq(r.intended_target, "@dispvm:dvm");
        ck_assert_str_eq(r.service, "qubes.Filecopy");
        ck_assert_str_eq(r.argument, "+a+b");
        ck_assert(r.just_evaluate);
        ck_assert(!r.assume_yes_for_ask);
        ck_assert_ptr_null(r.requested_source);
        line_request_done(&r);

        /* No argument: "+"; empty target allowed (@default). */
        ck_assert_int_eq(parse("source=a\nintended_target=\nservice_and_arg=s\n\n", &r, &why), 0);
        ck_assert_str_eq(r.argument, "+");
        ck_assert_str_eq(r.intended_target, "");
        line_request_done(&r);
}
END_TEST

START_TEST(test_parse_refused) {
        static const char *const bad[] = {
                "source=a\nsource=a\nintended_target=b\nservice_and_arg=s\n\n",          /* duplicate */
                "source=a\nintended_target=b\nservice_and_arg=s\nprocess_ident=1\n\n",   /* unknown key */
                "source=a\nintended_target=b\nservice_and_arg=s\njust_evaluate=True\n\n", /* bad boolean */
                "source=a\nintended_target=b\nservice_and_arg=s\njust_evaluate=no\njust_evaluate=no\n\n",
                "intended_target=b\nservice_and_arg=s\n\n",                              /* missing */
                "source=a\nintended_target=b\n\n",
                "source=a\nintended_target\nservice_and_arg=s\n\n",                      /* no = */
                "source=a\nintended_target=b\nservice_and_arg=s\n\nmore\n",             /* trailing */
                "source=a\nintended_target=b\nservice_and_arg=s\n",                      /* no empty line */
                "\n",
        };
        struct line_request r;
        const char *why;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(parse(bad[i], &r, &why) == -EBADMSG, "accepted %zu", i);
                ck_assert_ptr_nonnull(why);
        }
        /* A NUL inside. */
        static const char nul[] = "source=a\0\nintended_target=b\nservice_and_arg=s\n\n";
        ck_assert_int_eq(line_request_parse(nul, sizeof(nul) - 1, &r, &why), -EBADMSG);
        /* Oversize. */
        char *big = malloc(LINE_REQUEST_MAX + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, 'a', LINE_REQUEST_MAX + 2);
        big[LINE_REQUEST_MAX] = '\n';
        big[LINE_REQUEST_MAX + 1] = '\n';
        ck_assert_int_eq(line_request_parse(big, LINE_REQUEST_MAX + 2, &r, &why), -EBADMSG);
        free(big);
}
END_TEST

START_TEST(test_answer_format) {
        PolicyDecision d = { .verdict = POLICY_VERDICT_ALLOW, .target = (char *) "personal",
                             .target_uuid = (char *) "uuid:x", .autostart = true,
                             .requested_target = (char *) "@default" };
        char *a = line_answer_format(&d, NULL);

        ck_assert_str_eq(a, "user=DEFAULT\nresult=allow\ntarget=personal\ntarget_uuid=uuid:x\nautostart=True\n"
                            "requested_target=@default");
        free(a);
        d.target = (char *) "dom0";
        d.target_uuid = NULL;
        d.user = (char *) "root";
        d.autostart = false;
        a = line_answer_format(&d, NULL);
        ck_assert_str_eq(a, "user=root\nresult=allow\ntarget=dom0\nautostart=False\nrequested_target=@default");
        free(a);
        d.verdict = POLICY_VERDICT_ASK;
        a = line_answer_format(&d, NULL);
        ck_assert_str_eq(a, "result=deny");
        free(a);
}
END_TEST

/* A policyd with system info and a policy, no bus. */
static struct policyd pd;

static void add_domain(const char *name, uint32_t domid, bool running, bool dvm) {
        struct bus_msg_domain_info info = { .domid = domid, .template_for_dispvms = dvm,
                                            .power_state = running ? BUS_POWER_RUNNING : BUS_POWER_HALTED };
        snprintf(info.name, sizeof(info.name), "%s", name);
        snprintf(info.klass, sizeof(info.klass), "%s", domid == 0 ? "AdminVM" : "AppVM");
        snprintf(info.uuid, sizeof(info.uuid), "uuid-of-%s", name);
        snprintf(info.default_user, sizeof(info.default_user), "%s", strcmp(name, "work") == 0 ? "alice" : "user");
        snprintf(info.default_dispvm, sizeof(info.default_dispvm), "dvm");
        system_info_on_domain_info(&pd, &info);
}

static void units_setup(void) {
        static const char *text =
                "s.Run     *  work  running   allow\n"
                "s.Halted  *  work  halted    allow\n"
                "s.NoStart *  work  halted    allow autostart=no\n"
                "s.Disp    *  work  @dispvm   allow\n"
                "s.Ask     *  work  @anyvm    ask\n"
                "s.Dom0    *  work  dom0      allow\n"
                "s.User    *  work  running   allow user=bob\n"
                "*         *  @anyvm @anyvm   deny\n";

        pd = (struct policyd) { .inotify_fd = -1 };
        pd.policy = policy_new();
        ck_assert_ptr_nonnull(pd.policy);
        ck_assert_int_eq(policy_parse_text(pd.policy, "t.policy", text, strlen(text), ".", NULL), 0);
        ck_assert_int_eq(policy_index(pd.policy), 0);
        ck_assert_uint_eq(pd.policy->n_errors, 0);
        add_domain("dom0", 0, true, false);
        add_domain("work", 1, true, false);
        add_domain("running", 2, true, false);
        add_domain("halted", 3, false, false);
        add_domain("dvm", 4, false, true);
}

static void units_teardown(void) {
        system_info_done(&pd);
        policy_free(pd.policy);
}

static void plan_for(const char *target, const char *service, struct call_plan *plan, PolicyDecision *d) {
        PolicyRequest req = { .source = "work", .target = target, .service = service, .argument = "+" };
        ck_assert_int_eq(policy_evaluate(pd.policy, system_info_get(&pd), &req, d), 0);
        call_plan_make(&pd, d, plan);
}

START_TEST(test_plan) {
        struct call_plan plan;
        PolicyDecision d;

        plan_for("running", "s.Run", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_CONNECT);
        ck_assert_str_eq(plan.target, "running");
        ck_assert_uint_eq(plan.target_domid, 2);
        ck_assert_str_eq(plan.user, "");
        policy_decision_done(&d);

        /* By uuid: the same domain. */
        plan_for("uuid:uuid-of-running", "s.Run", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_CONNECT);
        ck_assert_str_eq(plan.target, "running");
        policy_decision_done(&d);

        plan_for("running", "s.User", &plan, &d);
        ck_assert_str_eq(plan.user, "bob");
        policy_decision_done(&d);

        plan_for("halted", "s.Halted", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_START);
        ck_assert_str_eq(plan.target, "halted");
        policy_decision_done(&d);

        plan_for("halted", "s.NoStart", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_REFUSE);
        policy_decision_done(&d);

        plan_for("@dispvm", "s.Disp", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_DISPVM);
        ck_assert_str_eq(plan.target, "dvm");
        policy_decision_done(&d);

        plan_for("running", "s.Ask", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_ASK);
        /* The user's answer turns it into a connect. */
        PolicyRequest req = { .source = "work", .target = "running", .service = "s.Ask", .argument = "+" };
        ck_assert_int_eq(policy_decision_choose(system_info_get(&pd), &req, "halted", &d), 0);
        call_plan_make(&pd, &d, &plan);
        ck_assert_int_eq(plan.action, CALL_START);
        ck_assert_str_eq(plan.target, "halted");
        policy_decision_done(&d);
        plan_for("running", "s.Ask", &plan, &d);
        ck_assert_int_eq(policy_decision_choose(system_info_get(&pd), &req, "nowhere", &d), 0);
        ck_assert_int_eq(d.verdict, POLICY_VERDICT_DENY);
        policy_decision_done(&d);

        /* The admin domain: its agent is domain 0 on the bus, user DEFAULT. */
        plan_for("dom0", "s.Dom0", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_CONNECT);
        ck_assert_str_eq(plan.target, "dom0");
        ck_assert_uint_eq(plan.target_domid, 0);
        ck_assert_str_eq(plan.user, "DEFAULT");
        policy_decision_done(&d);
        plan_for("@adminvm", "s.Dom0", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_CONNECT);
        ck_assert_str_eq(plan.target, "dom0");
        policy_decision_done(&d);

        plan_for("running", "s.Other", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_REFUSE);
        policy_decision_done(&d);

        /* A domain that went away is no target. */
        system_info_on_domain_removed(&pd, "running");
        plan_for("running", "s.Run", &plan, &d);
        ck_assert_int_eq(plan.action, CALL_REFUSE);
        policy_decision_done(&d);
}
END_TEST

START_TEST(test_cmdline) {
        char *c = call_plan_cmdline("user", "qubes.Filecopy+", "work", NULL);
        ck_assert_str_eq(c, "user:QUBESRPC qubes.Filecopy+ work");
        free(c);
        /* Qubes' dom0 form: the '+' always, the requested target's kind. */
        c = call_plan_cmdline("DEFAULT", "qubes.GetDate", "work", "dom0");
        ck_assert_str_eq(c, "DEFAULT:QUBESRPC qubes.GetDate+ work name dom0");
        free(c);
        c = call_plan_cmdline("DEFAULT", "test.Arg+x", "work", "@adminvm");
        ck_assert_str_eq(c, "DEFAULT:QUBESRPC test.Arg+x work keyword adminvm");
        free(c);
        c = call_plan_cmdline("DEFAULT", "test.Arg+", "work", "");
        ck_assert_str_eq(c, "DEFAULT:QUBESRPC test.Arg+ work keyword default");
        free(c);
        char *huge = malloc(BUS_CMDLINE_MAX + 1);
        memset(huge, 'x', BUS_CMDLINE_MAX);
        huge[BUS_CMDLINE_MAX] = '\0';
        ck_assert_ptr_null(call_plan_cmdline("user", huge, "work", NULL));
        free(huge);
}
END_TEST

/* Snapshots: what a DONE did not describe since the last one is gone. */
START_TEST(test_snapshot) {
        struct bus_msg_domain_info info = { .domid = 9, .power_state = BUS_POWER_RUNNING };

        system_info_on_done(&pd, 5);    /* ends the first snapshot: all described */
        ck_assert_ptr_nonnull(system_info_find(&pd, "halted"));
        snprintf(info.name, sizeof(info.name), "work");
        snprintf(info.klass, sizeof(info.klass), "AppVM");
        system_info_on_domain_info(&pd, &info);
        system_info_on_done(&pd, 1);
        ck_assert_ptr_nonnull(system_info_find(&pd, "work"));
        ck_assert_ptr_null(system_info_find(&pd, "halted"));
        ck_assert_uint_eq(policyd_domain_domid(system_info_find_domid(&pd, 9)), 9);
        ck_assert_ptr_null(policy_system_find(system_info_get(&pd), "halted"));
        /* Invalid names never reach the policy library. */
        snprintf(info.name, sizeof(info.name), "@anyvm");
        system_info_on_domain_info(&pd, &info);
        ck_assert_ptr_null(system_info_find(&pd, "@anyvm"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("qrexec-policyd units");
        TCase *line = tcase_create("line protocol"), *plan = tcase_create("call plan");

        tcase_add_test(line, test_parse_valid);
        tcase_add_test(line, test_parse_refused);
        tcase_add_test(line, test_answer_format);
        tcase_add_checked_fixture(plan, units_setup, units_teardown);
        tcase_add_test(plan, test_plan);
        tcase_add_test(plan, test_cmdline);
        tcase_add_test(plan, test_snapshot);
        suite_add_tcase(s, line);
        suite_add_tcase(s, plan);
        return check_run_suite(s);
}
