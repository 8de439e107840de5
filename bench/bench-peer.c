/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-bus's peers as Odyssey's daemons are: a process of their own with an
 * sd-event loop from daemon_event_new(), driven by daemon_event_loop() with
 * the default spin, talking through the bus client library in event mode
 * (qubesd and qrexec-policyd do exactly this).  The echo side is answered by
 * the library from its io handler; the caller sends each request from the
 * reply handler of the previous one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-bus.h"
#include "daemon.h"

void bench_progress_init(struct bench_progress *p, unsigned count) {
        *p = (struct bench_progress) { .count = count, .warmup = count / 10 ?: 1, .left = count };
}

bool bench_progress_reply(struct bench_progress *p) {
        if (p->warmup > 0) {
                if (--p->warmup == 0)
                        p->start = now_usec();
                return false;
        }
        return --p->left == 0;
}

double bench_progress_mean(const struct bench_progress *p) {
        if (p->left != 0)
                return -ECONNRESET;     /* the connection ended the loop */
        return (double) (now_usec() - p->start) / p->count;
}

int bench_in_child(bench_caller_t fn, void *arg, double *ret_mean_us) {
        int result[2], r = 0;
        double mean = -EIO;
        pid_t pid;

        if (pipe2(result, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(result[0]);
                close(result[1]);
                return r;
        }
        if (pid == 0) {
                close(result[0]);
                mean = fn(arg);
                _exit(write(result[1], &mean, sizeof(mean)) == sizeof(mean) && mean >= 0 ? 0 : 1);
        }
        close(result[1]);
        /* Generous: a run takes a few seconds even on a loaded machine. */
        struct pollfd pfd = { .fd = result[0], .events = POLLIN };
        if (poll(&pfd, 1, 300 * 1000) != 1)
                mean = -ETIMEDOUT;
        else if (read(result[0], &mean, sizeof(mean)) != sizeof(mean))
                mean = -EIO;            /* it died before it had a figure */
        close(result[0]);
        if (mean < 0)
                kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (mean < 0)
                return (int) mean;
        *ret_mean_us = mean;
        return 0;
}

/* The echo daemon answers ECHO_REQUEST (the library does, strictly decoded);
 * anything else is a broken benchmark: drop the connection. */
static int echo_on_other(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        return -EBADMSG;
}

static void on_disconnect(struct bus_client *c, int error, void *userdata) {
        sd_event_exit(userdata, error == -ECONNRESET ? 0 : error);
}

void bench_loop_echo(struct bus_client *c, int ready_fd) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;

        if (daemon_event_new(&event) < 0 || bus_client_attach_event(c, event, echo_on_other, on_disconnect, event) < 0)
                _exit(1);
        if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1)
                _exit(1);
        _exit(daemon_event_loop(event, DAEMON_SPIN_USEC_DEFAULT) == 0 ? 0 : 1);
}

struct loop_call {
        sd_event *event;
        uint32_t to;
        uint32_t request_id;            /* of the call in flight */
        struct bench_progress progress;
        struct bus_msg_echo_request req;
};

static void call_on_reply(struct bus_client *c, int error, const struct bus_message *reply, void *userdata);

static int call_next(struct bus_client *c, struct loop_call *s) {
        return bus_client_call_async(c, BUS_MSG_ECHO_REQUEST, s->to, &s->req, BENCH_TIMEOUT_USEC,
                                     call_on_reply, s, &s->request_id);
}

static void call_on_reply(struct bus_client *c, int error, const struct bus_message *reply, void *userdata) {
        struct loop_call *s = userdata;

        if (error == 0 && (reply->hdr.type != BUS_MSG_ECHO_REPLY || reply->hdr.request_id != s->request_id ||
                           reply->u.echo_reply.data_len != BENCH_PAYLOAD ||
                           memcmp(reply->u.echo_reply.data, s->req.data, BENCH_PAYLOAD) != 0))
                error = -EBADMSG;
        if (error == 0) {
                if (bench_progress_reply(&s->progress)) {
                        sd_event_exit(s->event, 0);
                        return;
                }
                error = call_next(c, s);
        }
        if (error < 0)
                sd_event_exit(s->event, error);
}

double bench_loop_call(struct bus_client *c, uint32_t to, unsigned count) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        struct loop_call s = { .to = to, .req.data_len = BENCH_PAYLOAD };
        int r;

        bench_progress_init(&s.progress, count);
        for (unsigned i = 0; i < BENCH_PAYLOAD; i++)
                s.req.data[i] = (uint8_t) (i * 5 + 3);
        r = daemon_event_new(&event);
        if (r >= 0)
                r = bus_client_attach_event(c, event, echo_on_other, on_disconnect, event);
        s.event = event;
        if (r >= 0)
                r = call_next(c, &s);
        if (r >= 0)
                r = daemon_event_loop(event, DAEMON_SPIN_USEC_DEFAULT);
        return r < 0 ? r : bench_progress_mean(&s.progress);
}
