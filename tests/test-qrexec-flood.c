/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile domain floods qrexec (issue 4): the real busd and the real
 * qrexec-policyd in a private stack; this test plays qubesd (it pushes the
 * system info) and the agents of three domains on their control channels:
 *   hostile  sends 10,000 MSG_TRIGGER_SERVICE3 for test.Flood to target and
 *            never opens the data socket of a call it is granted, so each
 *            port it gets stays taken: as fast as its channel takes them, or
 *            just under busd's rate limit (then its calls pile up against
 *            policyd's limit of calls in progress), reading its channel or not;
 *   target   reads its channel, as an agent does;
 *   honest   calls test.Flood on target one call after the other, during the
 *            flood and after it.
 * What a user would check: both daemons live on within bounded memory; every
 * request of the flood is answered but the calls still in progress (at most
 * 1024: qrexec-policyd(8)), unless busd cut the flooder off as busd(8) says it
 * does with a domain over its rate or not reading; the target never holds
 * more of the flooder's calls than one pair's ports; every call of honest is
 * connected and reaches target; and once the flooder's channel is gone
 * nothing of its flood is left: the domain, back, is connected at once.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-helpers.h"
#include "bus-client.h"
#include "fake-guest.h"
#include "stack-harness.h"
#include "util.h"
#include "vchan.h"

#define SEC BUS_CLIENT_USEC_PER_SEC
#define FLOOD_CALLS 10000u
/* qrexec-policyd(8): at most 1024 calls of a domain in progress, more are refused. */
#define CALLS_IN_PROGRESS_MAX 1024u
/* busd(8): a domain may send 2000 messages a second in bursts of 3000.  The
 * paced flooder stays under that even when its channel's buffers (a few
 * hundred messages) reach busd at once. */
#define PACE_PER_SEC 1500u
#define PACE_BURST 500u
/* busd(8): data ports 513..768, unique per pair of domains. */
#define PORT_FIRST 513u
#define PAIR_PORTS 256u
/* Every wait is a hang guard, never a speed check.  A flood that busd does
 * not cut off leaves calls waiting for a port of the pair; policyd refuses
 * those after its 30 s connect timeout, hence the longer wait for them. */
#define CALL_WAIT_USEC (30 * SEC)
#define FLOOD_WAIT_USEC (75 * SEC)
#define HONEST_CALLS_AFTER 5u
/* honest is busy but within busd's rate (2 messages a call, 2000 a second):
 * while the test loop spins on the flooder's unread channel, calls that
 * follow each other at once came close to it */
#define HONEST_CALL_GAP_USEC (2500u)
/* VmRSS bound of each daemon.  What the flood can make them hold is bounded
 * by their documented limits: busd's outbound queues (4 MiB per daemon, 1 MiB
 * per domain) and its waiting calls (at most 1024 of the flooder, as policyd
 * allows no more), policyd's calls (8 MiB of them at most); a few MiB of
 * program besides.  ASan keeps freed memory in quarantine (256 MiB by
 * default) and its shadow on top: its builds get room for that. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MAX_KIB (384u * 1024u)
#else
#define RSS_MAX_KIB (64u * 1024u)
#endif

enum { HOSTILE, TARGET, HONEST, _N_DOMAINS };

struct domain {
        const char *name;
        uint32_t domid;
        char dir[sizeof(((struct bus_msg_domain_channel_open *) NULL)->vchan_dir)];
        struct fake_guest *g;
        bool up, down, eof;
        int down_reason;
};

static struct domain domains[_N_DOMAINS] = {
        [HOSTILE] = { .name = "hostile", .domid = 11 },
        [TARGET] = { .name = "target", .domid = 12 },
        [HONEST] = { .name = "honest", .domid = 13 },
};

static struct test_stack stack;
static struct bus_client *qubesd;       /* this test, as qubesd */
static struct bus_message *msg;         /* large: allocated once */
static pid_t busd_pid, policyd_pid;
static unsigned long rss_peak_kib[2];   /* busd, policyd */
static uint64_t next_sample_usec;

/* The flooder. */
struct flood_case {
        const char *name;
        unsigned calls;
        bool paced;                     /* under busd's rate limit */
        bool reads;                     /* reads its channel while it floods */
        size_t argument_size;           /* of test.Flood+ARGUMENT, 0 for none */
};
static const struct flood_case *flood;
static uint64_t pace_milli, pace_stamp_usec;    /* its own token bucket, when paced */
static uint8_t hostile_msg[QREXEC_HEADER_SIZE + 2 * QREXEC_DOMAIN_SIZE + QREXEC_MAX_SERVICE_NAME_LEN];
static bool target_deaf;                /* the target does not read its channel */
static size_t hostile_msg_len, hostile_msg_off;
static unsigned hostile_sent;           /* whole triggers written */
static uint8_t *hostile_answer;         /* per ident: 0, or the answer's type */
static unsigned hostile_answered, hostile_connected;
static bool hostile_target_port[PAIR_PORTS];   /* ports of the flooder's calls the target got */
static unsigned target_got_hostile;

/* honest's call in progress. */
static unsigned honest_refused_at_start;
static struct {
        unsigned issued, completed;
        bool outstanding, connected, executed, refused;
        bool may_be_refused;            /* before policyd has the policy and the system info */
        uint32_t connect_port, exec_port;
        uint64_t started;
} honest;

/* hostile's ordinary call once it is back. */
static struct {
        bool back, connected, executed;
        uint32_t connect_port, exec_port;
} comeback;

static struct domain *domain_of(uint32_t domid) {
        for (size_t i = 0; i < _N_DOMAINS; i++)
                if (domains[i].domid == domid)
                        return &domains[i];
        return NULL;
}

/* --- qubesd's part --- */

static void send_domain(const char *name, const char *klass, uint32_t domid, const char *uuid) {
        struct bus_msg_domain_info info = { .domid = domid, .power_state = BUS_POWER_RUNNING };

        snprintf(info.name, sizeof(info.name), "%s", name);
        snprintf(info.klass, sizeof(info.klass), "%s", klass);
        snprintf(info.uuid, sizeof(info.uuid), "%s", uuid);
        snprintf(info.default_user, sizeof(info.default_user), "user");
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_INFO, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0, &info), 0);
}

static void send_system_info(void) {
        struct bus_msg_system_info_done done = { .domains = 1 + _N_DOMAINS };
        char uuid[40];

        send_domain("dom0", "AdminVM", 0, "00000000-0000-0000-0000-000000000000");
        for (size_t i = 0; i < _N_DOMAINS; i++) {
                snprintf(uuid, sizeof(uuid), "%08" PRIu32 "-0000-0000-0000-000000000000", domains[i].domid);
                send_domain(domains[i].name, "AppVM", domains[i].domid, uuid);
        }
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_SYSTEM_INFO_DONE, BUS_PEER_ROLE(BUS_ROLE_POLICYD), 0, &done),
                         0);
}

static void bus_pump(void) {
        int r;

        while ((r = bus_client_receive(qubesd, 0, msg)) == 0) {
                struct domain *d;

                switch (msg->hdr.type) {
                case BUS_MSG_SYSTEM_INFO_SUBSCRIBE:
                        send_system_info();
                        break;
                case BUS_MSG_DOMAIN_CHANNEL_UP:
                        if ((d = domain_of(msg->u.domain_channel_up.domid)))
                                d->up = true;
                        break;
                case BUS_MSG_DOMAIN_CHANNEL_DOWN:
                        if ((d = domain_of(msg->u.domain_channel_down.domid))) {
                                d->up = false;
                                d->down = true;
                                d->down_reason = msg->u.domain_channel_down.reason;
                        }
                        break;
                default:        /* POLICY_STATUS, QREXEC_TERMINATED: nothing to do */
                        break;
                }
        }
        ck_assert_int_eq(r, -ETIMEDOUT);
}

/* --- the daemons, as a user sees them --- */

static unsigned long vm_rss_kib(pid_t pid) {
        char path[64], line[256];
        unsigned long kib = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_msg(f, "%s: %m: the daemon is gone", path);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static void assert_alive(pid_t pid, const char *name) {
        char path[64], line[256];
        FILE *f;

        ck_assert_msg(kill(pid, 0) == 0, "%s (pid %d) is gone", name, (int) pid);
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_msg(f, "%s (pid %d) is gone", name, (int) pid);
        while (fgets(line, sizeof(line), f))
                ck_assert_msg(strncmp(line, "State:\tZ", 8) != 0, "%s (pid %d) died", name, (int) pid);
        fclose(f);
}

/* Alive, and their VmRSS peaks (every 50 ms unless forced). */
static void sample_daemons(bool force) {
        static const char *const names[2] = { "busd", "qrexec-policyd" };
        pid_t pids[2] = { busd_pid, policyd_pid };

        if (!force && now_usec() < next_sample_usec)
                return;
        next_sample_usec = now_usec() + 50 * 1000;
        for (size_t i = 0; i < 2; i++) {
                unsigned long kib;

                assert_alive(pids[i], names[i]);
                kib = vm_rss_kib(pids[i]);
                if (kib > rss_peak_kib[i])
                        rss_peak_kib[i] = kib;
        }
}

/* --- the agents --- */

static void guest_send(struct domain *d, const uint8_t *buf, int n) {
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(fake_guest_write(d->g, buf, (size_t) n, 3000), 0);
}

static void send_terminated(struct domain *d, uint32_t peer, uint32_t port) {
        uint8_t buf[QREXEC_HEADER_SIZE + 8];

        guest_send(d, buf, qrexec_encode_connection_terminated(buf, sizeof(buf), peer, port));
}

static void honest_call(void) {
        char ident[QREXEC_IDENT_SIZE];

        snprintf(ident, sizeof(ident), "C%u", honest.issued++);
        honest.outstanding = true;
        honest.connected = honest.executed = honest.refused = false;
        honest.started = now_usec();
        fake_guest_trigger(domains[HONEST].g, NULL, "target", ident, "test.Flood");
}

/* The call is over when the target was told to run it and the caller that it
 * may connect, on the same port; both agents then report its end. */
static void honest_step(void) {
        if (!honest.outstanding)
                return;
        if (honest.refused) {
                ck_assert_msg(honest.may_be_refused, "honest's call C%u was refused", honest.issued - 1);
                honest.outstanding = false;
                return;
        }
        ck_assert_msg(now_usec() - honest.started < CALL_WAIT_USEC, "honest's call C%u: no answer in 30 s",
                      honest.issued - 1);
        if (!honest.connected || !honest.executed)
                return;
        ck_assert_uint_eq(honest.connect_port, honest.exec_port);
        send_terminated(&domains[HONEST], domains[TARGET].domid, honest.connect_port);
        send_terminated(&domains[TARGET], domains[HONEST].domid, honest.exec_port);
        honest.outstanding = false;
        honest.completed++;
}

static void on_hostile_message(const struct qrexec_hdr *hdr, const uint8_t *payload) {
        char ident[QREXEC_IDENT_SIZE];
        struct qrexec_exec e = {};
        unsigned i;

        if (hdr->type == QREXEC_MSG_SERVICE_CONNECT) {
                ck_assert_int_eq(qrexec_decode_exec(hdr, payload, &e), 0);
                ck_assert_uint_eq(e.connect_domain, domains[TARGET].domid);
                memcpy(ident, e.ident, sizeof(ident));
        } else {
                ck_assert_msg(hdr->type == QREXEC_MSG_SERVICE_REFUSED, "hostile got message 0x%x", hdr->type);
                ck_assert_int_eq(qrexec_decode_service_refused(payload, hdr->len, ident), 0);
        }
        if (strcmp(ident, "R0") == 0) {         /* its call once back */
                ck_assert_uint_eq(hdr->type, QREXEC_MSG_SERVICE_CONNECT);
                comeback.connected = true;
                comeback.connect_port = e.connect_port;
                return;
        }
        ck_assert_msg(sscanf(ident, "F%u", &i) == 1 && i < hostile_sent, "hostile got an answer for '%s'", ident);
        ck_assert_msg(!hostile_answer[i], "request F%u of hostile answered twice", i);
        hostile_answer[i] = hdr->type == QREXEC_MSG_SERVICE_CONNECT ? 1 : 2;
        hostile_answered++;
        hostile_connected += hdr->type == QREXEC_MSG_SERVICE_CONNECT;
}

static void on_target_message(const struct qrexec_hdr *hdr, const uint8_t *payload) {
        struct qrexec_exec e;

        ck_assert_msg(hdr->type == QREXEC_MSG_EXEC_CMDLINE, "target got message 0x%x", hdr->type);
        ck_assert_int_eq(qrexec_decode_exec(hdr, payload, &e), 0);
        if (e.connect_domain == domains[HONEST].domid) {
                ck_assert_msg(honest.outstanding && !honest.executed, "target got a call of honest it did not make");
                ck_assert_str_eq(e.cmdline, "user:QUBESRPC test.Flood honest");
                honest.executed = true;
                honest.exec_port = e.connect_port;
                return;
        }
        ck_assert_uint_eq(e.connect_domain, domains[HOSTILE].domid);
        ck_assert_str_eq(e.cmdline, "user:QUBESRPC test.Flood hostile");
        if (comeback.back) {
                comeback.executed = true;
                comeback.exec_port = e.connect_port;
                return;
        }
        /* One pair's ports at most, each once: the flood cannot pile more on the target. */
        ck_assert_uint_ge(e.connect_port, PORT_FIRST);
        ck_assert_uint_lt(e.connect_port, PORT_FIRST + PAIR_PORTS);
        ck_assert_msg(!hostile_target_port[e.connect_port - PORT_FIRST],
                      "target was told to run a second call of hostile on port %u, whose first never ended",
                      e.connect_port);
        hostile_target_port[e.connect_port - PORT_FIRST] = true;
        target_got_hostile++;
}

static void on_honest_message(const struct qrexec_hdr *hdr, const uint8_t *payload) {
        char ident[QREXEC_IDENT_SIZE], expected[QREXEC_IDENT_SIZE];
        struct qrexec_exec e;

        snprintf(expected, sizeof(expected), "C%u", honest.issued - 1);
        if (hdr->type == QREXEC_MSG_SERVICE_REFUSED) {
                ck_assert_int_eq(qrexec_decode_service_refused(payload, hdr->len, ident), 0);
                ck_assert_str_eq(ident, expected);
                honest.refused = true;
                return;
        }
        ck_assert_msg(hdr->type == QREXEC_MSG_SERVICE_CONNECT, "honest got message 0x%x", hdr->type);
        ck_assert_int_eq(qrexec_decode_exec(hdr, payload, &e), 0);
        ck_assert_str_eq(e.ident, expected);
        ck_assert_uint_eq(e.connect_domain, domains[TARGET].domid);
        honest.connected = true;
        honest.connect_port = e.connect_port;
}

static void guest_read(struct domain *d) {
        static uint8_t payload[4096];
        struct qrexec_hdr hdr;
        int r;

        if (!d->g || d->eof)
                return;
        while ((r = fake_guest_try_recv(d->g, &hdr, payload, sizeof(payload) - 1)) == 0) {
                payload[hdr.len] = 0;
                if (d == &domains[HOSTILE])
                        on_hostile_message(&hdr, payload);
                else if (d == &domains[TARGET])
                        on_target_message(&hdr, payload);
                else
                        on_honest_message(&hdr, payload);
        }
        if (r == -ECONNRESET) {
                /* A daemon dying closes channels first: that is the better message. */
                for (uint64_t until = now_usec() + 2 * SEC; d != &domains[HOSTILE] && now_usec() < until;
                     usleep(50 * 1000))
                        sample_daemons(true);
                if (d != &domains[HOSTILE]) {
                        char cmd[sizeof(stack.root) + 128];

                        /* why, in busd's words */
                        snprintf(cmd, sizeof(cmd), "grep -i 'domain\\|guest\\|closed' '%s/log/busd.log' | tail -n 20 >&2",
                                 stack.root);
                        (void) !system(cmd);
                }
                ck_assert_msg(d == &domains[HOSTILE], "busd closed the channel of %s", d->name);
                d->eof = true;
                return;
        }
        ck_assert_int_eq(r, -EAGAIN);
}

static bool hostile_sending(void) {
        const struct domain *h = &domains[HOSTILE];

        return hostile_answer && h->g && hostile_sent < flood->calls && !h->down && !h->eof;
}

static bool hostile_may_start_one(void) {
        uint64_t now = now_usec();

        if (!flood->paced)
                return true;
        pace_milli += (now - pace_stamp_usec) * PACE_PER_SEC / 1000;
        if (pace_milli > PACE_BURST * 1000)
                pace_milli = PACE_BURST * 1000;
        pace_stamp_usec = now;
        if (pace_milli < 1000)
                return false;
        pace_milli -= 1000;
        return true;
}

/* Write triggers while the channel takes them. */
static void hostile_write(void) {
        while (hostile_sending()) {
                ssize_t n;

                if (hostile_msg_len == 0) {
                        static char service[QREXEC_MAX_SERVICE_NAME_LEN];
                        char ident[QREXEC_IDENT_SIZE];
                        size_t len;
                        int k;

                        if (!hostile_may_start_one())
                                return;
                        snprintf(ident, sizeof(ident), "F%u", hostile_sent);
                        len = (size_t) snprintf(service, sizeof(service), "%s",
                                                flood->argument_size ? "test.Flood+" : "test.Flood");
                        ck_assert_uint_lt(len + flood->argument_size, sizeof(service));
                        memset(service + len, 'a', flood->argument_size);
                        service[len + flood->argument_size] = '\0';
                        k = qrexec_encode_trigger3(hostile_msg, sizeof(hostile_msg), "target", ident, service);
                        ck_assert_int_gt(k, 0);
                        hostile_msg_len = (size_t) k;
                        hostile_msg_off = 0;
                }
                n = fake_guest_write_some(domains[HOSTILE].g, hostile_msg + hostile_msg_off,
                                          hostile_msg_len - hostile_msg_off);
                if (n <= 0)
                        return;         /* full, or closed: the DOWN tells */
                hostile_msg_off += (size_t) n;
                if (hostile_msg_off == hostile_msg_len) {
                        hostile_msg_len = 0;
                        hostile_sent++;
                }
        }
}

/* One round: wait (at most timeout_ms) for any channel or the bus, then
 * write, read and answer whatever can be. */
static void pump(int timeout_ms) {
        struct pollfd p[_N_DOMAINS + 1];
        size_t n = 0;

        for (size_t i = 0; i < _N_DOMAINS; i++)
                if (domains[i].g)
                        p[n++] = (struct pollfd) { .fd = fake_guest_fd(domains[i].g), .events = POLLIN };
        p[n++] = (struct pollfd) { .fd = bus_client_fd(qubesd), .events = POLLIN };
        ck_assert_int_ge(poll(p, n, timeout_ms), 0);
        for (size_t i = 0; i < _N_DOMAINS; i++)
                if (domains[i].g)
                        (void) fake_guest_dispatch(domains[i].g);      /* a closed channel shows in reads */

        hostile_write();
        if (!flood || flood->reads || !hostile_sending())
                guest_read(&domains[HOSTILE]);
        if (!target_deaf)
                guest_read(&domains[TARGET]);
        guest_read(&domains[HONEST]);
        bus_pump();
        honest_step();
        sample_daemons(false);
}

static void pump_until(bool (*done)(void), uint64_t timeout_usec, const char *what) {
        uint64_t deadline = now_usec() + timeout_usec;

        while (!done()) {
                ck_assert_msg(now_usec() < deadline, "%s: not in time", what);
                pump(10);
        }
}

/* Publish the domain's agent end and have busd (told as qubesd) connect to it. */
static void domain_open(struct domain *d) {
        struct bus_msg_domain_channel_open req = { .domid = d->domid, .vchan_backend = VCHAN_SOCKET };

        d->g = fake_guest_listen(d->dir, d->domid);
        d->up = d->down = d->eof = false;
        snprintf(req.name, sizeof(req.name), "%s", d->name);
        memcpy(req.vchan_dir, d->dir, sizeof(req.vchan_dir));
        ck_assert_int_eq(bus_client_send(qubesd, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD,
                                         bus_client_new_request_id(qubesd), &req), 0);
        ck_assert(fake_guest_wait_connected(d->g, 10000));
        ck_assert_int_eq(fake_guest_handshake(d->g, QREXEC_PROTOCOL_VERSION), (int) QREXEC_PROTOCOL_VERSION);
        for (uint64_t deadline = now_usec() + CALL_WAIT_USEC; !d->up;) {
                ck_assert_msg(now_usec() < deadline, "no DOMAIN_CHANNEL_UP for %s", d->name);
                pump(10);
        }
}

static bool honest_idle(void) { return !honest.outstanding; }

static void write_policy(void) {
        char path[512], tmp[520];
        FILE *f;

        snprintf(path, sizeof(path), "%s/etc/policy.d/10-flood.policy", stack.root);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "we");
        ck_assert_ptr_nonnull(f);
        fputs("test.Flood  *  hostile  target  allow\n"
              "test.Flood  *  honest   target  allow\n", f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(tmp, 0644), 0);
        ck_assert_int_eq(rename(tmp, path), 0);
}

/* In the runner's process, so that the stack is stopped even when a test fails. */
static void stack_up(void) {
        ck_assert_int_eq(test_stack_start(&stack, "--only", "busd,qrexec-policyd", NULL), 0);
}

static void stack_down(void) {
        test_stack_stop(&stack);
}

static void setup(void) {
        char dir[sizeof(domains[0].dir)];
        int n;

        msg = calloc(1, sizeof(*msg));
        ck_assert_ptr_nonnull(msg);
        busd_pid = test_stack_daemon_pid(&stack, "busd");
        policyd_pid = test_stack_daemon_pid(&stack, "qrexec-policyd");
        ck_assert_int_gt(busd_pid, 0);
        ck_assert_int_gt(policyd_pid, 0);
        ck_assert_int_eq(bus_client_connect(stack.bus_socket, CALL_WAIT_USEC, &qubesd), 0);
        ck_assert_int_eq(bus_client_role(qubesd), BUS_ROLE_QUBESD);
        write_policy();

        /* Each domain has its own vchan dir, as native domains do. */
        n = snprintf(dir, sizeof(dir), "%s/guests", stack.root);
        ck_assert_int_lt(n, (int) sizeof(dir) - 16);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        for (size_t i = 0; i < _N_DOMAINS; i++) {
                n = snprintf(domains[i].dir, sizeof(domains[i].dir), "%s/%" PRIu32, dir, domains[i].domid);
                ck_assert_int_lt(n, (int) sizeof(domains[i].dir));
                ck_assert_int_eq(mkdir(domains[i].dir, 0755), 0);
                domain_open(&domains[i]);
        }

        /* honest calls until policyd has the policy and the system info. */
        honest.may_be_refused = true;
        for (uint64_t deadline = now_usec() + CALL_WAIT_USEC; honest.completed == 0;) {
                ck_assert_msg(now_usec() < deadline, "policyd never allowed honest's call");
                honest_call();
                pump_until(honest_idle, CALL_WAIT_USEC, "honest's first call");
                if (honest.completed == 0)
                        pump(100);
        }
        honest.may_be_refused = false;
        honest_refused_at_start = honest.issued - honest.completed;
        rss_peak_kib[0] = rss_peak_kib[1] = 0;
}

static void teardown(void) {
        for (size_t i = 0; i < _N_DOMAINS; i++)
                fake_guest_free(TAKE_PTR(domains[i].g));
        bus_client_free(TAKE_PTR(qubesd));
        free(TAKE_PTR(msg));
        free(TAKE_PTR(hostile_answer));
}

static bool flood_over(void) {
        const struct domain *h = &domains[HOSTILE];

        if (hostile_sending())
                return false;
        /* Cut off: once what busd sent before is read.  Else: every request
         * answered but those policyd still has in progress. */
        return h->down ? h->eof : hostile_answered + CALLS_IN_PROGRESS_MAX >= flood->calls;
}

static bool comeback_done(void) { return comeback.connected && comeback.executed; }
/* busd tells the target first, but its message may still be on the way. */
static bool target_caught_up(void) { return target_got_hostile >= hostile_connected; }

static void assert_memory_bounded(void) {
        sample_daemons(true);
        ck_assert_msg(rss_peak_kib[0] < RSS_MAX_KIB, "busd's VmRSS reached %lu KiB", rss_peak_kib[0]);
        ck_assert_msg(rss_peak_kib[1] < RSS_MAX_KIB, "qrexec-policyd's VmRSS reached %lu KiB", rss_peak_kib[1]);
}

static void run_flood(const struct flood_case *c) {
        struct domain *h = &domains[HOSTILE];
        uint64_t start = now_usec(), deadline = start + FLOOD_WAIT_USEC;
        unsigned before = honest.issued, during;

        flood = c;
        pace_stamp_usec = start;
        hostile_answer = calloc(c->calls, 1);
        ck_assert_ptr_nonnull(hostile_answer);
        sample_daemons(true);

        /* honest keeps calling while the flood lasts. */
        while (!flood_over()) {
                ck_assert_msg(now_usec() < deadline, "the flood did not end in time");
                if (!honest.outstanding && hostile_sending() && now_usec() - honest.started >= HONEST_CALL_GAP_USEC)
                        honest_call();
                pump(10);
        }
        during = honest.issued - before;
        sample_daemons(true);
        fprintf(stderr,
                "flood (%s, %.1f s): %u of %u requests sent, %u answered (%u connected), channel %s (%d); target got %u of "
                "its calls; honest made %u calls meanwhile; peak VmRSS busd %lu KiB, qrexec-policyd %lu KiB\n",
                c->name, (double) (now_usec() - start) / 1e6, hostile_sent, c->calls, hostile_answered, hostile_connected,
                h->down ? "closed by busd" : "open", h->down_reason, target_got_hostile, during, rss_peak_kib[0],
                rss_peak_kib[1]);

        /* Answered, or cut off for flooding. */
        if (h->down)
                ck_assert_msg(h->down_reason == -EDQUOT || h->down_reason == -ENOBUFS,
                              "hostile's channel closed for another reason: %d", h->down_reason);
        else
                ck_assert_uint_ge(hostile_answered + CALLS_IN_PROGRESS_MAX, c->calls);
        /* Within its rate it is never cut off for its rate (a reader slower
         * than busd's queue may be cut off for not reading). */
        if (c->paced)
                ck_assert_int_ne(h->down_reason, -EDQUOT);
        /* Each call it was connected for reached the target, which holds one
         * pair's ports of them at most. */
        pump_until(target_caught_up, CALL_WAIT_USEC, "the target told of hostile's connected calls");
        ck_assert_uint_le(target_got_hostile, PAIR_PORTS);
        if (c->paced && !h->down) {
                /* Its first calls took all ports of the pair, those after them
                 * wait for one (up to policyd's limit), the rest are refused. */
                ck_assert_uint_eq(hostile_connected, PAIR_PORTS);
        }

        /* honest's calls during and after the flood go through. */
        ck_assert_uint_ge(during, 1);
        pump_until(honest_idle, CALL_WAIT_USEC, "honest's call during the flood");
        while (honest.completed < before + during + HONEST_CALLS_AFTER) {
                honest_call();
                pump_until(honest_idle, CALL_WAIT_USEC, "honest's call after the flood");
        }

        /* The flooder's agent vanishes, if busd has not cut it off already. */
        fake_guest_free(TAKE_PTR(h->g));
        while (!h->down)
                pump(10);
        /* An honest call after the DOWN passes behind all that policyd still
         * had of the flooder's, so the flooder's calls are settled when it is
         * connected (a later channel of the domain gets no stale answers). */
        honest_call();
        pump_until(honest_idle, CALL_WAIT_USEC, "honest's call after the flooder left");

        /* The domain comes back: its calls and ports were all released, so its
         * next call is connected at once (not refused as over its limit, not
         * waiting for a port). */
        free(TAKE_PTR(hostile_answer));
        comeback.back = true;
        domain_open(h);
        fake_guest_trigger(h->g, NULL, "target", "R0", "test.Flood");
        pump_until(comeback_done, CALL_WAIT_USEC, "hostile's call once back");
        ck_assert_uint_eq(comeback.connect_port, comeback.exec_port);
        ck_assert_uint_eq(honest.completed, honest.issued - honest_refused_at_start);
        assert_memory_bounded();
}

static bool target_cut_off(void) {
        const struct domain *t = &domains[TARGET];

        /* With the target gone no call of hostile can be in progress. */
        return t->down && !hostile_sending() && hostile_answered == hostile_sent;
}

/* The other side of a flood: a domain that never reads its channel while it
 * is called with 60 KB arguments, as many calls as one pair has ports.  busd
 * cuts it off (-ENOBUFS, busd(8)) and that is all: both daemons live on, the
 * caller's calls are all answered, and the domain, back, is called again. */
START_TEST(test_target_never_reads) {
        static const struct flood_case deaf = { "target-never-reading", PAIR_PORTS, .paced = true, .reads = true,
                                                .argument_size = 60000 };
        struct domain *t = &domains[TARGET];
        unsigned before = honest.completed;

        flood = &deaf;
        pace_stamp_usec = now_usec();
        hostile_answer = calloc(deaf.calls, 1);
        ck_assert_ptr_nonnull(hostile_answer);
        target_deaf = true;
        pump_until(target_cut_off, FLOOD_WAIT_USEC, "busd cutting off the target that does not read");
        fprintf(stderr, "%s: %u calls sent, %u answered (%u connected), target's channel closed (%d)\n", deaf.name,
                hostile_sent, hostile_answered, hostile_connected, t->down_reason);
        ck_assert_int_eq(t->down_reason, -ENOBUFS);
        ck_assert(!domains[HOSTILE].down);

        /* The target comes back and reads: honest's calls to it go through. */
        fake_guest_free(TAKE_PTR(t->g));
        target_deaf = false;
        domain_open(t);
        while (honest.completed < before + HONEST_CALLS_AFTER) {
                honest_call();
                pump_until(honest_idle, CALL_WAIT_USEC, "honest's call to the target back");
        }
        assert_memory_bounded();
}
END_TEST

static const struct flood_case cases[] = {
        { "fast", FLOOD_CALLS, .paced = false, .reads = true },
        { "paced", FLOOD_CALLS, .paced = true, .reads = true },
        { "paced-never-reading", FLOOD_CALLS, .paced = true, .reads = false },
};

START_TEST(test_flood) {
        run_flood(&cases[_i]);
}
END_TEST

/* One case per test: each gets a fresh stack. */
static TCase *stack_tcase(Suite *s, const char *name) {
        TCase *tc = tcase_create(name);

        tcase_add_unchecked_fixture(tc, stack_up, stack_down);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        suite_add_tcase(s, tc);
        return tc;
}

int main(void) {
        Suite *s;

        if (!check_running_as_root("the stack runs each daemon under its role's uid"))
                return 77;
        s = suite_create("qrexec-flood");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                tcase_add_loop_test(stack_tcase(s, cases[i].name), test_flood, (int) i, (int) i + 1);
        tcase_add_test(stack_tcase(s, "target-never-reading"), test_target_never_reads);
        return check_run_suite(s);
}
