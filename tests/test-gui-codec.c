/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The GUI protocol codec: exact bytes, round trips, every refusal, limits,
 * version negotiation and the sanitising of titles and classes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-helpers.h"
#include "gui.h"
#include "utf8.h"
#include "util.h"

static int roundtrip(const struct gui_msg *m, enum gui_direction from, uint8_t *buf, size_t size,
                     struct gui_msg *ret) {
        struct gui_header h;
        int n = gui_encode(m, buf, size);
        if (n < 0)
                return n;
        gui_decode_header(buf, &h);
        int r = gui_check_header(&h, from);
        if (r < 0)
                return r;
        return gui_decode_body(&h, buf + GUI_HEADER_SIZE, (size_t) n - GUI_HEADER_SIZE, ret);
}

START_TEST(test_create_bytes) {
        static const uint8_t expected[] = {
                130, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 24, 0, 0, 0,
                0xf6, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0x80, 2, 0, 0, 0xe0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
        struct gui_msg m = { .type = GUI_MSG_CREATE, .window = 0x11223344 }, back;
        uint8_t buf[64];

        m.u.create.x = -10;
        m.u.create.y = 20;
        m.u.create.width = 640;
        m.u.create.height = 480;
        m.u.create.override_redirect = 1;
        ck_assert_int_eq(gui_encode(&m, buf, sizeof(buf)), (int) sizeof(expected));
        ck_assert_mem_eq(buf, expected, sizeof(expected));
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), 0);
        ck_assert_int_eq(back.u.create.x, -10);
        ck_assert_uint_eq(back.u.create.width, 640);
        ck_assert_uint_eq(back.window, 0x11223344);
        ck_assert_int_eq(gui_encode(&m, buf, sizeof(expected) - 1), -ENOBUFS);
}
END_TEST

START_TEST(test_every_fixed_type_roundtrips) {
        for (uint32_t t = GUI_MSG_KEYPRESS; t <= GUI_MSG_SCREEN_IMAGE; t++) {
                int size = gui_body_size(t);
                if (size < 0)
                        continue;
                struct gui_msg m = { .type = t, .window = t * 7 }, back;
                uint8_t buf[256];
                for (unsigned i = 0; i < sizeof(m.u); i++)
                        ((uint8_t *) &m.u)[i] = (uint8_t) (i * 13 + t);
                int from_agent = roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back);
                int from_daemon = roundtrip(&m, GUI_FROM_DAEMON, buf, sizeof(buf), &back);
                /* every type has at least one legal sender */
                ck_assert_msg(from_agent == 0 || from_daemon == 0, "type %u", t);
                ck_assert_mem_eq(&back.u, &m.u, (size_t) size);
                ck_assert_uint_eq(back.window, t * 7);
        }
}
END_TEST

START_TEST(test_direction_enforced) {
        struct gui_header h = { .type = GUI_MSG_KEYPRESS, .untrusted_len = 20 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_DAEMON), 0);
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
        h = (struct gui_header) { .type = GUI_MSG_CREATE, .untrusted_len = 24 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), 0);
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_DAEMON), -EBADMSG);
        h = (struct gui_header) { .type = GUI_MSG_CLIPBOARD_REQ, .untrusted_len = 0 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
}
END_TEST

START_TEST(test_refused_headers) {
        /* unknown, obsolete and deprecated types */
        static const uint32_t refused[] = { 0, 123, GUI_MSG_RESIZE, GUI_MSG_MFNDUMP, GUI_MSG_EXECUTE, 150,
                                            0xffffffff };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                struct gui_header h = { .type = refused[i], .untrusted_len = 0 };
                ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
                ck_assert_int_eq(gui_check_header(&h, GUI_FROM_DAEMON), -EBADMSG);
        }
        /* a length off by one either way, for every fixed type */
        for (uint32_t t = GUI_MSG_KEYPRESS; t <= GUI_MSG_SCREEN_IMAGE; t++) {
                int size = gui_body_size(t);
                if (size < 0)
                        continue;
                for (int d = -1; d <= 1; d += 2) {
                        struct gui_header h = { .type = t, .untrusted_len = (uint32_t) (size + d) };
                        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
                        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_DAEMON), -EBADMSG);
                }
        }
        /* a body whose length disagrees with the checked header */
        struct gui_header h = { .type = GUI_MSG_SHMIMAGE, .untrusted_len = 16 };
        struct gui_msg m;
        uint8_t body[16] = { 0 };
        ck_assert_int_eq(gui_decode_body(&h, body, 15, &m), -EBADMSG);
}
END_TEST

START_TEST(test_clipboard_limits) {
        struct gui_header h = { .type = GUI_MSG_CLIPBOARD_DATA, .untrusted_len = GUI_CLIPBOARD_WIRE_MAX };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), 0);
        h.untrusted_len++;
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
        h.untrusted_len = 0xffffffff;
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);

        _cleanup_free_ uint8_t *data = calloc(1, GUI_CLIPBOARD_WIRE_MAX + 1);
        _cleanup_free_ uint8_t *buf = malloc(GUI_CLIPBOARD_WIRE_MAX + 64);
        struct gui_msg m = { .type = GUI_MSG_CLIPBOARD_DATA, .data = data, .data_len = 5 }, back;
        memcpy(data, "hello", 5);
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, GUI_CLIPBOARD_WIRE_MAX + 64, &back), 0);
        ck_assert_uint_eq(back.data_len, 5);
        ck_assert_mem_eq(back.data, "hello", 5);
        m.data_len = GUI_CLIPBOARD_WIRE_MAX + 1;
        ck_assert_int_eq(gui_encode(&m, buf, GUI_CLIPBOARD_WIRE_MAX + 64), -EINVAL);
}
END_TEST

START_TEST(test_window_dump) {
        struct gui_msg m = { .type = GUI_MSG_WINDOW_DUMP, .window = 5 }, back;
        uint8_t buf[64];

        m.u.dump.type = GUI_DUMP_MEMFD;
        m.u.dump.width = 1920;
        m.u.dump.height = 1080;
        m.u.dump.bpp = 32;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), 0);
        ck_assert_uint_eq(back.u.dump.width, 1920);

        m.u.dump.width = GUI_MAX_WINDOW_WIDTH + 1;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
        m.u.dump.width = 0;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
        m.u.dump.width = 10;
        m.u.dump.height = GUI_MAX_WINDOW_HEIGHT + 1;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
        m.u.dump.height = 10;
        m.u.dump.bpp = 16;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
        m.u.dump.bpp = 32;
        m.u.dump.type = 7;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);

        /* grant refs: exactly one ref per page of width*height*4 */
        uint32_t refs[4] = { 1, 2, 3, 4 };
        m.u.dump.type = GUI_DUMP_GRANT_REFS;
        m.u.dump.width = 32;
        m.u.dump.height = 32;      /* 4096 bytes: one page */
        m.data = (const uint8_t *) refs;
        m.data_len = 4;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), 0);
        ck_assert_uint_eq(back.data_len, 4);
        m.data_len = 8;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
        /* a memfd dump carries nothing after its header */
        m.u.dump.type = GUI_DUMP_MEMFD;
        m.data_len = 4;
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), -EBADMSG);
}
END_TEST

START_TEST(test_versions) {
        uint32_t v = 0;
        ck_assert_int_eq(gui_negotiate_version(0x00010008, &v), 0);
        ck_assert_uint_eq(v, 0x00010008);
        ck_assert_int_eq(gui_negotiate_version(0x00010009, &v), 0);     /* Odyssey's screen buffer */
        ck_assert_uint_eq(v, 0x00010009);
        ck_assert_int_eq(gui_negotiate_version(0x0001000a, &v), 0);     /* newer minor: ours */
        ck_assert_uint_eq(v, GUI_PROTOCOL_VERSION);
        ck_assert_int_eq(gui_negotiate_version(0x00010005, &v), 0);
        ck_assert_uint_eq(v, 0x00010005);
        ck_assert_int_eq(gui_negotiate_version(0x00010003, &v), -EPROTONOSUPPORT);
        ck_assert_int_eq(gui_negotiate_version(0x00020008, &v), -EPROTONOSUPPORT);
        ck_assert_int_eq(gui_negotiate_version(0, &v), -EPROTONOSUPPORT);
        ck_assert_int_eq(gui_check_daemon_version(0x00010008), 0);
        ck_assert_int_eq(gui_check_daemon_version(0x00010009), 0);
        ck_assert_int_eq(gui_check_daemon_version(0x0001000a), -EPROTONOSUPPORT);
        ck_assert_int_eq(gui_check_daemon_version(0x00010003), -EPROTONOSUPPORT);

        uint8_t buf[GUI_XCONF_SIZE];
        struct gui_xconf c = { 1920, 1080, 24, 8101 }, back;
        gui_encode_xconf(buf, &c);
        gui_decode_xconf(buf, &back);
        ck_assert_mem_eq(&c, &back, sizeof(c));
}
END_TEST

START_TEST(test_titles) {
        char in[GUI_TITLE_SIZE], out[GUI_TITLE_SIZE];

        memset(in, 0, sizeof(in));
        strcpy(in, "ok \x1b[31mred\x7f\t");
        gui_sanitize_title(in, false, out);
        ck_assert_str_eq(out, "ok _[31mred__");

        /* UTF-8 refused unless allowed; allowed only when valid */
        strcpy(in, "caf\xc3\xa9");
        gui_sanitize_title(in, false, out);
        ck_assert_str_eq(out, "caf__");
        gui_sanitize_title(in, true, out);
        ck_assert_str_eq(out, "caf\xc3\xa9");
        strcpy(in, "over\xc0\xaflong");
        gui_sanitize_title(in, true, out);
        ck_assert_str_eq(out, "over__long");
        strcpy(in, "surrogate\xed\xa0\x80");
        gui_sanitize_title(in, true, out);
        ck_assert_str_eq(out, "surrogate___");
        /* C1 controls and bidi overrides are replaced even in UTF-8 mode */
        strcpy(in, "a\xc2\x9b" "b\xe2\x80\xae" "c");
        gui_sanitize_title(in, true, out);
        ck_assert_str_eq(out, "a_b_c");

        /* no NUL in 128 bytes: cut at 127 */
        memset(in, 'x', sizeof(in));
        gui_sanitize_title(in, false, out);
        ck_assert_uint_eq(strlen(out), GUI_TITLE_SIZE - 1);

        ck_assert(utf8_valid("\xf4\x8f\xbf\xbf", 4));
        ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
        ck_assert(!utf8_valid("\xe2\x82", 2));            /* truncated */
}
END_TEST

START_TEST(test_classes) {
        char in[GUI_CLASS_SIZE], out[GUI_CLASS_SIZE];
        memset(in, 'A', sizeof(in));
        gui_sanitize_class(in, out);
        ck_assert_uint_eq(strlen(out), GUI_CLASS_SIZE - 1);
        memset(in, 0, sizeof(in));
        strcpy(in, "XTerm\n\xc3\xa9");
        gui_sanitize_class(in, out);
        ck_assert_str_eq(out, "XTerm___");
}
END_TEST

/* A stream cut anywhere: the framer asks for exactly the missing bytes and
 * refuses a bad header before its body. */
START_TEST(test_framing) {
        struct gui_msg m = { .type = GUI_MSG_CONFIGURE, .window = 7 };
        uint8_t buf[64];
        struct gui_header h;
        size_t missing = 0;
        int n = gui_encode(&m, buf, sizeof(buf));
        ck_assert_int_eq(n, GUI_HEADER_SIZE + 20);

        ck_assert_int_eq(gui_frame(buf, 0, GUI_FROM_AGENT, &h, &missing), 0);
        ck_assert_uint_eq(missing, GUI_HEADER_SIZE);
        ck_assert_int_eq(gui_frame(buf, 5, GUI_FROM_AGENT, &h, &missing), 0);
        ck_assert_uint_eq(missing, GUI_HEADER_SIZE - 5);
        ck_assert_int_eq(gui_frame(buf, GUI_HEADER_SIZE + 3, GUI_FROM_AGENT, &h, &missing), 0);
        ck_assert_uint_eq(missing, 17);
        ck_assert_int_eq(gui_frame(buf, (size_t) n, GUI_FROM_AGENT, &h, &missing), n);
        ck_assert_uint_eq(h.window, 7);
        /* an agent-only message from guid, a lying length, a daemon-only
         * type from the agent: refused at once, body not awaited */
        m.type = GUI_MSG_CREATE;
        ck_assert_int_gt(gui_encode(&m, buf, sizeof(buf)), 0);
        ck_assert_int_eq(gui_frame(buf, GUI_HEADER_SIZE, GUI_FROM_DAEMON, &h, &missing), -EBADMSG);
        ck_assert_int_eq(gui_frame(buf, GUI_HEADER_SIZE, GUI_FROM_AGENT, &h, &missing), 0);
        le32_store(buf + 8, 0x7fffffff);
        ck_assert_int_eq(gui_frame(buf, GUI_HEADER_SIZE, GUI_FROM_AGENT, &h, &missing), -EBADMSG);
        le32_store(buf, GUI_MSG_KEYPRESS);
        le32_store(buf + 8, 20);
        ck_assert_int_eq(gui_frame(buf, GUI_HEADER_SIZE, GUI_FROM_AGENT, &h, &missing), -EBADMSG);
}
END_TEST

/* Odyssey's 1.9 messages: exact bytes, agent only, exact lengths. */
START_TEST(test_screen_messages) {
        static const uint8_t expected[] = {
                150, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0,
                0x80, 7, 0, 0, 0x38, 4, 0, 0, 0, 0x1e, 0, 0, 0xa0, 0x0c, 0, 0 };
        struct gui_msg m = { .type = GUI_MSG_SCREEN_BUFFER }, back;
        uint8_t buf[64];

        m.u.screen_buffer.width = 1920;
        m.u.screen_buffer.height = 1080;
        m.u.screen_buffer.stride = 7680;
        m.u.screen_buffer.offset = 3232;
        ck_assert_int_eq(gui_encode(&m, buf, sizeof(buf)), (int) sizeof(expected));
        ck_assert_mem_eq(buf, expected, sizeof(expected));
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), 0);
        ck_assert_mem_eq(&back.u.screen_buffer, &m.u.screen_buffer, sizeof(m.u.screen_buffer));
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_DAEMON, buf, sizeof(buf), &back), -EBADMSG);

        m = (struct gui_msg) { .type = GUI_MSG_SCREEN_IMAGE, .window = 0x400001 };
        m.u.screen_image.x = 1;
        m.u.screen_image.y = 2;
        m.u.screen_image.width = 3;
        m.u.screen_image.height = 4;
        m.u.screen_image.screen_x = 5;
        m.u.screen_image.screen_y = 6;
        ck_assert_int_eq(gui_encode(&m, buf, sizeof(buf)), GUI_HEADER_SIZE + 24);
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_AGENT, buf, sizeof(buf), &back), 0);
        ck_assert_uint_eq(back.window, 0x400001);
        ck_assert_mem_eq(&back.u.screen_image, &m.u.screen_image, sizeof(m.u.screen_image));
        ck_assert_int_eq(roundtrip(&m, GUI_FROM_DAEMON, buf, sizeof(buf), &back), -EBADMSG);
        ck_assert_str_eq(gui_msg_type_to_string(GUI_MSG_SCREEN_IMAGE), "SCREEN_IMAGE");

        /* a body one word short or long is refused */
        struct gui_header h = { GUI_MSG_SCREEN_IMAGE, 1, 20 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
        h.untrusted_len = 28;
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
        h = (struct gui_header) { GUI_MSG_SCREEN_BUFFER, 0, 12 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
        h = (struct gui_header) { GUI_MSG_SCREEN_IMAGE + 1, 0, 0 };
        ck_assert_int_eq(gui_check_header(&h, GUI_FROM_AGENT), -EBADMSG);
}
END_TEST

static Suite *make_suite(void) {
        Suite *s = suite_create("gui-codec");
        TCase *tc = tcase_create("codec");
        tcase_add_test(tc, test_create_bytes);
        tcase_add_test(tc, test_every_fixed_type_roundtrips);
        tcase_add_test(tc, test_direction_enforced);
        tcase_add_test(tc, test_refused_headers);
        tcase_add_test(tc, test_clipboard_limits);
        tcase_add_test(tc, test_window_dump);
        tcase_add_test(tc, test_versions);
        tcase_add_test(tc, test_titles);
        tcase_add_test(tc, test_classes);
        tcase_add_test(tc, test_framing);
        tcase_add_test(tc, test_screen_messages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(make_suite());
}
