/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What busd's integration tests share: the real busd binary in a private
 * temporary directory with a fixed role table, and client connections made
 * by child processes that take a role's uid, connect, and hand the socket
 * back (busd reads the uid at connect time, so the connection keeps it).
 * The tests run as root.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus-client.h"
#include "bus.h"

/* The role table every test's busd gets. */
#define UID_QUBESD      0
#define UID_POLICYD     60101
#define UID_GUID        60102
#define UID_NETVM_MGR   60103
#define UID_UNKNOWN     60199

struct busd_harness {
        char dir[64];
        char socket_path[96];
        char log_path[96];
        char vchan_dir[96];
        pid_t pid;
};

/* Start busd with the role table plus extra arguments (NULL-terminated, may be NULL);
 * returns once it said READY=1. */
void harness_start(struct busd_harness *h, const char *const *extra_args);
/* SIGTERM, wait for a clean exit, remove the directory. */
void harness_stop(struct busd_harness *h);
/* Does busd's log contain `needle` (waits up to 2 s for it to appear)? */
bool harness_log_contains(struct busd_harness *h, const char *needle);

/* A SOCK_SEQPACKET socket connected to busd by a process running as uid. */
int harness_connect_raw(struct busd_harness *h, uid_t uid);
/* The same, wrapped in a bus client that has read WELCOME (< 0 on error). */
int harness_connect(struct busd_harness *h, uid_t uid, struct bus_client **ret);

/* Raw datagrams on a connection. */
void raw_send(int fd, const void *buf, size_t n);
void raw_send_msg(int fd, uint16_t type, uint32_t peer, uint32_t request_id, const void *payload);
/* Next message within timeout_ms: 0, -ETIMEDOUT, -ECONNRESET (EOF), -EBADMSG. */
int raw_recv_msg(int fd, int timeout_ms, struct bus_message *ret);
/* Did busd close fd within timeout_ms?  Discards whatever was queued before the EOF. */
bool raw_closed_by_busd(int fd, int timeout_ms);

/* PING busd from c and check the PONG. */
void assert_ping(struct bus_client *c);

/* A fresh zeroed struct bus_message (large). */
struct bus_message *message_new(void);

/* Run a program as uid with stdout to a pipe; returns its pid and the pipe's read end. */
pid_t spawn_as(uid_t uid, const char *const *argv, int *ret_stdout);
/* Read one line from fd within timeout_ms into buf; false on EOF/timeout. */
bool read_line(int fd, int timeout_ms, char *buf, size_t size);
const char *builddir_path(const char *relative, char *buf, size_t size);
