/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-agent as a real process, the test playing the admin side of its
 * control channel: services from QREXEC_SERVICE_PATH (output, exit code,
 * environment, argument, the home it gets), SERVICE+ARG before SERVICE,
 * 127 for a missing service, JUST_EXEC, plain commands, 50 calls running at
 * once, the core services of the agents' own dir (VMExec, VMShell,
 * Filecopy, OpenURL, OpenInVM), and hostile data peers (wrong direction: ignored; oversize chunk,
 * vanishing: that call ends) that hurt nothing but their own call.  With
 * --switch-users (root only): commands run as the user they name, and an
 * unknown user is refused (125, a message), never run as root; a refusal
 * or a failed exec is the answer also of a JUST_EXEC (125 / 127).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"
#include "filecopy.h"
#include "qrexec-stream.h"
#include "util.h"

static const char echo_service[] =
        "#!/bin/sh\n"
        "echo \"arg=$1 from=$QREXEC_REMOTE_DOMAIN name=$QREXEC_SERVICE_FULL_NAME"
        " qarg=$QREXEC_SERVICE_ARGUMENT type=[$QREXEC_REQUESTED_TARGET_TYPE]"
        " user=$USER logname=$LOGNAME leaked=${QREXEC_LEAKED-no} agent=${QREXEC_AGENT_PID:+set}\"\n"
        "echo \"home=$HOME pwd=$(pwd)\"\n"
        "cat\n"
        "echo oops >&2\n"
        "exit 7\n";

/* JUST_EXEC (Run without -p): the answer only, nothing comes back. */
static int just_exec_code(int port, const char *cmdline) {
        struct call_result r;
        int code;

        agent_send_exec(QREXEC_MSG_JUST_EXEC, port, cmdline);
        agent_serve_call(port, "", &r);
        agent_expect_terminated(0, (uint32_t) port);
        ck_assert_str_eq(r.out, "");
        code = r.exit_code;
        call_result_done(&r);
        return code;
}

/* The same answer with -p (EXEC_CMDLINE, on port: no output) and without
 * (JUST_EXEC, on port + 1). */
static void expect_code_both_ways(int port, const char *cmdline, int code) {
        struct call_result r;

        agent_call(port, cmdline, "", &r);
        ck_assert_int_eq(r.exit_code, code);
        ck_assert_str_eq(r.out, "");
        call_result_done(&r);
        ck_assert_int_eq(just_exec_code(port + 1, cmdline), code);
}

START_TEST(test_service_output_exit_and_environment) {
        struct call_result r;
        char expected[3 * PATH_MAX], home[PATH_MAX + 8];
        struct stat st;

        agent_add_service("test.Echo", echo_service);
        agent_call(513, "user:QUBESRPC test.Echo+an-arg work", "some input\n", &r);
        ck_assert_int_eq(r.exit_code, 7);
        snprintf(home, sizeof(home), "%s/user", agent_home_base);
        snprintf(expected, sizeof(expected),
                 "arg=an-arg from=work name=test.Echo+an-arg qarg=an-arg type=[] user=user logname=user"
                 " leaked=no agent=set\nhome=%s pwd=%s\nsome input\n", home, home);
        ck_assert_str_eq(r.out, expected);
        ck_assert_str_eq(r.err, "oops\n");
        /* The missing home was created, under the base, private. */
        ck_assert_int_eq(stat(home, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 0777, 0700);
        call_result_done(&r);

        /* No '+': no argument at all (argv[1] and the variable absent). */
        agent_call(514, "other:nogui:QUBESRPC test.Echo dom0", "", &r);
        ck_assert_int_eq(r.exit_code, 7);
        ck_assert_ptr_nonnull(strstr(r.out, "arg= from=dom0 name=test.Echo qarg= type=[] user=other"));
        call_result_done(&r);
}
END_TEST

START_TEST(test_specific_service_before_generic) {
        struct call_result r;

        agent_add_service("test.Pick", "#!/bin/sh\necho generic \"$1\"\n");
        agent_add_service("test.Pick+special", "#!/bin/sh\necho specific \"$1\"\n");
        agent_call(513, "user:QUBESRPC test.Pick+special work", "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "specific special\n");
        call_result_done(&r);
        agent_call(514, "user:QUBESRPC test.Pick+other work", "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "generic other\n");
        call_result_done(&r);
}
END_TEST

START_TEST(test_missing_service_and_bad_requests) {
        struct call_result r;

        agent_call(513, "user:QUBESRPC test.Nowhere+x work", "", &r);
        ck_assert_int_eq(r.exit_code, QREXEC_EXIT_SERVICE_NOT_FOUND);
        ck_assert_str_eq(r.out, "");
        call_result_done(&r);

        /* A file that is not executable cannot be a service: 125. */
        agent_add_service("test.NoExec", "#!/bin/sh\necho never\n");
        {
                char path[PATH_MAX * 2];

                snprintf(path, sizeof(path), "%s/test.NoExec", agent_service_dir);
                ck_assert_int_eq(chmod(path, 0644), 0);
        }
        agent_call(514, "user:QUBESRPC test.NoExec work", "", &r);
        ck_assert_int_eq(r.exit_code, QREXEC_EXIT_PROBLEM);
        call_result_done(&r);

        /* An interpreter that is missing: nothing to exec, 127, also without -p. */
        agent_add_service("test.BadInterpreter", "#!/nonexistent/odyssey-interpreter\n");
        expect_code_both_ways(516, "user:QUBESRPC test.BadInterpreter work", QREXEC_EXIT_SERVICE_NOT_FOUND);

        /* A user name that could name a path: refused with 125. */
        agent_call(515, "../etc:echo hi", "", &r);
        ck_assert_int_eq(r.exit_code, QREXEC_EXIT_PROBLEM);
        ck_assert_str_eq(r.out, "");
        call_result_done(&r);
}
END_TEST

START_TEST(test_plain_command) {
        struct call_result r;

        agent_call(513, "user:read x; echo \"got $x\"; echo warn >&2; exit 3", "line\n", &r);
        ck_assert_int_eq(r.exit_code, 3);
        ck_assert_str_eq(r.out, "got line\n");
        ck_assert_str_eq(r.err, "warn\n");
        call_result_done(&r);
}
END_TEST

START_TEST(test_just_exec) {
        char marker[PATH_MAX + 16], cmdline[2 * PATH_MAX];
        struct call_result r;

        snprintf(marker, sizeof(marker), "%s/ran", agent_dir);
        snprintf(cmdline, sizeof(cmdline), "user:echo yes > '%s'", marker);
        agent_send_exec(QREXEC_MSG_JUST_EXEC, 600, cmdline);
        agent_serve_call(600, "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "");            /* nothing comes back */
        agent_expect_terminated(0, 600);
        call_result_done(&r);
        /* The command runs detached: wait for its file. */
        for (int i = 0; i < 3000 && access(marker, F_OK) < 0; i++)
                usleep(10000);
        ck_assert_int_eq(access(marker, F_OK), 0);
}
END_TEST

#define CONCURRENT_CALLS 50

/* Each call waits until all 50 services run at once: only an agent that
 * never waits for one call can pass. */
START_TEST(test_many_calls_at_once) {
        char service[1024];
        pid_t clients[CONCURRENT_CALLS];
        bool terminated[CONCURRENT_CALLS] = {};

        snprintf(service, sizeof(service),
                 "#!/bin/sh\n"
                 "mkdir -p %s/started && touch %s/started/$1\n"
                 "n=0\n"
                 "while [ $(ls %s/started | wc -l) -lt %d ]; do\n"
                 "  n=$((n+1)); [ $n -gt 1200 ] && exit 9; sleep 0.05\n"
                 "done\n"
                 "echo \"call $1: $(cat)\"\n",
                 agent_dir, agent_dir, agent_dir, CONCURRENT_CALLS);
        agent_add_service("test.Together", service);

        for (int i = 0; i < CONCURRENT_CALLS; i++) {
                clients[i] = fork();
                ck_assert_int_ge(clients[i], 0);
                if (clients[i] == 0) {
                        struct call_result r;
                        char input[32], expected[64];

                        snprintf(input, sizeof(input), "in%d", i);
                        snprintf(expected, sizeof(expected), "call %d: in%d\n", i, i);
                        agent_serve_call(600 + i, input, &r);
                        _exit(r.exit_code == 0 && strcmp(r.out, expected) == 0 ? 0 : 1);
                }
        }
        for (int i = 0; i < CONCURRENT_CALLS; i++) {
                char cmdline[64];

                snprintf(cmdline, sizeof(cmdline), "user:QUBESRPC test.Together+%d work", i);
                agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 600 + i, cmdline);
        }
        for (int i = 0; i < CONCURRENT_CALLS; i++) {
                struct qrexec_hdr hdr;
                uint8_t *payload = agent_recv(&hdr);
                uint32_t domain, port;

                ck_assert_uint_eq(hdr.type, QREXEC_MSG_CONNECTION_TERMINATED);
                ck_assert_int_eq(qrexec_decode_connection_terminated(payload, hdr.len, &domain, &port), 0);
                ck_assert_uint_eq(domain, 0);
                ck_assert(port >= 600 && port < 600 + CONCURRENT_CALLS && !terminated[port - 600]);
                terminated[port - 600] = true;
                free(payload);
        }
        for (int i = 0; i < CONCURRENT_CALLS; i++)
                ck_assert_int_eq(wait_exit_code(clients[i]), 0);
}
END_TEST

/* Connect as the data peer of a call and misbehave; the call must end
 * (CONNECTION_TERMINATED) and the next call work as usual. */
static struct vchan *accept_data(int port) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = AGENT_DOMID, .port = port,
                .socket_dir = agent_vchan_dir,
        };
        struct vchan *v = NULL;

        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), 0);
        while (vchan_is_open(v) == VCHAN_WAITING)
                ck_assert_int_eq(vchan_wait(v), 0);
        return v;
}

START_TEST(test_hostile_data_peer) {
        uint8_t msg[QREXEC_HEADER_SIZE + 16];
        struct call_result r;
        struct vchan *v;
        uint32_t version;
        int n, in, out;
        char *text;

        agent_add_service("test.Cat", "#!/bin/sh\ncat\n");

        /* A message the client may not send (DATA_STDOUT goes the other
         * way) is ignored, as Qubes does: it never reaches the service. */
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 520, "user:QUBESRPC test.Cat work");
        v = accept_data(520);
        ck_assert_int_eq(qrexec_stream_handshake(v, 30000, &version), 0);
        n = qrexec_encode_data(msg, sizeof(msg), QREXEC_MSG_DATA_STDOUT, "evil", 4);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(vchan_send(v, msg, (size_t) n), n);
        in = memfd_with("good\n");
        out = memfd_with(NULL);
        ck_assert_int_eq(qrexec_stream_run_client(v, version, in, dup(out), -1, NULL), 0);
        text = memfd_text(out);
        ck_assert_str_eq(text, "good\n");
        free(text);
        close(out);
        agent_expect_terminated(0, 520);
        vchan_close(v);

        /* A chunk far larger than the protocol allows. */
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 521, "user:QUBESRPC test.Cat work");
        v = accept_data(521);
        ck_assert_int_eq(qrexec_stream_handshake(v, 30000, &version), 0);
        le32_store(msg, QREXEC_MSG_DATA_STDIN);
        le32_store(msg + 4, 1u << 30);
        ck_assert_int_eq(vchan_send(v, msg, QREXEC_HEADER_SIZE), QREXEC_HEADER_SIZE);
        agent_expect_terminated(0, 521);
        vchan_close(v);

        /* A peer that vanishes before saying hello, and one that vanishes mid-call. */
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 522, "user:QUBESRPC test.Cat work");
        vchan_close(accept_data(522));
        agent_expect_terminated(0, 522);
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 523, "user:QUBESRPC test.Cat work");
        v = accept_data(523);
        ck_assert_int_eq(qrexec_stream_handshake(v, 30000, &version), 0);
        n = qrexec_encode_data(msg, sizeof(msg), QREXEC_MSG_DATA_STDIN, "half", 4);
        ck_assert_int_eq(vchan_send(v, msg, (size_t) n), n);
        vchan_close(v);
        agent_expect_terminated(0, 523);

        /* Nothing else was hurt. */
        agent_call(524, "user:QUBESRPC test.Cat work", "still fine\n", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "still fine\n");
        call_result_done(&r);
}
END_TEST

/* The core services shipped in the agents' own service dir. */
START_TEST(test_core_services) {
        uint8_t end[FILECOPY_HEADER_SIZE] = {};
        char src[PATH_MAX + 16], landed[2 * PATH_MAX], *text;
        struct filecopy_sender sender;
        struct call_result r;
        int stream, fd;

        agent_call(513, "user:QUBESRPC qubes.VMExec+printf+-25s-5Cn+hello-20world work", "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "hello world\n");
        call_result_done(&r);

        agent_call(514, "user:QUBESRPC qubes.VMShell work", "echo \"shell $USER\"\nexit 4\n", &r);
        ck_assert_int_eq(r.exit_code, 4);
        ck_assert_str_eq(r.out, "shell user\n");
        call_result_done(&r);

        /* qubes.Filecopy: the stream qfile-agent would send, into
         * ~/QubesIncoming/<caller>/. */
        snprintf(src, sizeof(src), "%s/report.txt", agent_dir);
        fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "contents\n", 9), 9);
        close(fd);
        stream = memfd_with(NULL);
        filecopy_sender_init(&sender, stream);
        ck_assert_int_eq(filecopy_send_path(&sender, src), 0);
        ck_assert_int_eq(write(stream, end, sizeof(end)), (ssize_t) sizeof(end));
        ck_assert_int_eq(lseek(stream, 0, SEEK_SET), 0);
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, 515, "user:QUBESRPC qubes.Filecopy work");
        agent_serve_call_fd(515, stream, &r);
        agent_expect_terminated(0, 515);
        ck_assert_int_eq(r.exit_code, 0);
        call_result_done(&r);
        snprintf(landed, sizeof(landed), "%s/user/QubesIncoming/work/report.txt", agent_home_base);
        fd = open(landed, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        text = calloc(1, 64);
        ck_assert_int_eq(read(fd, text, 63), 9);
        ck_assert_str_eq(text, "contents\n");
        free(text);
        close(fd);

        /* qubes.OpenURL refuses what is not a web or mail address. */
        agent_call(516, "user:QUBESRPC qubes.OpenURL work", "javascript:alert(1)\n", &r);
        ck_assert_int_eq(r.exit_code, 1);
        ck_assert_ptr_nonnull(strstr(r.err, "refusing"));
        call_result_done(&r);
        agent_call(517, "user:QUBESRPC qubes.OpenURL work", "https://a.example/\033[2J\n", &r);
        ck_assert_int_eq(r.exit_code, 1);
        call_result_done(&r);

        /* qubes.OpenInVM stores the file privately; a name with a '/' is refused. */
        agent_call(518, "user:QUBESRPC qubes.OpenInVM work", "../../evil\nx", &r);
        ck_assert_int_eq(r.exit_code, 1);
        call_result_done(&r);
        agent_call(519, "user:QUBESRPC qubes.OpenInVM work", "note.txt\nsome text\n", &r);
        call_result_done(&r);
        snprintf(landed, sizeof(landed), "cat %s/user/QubesIncoming/.open/*/note.txt | grep -qx 'some text'",
                 agent_home_base);
        ck_assert_int_eq(system(landed), 0);
}
END_TEST

static void switching_agent_setup(void) {
        agent_extra_option = "--switch-users";
        agent_setup();
}

static void switching_agent_teardown(void) {
        agent_teardown();
        agent_extra_option = NULL;
}

START_TEST(test_switch_users) {
        struct passwd *pw = getpwnam("nobody");
        struct call_result r;
        char expected[PATH_MAX + 64];

        ck_assert_ptr_nonnull(pw);
        snprintf(expected, sizeof(expected), "%u %u %s\n", (unsigned) pw->pw_uid, (unsigned) pw->pw_gid,
                 pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
        agent_call(513, "nobody:echo $(id -u) $(id -g) $HOME", "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, expected);
        call_result_done(&r);

        agent_call(514, "root:id -u; id -G", "", &r);
        ck_assert_int_eq(r.exit_code, 0);
        ck_assert_str_eq(r.out, "0\n0\n");     /* root's groups from the group file, no leftovers */
        call_result_done(&r);

        /* A user the domain does not have: refused, nothing runs. */
        agent_call(515, "odysseynosuchuser:echo ran; id -u", "", &r);
        ck_assert_int_eq(r.exit_code, QREXEC_EXIT_PROBLEM);
        ck_assert_str_eq(r.out, "");
        ck_assert_ptr_nonnull(strstr(r.err, "cannot run as user odysseynosuchuser: no such user"));
        call_result_done(&r);
}
END_TEST

/* With --switch-users the child switches and execs after the fork: its
 * refusal must still be the answer, with and without -p, as it is for
 * the posix_spawn path (125 refused, 127 nothing to exec). */
START_TEST(test_switch_users_refusal_codes) {
        struct passwd *pw = getpwnam("nobody");
        char dir[] = "/tmp/test-qrexec-agent-nobody.XXXXXX", marker[64], cmdline[256], path[PATH_MAX * 2],
             expected[16], *text;
        struct call_result r;
        int fd;

        ck_assert_ptr_nonnull(pw);
        agent_add_service("test.BadInterpreter", "#!/nonexistent/odyssey-interpreter\n");
        agent_add_service("test.RootOnly", "#!/bin/sh\necho never\n");
        snprintf(path, sizeof(path), "%s/test.RootOnly", agent_service_dir);
        ck_assert_int_eq(chmod(path, 0700), 0);

        /* A user the domain does not have. */
        ck_assert_int_eq(just_exec_code(530, "odysseynosuchuser:true"), QREXEC_EXIT_PROBLEM);
        ck_assert_int_eq(just_exec_code(531, "odysseynosuchuser:QUBESRPC test.BadInterpreter work"),
                         QREXEC_EXIT_PROBLEM);

        /* Nothing to exec (the interpreter is missing): 127 both ways. */
        expect_code_both_ways(532, "root:QUBESRPC test.BadInterpreter work", QREXEC_EXIT_SERVICE_NOT_FOUND);

        /* An exec the user may not do: 125 both ways. */
        expect_code_both_ways(534, "nobody:QUBESRPC test.RootOnly work", QREXEC_EXIT_PROBLEM);

        /* A good command still runs, as its user: 0 at once, then its effect. */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0777), 0);
        snprintf(marker, sizeof(marker), "%s/uid", dir);
        snprintf(cmdline, sizeof(cmdline), "nobody:id -u > %s.new && mv %s.new %s", marker, marker, marker);
        ck_assert_int_eq(just_exec_code(536, cmdline), 0);
        for (int i = 0; i < 3000 && access(marker, F_OK) < 0; i++)
                usleep(10000);
        fd = open(marker, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        text = calloc(1, 32);
        ck_assert_ptr_nonnull(text);
        ck_assert_int_gt(read(fd, text, 31), 0);
        close(fd);
        snprintf(expected, sizeof(expected), "%u\n", (unsigned) pw->pw_uid);
        ck_assert_str_eq(text, expected);
        free(text);
        ck_assert_int_eq(unlink(marker), 0);
        ck_assert_int_eq(rmdir(dir), 0);

        agent_call(537, "nobody:echo ran; exit 3", "", &r);
        ck_assert_int_eq(r.exit_code, 3);
        ck_assert_str_eq(r.out, "ran\n");
        call_result_done(&r);
}
END_TEST

static Suite *agent_suite(void) {
        Suite *s = suite_create("qrexec-agent");
        TCase *tc = tcase_create("qrexec-agent");

        tcase_add_checked_fixture(tc, agent_setup, agent_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_service_output_exit_and_environment);
        tcase_add_test(tc, test_specific_service_before_generic);
        tcase_add_test(tc, test_missing_service_and_bad_requests);
        tcase_add_test(tc, test_plain_command);
        tcase_add_test(tc, test_just_exec);
        tcase_add_test(tc, test_many_calls_at_once);
        tcase_add_test(tc, test_hostile_data_peer);
        tcase_add_test(tc, test_core_services);
        suite_add_tcase(s, tc);

        if (geteuid() == 0) {   /* switching users needs root */
                tc = tcase_create("switch-users");
                tcase_add_checked_fixture(tc, switching_agent_setup, switching_agent_teardown);
                tcase_set_timeout(tc, 120);
                tcase_add_test(tc, test_switch_users);
                tcase_add_test(tc, test_switch_users_refusal_codes);
                suite_add_tcase(s, tc);
        }
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(agent_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
