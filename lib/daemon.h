/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every Odyssey daemon does the same way: an sd-event loop that exits
 * cleanly on SIGTERM/SIGINT, the systemd watchdog when $WATCHDOG_USEC asks
 * for it, readiness through sd_notify, and the seccomp sandbox applied once
 * initialisation is over.
 *
 * Typical main():
 *     log_setup("busd");
 *     r = daemon_event_new(&event);            // loop, signals, watchdog
 *     ... bind sockets, open files ...
 *     r = sandbox_apply(busd_syscalls);        // sandbox.h; after init, before serving
 *     daemon_notify_ready("Serving N peers");  // READY=1
 *     r = sd_event_loop(event);
 *     daemon_notify_stopping();
 */
#pragma once

#include <systemd/sd-event.h>

#include "util.h"

/* New sd-event loop with SIGTERM/SIGINT ending it (exit code 0) and the
 * watchdog enabled when the service manager asked for one.  SIGPIPE ignored. */
int daemon_event_new(sd_event **ret);

/* sd_notify READY=1 (+ STATUS= when status != NULL).  Harmless without $NOTIFY_SOCKET. */
void daemon_notify_ready(const char *status);
void daemon_notify_stopping(void);

/* Resolve a runtime path: the value of option `opt` if given, else
 * $ODYSSEY_RUNTIME_DIR/name, else /run/qubes/name.  Fresh string or NULL. */
char *daemon_runtime_path(const char *opt, const char *name);
/* Same for state: $ODYSSEY_STATE_DIR, else /var/lib/qubes. */
char *daemon_state_path(const char *opt, const char *name);

/*
 * Run the loop until it exits, like sd_event_loop(), but after dispatching
 * keep polling without sleeping until spin_usec pass with nothing to do:
 * in a VM, waking a sleeping vCPU costs tens of microseconds, more than a
 * message's whole work, and a request/response exchange through a daemon
 * pays it on every hop.  The cost is at most spin_usec of CPU after each
 * burst of work (0.5 % of a CPU at 100 isolated messages a second with the
 * default); an idle daemon sleeps.
 *
 * Polling pays only on CPUs that would otherwise be idle, so the loops of
 * one bus share them through the spin slots busd hands out (spin-slots.h):
 * at most one poller more than there are CPUs (a poller that finds
 * nothing yields, so a loop of ours woken onto its CPU runs at once), and
 * none while other work keeps a CPU busy
 * (/proc/loadavg less our daemons awake, the least of the reads of the
 * last 20 ms; with other work about, one CPU is left to it and to the
 * wake-ups, which are cheap on busy CPUs).  A poller that got less than
 * 45 % of its part of a CPU over 4 ms stops polling for 50 ms.  spin_usec 0, or a
 * single CPU to run on, is plain sd_event_loop().
 * Returns the loop's exit code or -errno.
 */
int daemon_event_loop(sd_event *e, uint64_t spin_usec);

/*
 * Work a polling loop can see without a system call (bus rings,
 * bus-ring.h).  set_polling(true) when daemon_event_loop() starts polling,
 * set_polling(false) before it may sleep: from then on the producers must
 * kick, and what came before is looked for once more.  poll() on every
 * turn of the polling loop.  Both arrange for sd-event to dispatch the
 * work they find (a defer source), they do not do it.  A loop that never polls
 * never calls them: the producers then always kick.
 */
struct daemon_poll_hook {
        void (*set_polling)(bool polling, void *userdata);
        void (*poll)(void *userdata);
        void *userdata;
};
#define DAEMON_POLL_HOOKS_MAX 4
int daemon_poll_hook_add(const struct daemon_poll_hook *hook);
void daemon_poll_hook_remove(void *userdata);
#define DAEMON_SPIN_USEC_DEFAULT 50
/* On a quiet machine this many loops more than there are CPUs may poll. */
#define DAEMON_SPIN_POLLERS_BEYOND_CPUS 1
