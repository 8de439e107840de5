/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-vchan-mux against peers that misbehave or go away: a hostile
 * guest speaking raw frames to the host mux (which must exit, removing its
 * mirrors), a guest whose mux starts again (a new session on the host), a
 * host that goes and comes back or sends garbage (the guest mux carries
 * on), the host's --connect transport waiting and giving up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-helpers.h"
#include "util.h"
#include "vchan-mux-helpers.h"
#include "vchan-mux.h"
#include "vchan.h"

#define MIB (1024u * 1024u)

/* Names as the two sides see them (guest domid 7). */
#define GUEST_SERVES "vchan.7.3.513.sock"       /* a server of the guest, for domain 3 */
#define HOST_SERVES "vchan.0.7.514.sock"        /* a server in the guest's host dir */

/* ---- a hostile guest ---- */

struct hostile_case {
        const char *what;
        uint8_t frames[80];
        size_t len;
};

static void put_frame(uint8_t *p, size_t *len, uint8_t type, uint8_t flags, uint16_t stream, uint32_t length,
                      const void *payload, size_t payload_len) {
        p[*len] = type;
        p[*len + 1] = flags;
        le16_store(p + *len + 2, stream);
        le32_store(p + *len + 4, length);
        if (payload_len)
                memcpy(p + *len + 8, payload, payload_len);
        *len += 8 + payload_len;
}

static int hostile_fd;
static pid_t hostile_host;

static void send_all(int fd, const void *p, size_t n) {
        ck_assert_int_eq(write_full(fd, p, n), 0);
}

/* Read one HELLO of the given session from fd. */
static void expect_hello(int fd, uint32_t session) {
        uint8_t hello[VMUX_HELLO_SIZE], want[VMUX_HELLO_SIZE];

        vmux_hello_encode(want, session);
        ck_assert_int_eq(read_full(fd, hello, sizeof(hello)), 0);
        ck_assert_msg(memcmp(hello, want, sizeof(want)) == 0, "not HELLO(%08x): type %u, session %08x", session,
                      hello[0], le32_load(hello + 12));
}

/* A host mux on a socketpair, its HELLO(0) read: our end. */
static int start_hostile_host(void) {
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        hostile_host = mux_spawn_host(sv[0]);
        expect_hello(sv[1], 0);
        return sv[1];
}

static void put_hello(uint8_t *p, size_t *len, uint32_t session) {
        vmux_hello_encode(p + *len, session);
        *len += VMUX_HELLO_SIZE;
}

static void hostile_setup(void) {
        uint8_t frames[64];
        size_t len = 0;

        mux_setup();
        hostile_fd = start_hostile_host();
        put_hello(frames, &len, 0x1234);
        put_frame(frames, &len, VMUX_LISTEN, 0, 0, strlen(GUEST_SERVES), GUEST_SERVES, strlen(GUEST_SERVES));
        send_all(hostile_fd, frames, len);
        expect_mirror(mux_host_dir, GUEST_SERVES);
}

static void hostile_teardown(void) {
        if (hostile_fd >= 0)
                close(hostile_fd);
        hostile_fd = -1;
        mux_teardown();
}

static void expect_host_refused(const char *what) {
        char log[PATH_MAX];
        int status;

        snprintf(log, sizeof(log), "%s/host.log", mux_tmp);
        status = mux_wait_exit(hostile_host, MUX_WAIT_MS);
        ck_assert_msg(status > 0 && status < 128, "%s: host mux exit status %d", what, status);
        ck_assert_msg(!wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), true, 0), "%s: mirror left", what);
        ck_assert_msg(file_contains(log, "Protocol violation"), "%s: no reason logged", what);
}

#define N_NAMED_CASES 10

static void named_case(int i, uint8_t *p, size_t *len, const char **what) {
        static const uint8_t garbage[] = "GET / HTTP/1.1\r\n\r\n";
        uint8_t four[4] = { 1, 0, 0, 0 };

        switch (i) {
        case 0:
                *what = "bad name";
                put_frame(p, len, VMUX_LISTEN, 0, 0, 19, "vchan.7.3.0513.sock", 19);
                break;
        case 1:
                *what = "wrong domid";
                put_frame(p, len, VMUX_LISTEN, 0, 0, 18, "vchan.8.3.513.sock", 18);
                break;
        case 2:
                *what = "oversize length";
                put_frame(p, len, VMUX_DATA, 0, 1, VMUX_DATA_MAX + 1, NULL, 0);
                break;
        case 3:
                *what = "unknown type";
                put_frame(p, len, 99, 0, 0, 0, NULL, 0);
                break;
        case 4:
                *what = "nonzero flags";
                put_frame(p, len, VMUX_CLOSE, 1, 1, 0, NULL, 0);
                break;
        case 5:
                *what = "data for an unknown stream";
                put_frame(p, len, VMUX_DATA, 0, 3, 4, four, 4);
                break;
        case 6:
                *what = "garbage";
                memcpy(p, garbage, sizeof(garbage));
                *len = sizeof(garbage);
                break;
        case 7:
                *what = "LISTEN of an existing mirror";
                put_frame(p, len, VMUX_LISTEN, 0, 0, strlen(GUEST_SERVES), GUEST_SERVES, strlen(GUEST_SERVES));
                break;
        case 8:
                *what = "HELLO of session 0";
                put_hello(p, len, 0);
                break;
        case 9:
                *what = "HELLO of the old version";
                put_frame(p, len, VMUX_HELLO, 0, 0, 4, four, 4);
                break;
        }
}

START_TEST(hostile_frame) {
        uint8_t frames[128];
        size_t len = 0;
        const char *what = NULL;

        named_case(_i, frames, &len, &what);
        send_all(hostile_fd, frames, len);
        expect_host_refused(what);
}
END_TEST

START_TEST(hostile_open_with_host_parity) {
        uint8_t frames[64];
        size_t len = 0;
        int l = listen_at(mux_host_dir, HOST_SERVES);

        put_frame(frames, &len, VMUX_OPEN, 0, 2, strlen(HOST_SERVES), HOST_SERVES, strlen(HOST_SERVES));
        send_all(hostile_fd, frames, len);
        expect_host_refused("OPEN of an even stream");
        close(l);
}
END_TEST

START_TEST(hostile_data_past_credit) {
        _cleanup_free_ uint8_t *frame = calloc(1, VMUX_FRAME_MAX);
        uint8_t open[64];
        size_t len = 0;
        int l = listen_at(mux_host_dir, HOST_SERVES);

        put_frame(open, &len, VMUX_OPEN, 0, 1, strlen(HOST_SERVES), HOST_SERVES, strlen(HOST_SERVES));
        send_all(hostile_fd, open, len);
        /* Nobody accepts on l, and we read none of the host's CREDIT: once
         * the socket's buffer and the window are full, the next DATA is past
         * the credit the host granted.  (Sending stops when the host is gone.) */
        len = 0;
        put_frame(frame, &len, VMUX_DATA, 0, 1, VMUX_DATA_MAX, frame + 8, 0);
        for (unsigned i = 0; i < 64; i++)
                if (write_full(hostile_fd, frame, VMUX_FRAME_MAX) < 0)
                        break;
        expect_host_refused("DATA past credit");
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "past the granted credit"));
        close(l);
}
END_TEST

START_TEST(hostile_frame_before_hello) {
        uint8_t frames[64];
        size_t len = 0;
        int fd;

        mux_setup();
        fd = start_hostile_host();
        put_frame(frames, &len, VMUX_LISTEN, 0, 0, strlen(GUEST_SERVES), GUEST_SERVES, strlen(GUEST_SERVES));
        send_all(fd, frames, len);
        int status = mux_wait_exit(hostile_host, MUX_WAIT_MS);
        ck_assert_msg(status > 0 && status < 128, "exit status %d", status);
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "before HELLO"));
        close(fd);
        mux_teardown();
}
END_TEST

/* Random, mostly well-formed frames after HELLO (names of either side,
 * small stream ids of both parities, lengths right or off by one): the host
 * mux refuses or survives, never crashes, and leaves no mirror behind. */
START_TEST(hostile_random_frames) {
        static const char *const names[] = { GUEST_SERVES, HOST_SERVES, "vchan.7.4.600.sock", "vchan.8.7.1.sock" };
        _cleanup_free_ uint8_t *buf = malloc(1 << 20);
        uint32_t seed = 0x9e3779b9u * (uint32_t) (_i + 1);
        size_t len = 0;
        int l = listen_at(mux_host_dir, HOST_SERVES);

        ck_assert_ptr_nonnull(buf);
        for (int k = 0; k < 200 && len < (1 << 20) - VMUX_FRAME_MAX; k++) {
                seed = seed * 1103515245u + 12345u;
                uint8_t type = (uint8_t) (1 + (seed >> 16) % 8);
                uint16_t stream = (uint16_t) ((seed >> 8) % 6);
                const char *name = names[(seed >> 4) % 4];
                uint8_t four[4];
                le32_store(four, 1 + (seed >> 20) % VMUX_WINDOW);
                switch (type) {
                case VMUX_LISTEN: case VMUX_UNLISTEN: case VMUX_OPEN:
                        put_frame(buf, &len, type, 0, type == VMUX_OPEN ? stream : 0, strlen(name), name, strlen(name));
                        break;
                case VMUX_DATA: {
                        uint32_t n = 1 + (seed >> 12) % 70000;
                        if (n > VMUX_DATA_MAX && (seed & 1))
                                n = VMUX_DATA_MAX;
                        put_frame(buf, &len, type, 0, stream, n, NULL, 0);
                        len += n <= VMUX_DATA_MAX ? n : 0;
                        break;
                }
                case VMUX_HELLO:
                        put_hello(buf, &len, (seed >> 8) % 3);
                        break;
                case VMUX_CREDIT:
                        put_frame(buf, &len, type, 0, stream, 4, four, 4);
                        break;
                default:
                        put_frame(buf, &len, type, 0, stream, 0, NULL, 0);
                }
        }
        for (size_t off = 0; off < len;) {
                ssize_t n = send(hostile_fd, buf + off, len - off, MSG_NOSIGNAL);
                if (n <= 0)
                        break;  /* refused and gone */
                off += (size_t) n;
        }
        close(hostile_fd);
        hostile_fd = -1;
        int status = mux_wait_exit(hostile_host, MUX_WAIT_MS);
        ck_assert_msg(status == 0 || status == 1, "host mux ended with %d", status);
        ck_assert(!wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), true, 0));
        ck_assert(!wait_for_file(mux_path(mux_host_dir, "vchan.7.4.600.sock"), true, 0));
        close(l);
}
END_TEST

/* ---- a guest whose mux starts again ---- */

/* The local end of a relayed stream is closed: EOF (after any bytes still
 * queued) or a reset, within MUX_WAIT_MS. */
static bool ends_soon(int fd) {
        char buf[4096];

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, MUX_WAIT_MS) != 1)
                        return false;
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return true;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return false;
        }
}

/* Frames from the host until a HELLO of `session`; false at EOF. */
static bool read_until_hello(int fd, uint32_t session) {
        _cleanup_free_ uint8_t *payload = malloc(VMUX_DATA_MAX);
        uint8_t h[VMUX_HEADER_SIZE];

        ck_assert_ptr_nonnull(payload);
        for (;;) {
                if (read_full(fd, h, sizeof(h)) < 0 || le32_load(h + 4) > VMUX_DATA_MAX ||
                    read_full(fd, payload, le32_load(h + 4)) < 0)
                        return false;
                if (h[0] == VMUX_HELLO && le32_load(h + 4) == 8 && le32_load(payload + 4) == session)
                        return true;
        }
}

/* A second HELLO from the guest: the host closes the old session's streams
 * (their local sockets end), removes its mirrors, answers the HELLO,
 * announces its servers again, and serves the new session, which may use
 * the old session's stream ids. */
START_TEST(second_hello_starts_a_new_session) {
        uint8_t frames[128];
        size_t len = 0;
        int l = listen_at(mux_host_dir, HOST_SERVES);

        put_frame(frames, &len, VMUX_OPEN, 0, 1, strlen(HOST_SERVES), HOST_SERVES, strlen(HOST_SERVES));
        send_all(hostile_fd, frames, len);
        int old = accept_one(l, MUX_WAIT_MS);
        ck_assert_int_ge(old, 0);

        len = 0;
        put_hello(frames, &len, 0x5678);
        send_all(hostile_fd, frames, len);
        ck_assert_msg(ends_soon(old), "the old session's stream is still open on the host");
        ck_assert_msg(wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), false, MUX_WAIT_MS),
                      "the old session's mirror is still there");
        ck_assert_msg(read_until_hello(hostile_fd, 0x5678), "no HELLO(5678) from the host");
        uint8_t h[VMUX_HEADER_SIZE];
        char name[VMUX_NAME_MAX + 1] = "";
        ck_assert_int_eq(read_full(hostile_fd, h, sizeof(h)), 0);
        ck_assert_int_eq(h[0], VMUX_LISTEN);
        ck_assert_uint_le(le32_load(h + 4), VMUX_NAME_MAX);
        ck_assert_int_eq(read_full(hostile_fd, name, le32_load(h + 4)), 0);
        ck_assert_str_eq(name, HOST_SERVES);

        len = 0;
        put_frame(frames, &len, VMUX_LISTEN, 0, 0, strlen(GUEST_SERVES), GUEST_SERVES, strlen(GUEST_SERVES));
        put_frame(frames, &len, VMUX_OPEN, 0, 1, strlen(HOST_SERVES), HOST_SERVES, strlen(HOST_SERVES));
        send_all(hostile_fd, frames, len);
        expect_mirror(mux_host_dir, GUEST_SERVES);
        int again = accept_one(l, MUX_WAIT_MS);
        ck_assert_msg(again >= 0, "stream 1 of the new session not relayed");
        ck_assert_int_eq(mux_wait_exit(hostile_host, 0), -1);
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "started again"));
        close(again);
        close(old);
        close(l);
}
END_TEST

/* A real guest mux killed and started again on the same transport, with
 * the host's bytes for the old one still in it: the host mux stays, the old
 * streams end on both sides, and calls work both ways again. */
START_TEST(guest_mux_killed_and_restarted) {
        char domid[16], log[PATH_MAX];
        int sv[2], c, s;

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(log, sizeof(log), "%s/guest.log", mux_tmp);
        const char *guest_args[] = { "--side", "guest", "--domid", domid, "--dir", mux_guest_dir, NULL };
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid_t host = mux_spawn_host(sv[0]);
        pid_t guest = mux_spawn(guest_args, sv[1], log);       /* sv[1] stays ours: the "port" */
        int guest_real = serve_mirrored(mux_guest_dir, mux_host_dir, GUEST_SERVES);
        int host_real = serve_mirrored(mux_host_dir, mux_guest_dir, HOST_SERVES);

        open_relayed(guest_real, mux_host_dir, GUEST_SERVES, &c, &s);
        struct pollfd pfd = { .fd = c, .events = POLLIN };
        char byte = 0;
        ck_assert_int_eq(write(s, "x", 1), 1);
        ck_assert_int_eq(poll(&pfd, 1, MUX_WAIT_MS), 1);
        ck_assert_int_eq(read(c, &byte, 1), 1);
        ck_assert_int_eq(byte, 'x');
        ck_assert_int_eq(kill(guest, SIGKILL), 0);
        ck_assert_int_eq(mux_wait_exit(guest, MUX_WAIT_MS), 128 + SIGKILL);
        /* The host relays these to a guest mux that is gone: stale bytes
         * (cut anywhere) the next one must skip. */
        static const char stale[4096];
        ck_assert_int_eq(write_full(c, stale, sizeof(stale)), 0);
        close(s);

        guest = mux_spawn(guest_args, sv[1], log);
        ck_assert_msg(ends_soon(c), "the host kept the old session's stream");
        close(c);
        for (int round = 0; round < 2; round++) {
                int real = round ? host_real : guest_real;
                const char *mirror_dir = round ? mux_guest_dir : mux_host_dir, *name = round ? HOST_SERVES : GUEST_SERVES;

                /* The mirror is there (the new mux re-created it, or the host
                 * kept none and made it again); connect until one is relayed. */
                expect_mirror(mirror_dir, name);
                open_relayed(real, mirror_dir, name, &c, &s);
                ck_assert_msg(pump_pairs(1, &c, &s, MIB, MUX_WAIT_MS), "round %d: no relay in the new session", round);
                close(c);
                close(s);
        }
        ck_assert_int_eq(mux_wait_exit(host, 0), -1);
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "started again"));
        close(guest_real);
        close(host_real);
        close(sv[1]);
}
END_TEST

/* ---- the guest keeps going when its host comes and goes ---- */

START_TEST(guest_waits_for_host_again) {
        char domid[16], log[PATH_MAX];
        int transport = listen_at(mux_tmp, "vchan.0.0.1.sock");      /* any name: a "chardev" */
        int real = listen_at(mux_guest_dir, GUEST_SERVES);

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(log, sizeof(log), "%s/guest.log", mux_tmp);
        const char *args[] = { "--side", "guest", "--domid", domid, "--dir", mux_guest_dir, "--connect",
                               mux_path(mux_tmp, "vchan.0.0.1.sock"), NULL };
        pid_t guest = mux_spawn(args, -1, log);

        for (int round = 0; round < 3; round++) {
                int conn = accept_one(transport, MUX_WAIT_MS);
                ck_assert_msg(conn >= 0, "round %d: the guest did not connect", round);
                pid_t host = mux_spawn_host(conn);

                int c, s;
                expect_mirror(mux_host_dir, GUEST_SERVES);
                open_relayed(real, mux_host_dir, GUEST_SERVES, &c, &s);
                ck_assert(pump_pairs(1, &c, &s, MIB, MUX_WAIT_MS));
                close(c);
                close(s);

                ck_assert_int_eq(kill(host, SIGTERM), 0);
                ck_assert_int_eq(mux_wait_exit(host, MUX_WAIT_MS), 0);
                ck_assert(!wait_for_file(mux_path(mux_host_dir, GUEST_SERVES), true, 0));
        }
        ck_assert_int_eq(mux_wait_exit(guest, 0), -1);  /* still there, waiting */
        close(transport);
        close(real);
}
END_TEST

/* A host that sends garbage: the guest drops it, connects again, and
 * serves the next (real) host. */
START_TEST(guest_survives_a_garbage_host) {
        char domid[16], path[PATH_MAX];
        int transport = listen_at(mux_tmp, "chardev.sock");
        int real = listen_at(mux_guest_dir, GUEST_SERVES);
        uint8_t hello[VMUX_HELLO_SIZE];
        static const char garbage[] = "GARBAGE GARBAGE";

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(path, sizeof(path), "%s", mux_path(mux_tmp, "chardev.sock"));   /* mux_path()'s buffer is reused */
        const char *args[] = { "--side", "guest", "--domid", domid, "--dir", mux_guest_dir, "--connect", path, NULL };
        pid_t guest = mux_spawn(args, -1, mux_path(mux_tmp, "guest.log"));

        int bad = accept_one(transport, MUX_WAIT_MS);
        ck_assert_int_ge(bad, 0);
        ck_assert_int_eq(fcntl(bad, F_SETFL, 0), 0);
        ck_assert_int_eq(read_full(bad, hello, sizeof(hello)), 0);
        ck_assert_int_eq(hello[0], VMUX_HELLO);
        /* Before the echo of its session the guest skips bytes: answer it first. */
        send_all(bad, hello, sizeof(hello));
        send_all(bad, garbage, sizeof(garbage) - 1);
        /* It hangs up on us and comes back. */
        int good = accept_one(transport, MUX_WAIT_MS);
        ck_assert_msg(good >= 0, "the guest did not come back");
        close(bad);
        mux_spawn_host(good);
        int c, s;
        expect_mirror(mux_host_dir, GUEST_SERVES);
        open_relayed(real, mux_host_dir, GUEST_SERVES, &c, &s);
        ck_assert(pump_pairs(1, &c, &s, MIB, MUX_WAIT_MS));
        ck_assert_int_eq(mux_wait_exit(guest, 0), -1);
        ck_assert(file_contains(mux_path(mux_tmp, "guest.log"), "Protocol violation by the host"));
        close(c);
        close(s);
        close(transport);
        close(real);
}
END_TEST

/* ---- the host's transport by --connect ---- */

START_TEST(host_connect_waits_for_the_socket) {
        char domid[16], path[PATH_MAX];

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(path, sizeof(path), "%s", mux_path(mux_tmp, "chardev.sock"));
        const char *args[] = { "--side", "host", "--domid", domid, "--dir", mux_host_dir, "--connect", path, NULL };
        pid_t host = mux_spawn(args, -1, mux_path(mux_tmp, "host.log"));

        /* Not there yet: the host keeps trying (it has not given up either). */
        ck_assert_int_eq(mux_wait_exit(host, 300), -1);
        int l = listen_at(mux_tmp, "chardev.sock");
        int fd = accept_one(l, MUX_WAIT_MS);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fcntl(fd, F_SETFL, 0), 0);
        expect_hello(fd, 0);
        close(fd);      /* QEMU gone: the host side ends, status 0 */
        ck_assert_int_eq(mux_wait_exit(host, MUX_WAIT_MS), 0);
        close(l);
}
END_TEST

START_TEST(host_connect_gives_up) {
        char domid[16], path[PATH_MAX];

        snprintf(domid, sizeof(domid), "%d", MUX_GUEST_DOMID);
        snprintf(path, sizeof(path), "%s", mux_path(mux_tmp, "nothing.sock"));
        const char *args[] = { "--side", "host", "--domid", domid, "--dir", mux_host_dir, "--connect", path,
                               "--timeout", "1", NULL };
        pid_t host = mux_spawn(args, -1, mux_path(mux_tmp, "host.log"));

        ck_assert_int_eq(mux_wait_exit(host, MUX_WAIT_MS), 1);
        ck_assert(file_contains(mux_path(mux_tmp, "host.log"), "Timed out"));
}
END_TEST

static Suite *vchan_mux_peers_suite(void) {
        Suite *s = suite_create("vchan-mux-peers");
        TCase *tc;

        tc = tcase_create("hostile-guest");
        tcase_add_checked_fixture(tc, hostile_setup, hostile_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, hostile_frame, 0, N_NAMED_CASES);
        tcase_add_test(tc, hostile_open_with_host_parity);
        tcase_add_test(tc, hostile_data_past_credit);
        tcase_add_loop_test(tc, hostile_random_frames, 0, 20);
        tcase_add_test(tc, second_hello_starts_a_new_session);
        suite_add_tcase(s, tc);

        tc = tcase_create("guest-restart");
        tcase_add_checked_fixture(tc, mux_setup, mux_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, guest_mux_killed_and_restarted);
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile-guest-raw");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, hostile_frame_before_hello);
        suite_add_tcase(s, tc);

        tc = tcase_create("reconnect");
        tcase_add_checked_fixture(tc, mux_setup, mux_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, guest_waits_for_host_again);
        tcase_add_test(tc, guest_survives_a_garbage_host);
        tcase_add_test(tc, host_connect_waits_for_the_socket);
        tcase_add_test(tc, host_connect_gives_up);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(vchan_mux_peers_suite());
}
