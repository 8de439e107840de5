/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers of test-hal-native (see test-hal-native.h). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hal-native-internal.h"
#include "hal-test-helpers.h"
#include "qrexec.h"
#include "test-hal-native.h"
#include "util.h"
#include "vchan.h"

char test_run_dir[64];

static void on_event(void *userdata, const char *name, enum power_state state, int reason) {
        struct test_env *env = userdata;

        if (env->n_events < ELEMENTSOF(env->events)) {
                struct test_event *e = &env->events[env->n_events++];
                snprintf(e->name, sizeof(e->name), "%s", name);
                e->state = state;
                e->reason = reason;
        }
}

void env_setup(struct test_env *env) {
        const char *builddir = getenv("ODYSSEY_BUILDDIR") ?: ODYSSEY_BUILDDIR;
        char path[256];
        FILE *f;

        *env = (struct test_env) {};
        snprintf(env->root, sizeof(env->root), "%s/XXXXXX", test_run_dir);
        ck_assert_ptr_nonnull(mkdtemp(env->root));
        /* As /run/qubes: busd (another uid) must reach the vchan dirs under it. */
        ck_assert_int_eq(chmod(env->root, 0755), 0);
        snprintf(env->runtime_dir, sizeof(env->runtime_dir), "%s/run", env->root);
        snprintf(env->state_dir, sizeof(env->state_dir), "%s/state", env->root);
        snprintf(env->agents_dir, sizeof(env->agents_dir), "%s/agents/bin", builddir);
        ck_assert_int_eq(mkdir(env->runtime_dir, 0755), 0);
        ck_assert_int_eq(mkdir(env->state_dir, 0750), 0);
        /* The uid busd runs as, as a dev stack writes it. */
        snprintf(path, sizeof(path), "%s/roles", env->runtime_dir);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "uid busd %u\nuid qrexec-policyd %u\n", TEST_BUSD_UID, TEST_OTHER_UID);
        fclose(f);

        ck_assert_int_ge(sd_event_new(&env->event), 0);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        ck_assert_int_eq(hal_native_ops.new(env->event, env->runtime_dir, env->state_dir, on_event, env,
                                            &env->backend), 0);
}

void env_teardown(struct test_env *env) {
        char cmd[256];

        /* Stop what a failed test left running, through the backend, so that
         * the monitors clean up their cgroups. */
        while (env->backend && env->backend->domains) {
                char name[32];
                snprintf(name, sizeof(name), "%s", env->backend->domains->name);
                if (env_kill(env, name) < 0)
                        native_domain_free(env->backend->domains);
        }
        hal_native_ops.free(env->backend);
        env->backend = NULL;
        sd_event_unref(env->event);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->root);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", env->root);
}

void env_restart_backend(struct test_env *env) {
        hal_native_ops.free(env->backend);
        env->backend = NULL;
        ck_assert_int_eq(hal_native_ops.new(env->event, env->runtime_dir, env->state_dir, on_event, env,
                                            &env->backend), 0);
}

bool env_run_until(struct test_env *env, const bool *flag, int timeout_ms) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;

        while (!*flag) {
                if (now_usec() >= deadline)
                        return false;
                ck_assert_int_ge(sd_event_run(env->event, 10 * 1000), 0);
        }
        return true;
}

bool env_wait_event(struct test_env *env, const char *name, enum power_state state, int timeout_ms,
                    int *ret_reason) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;

        for (;;) {
                for (size_t i = 0; i < env->n_events; i++)
                        if (strcmp(env->events[i].name, name) == 0 && env->events[i].state == state) {
                                if (ret_reason)
                                        *ret_reason = env->events[i].reason;
                                /* Consume it and the ones before. */
                                memmove(env->events, env->events + i + 1,
                                        (env->n_events - i - 1) * sizeof(env->events[0]));
                                env->n_events -= i + 1;
                                return true;
                        }
                if (now_usec() >= deadline)
                        return false;
                ck_assert_int_ge(sd_event_run(env->event, 10 * 1000), 0);
        }
}

void env_config(struct test_env *env, struct hal_domain_config *cfg, const char *name, uint32_t domid) {
        static char private_dirs[4][256], vchan_dirs[4][256];
        static unsigned next;
        unsigned slot = next++ % 4;

        snprintf(private_dirs[slot], sizeof(private_dirs[slot]), "%s/%s-private", env->state_dir, name);
        snprintf(vchan_dirs[slot], sizeof(vchan_dirs[slot]), "%s/vchan/%u", env->runtime_dir, (unsigned) domid);
        *cfg = (struct hal_domain_config) {
                .name = name,
                .domid = domid,
                .uuid = "00000000-0000-4000-8000-000000000000",
                .klass = DOMAIN_APPVM,
                .template_root = "/",
                .private_dir = private_dirs[slot],
                .memory_mb = 400,
                .maxmem_mb = 0,
                .vcpus = 1,
                .debug = true,
                .vchan_dir = vchan_dirs[slot],
                .agents_dir = env->agents_dir,
                .agents = NULL,
        };
}

static int wait_done(struct test_env *env, struct hal_test_result *slot, int r) {
        if (r < 0)
                return r;
        ck_assert_msg(env_run_until(env, &slot->done, 15000), "the operation never finished");
        return slot->r;
}

int env_start(struct test_env *env, const struct hal_domain_config *cfg) {
        struct hal_test_result slot = {};
        return wait_done(env, &slot, hal_native_ops.start(env->backend, cfg, hal_test_on_done, &slot));
}

int env_shutdown(struct test_env *env, const char *name, uint32_t timeout_sec) {
        struct hal_test_result slot = {};
        return wait_done(env, &slot,
                         hal_native_ops.shutdown(env->backend, name, timeout_sec, hal_test_on_done, &slot));
}

int env_kill(struct test_env *env, const char *name) {
        struct hal_test_result slot = {};
        return wait_done(env, &slot, hal_native_ops.kill(env->backend, name, hal_test_on_done, &slot));
}

int env_pause(struct test_env *env, const char *name, bool pause) {
        struct hal_test_result slot = {};
        return wait_done(env, &slot, (pause ? hal_native_ops.pause : hal_native_ops.unpause)(env->backend, name,
                                                                                            hal_test_on_done, &slot));
}

/* The child's side of env_hello: exit status = version, or 200 + step. */
static _Noreturn void hello_child(const char *dir, uint32_t domid, uid_t uid, int timeout_ms) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = (int) domid,
                .port = QREXEC_VCHAN_BASE_PORT, .socket_dir = dir,
        };
        uint8_t buf[QREXEC_HEADER_SIZE + 4];
        struct qrexec_hdr hdr;
        struct vchan *v = NULL;
        uint32_t version;
        int n;

        /* A frozen agent may take the connection and never speak: the whole
         * exchange, not only the connect, is bounded. */
        alarm((unsigned) (timeout_ms / 1000) + 2);
        signal(SIGPIPE, SIG_IGN);       /* an agent gone mid-exchange is an error, not a death */
        if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                _exit(201);
        if (vchan_client_init(&ep, timeout_ms, &v) < 0)
                _exit(202);
        /* The agent speaks first; then our HELLO, as busd sends it. */
        if (vchan_recv(v, buf, QREXEC_HEADER_SIZE) != QREXEC_HEADER_SIZE)
                _exit(203);
        qrexec_decode_header(buf, &hdr);
        if (qrexec_check_header(&hdr, QREXEC_STREAM_FROM_AGENT, 0) < 0 || hdr.type != QREXEC_MSG_HELLO)
                _exit(204);
        if (vchan_recv(v, buf, hdr.len) != (ssize_t) hdr.len || qrexec_decode_hello(buf, hdr.len, &version) < 0)
                _exit(205);
        n = qrexec_encode_hello(buf, sizeof(buf), QREXEC_PROTOCOL_VERSION);
        if (n < 0 || vchan_send(v, buf, (size_t) n) != n)
                _exit(206);
        vchan_close(v);
        _exit(version > 100 ? 207 : (int) version);
}

int env_hello(struct test_env *env, const char *name, uint32_t domid, uid_t uid, int timeout_ms) {
        enum vchan_backend backend;
        char dir[512];
        int status;
        pid_t pid;

        ck_assert_int_eq(hal_native_ops.control_channel(env->backend, name, &backend, dir, sizeof(dir)), 0);
        ck_assert_int_eq(backend, VCHAN_SOCKET);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                hello_child(dir, domid, uid, timeout_ms);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
                return WTERMSIG(status) == SIGALRM ? -ETIMEDOUT : -EIO;
        return WEXITSTATUS(status) >= 200 ? -(WEXITSTATUS(status) - 200) : WEXITSTATUS(status);
}

pid_t env_init_pid(struct test_env *env, const char *name) {
        struct native_domain *d = native_domain_find(env->backend, name);
        return d ? d->init_pid : 0;
}

pid_t env_monitor_pid(struct test_env *env, const char *name) {
        struct native_domain *d = native_domain_find(env->backend, name);
        return d ? d->monitor_pid : 0;
}

bool env_process_alive(pid_t pid) {
        char path[64], line[256];
        bool alive = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "State:", 6) == 0)
                        alive = !strchr(line, 'Z') && !strchr(line, 'X');    /* a zombie has ended */
        fclose(f);
        return alive;
}

static int open_ns(pid_t pid, const char *ns) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) pid, ns);
        return open(path, O_RDONLY | O_CLOEXEC);
}

int env_in_domain(pid_t init_pid, int (*fn)(void *), void *arg) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Open them all first: once in the user namespace, the host's
                 * /proc/PID/ns files are no longer ours to open. */
                int user = open_ns(init_pid, "user"), mnt = open_ns(init_pid, "mnt"), uts = open_ns(init_pid, "uts");
                if (user < 0 || mnt < 0 || uts < 0 || setns(user, CLONE_NEWUSER) < 0 || setns(mnt, CLONE_NEWNS) < 0 ||
                    setns(uts, CLONE_NEWUTS) < 0)
                        _exit(250);
                if (chdir("/") < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                        _exit(251);
                _exit(fn(arg));
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int env_run_begin(void) {
        snprintf(test_run_dir, sizeof(test_run_dir), "/tmp/hal-native-XXXXXX");
        if (!mkdtemp(test_run_dir) || chmod(test_run_dir, 0755) < 0)
                return -errno;
        return 0;
}

/* Monitors of this run's domains (their DIR is under test_run_dir). */
static size_t signal_leftovers(int sig) {
        struct dirent *de;
        size_t n = 0;
        DIR *d = opendir("/proc");

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char path[64], cmdline[1024];
                uint32_t pid;
                ssize_t len;
                int fd;

                if (parse_uint32(de->d_name, &pid) < 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                len = read(fd, cmdline, sizeof(cmdline) - 1);
                close(fd);
                if (len <= 0)
                        continue;
                cmdline[len] = '\0';
                for (ssize_t i = 0; i < len; i++)
                        if (cmdline[i] == '\0')
                                cmdline[i] = ' ';
                if (strncmp(cmdline, "odyssey-domain ", 15) == 0 && strstr(cmdline, test_run_dir) &&
                    env_process_alive((pid_t) pid)) {
                        (void) kill((pid_t) pid, sig);
                        n++;
                }
        }
        closedir(d);
        return n;
}

void env_run_end(void) {
        char cmd[128];

        /* A failed check ends its test process before the fixture's teardown:
         * stop what it left running (SIGTERM: the monitor shuts its domain
         * down and cleans up). */
        if (signal_leftovers(SIGTERM) > 0) {
                for (int i = 0; i < 300 && signal_leftovers(0) > 0; i++)
                        usleep(10000);
                (void) signal_leftovers(SIGKILL);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_run_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", test_run_dir);
}
