/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-bus: shared between its bus/socketpair part, its D-Bus part and its peers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus-client.h"

#define BENCH_PAYLOAD 64
#define BENCH_TIMEOUT_USEC (5 * UINT64_C(1000000))

/* How the two peers of a path run. */
enum bench_peers {
        BENCH_PEERS_DAEMON,     /* as the daemons: own processes, sd-event + daemon_event_loop() */
        BENCH_PEERS_RAW,        /* blocking send/receive loops (the method until session 6) */
};

/* One run with fresh processes (a dbus-daemon started in dir, the service,
 * the client): the mean round trip (µs) of `n` 64-byte Echo method calls.
 * 0 or -errno. */
int bench_dbus_run(const char *dir, unsigned n, enum bench_peers peers, double *ret_mean_us);

double bench_median(double *v, size_t n);

/* A caller's count of its replies: count/10 untimed (warm-up), then
 * `count` timed. */
struct bench_progress {
        unsigned count, warmup, left;
        uint64_t start;
};
void bench_progress_init(struct bench_progress *p, unsigned count);
/* One good reply came: true once the last timed one has. */
bool bench_progress_reply(struct bench_progress *p);
/* Mean µs per timed round trip, or -ECONNRESET when they did not all come. */
double bench_progress_mean(const struct bench_progress *p);

/* Run fn(arg) in a fresh child process; what it returns (a mean in µs, or
 * -errno) comes back through a pipe.  0 with *ret_mean_us, or -errno. */
typedef double (*bench_caller_t)(void *arg);
int bench_in_child(bench_caller_t fn, void *arg, double *ret_mean_us);

/* bench-peer.c, in event mode on connection c, the way the daemons run.
 * The echo service: writes a byte to ready_fd (if >= 0) once it listens,
 * then serves until the connection closes; never returns. */
_Noreturn void bench_loop_echo(struct bus_client *c, int ready_fd);
/* The caller: count/10 untimed calls, then `count` timed ones to `to`, each
 * sent from the previous reply's handler and checked (request id, payload).
 * Mean µs per round trip, or -errno. */
double bench_loop_call(struct bus_client *c, uint32_t to, unsigned count);
