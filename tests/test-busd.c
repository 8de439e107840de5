/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd between local daemons: the real busd binary, clients that connect
 * with the uids of their roles (see busd-harness.h).  Runs as root.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "check-helpers.h"
#include "busd-harness.h"
#include "util.h"

#define SEC BUS_CLIENT_USEC_PER_SEC

static struct busd_harness h;

static void connect_ok(uid_t uid, struct bus_client **ret) {
        ck_assert_int_eq(harness_connect(&h, uid, ret), 0);
}

START_TEST(test_welcome_gives_role_and_peer_id) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL, *policyd = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_close_ int raw = -1;

        harness_start(&h, NULL);
        connect_ok(UID_QUBESD, &qubesd);
        connect_ok(UID_POLICYD, &policyd);
        ck_assert_int_eq(bus_client_role(qubesd), BUS_ROLE_QUBESD);
        ck_assert_uint_eq(bus_client_peer_id(qubesd), BUS_PEER_ROLE(BUS_ROLE_QUBESD));
        ck_assert_int_eq(bus_client_role(policyd), BUS_ROLE_POLICYD);
        ck_assert_uint_eq(bus_client_peer_id(policyd), BUS_PEER_ROLE(BUS_ROLE_POLICYD));

        /* The WELCOME datagram itself, as busd wrote it. */
        raw = harness_connect_raw(&h, UID_GUID);
        ck_assert_int_eq(raw_recv_msg(raw, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_WELCOME);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_BUSD);
        ck_assert_uint_eq(m->u.welcome.version, BUS_PROTOCOL_VERSION);
        ck_assert_uint_eq(m->u.welcome.role, BUS_ROLE_GUID);
        ck_assert_uint_eq(m->u.welcome.peer, BUS_PEER_ROLE(BUS_ROLE_GUID));
        harness_stop(&h);
}
END_TEST

/* The device:inode of the spin slots page mapped in pid, or "" when none is. */
static void spin_slots_mapping(pid_t pid, char *ret, size_t size) {
        char path[64], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ret[0] = 0;
        while (fgets(line, sizeof(line), f)) {
                char dev[32];
                unsigned long inode;
                if (strstr(line, "odyssey-spin-slots") &&
                    sscanf(line, "%*s %*s %*s %31s %lu", dev, &inode) == 2)
                        snprintf(ret, size, "%s:%lu", dev, inode);
        }
        fclose(f);
}

/* busd hands every daemon the page of spin slots with WELCOME: the daemon
 * maps the very page busd polls by (spin-slots.h). */
START_TEST(test_welcome_shares_spin_slots) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        char busd_page[64], our_page[64];

        harness_start(&h, NULL);
        spin_slots_mapping(h.pid, busd_page, sizeof(busd_page));
        ck_assert_str_ne(busd_page, "");
        spin_slots_mapping(getpid(), our_page, sizeof(our_page));
        ck_assert_str_eq(our_page, "");
        connect_ok(UID_QUBESD, &qubesd);
        spin_slots_mapping(getpid(), our_page, sizeof(our_page));
        ck_assert_str_eq(our_page, busd_page);
        assert_ping(qubesd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_ping_pong_keeps_token_and_request_id) {
        _cleanup_bus_client_ struct bus_client *guid = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_close_ int raw = -1;
        struct bus_msg_ping ping = { .token = UINT64_C(0x1122334455667788) };

        harness_start(&h, NULL);
        raw = harness_connect_raw(&h, UID_POLICYD);
        ck_assert_int_eq(raw_recv_msg(raw, 2000, m), 0);                /* WELCOME */
        raw_send_msg(raw, BUS_MSG_PING, BUS_PEER_NONE, 0xabcdef01, &ping);
        ck_assert_int_eq(raw_recv_msg(raw, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_PONG);
        ck_assert_uint_eq(m->hdr.request_id, 0xabcdef01);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_BUSD);
        ck_assert(m->u.pong.token == ping.token);

        connect_ok(UID_GUID, &guid);
        assert_ping(guid);
        harness_stop(&h);
}
END_TEST

START_TEST(test_echo_routed_with_stamped_source) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        _cleanup_free_ struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        _cleanup_close_ int policyd = -1, guid = -1;

        harness_start(&h, NULL);
        connect_ok(UID_QUBESD, &qubesd);
        policyd = harness_connect_raw(&h, UID_POLICYD);
        guid = harness_connect_raw(&h, UID_GUID);
        ck_assert_int_eq(raw_recv_msg(policyd, 2000, m), 0);            /* WELCOME */
        ck_assert_int_eq(raw_recv_msg(guid, 2000, m), 0);

        /* guid addresses policyd; policyd must see guid's id, whatever guid wrote. */
        req->data_len = 64;
        memset(req->data, 0x5a, 64);
        raw_send_msg(guid, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 77, req);
        ck_assert_int_eq(raw_recv_msg(policyd, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_GUID));
        ck_assert_uint_eq(m->hdr.request_id, 77);
        ck_assert_uint_eq(m->u.echo_request.data_len, 64);
        ck_assert_int_eq(memcmp(m->u.echo_request.data, req->data, 64), 0);

        /* policyd answers; the reply reaches guid stamped with policyd's id. */
        raw_send_msg(policyd, BUS_MSG_ECHO_REPLY, m->hdr.peer, m->hdr.request_id, &m->u.echo_request);
        ck_assert_int_eq(raw_recv_msg(guid, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REPLY);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_POLICYD));
        ck_assert_uint_eq(m->hdr.request_id, 77);

        /* qubesd through the client library, in both directions. */
        req->data_len = 5;
        raw_send_msg(guid, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_QUBESD), 78, req);
        ck_assert_int_eq(bus_client_receive(qubesd, 2 * SEC, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_GUID));
        ck_assert_int_eq(bus_client_reply(qubesd, m, BUS_MSG_ECHO_REPLY, &m->u.echo_request), 0);
        ck_assert_int_eq(raw_recv_msg(guid, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_QUBESD));
        ck_assert_uint_eq(m->hdr.request_id, 78);
        harness_stop(&h);
}
END_TEST

/* odyssey-busctl serve-echo as qrexec-policyd, odyssey-busctl echo and ping as qubesd. */
START_TEST(test_busctl_echo_between_processes) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        _cleanup_free_ struct bus_message *reply = message_new();
        struct bus_msg_echo_request *req = calloc(1, sizeof(*req));
        char busctl[512], line[256];
        int out, status;
        pid_t server, client;

        harness_start(&h, NULL);
        builddir_path("tools/odyssey-busctl", busctl, sizeof(busctl));
        const char *serve[] = { busctl, "--socket", h.socket_path, "serve-echo", NULL };
        server = spawn_as(UID_POLICYD, serve, &out);
        ck_assert(read_line(out, 5000, line, sizeof(line)));
        ck_assert_str_eq(line, "serving ECHO_REQUEST as qrexec-policyd (peer 0x102)");
        close(out);

        connect_ok(UID_QUBESD, &qubesd);
        req->data_len = 64;
        for (int i = 0; i < 64; i++)
                req->data[i] = (uint8_t) i;
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_POLICYD), req,
                                         2 * SEC, reply), 0);
        ck_assert_uint_eq(reply->hdr.type, BUS_MSG_ECHO_REPLY);
        ck_assert_uint_eq(reply->hdr.peer, BUS_PEER_ROLE(BUS_ROLE_POLICYD));
        ck_assert_uint_eq(reply->u.echo_reply.data_len, 64);
        ck_assert_int_eq(memcmp(reply->u.echo_reply.data, req->data, 64), 0);
        free(req);
        bus_client_free(TAKE_PTR(qubesd));      /* the tool connects as qubesd next: once busd saw it go */
        ck_assert(harness_log_contains(&h, "uid 0) disconnected"));

        const char *echo[] = { busctl, "--socket", h.socket_path, "echo", "--to", "qrexec-policyd",
                               "--count", "200", "--size", "100", NULL };
        client = spawn_as(UID_QUBESD, echo, &out);
        ck_assert(read_line(out, 10000, line, sizeof(line)));
        ck_assert_msg(strstr(line, "ECHO_REPLY from qrexec-policyd (peer 0x102): 200 round trips"), "%s", line);
        ck_assert_int_eq(waitpid(client, &status, 0), client);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(out);

        const char *ping[] = { busctl, "--socket", h.socket_path, "ping", NULL };
        client = spawn_as(UID_QUBESD, ping, &out);
        ck_assert(read_line(out, 10000, line, sizeof(line)));
        ck_assert_msg(strstr(line, "PONG from busd: time="), "%s", line);
        ck_assert_int_eq(waitpid(client, &status, 0), client);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(out);

        kill(server, SIGTERM);
        ck_assert_int_eq(waitpid(server, &status, 0), server);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        harness_stop(&h);
}
END_TEST

/* A connection that sent `what` is dropped; another peer goes on working. */
static void assert_dropped_others_fine(int offender, struct bus_client *witness, const char *reason) {
        ck_assert_msg(raw_closed_by_busd(offender, 2000), "busd did not drop the peer (%s)", reason);
        ck_assert_msg(harness_log_contains(&h, reason), "no '%s' in busd's log", reason);
        assert_ping(witness);
}

START_TEST(test_forbidden_types_and_directions_drop_sender) {
        _cleanup_bus_client_ struct bus_client *guid = NULL;
        _cleanup_free_ struct bus_message *m = message_new();
        struct bus_msg_welcome welcome = { .version = 1, .peer = 0x101, .role = BUS_ROLE_QUBESD };
        struct bus_msg_qrexec_trigger *trigger = calloc(1, sizeof(*trigger));
        struct bus_msg_domain_channel_open open_req = { .domid = 3 };
        int fd;

        harness_start(&h, NULL);
        connect_ok(UID_GUID, &guid);

        /* Only busd sends WELCOME. */
        fd = harness_connect_raw(&h, UID_POLICYD);
        raw_send_msg(fd, BUS_MSG_WELCOME, BUS_PEER_ROLE(BUS_ROLE_GUID), 0, &welcome);
        assert_dropped_others_fine(fd, guid, "Dropping qrexec-policyd (peer 0x102, pid");
        ck_assert(harness_log_contains(&h, "qrexec-policyd may not send WELCOME"));
        close(fd);

        /* Only a guest channel makes QREXEC_TRIGGER. */
        fd = harness_connect_raw(&h, UID_QUBESD);
        strcpy(trigger->service, "qubes.Filecopy");
        raw_send_msg(fd, BUS_MSG_QREXEC_TRIGGER, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0, trigger);
        assert_dropped_others_fine(fd, guid, "qubesd may not send QREXEC_TRIGGER");
        close(fd);
        free(trigger);

        /* Only qubesd opens domain channels. */
        fd = harness_connect_raw(&h, UID_NETVM_MGR);
        raw_send_msg(fd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, 0, &open_req);
        assert_dropped_others_fine(fd, guid, "netvm-mgr may not send DOMAIN_CHANNEL_OPEN");
        close(fd);

        /* ECHO is for daemons: not to busd, not to a guest, and it names its receiver. */
        struct bus_msg_echo_request echo = { .data_len = 1 };
        fd = harness_connect_raw(&h, UID_POLICYD);
        raw_send_msg(fd, BUS_MSG_ECHO_REQUEST, BUS_PEER_BUSD, 0, &echo);
        assert_dropped_others_fine(fd, guid, "qrexec-policyd may not send ECHO_REQUEST to busd");
        close(fd);
        fd = harness_connect_raw(&h, UID_POLICYD);
        raw_send_msg(fd, BUS_MSG_ECHO_REQUEST, BUS_PEER_GUEST(4), 0, &echo);
        assert_dropped_others_fine(fd, guid, "qrexec-policyd may not send ECHO_REQUEST to guest");
        close(fd);
        fd = harness_connect_raw(&h, UID_POLICYD);
        raw_send_msg(fd, BUS_MSG_ECHO_REQUEST, BUS_PEER_NONE, 0, &echo);
        assert_dropped_others_fine(fd, guid, "invalid destination 0x0");
        close(fd);
        fd = harness_connect_raw(&h, UID_POLICYD);
        raw_send_msg(fd, BUS_MSG_ECHO_REQUEST, 0x4242, 0, &echo);
        assert_dropped_others_fine(fd, guid, "invalid destination 0x4242");
        close(fd);

        /* The last policyd is gone: the role is free again. */
        fd = harness_connect_raw(&h, UID_POLICYD);
        ck_assert_int_eq(raw_recv_msg(fd, 2000, m), 0);
        ck_assert_uint_eq(m->hdr.type, BUS_MSG_WELCOME);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_malformed_datagrams_drop_sender) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        _cleanup_free_ uint8_t *big = calloc(1, BUS_MSG_MAX + 1);
        uint8_t ping[BUS_HEADER_SIZE + 8];
        struct bus_msg_ping p = { .token = 1 };
        struct bus_hdr hdr = { .type = BUS_MSG_PING };
        int fd;

        harness_start(&h, NULL);
        connect_ok(UID_QUBESD, &qubesd);
        ck_assert_int_eq(bus_encode(&hdr, &p, ping, sizeof(ping)), (int) sizeof(ping));

        struct {
                const char *what, *reason;
                uint8_t bytes[64];
                size_t n;
        } cases[] = {
                { "garbage", "malformed message", "\xde\xad\xbe\xef garbage that is not a bus message", 40 },
                { "short header", "malformed message", { 0x02, 0, 0, 0, 8, 0, 0, 0, 1, 0 }, 10 },
                { "flags != 0", "malformed message", {}, sizeof(ping) },
                { "length mismatch", "malformed message", {}, sizeof(ping) },
                { "trailing byte", "malformed message", {}, sizeof(ping) + 1 },
                { "unknown type", "unknown message type 0x7777", {}, sizeof(ping) },
        };
        memcpy(cases[2].bytes, ping, sizeof(ping));
        cases[2].bytes[2] = 1;                          /* flags */
        memcpy(cases[3].bytes, ping, sizeof(ping));
        cases[3].bytes[4] = 7;                          /* len says 7, 8 follow */
        memcpy(cases[4].bytes, ping, sizeof(ping));
        cases[4].bytes[4] = 9;                          /* len matches, PING has 8 */
        memcpy(cases[5].bytes, ping, sizeof(ping));
        cases[5].bytes[0] = 0x77;
        cases[5].bytes[1] = 0x77;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fd = harness_connect_raw(&h, UID_POLICYD);
                raw_send(fd, cases[i].bytes, cases[i].n);
                assert_dropped_others_fine(fd, qubesd, cases[i].reason);
                close(fd);
        }

        /* One byte over the largest datagram busd takes. */
        fd = harness_connect_raw(&h, UID_POLICYD);
        memcpy(big, ping, sizeof(ping));
        raw_send(fd, big, BUS_MSG_MAX + 1);
        assert_dropped_others_fine(fd, qubesd, "datagram larger than BUS_MSG_MAX");
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_unknown_uid_and_duplicate_role_refused) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL, *policyd = NULL, *intruder = NULL;
        _cleanup_free_ struct bus_message *reply = message_new();
        struct bus_msg_echo_request echo = { .data_len = 3, .data = "abc" };

        harness_start(&h, NULL);
        connect_ok(UID_QUBESD, &qubesd);
        ck_assert_int_eq(harness_connect(&h, UID_UNKNOWN, &intruder), -ECONNRESET);
        ck_assert(harness_log_contains(&h, "uid 60199: uid not in the role table"));

        connect_ok(UID_POLICYD, &policyd);
        ck_assert_int_eq(harness_connect(&h, UID_POLICYD, &intruder), -ECONNRESET);
        ck_assert(harness_log_contains(&h, "qrexec-policyd is already connected"));

        /* The first qrexec-policyd is still the one messages reach. */
        bus_client_set_auto_echo(policyd, true);
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 9, &echo), 0);
        ck_assert_int_eq(bus_client_receive(policyd, 2 * SEC, reply), 0);
        ck_assert_uint_eq(reply->hdr.type, BUS_MSG_ECHO_REQUEST);
        ck_assert_uint_eq(reply->hdr.request_id, 9);
        assert_ping(policyd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_unconnected_destination_gets_ehostunreach) {
        _cleanup_bus_client_ struct bus_client *qubesd = NULL;
        _cleanup_free_ struct bus_message *reply = message_new();
        struct bus_msg_echo_request echo = { .data_len = 1 };

        harness_start(&h, NULL);
        connect_ok(UID_QUBESD, &qubesd);
        ck_assert_int_eq(bus_client_call(qubesd, BUS_MSG_ECHO_REQUEST, BUS_PEER_ROLE(BUS_ROLE_GUID), &echo,
                                         2 * SEC, reply), -EHOSTUNREACH);
        ck_assert_uint_eq(reply->hdr.type, BUS_MSG_ERROR);
        ck_assert_uint_eq(reply->hdr.peer, BUS_PEER_BUSD);
        ck_assert_int_eq(reply->u.error.error, -EHOSTUNREACH);
        ck_assert_uint_eq(reply->u.error.failed_type, BUS_MSG_ECHO_REQUEST);
        ck_assert_str_eq(reply->u.error.text, "guid is not connected");
        /* Not a drop: qubesd is still there. */
        assert_ping(qubesd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_busd_runs_under_seccomp) {
        harness_start(&h, NULL);
        check_process_sandboxed(h.pid);
        harness_stop(&h);
}
END_TEST

START_TEST(test_bad_options_refused) {
        char busd[512];
        const char *cases[][4] = {
                { "--role-uid", "root=0", NULL },
                { "--role-uid", "qubesd=abc", NULL },
                { "--role-uid", "qubesd=0", "--role-uid", "guid=0" },
                { "--role-uid", "guest=5", NULL },
                { "--bogus", NULL },
                { NULL },       /* no role table at all */
        };

        builddir_path("daemons/busd/busd", busd, sizeof(busd));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *argv[8] = { busd, "--socket", "/tmp/test-busd-never.sock" };
                int status;
                pid_t pid;

                for (size_t j = 0; j < 4 && cases[i][j]; j++)
                        argv[3 + j] = cases[i][j];
                pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY);
                        dup2(null, STDERR_FILENO);
                        execv(busd, (char *const *) argv);
                        _exit(127);
                }
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "case %zu: status %d", i, status);
        }
}
END_TEST

TCase *busd_flood_tcase(void);
TCase *busd_rings_tcase(void);

static Suite *busd_suite(void) {
        Suite *s = suite_create("busd");
        TCase *tc = tcase_create("local");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_welcome_gives_role_and_peer_id);
        tcase_add_test(tc, test_welcome_shares_spin_slots);
        tcase_add_test(tc, test_ping_pong_keeps_token_and_request_id);
        tcase_add_test(tc, test_echo_routed_with_stamped_source);
        tcase_add_test(tc, test_busctl_echo_between_processes);
        tcase_add_test(tc, test_forbidden_types_and_directions_drop_sender);
        tcase_add_test(tc, test_malformed_datagrams_drop_sender);
        tcase_add_test(tc, test_unknown_uid_and_duplicate_role_refused);
        tcase_add_test(tc, test_unconnected_destination_gets_ehostunreach);
        tcase_add_test(tc, test_busd_runs_under_seccomp);
        tcase_add_test(tc, test_bad_options_refused);
        suite_add_tcase(s, tc);
        suite_add_tcase(s, busd_flood_tcase());
        suite_add_tcase(s, busd_rings_tcase());
        return s;
}

int main(void) {
        if (!check_running_as_root("it takes the roles' uids"))
                return 77;
        return check_run_suite(busd_suite());
}
