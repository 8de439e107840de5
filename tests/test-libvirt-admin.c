/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt domains through qubesd, in a private stack (busd + qubesd):
 * - backend=libvirt:test:///default: Start runs the domain in libvirt's test
 *   driver and busd opens its virtio control channel, which nothing serves
 *   (no QEMU, no agent): the domain is Transient in `qubes-ctl ls` while its
 *   start waits, then Start fails with Timeout after qrexec_timeout, the domain
 *   is Halted again and can be started again — a clear state, not a hang;
 * - a libvirt backend whose hypervisor hangs (a TCP listener that never
 *   answers, at qemu+tcp://127.0.0.1:PORT): while its Start waits, the Admin
 *   API answers about every other domain at once; when the hypervisor goes
 *   away, the Start fails with Backend and the domain is Halted.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin-client.h"
#include "util.h"
#include "stack-harness.h"

#define USEC_PER_SEC UINT64_C(1000000)

static void stack_setup(void) {
        admin_stack_start("--only", "busd,qubesd", NULL);
}

/* An asynchronous Start, its reply's error name ("" for success) once it came. */
struct pending_start {
        bool done;
        char error[256];
};

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        struct pending_start *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        snprintf(p->error, sizeof(p->error), "%s", e ? e->name : "");
        p->done = true;
        return 0;
}

static void start_async(sd_bus *bus, const char *name, struct pending_start *p) {
        _cleanup_free_ char *path = admin_path(name);

        *p = (struct pending_start) {};
        ck_assert_int_ge(sd_bus_call_method_async(bus, NULL, NULL, path, ADMIN_DOMAIN, "Start",
                                                  on_start_reply, p, ""),
                         0);
        ck_assert_int_ge(sd_bus_flush(bus), 0);        /* sent now: the test goes on without processing */
}

static void wait_start(sd_bus *bus, struct pending_start *p, unsigned timeout_sec) {
        uint64_t deadline = now_usec() + timeout_sec * USEC_PER_SEC;

        while (!p->done && now_usec() < deadline) {
                int r = sd_bus_process(bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        ck_assert_int_ge(sd_bus_wait(bus, 100000), 0);
        }
        ck_assert_msg(p->done, "Start did not answer within %u s", timeout_sec);
}

/* Until `qubes-ctl ls` shows name in state, up to timeout_sec (else its output and qubesd's log on stderr). */
static bool ls_shows(const char *name, const char *state, unsigned timeout_sec) {
        char path[4096], out[8192], want[128];
        uint64_t deadline = now_usec() + timeout_sec * USEC_PER_SEC;

        snprintf(path, sizeof(path), "%s/client/qubes-ctl", admin_stack.builddir);
        snprintf(want, sizeof(want), "\n%s ", name);
        do {
                if (test_stack_run(&admin_stack, out, sizeof(out), path, "ls", NULL) == 0) {
                        const char *line = strstr(out, want);
                        if (line) {
                                line += strlen(want);
                                line += strspn(line, " ");
                                if (strncmp(line, state, strlen(state)) == 0)
                                        return true;
                        }
                }
                usleep(100000);
        } while (now_usec() < deadline);
        fprintf(stderr, "qubes-ctl ls:\n%s", out);
        snprintf(path, sizeof(path), "cat '%s/log/qubesd.log' >&2", admin_stack.root);
        (void) !system(path);
        return false;
}

START_TEST(test_test_driver_without_agent) {
        sd_bus *bus = admin_stack_client();
        struct pending_start start;

        ck_assert_str_eq(admin_create(bus, "lv-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "lv-test", "AppVM", "green", "backend", "libvirt:test:///default"), "");
        ck_assert_str_eq(admin_domain_call(bus, "lv-test", "SetProperty", NULL, "ss", "template", "lv-tpl"), "");
        ck_assert_str_eq(admin_domain_call(bus, "lv-test", "SetProperty", NULL, "ss", "qrexec_timeout", "3"), "");

        for (int round = 0; round < 2; round++) {
                uint64_t t0 = now_usec();
                start_async(bus, "lv-test", &start);
                /* started in libvirt, waiting for the agent's hello on the virtio channel */
                ck_assert(ls_shows("lv-test", "Transient", 10));
                wait_start(bus, &start, 60);
                ck_assert_str_eq(start.error, ADMIN_ERROR "Timeout");
                ck_assert_uint_ge(now_usec() - t0, 3 * USEC_PER_SEC);
                /* killed after the timeout: Dying, then Halted once libvirt destroyed it */
                ck_assert(ls_shows("lv-test", "Halted", 30));
                ck_assert_str_eq(admin_prop(bus, "lv-test", "state"), "Halted");
        }
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_hung_hypervisor_keeps_api_responsive) {
        sd_bus *bus = admin_stack_client();
        struct pending_start start;
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(addr);
        char backend[128];

        /* a hypervisor that accepts connections (the kernel does, in the
         * backlog) and never says a word */
        int hung = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(hung, 0);
        ck_assert_int_eq(bind(hung, (struct sockaddr *) &addr, sizeof(addr)), 0);
        ck_assert_int_eq(listen(hung, 16), 0);
        ck_assert_int_eq(getsockname(hung, (struct sockaddr *) &addr, &len), 0);
        snprintf(backend, sizeof(backend), "libvirt:qemu+tcp://127.0.0.1:%u/system", (unsigned) ntohs(addr.sin_port));

        ck_assert_str_eq(admin_create(bus, "hv-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "hv-hung", "AppVM", "red", "backend", backend), "");
        ck_assert_str_eq(admin_domain_call(bus, "hv-hung", "SetProperty", NULL, "ss", "template", "hv-tpl"), "");
        start_async(bus, "hv-hung", &start);
        ck_assert(ls_shows("hv-hung", "Transient", 10));

        /* the Admin API about everything else: each call answers at once
         * (5 s: room for a loaded machine; the hung call never ends by itself) */
        uint64_t t0 = now_usec(), worst = 0;
        for (int i = 0; i < 5; i++) {
                char name[32];
                uint64_t t = now_usec();

                snprintf(name, sizeof(name), "hv-native-%d", i);
                ck_assert_str_eq(admin_create(bus, name, "AppVM", "blue", "template", "hv-tpl"), "");
                ck_assert_str_eq(admin_domain_call(bus, name, "SetProperty", NULL, "ss", "memory", "300"), "");
                ck_assert_str_eq(admin_prop(bus, name, "memory"), "300");
                ck_assert(admin_list_has(bus, name));
                ck_assert_str_eq(admin_prop(bus, "hv-hung", "state"), "Transient");
                ck_assert_str_eq(admin_manager_call(bus, "RemoveDomain", NULL, "s", name), "");
                worst = now_usec() - t > worst ? now_usec() - t : worst;
        }
        fprintf(stderr, "while a libvirt backend hangs: 5 rounds of 6 Admin calls in %.3f s (worst round %.3f s)\n",
                (double) (now_usec() - t0) / 1e6, (double) worst / 1e6);
        ck_assert_msg(worst < 5 * USEC_PER_SEC, "a round of Admin calls took %.3f s", (double) worst / 1e6);
        ck_assert(!start.done);

        /* the hypervisor goes away: the start fails, cleanly */
        close(hung);
        wait_start(bus, &start, 120);
        ck_assert_str_eq(start.error, ADMIN_ERROR "Backend");
        ck_assert(ls_shows("hv-hung", "Halted", 30));
        sd_bus_unref(bus);
}
END_TEST

int main(void) {
        Suite *s = suite_create("libvirt-admin");
        TCase *tc = tcase_create("stack");
        SRunner *sr;
        int failed;

        if (geteuid() != 0) {
                printf("SKIP: the stack runs its daemons under their own uids, which needs root\n");
                return 77;
        }
        tcase_set_timeout(tc, 240);
        tcase_add_checked_fixture(tc, stack_setup, admin_stack_stop);
        tcase_add_test(tc, test_test_driver_without_agent);
        tcase_add_test(tc, test_hung_hypervisor_keeps_api_responsive);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
