/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qrexec data phase (protocol/qrexec-stream.h) between two processes
 * over a real socket vchan: both real ends together (stdin, stdout, stderr,
 * exit codes, large transfers, -t, prefix data), the service end's message
 * order seen raw, and hostile peers on either side (oversize chunk, unknown
 * type, wrong direction, short EXIT_CODE, vanishing).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-helpers.h"
#include "qrexec-stream.h"
#include "qrexec.h"
#include "vchan.h"

static char dir[64];

static void setup(void) {
        strcpy(dir, "/tmp/test-qrexec-stream.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* The server end (domain 0 here) in this process, the client end in a child. */
static struct vchan *server(void) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = 1, .port = 513, .socket_dir = dir,
        };
        struct vchan *v = NULL;

        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), 0);
        return v;
}

static struct vchan *client_or_exit(void) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 1, .remote_domid = 0, .port = 513, .socket_dir = dir,
        };
        struct vchan *v = NULL;

        if (vchan_client_init(&ep, 20000, &v) < 0)
                _exit(100);
        return v;
}

static int wait_exit(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* The service end in a child process: handshake, spawn `sh -c script`, run. */
static pid_t spawn_service_end(const char *script) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int in[2], out[2], err[2];
                struct vchan *v = client_or_exit();
                uint32_t version;
                pid_t child;

                if (qrexec_stream_handshake(v, 20000, &version) < 0)
                        _exit(101);
                if (!script) {
                        vchan_close(v);
                        _exit(0);
                }
                if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                        _exit(102);
                child = fork();
                if (child < 0)
                        _exit(103);
                if (child == 0) {
                        dup2(in[0], 0);
                        dup2(out[1], 1);
                        dup2(err[1], 2);
                        execl("/bin/sh", "sh", "-c", script, (char *) NULL);
                        _exit(127);
                }
                close(in[0]);
                close(out[1]);
                close(err[1]);
                int r = qrexec_stream_run_service(v, version, in[1], out[0], err[0], child);
                vchan_close(v);
                _exit(r == 0 ? 0 : r == -EBADMSG ? 90 : r == -EPIPE ? 91 : 99);
        }
        return pid;
}

static int tmpfile_with(const void *data, size_t n) {
        char path[128];
        int fd;

        snprintf(path, sizeof(path), "%s/file.XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        unlink(path);
        if (n > 0)
                ck_assert_int_eq(write(fd, data, n), (ssize_t) n);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

/* Everything in a file (fd kept open by the caller's dup). */
static char *slurp(int fd, size_t *ret_len) {
        struct stat st;
        char *buf;

        ck_assert_int_eq(fstat(fd, &st), 0);
        buf = calloc(1, (size_t) st.st_size + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(pread(fd, buf, (size_t) st.st_size, 0), st.st_size);
        *ret_len = (size_t) st.st_size;
        return buf;
}

/* Runs the client end in this process against `script`; returns its result. */
static int call(const char *script, const void *in, size_t in_len, const struct qrexec_client_options *opts,
                char **ret_out, size_t *ret_out_len, char **ret_err) {
        struct vchan *v = server();
        pid_t pid = spawn_service_end(script);
        int out = tmpfile_with(NULL, 0), err = tmpfile_with(NULL, 0);
        uint32_t version;
        size_t len;
        int r;

        ck_assert_int_eq(qrexec_stream_handshake(v, 20000, &version), 0);
        ck_assert_int_eq(version, QREXEC_PROTOCOL_VERSION);
        r = qrexec_stream_run_client(v, version, tmpfile_with(in, in_len), dup(out), dup(err), opts);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 0);
        *ret_out = slurp(out, ret_out_len);
        *ret_err = slurp(err, &len);
        close(out);
        close(err);
        return r;
}

START_TEST(test_stdin_stdout_stderr_exit_code) {
        char *out, *err;
        size_t len;

        ck_assert_int_eq(call("cat; printf oops >&2; exit 3", "hello\n", 6, NULL, &out, &len, &err), 3);
        ck_assert_str_eq(out, "hello\n");
        ck_assert_str_eq(err, "oops");
        free(out);
        free(err);

        /* No input at all, exit 0, output without a newline. */
        ck_assert_int_eq(call("printf x", NULL, 0, NULL, &out, &len, &err), 0);
        ck_assert_str_eq(out, "x");
        ck_assert_str_eq(err, "");
        free(out);
        free(err);

        /* A service killed by a signal reports 128 + N. */
        ck_assert_int_eq(call("kill -TERM $$", NULL, 0, NULL, &out, &len, &err), 128 + SIGTERM);
        free(out);
        free(err);
}
END_TEST

START_TEST(test_large_transfer_both_ways) {
        size_t n = 8u << 20, len;
        char *in = malloc(n), *out, *err;

        ck_assert_ptr_nonnull(in);
        for (size_t i = 0; i < n; i++)
                in[i] = (char) (i * 7 + (i >> 12));
        ck_assert_int_eq(call("cat", in, n, NULL, &out, &len, &err), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(in, out, n) == 0);
        free(in);
        free(out);
        free(err);
}
END_TEST

START_TEST(test_service_exits_before_reading_stdin) {
        size_t n = 4u << 20, len;
        char *in = calloc(1, n), *out, *err;

        /* The client still has megabytes to send: it must not hang. */
        ck_assert_int_eq(call("echo done; exit 5", in, n, NULL, &out, &len, &err), 5);
        ck_assert_str_eq(out, "done\n");
        free(in);
        free(out);
        free(err);
}
END_TEST

START_TEST(test_replace_escapes_and_prefix) {
        struct qrexec_client_options opts = {
                .replace_escapes_stdout = true,
                .prefix_data = "pre:",
                .prefix_len = 4,
        };
        char *out, *err;
        size_t len;

        ck_assert_int_eq(call("cat; printf '\\001a\\033b\\tc\\n\\377' >&2", "x", 1, &opts, &out, &len, &err), 0);
        ck_assert_str_eq(out, "pre:x");
        /* -T was not asked: stderr untouched. */
        ck_assert_str_eq(err, "\001a\033b\tc\n\377");
        free(out);
        free(err);

        opts = (struct qrexec_client_options) { .replace_escapes_stderr = true };
        ck_assert_int_eq(call("printf '\\001a\\033b\\tc\\n\\377' >&2", NULL, 0, &opts, &out, &len, &err), 0);
        ck_assert_str_eq(err, "_a_b\tc\n_");
        free(out);
        free(err);
}
END_TEST

/* --- raw peers --- */

/* Header and payload in one packet: a peer that drops us after the header
 * cannot make this fail halfway. */
static void raw_send(struct vchan *v, uint32_t type, const void *data, uint32_t len) {
        uint8_t msg[8 + 64];

        ck_assert_uint_le(len, 64);
        memcpy(msg, &type, 4);
        memcpy(msg + 4, &len, 4);
        if (len > 0)
                memcpy(msg + 8, data, len);
        ck_assert_int_eq(vchan_send(v, msg, 8 + len), (ssize_t) (8 + len));
}

static int raw_recv(struct vchan *v, uint32_t *type, void *buf, size_t size) {
        uint8_t hdr[8];
        uint32_t len;

        if (vchan_recv(v, hdr, 8) != 8)
                return -1;
        memcpy(type, hdr, 4);
        memcpy(&len, hdr + 4, 4);
        ck_assert_uint_le(len, size);
        if (len > 0)
                ck_assert_int_eq(vchan_recv(v, buf, len), (ssize_t) len);
        return (int) len;
}

static void raw_hello(struct vchan *v, uint32_t version) {
        uint32_t type, theirs;

        raw_send(v, QREXEC_MSG_HELLO, &version, 4);
        ck_assert_int_eq(raw_recv(v, &type, &theirs, 4), 4);
        ck_assert_uint_eq(type, QREXEC_MSG_HELLO);
        ck_assert_uint_eq(theirs, QREXEC_PROTOCOL_VERSION);
}

START_TEST(test_service_end_message_order) {
        struct vchan *v = server();
        pid_t pid = spawn_service_end("printf out; printf err >&2; exit 7");
        uint32_t types[16], type;
        uint8_t buf[65536];
        int n = 0, len, code;

        raw_hello(v, 3);
        raw_send(v, QREXEC_MSG_DATA_STDIN, NULL, 0);
        while (n < 16 && (len = raw_recv(v, &type, buf, sizeof(buf))) >= 0) {
                types[n++] = type;
                if (type == QREXEC_MSG_DATA_EXIT_CODE) {
                        ck_assert_int_eq(len, 4);
                        memcpy(&code, buf, 4);
                        ck_assert_int_eq(code, 7);
                        break;
                }
        }
        ck_assert_int_ge(n, 4);
        ck_assert_uint_eq(types[n - 1], QREXEC_MSG_DATA_EXIT_CODE);
        ck_assert_uint_eq(types[n - 2], QREXEC_MSG_DATA_STDERR);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 0);
}
END_TEST

START_TEST(test_version_2_chunks) {
        struct vchan *v = server();
        pid_t pid = spawn_service_end("head -c 100000 /dev/zero");
        uint8_t buf[65536];
        uint32_t type;
        size_t total = 0;
        int len;

        raw_hello(v, 2);
        raw_send(v, QREXEC_MSG_DATA_STDIN, NULL, 0);
        while ((len = raw_recv(v, &type, buf, sizeof(buf))) >= 0 && type != QREXEC_MSG_DATA_EXIT_CODE) {
                ck_assert_int_le(len, QREXEC_MAX_DATA_CHUNK_V2);
                if (type == QREXEC_MSG_DATA_STDOUT)
                        total += (size_t) len;
        }
        ck_assert_uint_eq(type, QREXEC_MSG_DATA_EXIT_CODE);
        ck_assert_uint_eq(total, 100000);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 0);
}
END_TEST

START_TEST(test_hostile_client_oversize_and_unknown) {
        static const uint32_t bad_types[] = { 0x190, 0x300, 0x200, 0x12345 };
        uint8_t junk[16] = {};

        for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
                struct vchan *v = server();
                pid_t pid = spawn_service_end("sleep 30");
                uint8_t hdr[8];
                uint32_t len = i == 0 ? QREXEC_MAX_DATA_CHUNK_V3 + 1 : 4;

                raw_hello(v, 4);
                memcpy(hdr, &bad_types[i], 4);
                memcpy(hdr + 4, &len, 4);
                ck_assert_int_eq(vchan_send(v, hdr, 8), 8);
                /* The service may judge the header alone and hang up first. */
                ssize_t sent = vchan_send(v, junk, sizeof(junk));
                ck_assert_msg(sent == (ssize_t) sizeof(junk) || sent == -EPIPE || sent == -ECONNRESET,
                              "send after a bad header: %zd", sent);
                /* -EBADMSG at once, without waiting for the 30 s service. */
                ck_assert_int_eq(wait_exit(pid), 90);
                vchan_close(v);
        }
}
END_TEST

START_TEST(test_client_vanishes) {
        struct vchan *v = server();
        pid_t pid = spawn_service_end("cat >/dev/null; sleep 1");

        raw_hello(v, 4);
        raw_send(v, QREXEC_MSG_DATA_STDIN, "abc", 3);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 91);
}
END_TEST

/* The client end against a raw service in a child. */
static pid_t raw_service(int scenario) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *v = client_or_exit();
                uint32_t version = 4, type;
                uint8_t buf[8];
                int32_t code = 0;

                raw_send(v, QREXEC_MSG_HELLO, &version, 4);
                if (raw_recv(v, &type, buf, sizeof(buf)) != 4)
                        _exit(102);
                switch (scenario) {
                case 0: /* wrong direction first, then a normal answer */
                        raw_send(v, QREXEC_MSG_DATA_STDIN, "zz", 2);
                        raw_send(v, QREXEC_MSG_DATA_STDOUT, "ok", 2);
                        raw_send(v, QREXEC_MSG_DATA_STDOUT, NULL, 0);
                        raw_send(v, QREXEC_MSG_DATA_STDERR, NULL, 0);
                        code = 9;
                        raw_send(v, QREXEC_MSG_DATA_EXIT_CODE, &code, 4);
                        break;
                case 1: /* a short EXIT_CODE */
                        raw_send(v, QREXEC_MSG_DATA_EXIT_CODE, &code, 2);
                        break;
                case 2: /* gone before EXIT_CODE */
                        raw_send(v, QREXEC_MSG_DATA_STDOUT, "partial", 7);
                        break;
                case 3: /* an oversize EXIT_CODE */
                        raw_send(v, QREXEC_MSG_DATA_EXIT_CODE, "12345678", 8);
                        break;
                }
                vchan_close(v);
                _exit(0);
        }
        return pid;
}

static int client_against(int scenario, char **ret_out) {
        struct vchan *v = server();
        pid_t pid = raw_service(scenario);
        int out = tmpfile_with(NULL, 0);
        uint32_t version;
        size_t len;
        int r;

        ck_assert_int_eq(qrexec_stream_handshake(v, 20000, &version), 0);
        r = qrexec_stream_run_client(v, version, -1, dup(out), -1, NULL);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 0);
        *ret_out = slurp(out, &len);
        close(out);
        return r;
}

START_TEST(test_client_end_against_odd_services) {
        char *out;

        ck_assert_int_eq(client_against(0, &out), 9);
        ck_assert_str_eq(out, "ok");
        free(out);
        ck_assert_int_eq(client_against(1, &out), 255);
        free(out);
        ck_assert_int_lt(client_against(2, &out), 0);
        ck_assert_str_eq(out, "partial");
        free(out);
        ck_assert_int_eq(client_against(3, &out), -EBADMSG);
        free(out);
}
END_TEST

START_TEST(test_refuse_and_handshake_failures) {
        struct vchan *v = server();
        pid_t pid = fork();
        uint32_t version;

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct vchan *c = client_or_exit();
                uint32_t ver;

                if (qrexec_stream_handshake(c, 20000, &ver) < 0 || qrexec_stream_refuse(c, ver, 127) < 0)
                        _exit(1);
                vchan_close(c);
                _exit(0);
        }
        ck_assert_int_eq(qrexec_stream_handshake(v, 20000, &version), 0);
        ck_assert_int_eq(qrexec_stream_run_client(v, version, -1, -1, -1, NULL), 127);
        vchan_close(v);
        ck_assert_int_eq(wait_exit(pid), 0);

        /* A peer that says version 1, or something else than HELLO. */
        for (int k = 0; k < 2; k++) {
                v = server();
                pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        struct vchan *c = client_or_exit();
                        uint32_t one = 1;

                        raw_send(c, k == 0 ? QREXEC_MSG_HELLO : QREXEC_MSG_DATA_STDOUT, &one, 4);
                        vchan_close(c);
                        _exit(0);
                }
                ck_assert_int_eq(qrexec_stream_handshake(v, 20000, &version), k == 0 ? -EPROTONOSUPPORT : -EBADMSG);
                vchan_close(v);
                ck_assert_int_eq(wait_exit(pid), 0);
        }

        /* Nobody comes: the timeout. */
        v = server();
        ck_assert_int_eq(qrexec_stream_handshake(v, 200, &version), -ETIMEDOUT);
        vchan_close(v);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("qrexec-stream");
        TCase *tc = tcase_create("stream");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_stdin_stdout_stderr_exit_code);
        tcase_add_test(tc, test_large_transfer_both_ways);
        tcase_add_test(tc, test_service_exits_before_reading_stdin);
        tcase_add_test(tc, test_replace_escapes_and_prefix);
        tcase_add_test(tc, test_service_end_message_order);
        tcase_add_test(tc, test_version_2_chunks);
        tcase_add_test(tc, test_hostile_client_oversize_and_unknown);
        tcase_add_test(tc, test_client_vanishes);
        tcase_add_test(tc, test_client_end_against_odd_services);
        tcase_add_test(tc, test_refuse_and_handshake_failures);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        return check_run_suite(suite());
}
