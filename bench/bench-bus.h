/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-bus: shared between its bus/socketpair part and its D-Bus part. */
#pragma once

#include <stddef.h>

#define BENCH_PAYLOAD 64

/* Median over `runs` of the mean round trip (µs) of `n` 64-byte Echo method
 * calls through a dbus-daemon started in dir.  0 or -errno. */
int bench_dbus_rtt(const char *dir, unsigned runs, unsigned n, double *ret_median_us);

double bench_median(double *v, size_t n);
