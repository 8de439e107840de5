/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The D-Bus baseline of bench-bus: a real dbus-daemon with a private
 * configuration, an sd-bus service answering Echo(ay) -> ay, and an sd-bus
 * client calling it with a 64-byte argument.  Both peers run as bench-bus's
 * other peers do (see bench-bus.c): on an sd-event loop driven by
 * daemon_event_loop(), sd-bus attached to it, the client chaining
 * sd_bus_call_async() from each reply; or (raw) blocking sd_bus_call() and
 * sd_bus_wait() loops.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "bench-bus.h"
#include "daemon.h"
#include "spin-slots.h"
#include "util.h"

#ifndef DBUS_DAEMON_PATH
#define DBUS_DAEMON_PATH "dbus-daemon"
#endif

#define SERVICE "org.odyssey.BenchEcho"
#define OBJECT "/org/odyssey/BenchEcho"
#define INTERFACE "org.odyssey.BenchEcho"

static int write_config(const char *dir, char *ret_path, size_t size) {
        FILE *f;

        snprintf(ret_path, size, "%s/dbus.conf", dir);
        f = fopen(ret_path, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>session</type>\n"
                "  <listen>unix:path=%s/dbus.sock</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "    <allow eavesdrop=\"true\"/>\n"
                "    <allow own=\"*\"/>\n"
                "  </policy>\n"
                "</busconfig>\n", dir);
        return fclose(f) == 0 ? 0 : -errno;
}

/* Start dbus-daemon; its address (one line on --print-address) into address. */
static pid_t start_dbus_daemon(const char *config, const char *log_path, char *address, size_t size) {
        char fdarg[32], config_arg[300];
        int pipefd[2];
        size_t have = 0;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = dup(pipefd[1]);        /* without O_CLOEXEC */

                int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                /* It complains about fd limits it may not raise: keep that out of the output. */
                if (log_fd >= 0)
                        dup2(log_fd, STDERR_FILENO);
                snprintf(fdarg, sizeof(fdarg), "--print-address=%d", fd);
                snprintf(config_arg, sizeof(config_arg), "--config-file=%s", config);
                execl(DBUS_DAEMON_PATH, "dbus-daemon", config_arg, "--nofork", fdarg, (char *) NULL);
                execlp("dbus-daemon", "dbus-daemon", config_arg, "--nofork", fdarg, (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        while (have + 1 < size) {
                struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };

                if (poll(&pfd, 1, 5000) <= 0 || read(pipefd[0], address + have, 1) != 1)
                        break;
                if (address[have] == '\n')
                        break;
                have++;
        }
        address[have] = 0;
        close(pipefd[0]);
        if (have == 0) {
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                return -EIO;
        }
        return pid;
}

static int open_bus(const char *address, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const void *data;
        size_t size;
        int r;

        r = sd_bus_message_read_array(m, 'y', &data, &size);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', data, size);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 1;
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "ay", "ay", method_echo, 0),
        SD_BUS_VTABLE_END
};

/* The service process: owns the name, then serves until killed.  Writes one byte when ready. */
static void echo_service(const char *address, enum bench_peers peers, int slots_fd, int ready_fd) {
        sd_event *event = NULL;
        sd_bus *bus = NULL;

        if (slots_fd >= 0 && spin_slots_map(slots_fd) < 0)
                _exit(1);
        if (open_bus(address, &bus) < 0 ||
            sd_bus_add_object_vtable(bus, NULL, OBJECT, INTERFACE, echo_vtable, NULL) < 0 ||
            sd_bus_request_name(bus, SERVICE, 0) < 0)
                _exit(1);
        if (peers == BENCH_PEERS_DAEMON &&
            (daemon_event_new(&event) < 0 || sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL) < 0))
                _exit(1);
        if (write(ready_fd, "r", 1) != 1)
                _exit(1);
        if (event)
                _exit(daemon_event_loop(event, DAEMON_SPIN_USEC_DEFAULT) == 0 ? 0 : 1);
        for (;;) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0)
                        _exit(1);
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        _exit(1);
        }
}

static int new_echo_call(sd_bus *bus, const uint8_t *payload, sd_bus_message **ret) {
        sd_bus_message *call = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, SERVICE, OBJECT, INTERFACE, "Echo");
        if (r >= 0)
                r = sd_bus_message_append_array(call, 'y', payload, BENCH_PAYLOAD);
        if (r < 0) {
                sd_bus_message_unref(call);
                return r;
        }
        *ret = call;
        return 0;
}

static int check_echo_reply(sd_bus_message *reply, const uint8_t *payload) {
        const void *data;
        size_t size;
        int r;

        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r >= 0 && (size != BENCH_PAYLOAD || memcmp(data, payload, size) != 0))
                r = -EBADMSG;
        return r < 0 ? r : 0;
}

static int echo_call(sd_bus *bus, const uint8_t *payload) {
        sd_bus_message *call = NULL, *reply = NULL;
        int r;

        r = new_echo_call(bus, payload, &call);
        if (r >= 0)
                r = sd_bus_call(bus, call, BENCH_TIMEOUT_USEC, NULL, &reply);
        if (r >= 0)
                r = check_echo_reply(reply, payload);
        sd_bus_message_unref(call);
        sd_bus_message_unref(reply);
        return r;
}

/* The calling daemon (a process of its own): like bench_loop_call() on busd. */
struct loop_call {
        const char *address;
        int slots_fd;                   /* spin slots shared with the echo service */
        sd_event *event;
        uint64_t cookie;                /* of the call in flight */
        struct bench_progress progress;
        uint8_t payload[BENCH_PAYLOAD];
};

static int call_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

static int call_next(sd_bus *bus, struct loop_call *s) {
        sd_bus_message *call = NULL;
        int r;

        r = new_echo_call(bus, s->payload, &call);
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, call, call_on_reply, s, BENCH_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_message_get_cookie(call, &s->cookie);
        sd_bus_message_unref(call);
        return r;
}

static int call_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct loop_call *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint64_t cookie = 0;
        int r;

        if (e)
                r = -(sd_bus_error_get_errno(e) ?: EIO);
        else if (sd_bus_message_get_reply_cookie(reply, &cookie) < 0 || cookie != s->cookie)
                r = -EBADMSG;
        else
                r = check_echo_reply(reply, s->payload);
        if (r >= 0) {
                if (bench_progress_reply(&s->progress))
                        return sd_event_exit(s->event, 0);
                r = call_next(sd_bus_message_get_bus(reply), s);
        }
        if (r < 0)
                sd_event_exit(s->event, r);
        return 0;
}

static double loop_caller_run(void *userdata) {
        struct loop_call *s = userdata;
        sd_bus *bus = NULL;
        int r;

        r = spin_slots_map(s->slots_fd);
        if (r >= 0)
                r = daemon_event_new(&s->event);
        if (r >= 0)
                r = open_bus(s->address, &bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, s->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = call_next(bus, s);
        if (r >= 0)
                r = daemon_event_loop(s->event, DAEMON_SPIN_USEC_DEFAULT);
        return r < 0 ? r : bench_progress_mean(&s->progress);
}

/* The raw client, in this process: blocking calls. */
static int raw_calls(const char *address, unsigned n, const uint8_t *payload, double *ret_mean_us) {
        sd_bus *bus = NULL;
        int r;

        r = open_bus(address, &bus);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n / 10 && r >= 0; i++)  /* warm up */
                r = echo_call(bus, payload);
        uint64_t start = now_usec();
        for (unsigned i = 0; i < n && r >= 0; i++)
                r = echo_call(bus, payload);
        if (r >= 0)
                *ret_mean_us = (double) (now_usec() - start) / n;
        sd_bus_flush_close_unref(bus);
        return r;
}

int bench_dbus_run(const char *dir, unsigned n, enum bench_peers peers, double *ret_mean_us) {
        char config[256], log_path[256], address[512];
        struct loop_call loop = { .address = address, .slots_fd = -1 };
        int ready[2], r = 0;
        pid_t daemon_pid, service_pid = -1;
        char byte;

        bench_progress_init(&loop.progress, n);
        for (size_t i = 0; i < sizeof(loop.payload); i++)
                loop.payload[i] = (uint8_t) (i * 3 + 1);
        r = write_config(dir, config, sizeof(config));
        if (r < 0)
                return r;
        snprintf(log_path, sizeof(log_path), "%s/dbus-daemon.log", dir);
        daemon_pid = start_dbus_daemon(config, log_path, address, sizeof(address));
        if (daemon_pid < 0)
                return (int) daemon_pid;

        /* The peers share a page of spin slots as the bus's daemons do
         * (spin-slots.h); dbus-daemon does not poll, so needs none. */
        if (peers == BENCH_PEERS_DAEMON) {
                loop.slots_fd = spin_slots_create();
                if (loop.slots_fd < 0) {
                        r = loop.slots_fd;
                        goto stop_daemon;
                }
        }
        if (pipe2(ready, O_CLOEXEC) < 0) {
                r = -errno;
                goto stop_daemon;
        }
        service_pid = fork();
        if (service_pid == 0)
                echo_service(address, peers, loop.slots_fd, ready[1]);
        close(ready[1]);
        if (service_pid < 0 || read(ready[0], &byte, 1) != 1) {
                close(ready[0]);
                r = -EIO;
                goto stop_service;
        }
        close(ready[0]);

        if (peers == BENCH_PEERS_DAEMON)
                r = bench_in_child(loop_caller_run, &loop, ret_mean_us);
        else
                r = raw_calls(address, n, loop.payload, ret_mean_us);
stop_service:
        if (service_pid > 0) {
                kill(service_pid, SIGKILL);
                waitpid(service_pid, NULL, 0);
        }
stop_daemon:
        if (loop.slots_fd >= 0)
                close(loop.slots_fd);
        kill(daemon_pid, SIGTERM);
        waitpid(daemon_pid, NULL, 0);
        return r < 0 ? r : 0;
}
