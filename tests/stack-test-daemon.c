/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal daemon built like the real ones (lib/daemon.h, lib/sandbox.h), for
 * tests of the stack launcher and of the sandbox under a real event loop.
 *   stack-test-daemon [--exit-before-ready] [--never-ready] [--ticks N]
 * --exit-before-ready: exit 1 during initialisation.  --never-ready: serve
 * without ever sending READY=1.  --ticks N: exit 0 after N timer ticks of
 * 10 ms (default: run until SIGTERM).
 */
#include <getopt.h>
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "sandbox.h"

#define TICK_USEC UINT64_C(10000)

static uint32_t ticks_left;     /* 0: forever */

static int on_tick(sd_event_source *source, uint64_t usec, void *userdata) {
        if (ticks_left > 0 && --ticks_left == 0)
                return sd_event_exit(sd_event_source_get_event(source), 0);
        int r = sd_event_source_set_time(source, usec + TICK_USEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "exit-before-ready", no_argument, NULL, 'x' },
                { "never-ready", no_argument, NULL, 'n' },
                { "ticks", required_argument, NULL, 't' },
                {}
        };
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        bool exit_before_ready = false, never_ready = false;
        uint64_t now;
        int c, r;

        log_setup("stack-test-daemon");
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'x':
                        exit_before_ready = true;
                        break;
                case 'n':
                        never_ready = true;
                        break;
                case 't':
                        if (parse_uint32(optarg, &ticks_left) < 0) {
                                log_error("Invalid --ticks '%s'", optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }

        if (exit_before_ready) {
                log_error("Exiting before readiness, as asked.");
                return 1;
        }

        r = daemon_event_new(&event);
        if (r < 0)
                return 1;
        r = sd_event_now(event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return log_error_errno(r, "Failed to read the loop's clock"), 1;
        r = sd_event_add_time(event, NULL, CLOCK_MONOTONIC, now + TICK_USEC, 0, on_tick, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add the tick timer"), 1;

        r = sandbox_apply(NULL);
        if (r < 0)
                return 1;

        if (!never_ready)
                daemon_notify_ready("Ticking");
        log_info("Serving (uid %u).", (unsigned) getuid());

        r = sd_event_loop(event);
        daemon_notify_stopping();
        if (r < 0)
                return log_error_errno(r, "Event loop failed"), 1;
        log_info("Exiting cleanly.");
        return r;
}
