/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-client-vm through a real qrexec-agent, the test playing the admin
 * side (as busd + policyd do) and the target domain's service end:
 *   - the request arrives as TRIGGER_SERVICE3 {target, SERVICE+ARG,
 *     ident SOCKET<n>}, '$' read as '@';
 *   - SERVICE_CONNECT: qrexec-client-vm serves the data vchan towards the
 *     target, the service's output and exit code come back to the caller,
 *     in plain and LOCAL_PROG modes; CONNECTION_TERMINATED follows;
 *   - SERVICE_REFUSED: exit 126, "Request refused";
 *   - the file copy chain: qfile-agent as LOCAL_PROG, qfile-unpacker at the
 *     target.
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"
#include "qrexec-stream.h"

#define TARGET_DOMID 7
#define DATA_PORT 600

/* Start qrexec-client-vm as a process of domain 5 with the extra args. */
static pid_t start_client_vm(char *const extra[], int in_fd, int out_fd, int err_fd) {
        char socket_opt[PATH_MAX + 32];
        char *argv[16] = { (char *) AGENTS_BINDIR "/qrexec-client-vm", socket_opt };
        size_t n = 2;

        snprintf(socket_opt, sizeof(socket_opt), "--agent-socket=%s", agent_trigger);
        for (size_t i = 0; extra[i]; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        setenv("VCHAN_DOMAIN", "5", 1);
        setenv("VCHAN_SOCKET_DIR", agent_vchan_dir, 1);
        return spawn_with_stdio(argv, in_fd, out_fd, err_fd);
}

/* The trigger the agent forwards; its ident in ret_ident. */
static void expect_trigger(const char *target, const char *service, char ret_ident[QREXEC_IDENT_SIZE]) {
        struct qrexec_trigger *trig = malloc(sizeof(*trig));
        struct qrexec_hdr hdr;
        uint8_t *payload = agent_recv(&hdr);

        ck_assert_ptr_nonnull(trig);
        ck_assert_uint_eq(hdr.type, QREXEC_MSG_TRIGGER_SERVICE3);
        ck_assert_int_eq(qrexec_decode_trigger(&hdr, payload, QREXEC_PROTOCOL_VERSION, trig), 0);
        ck_assert(!trig->refuse);
        ck_assert_str_eq(trig->target_domain, target);
        ck_assert_str_eq(trig->service, service);
        ck_assert_int_eq(strncmp(trig->ident, "SOCKET", 6), 0);
        ck_assert(trig->ident[6] >= '0' && trig->ident[6] <= '9');
        memcpy(ret_ident, trig->ident, QREXEC_IDENT_SIZE);
        free(payload);
        free(trig);
}

static void send_service_connect(const char *ident) {
        uint8_t msg[QREXEC_HEADER_SIZE + 8 + QREXEC_IDENT_SIZE];
        int n = qrexec_encode_service_connect(msg, sizeof(msg), TARGET_DOMID, DATA_PORT, ident);

        ck_assert_int_eq(n, (int) sizeof(msg));
        agent_send_raw(msg, sizeof(msg));
}

/* Be the target's agent: connect to the caller's vchan and serve it with
 * `sh -c script`. */
static void serve_as_target(const char *script) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = TARGET_DOMID, .remote_domid = AGENT_DOMID,
                .port = DATA_PORT, .socket_dir = agent_vchan_dir,
        };
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) script, NULL };
        int in[2], out[2], err[2];
        struct vchan *v = NULL;
        uint32_t version;
        pid_t service;

        ck_assert_int_eq(vchan_client_init(&ep, 30000, &v), 0);
        ck_assert_int_eq(qrexec_stream_handshake(v, 30000, &version), 0);
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        service = spawn_with_stdio(argv, in[0], out[1], err[1]);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        ck_assert_int_eq(qrexec_stream_run_service(v, version, in[1], out[0], err[0], service), 0);
        vchan_close(v);
}

START_TEST(test_call_connected) {
        char *extra[] = { (char *) "-p", (char *) "pre:", (char *) "--buffer-size=8192", (char *) "target-vm",
                          (char *) "test.Svc+arg", NULL };
        char ident[QREXEC_IDENT_SIZE], *out, *err;
        int in_fd = memfd_with("ping\n"), out_fd = memfd_with(NULL), err_fd = memfd_with(NULL);
        pid_t client = start_client_vm(extra, in_fd, out_fd, err_fd);

        expect_trigger("target-vm", "test.Svc+arg", ident);
        send_service_connect(ident);
        serve_as_target("read x; echo \"got $x\"; echo note >&2; exit 42");
        ck_assert_int_eq(wait_exit_code(client), 42);
        /* Its trigger connection closed with it: the agent reports the end. */
        agent_expect_terminated(TARGET_DOMID, DATA_PORT);
        out = memfd_text(out_fd);
        err = memfd_text(err_fd);
        ck_assert_str_eq(out, "got pre:ping\n");     /* -p: sent before stdin */
        ck_assert_str_eq(err, "note\n");
        free(out);
        free(err);
        close(in_fd);
        close(out_fd);
        close(err_fd);
}
END_TEST

/* LOCAL_PROG: the program talks to the service; our stdio is not used. */
START_TEST(test_call_local_program) {
        char result[PATH_MAX + 16], script[2 * PATH_MAX], *text;
        char ident[QREXEC_IDENT_SIZE];
        char *extra[] = { (char *) "target-vm", (char *) "test.Svc", (char *) "/bin/sh", (char *) "-c", script, NULL };
        int in_fd = memfd_with("not for the service\n"), out_fd = memfd_with(NULL), err_fd = memfd_with(NULL);
        pid_t client;
        FILE *f;

        snprintf(result, sizeof(result), "%s/local-result", agent_dir);
        snprintf(script, sizeof(script), "echo hello; read answer; echo \"$answer\" > '%s'", result);
        client = start_client_vm(extra, in_fd, out_fd, err_fd);
        expect_trigger("target-vm", "test.Svc", ident);
        send_service_connect(ident);
        serve_as_target("read x; echo \"reply to $x\"; exit 5");
        ck_assert_int_eq(wait_exit_code(client), 5);
        agent_expect_terminated(TARGET_DOMID, DATA_PORT);

        f = fopen(result, "re");
        ck_assert_ptr_nonnull(f);
        text = calloc(1, 64);
        ck_assert_ptr_nonnull(fgets(text, 64, f));
        fclose(f);
        ck_assert_str_eq(text, "reply to hello\n");
        free(text);
        text = memfd_text(out_fd);
        ck_assert_str_eq(text, "");
        free(text);
        close(in_fd);
        close(out_fd);
        close(err_fd);
}
END_TEST

START_TEST(test_call_refused) {
        char *extra[] = { (char *) "$dispvm:work", (char *) "test.Svc", NULL };
        uint8_t msg[QREXEC_HEADER_SIZE + QREXEC_IDENT_SIZE];
        char ident[QREXEC_IDENT_SIZE], *err;
        int in_fd = memfd_with(NULL), out_fd = memfd_with(NULL), err_fd = memfd_with(NULL);
        pid_t client = start_client_vm(extra, in_fd, out_fd, err_fd);
        int n;

        expect_trigger("@dispvm:work", "test.Svc", ident);
        n = qrexec_encode_service_refused(msg, sizeof(msg), ident);
        ck_assert_int_eq(n, (int) sizeof(msg));
        agent_send_raw(msg, sizeof(msg));
        ck_assert_int_eq(wait_exit_code(client), QREXEC_EXIT_REQUEST_REFUSED);
        err = memfd_text(err_fd);
        ck_assert_str_eq(err, "Request refused\n");
        free(err);
        close(in_fd);
        close(out_fd);
        close(err_fd);
}
END_TEST

START_TEST(test_usage_and_no_agent) {
        char *usage[] = { (char *) "only-target", NULL };
        char *bad[] = { (char *) "vm", (char *) "+arg-only", NULL };
        char *no_agent[] = { (char *) AGENTS_BINDIR "/qrexec-client-vm", (char *) "--agent-socket=/nonexistent/sock",
                             (char *) "vm", (char *) "test.Svc", NULL };
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        ck_assert_int_ge(null_fd, 0);
        ck_assert_int_eq(wait_exit_code(start_client_vm(usage, null_fd, null_fd, null_fd)), 2);
        ck_assert_int_eq(wait_exit_code(start_client_vm(bad, null_fd, null_fd, null_fd)), 2);
        ck_assert_int_eq(wait_exit_code(spawn_with_stdio(no_agent, null_fd, null_fd, null_fd)),
                         QREXEC_EXIT_PROBLEM);
        close(null_fd);
}
END_TEST

/* qvm-copy-to-vm's chain: qrexec-client-vm with qfile-agent as LOCAL_PROG,
 * the target running qfile-unpacker. */
START_TEST(test_file_copy_chain) {
        char src[PATH_MAX + 16], incoming[PATH_MAX + 16], script[3 * PATH_MAX], cmd[4 * PATH_MAX];
        char ident[QREXEC_IDENT_SIZE];
        char *extra[] = { (char *) "target-vm", (char *) "qubes.Filecopy", (char *) AGENTS_BINDIR "/qfile-agent",
                          src, NULL };
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        pid_t client;

        snprintf(src, sizeof(src), "%s/docs", agent_dir);
        snprintf(incoming, sizeof(incoming), "%s/incoming", agent_dir);
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/sub' && echo one > '%s/a b' && head -c 300000 /dev/urandom > '%s/sub/bin'",
                 src, src, src);
        ck_assert_int_eq(system(cmd), 0);
        client = start_client_vm(extra, null_fd, null_fd, null_fd);
        expect_trigger("target-vm", "qubes.Filecopy", ident);
        send_service_connect(ident);
        snprintf(script, sizeof(script), "exec '%s/qfile-unpacker' '%s'", AGENTS_BINDIR, incoming);
        serve_as_target(script);
        ck_assert_int_eq(wait_exit_code(client), 0);
        agent_expect_terminated(TARGET_DOMID, DATA_PORT);
        snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s/docs'", src, incoming);
        ck_assert_int_eq(system(cmd), 0);
        close(null_fd);
}
END_TEST

static Suite *client_vm_suite(void) {
        Suite *s = suite_create("qrexec-client-vm");
        TCase *tc = tcase_create("qrexec-client-vm");

        tcase_add_checked_fixture(tc, agent_setup, agent_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_call_connected);
        tcase_add_test(tc, test_call_local_program);
        tcase_add_test(tc, test_call_refused);
        tcase_add_test(tc, test_usage_and_no_agent);
        tcase_add_test(tc, test_file_copy_chain);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(client_vm_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
