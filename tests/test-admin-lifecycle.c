/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running domains through the Admin API, with the real busd, qubesd and the
 * native backend in a private stack: Start returns only once the agent said
 * hello, pause/unpause, shutdown and kill, the netvm started first,
 * ShutdownAll, the refusals that only a running domain gets, Timeout when the
 * agent never says hello, and a qubesd killed with SIGKILL whose successor
 * finds the running domain again (and autostarts what should be).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin-client.h"
#include "stack-harness.h"

#define ERR_PREFIX ADMIN_ERROR
#define manager_call admin_manager_call
#define domain_call admin_domain_call
#define create admin_create
#define prop admin_prop

static void stack_setup(void) {
        admin_stack_start(NULL);
}

START_TEST(test_start_stop) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;

        admin_stack_require_agents();
        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "run-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "run-a", "AppVM", "blue", "template", "run-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "run-a", "Start", NULL, NULL), "");
        /* Start returns only after the agent's hello */
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Running");
        ck_assert(admin_wait_signal(bus, &sig, "DomainStateChanged run-a Transient", 1000));
        ck_assert(admin_wait_signal(bus, &sig, "DomainStarted run-a", 1000));

        ck_assert_str_eq(domain_call(bus, "run-a", "Start", NULL, NULL), ERR_PREFIX "NotHalted");
        ck_assert_str_eq(manager_call(bus, "RemoveDomain", NULL, "s", "run-a"), ERR_PREFIX "NotHalted");
        ck_assert_str_eq(manager_call(bus, "CloneDomain", NULL, "ssa{sv}", "run-a", "run-b", 0), ERR_PREFIX "NotHalted");
        ck_assert_str_eq(domain_call(bus, "run-a", "SetProperty", NULL, "ss", "template", "run-tpl"), ERR_PREFIX "NotHalted");
        ck_assert_str_eq(domain_call(bus, "run-a", "Unpause", NULL, NULL), ERR_PREFIX "NotRunning");

        ck_assert_str_eq(domain_call(bus, "run-a", "Pause", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Paused");
        ck_assert_str_eq(domain_call(bus, "run-a", "Pause", NULL, NULL), ERR_PREFIX "NotRunning");
        ck_assert_str_eq(domain_call(bus, "run-a", "Unpause", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Running");

        ck_assert_str_eq(domain_call(bus, "run-a", "Shutdown", NULL, "ub", 5, 1), "");
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Halted");
        ck_assert(admin_wait_signal(bus, &sig, "DomainStopped run-a", 1000));

        ck_assert_str_eq(domain_call(bus, "run-a", "Start", NULL, NULL), "");
        ck_assert_str_eq(domain_call(bus, "run-a", "Kill", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Halted");

        /* the netvm starts first */
        ck_assert_str_eq(create(bus, "run-net", "AppVM", "red", "template", "run-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "run-net", "SetProperty", NULL, "ss", "provides_network", "True"), "");
        ck_assert_str_eq(domain_call(bus, "run-a", "SetProperty", NULL, "ss", "netvm", "run-net"), "");
        ck_assert_str_eq(domain_call(bus, "run-a", "Start", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "run-net", "state"), "Running");
        ck_assert_str_eq(manager_call(bus, "ShutdownAll", NULL, "u", 5), "");
        ck_assert_str_eq(prop(bus, "run-net", "state"), "Halted");
        ck_assert_str_eq(prop(bus, "run-a", "state"), "Halted");
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_restart_finds_running) {
        sd_bus *bus = admin_stack_client();

        admin_stack_require_agents();
        ck_assert_str_eq(create(bus, "rs-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "rs-a", "AppVM", "green", "template", "rs-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "rs-a", "Start", NULL, NULL), "");
        ck_assert_str_eq(prop(bus, "rs-a", "state"), "Running");
        /* halted, but started by the next qubesd */
        ck_assert_str_eq(create(bus, "rs-auto", "AppVM", "red", "template", "rs-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "rs-auto", "SetProperty", NULL, "ss", "autostart", "True"), "");
        ck_assert_str_eq(prop(bus, "rs-auto", "state"), "Halted");
        sd_bus_unref(bus);

        pid_t old = test_stack_daemon_pid(&admin_stack, "qubesd");
        ck_assert_int_gt(old, 0);
        ck_assert_int_eq(kill(old, SIGKILL), 0);
        for (int i = 0; i < 200 && kill(old, 0) == 0; i++)
                usleep(10000);

        pid_t fresh = test_stack_spawn_daemon(&admin_stack, "daemons/qubesd/qubesd", "qubesd-restarted");
        ck_assert_int_gt(fresh, 0);
        bus = NULL;
        for (int i = 0; i < 300 && !bus; i++) {
                usleep(20000);
                sd_bus *b = NULL;
                if (sd_bus_new(&b) >= 0 && sd_bus_set_address(b, admin_stack.admin_address) >= 0 && sd_bus_start(b) >= 0 &&
                    sd_bus_call_method(b, NULL, ADMIN_PATH, ADMIN_MANAGER, "ListDomains", NULL, NULL, "") >= 0)
                        bus = b;
                else
                        sd_bus_unref(b);
        }
        ck_assert_msg(bus, "the restarted qubesd did not answer");
        ck_assert_str_eq(prop(bus, "rs-a", "state"), "Running");
        ck_assert_str_eq(prop(bus, "rs-a", "label"), "green");
        for (int i = 0; i < 250 && strcmp(prop(bus, "rs-auto", "state"), "Running") != 0; i++)
                usleep(20000);
        ck_assert_str_eq(prop(bus, "rs-auto", "state"), "Running");
        ck_assert_str_eq(domain_call(bus, "rs-auto", "Kill", NULL, NULL), "");
        /* and it can still stop it */
        ck_assert_str_eq(domain_call(bus, "rs-a", "Shutdown", NULL, "ub", 5, 1), "");
        ck_assert_str_eq(prop(bus, "rs-a", "state"), "Halted");
        sd_bus_unref(bus);
        kill(fresh, SIGTERM);
        waitpid(fresh, NULL, 0);
}
END_TEST

/* A stack whose domains' agent never says hello: odyssey-init starts a
 * "qrexec-agent" that only sleeps. */
static char silent_agents[256];

static void silent_stack_setup(void) {
        char cmd[2048], arg[400];

        admin_stack_up = false;
        snprintf(silent_agents, sizeof(silent_agents), "/tmp/odyssey-silent-agents-XXXXXX");
        if (!mkdtemp(silent_agents))
                return;
        snprintf(cmd, sizeof(cmd),
                 "cp '%s/agents/bin/odyssey-init' '%s/' 2>/dev/null && printf '#!/bin/sh\\nexec sleep 60\\n' >'%s/qrexec-agent' && "
                 "chmod 755 '%s' '%s/qrexec-agent'",
                 getenv("ODYSSEY_BUILDDIR") ?: ODYSSEY_BUILDDIR, silent_agents, silent_agents, silent_agents, silent_agents);
        if (system(cmd) != 0)
                return;
        snprintf(arg, sizeof(arg), "qubesd=--agents-dir=%s", silent_agents);
        admin_stack_up = test_stack_start(&admin_stack, "--arg", arg, NULL) == 0;
}

static void silent_stack_teardown(void) {
        char cmd[300];

        admin_stack_stop();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", silent_agents);
        (void) !system(cmd);
}

START_TEST(test_start_timeout) {
        sd_bus *bus = admin_stack_client();
        static struct admin_signals sig;

        admin_stack_require_agents();
        ck_assert_int_ge(admin_watch_signals(bus, &sig), 0);
        ck_assert_str_eq(create(bus, "to-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(create(bus, "to-a", "AppVM", "blue", "template", "to-tpl"), "");
        ck_assert_str_eq(domain_call(bus, "to-a", "SetProperty", NULL, "ss", "qrexec_timeout", "1"), "");
        ck_assert_str_eq(domain_call(bus, "to-a", "Start", NULL, NULL), ERR_PREFIX "Timeout");
        ck_assert(admin_wait_signal(bus, &sig, "DomainStateChanged to-a Halted", 5000));
        ck_assert_str_eq(prop(bus, "to-a", "state"), "Halted");
        ck_assert(!admin_wait_signal(bus, &sig, "DomainStarted to-a", 0));
        sd_bus_unref(bus);
}
END_TEST

static Suite *lifecycle_suite(void) {
        Suite *s = suite_create("admin-lifecycle");

        TCase *tc = tcase_create("start-stop");
        tcase_add_unchecked_fixture(tc, stack_setup, admin_stack_stop);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_start_stop);
        suite_add_tcase(s, tc);

        /* a stack of its own: it kills that stack's qubesd */
        TCase *restart = tcase_create("restart");
        tcase_add_unchecked_fixture(restart, stack_setup, admin_stack_stop);
        tcase_set_timeout(restart, 60);
        tcase_add_test(restart, test_restart_finds_running);
        suite_add_tcase(s, restart);

        TCase *timeout = tcase_create("timeout");
        tcase_add_unchecked_fixture(timeout, silent_stack_setup, silent_stack_teardown);
        tcase_set_timeout(timeout, 60);
        tcase_add_test(timeout, test_start_timeout);
        suite_add_tcase(s, timeout);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(lifecycle_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
