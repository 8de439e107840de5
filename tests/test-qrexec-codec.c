/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qrexec codec against the byte layout of Qubes' structs
 * (shared/reference/qrexec.md §2.3): expected messages are written out by
 * hand here, byte by byte, not produced by the encoder under test; then
 * decoded back, and the protocol version negotiated.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "qrexec.h"
#include "test-qrexec-helpers.h"
#include "util.h"

/* --- exact bytes ------------------------------------------------------ */

START_TEST(test_hello_bytes) {
        static const uint8_t expected[] = { 0x00, 0x03, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
                                            0x04, 0x00, 0x00, 0x00 };
        uint8_t buf[64];
        struct qrexec_hdr h;
        uint32_t version = 0;

        ck_assert_int_eq(qrexec_encode_hello(buf, sizeof(buf), 4), 12);
        ck_assert_mem_eq(buf, expected, sizeof(expected));

        qrexec_decode_header(expected, &h);
        ck_assert_uint_eq(h.type, QREXEC_MSG_HELLO);
        ck_assert_uint_eq(h.len, 4);
        for (int s = QREXEC_STREAM_FROM_AGENT; s <= QREXEC_STREAM_DATA; s++)
                ck_assert_int_eq(qrexec_check_header(&h, (enum qrexec_stream) s, 0), 0);
        ck_assert_int_eq(qrexec_decode_hello(expected + 8, 4, &version), 0);
        ck_assert_uint_eq(version, 4);

        /* v2 agent hello, as sent by R3.0-R4.0 */
        ck_assert_int_eq(qrexec_encode_hello(buf, 12, 2), 12);
        ck_assert_uint_eq(buf[8], 2);
        ck_assert_int_eq(qrexec_encode_hello(buf, 11, 2), -ENOBUFS);
}
END_TEST

START_TEST(test_negotiate) {
        ck_assert_int_eq(qrexec_negotiate(4, 4), 4);
        ck_assert_int_eq(qrexec_negotiate(4, 3), 3);
        ck_assert_int_eq(qrexec_negotiate(4, 2), 2);
        ck_assert_int_eq(qrexec_negotiate(4, 99), 4);
        ck_assert_int_eq(qrexec_negotiate(3, 4), 3);    /* dom0 local clients speak 3 */
        ck_assert_int_eq(qrexec_negotiate(4, 1), -EPROTONOSUPPORT);
        ck_assert_int_eq(qrexec_negotiate(4, 0), -EPROTONOSUPPORT);
        ck_assert_int_eq(qrexec_negotiate(0, 4), -EINVAL);
        ck_assert_int_eq(qrexec_negotiate(5, 4), -EINVAL);
}
END_TEST

START_TEST(test_exec_bytes_and_round_trip) {
        static const char cmd[] = "user:QUBESRPC qubes.Echo+ dom1";
        uint8_t expected[8 + 8 + sizeof(cmd)] = {
                0x00, 0x02, 0x00, 0x00, 8 + sizeof(cmd), 0x00, 0x00, 0x00,     /* EXEC_CMDLINE, len */
                0x05, 0x00, 0x00, 0x00,                                         /* connect_domain 5 */
                0x01, 0x02, 0x00, 0x00,                                         /* connect_port 513 */
        };
        memcpy(expected + 16, cmd, sizeof(cmd));
        uint8_t buf[128];
        struct qrexec_hdr h;
        struct qrexec_exec e;

        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_EXEC_CMDLINE, 5, 513, cmd),
                         (int) sizeof(expected));
        ck_assert_mem_eq(buf, expected, sizeof(expected));

        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_DAEMON, 4), 0);
        ck_assert_int_eq(qrexec_decode_exec(&h, buf + 8, &e), 0);
        ck_assert_uint_eq(e.type, QREXEC_MSG_EXEC_CMDLINE);
        ck_assert_uint_eq(e.connect_domain, 5);
        ck_assert_uint_eq(e.connect_port, 513);
        ck_assert_str_eq(e.cmdline, cmd);

        /* JUST_EXEC differs only in the type; highest data port 768 */
        ck_assert_int_gt(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_JUST_EXEC, 0, 768, "root:true"), 0);
        ck_assert_mem_eq(buf, ((const uint8_t[]) { 0x01, 0x02, 0x00, 0x00, 18, 0, 0, 0, 0, 0, 0, 0,
                                                    0x00, 0x03, 0x00, 0x00 }), 16);
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_decode_exec(&h, buf + 8, &e), 0);
        ck_assert_uint_eq(e.type, QREXEC_MSG_JUST_EXEC);
        ck_assert_uint_eq(e.connect_port, 768);
        ck_assert_str_eq(e.cmdline, "root:true");
}
END_TEST

START_TEST(test_service_connect_and_refused_bytes) {
        uint8_t expected[8 + 40] = {
                0x02, 0x02, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
                0x2a, 0x00, 0x00, 0x00,         /* domain 42 */
                0x02, 0x02, 0x00, 0x00,         /* port 514 */
                'S', 'O', 'C', 'K', 'E', 'T', '7',      /* then NUL padding to 32 */
        };
        uint8_t buf[64];
        struct qrexec_hdr h;
        struct qrexec_exec e;
        char ident[QREXEC_IDENT_SIZE];

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(qrexec_encode_service_connect(buf, sizeof(buf), 42, 514, "SOCKET7"), 48);
        ck_assert_mem_eq(buf, expected, sizeof(expected));
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_DAEMON, 3), 0);
        ck_assert_int_eq(qrexec_decode_exec(&h, buf + 8, &e), 0);
        ck_assert_uint_eq(e.type, QREXEC_MSG_SERVICE_CONNECT);
        ck_assert_uint_eq(e.connect_domain, 42);
        ck_assert_uint_eq(e.connect_port, 514);
        ck_assert_ptr_null(e.cmdline);
        ck_assert_str_eq(e.ident, "SOCKET7");

        static const uint8_t refused[8 + 32] = { 0x03, 0x02, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
                                                 'S', 'O', 'C', 'K', 'E', 'T', '1', '2' };
        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(qrexec_encode_service_refused(buf, sizeof(buf), "SOCKET12"), 40);
        ck_assert_mem_eq(buf, refused, sizeof(refused));
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_DAEMON, 4), 0);
        ck_assert_int_eq(qrexec_decode_service_refused(buf + 8, 32, ident), 0);
        ck_assert_str_eq(ident, "SOCKET12");
}
END_TEST

START_TEST(test_trigger3_bytes) {
        static const char name[] = "qubes.Filecopy+";
        uint8_t expected[8 + 96 + sizeof(name)] = { 0x12, 0x02, 0x00, 0x00, 96 + sizeof(name), 0, 0, 0 };
        memcpy(expected + 8, "@dispvm:work", 12);               /* target_domain[64] @0 */
        memcpy(expected + 8 + 64, "SOCKET3", 7);                /* request_id[32] @64 */
        memcpy(expected + 8 + 96, name, sizeof(name));          /* name @96 */
        uint8_t buf[256];
        struct qrexec_hdr h;
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(qrexec_encode_trigger3(buf, sizeof(buf), "@dispvm:work", "SOCKET3", name),
                         (int) sizeof(expected));
        ck_assert_mem_eq(buf, expected, sizeof(expected));

        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_AGENT, 3), 0);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_AGENT, 4), 0);
        ck_assert_int_eq(qrexec_decode_trigger(&h, buf + 8, 3, t), 0);
        ck_assert_uint_eq(t->type, QREXEC_MSG_TRIGGER_SERVICE3);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->source_domain, "");
        ck_assert_str_eq(t->target_domain, "@dispvm:work");
        ck_assert_str_eq(t->ident, "SOCKET3");
        ck_assert_str_eq(t->service, name);
}
END_TEST

START_TEST(test_trigger4_bytes) {
        static const char name[] = "qubes.Gpg+--list";
        uint8_t expected[8 + 160 + sizeof(name)] = { 0x13, 0x02, 0x00, 0x00, 160 + sizeof(name), 0, 0, 0 };
        memcpy(expected + 8, "relay-src", 9);                   /* source_domain[64] @0 */
        memcpy(expected + 8 + 64, "vault", 5);                  /* target_domain[64] @64 */
        memcpy(expected + 8 + 128, "SOCKET", 6);                /* request_id[32] @128 */
        memcpy(expected + 8 + 160, name, sizeof(name));         /* name @160 */
        uint8_t buf[256];
        struct qrexec_hdr h;
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), "relay-src", "vault", "SOCKET", name),
                         (int) sizeof(expected));
        ck_assert_mem_eq(buf, expected, sizeof(expected));

        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_AGENT, 4), 0);
        ck_assert_int_eq(qrexec_decode_trigger(&h, buf + 8, 4, t), 0);
        ck_assert_uint_eq(t->type, QREXEC_MSG_TRIGGER_SERVICE4);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->source_domain, "relay-src");
        ck_assert_str_eq(t->target_domain, "vault");
        ck_assert_str_eq(t->ident, "SOCKET");
        ck_assert_str_eq(t->service, name);

        /* NULL source: not relaying, the field is all NUL */
        ck_assert_int_gt(qrexec_encode_trigger4(buf, sizeof(buf), NULL, "vault", "SOCKET", name), 0);
        for (int i = 0; i < 64; i++)
                ck_assert_uint_eq(buf[8 + i], 0);
}
END_TEST

START_TEST(test_trigger2_decode) {
        uint8_t p[128] = { 0 };
        memcpy(p, "qubes.VMShell+arg", 17);             /* service_name[64] @0 */
        memcpy(p + 64, "dom0", 4);                      /* target_domain[32] @64 */
        memcpy(p + 96, "SOCKET9", 7);                   /* request_id[32] @96 */
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();

        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE, 128, QREXEC_STREAM_FROM_AGENT, 2));
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p, 128, 2, t), 0);
        ck_assert_uint_eq(t->type, QREXEC_MSG_TRIGGER_SERVICE);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->service, "qubes.VMShell+arg");
        ck_assert_str_eq(t->target_domain, "dom0");
        ck_assert_str_eq(t->source_domain, "");
        ck_assert_str_eq(t->ident, "SOCKET9");

        /* fixed fields without NUL: the last byte is forced to NUL */
        memset(p, 's', 64);
        memset(p + 64, 'd', 32);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p, 128, 2, t), 0);
        ck_assert(!t->refuse);
        ck_assert_uint_eq(strlen(t->service), 63);
        ck_assert_uint_eq(strlen(t->target_domain), 31);
}
END_TEST

START_TEST(test_connection_terminated_bytes) {
        static const uint8_t expected[] = { 0x11, 0x02, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
                                            0x07, 0x00, 0x00, 0x00, 0x03, 0x02, 0x00, 0x00 };
        uint8_t buf[16];
        struct qrexec_hdr h;
        uint32_t domain = 0, port = 0;

        ck_assert_int_eq(qrexec_encode_connection_terminated(buf, sizeof(buf), 7, 515), 16);
        ck_assert_mem_eq(buf, expected, sizeof(expected));
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_FROM_AGENT, 2), 0);
        ck_assert_int_eq(qrexec_decode_connection_terminated(buf + 8, 8, &domain, &port), 0);
        ck_assert_uint_eq(domain, 7);
        ck_assert_uint_eq(port, 515);
        ck_assert_int_eq(qrexec_encode_connection_terminated(buf, 15, 7, 515), -ENOBUFS);
}
END_TEST

START_TEST(test_data_and_exit_code_bytes) {
        static const uint8_t stdout_msg[] = { 0x91, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 'a', 'b', 'c' };
        static const uint8_t stdin_eof[] = { 0x90, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
        static const uint8_t exit_127[] = { 0x93, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
                                            0x7f, 0x00, 0x00, 0x00 };
        static const uint8_t exit_minus1[] = { 0x93, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
                                               0xff, 0xff, 0xff, 0xff };
        uint8_t buf[32];
        struct qrexec_hdr h;
        int32_t code = 0;

        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDOUT, "abc", 3), 11);
        ck_assert_mem_eq(buf, stdout_msg, sizeof(stdout_msg));
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_DATA, 2), 0);

        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDIN, NULL, 0), 8);
        ck_assert_mem_eq(buf, stdin_eof, sizeof(stdin_eof));
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDERR, "x", 1), 9);
        ck_assert_uint_eq(buf[0], 0x92);

        ck_assert_int_eq(qrexec_encode_exit_code(buf, sizeof(buf), QREXEC_EXIT_SERVICE_NOT_FOUND), 12);
        ck_assert_mem_eq(buf, exit_127, sizeof(exit_127));
        qrexec_decode_header(buf, &h);
        ck_assert_int_eq(qrexec_check_header(&h, QREXEC_STREAM_DATA, 4), 0);
        ck_assert_int_eq(qrexec_decode_exit_code(buf + 8, 4, &code), 0);
        ck_assert_int_eq(code, 127);

        ck_assert_int_eq(qrexec_encode_exit_code(buf, sizeof(buf), -1), 12);
        ck_assert_mem_eq(buf, exit_minus1, sizeof(exit_minus1));
        ck_assert_int_eq(qrexec_decode_exit_code(buf + 8, 4, &code), 0);
        ck_assert_int_eq(code, -1);
}
END_TEST

START_TEST(test_type_names) {
        ck_assert_str_eq(qrexec_msg_type_to_string(0x190), "MSG_DATA_STDIN");
        ck_assert_str_eq(qrexec_msg_type_to_string(0x193), "MSG_DATA_EXIT_CODE");
        ck_assert_str_eq(qrexec_msg_type_to_string(0x202), "MSG_SERVICE_CONNECT");
        ck_assert_str_eq(qrexec_msg_type_to_string(0x211), "MSG_CONNECTION_TERMINATED");
        ck_assert_str_eq(qrexec_msg_type_to_string(0x213), "MSG_TRIGGER_SERVICE4");
        ck_assert_str_eq(qrexec_msg_type_to_string(0x300), "MSG_HELLO");
        ck_assert_ptr_null(qrexec_msg_type_to_string(0x214));
        ck_assert_ptr_null(qrexec_msg_type_to_string(0));
}
END_TEST

static Suite *make_suite(void) {
        Suite *s = suite_create("qrexec-codec");
        TCase *tc = tcase_create("bytes");
        tcase_add_test(tc, test_hello_bytes);
        tcase_add_test(tc, test_negotiate);
        tcase_add_test(tc, test_exec_bytes_and_round_trip);
        tcase_add_test(tc, test_service_connect_and_refused_bytes);
        tcase_add_test(tc, test_trigger3_bytes);
        tcase_add_test(tc, test_trigger4_bytes);
        tcase_add_test(tc, test_trigger2_decode);
        tcase_add_test(tc, test_connection_terminated_bytes);
        tcase_add_test(tc, test_data_and_exit_code_bytes);
        tcase_add_test(tc, test_type_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(make_suite());
}
