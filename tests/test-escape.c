/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The escape battery (tests/escape/) inside a real native domain: start a
 * domain through hal_native_ops whose only agent is escape-battery, let it
 * try every escape it knows against targets this test sets up on the host
 * (a host process to ptrace and kill, another domain's private volume, the
 * admin API, busd and X display sockets by path and abstract name, a TCP port
 * on the host's loopback, a setuid-root helper), read its report from the
 * domain's private volume, and check from the host side too that nothing
 * happened: every attempt blocked, at least 30 of them, the host process
 * alive, the other volume untouched, no file left in the template's root.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

#include "hal.h"
#include "util.h"

#define MIN_ATTEMPTS 30
#define START_TIMEOUT_USEC (15 * 1000000ULL)
#define BATTERY_TIMEOUT_USEC (30 * 1000000ULL)

struct fixture {
        char dir[64];
        char run_dir[128], state_dir[128], agents_dir[128], private_dir[128], other_dir[128];
        char admin_socket[128], bus_socket[128], display_socket[128];
        int listeners[7];
        size_t n_listeners;
        int tcp_port;
        pid_t victim;
        char marker[64];
};

struct domain_watch {
        bool start_done, stopped;
        int start_result;
        enum power_state state;
};

static const char *builddir(void) {
        const char *b = getenv("ODYSSEY_BUILDDIR");
        return b && *b ? b : ODYSSEY_BUILDDIR;
}

static void write_text(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_full(fd, text, strlen(text)), 0);
        close(fd);
}

/* A listening AF_UNIX socket at path, or in the abstract namespace under it. */
static int unix_listener(const char *path, bool abstract) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_uint_lt(len + 1, sizeof(sa.sun_path));
        memcpy(sa.sun_path + (abstract ? 1 : 0), path, len);
        socklen_t sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
        ck_assert_msg(bind(fd, (struct sockaddr *) &sa, sa_len) == 0, "bind %s%s: %m", abstract ? "@" : "", path);
        ck_assert_int_eq(listen(fd, 8), 0);
        return fd;
}

static int tcp_listener(int *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* The host's side of the targets, and the agents dir the domain gets. */
static void fixture_setup(struct fixture *f) {
        char path[512];
        const char *b = builddir();

        snprintf(f->dir, sizeof(f->dir), "/tmp/test-escape-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(f->dir));
        snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->dir);
        snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
        snprintf(f->agents_dir, sizeof(f->agents_dir), "%s/agents", f->dir);
        snprintf(f->private_dir, sizeof(f->private_dir), "%s/private", f->dir);
        snprintf(f->other_dir, sizeof(f->other_dir), "%s/other-private", f->dir);
        ck_assert_int_eq(mkdir(f->run_dir, 0700), 0);
        ck_assert_int_eq(mkdir(f->state_dir, 0700), 0);
        ck_assert_int_eq(mkdir(f->agents_dir, 0755), 0);
        ck_assert_int_eq(mkdir(f->private_dir, 0700), 0);
        ck_assert_int_eq(mkdir(f->other_dir, 0700), 0);

        static const struct {
                const char *from, *to;
                mode_t mode;
        } agents[] = {
                { "agents/bin/odyssey-init", "odyssey-init", 0755 },
                { "agents/bin/qrexec-agent", "qrexec-agent", 0755 },
                { "tests/escape/escape-battery", "escape-battery", 0755 },
                /* a setuid- and setgid-root program that reports what it runs as */
                { "tests/escape/escape-battery", "escape-battery-setuid", 06755 },
        };
        for (size_t i = 0; i < ELEMENTSOF(agents); i++) {
                char to[512];
                snprintf(path, sizeof(path), "%s/%s", b, agents[i].from);
                snprintf(to, sizeof(to), "%s/%s", f->agents_dir, agents[i].to);
                /* as root: owned by 0:0, so the setuid bits stay */
                ck_assert_msg(copy_file(path, to, agents[i].mode) == 0, "cannot copy %s (is it built?)", path);
        }

        /* Another domain's private volume, with a secret in it. */
        snprintf(path, sizeof(path), "%s/secret", f->other_dir);
        write_text(path, "another domain's secret\n");

        /* The admin API, busd and the admin display, by path and abstract name. */
        snprintf(f->admin_socket, sizeof(f->admin_socket), "%s/admin.sock", f->dir);
        snprintf(f->bus_socket, sizeof(f->bus_socket), "%s/bus.sock", f->dir);
        snprintf(f->display_socket, sizeof(f->display_socket), "%s/X0", f->dir);
        const char *sockets[] = { f->admin_socket, f->bus_socket, f->display_socket };
        for (size_t i = 0; i < ELEMENTSOF(sockets); i++) {
                f->listeners[f->n_listeners++] = unix_listener(sockets[i], false);
                f->listeners[f->n_listeners++] = unix_listener(sockets[i], true);
        }
        f->listeners[f->n_listeners++] = tcp_listener(&f->tcp_port);

        /* A host process with a recognisable command line. */
        snprintf(f->marker, sizeof(f->marker), "odyssey-escape-victim-%d", (int) getpid());
        snprintf(path, sizeof(path), "%s/tests/escape/escape-battery", b);
        f->victim = fork();
        ck_assert_int_ge(f->victim, 0);
        if (f->victim == 0) {
                /* Gone with this test even if it fails half-way. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                execl(path, f->marker, "--victim", (char *) NULL);
                _exit(127);
        }
}

static void append_ns(char *conf, size_t size, const char *type) {
        char path[64], link[64];

        snprintf(path, sizeof(path), "/proc/self/ns/%s", type);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        ck_assert_int_gt(n, 0);
        link[n] = '\0';
        size_t used = strlen(conf);
        snprintf(conf + used, size - used, "host-ns %s\n", link);
}

/* /rw/escape-battery.conf: what the battery needs to know about the host. */
static void write_battery_config(const struct fixture *f) {
        static const char *const namespaces[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
        char conf[4096], init_cmdline[1024] = "", path[256];

        int fd = open("/proc/1/cmdline", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, init_cmdline, sizeof(init_cmdline) - 1);
        if (fd >= 0)
                close(fd);
        for (ssize_t i = 0; i < n; i++)
                if (init_cmdline[i] == '\0')
                        init_cmdline[i] = ' ';
        while (n > 0 && init_cmdline[n - 1] == ' ')
                n--;
        init_cmdline[n > 0 ? n : 0] = '\0';

        snprintf(conf, sizeof(conf),
                 "output /rw/escape.log\n"
                 "host-pid %d\nhost-pid %d\n"
                 "other-volume %s\nother-volume %s/secret\n"
                 "admin-socket %s\nbus-socket %s\ndisplay-socket %s\n"
                 "host-tcp-port %d\nhost-uid 0\nhost-marker %s\n"
                 "setuid-helper /run/odyssey/agents/escape-battery-setuid\n",
                 (int) getpid(), (int) f->victim, f->other_dir, f->other_dir, f->admin_socket, f->bus_socket,
                 f->display_socket, f->tcp_port, f->marker);
        if (init_cmdline[0]) {
                size_t used = strlen(conf);
                snprintf(conf + used, sizeof(conf) - used, "host-init-cmdline %s\n", init_cmdline);
        }
        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++)
                append_ns(conf, sizeof(conf), namespaces[i]);

        snprintf(path, sizeof(path), "%s/escape-battery.conf", f->private_dir);
        write_text(path, conf);
}

static void on_start_done(void *userdata, int result) {
        struct domain_watch *w = userdata;

        w->start_done = true;
        w->start_result = result;
}

static void on_stop_done(void *userdata, int result) {
        struct domain_watch *w = userdata;

        w->stopped = true;
}

static void on_event(void *userdata, const char *name, enum power_state state, int reason) {
        struct domain_watch *w = userdata;

        w->state = state;
}

/* Whole file into buf (NUL-terminated); false if it is not there. */
static bool read_text(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return true;
}

/* The report is complete when its last line is "N passed, M failed". */
static bool report_complete(const char *report, unsigned *ret_passed, unsigned *ret_failed) {
        const char *last = report;
        size_t len = strlen(report);

        if (len == 0 || report[len - 1] != '\n')
                return false;
        for (const char *p = report; p < report + len - 1; p++)
                if (*p == '\n')
                        last = p + 1;
        return sscanf(last, "%u passed, %u failed", ret_passed, ret_failed) == 2;
}

static void dump_console(const struct fixture *f, const char *name) {
        char path[512], text[16384];

        snprintf(path, sizeof(path), "%s/domains/%s/console.log", f->run_dir, name);
        if (read_text(path, text, sizeof(text)))
                fprintf(stderr, "--- %s:\n%s---\n", path, text);
}

/* Every line an attempt, every attempt blocked, and the ones that matter all there. */
static void check_report(const char *report, unsigned passed, unsigned failed) {
        static const char *const required[] = {
                "tiocsti", "tiocsti-highbits", "tioclinux", "tioclinux-highbits", "tiocsti-own-ctty",
                "ptrace-host-pid", "ptrace-visible-pids", "process-vm-readv-host", "mount-tmpfs", "umount",
                "pivot-root", "unshare-user", "unshare-mnt", "clone-newuser", "clone3-newuser", "setns",
                "open-by-handle-at", "keyctl", "add-key", "bpf-map-create", "userfaultfd", "perf-event-open",
                "kexec-load", "init-module", "finit-module", "socket-packet", "socket-raw-inet", "other-volume",
                "reach-display", "reach-display-abstract", "reach-admin-api", "reach-admin-api-abstract",
                "reach-busd", "reach-busd-abstract", "host-loopback-tcp", "host-namespaces", "write-usr-bin",
                "write-etc", "proc-kallsyms", "proc-host-cmdline", "proc-sys-writable", "proc-sysrq-trigger",
                "x32-getpid", "mknod-char", "mknod-block", "setuid-binary", "exec-regains-caps", "chroot",
                "setuid-host-uid", "setuid-other-uid", "uid-map-host-root",
        };
        unsigned attempts = 0;
        char line[1024];

        for (const char *p = report; *p;) {
                size_t n = strcspn(p, "\n");
                snprintf(line, sizeof(line), "%.*s", (int) n, p);
                p += n + (p[n] == '\n');
                if (strncmp(line, "ESCAPE ", 7) != 0)
                        continue;
                attempts++;
                char name[128], verdict[16];
                ck_assert_msg(sscanf(line, "ESCAPE %127s %15s", name, verdict) == 2, "malformed line: %s", line);
                ck_assert_msg(strcmp(verdict, "blocked") == 0, "escape attempt succeeded: %s", line);
        }
        ck_assert_uint_eq(failed, 0);
        ck_assert_uint_eq(passed, attempts);
        ck_assert_uint_ge(attempts, MIN_ATTEMPTS);

        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                char needle[128];
                snprintf(needle, sizeof(needle), "ESCAPE %s blocked", required[i]);
                ck_assert_msg(strstr(report, needle), "the battery did not try %s", required[i]);
        }
}

/* Nothing the domain tried left a trace on the host. */
static void check_host_untouched(const struct fixture *f) {
        char path[512], text[256];
        int status;

        ck_assert_msg(waitpid(f->victim, &status, WNOHANG) == 0, "the host process was killed from the domain");
        snprintf(path, sizeof(path), "%s/secret", f->other_dir);
        ck_assert(read_text(path, text, sizeof(text)));
        ck_assert_str_eq(text, "another domain's secret\n");

        /* The battery names its files .escape-battery-PID; none may exist on the host. */
        static const char *const dirs[] = { "/usr/bin", "/etc" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                DIR *d = opendir(dirs[i]);
                ck_assert_ptr_nonnull(d);
                for (struct dirent *de; (de = readdir(d));)
                        ck_assert_msg(strncmp(de->d_name, ".escape-battery-", 16) != 0,
                                      "the battery left %s/%s on the host", dirs[i], de->d_name);
                closedir(d);
        }
}

static void run_until(sd_event *event, uint64_t timeout_usec, bool (*done)(void *), void *userdata) {
        uint64_t deadline = now_usec() + timeout_usec;

        while (!done(userdata) && now_usec() < deadline)
                ck_assert_int_ge(sd_event_run(event, 100 * 1000), 0);
}

static bool start_finished(void *userdata) {
        return ((struct domain_watch *) userdata)->start_done;
}

static bool stop_finished(void *userdata) {
        return ((struct domain_watch *) userdata)->stopped;
}

struct report_wait {
        const char *path;
        const struct domain_watch *watch;
        char *text;
        size_t size;
        unsigned passed, failed;
};

static bool report_finished(void *userdata) {
        struct report_wait *r = userdata;

        return (read_text(r->path, r->text, r->size) && report_complete(r->text, &r->passed, &r->failed)) ||
               r->watch->state == POWER_HALTED || r->watch->state == POWER_CRASHED;
}

START_TEST(test_escape_battery_in_native_domain) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        struct fixture f = {};
        struct domain_watch watch = { .state = POWER_TRANSIENT };
        struct hal_backend *backend = NULL;
        static char report[65536];
        char name[32], log_path[256];

        fixture_setup(&f);
        write_battery_config(&f);
        ck_assert_int_ge(sd_event_default(&event), 0);
        ck_assert_int_eq(hal_native_ops.new(event, f.run_dir, f.state_dir, on_event, &watch, &backend), 0);

        snprintf(name, sizeof(name), "escape-%d", (int) getpid());
        struct hal_domain_config cfg = {
                .name = name,
                .domid = 1000 + (uint32_t) getpid() % 8000,
                .uuid = "6f1c2bde-8a4e-4c55-9a3d-0b5d3f1e2a77",
                .klass = DOMAIN_APPVM,
                .template_root = "/",
                .private_dir = f.private_dir,
                .memory_mb = 256,
                .vcpus = 1,
                .debug = true,
                .default_user = "user",
                .agents_dir = f.agents_dir,
                .agents = "escape-battery",
        };
        ck_assert_int_eq(hal_native_ops.start(backend, &cfg, on_start_done, &watch), 0);
        run_until(event, START_TIMEOUT_USEC, start_finished, &watch);
        if (!watch.start_done || watch.start_result < 0)
                dump_console(&f, name);
        ck_assert_msg(watch.start_done, "the domain did not start in time");
        ck_assert_msg(watch.start_result >= 0, "the domain failed to start: %s", strerror(-watch.start_result));

        snprintf(log_path, sizeof(log_path), "%s/escape.log", f.private_dir);
        struct report_wait wait = { .path = log_path, .watch = &watch, .text = report, .size = sizeof(report) };
        run_until(event, BATTERY_TIMEOUT_USEC, report_finished, &wait);
        bool complete = read_text(log_path, report, sizeof(report)) &&
                        report_complete(report, &wait.passed, &wait.failed);
        /* The report, for whoever reads this test's log (indented: its last
         * line is not this test's verdict). */
        fprintf(stderr, "--- %s:\n", log_path);
        for (const char *p = report; *p;) {
                size_t n = strcspn(p, "\n");
                fprintf(stderr, "| %.*s\n", (int) n, p);
                p += n + (p[n] == '\n');
        }
        if (!complete || wait.failed > 0)
                dump_console(&f, name);

        ck_assert_int_eq(hal_native_ops.kill(backend, name, on_stop_done, &watch), 0);
        run_until(event, START_TIMEOUT_USEC, stop_finished, &watch);
        ck_assert_msg(watch.stopped, "the domain did not stop");
        hal_native_ops.free(backend);

        ck_assert_msg(complete, "the battery's report is incomplete");
        check_report(report, wait.passed, wait.failed);
        check_host_untouched(&f);

        kill(f.victim, SIGKILL);
        waitpid(f.victim, NULL, 0);
        for (size_t i = 0; i < f.n_listeners; i++)
                close(f.listeners[i]);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("escape");
        TCase *tc = tcase_create("native-domain");
        tcase_add_test(tc, test_escape_battery_in_native_domain);
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
