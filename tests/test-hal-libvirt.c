/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hal_libvirt_ops on an sd-event loop against libvirt's test:///default
 * driver (one shared in-process hypervisor per process): start, list, pause,
 * unpause, shutdown, kill; refusals; a domain destroyed behind the backend's
 * back is reported; a hung worker delays only its own backend.
 */
#include <check.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "hal-libvirt.h"
#include "hal-test-helpers.h"
#include "util.h"

#define URI "test:///default"

struct env {
        sd_event *event;
        struct hal_backend *backend;
        char root[64], runtime_dir[128];
        struct hal_test_events events;
};

/* Run the loop until *flag (generous: the machine is loaded). */
static void run_until(struct env *env, const bool *flag) {
        uint64_t deadline = now_usec() + 30 * UINT64_C(1000000);

        while (!*flag && now_usec() < deadline)
                ck_assert_int_ge(sd_event_run(env->event, 100000), 0);
        ck_assert_msg(*flag, "timed out");
}

static void env_setup(struct env *env) {
        *env = (struct env) {};
        snprintf(env->root, sizeof(env->root), "/tmp/test-hal-libvirt-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(env->root));
        snprintf(env->runtime_dir, sizeof(env->runtime_dir), "%s/run", env->root);
        ck_assert_int_ge(sd_event_new(&env->event), 0);
        ck_assert_int_eq(hal_libvirt_ops.new_at(env->event, URI, env->runtime_dir, env->root, hal_test_on_event, &env->events,
                                                &env->backend), 0);
}

static void env_teardown(struct env *env) {
        hal_libvirt_ops.free(env->backend);
        sd_event_unref(env->event);
        rmdir(env->root);
}

static struct hal_domain_config config(const char *name, uint32_t domid) {
        return (struct hal_domain_config) {
                .name = name,
                .domid = domid,
                .uuid = NULL,
                .klass = DOMAIN_APPVM,
                .memory_mb = 256,
                .vcpus = 1,
                .kernel = "/boot/vmlinuz",
        };
}

static void start(struct env *env, const char *name, uint32_t domid) {
        struct hal_domain_config cfg = config(name, domid);
        struct hal_test_result res = {};

        ck_assert_int_eq(hal_libvirt_ops.start(env->backend, &cfg, hal_test_on_done, &res), 0);
        run_until(env, &res.done);
        ck_assert_int_eq(res.r, 0);
}

/* The state libvirt itself reports (our own connection): -1 when it has no such domain. */
static int libvirt_state(virConnectPtr conn, const char *name) {
        char full[64];
        int state, reason;

        snprintf(full, sizeof(full), "odyssey-%s", name);
        virDomainPtr dom = virDomainLookupByName(conn, full);
        if (!dom)
                return -1;
        ck_assert_int_eq(virDomainGetState(dom, &state, &reason, 0), 0);
        virDomainFree(dom);
        return state;
}

struct listed {
        unsigned n;
        uint32_t domid;
        enum power_state state;
};

static void on_listed(void *userdata, const struct hal_domain_info *info) {
        struct listed *l = userdata;

        if (strcmp(info->name, "work") == 0) {
                l->domid = info->domid;
                l->state = info->state;
        }
        l->n++;
}

START_TEST(test_lifecycle) {
        struct env env;
        struct hal_test_result res = {};
        struct listed listed = {};
        virConnectPtr conn = virConnectOpen(URI);
        enum vchan_backend vb;
        char dir[256];

        ck_assert_ptr_nonnull(conn);
        env_setup(&env);
        start(&env, "work", 7);
        ck_assert_int_eq(libvirt_state(conn, "work"), VIR_DOMAIN_RUNNING);

        ck_assert_int_eq(hal_libvirt_ops.list(env.backend, on_listed, &listed), 0);
        ck_assert_uint_eq(listed.n, 1);         /* not the driver's own "test" domain */
        ck_assert_uint_eq(listed.domid, 7);
        ck_assert_int_eq(listed.state, POWER_RUNNING);

        ck_assert_int_eq(hal_libvirt_ops.control_channel(env.backend, "work", &vb, dir, sizeof(dir)), 0);
        ck_assert_int_eq(vb, VCHAN_VIRTIO);
        ck_assert_str_eq(dir, strcat(strcpy((char[256]) {}, env.runtime_dir), "/libvirt/7"));  /* by domid */

        ck_assert_int_eq(hal_libvirt_ops.pause(env.backend, "work", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(libvirt_state(conn, "work"), VIR_DOMAIN_PAUSED);
        res = (struct hal_test_result) {};
        ck_assert_int_eq(hal_libvirt_ops.unpause(env.backend, "work", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(libvirt_state(conn, "work"), VIR_DOMAIN_RUNNING);

        res = (struct hal_test_result) {};
        ck_assert_int_eq(hal_libvirt_ops.shutdown(env.backend, "work", 30, hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(libvirt_state(conn, "work"), -1);     /* transient: gone */

        /* started again, then killed */
        start(&env, "work", 7);
        res = (struct hal_test_result) {};
        ck_assert_int_eq(hal_libvirt_ops.kill(env.backend, "work", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(libvirt_state(conn, "work"), -1);
        env_teardown(&env);
        virConnectClose(conn);
}
END_TEST

START_TEST(test_refusals) {
        struct env env;
        struct hal_test_result res = {};
        struct hal_domain_config cfg = config("dup", 9);

        env_setup(&env);
        start(&env, "dup", 9);
        /* the same name again */
        ck_assert_int_eq(hal_libvirt_ops.start(env.backend, &cfg, hal_test_on_done, &res), -EBUSY);
        /* unknown domains, bad names, a config the XML refuses */
        ck_assert_int_eq(hal_libvirt_ops.kill(env.backend, "nosuch", hal_test_on_done, &res), -ENOENT);
        ck_assert_int_eq(hal_libvirt_ops.pause(env.backend, "nosuch", hal_test_on_done, &res), -ENOENT);
        ck_assert_int_eq(hal_libvirt_ops.shutdown(env.backend, "no/such", 1, hal_test_on_done, &res), -EINVAL);
        cfg = config("bad'name", 10);
        ck_assert_int_eq(hal_libvirt_ops.start(env.backend, &cfg, hal_test_on_done, &res), -EINVAL);
        cfg = config("nomem", 10);
        cfg.memory_mb = 0;
        ck_assert_int_eq(hal_libvirt_ops.start(env.backend, &cfg, hal_test_on_done, &res), -EINVAL);
        /* pausing twice: libvirt refuses the second, reported through done */
        ck_assert_int_eq(hal_libvirt_ops.pause(env.backend, "dup", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        res = (struct hal_test_result) {};
        ck_assert_int_eq(hal_libvirt_ops.pause(env.backend, "dup", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_lt(res.r, 0);
        res = (struct hal_test_result) {};
        ck_assert_int_eq(hal_libvirt_ops.kill(env.backend, "dup", hal_test_on_done, &res), 0);
        run_until(&env, &res.done);
        ck_assert_int_eq(res.r, 0);
        env_teardown(&env);
}
END_TEST

START_TEST(test_destroyed_behind_its_back) {
        struct env env;
        virConnectPtr conn = virConnectOpen(URI);

        ck_assert_ptr_nonnull(conn);
        env_setup(&env);
        start(&env, "victim", 11);
        env.events.n = 0;
        virDomainPtr dom = virDomainLookupByName(conn, "odyssey-victim");
        ck_assert_ptr_nonnull(dom);
        uint64_t t0 = now_usec();
        ck_assert_int_eq(virDomainDestroy(dom), 0);
        virDomainFree(dom);

        bool seen = false;
        while (!seen && now_usec() - t0 < 30 * UINT64_C(1000000)) {
                ck_assert_int_ge(sd_event_run(env.event, 100000), 0);
                seen = env.events.n > 0;
        }
        ck_assert(seen);
        ck_assert_str_eq(env.events.name, "victim");
        ck_assert_int_eq(env.events.state, POWER_HALTED);
        fprintf(stderr, "destroyed behind its back: reported after %.3f s\n", (double) (now_usec() - t0) / 1e6);
        /* the backend forgot it: a kill now is refused at once */
        ck_assert_int_eq(hal_libvirt_ops.kill(env.backend, "victim", hal_test_on_done, &(struct hal_test_result) {}), -ENOENT);
        env_teardown(&env);
        virConnectClose(conn);
}
END_TEST

static int hang_pipe[2];

static void hang_hook(void *data _unused_) {
        char c;
        (void) !read(hang_pipe[0], &c, 1);      /* as a hypervisor that does not answer */
}

static int on_tick(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        *(bool *) userdata = true;
        return 0;
}

START_TEST(test_hung_worker_blocks_only_its_backend) {
        struct env hung, other;
        struct hal_test_result hook = {}, killed = {};
        bool ticked = false;

        ck_assert_int_eq(pipe2(hang_pipe, O_CLOEXEC), 0);
        env_setup(&hung);
        ck_assert_int_eq(hal_libvirt_run_on_worker(hung.backend, hang_hook, NULL, hal_test_on_done, &hook), 0);

        /* the hung backend's loop still runs timers */
        sd_event_source *tick = NULL;
        ck_assert_int_ge(sd_event_add_time_relative(hung.event, &tick, CLOCK_MONOTONIC, 10000, 0, on_tick, &ticked),
                         0);
        run_until(&hung, &ticked);
        ck_assert(!hook.done);

        /* another backend (its own worker) works meanwhile */
        env_setup(&other);
        start(&other, "free", 12);
        ck_assert_int_eq(hal_libvirt_ops.kill(other.backend, "free", hal_test_on_done, &killed), 0);
        run_until(&other, &killed.done);
        ck_assert_int_eq(killed.r, 0);
        ck_assert(!hook.done);

        /* the hypervisor answers: the queued work finishes */
        ck_assert_int_eq(write(hang_pipe[1], "x", 1), 1);
        run_until(&hung, &hook.done);
        sd_event_source_unref(tick);
        env_teardown(&other);
        env_teardown(&hung);
        close(hang_pipe[0]);
        close(hang_pipe[1]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hal-libvirt");
        TCase *tc = tcase_create("test-driver");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_lifecycle);
        tcase_add_test(tc, test_refusals);
        tcase_add_test(tc, test_destroyed_behind_its_back);
        tcase_add_test(tc, test_hung_worker_blocks_only_its_backend);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
