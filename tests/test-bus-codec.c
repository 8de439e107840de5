/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bus codec against the catalogue: every type round-trips with boundary
 * values and its bytes match the reference encoding; the catalogue queries
 * and the encoder's refusals.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "bus.h"
#include "test-bus-helpers.h"
#include "util.h"

START_TEST(test_catalogue_queries) {
        const struct test_type *t = &test_types[_i];

        ck_assert(bus_type_known(t->type));
        ck_assert_str_eq(bus_type_to_string(t->type), t->name);
        ck_assert_uint_eq(bus_payload_max(t->type), t->payload_max);
        ck_assert_uint_le(BUS_HEADER_SIZE + t->payload_max, BUS_MSG_MAX);
}
END_TEST

START_TEST(test_unknown_types) {
        unsigned unknown = 0;

        for (uint32_t type = 0; type <= UINT16_MAX; type++) {
                if (catalogue_has((uint16_t) type))
                        continue;
                unknown++;
                ck_assert(!bus_type_known((uint16_t) type));
                ck_assert_ptr_null(bus_type_to_string((uint16_t) type));
                ck_assert_uint_eq(bus_payload_max((uint16_t) type), 0);
        }
        ck_assert_uint_eq(unknown, 65536 - n_test_types);
}
END_TEST

START_TEST(test_roundtrip) {
        const struct test_type *t = &test_types[_i];

        for (enum variant v = 0; v < _VARIANT_MAX; v++) {
                _cleanup_free_ struct bus_message *in = new_message(0);
                t->fill(&in->u, v);

                size_t size = encode_variant(t, v);
                size_t ref_size = t->ref_encode(ref, v, NULL);
                ck_assert_uint_eq(size, ref_size);
                ck_assert_mem_eq(wire, ref, size);
                ck_assert_uint_le(size, BUS_HEADER_SIZE + t->payload_max);
                if (v == VARIANT_ALL_ONES)
                        ck_assert_uint_eq(size, BUS_HEADER_SIZE + t->payload_max);

                /* Decode over zeros and over garbage: the result must not differ,
                 * so nothing stale survives in the struct (padding included). */
                for (int garbage = 0; garbage <= 1; garbage++) {
                        _cleanup_free_ struct bus_message *out = new_message(garbage ? 0xa5 : 0);
                        ck_assert_int_eq(decode_exact(wire, size, out), 0);
                        ck_assert_uint_eq(out->hdr.type, t->type);
                        ck_assert_uint_eq(out->hdr.flags, 0);
                        ck_assert_uint_eq(out->hdr.len, size - BUS_HEADER_SIZE);
                        ck_assert_uint_eq(out->hdr.request_id, test_request_id(v));
                        ck_assert_uint_eq(out->hdr.peer, test_peer(v));
                        ck_assert_mem_eq(&out->u, &in->u, t->struct_size);
                }
        }
}
END_TEST

/* Exact bytes for a few types, written out by hand from bus.h. */
START_TEST(test_wire_bytes) {
        uint8_t buf[64];
        struct bus_hdr hdr = { .type = BUS_MSG_PING, .request_id = 0x11223344 };
        struct bus_msg_ping ping = { .token = UINT64_C(0x0102030405060708) };
        static const uint8_t ping_bytes[] = {
                0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
                0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,
                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        };
        ck_assert_int_eq(bus_encode(&hdr, &ping, buf, sizeof buf), sizeof ping_bytes);
        ck_assert_mem_eq(buf, ping_bytes, sizeof ping_bytes);

        struct bus_msg_error error = { .error = -ENOENT, .failed_type = 0x0201, .text = "no" };
        static const uint8_t error_bytes[] = {
                0x04, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
                0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00,
                0xfe, 0xff, 0xff, 0xff, 0x01, 0x02, 0x02, 0x00, 'n', 'o',
        };
        hdr = (struct bus_hdr) { .type = BUS_MSG_ERROR, .request_id = 1, .peer = BUS_PEER_ROLE(BUS_ROLE_QUBESD) };
        ck_assert_int_eq(bus_encode(&hdr, &error, buf, sizeof buf), sizeof error_bytes);
        ck_assert_mem_eq(buf, error_bytes, sizeof error_bytes);

        struct bus_msg_welcome welcome = { .version = BUS_PROTOCOL_VERSION, .peer = 0x10005, .role = 3,
                                           .fds = BUS_WELCOME_FD_RINGS };
        static const uint8_t welcome_bytes[] = {
                0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 0x00, 0x03, 0x02,
        };
        hdr = (struct bus_hdr) { .type = BUS_MSG_WELCOME, .peer = BUS_PEER_BUSD };
        ck_assert_int_eq(bus_encode(&hdr, &welcome, buf, sizeof buf), sizeof welcome_bytes);
        ck_assert_mem_eq(buf, welcome_bytes, sizeof welcome_bytes);

        /* And back. */
        _cleanup_free_ struct bus_message *msg = new_message(0xff);
        ck_assert_int_eq(decode_exact(error_bytes, sizeof error_bytes, msg), 0);
        ck_assert_int_eq(msg->u.error.error, -ENOENT);
        ck_assert_uint_eq(msg->u.error.failed_type, 0x0201);
        ck_assert_str_eq(msg->u.error.text, "no");
        ck_assert_uint_eq(msg->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_QUBESD));
}
END_TEST

START_TEST(test_decode_header) {
        struct bus_hdr hdr;
        uint8_t buf[BUS_HEADER_SIZE + 3] = { 0 };

        put_le(buf, 2, 0x7777);         /* the header alone does not judge the type */
        put_le(buf + 4, 4, 3);
        put_le(buf + 8, 4, 42);
        put_le(buf + 12, 4, BUS_PEER_BUSD);
        ck_assert_int_eq(bus_decode_header(buf, sizeof buf, &hdr), 0);
        ck_assert_uint_eq(hdr.type, 0x7777);
        ck_assert_uint_eq(hdr.flags, 0);
        ck_assert_uint_eq(hdr.len, 3);
        ck_assert_uint_eq(hdr.request_id, 42);
        ck_assert_uint_eq(hdr.peer, BUS_PEER_BUSD);

        for (size_t size = 0; size < BUS_HEADER_SIZE; size++)
                ck_assert_int_eq(bus_decode_header(buf, size, &hdr), -EBADMSG);
        ck_assert_int_eq(bus_decode_header(buf, sizeof buf - 1, &hdr), -EBADMSG);
        put_le(buf + 4, 4, 0);
        ck_assert_int_eq(bus_decode_header(buf, BUS_HEADER_SIZE, &hdr), 0);
        ck_assert_uint_eq(hdr.len, 0);
}
END_TEST

START_TEST(test_encode_rejects) {
        _cleanup_free_ struct bus_message *msg = new_message(0);
        struct bus_hdr hdr = { .type = BUS_MSG_ERROR };

        /* A string filling its whole array has no room for its NUL: too long. */
        memset(msg->u.error.text, 'x', sizeof msg->u.error.text);
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), -EINVAL);
        msg->u.error.text[BUS_ERROR_TEXT_MAX] = '\0';
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire),
                         BUS_HEADER_SIZE + 4 + 2 + 2 + BUS_ERROR_TEXT_MAX);

        /* A bad field is reported as such even when the buffer is also too small. */
        memset(msg->u.error.text, 'x', sizeof msg->u.error.text);
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, 3), -EINVAL);

        /* A C string ends at its first NUL: what follows is never sent. */
        memcpy(msg->u.error.text, "ab\0cd", 6);
        int size = bus_encode(&hdr, &msg->u, wire, sizeof wire);
        ck_assert_int_eq(size, BUS_HEADER_SIZE + 4 + 2 + 2 + 2);
        ck_assert_mem_eq(wire + size - 2, "ab", 2);

        hdr.type = BUS_MSG_ECHO_REPLY;
        msg->u.echo_reply.data_len = BUS_ECHO_MAX + 1;
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), -EINVAL);
        msg->u.echo_reply.data_len = SIZE_MAX;
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), -EINVAL);
        msg->u.echo_reply.data_len = BUS_ECHO_MAX;
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), BUS_HEADER_SIZE + 4 + BUS_ECHO_MAX);

        hdr.flags = 1;
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), -EINVAL);
        hdr.flags = 0;

        const uint16_t unknown[] = { 0, 0x0005, 0x0212 + 1, 0xffff };
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++) {
                hdr.type = unknown[i];
                ck_assert_int_eq(bus_encode(&hdr, &msg->u, wire, sizeof wire), -ENOMSG);
        }
}
END_TEST

START_TEST(test_encode_buffer_too_small) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);
        struct bus_hdr hdr = { .type = t->type };

        t->fill(&msg->u, VARIANT_PATTERN);
        int size = bus_encode(&hdr, &msg->u, wire, sizeof wire);
        ck_assert_int_gt(size, BUS_HEADER_SIZE);
        for (int room = 0; room < size; room++) {
                /* Exact-size buffers, so a sanitizer build sees any write past the end. */
                uint8_t *buf = malloc(room ? (size_t) room : 1);
                ck_assert_ptr_nonnull(buf);
                ck_assert_int_eq(bus_encode(&hdr, &msg->u, buf, (size_t) room), -ENOBUFS);
                free(buf);
        }
        uint8_t *buf = malloc((size_t) size);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(bus_encode(&hdr, &msg->u, buf, (size_t) size), size);
        ck_assert_mem_eq(buf, wire, (size_t) size);
        free(buf);
}
END_TEST

static Suite *bus_codec_suite(void) {
        Suite *s = suite_create("bus-codec");
        TCase *tc = tcase_create("bus-codec");
        const int n = (int) n_test_types;

        tcase_add_loop_test(tc, test_catalogue_queries, 0, n);
        tcase_add_test(tc, test_unknown_types);
        tcase_add_loop_test(tc, test_roundtrip, 0, n);
        tcase_add_test(tc, test_wire_bytes);
        tcase_add_test(tc, test_decode_header);
        tcase_add_test(tc, test_encode_rejects);
        tcase_add_loop_test(tc, test_encode_buffer_too_small, 0, n);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(bus_codec_suite());
}
