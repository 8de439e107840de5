/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The native backend's qubesd side: the backend (hal-native.c), its link to
 * each domain's monitor (hal-native-domain.c) and the spawner (spawner.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hal.h"

enum native_request_kind {
        NATIVE_REQUEST_SHUTDOWN,
        NATIVE_REQUEST_KILL,
        NATIVE_REQUEST_PAUSE,
        NATIVE_REQUEST_UNPAUSE,
};

/* An operation waiting for the monitor's reply, then (stop) for STOPPED. */
struct native_request {
        enum native_request_kind kind;
        hal_done_fn done;
        void *userdata;
        struct native_request *next;
};

struct native_domain {
        struct hal_backend *backend;
        struct native_domain *next;
        char *name;
        uint32_t domid;
        char *vchan_dir;
        char *procs_path;               /* NULL: no cgroup, search the pid namespace */
        pid_t monitor_pid, init_pid;
        enum power_state state;
        uint64_t start_time_usec;
        int fd;                         /* connection to the monitor */
        sd_event_source *source;
        struct native_request *replies; /* in the order sent */
        struct native_request *stop_waiters;
        hal_done_fn start_done;
        void *start_userdata;
};

struct hal_backend {
        sd_event *event;
        char *runtime_dir;
        char *state_dir;
        char *domains_dir;
        hal_event_fn on_event;
        void *userdata;
        int spawner_fd;
        pid_t spawner_pid;
        struct native_domain *domains;
};

/* spawner.c */
int native_spawner_start(const char *monitor_program, int *ret_fd, pid_t *ret_pid);
/* Ask it to start a monitor for DIR with `fd` as its qubesd connection. */
int native_spawner_spawn(int spawner_fd, const char *dir, int fd);

/* hal-native-domain.c */
struct native_domain *native_domain_find(struct hal_backend *b, const char *name);
/* A new record on connection fd (taken), watched on b's loop. */
int native_domain_new(struct hal_backend *b, const char *name, int fd, struct native_domain **ret);
void native_domain_free(struct native_domain *d);
/* Connect to a running monitor of `name` and learn its state (blocks up to
 * a second on a local socket; used by list after a restart).  -ENOENT when
 * no monitor runs it. */
int native_domain_attach(struct hal_backend *b, const char *name, struct native_domain **ret);
int native_domain_request(struct native_domain *d, enum native_request_kind kind, uint32_t arg, hal_done_fn done,
                          void *userdata);
