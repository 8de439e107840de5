/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hal_libvirt_ops against a real libvirtd and QEMU (qemu:///system, TCG):
 * a tiny guest is started, listed, paused and unpaused as libvirt itself
 * reports; `virsh destroy` behind the backend's back is reported as Halted;
 * a guest that ignores a clean shutdown is destroyed after the timeout.
 * libvirtd is made to run by tools/libvirtd-ensure (and stopped if it started
 * it).  The guest boots the host's kernel without a root (it waits forever
 * after its panic) or, when the host has none, only its firmware.
 */
#include <check.h>
#include <glob.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal-libvirt.h"
#include "hal-test-helpers.h"
#include "util.h"

#define URI "qemu:///system"
#define USEC_PER_SEC UINT64_C(1000000)
/* Our guests are named NAME_PREFIX<pid of main>-<test>, so main() destroys
 * what a failed test left running. */
#define NAME_PREFIX "qemu-test-"

static pid_t main_pid;

struct env {
        sd_event *event;
        struct hal_backend *backend;
        virConnectPtr conn;             /* ours: what libvirt itself says */
        char root[64], runtime_dir[128], name[32], libvirt_name[64];
        char kernel[256];
        struct hal_test_events events;
};

static void on_listed(void *userdata, const struct hal_domain_info *info) {
        struct hal_domain_info *found = userdata;

        if (strcmp(info->name, found->name) == 0) {
                found->domid = info->domid;
                found->state = info->state;
        }
}

/* Run the loop until *flag; generous, the machine is loaded and QEMU is TCG. */
static void run_until(struct env *env, const bool *flag, unsigned timeout_sec) {
        uint64_t deadline = now_usec() + timeout_sec * USEC_PER_SEC;

        while (!*flag && now_usec() < deadline)
                ck_assert_int_ge(sd_event_run(env->event, 100000), 0);
        ck_assert_msg(*flag, "timed out after %u s", timeout_sec);
}

static void call(struct env *env, int (*op)(struct hal_backend *, const char *, hal_done_fn, void *)) {
        struct hal_test_result res = {};

        ck_assert_int_eq(op(env->backend, env->name, hal_test_on_done, &res), 0);
        run_until(env, &res.done, 60);
        ck_assert_int_eq(res.r, 0);
}

/* libvirt's own view of our guest: its state, -1 when libvirt has no such domain. */
static int libvirt_state(struct env *env) {
        int state, reason;
        virDomainPtr dom = virDomainLookupByName(env->conn, env->libvirt_name);

        if (!dom)
                return -1;
        ck_assert_int_eq(virDomainGetState(dom, &state, &reason, 0), 0);
        virDomainFree(dom);
        return state;
}

/* The newest kernel of the host, or $ODYSSEY_TEST_KERNEL; "" for none. */
static void find_kernel(char *buf, size_t size) {
        const char *forced = getenv("ODYSSEY_TEST_KERNEL");
        glob_t g = {};

        buf[0] = '\0';
        if (forced) {
                snprintf(buf, size, "%s", forced);
                return;
        }
        if (glob("/boot/vmlinuz-*", 0, NULL, &g) == 0 && g.gl_pathc > 0)
                snprintf(buf, size, "%s", g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
}

static void env_setup(struct env *env, const char *test) {
        *env = (struct env) {};
        snprintf(env->root, sizeof(env->root), "/tmp/test-libvirt-qemu-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(env->root));
        ck_assert_int_eq(chmod(env->root, 0755), 0);
        snprintf(env->runtime_dir, sizeof(env->runtime_dir), "%s/run", env->root);
        snprintf(env->name, sizeof(env->name), NAME_PREFIX "%d-%s", (int) main_pid, test);
        snprintf(env->libvirt_name, sizeof(env->libvirt_name), "odyssey-%s", env->name);
        find_kernel(env->kernel, sizeof(env->kernel));
        env->conn = virConnectOpen(URI);
        ck_assert_msg(env->conn != NULL, "cannot connect to %s", URI);
        ck_assert_int_ge(sd_event_new(&env->event), 0);
        ck_assert_int_eq(hal_libvirt_ops.new_at(env->event, URI, env->runtime_dir, env->root, hal_test_on_event, &env->events,
                                                &env->backend), 0);
}

static void env_teardown(struct env *env) {
        virDomainPtr dom = virDomainLookupByName(env->conn, env->libvirt_name);
        char command[128];

        if (dom) {              /* a failed check left it running */
                (void) virDomainDestroy(dom);
                virDomainFree(dom);
        }
        hal_libvirt_ops.free(env->backend);
        sd_event_unref(env->event);
        virConnectClose(env->conn);
        snprintf(command, sizeof(command), "rm -rf '%s'", env->root);
        (void) !system(command);
}

static void start_guest(struct env *env) {
        struct hal_domain_config cfg = {
                .name = env->name,
                .domid = 4242,
                .klass = DOMAIN_APPVM,
                .memory_mb = 128,
                .vcpus = 1,
                .kernel = env->kernel[0] ? env->kernel : NULL,
                /* no root: the kernel panics and, without panic=, waits there */
                .kernel_cmdline = env->kernel[0] ? "console=ttyS0" : NULL,
        };
        struct hal_test_result res = {};

        ck_assert_int_eq(hal_libvirt_ops.start(env->backend, &cfg, hal_test_on_done, &res), 0);
        run_until(env, &res.done, 120);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(libvirt_state(env), VIR_DOMAIN_RUNNING);
}

/* The console log holds s (virtlogd copies the guest's serial port there). */
static bool console_has(struct env *env, const char *s) {
        char path[256], buf[65536];
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/libvirt/4242/console.log", env->runtime_dir);
        f = fopen(path, "re");
        if (!f)
                return false;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, s) != NULL;
}

START_TEST(test_qemu_lifecycle) {
        struct env env;
        struct hal_domain_info listed = {};
        enum vchan_backend vb;
        char dir[256], path[512];
        struct stat st;

        env_setup(&env, "life");
        start_guest(&env);
        fprintf(stderr, "booting %s\n", env.kernel[0] ? env.kernel : "the firmware only (no kernel in /boot)");

        /* listed as ours, with its qid back from our metadata */
        listed.name = env.name;
        ck_assert_int_eq(hal_libvirt_ops.list(env.backend, on_listed, &listed), 0);
        ck_assert_uint_eq(listed.domid, 4242);
        ck_assert_int_eq(listed.state, POWER_RUNNING);

        /* the control channel's virtio-serial socket exists where busd will look */
        ck_assert_int_eq(hal_libvirt_ops.control_channel(env.backend, env.name, &vb, dir, sizeof(dir)), 0);
        ck_assert_int_eq(vb, VCHAN_VIRTIO);
        snprintf(path, sizeof(path), "%s/virtio.4242.512.sock", dir);  /* protocol/vchan.h's naming */
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));

        if (env.kernel[0]) {
                uint64_t deadline = now_usec() + 120 * USEC_PER_SEC;
                while (!console_has(&env, "Linux version") && now_usec() < deadline)
                        ck_assert_int_ge(sd_event_run(env.event, 200000), 0);
                ck_assert_msg(console_has(&env, "Linux version"), "the kernel printed nothing on its console");
        }

        call(&env, hal_libvirt_ops.pause);
        ck_assert_int_eq(libvirt_state(&env), VIR_DOMAIN_PAUSED);
        call(&env, hal_libvirt_ops.unpause);
        ck_assert_int_eq(libvirt_state(&env), VIR_DOMAIN_RUNNING);

        /* destroyed behind the backend's back */
        char command[256];
        snprintf(command, sizeof(command), "virsh -q -c " URI " destroy %s >/dev/null", env.libvirt_name);
        env.events.n = 0;
        ck_assert_int_eq(system(command), 0);
        uint64_t t0 = now_usec();
        while (env.events.n == 0 && now_usec() - t0 < 30 * USEC_PER_SEC)
                ck_assert_int_ge(sd_event_run(env.event, 100000), 0);
        double seconds = (double) (now_usec() - t0) / 1e6;
        ck_assert_uint_eq(env.events.n, 1);
        ck_assert_str_eq(env.events.name, env.name);
        ck_assert_int_eq(env.events.state, POWER_HALTED);
        fprintf(stderr, "virsh destroy: reported Halted %.3f s after virsh returned\n", seconds);
        /* the goal is 1 s; 5 s leaves room for a loaded machine */
        ck_assert_msg(seconds < 5.0, "reported after %.3f s", seconds);
        ck_assert_int_eq(hal_libvirt_ops.kill(env.backend, env.name, hal_test_on_done, &(struct hal_test_result) {}), -ENOENT);
        ck_assert_int_eq(libvirt_state(&env), -1);
        env_teardown(&env);
}
END_TEST

START_TEST(test_qemu_shutdown_times_out) {
        struct env env;
        struct hal_test_result res = {};

        env_setup(&env, "shut");
        start_guest(&env);
        /* nothing in the guest answers ACPI: killed after the timeout */
        uint64_t t0 = now_usec();
        ck_assert_int_eq(hal_libvirt_ops.shutdown(env.backend, env.name, 2, hal_test_on_done, &res), 0);
        run_until(&env, &res.done, 60);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_ge(now_usec() - t0, 2 * USEC_PER_SEC);
        ck_assert_int_eq(libvirt_state(&env), -1);
        env_teardown(&env);
}
END_TEST

static int ensure(const char *command) {
        const char *src = getenv("ODYSSEY_SRCDIR");
        char line[1024];

        snprintf(line, sizeof(line), "'%s/tools/libvirtd-ensure' %s --quiet", src ? src : ".", command);
        return system(line);
}

/* Destroy the guests failed tests left running (libvirt names them odyssey-NAME). */
static void destroy_leftovers(void) {
        char line[512];

        snprintf(line, sizeof(line),
                 "virsh -q -c " URI " list --name | grep -x 'odyssey-" NAME_PREFIX "%d-[a-z]*' | "
                 "while read -r n; do virsh -q -c " URI " destroy \"$n\" >/dev/null; done",
                 (int) main_pid);
        (void) !system(line);
}

static bool have_program(const char *name) {
        char line[256];

        snprintf(line, sizeof(line), "command -v %s >/dev/null 2>&1", name);
        return system(line) == 0;
}

int main(void) {
        Suite *s = suite_create("libvirt-qemu");
        TCase *tc = tcase_create("qemu");
        SRunner *sr;
        int failed;

        main_pid = getpid();
        if (geteuid() != 0) {
                printf("SKIP: qemu:///system needs root\n");
                return 77;
        }
        if (!have_program("qemu-system-x86_64") || !have_program("libvirtd") || !have_program("virsh")) {
                printf("SKIP: qemu-system-x86_64, libvirtd or virsh is not installed\n");
                return 77;
        }
        if (ensure("start") != 0) {
                printf("FAIL: tools/libvirtd-ensure start failed\n");
                return EXIT_FAILURE;
        }
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_qemu_lifecycle);
        tcase_add_test(tc, test_qemu_shutdown_times_out);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        destroy_leftovers();
        if (ensure("stop") != 0)
                failed++;
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
