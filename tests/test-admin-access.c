/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who may use the Admin API, with what a plain stack test cannot assume:
 * a real admin group (a temporary one from groupadd, given to qubesd with
 * --admin-group) on the private socket, and a system bus (a private
 * dbus-daemon with the project's policy file) that qubesd joins with
 * --system-bus=yes.  Skips only without dbus-daemon or groupadd.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin-client.h"
#include "stack-harness.h"

#ifndef ODYSSEY_SRCDIR
#  define ODYSSEY_SRCDIR "."
#endif

#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define GROUPADD "/usr/sbin/groupadd"
#define GROUPDEL "/usr/sbin/groupdel"
#define OUTSIDER_UID 65534
#define OUTSIDER_GID 65534
#define ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"

static struct test_stack stack;
static bool stack_up;

static const char *srcdir(void) {
        const char *s = getenv("ODYSSEY_SRCDIR");
        return s && *s ? s : ODYSSEY_SRCDIR;
}

/* argv[0] with its output on stderr; the exit status, or -errno. */
static int run(const char *const argv[]) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In a child as uid with primary gid and the supplementary groups given:
 * ListDomains on address (through bus name dest when not NULL) gives
 * "ok NAME NAME...", the error's name, or "connect: ...". */
static void list_domains_as(const char *address, const char *dest, uid_t uid, gid_t gid, const gid_t *groups,
                            size_t n_groups, char *result, size_t size) {
        int pipefd[2];
        pid_t pid;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char answer[512] = "";
                sd_bus *bus = NULL;
                int r;

                if (setgroups(n_groups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                        _exit(2);
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0 && dest)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0)
                        snprintf(answer, sizeof(answer), "connect: %s", strerror(-r));
                else {
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        sd_bus_message *reply = NULL;
                        const char *name;

                        r = sd_bus_call_method(bus, dest, ADMIN_PATH, ADMIN_MANAGER, "ListDomains", &error, &reply,
                                               "");
                        if (r < 0)
                                snprintf(answer, sizeof(answer), "%s", error.name ?: strerror(-r));
                        else {
                                strcpy(answer, "ok");
                                if (sd_bus_message_enter_container(reply, 'a', "s") >= 0)
                                        while (sd_bus_message_read(reply, "s", &name) > 0 &&
                                               strlen(answer) + strlen(name) + 2 < sizeof(answer)) {
                                                strcat(answer, " ");
                                                strcat(answer, name);
                                        }
                        }
                }
                (void) !write(pipefd[1], answer, strlen(answer));
                _exit(0);
        }
        close(pipefd[1]);
        ssize_t n = read(pipefd[0], result, size - 1);
        result[n > 0 ? n : 0] = '\0';
        close(pipefd[0]);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

/* ---------------------------------------------------------------- admin group */

static char group_name[32];
static gid_t group_gid;
static bool group_made;

static void group_setup(void) {
        uint32_t nonce = (uint32_t) getpid();
        char arg[64];

        (void) !getrandom(&nonce, sizeof(nonce), 0);
        snprintf(group_name, sizeof(group_name), "odyssey-test-%08x", nonce);
        group_made = run((const char *const[]) { GROUPADD, "--system", group_name, NULL }) == 0;
        if (!group_made)
                return;
        struct group *g = getgrnam(group_name);
        if (!g)
                return;
        group_gid = g->gr_gid;
        snprintf(arg, sizeof(arg), "qubesd=--admin-group=%s", group_name);
        stack_up = test_stack_start(&stack, "--only", "busd,qubesd", "--arg", arg, NULL) == 0;
}

static void group_teardown(void) {
        if (stack_up)
                test_stack_stop(&stack);
        stack_up = false;
        if (group_made && run((const char *const[]) { GROUPDEL, group_name, NULL }) != 0)
                fprintf(stderr, "groupdel %s failed: remove it by hand\n", group_name);
        group_made = false;
}

START_TEST(test_socket_belongs_to_group) {
        struct stat st;

        ck_assert_msg(group_made, "groupadd %s failed", group_name);
        ck_assert_msg(stack_up, "the stack did not start");
        ck_assert_int_eq(stat(stack.admin_socket, &st), 0);
        ck_assert_uint_eq(st.st_uid, 0);
        ck_assert_uint_eq(st.st_gid, group_gid);
        ck_assert_uint_eq(st.st_mode & 0777, 0660);
}
END_TEST

START_TEST(test_member_served) {
        char result[512];

        ck_assert_msg(stack_up, "the stack did not start");
        /* a supplementary group, as after a login into it ... */
        list_domains_as(stack.admin_address, NULL, OUTSIDER_UID, OUTSIDER_GID, &group_gid, 1, result,
                        sizeof(result));
        ck_assert_str_eq(result, "ok dom0");
        /* ... or the primary one (newgrp, sg) */
        list_domains_as(stack.admin_address, NULL, OUTSIDER_UID, group_gid, NULL, 0, result, sizeof(result));
        ck_assert_str_eq(result, "ok dom0");
}
END_TEST

START_TEST(test_outsider_refused) {
        char result[512];

        ck_assert_msg(stack_up, "the stack did not start");
        /* the same uid without the group: the socket's mode keeps it out ... */
        list_domains_as(stack.admin_address, NULL, OUTSIDER_UID, OUTSIDER_GID, NULL, 0, result, sizeof(result));
        ck_assert_str_eq(result, "connect: Permission denied");
        /* ... and qubesd's own check refuses it should the mode be wrong */
        ck_assert_int_eq(chmod(stack.admin_socket, 0666), 0);
        list_domains_as(stack.admin_address, NULL, OUTSIDER_UID, OUTSIDER_GID, NULL, 0, result, sizeof(result));
        ck_assert_int_eq(chmod(stack.admin_socket, 0660), 0);
        ck_assert_str_eq(result, ACCESS_DENIED);
}
END_TEST

/* A group named on the command line that does not exist: qubesd says so and
 * exits before it touches anything (never a silent root-only socket). */
START_TEST(test_missing_group_fails) {
        char qubesd[sizeof(stack.builddir) + 64], cmd[sizeof(qubesd) + 128];

        ck_assert_msg(stack_up, "the stack did not start");
        snprintf(qubesd, sizeof(qubesd), "%s/daemons/qubesd/qubesd", stack.builddir);
        snprintf(cmd, sizeof(cmd), "'%s' --admin-group=odyssey-no-such-group 2>&1", qubesd);
        FILE *p = popen(cmd, "re");
        ck_assert_ptr_nonnull(p);
        char out[1024] = "";
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        ck_assert_int_eq(WEXITSTATUS(pclose(p)), EXIT_FAILURE);
        ck_assert_msg(strstr(out, "No group 'odyssey-no-such-group'"), "qubesd said: %s", out);
}
END_TEST

/* ---------------------------------------------------------------- system bus */

static char bus_dir[64];
static char bus_address[256];
static pid_t bus_pid;

static int write_bus_config(const char *path) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        /* Like the system bus's own defaults: anyone may connect, nobody may
         * own names or call methods unless a policy file allows it. */
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>system</type>\n"
                "  <listen>unix:path=%s/system_bus_socket</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow user=\"*\"/>\n"
                "    <deny own=\"*\"/>\n"
                "    <deny send_type=\"method_call\"/>\n"
                "    <allow send_type=\"signal\"/>\n"
                "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                "    <allow receive_type=\"method_call\"/>\n"
                "    <allow receive_type=\"method_return\"/>\n"
                "    <allow receive_type=\"error\"/>\n"
                "    <allow receive_type=\"signal\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
                "  </policy>\n"
                "  <include>%s/systemd/org.qubes.Admin1.conf</include>\n"
                "</busconfig>\n",
                bus_dir, srcdir());
        return fclose(f) < 0 ? -errno : 0;
}

/* dbus-daemon in the foreground; its address once it listens, or -errno. */
static int bus_start(void) {
        char config[sizeof(bus_dir) + 32], config_arg[sizeof(config) + 16], fd_arg[32];
        struct pollfd pfd;
        int pipefd[2], r;
        size_t have = 0;

        snprintf(bus_dir, sizeof(bus_dir), "/tmp/odyssey-sysbus-XXXXXX");
        if (!mkdtemp(bus_dir))
                return -errno;
        /* others must reach the socket: the outsider's call is refused by policy */
        if (chmod(bus_dir, 0755) < 0)
                return -errno;
        snprintf(config, sizeof(config), "%s/system.conf", bus_dir);
        r = write_bus_config(config);
        if (r < 0)
                return r;
        snprintf(config_arg, sizeof(config_arg), "--config-file=%s", config);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        bus_pid = fork();
        if (bus_pid < 0)
                return -errno;
        if (bus_pid == 0) {
                /* the write end survives exec; the bus dies with the test */
                int fd = fcntl(pipefd[1], F_DUPFD, 3);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                snprintf(fd_arg, sizeof(fd_arg), "--print-address=%d", fd);
                execl(DBUS_DAEMON, DBUS_DAEMON, config_arg, "--nofork", "--nopidfile", "--nosyslog", fd_arg,
                      (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        pfd = (struct pollfd) { .fd = pipefd[0], .events = POLLIN };
        /* it prints the address once it listens */
        while (have + 1 < sizeof(bus_address) && !memchr(bus_address, '\n', have)) {
                if (poll(&pfd, 1, 5000) <= 0)
                        break;
                ssize_t n = read(pipefd[0], bus_address + have, sizeof(bus_address) - 1 - have);
                if (n <= 0)
                        break;
                have += (size_t) n;
        }
        close(pipefd[0]);
        bus_address[have] = '\0';
        bus_address[strcspn(bus_address, "\n")] = '\0';
        return bus_address[0] ? 0 : -EIO;
}

static void bus_stop(void) {
        char path[sizeof(bus_dir) + 32];

        if (bus_pid > 0) {
                (void) kill(bus_pid, SIGTERM);
                (void) waitpid(bus_pid, NULL, 0);
        }
        bus_pid = 0;
        if (!bus_dir[0])
                return;
        snprintf(path, sizeof(path), "%s/system.conf", bus_dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/system_bus_socket", bus_dir);
        (void) unlink(path);
        (void) rmdir(bus_dir);
        bus_dir[0] = '\0';
}

static void system_bus_setup(void) {
        if (bus_start() < 0)
                return;
        /* the launcher hands its environment to the daemons */
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1);
        stack_up = test_stack_start(&stack, "--only", "busd,qubesd", "--arg", "qubesd=--system-bus=yes", NULL) == 0;
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

static void system_bus_teardown(void) {
        if (stack_up)
                test_stack_stop(&stack);
        stack_up = false;
        bus_stop();
}

START_TEST(test_root_calls_through_bus) {
        char result[512];

        ck_assert_msg(bus_address[0], "dbus-daemon did not start");
        ck_assert_msg(stack_up, "the stack did not start");
        list_domains_as(bus_address, "org.qubes.Admin1", 0, 0, NULL, 0, result, sizeof(result));
        ck_assert_str_eq(result, "ok dom0");
}
END_TEST

START_TEST(test_outsider_refused_by_bus_policy) {
        char result[512];

        ck_assert_msg(stack_up, "the stack did not start");
        list_domains_as(bus_address, "org.qubes.Admin1", OUTSIDER_UID, OUTSIDER_GID, NULL, 0, result,
                        sizeof(result));
        ck_assert_str_eq(result, ACCESS_DENIED);
}
END_TEST

/* The policy lets only root own the name: a squatter cannot take it over. */
START_TEST(test_outsider_cannot_own_name) {
        sd_bus *bus = NULL;
        int status;

        ck_assert_msg(stack_up, "the stack did not start");
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(OUTSIDER_GID) < 0 || setuid(OUTSIDER_UID) < 0)
                        _exit(2);
                if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_address) < 0 ||
                    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
                        _exit(3);
                _exit(sd_bus_request_name(bus, "org.qubes.Admin1", SD_BUS_NAME_REPLACE_EXISTING) == -EACCES ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the outsider's RequestName: status %d", status);
}
END_TEST

/* --system-bus=yes without a bus: qubesd does not start (the launcher reports it). */
START_TEST(test_required_bus_missing) {
        struct test_stack other;
        char address[sizeof(bus_dir) + 64];

        /* the same stack with a bus that runs started: only the bus differs */
        ck_assert_msg(stack_up, "the stack did not start");
        snprintf(address, sizeof(address), "unix:path=%s/no-such-socket", bus_dir);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
        int r = test_stack_start(&other, "--only", "busd,qubesd", "--timeout", "5", "--arg",
                                 "qubesd=--system-bus=yes", NULL);
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (r == 0)
                test_stack_stop(&other);
        ck_assert_int_lt(r, 0);
}
END_TEST

static Suite *access_suite(void) {
        Suite *s = suite_create("admin-access");
        TCase *tc;

        tc = tcase_create("admin-group");
        tcase_add_unchecked_fixture(tc, group_setup, group_teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_socket_belongs_to_group);
        tcase_add_test(tc, test_member_served);
        tcase_add_test(tc, test_outsider_refused);
        tcase_add_test(tc, test_missing_group_fails);
        suite_add_tcase(s, tc);

        tc = tcase_create("system-bus");
        tcase_add_unchecked_fixture(tc, system_bus_setup, system_bus_teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_root_calls_through_bus);
        tcase_add_test(tc, test_outsider_refused_by_bus_policy);
        tcase_add_test(tc, test_outsider_cannot_own_name);
        tcase_add_test(tc, test_required_bus_missing);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        if (access(DBUS_DAEMON, X_OK) < 0 || access(GROUPADD, X_OK) < 0 || access(GROUPDEL, X_OK) < 0) {
                fprintf(stderr, "SKIP: needs %s, %s and %s\n", DBUS_DAEMON, GROUPADD, GROUPDEL);
                return 77;
        }
        sr = srunner_create(access_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
