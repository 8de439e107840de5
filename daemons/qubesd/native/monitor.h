/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The domain monitor (odyssey-domain): its state, shared by monitor.c and monitor-server.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "monitor-protocol.h"
#include "native-cgroup.h"
#include "native.h"

struct monitor_client {
        struct monitor *monitor;
        int fd;
        sd_event_source *source;
        struct monitor_client *next;
};

struct monitor {
        sd_event *event;
        const char *dir;
        struct native_config config;
        struct native_cgroup cgroup;
        enum monitor_state state;
        pid_t init_pid;                 /* host pid of the domain's init; 0 once it ended */
        uint64_t start_usec;            /* CLOCK_REALTIME */
        sd_event_source *child_source;
        sd_event_source *kill_timer;    /* a shutdown's deadline */
        int listen_fd;
        char *socket_path;
        sd_event_source *listen_source;
        struct monitor_client *clients;
};

/* monitor.c: the domain */
void monitor_set_state(struct monitor *m, enum monitor_state state);
void monitor_describe(const struct monitor *m, char *buf, size_t size);
int monitor_shutdown(struct monitor *m, uint32_t timeout_sec);
int monitor_kill(struct monitor *m);
int monitor_pause(struct monitor *m, bool pause);

/* monitor-server.c: monitor.sock and its clients */
int monitor_server_open(struct monitor *m);
void monitor_server_close(struct monitor *m);
int monitor_add_client(struct monitor *m, int fd);
void monitor_free_clients(struct monitor *m);
void monitor_broadcast(struct monitor *m, const char *message);
