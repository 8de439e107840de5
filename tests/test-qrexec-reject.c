/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the qrexec codec refuses, and how: -EBADMSG where Qubes' daemon or
 * agent would drop the peer (wrong length, type, direction or version),
 * refuse=true where Qubes answers SERVICE_REFUSED, the sanitising of names,
 * and the encoders' -EINVAL / -ENOBUFS.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "qrexec.h"
#include "test-qrexec-helpers.h"
#include "util.h"

/* --- header checks ---------------------------------------------------- */

START_TEST(test_check_before_hello) {
        /* version 0: HELLO of exactly 4 bytes, nothing else */
        for (int s = QREXEC_STREAM_FROM_AGENT; s <= QREXEC_STREAM_DATA; s++) {
                ck_assert(!accepted(QREXEC_MSG_HELLO, 3, s, 0));
                ck_assert(!accepted(QREXEC_MSG_HELLO, 5, s, 0));
                ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE3, 200, s, 0));
                ck_assert(!accepted(QREXEC_MSG_DATA_STDOUT, 1, s, 0));
                ck_assert(!accepted(QREXEC_MSG_EXEC_CMDLINE, 20, s, 0));
                /* and no second HELLO once negotiated */
                ck_assert(!accepted(QREXEC_MSG_HELLO, 4, s, 3));
        }
        uint32_t v;
        ck_assert_int_eq(qrexec_decode_hello((const uint8_t *) "\4\0\0\0\0", 5, &v), -EBADMSG);
        ck_assert_int_eq(qrexec_decode_hello((const uint8_t *) "\4\0\0", 3, &v), -EBADMSG);
}
END_TEST

START_TEST(test_check_unnegotiable_version) {
        ck_assert(!accepted(QREXEC_MSG_CONNECTION_TERMINATED, 8, QREXEC_STREAM_FROM_AGENT, 1));
        ck_assert(!accepted(QREXEC_MSG_CONNECTION_TERMINATED, 8, QREXEC_STREAM_FROM_AGENT, 5));
        ck_assert(!accepted(QREXEC_MSG_DATA_STDIN, 0, QREXEC_STREAM_DATA, 1));
        ck_assert(accepted(QREXEC_MSG_DATA_STDIN, 0, QREXEC_STREAM_DATA, 2));
}
END_TEST

START_TEST(test_check_fixed_lengths) {
        static const struct {
                uint32_t type, len;
                enum qrexec_stream stream;
                uint32_t version;
        } fixed[] = {
                { QREXEC_MSG_CONNECTION_TERMINATED, 8, QREXEC_STREAM_FROM_AGENT, 4 },
                { QREXEC_MSG_TRIGGER_SERVICE, 128, QREXEC_STREAM_FROM_AGENT, 2 },
                { QREXEC_MSG_SERVICE_CONNECT, 40, QREXEC_STREAM_FROM_DAEMON, 4 },
                { QREXEC_MSG_SERVICE_REFUSED, 32, QREXEC_STREAM_FROM_DAEMON, 4 },
        };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                ck_assert(accepted(fixed[i].type, fixed[i].len, fixed[i].stream, fixed[i].version));
                ck_assert(!accepted(fixed[i].type, fixed[i].len - 1, fixed[i].stream, fixed[i].version));
                ck_assert(!accepted(fixed[i].type, fixed[i].len + 1, fixed[i].stream, fixed[i].version));
                ck_assert(!accepted(fixed[i].type, 0, fixed[i].stream, fixed[i].version));
                ck_assert(!accepted(fixed[i].type, UINT32_MAX, fixed[i].stream, fixed[i].version));
        }

        /* decoders re-check on their own */
        uint8_t zero[64] = { 0 };
        uint32_t d, p;
        char ident[QREXEC_IDENT_SIZE];
        ck_assert_int_eq(qrexec_decode_connection_terminated(zero, 7, &d, &p), -EBADMSG);
        ck_assert_int_eq(qrexec_decode_connection_terminated(zero, 9, &d, &p), -EBADMSG);
        ck_assert_int_eq(qrexec_decode_service_refused(zero, 31, ident), -EBADMSG);
        ck_assert_int_eq(qrexec_decode_service_refused(zero, 33, ident), -EBADMSG);
        struct qrexec_exec e;
        le32_store(zero + 4, 513);
        struct qrexec_hdr h = hdr_of(QREXEC_MSG_SERVICE_CONNECT, 41);
        ck_assert_int_eq(qrexec_decode_exec(&h, zero, &e), -EBADMSG);
        h.len = 39;
        ck_assert_int_eq(qrexec_decode_exec(&h, zero, &e), -EBADMSG);
}
END_TEST

START_TEST(test_check_trigger_versions) {
        /* TRIGGER_SERVICE only below protocol 3 */
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE, 128, QREXEC_STREAM_FROM_AGENT, 2));
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE, 128, QREXEC_STREAM_FROM_AGENT, 3));
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE, 128, QREXEC_STREAM_FROM_AGENT, 4));
        /* TRIGGER_SERVICE3 from 3 on */
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE3, 100, QREXEC_STREAM_FROM_AGENT, 2));
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE3, 100, QREXEC_STREAM_FROM_AGENT, 3));
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE3, 100, QREXEC_STREAM_FROM_AGENT, 4));
        /* TRIGGER_SERVICE4 from 4 on */
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, 170, QREXEC_STREAM_FROM_AGENT, 2));
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, 170, QREXEC_STREAM_FROM_AGENT, 3));
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE4, 170, QREXEC_STREAM_FROM_AGENT, 4));

        /* and the decoder agrees */
        uint8_t p[200];
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        size_t n = build_trigger4(p, "", "vault", "SOCKET1", 7, "a.B", 4);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 3, t), -EBADMSG);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 0, t), -EBADMSG);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        memset(p, 0, 128);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p, 128, 3, t), -EBADMSG);
        n = build_trigger3(p, "vault", "SOCKET1", 7, "a.B", 4);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, n, 2, t), -EBADMSG);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, n, 4, t), 0);
}
END_TEST

/* QSB-089: a trigger payload no longer than its fixed struct must not be read. */
START_TEST(test_trigger_shorter_than_struct) {
        static const uint32_t lens4[] = { 0, 1, 8, 96, 128, 159, 160 };
        static const uint32_t lens3[] = { 0, 1, 64, 95, 96 };
        uint8_t p[160] = { 0 };
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();

        for (size_t i = 0; i < ELEMENTSOF(lens4); i++) {
                ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, lens4[i], QREXEC_STREAM_FROM_AGENT, 4));
                ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, lens4[i], 4, t), -EBADMSG);
        }
        for (size_t i = 0; i < ELEMENTSOF(lens3); i++) {
                ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE3, lens3[i], QREXEC_STREAM_FROM_AGENT, 3));
                ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, lens3[i], 3, t), -EBADMSG);
        }
}
END_TEST

START_TEST(test_trigger_name_too_long) {
        size_t max = 160 + QREXEC_MAX_SERVICE_NAME_LEN;
        _cleanup_free_ uint8_t *p = calloc(1, max + 1);
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        ck_assert_ptr_nonnull(p);

        /* 64999 characters and the NUL: the largest accepted name */
        memcpy(p + 64, "vault", 5);
        memcpy(p + 128, "SOCKET1", 7);
        memset(p + 160, 'a', QREXEC_MAX_SERVICE_NAME_LEN - 1);
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE4, (uint32_t) max, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, max, 4, t), 0);
        ck_assert(!t->refuse);
        ck_assert_uint_eq(strlen(t->service), QREXEC_MAX_SERVICE_NAME_LEN - 1);

        /* one more byte of name */
        p[max - 1] = 'a';
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, (uint32_t) max + 1, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, max + 1, 4, t), -EBADMSG);
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE3, 96 + QREXEC_MAX_SERVICE_NAME_LEN + 1,
                            QREXEC_STREAM_FROM_AGENT, 3));
        ck_assert(accepted(QREXEC_MSG_TRIGGER_SERVICE3, 96 + QREXEC_MAX_SERVICE_NAME_LEN,
                           QREXEC_STREAM_FROM_AGENT, 3));
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, UINT32_MAX, QREXEC_STREAM_FROM_AGENT, 4));
}
END_TEST

/* Qubes' daemon answers these with SERVICE_REFUSED (it does not exit), so
 * the decoder accepts the message and says refuse. */
START_TEST(test_trigger_name_nul_placement) {
        uint8_t p[200];
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        size_t n;

        n = build_trigger3(p, "vault", "SOCKET4", 7, "qubes.Foo", 9);           /* no NUL at the end */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, n, 3, t), 0);
        ck_assert(t->refuse);
        ck_assert_str_eq(t->ident, "SOCKET4");  /* still there for the echo */

        n = build_trigger4(p, "", "vault", "SOCKET4", 7, "qubes\0Foo", 10);     /* interior NUL */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);

        n = build_trigger4(p, "", "vault", "SOCKET4", 7, "qubes.Foo\0\0", 11);  /* NUL padding */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);

        n = build_trigger4(p, "", "vault", "SOCKET4", 7, "", 1);                /* empty */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);

        n = build_trigger4(p, "", "vault", "SOCKET4", 7, "+arg", 5);            /* argument only */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);

        n = build_trigger4(p, "", "vault", "SOCKET4", 7, "a+b+c", 6);           /* '+' later is fine */
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->service, "a+b+c");

        /* protocol 2: empty fixed name, leading '+' */
        uint8_t p2[128] = { 0 };
        memcpy(p2 + 96, "SOCKET4", 7);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p2, 128, 2, t), 0);
        ck_assert(t->refuse);
        p2[0] = '+';
        p2[1] = 'x';
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p2, 128, 2, t), 0);
        ck_assert(t->refuse);
}
END_TEST

START_TEST(test_trigger_ident) {
        uint8_t p[200];
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        size_t n;

        /* every allowed byte class, space included */
        n = build_trigger4(p, "", "vault", "Az09_.- x", 9, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->ident, "Az09_.- x");

        /* 31 characters and the NUL fill the field */
        n = build_trigger4(p, "", "vault", "0123456789012345678901234567890", 32, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(!t->refuse);

        /* a bad byte: refused, echoed as received */
        n = build_trigger4(p, "", "vault", "SOCK;ET", 7, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);
        ck_assert_str_eq(t->ident, "SOCK;ET");
        ck_assert_str_eq(t->service, "s");

        /* garbage after the NUL */
        n = build_trigger4(p, "", "vault", "SOCKET1\0x", 9, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(t->refuse);
        ck_assert_str_eq(t->ident, "SOCKET1");

        /* empty */
        n = build_trigger3(p, "vault", "", 0, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, n, 3, t), 0);
        ck_assert(t->refuse);

        /* no NUL at all: the echo copy gets its last byte forced */
        char full[32];
        memset(full, 'A', sizeof(full));
        n = build_trigger3(p, "vault", full, 32, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE3, p, n, 3, t), 0);
        ck_assert(t->refuse);
        ck_assert_uint_eq(strlen(t->ident), 31);

        /* a bad byte in the protocol-2 ident */
        uint8_t p2[128] = { 0 };
        memcpy(p2, "qubes.Foo", 9);
        memcpy(p2 + 96, "SOCKET\n", 7);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p2, 128, 2, t), 0);
        ck_assert(t->refuse);

        char ident[QREXEC_IDENT_SIZE] = "SOCKET5";
        ck_assert(qrexec_ident_valid(ident));
        ident[0] = (char) 0xc3;
        ck_assert(!qrexec_ident_valid(ident));
}
END_TEST

START_TEST(test_trigger_sanitising) {
        uint8_t p[300];
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        size_t n;

        n = build_trigger4(p, "src vm!", "@dispvm:fed-36", "SOCKET2", 7,
                           "my.Service+arg/../x\xff:@", sizeof("my.Service+arg/../x\xff:@"));
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, n, 4, t), 0);
        ck_assert(!t->refuse);
        ck_assert_str_eq(t->source_domain, "src_vm_");
        ck_assert_str_eq(t->target_domain, "@dispvm:fed-36");
        /* '+' stays in a service name, '/', 0xff, ':' and '@' do not */
        ck_assert_str_eq(t->service, "my.Service+arg_.._x___");

        /* domains: '+' is not allowed there; a field without NUL keeps 63 bytes; stop at the first NUL */
        memset(p, 0, 160);
        memset(p, 'x', 64);
        memcpy(p + 64, "a+b\0zz", 6);
        memcpy(p + 128, "SOCKET2", 7);
        memcpy(p + 160, "s", 2);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE4, p, 162, 4, t), 0);
        ck_assert_uint_eq(strlen(t->source_domain), 63);
        ck_assert_str_eq(t->target_domain, "a_b");
        for (size_t i = 3; i < QREXEC_DOMAIN_SIZE; i++)
                ck_assert_int_eq(t->target_domain[i], 0);

        /* protocol 2 fields */
        uint8_t p2[128] = { 0 };
        memcpy(p2, "qubes.Foo bar", 13);
        memcpy(p2 + 64, "dom$0", 5);
        memcpy(p2 + 96, "SOCKET2", 7);
        ck_assert_int_eq(decode_trigger_exact(QREXEC_MSG_TRIGGER_SERVICE, p2, 128, 2, t), 0);
        ck_assert_str_eq(t->service, "qubes.Foo_bar");
        ck_assert_str_eq(t->target_domain, "dom_0");
}
END_TEST

START_TEST(test_data_chunk_limits) {
        static const uint32_t types[] = { QREXEC_MSG_DATA_STDIN, QREXEC_MSG_DATA_STDOUT, QREXEC_MSG_DATA_STDERR };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                ck_assert(accepted(types[i], 0, QREXEC_STREAM_DATA, 2));
                ck_assert(accepted(types[i], 4096, QREXEC_STREAM_DATA, 2));
                ck_assert(!accepted(types[i], 4097, QREXEC_STREAM_DATA, 2));
                for (uint32_t v = 3; v <= 4; v++) {
                        ck_assert(accepted(types[i], 65536, QREXEC_STREAM_DATA, v));
                        ck_assert(!accepted(types[i], 65537, QREXEC_STREAM_DATA, v));
                        ck_assert(!accepted(types[i], UINT32_MAX, QREXEC_STREAM_DATA, v));
                }
        }
}
END_TEST

START_TEST(test_exit_code_lengths) {
        static const uint8_t four[] = { 3, 0, 0, 0, 9 };
        int32_t code = 0;

        for (uint32_t len = 0; len <= 4; len++)
                ck_assert(accepted(QREXEC_MSG_DATA_EXIT_CODE, len, QREXEC_STREAM_DATA, 3));
        ck_assert(!accepted(QREXEC_MSG_DATA_EXIT_CODE, 5, QREXEC_STREAM_DATA, 3));

        ck_assert_int_eq(qrexec_decode_exit_code(four, 0, &code), 0);
        ck_assert_int_eq(code, 255);
        code = 0;
        ck_assert_int_eq(qrexec_decode_exit_code(four, 3, &code), 0);
        ck_assert_int_eq(code, 255);
        ck_assert_int_eq(qrexec_decode_exit_code(four, 4, &code), 0);
        ck_assert_int_eq(code, 3);
        ck_assert_int_eq(qrexec_decode_exit_code(four, 5, &code), -EBADMSG);
}
END_TEST

START_TEST(test_wrong_direction) {
        /* what only an agent sends, arriving at an agent or on a data channel */
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE3, 100, QREXEC_STREAM_FROM_DAEMON, 4));
        ck_assert(!accepted(QREXEC_MSG_TRIGGER_SERVICE4, 170, QREXEC_STREAM_DATA, 4));
        ck_assert(!accepted(QREXEC_MSG_CONNECTION_TERMINATED, 8, QREXEC_STREAM_FROM_DAEMON, 4));
        /* what only the admin side sends, arriving at the admin side */
        ck_assert(!accepted(QREXEC_MSG_EXEC_CMDLINE, 20, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert(!accepted(QREXEC_MSG_JUST_EXEC, 20, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert(!accepted(QREXEC_MSG_SERVICE_CONNECT, 40, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert(!accepted(QREXEC_MSG_SERVICE_REFUSED, 32, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert(!accepted(QREXEC_MSG_SERVICE_REFUSED, 32, QREXEC_STREAM_DATA, 4));
        ck_assert(!accepted(QREXEC_MSG_EXEC_CMDLINE, 20, QREXEC_STREAM_DATA, 4));
        /* data on a control channel */
        ck_assert(!accepted(QREXEC_MSG_DATA_STDOUT, 10, QREXEC_STREAM_FROM_AGENT, 4));
        ck_assert(!accepted(QREXEC_MSG_DATA_STDIN, 10, QREXEC_STREAM_FROM_DAEMON, 4));
        ck_assert(!accepted(QREXEC_MSG_DATA_EXIT_CODE, 4, QREXEC_STREAM_FROM_DAEMON, 4));

        /* and the decoders refuse foreign types */
        uint8_t zero[200] = { 0 };
        struct qrexec_hdr h = hdr_of(QREXEC_MSG_SERVICE_REFUSED, 40);
        struct qrexec_exec e;
        ck_assert_int_eq(qrexec_decode_exec(&h, zero, &e), -EBADMSG);
        _cleanup_free_ struct qrexec_trigger *t = trigger_new();
        h = hdr_of(QREXEC_MSG_EXEC_CMDLINE, 170);
        ck_assert_int_eq(qrexec_decode_trigger(&h, zero, 4, t), -EBADMSG);
}
END_TEST

START_TEST(test_unknown_type) {
        static const uint32_t unknown[] = { 0, 0x194, 0x204, 0x214, 0x301, UINT32_MAX };
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++)
                for (int s = QREXEC_STREAM_FROM_AGENT; s <= QREXEC_STREAM_DATA; s++)
                        for (uint32_t v = 0; v <= 4; v++)
                                ck_assert(!accepted(unknown[i], 8, s, v));
}
END_TEST

START_TEST(test_exec_rejections) {
        uint8_t p[64] = { 0 };
        struct qrexec_exec e;
        struct qrexec_hdr h;

        le32_store(p, 3);
        le32_store(p + 4, 600);
        memcpy(p + 8, "user:true", 10);
        h = hdr_of(QREXEC_MSG_EXEC_CMDLINE, 18);
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), 0);

        h.len = 17;     /* command without its NUL */
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        h.len = 19;     /* a byte after the NUL */
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        h.len = 9;      /* empty command */
        p[8] = '\0';
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        h.len = 8;
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        ck_assert(!accepted(QREXEC_MSG_EXEC_CMDLINE, 8, QREXEC_STREAM_FROM_DAEMON, 4));
        ck_assert(accepted(QREXEC_MSG_EXEC_CMDLINE, 9, QREXEC_STREAM_FROM_DAEMON, 4));
        ck_assert(accepted(QREXEC_MSG_JUST_EXEC, 8 + QREXEC_MAX_CMD_LEN, QREXEC_STREAM_FROM_DAEMON, 4));
        ck_assert(!accepted(QREXEC_MSG_JUST_EXEC, 8 + QREXEC_MAX_CMD_LEN + 1, QREXEC_STREAM_FROM_DAEMON, 4));

        /* ports outside 513..768 */
        memcpy(p + 8, "user:true", 10);
        h.len = 18;
        static const uint32_t bad_ports[] = { 0, 512, 769, UINT32_MAX };
        for (size_t i = 0; i < ELEMENTSOF(bad_ports); i++) {
                le32_store(p + 4, bad_ports[i]);
                ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        }
        uint32_t d, port;
        ck_assert_int_eq(qrexec_decode_connection_terminated(p, 8, &d, &port), -EBADMSG);

        /* SERVICE_CONNECT ident without NUL */
        memset(p, 'A', 40);
        le32_store(p, 1);
        le32_store(p + 4, 513);
        h = hdr_of(QREXEC_MSG_SERVICE_CONNECT, 40);
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), -EBADMSG);
        char ident[QREXEC_IDENT_SIZE];
        ck_assert_int_eq(qrexec_decode_service_refused(p + 8, 32, ident), -EBADMSG);
        p[39] = '\0';
        ck_assert_int_eq(qrexec_decode_exec(&h, p, &e), 0);
        ck_assert_uint_eq(strlen(e.ident), 31);
}
END_TEST

START_TEST(test_encoder_limits) {
        static uint8_t buf[8 + 160 + QREXEC_MAX_CMD_LEN + 16];
        _cleanup_free_ char *big = malloc(QREXEC_MAX_CMD_LEN + 1);
        ck_assert_ptr_nonnull(big);
        char ident32[33], domain64[65];
        memset(ident32, 'i', 32);
        ident32[32] = '\0';
        memset(domain64, 'd', 64);
        domain64[64] = '\0';

        /* ident: 31 characters fit, 32 do not */
        ck_assert_int_eq(qrexec_encode_service_refused(buf, sizeof(buf), ident32), -EINVAL);
        ck_assert_int_eq(qrexec_encode_service_connect(buf, sizeof(buf), 1, 513, ident32), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger3(buf, sizeof(buf), "t", ident32, "s"), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), "", "t", ident32, "s"), -EINVAL);
        ck_assert_int_eq(qrexec_encode_service_refused(buf, sizeof(buf), ident32 + 1), 40);

        /* domains: 63 fit, 64 do not */
        ck_assert_int_eq(qrexec_encode_trigger3(buf, sizeof(buf), domain64, "id", "s"), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), domain64, "t", "id", "s"), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), "", domain64, "id", "s"), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), domain64 + 1, domain64 + 1, "id", "s"),
                         8 + 160 + 2);

        /* service name: 64999 characters + NUL fit, 65000 do not */
        memset(big, 's', QREXEC_MAX_SERVICE_NAME_LEN);
        big[QREXEC_MAX_SERVICE_NAME_LEN] = '\0';
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), "", "t", "id", big), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger3(buf, sizeof(buf), "t", "id", big), -EINVAL);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, sizeof(buf), "", "t", "id", big + 1),
                         8 + 160 + QREXEC_MAX_SERVICE_NAME_LEN);
        ck_assert_int_eq(qrexec_encode_trigger3(buf, sizeof(buf), "t", "id", big + 1),
                         8 + 96 + QREXEC_MAX_SERVICE_NAME_LEN);

        /* command: 65534 characters + NUL fit, 65535 do not; empty and NULL do not */
        memset(big, 'c', QREXEC_MAX_CMD_LEN);
        big[QREXEC_MAX_CMD_LEN] = '\0';
        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_EXEC_CMDLINE, 1, 513, big), -EINVAL);
        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_EXEC_CMDLINE, 1, 513, big + 1),
                         8 + 8 + QREXEC_MAX_CMD_LEN);
        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_EXEC_CMDLINE, 1, 513, ""), -EINVAL);
        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_EXEC_CMDLINE, 1, 513, NULL), -EINVAL);
        ck_assert_int_eq(qrexec_encode_exec(buf, sizeof(buf), QREXEC_MSG_SERVICE_CONNECT, 1, 513, "u:x"),
                         -EINVAL);

        /* data: a known stream type and at most a protocol-3 chunk */
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDOUT, big, 65536), 8 + 65536);
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDOUT, big, 65537), -EINVAL);
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_EXIT_CODE, big, 4), -EINVAL);
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_HELLO, big, 4), -EINVAL);
        ck_assert_int_eq(qrexec_encode_data(buf, sizeof(buf), QREXEC_MSG_DATA_STDIN, NULL, 1), -EINVAL);
}
END_TEST

START_TEST(test_encoder_small_buffer) {
        uint8_t buf[512];

        memset(buf, 0x5a, sizeof(buf));
        ck_assert_int_eq(qrexec_encode_hello(buf, 11, 4), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_exec(buf, 8 + 8 + 3, QREXEC_MSG_JUST_EXEC, 1, 513, "u:x"), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_exec(buf, 8 + 8 + 4, QREXEC_MSG_JUST_EXEC, 1, 513, "u:x"), 20);
        ck_assert_int_eq(qrexec_encode_service_connect(buf, 47, 1, 513, "id"), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_service_refused(buf, 39, "id"), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_trigger3(buf, 8 + 96 + 1, "t", "id", "s"), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_trigger4(buf, 8 + 160 + 1, "", "t", "id", "s"), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_connection_terminated(buf, 7, 1, 513), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_data(buf, 8 + 2, QREXEC_MSG_DATA_STDIN, "abc", 3), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_exit_code(buf, 11, 0), -ENOBUFS);
        ck_assert_int_eq(qrexec_encode_hello(NULL, 0, 4), -ENOBUFS);

        /* a refused encoding writes nothing */
        for (size_t i = 0; i < 20; i++)
                ck_assert_uint_eq(buf[20 + i], 0x5a);
}
END_TEST

static Suite *make_suite(void) {
        Suite *s = suite_create("qrexec-reject");
        TCase *tc = tcase_create("rejections");
        tcase_add_test(tc, test_check_before_hello);
        tcase_add_test(tc, test_check_unnegotiable_version);
        tcase_add_test(tc, test_check_fixed_lengths);
        tcase_add_test(tc, test_check_trigger_versions);
        tcase_add_test(tc, test_trigger_shorter_than_struct);
        tcase_add_test(tc, test_trigger_name_too_long);
        tcase_add_test(tc, test_trigger_name_nul_placement);
        tcase_add_test(tc, test_trigger_ident);
        tcase_add_test(tc, test_trigger_sanitising);
        tcase_add_test(tc, test_data_chunk_limits);
        tcase_add_test(tc, test_exit_code_lengths);
        tcase_add_test(tc, test_wrong_direction);
        tcase_add_test(tc, test_unknown_type);
        tcase_add_test(tc, test_exec_rejections);
        tcase_add_test(tc, test_encoder_limits);
        tcase_add_test(tc, test_encoder_small_buffer);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(make_suite());
}
