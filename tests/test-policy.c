/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy library (policy/): every parser error with its file:line:
 * message, file selection and order, the directives, the JSON reader's
 * refusals, and evaluation (first match, redirects, ask lists, the
 * service index).  The conformance cases run through the CLI in
 * test-policy-conformance.py.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check-helpers.h"
#include "json.h"
#include "policy.h"
#include "util.h"

static const char system_json[] =
        "{\"domains\": {"
        " \"dom0\": {\"type\": \"AdminVM\", \"tags\": [\"admintag\"], \"default_dispvm\": \"dvm\","
        "   \"template_for_dispvms\": false, \"power_state\": \"Running\","
        "   \"uuid\": \"00000000-0000-0000-0000-000000000000\", \"internal\": false},"
        " \"work\": {\"type\": \"AppVM\", \"tags\": [\"corp\"], \"default_dispvm\": \"dvm\","
        "   \"template_for_dispvms\": false, \"power_state\": \"Running\","
        "   \"uuid\": \"11111111-1111-4111-8111-111111111111\", \"internal\": \"\"},"
        " \"personal\": {\"type\": \"AppVM\", \"tags\": [], \"default_dispvm\": null,"
        "   \"template_for_dispvms\": false, \"power_state\": \"Halted\","
        "   \"uuid\": \"22222222-2222-4222-8222-222222222222\", \"internal\": null},"
        " \"dvm\": {\"type\": \"AppVM\", \"tags\": [\"corp\"], \"default_dispvm\": \"dvm\","
        "   \"template_for_dispvms\": true, \"power_state\": \"Halted\","
        "   \"uuid\": \"44444444-4444-4444-8444-444444444444\", \"internal\": false},"
        " \"hidden\": {\"type\": \"AppVM\", \"tags\": [], \"default_dispvm\": null,"
        "   \"template_for_dispvms\": false, \"power_state\": \"Running\","
        "   \"uuid\": \"55555555-5555-4555-8555-555555555555\", \"internal\": \"1\"}"
        "}}";

static PolicySystem *system_info(void) {
        PolicySystem *s = NULL;
        char *error = NULL;
        int r = policy_system_parse(system_json, strlen(system_json), &s, &error);
        ck_assert_msg(r == 0, "system info: %d %s", r, error ? error : "");
        return s;
}

/* A policy from one text, as file "t.policy". */
static Policy *parse(const char *text) {
        Policy *p = policy_new();
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(policy_parse_text(p, "t.policy", text, strlen(text), "/nonexistent", "/nonexistent"), 0);
        ck_assert_int_eq(policy_index(p), 0);
        return p;
}

static char *first_error(const Policy *p) {
        return p->n_errors ? policy_error_format(&p->errors[0]) : strdup("");
}

START_TEST(test_errors) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "# c\n\ntest.Svc * work personal\n", "t.policy:3: wrong number of fields" },
                { "test.Svc * work personal permit\n", "t.policy:1: invalid action: permit" },
                { "test.Svc * work personal allow,target=dom0\n", "t.policy:1: invalid action: allow,target=dom0" },
                { "test.Svc * work personal allow user\n", "t.policy:1: invalid action parameter syntax: 'user'" },
                { "test.Svc * work personal allow user=a user=b\n", "t.policy:1: parameter given twice: 'user'" },
                { "test.Svc * work personal allow notify=x\n",
                  "t.policy:1: 'notify' is 'x', but can be only 'yes' or 'no'" },
                { "test.Svc * work personal ask autostart=True\n",
                  "t.policy:1: 'autostart' is 'True', but can be only 'yes' or 'no'" },
                { "test.Svc * work personal deny target=personal user=u\n",
                  "t.policy:1: invalid parameters for action Deny: ['target', 'user']" },
                { "test.Svc * work personal allow default_target=work\n",
                  "t.policy:1: invalid parameters for action Allow: ['default_target']" },
                { "test.Svc * work personal ask colour=red\n",
                  "t.policy:1: invalid parameters for action Ask: ['colour']" },
                { "test.Svc * work @default allow\n",
                  "t.policy:1: allow action for @default rule must specify target= option" },
                { "test+Svc * work personal allow\n",
                  "t.policy:1: service 'test+Svc' contains invalid characters: ('+',)" },
                { "te$t@Svc * work personal allow\n",
                  "t.policy:1: service 'te$t@Svc' contains invalid characters: ('$', '@')" },
                { "test.Svc +a/b work personal allow\n",
                  "t.policy:1: argument '+a/b' contains invalid characters: ('/',)" },
                { "test.Svc foo work personal allow\n", "t.policy:1: argument 'foo' does not start with +" },
                { "* +foo work personal allow\n", "t.policy:1: only * argument allowed for * service" },
                { "test.Svc * @default personal allow\n", "t.policy:1: invalid source token: '@default'" },
                { "test.Svc * @dispvm personal allow\n", "t.policy:1: invalid source token: '@dispvm'" },
                { "test.Svc * work @bogus allow\n", "t.policy:1: invalid target token: '@bogus'" },
                { "test.Svc * work personal allow target=@anyvm\n",
                  "t.policy:1: invalid redirect token: '@anyvm'" },
                { "test.Svc * work personal allow target=*\n", "t.policy:1: invalid redirect token: '*'" },
                { "test.Svc * work personal allow target=@dispvm:@tag:x\n",
                  "t.policy:1: invalid redirect token: '@dispvm:@tag:x'" },
                { "test.Svc * work personal allow target=\n", "t.policy:1: invalid empty redirect token" },
                { "test.Svc * @tag: personal allow\n", "t.policy:1: invalid empty @tag: token: '@tag:'" },
                { "test.Svc * work @type: allow\n", "t.policy:1: invalid empty @type: token: '@type:'" },
                { "test.Svc * work @dispvm: allow\n", "t.policy:1: invalid empty @dispvm: token: '@dispvm:'" },
                { "test.Svc * work @dispvm:@tag: allow\n",
                  "t.policy:1: invalid empty @dispvm:@tag: token: '@dispvm:@tag:'" },
                { "!include a b\n", "t.policy:1: invalid number of params" },
                { "!include-service test.Svc x\n", "t.policy:1: invalid number of params" },
                { "!compat-4.0 x\n", "t.policy:1: invalid number of params" },
                { "!includes a\n", "t.policy:1: invalid directive" },
                { "\n!include missing\n", "t.policy:2: not a file: /nonexistent/missing" },
                { "!include-dir missing.d\n", "t.policy:1: not a directory: /nonexistent/missing.d" },
                { "!include-service * +x f\n", "t.policy:1: only * argument allowed for * service" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(policy_freep) Policy *p = parse(cases[i].text);
                _cleanup_free_ char *e = first_error(p);
                ck_assert_msg(strcmp(e, cases[i].error) == 0, "%s: got '%s', wanted '%s'", cases[i].text, e,
                              cases[i].error);
                ck_assert_uint_eq(p->n_rules, 0);
        }
}
END_TEST

START_TEST(test_every_error_reported) {
        _cleanup_(policy_freep) Policy *p =
                parse("test.Svc * work personal allow\nbad\ntest.Svc * work personal nope\n  # fine\n"
                      "test.Svc * work personal deny\n");
        ck_assert_uint_eq(p->n_errors, 2);
        ck_assert_uint_eq(p->errors[0].line, 2);
        ck_assert_uint_eq(p->errors[1].line, 3);
        ck_assert_uint_eq(p->n_rules, 2);
        ck_assert_uint_eq(p->rules[1].line, 5);
}
END_TEST

static char *make_tree(void) {
        char *dir = strdup("/tmp/test-policy-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        return dir;
}

static void put(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = path_join(dir, name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        ck_assert_int_eq(mkdir_p(path, 0755), 0);
        *slash = '/';
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

static void remove_tree(const char *dir) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static Policy *load(const char *const *dirs, size_t n, const char *legacy) {
        PolicyLoadOptions o = { .dirs = dirs, .n_dirs = n, .legacy_dir = legacy };
        Policy *p = NULL;
        ck_assert_int_eq(policy_load(&o, &p), 0);
        return p;
}

START_TEST(test_files_and_order) {
        _cleanup_free_ char *root = make_tree(), *run = path_join(root, "run"), *etc = path_join(root, "etc");
        const char *dirs[] = { run, etc };

        put(etc, "20-b.policy", "s.B * work personal allow\n");
        put(etc, "100-a.policy", "s.A * work personal allow\n");
        put(etc, "30-x.policy", "s.EtcCopy * work personal allow\n");
        put(run, "30-x.policy", "s.RunCopy * work personal allow\n");
        put(etc, ".10-hidden.policy", "bad\n");
        put(etc, "x.policy.rpmsave", "bad\n");
        put(etc, "README", "bad\n");
        {
                _cleanup_(policy_freep) Policy *p = load(dirs, 2, NULL);
                ck_assert_uint_eq(p->n_errors, 0);
                ck_assert_uint_eq(p->n_rules, 3);
                /* plain string order: 100-a before 20-b; /run's 30-x wins */
                ck_assert_str_eq(p->rules[0].service, "s.A");
                ck_assert_str_eq(p->rules[1].service, "s.B");
                ck_assert_str_eq(p->rules[2].service, "s.RunCopy");
        }
        put(etc, "40-Upper.policy", "s.C * work personal allow\n");
        {
                _cleanup_(policy_freep) Policy *p = load(dirs, 2, NULL);
                _cleanup_free_ char *e = first_error(p);
                ck_assert_uint_eq(p->n_errors, 1);
                ck_assert_ptr_nonnull(strstr(e, "invalid filename: "));
                ck_assert_ptr_nonnull(strstr(e, "40-Upper.policy"));
                ck_assert_uint_eq(p->n_rules, 0); /* all or nothing */
        }
        remove_tree(root);
}
END_TEST

START_TEST(test_directives) {
        _cleanup_free_ char *root = make_tree(), *legacy = path_join(root, "legacy");
        _cleanup_(policy_system_freep) PolicySystem *s = system_info();
        const char *dirs[] = { root };

        put(root, "10-a.policy",
            "s.One * work personal deny\n"
            "!include inc/one\n"
            "!include-dir inc.d\n"
            "!include-service s.Old * inc/old\n"
            "!compat-4.0\n"
            "s.Last * work personal allow\n");
        put(root, "inc/one", "s.One * work @default allow target=personal\n");
        put(root, "inc.d/b.policy", "s.DirB * work personal allow\n");
        put(root, "inc.d/a.policy", "s.DirA * work personal allow\n");
        put(root, "inc.d/ignored", "bad\n");
        put(root, "inc/old", "# legacy\n$anyvm $dispvm allow,user=u\n$include:inc/old2\n");
        put(root, "inc/old2", "work personal deny,notify=no\n");
        put(legacy, "s.Leg+arg", "work personal allow\n");
        put(legacy, "s.Leg", "work dom0 allow\n");
        put(legacy, "s.Leg.rpmnew", "bad\n");
        put(legacy, ".s.Leg.swp", "bad\n");

        _cleanup_(policy_freep) Policy *p = load(dirs, 1, legacy);
        _cleanup_free_ char *e = first_error(p);
        ck_assert_msg(p->n_errors == 0, "%s", e);
        static const char *const services[] = { "s.One", "s.One", "s.DirA", "s.DirB", "s.Old", "s.Old",
                                                "s.Leg", "s.Leg", "s.Leg", "s.Leg", "s.Last" };
        ck_assert_uint_eq(p->n_rules, ELEMENTSOF(services));
        for (size_t i = 0; i < ELEMENTSOF(services); i++)
                ck_assert_str_eq(p->rules[i].service, services[i]);
        ck_assert_str_eq(p->rules[4].source.text, "@anyvm");
        ck_assert_str_eq(p->rules[4].target.text, "@dispvm");
        ck_assert_str_eq(p->rules[4].user, "u");
        ck_assert(!p->rules[5].notify);
        /* legacy: the argument file, its two implicit denies, then the generic one */
        ck_assert_str_eq(p->rules[6].argument, "+arg");
        ck_assert_str_eq(p->rules[7].target.text, "@anyvm");
        ck_assert_str_eq(p->rules[8].target.text, "@adminvm");
        ck_assert_ptr_null(p->rules[9].argument);
        ck_assert_int_eq(p->rules[9].target.kind, POLICY_TOKEN_ADMINVM);

        PolicyRequest req = { .source = "work", .target = "", .service = "s.One" };
        PolicyDecision d;
        ck_assert_int_eq(policy_evaluate(p, s, &req, &d), 0);
        ck_assert_int_eq(d.verdict, POLICY_VERDICT_ALLOW);
        ck_assert_str_eq(d.target, "personal");
        ck_assert_str_eq(d.rule->file + strlen(root), "/inc/one");
        policy_decision_done(&d);
        remove_tree(root);
}
END_TEST

START_TEST(test_include_errors) {
        _cleanup_free_ char *root = make_tree();
        const char *dirs[] = { root };

        put(root, "10-a.policy", "!include inc/loop\n");
        put(root, "inc/loop", "\n!include inc/loop\n");
        put(root, "20-b.policy", "!include-service s.X * inc/svc\n");
        put(root, "inc/svc", "work personal allow\n!include-dir inc\n");
        _cleanup_(policy_freep) Policy *p = load(dirs, 1, NULL);
        ck_assert_uint_eq(p->n_errors, 2);
        _cleanup_free_ char *e0 = policy_error_format(&p->errors[0]), *e1 = policy_error_format(&p->errors[1]);
        ck_assert_msg(strstr(e0, "/inc/loop:2: circular include: ") != NULL, "%s", e0);
        ck_assert_msg(strstr(e1, "/inc/svc:2: invalid directive") != NULL, "%s", e1);
        remove_tree(root);
}
END_TEST

static PolicyVerdict eval(const Policy *p, const PolicySystem *s, const char *source, const char *target,
                          const char *service, PolicyDecision *d) {
        PolicyRequest req = { .source = source, .target = target, .service = service, .argument = "+" };
        ck_assert_int_eq(policy_evaluate(p, s, &req, d), 0);
        return d->verdict;
}

START_TEST(test_evaluate) {
        _cleanup_(policy_system_freep) PolicySystem *s = system_info();
        _cleanup_(policy_freep) Policy *p = parse("a.Ask * work dvm deny\n"
                                                  "a.Allow * work personal allow user=root autostart=no\n"
                                                  "a.Auto * work personal allow\n"
                                                  "a.Disp * work @dispvm allow\n"
                                                  "a.Self * @anyvm @anyvm allow\n"
                                                  "a.Ask * work @default ask default_target=dom0\n"
                                                  "a.Ask * work @tag:corp allow\n"
                                                  "a.Ask * @anyvm @adminvm allow\n"
                                                  "a.Ask * @anyvm hidden allow\n");
        PolicyDecision d;

        /* autostart=no refuses a halted target */
        ck_assert_int_eq(eval(p, s, "work", "personal", "a.Allow", &d), POLICY_VERDICT_DENY);
        ck_assert_ptr_nonnull(strstr(d.reason, "autostart=no"));
        policy_decision_done(&d);
        ck_assert_int_eq(eval(p, s, "work", "personal", "a.Auto", &d), POLICY_VERDICT_ALLOW);
        ck_assert_str_eq(d.target, "personal");
        ck_assert_str_eq(d.target_uuid, "uuid:22222222-2222-4222-8222-222222222222");
        ck_assert_str_eq(d.requested_target, "personal");
        ck_assert(d.autostart);
        ck_assert_ptr_null(d.user);
        policy_decision_done(&d);
        ck_assert_int_eq(eval(p, s, "work", "@dispvm", "a.Disp", &d), POLICY_VERDICT_ALLOW);
        ck_assert_str_eq(d.target, "@dispvm:dvm");
        ck_assert_str_eq(d.target_uuid, "@dispvm:uuid:44444444-4444-4444-8444-444444444444");
        policy_decision_done(&d);
        ck_assert_int_eq(eval(p, s, "work", "work", "a.Self", &d), POLICY_VERDICT_DENY);
        ck_assert_str_eq(d.reason, "loopback qrexec connection not supported");
        policy_decision_done(&d);
        /* unknown names become @default, which nothing here allows */
        ck_assert_int_eq(eval(p, s, "work", "nosuch", "a.Self", &d), POLICY_VERDICT_DENY);
        ck_assert_str_eq(d.requested_target, "@default");
        policy_decision_done(&d);
        ck_assert_int_eq(eval(p, s, "work", "@anyvm", "a.Self", &d), POLICY_VERDICT_DENY);
        policy_decision_done(&d);
        ck_assert_int_eq(eval(p, s, "work", "personal", "a.None", &d), POLICY_VERDICT_DENY);
        ck_assert_str_eq(d.reason, "no matching rule found");
        ck_assert_ptr_null(d.rule);
        policy_decision_done(&d);

        /* ask: corp VMs and dom0, minus the source, the internal VM and the
         * earlier deny of dvm; default_target dom0 is offered */
        ck_assert_int_eq(eval(p, s, "work", "", "a.Ask", &d), POLICY_VERDICT_ASK);
        ck_assert_uint_eq(d.n_targets, 1);
        ck_assert_str_eq(d.targets[0], "dom0");
        ck_assert_str_eq(d.default_target, "dom0");
        policy_decision_done(&d);
}
END_TEST

START_TEST(test_broken_policy_denies) {
        _cleanup_(policy_system_freep) PolicySystem *s = system_info();
        _cleanup_(policy_freep) Policy *p = parse("* * @anyvm @anyvm allow\nbroken\n");
        PolicyDecision d;

        ck_assert_int_eq(eval(p, s, "work", "personal", "a.Any", &d), POLICY_VERDICT_DENY);
        ck_assert_ptr_nonnull(strstr(d.reason, "t.policy:2: wrong number of fields"));
        policy_decision_done(&d);
}
END_TEST

/* The cost of a request does not depend on rules for other services: the
 * deciding rule is found after visiting only its service's rules. */
START_TEST(test_index) {
        _cleanup_(policy_system_freep) PolicySystem *s = system_info();
        _cleanup_(policy_freep) Policy *p = policy_new();
        char line[128];

        for (int i = 0; i < 20000; i++) {
                int n = snprintf(line, sizeof(line), "svc.N%d * work personal %s\n", i % 200,
                                 i % 2 ? "deny" : "ask");
                ck_assert_int_eq(policy_parse_text(p, "big.policy", line, (size_t) n, "/", "/"), 0);
        }
        snprintf(line, sizeof(line), "* * @anyvm @anyvm allow\n");
        ck_assert_int_eq(policy_parse_text(p, "big.policy", line, strlen(line), "/", "/"), 0);
        snprintf(line, sizeof(line), "target.Svc * work personal allow\n");
        ck_assert_int_eq(policy_parse_text(p, "big.policy", line, strlen(line), "/", "/"), 0);
        ck_assert_int_eq(policy_index(p), 0);

        PolicyRuleCursor c;
        size_t visited = 0;
        policy_rules_for_service(p, "target.Svc", &c);
        while (policy_rule_next(p, &c))
                visited++;
        ck_assert_uint_eq(visited, 2);
        policy_rules_for_service(p, "svc.N7", &c);
        ck_assert_int_eq(policy_rule_next(p, &c) - p->rules, 7);   /* global order kept */
        visited = 1;
        while (policy_rule_next(p, &c))
                visited++;
        ck_assert_uint_eq(visited, 101);

        PolicyDecision d;
        ck_assert_int_eq(eval(p, s, "work", "personal", "target.Svc", &d), POLICY_VERDICT_ALLOW);
        ck_assert_int_eq(d.rule - p->rules, 20000); /* the * rule comes first */
        policy_decision_done(&d);
}
END_TEST

START_TEST(test_json) {
        static const char *const bad[] = {
                "", "{", "{\"a\":1,}", "[1,]", "{\"a\":1,\"a\":2}", "\"\\u0000\"", "\"\\x\"", "01", "1.", "-",
                "tru", "{\"a\" 1}", "[1] [2]", "\"a\nb\"", "\"\\ud800\"", "nul",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                JsonValue *v = NULL;
                ck_assert_msg(json_parse(bad[i], strlen(bad[i]), &v, NULL) == -EINVAL, "accepted '%s'", bad[i]);
        }

        char deep[200];
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        JsonValue *v = NULL;
        ck_assert_int_eq(json_parse(deep, sizeof(deep), &v, NULL), -E2BIG);

        const char *good = " {\"s\": \"a\\u00e9\\ud83d\\ude00\\n\", \"n\": -1.5e2, \"l\": [true, false, null]} ";
        ck_assert_int_eq(json_parse(good, strlen(good), &v, NULL), 0);
        ck_assert_str_eq(json_object_get(v, "s")->string, "a\xc3\xa9\xf0\x9f\x98\x80\n");
        ck_assert(json_object_get(v, "n")->number == -150.0);
        ck_assert_uint_eq(json_object_get(v, "l")->n_items, 3);
        ck_assert_ptr_null(json_object_get(v, "missing"));
        json_free(v);

        /* the system info reader: shape and types are checked */
        static const char *const bad_info[] = {
                "[]", "{\"domains\": []}", "{\"domains\": {\"a\": {\"tags\": []}}}",
                "{\"domains\": {\"a\": {\"type\": 1}}}", "{\"domains\": {\"a\": {\"type\": \"AppVM\", \"tags\": \"x\"}}}",
                "{\"domains\": {\"@a\": {\"type\": \"AppVM\"}}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_info); i++) {
                PolicySystem *s = NULL;
                _cleanup_free_ char *error = NULL;
                ck_assert_msg(policy_system_parse(bad_info[i], strlen(bad_info[i]), &s, &error) == -EINVAL,
                              "accepted %s", bad_info[i]);
                ck_assert_ptr_nonnull(error);
        }
        _cleanup_(policy_system_freep) PolicySystem *s = system_info();
        ck_assert_str_eq(policy_system_find(s, "uuid:11111111-1111-4111-8111-111111111111")->name, "work");
        ck_assert(policy_system_find(s, "hidden")->internal);
        ck_assert(!policy_system_find(s, "work")->internal);
        ck_assert(!policy_system_find(s, "personal")->running);
        ck_assert_ptr_null(policy_system_find(s, "nosuch"));
}
END_TEST

static Suite *policy_suite(void) {
        Suite *s = suite_create("policy");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_every_error_reported);
        tcase_add_test(tc, test_files_and_order);
        tcase_add_test(tc, test_directives);
        tcase_add_test(tc, test_include_errors);
        tcase_add_test(tc, test_evaluate);
        tcase_add_test(tc, test_broken_policy_denies);
        tcase_add_test(tc, test_index);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(policy_suite());
}
