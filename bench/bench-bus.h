/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-bus: shared between its bus/socketpair part and its D-Bus part. */
#pragma once

#include <stddef.h>

#define BENCH_PAYLOAD 64

/* One run with fresh processes (a dbus-daemon started in dir, the service,
 * the client): the mean round trip (µs) of `n` 64-byte Echo method calls.
 * 0 or -errno. */
int bench_dbus_run(const char *dir, unsigned n, double *ret_mean_us);

double bench_median(double *v, size_t n);
