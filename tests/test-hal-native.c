/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The native backend driven directly (no qubesd): real domains with the build
 * tree's odyssey-init and qrexec-agent, a private runtime dir, the admin
 * side of HELLO done as busd does it (its uid, the socket vchan, the qrexec
 * codec).
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "native.h"
#include "test-hal-native.h"
#include "util.h"

static struct test_env env;

static void setup(void) {
        env_setup(&env);
}

static void teardown(void) {
        env_teardown(&env);
}

static void start_running(const char *name, uint32_t domid, struct hal_domain_config *cfg) {
        int reason;

        env_config(&env, cfg, name, domid);
        ck_assert_int_eq(env_start(&env, cfg), 0);
        ck_assert(env_wait_event(&env, name, POWER_RUNNING, 1000, &reason));
        ck_assert_int_gt(env_init_pid(&env, name), 1);
}

static void status_field(pid_t pid, const char *field, char *buf, size_t size) {
        char path[64], line[256];
        size_t n = strlen(field);
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        buf[0] = '\0';
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, n) == 0 && line[n] == ':') {
                        char *v = line + n + 1;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = '\0';
                        snprintf(buf, size, "%s", v);
                }
        fclose(f);
}

static ino_t ns_inode(pid_t pid, const char *ns) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) pid, ns);
        ck_assert_int_eq(stat(path, &st), 0);
        return st.st_ino;
}

/* The first pid (other than init) whose parent is `parent`. */
static pid_t child_of(pid_t parent) {
        char path[64], line[512];
        pid_t found = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;

        ck_assert_ptr_nonnull(d);
        while (!found && (de = readdir(d))) {
                uint32_t pid;
                if (parse_uint32(de->d_name, &pid) < 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%u/stat", pid);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof(line), f)) {
                        char *close_paren = strrchr(line, ')');
                        int ppid;
                        if (close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == parent)
                                found = (pid_t) pid;
                }
                fclose(f);
        }
        closedir(d);
        return found;
}

START_TEST(test_start_hello_isolation) {
        static const char *const namespaces[] = { "user", "mnt", "pid", "ipc", "uts", "net", "cgroup" };
        struct hal_domain_config cfg;
        char value[256], path[128], map[128];
        pid_t init;
        int version;

        env_config(&env, &cfg, "work", 7);
        ck_assert_int_eq(env_start(&env, &cfg), 0);
        init = env_init_pid(&env, "work");
        ck_assert_int_gt(init, 1);
        /* The agent (which exits once its channel closes, so look first). */
        pid_t agent = 0;
        for (int i = 0; i < 200 && agent <= 0; i++) {
                agent = child_of(init);
                if (agent <= 0)
                        usleep(5000);
        }
        ck_assert_int_gt(agent, 0);
        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++)
                ck_assert_msg(ns_inode(init, namespaces[i]) != ns_inode(getpid(), namespaces[i]),
                              "the domain shares the host's %s namespace", namespaces[i]);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) init);
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(map, sizeof(map), f));
        fclose(f);
        unsigned inside, outside, count;
        ck_assert_int_eq(sscanf(map, "%u %u %u", &inside, &outside, &count), 3);
        ck_assert_uint_eq(inside, 0);
        ck_assert_uint_eq(outside, NATIVE_UID_BASE + 7 * NATIVE_UID_RANGE);
        ck_assert_uint_eq(count, NATIVE_UID_RANGE);

        /* Every process of the domain: the init and the agent. */
        pid_t procs[] = { init, agent };
        for (size_t i = 0; i < ELEMENTSOF(procs); i++) {
                status_field(procs[i], "Seccomp", value, sizeof(value));
                ck_assert_str_eq(value, "2");
                status_field(procs[i], "NoNewPrivs", value, sizeof(value));
                ck_assert_str_eq(value, "1");
                status_field(procs[i], "CapEff", value, sizeof(value));
                ck_assert_str_eq(value, "0000000000000000");
                status_field(procs[i], "CapPrm", value, sizeof(value));
                ck_assert_str_eq(value, "0000000000000000");
                status_field(procs[i], "CapBnd", value, sizeof(value));
                ck_assert_str_eq(value, "0000000000000000");
                status_field(procs[i], "Uid", value, sizeof(value));
                ck_assert_uint_eq(strtoul(value, NULL, 10), NATIVE_UID_BASE + 7 * NATIVE_UID_RANGE);
        }
        /* PID 1 of its own pid namespace. */
        status_field(init, "NSpid", value, sizeof(value));
        ck_assert_msg(strlen(value) > 2 && strcmp(value + strlen(value) - 2, "\t1") == 0, "NSpid '%s'", value);

        /* busd's side: its uid connects and gets HELLO version 4. */
        version = env_hello(&env, "work", 7, TEST_BUSD_UID, 3000);
        ck_assert_int_eq(version, 4);
}
END_TEST

static int check_hostname(void *arg) {
        char name[64] = "";
        return gethostname(name, sizeof(name)) == 0 && strcmp(name, arg) == 0 ? 0 : 1;
}

/* What the domain sees: the host's /usr read-only, its private volume at
 * /rw and /home, its own /run/vchan, the agents read-only, no host /var. */
static int check_root(void *arg) {
        struct stat st;
        int fd;

        if (access("/usr/bin/env", X_OK) < 0)
                return 10;
        fd = open("/usr/odyssey-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EROFS)
                return 11;
        fd = open("/run/odyssey/agents/odyssey-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EROFS)
                return 12;
        if (stat("/rw", &st) < 0 || stat("/home", &st) < 0 || !S_ISDIR(st.st_mode))
                return 13;
        /* The agent publishes its channel a moment after the init runs. */
        for (int i = 0; i < 400 && stat("/run/vchan/vchan.7.0.512.sock", &st) < 0; i++)
                usleep(5000);
        if (stat("/run/vchan/vchan.7.0.512.sock", &st) < 0 || !S_ISSOCK(st.st_mode))
                return 14;
        if (stat("/var/lib/dpkg", &st) == 0)     /* the host's /var is not there */
                return 15;
        if (stat("/proc/1/status", &st) < 0)
                return 16;
        if (access("/dev/null", W_OK) < 0 || stat("/dev/sda", &st) == 0 || stat("/dev/vda", &st) == 0)
                return 17;
        if (stat("/sys/kernel", &st) == 0)
                return 18;
        return 0;
}

/* Terminals: /dev/tty is there (terminal emulators open it to check their
 * controlling terminal), and a pty from the domain's own devpts belongs to
 * its tty group (5) with mode 0620, as programs that chown it expect. */
static int check_ptys(void *arg) {
        struct stat st;
        char *slave;
        int master;

        if (stat("/dev/tty", &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 0))
                return 20;
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master)))
                return 21;
        if (strncmp(slave, "/dev/pts/", 9) != 0 || stat(slave, &st) < 0 || !S_ISCHR(st.st_mode))
                return 22;
        if (st.st_gid != 5 || (st.st_mode & 07777) != 0620)
                return 23;
        int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || write(fd, "x\n", 2) != 2)
                return 24;
        char c;
        if (read(master, &c, 1) != 1 || c != 'x')
                return 25;
        close(fd);
        close(master);
        return 0;
}

START_TEST(test_domain_view) {
        struct hal_domain_config cfg;

        start_running("work", 7, &cfg);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "work"), check_hostname, (void *) "work"), 0);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "work"), check_root, NULL), 0);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "work"), check_ptys, NULL), 0);
}
END_TEST

START_TEST(test_vchan_only_busd) {
        struct hal_domain_config cfg;

        start_running("work", 7, &cfg);
        /* Another non-root host user cannot even reach the socket... */
        ck_assert_int_lt(env_hello(&env, "work", 7, TEST_OTHER_UID, 300), 0);
        /* ...and busd's uid can. */
        ck_assert_int_eq(env_hello(&env, "work", 7, TEST_BUSD_UID, 3000), 4);
}
END_TEST

struct names {
        char names[8][32];
        enum power_state states[8];
        size_t n;
};

static void collect(void *userdata, const struct hal_domain_info *info) {
        struct names *n = userdata;

        if (n->n < 8) {
                snprintf(n->names[n->n], sizeof(n->names[0]), "%s", info->name);
                n->states[n->n++] = info->state;
        }
}

START_TEST(test_list_and_restart) {
        struct hal_domain_config cfg;
        struct names found = {};
        pid_t init;

        start_running("work", 7, &cfg);
        init = env_init_pid(&env, "work");
        ck_assert_int_eq(hal_native_ops.list(env.backend, collect, &found), 0);
        ck_assert_uint_eq(found.n, 1);
        ck_assert_str_eq(found.names[0], "work");
        ck_assert_int_eq(found.states[0], POWER_RUNNING);

        /* As after a qubesd restart: a new backend finds it, nothing changed. */
        env_restart_backend(&env);
        memset(&found, 0, sizeof(found));
        ck_assert_int_eq(hal_native_ops.list(env.backend, collect, &found), 0);
        ck_assert_uint_eq(found.n, 1);
        ck_assert_str_eq(found.names[0], "work");
        ck_assert_int_eq(found.states[0], POWER_RUNNING);
        ck_assert_int_eq(env_init_pid(&env, "work"), init);
        ck_assert(env_process_alive(init));
        /* And drives it: the channel, then a clean shutdown with the event. */
        ck_assert_int_eq(env_hello(&env, "work", 7, TEST_BUSD_UID, 3000), 4);
        ck_assert_int_eq(env_shutdown(&env, "work", 5), 0);
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 1000, NULL));
        memset(&found, 0, sizeof(found));
        ck_assert_int_eq(hal_native_ops.list(env.backend, collect, &found), 0);
        ck_assert_uint_eq(found.n, 0);
}
END_TEST

static bool all_stopped(pid_t init) {
        char path[64], line[256];
        bool stopped = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) init);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, ":freezer:");
                if (!p)
                        continue;
                char state_path[512], state[32] = "";
                p += strlen(":freezer:");
                p[strcspn(p, "\n")] = '\0';
                snprintf(state_path, sizeof(state_path), "/sys/fs/cgroup/freezer%s/freezer.state", p);
                FILE *s = fopen(state_path, "re");
                if (s) {
                        if (fgets(state, sizeof(state), s))
                                stopped = strncmp(state, "FROZEN", 6) == 0;
                        fclose(s);
                }
        }
        fclose(f);
        if (!stopped) {
                char value[64];
                status_field(init, "State", value, sizeof(value));
                stopped = value[0] == 'T';
        }
        return stopped;
}

START_TEST(test_pause_unpause) {
        struct hal_domain_config cfg;
        pid_t init;

        start_running("work", 7, &cfg);
        init = env_init_pid(&env, "work");
        ck_assert(!all_stopped(init));
        ck_assert_int_eq(env_pause(&env, "work", true), 0);
        ck_assert(env_wait_event(&env, "work", POWER_PAUSED, 1000, NULL));
        ck_assert(all_stopped(init));
        /* The agent does not answer while frozen. */
        ck_assert_int_lt(env_hello(&env, "work", 7, TEST_BUSD_UID, 300), 0);
        ck_assert_int_eq(env_pause(&env, "work", false), 0);
        ck_assert(env_wait_event(&env, "work", POWER_RUNNING, 1000, NULL));
        ck_assert(!all_stopped(init));
        /* A paused domain still shuts down cleanly. */
        ck_assert_int_eq(env_pause(&env, "work", true), 0);
        ck_assert_int_eq(env_shutdown(&env, "work", 5), 0);
        int reason = -1;
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 1000, &reason));
        ck_assert_int_eq(reason, 0);
}
END_TEST

START_TEST(test_shutdown_clean) {
        struct hal_domain_config cfg;
        char path[512];
        pid_t init, monitor;
        int reason = -1;

        start_running("work", 7, &cfg);
        init = env_init_pid(&env, "work");
        monitor = env_monitor_pid(&env, "work");
        ck_assert_int_eq(env_shutdown(&env, "work", 5), 0);
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 1000, &reason));
        ck_assert_int_eq(reason, 0);     /* init exited 0 after SIGTERM */
        ck_assert(!env_process_alive(init));
        for (int i = 0; i < 100 && env_process_alive(monitor); i++)
                usleep(10000);
        ck_assert(!env_process_alive(monitor));
        /* Cleaned up: no socket, an empty vchan dir. */
        snprintf(path, sizeof(path), "%s/domains/work/monitor.sock", env.runtime_dir);
        ck_assert_int_lt(access(path, F_OK), 0);
        snprintf(path, sizeof(path), "%s/vchan.7.0.512.sock", cfg.vchan_dir);
        ck_assert_int_lt(access(path, F_OK), 0);
        ck_assert_int_eq(hal_native_ops.shutdown(env.backend, "work", 1, NULL, NULL), -ENOENT);
}
END_TEST

START_TEST(test_kill) {
        struct hal_domain_config cfg;
        pid_t init;
        int reason = -1;

        start_running("work", 7, &cfg);
        init = env_init_pid(&env, "work");
        ck_assert_int_eq(env_kill(&env, "work"), 0);
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 1000, &reason));
        ck_assert_int_eq(reason, 128 + SIGKILL);
        ck_assert(!env_process_alive(init));
}
END_TEST

START_TEST(test_init_dies) {
        struct hal_domain_config cfg;
        int reason = -1;

        start_running("work", 7, &cfg);
        ck_assert_int_eq(kill(env_init_pid(&env, "work"), SIGKILL), 0);
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 3000, &reason));
        ck_assert_int_eq(reason, 128 + SIGKILL);
}
END_TEST

static int write_marker(void *arg) {
        FILE *f = fopen("/rw/marker", "we");
        FILE *g = fopen("/home/user-file", "we");
        if (!f || !g)
                return 1;
        fputs(arg, f);
        fputs(arg, g);
        return fclose(f) == 0 && fclose(g) == 0 ? 0 : 2;
}

static int read_marker(void *arg) {
        char buf[64] = "";
        FILE *f = fopen("/rw/marker", "re");
        if (!f || !fgets(buf, sizeof(buf), f))
                return 1;
        fclose(f);
        if (access("/home/user-file", R_OK) < 0)
                return 3;
        return strcmp(buf, arg) == 0 ? 0 : 2;
}

START_TEST(test_private_persists) {
        struct hal_domain_config cfg;

        start_running("work", 7, &cfg);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "work"), write_marker, (void *) "persist-me"), 0);
        ck_assert_int_eq(env_shutdown(&env, "work", 5), 0);
        ck_assert(env_wait_event(&env, "work", POWER_HALTED, 1000, NULL));
        start_running("work", 7, &cfg);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "work"), read_marker, (void *) "persist-me"), 0);
}
END_TEST

START_TEST(test_dispvm_private_discarded) {
        struct hal_domain_config cfg;

        env_config(&env, &cfg, "disp1", 9);
        cfg.klass = DOMAIN_DISPVM;
        cfg.volatile_private = true;
        ck_assert_int_eq(env_start(&env, &cfg), 0);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "disp1"), write_marker, (void *) "x"), 0);
        ck_assert_int_eq(env_kill(&env, "disp1"), 0);
        ck_assert_int_lt(access(cfg.private_dir, F_OK), 0);
}
END_TEST

/* In domain "a" (domid 7): only its own vchan, none of b's files. */
static int check_separation(void *arg) {
        const char *other_private = arg;
        struct dirent *de;
        DIR *d = opendir("/run/vchan");
        int bad = 0;

        if (!d)
                return 1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && strncmp(de->d_name, "vchan.7.", 8) != 0)
                        bad = 2;
        closedir(d);
        if (bad)
                return bad;
        if (access("/rw/b-secret", F_OK) == 0 || access(other_private, F_OK) == 0)
                return 3;
        return 0;
}

static int write_secret(void *arg) {
        FILE *f = fopen("/rw/b-secret", "we");
        return f && fclose(f) == 0 ? 0 : 1;
}

START_TEST(test_two_domains) {
        struct hal_domain_config a, b;
        char other_private[256];

        start_running("a", 7, &a);
        start_running("b", 8, &b);
        ck_assert_int_eq(env_hello(&env, "a", 7, TEST_BUSD_UID, 3000), 4);
        ck_assert_int_eq(env_hello(&env, "b", 8, TEST_BUSD_UID, 3000), 4);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "b"), write_secret, NULL), 0);
        snprintf(other_private, sizeof(other_private), "%s/b-secret", b.private_dir);
        ck_assert_int_eq(access(other_private, F_OK), 0);
        ck_assert_int_eq(env_in_domain(env_init_pid(&env, "a"), check_separation, other_private), 0);
        /* Different uid ranges. */
        char value[64];
        status_field(env_init_pid(&env, "b"), "Uid", value, sizeof(value));
        ck_assert_uint_eq(strtoul(value, NULL, 10), NATIVE_UID_BASE + 8 * NATIVE_UID_RANGE);
}
END_TEST

START_TEST(test_memory) {
        struct hal_domain_config cfg;
        uint64_t kb = 0;

        start_running("work", 7, &cfg);
        ck_assert_int_eq(env_hello(&env, "work", 7, TEST_BUSD_UID, 3000), 4);
        ck_assert_int_eq(hal_native_ops.memory_kb(env.backend, "work", &kb), 0);
        fprintf(stderr, "idle domain PSS: %llu kB\n", (unsigned long long) kb);
        ck_assert_uint_gt(kb, 100);
        ck_assert_uint_lt(kb, 64 * 1024);
        ck_assert_int_eq(hal_native_ops.memory_kb(env.backend, "nosuch", &kb), -ENOENT);
}
END_TEST

START_TEST(test_refusals) {
        struct hal_domain_config cfg;

        env_config(&env, &cfg, "../evil", 7);
        ck_assert_int_eq(hal_native_ops.start(env.backend, &cfg, NULL, NULL), -EINVAL);
        env_config(&env, &cfg, "work", 0);
        ck_assert_int_eq(hal_native_ops.start(env.backend, &cfg, NULL, NULL), -EINVAL);
        start_running("work", 7, &cfg);
        ck_assert_int_eq(hal_native_ops.start(env.backend, &cfg, NULL, NULL), -EBUSY);
        ck_assert_int_eq(hal_native_ops.kill(env.backend, "nosuch", NULL, NULL), -ENOENT);
}
END_TEST

START_TEST(test_start_failure_reported) {
        struct hal_domain_config cfg;
        char empty[256];

        /* An agents dir without odyssey-init: the start fails, nothing stays. */
        snprintf(empty, sizeof(empty), "%s/no-agents", env.root);
        ck_assert_int_eq(mkdir(empty, 0755), 0);
        env_config(&env, &cfg, "work", 7);
        cfg.agents_dir = empty;
        ck_assert_int_eq(env_start(&env, &cfg), -ENOENT);
        ck_assert_int_eq(hal_native_ops.kill(env.backend, "work", NULL, NULL), -ENOENT);
}
END_TEST

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

START_TEST(test_start_latency) {
        struct hal_domain_config cfg;
        uint64_t ms[10];

        env_config(&env, &cfg, "fast", 11);
        for (size_t i = 0; i < ELEMENTSOF(ms); i++) {
                uint64_t t0 = now_usec();
                /* As qubesd does: busd opens the channel once the start is done. */
                ck_assert_int_eq(env_start(&env, &cfg), 0);
                ck_assert_int_eq(env_hello(&env, "fast", 11, TEST_BUSD_UID, 3000), 4);
                ms[i] = now_usec() - t0;
                ck_assert_int_eq(env_kill(&env, "fast"), 0);
        }
        qsort(ms, ELEMENTSOF(ms), sizeof(ms[0]), cmp_u64);
        fprintf(stderr, "start until HELLO over %zu runs: p50 %.1f ms, max %.1f ms\n", ELEMENTSOF(ms),
                (double) ms[ELEMENTSOF(ms) / 2] / 1000.0, (double) ms[ELEMENTSOF(ms) - 1] / 1000.0);
        ck_assert_uint_lt(ms[ELEMENTSOF(ms) / 2], 1000 * 1000);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("hal-native");
        TCase *tc = tcase_create("domains");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_start_hello_isolation);
        tcase_add_test(tc, test_domain_view);
        tcase_add_test(tc, test_vchan_only_busd);
        tcase_add_test(tc, test_list_and_restart);
        tcase_add_test(tc, test_pause_unpause);
        tcase_add_test(tc, test_shutdown_clean);
        tcase_add_test(tc, test_kill);
        tcase_add_test(tc, test_init_dies);
        tcase_add_test(tc, test_private_persists);
        tcase_add_test(tc, test_dispvm_private_discarded);
        tcase_add_test(tc, test_two_domains);
        tcase_add_test(tc, test_memory);
        tcase_add_test(tc, test_refusals);
        tcase_add_test(tc, test_start_failure_reported);
        tcase_add_test(tc, test_start_latency);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *runner = srunner_create(suite());
        int failed;

        if (geteuid() != 0) {
                fprintf(stderr, "test-hal-native needs root (namespaces, cgroups, uid maps)\n");
                return 77;
        }
        if (env_run_begin() < 0) {
                perror("test-hal-native: cannot create its temporary directory");
                return 99;
        }
        srunner_run_all(runner, CK_ENV);
        env_run_end();
        failed = srunner_ntests_failed(runner);
        srunner_free(runner);
        return failed == 0 ? 0 : 1;
}
