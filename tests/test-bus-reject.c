/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The strict bus decoder: every malformed datagram is refused (-EBADMSG),
 * an unknown type is told apart (-ENOMSG), and the same datagram repaired
 * decodes again.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "bus.h"
#include "test-bus-helpers.h"
#include "util.h"

START_TEST(test_decode_truncated) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);

        for (enum variant v = 0; v < _VARIANT_MAX; v++) {
                if (v == VARIANT_ALL_ONES || v == VARIANT_TOP_BIT)
                        continue;       /* long strings: every cut below would take minutes */
                size_t size = encode_variant(t, v);
                for (size_t cut = 0; cut < size; cut++) {
                        /* As sent, the len field no longer matches ... */
                        ck_assert_int_eq(decode_exact(wire, cut, msg), -EBADMSG);
                        /* ... and with len fixed up, the payload lacks bytes. */
                        if (cut >= BUS_HEADER_SIZE) {
                                memcpy(ref, wire, cut);
                                patch_len(ref, cut);
                                ck_assert_int_eq(decode_exact(ref, cut, msg), -EBADMSG);
                        }
                }
        }

        /* The largest form, cut at one byte short and at the bare header. */
        size_t size = encode_variant(t, VARIANT_ALL_ONES);
        const size_t cuts[] = { size - 1, size - 2, BUS_HEADER_SIZE + 1, BUS_HEADER_SIZE };
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                memcpy(ref, wire, cuts[i]);
                patch_len(ref, cuts[i]);
                ck_assert_int_eq(decode_exact(ref, cuts[i], msg), -EBADMSG);
        }
}
END_TEST

START_TEST(test_decode_trailing_byte) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);

        for (enum variant v = 0; v < _VARIANT_MAX; v++) {
                size_t size = encode_variant(t, v);
                for (unsigned extra = 0; extra <= 0xff; extra += 0xff) {
                        wire[size] = (uint8_t) extra;
                        ck_assert_int_eq(decode_exact(wire, size + 1, msg), -EBADMSG);
                        patch_len(wire, size + 1);
                        ck_assert_int_eq(decode_exact(wire, size + 1, msg), -EBADMSG);
                        patch_len(wire, size);
                }
                ck_assert_int_eq(decode_exact(wire, size, msg), 0);
        }
}
END_TEST

START_TEST(test_decode_len_mismatch) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);
        size_t size = encode_variant(t, VARIANT_PATTERN);
        const uint32_t len = (uint32_t) (size - BUS_HEADER_SIZE);
        const uint32_t wrong[] = { 0, len - 1, len + 1, len + 0x10000, UINT32_MAX };

        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                put_le(wire + 4, 4, wrong[i]);
                ck_assert_int_eq(decode_exact(wire, size, msg), -EBADMSG);
        }
        put_le(wire + 4, 4, len);
        ck_assert_int_eq(decode_exact(wire, size, msg), 0);
}
END_TEST

START_TEST(test_decode_flags) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);
        struct bus_hdr hdr;
        size_t size = encode_variant(t, VARIANT_PATTERN);

        for (unsigned bit = 0; bit < 16; bit++) {
                put_le(wire + 2, 2, 1u << bit);
                ck_assert_int_eq(decode_exact(wire, size, msg), -EBADMSG);
                ck_assert_int_eq(bus_decode_header(wire, size, &hdr), -EBADMSG);
        }
        put_le(wire + 2, 2, 0);
        ck_assert_int_eq(decode_exact(wire, size, msg), 0);
}
END_TEST

/* Every string and blob over its bound, every string with a NUL in it. */
START_TEST(test_decode_field_bounds) {
        const struct test_type *t = &test_types[_i];
        _cleanup_free_ struct bus_message *msg = new_message(0);

        for (unsigned f = 0; f < t->n_fields; f++) {
                enum test_kind kind = t->kinds[f];
                if (kind != TEST_KIND_STR && kind != TEST_KIND_BLOB)
                        continue;

                struct mutation over = { f, MUTATION_OVER_BOUND };
                size_t size = t->ref_encode(ref, VARIANT_TOP_BIT, &over);
                ck_assert_int_eq(decode_exact(ref, size, msg), -EBADMSG);
                size = t->ref_encode(ref, VARIANT_ALL_ONES, &over);
                ck_assert_int_eq(decode_exact(ref, size, msg), -EBADMSG);

                if (kind == TEST_KIND_STR) {
                        const enum mutation_kind nul[] = {
                                MUTATION_NUL_FIRST, MUTATION_NUL_MIDDLE, MUTATION_NUL_LAST,
                        };
                        for (size_t i = 0; i < ELEMENTSOF(nul); i++) {
                                struct mutation m = { f, nul[i] };
                                size = t->ref_encode(ref, VARIANT_TOP_BIT, &m);
                                ck_assert_int_eq(decode_exact(ref, size, msg), -EBADMSG);
                        }
                }

                /* The same message without the mutation is fine. */
                size = t->ref_encode(ref, VARIANT_TOP_BIT, NULL);
                ck_assert_int_eq(decode_exact(ref, size, msg), 0);
        }
}
END_TEST

/* A length prefix claiming more than the datagram holds (but len consistent). */
START_TEST(test_decode_length_prefix_past_end) {
        _cleanup_free_ struct bus_message *msg = new_message(0);
        struct bus_hdr hdr = { .type = BUS_MSG_ECHO_REQUEST };
        struct bus_msg_echo_request echo = { .data_len = 3, .data = { 1, 2, 3 } };
        int size = bus_encode(&hdr, &echo, wire, sizeof wire);

        ck_assert_int_eq(size, BUS_HEADER_SIZE + 4 + 3);
        const uint32_t claims[] = { 4, 0x10000, BUS_ECHO_MAX, UINT32_MAX };
        for (size_t i = 0; i < ELEMENTSOF(claims); i++) {
                put_le(wire + BUS_HEADER_SIZE, 4, claims[i]);
                ck_assert_int_eq(decode_exact(wire, (size_t) size, msg), -EBADMSG);
        }

        hdr.type = BUS_MSG_QREXEC_SERVICE_REFUSED;
        struct bus_msg_qrexec_service_refused refused = { .ident = "SOCKET7" };
        size = bus_encode(&hdr, &refused, wire, sizeof wire);
        ck_assert_int_eq(size, BUS_HEADER_SIZE + 2 + 7);
        put_le(wire + BUS_HEADER_SIZE, 2, UINT16_MAX);
        ck_assert_int_eq(decode_exact(wire, (size_t) size, msg), -EBADMSG);
        put_le(wire + BUS_HEADER_SIZE, 2, 8);
        ck_assert_int_eq(decode_exact(wire, (size_t) size, msg), -EBADMSG);
        put_le(wire + BUS_HEADER_SIZE, 2, 6);     /* one byte left over */
        ck_assert_int_eq(decode_exact(wire, (size_t) size, msg), -EBADMSG);
        put_le(wire + BUS_HEADER_SIZE, 2, 7);
        ck_assert_int_eq(decode_exact(wire, (size_t) size, msg), 0);
        ck_assert_str_eq(msg->u.qrexec_service_refused.ident, "SOCKET7");
}
END_TEST

START_TEST(test_decode_unknown_type) {
        _cleanup_free_ struct bus_message *msg = new_message(0);
        uint8_t buf[BUS_HEADER_SIZE + 5] = { 0 };

        for (uint32_t type = 0; type <= UINT16_MAX; type++) {
                put_le(buf, 2, type);
                put_le(buf + 4, 4, 5);
                put_le(buf + 8, 4, 0xabcdef01);
                put_le(buf + 12, 4, BUS_PEER_GUEST(7));
                memset(&msg->hdr, 0, sizeof msg->hdr);
                int r = decode_exact(buf, sizeof buf, msg);
                if (catalogue_has((uint16_t) type)) {
                        ck_assert_int_ne(r, -ENOMSG);
                        continue;
                }
                ck_assert_int_eq(r, -ENOMSG);
                ck_assert_uint_eq(msg->hdr.type, type);
                ck_assert_uint_eq(msg->hdr.len, 5);
                ck_assert_uint_eq(msg->hdr.request_id, 0xabcdef01);
                ck_assert_uint_eq(msg->hdr.peer, BUS_PEER_GUEST(7));
        }

        /* A bad header wins over an unknown type. */
        put_le(buf, 2, 0x7777);
        put_le(buf + 2, 2, 1);
        ck_assert_int_eq(decode_exact(buf, sizeof buf, msg), -EBADMSG);
        put_le(buf + 2, 2, 0);
        ck_assert_int_eq(decode_exact(buf, sizeof buf - 1, msg), -EBADMSG);
}
END_TEST

static Suite *bus_reject_suite(void) {
        Suite *s = suite_create("bus-reject");
        TCase *tc = tcase_create("bus-reject");
        const int n = (int) n_test_types;

        tcase_add_loop_test(tc, test_decode_truncated, 0, n);
        tcase_add_loop_test(tc, test_decode_trailing_byte, 0, n);
        tcase_add_loop_test(tc, test_decode_len_mismatch, 0, n);
        tcase_add_loop_test(tc, test_decode_flags, 0, n);
        tcase_add_loop_test(tc, test_decode_field_bounds, 0, n);
        tcase_add_test(tc, test_decode_length_prefix_past_end);
        tcase_add_test(tc, test_decode_unknown_type);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(bus_reject_suite());
}
