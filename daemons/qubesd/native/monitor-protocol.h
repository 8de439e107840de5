/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain monitor's socket protocol (odyssey-domain, one per running
 * native domain).  SOCK_SEQPACKET, one message per datagram, ASCII text
 * without a NUL, at most MONITOR_MSG_MAX bytes, fields separated by one
 * space.  Only root may connect (DIR/monitor.sock is 0600 and the monitor
 * checks SO_PEERCRED).  Several clients may be connected at once; qubesd
 * also gets a first connection from the spawner at start (fd 3).
 *
 * Requests, each answered at once, in order, by "OK ..." or "ERR <errno>":
 *   STATE             OK <state> <domid> <init pid> <start usec> <monitor pid> <procs>
 *   SHUTDOWN <sec>    OK        SIGTERM to the domain's init; SIGKILL after <sec>
 *   KILL              OK        SIGKILL to the domain's init
 *   PAUSE / UNPAUSE   OK        the domain is frozen / thawed when this arrives
 *   PSS               OK <kB>   memory of the monitor and every process of the domain
 * Events, sent to every connected client (the order of replies is not
 * disturbed: an event is never between a request and its reply):
 *   EVENT STARTED <domid> <init pid> <start usec> <monitor pid> <procs>
 *   EVENT FAILED <errno>        the domain could not be started; the monitor exits
 *   EVENT STOPPED <reason>      0 clean exit of init, 128+signal, or its exit status;
 *                               the monitor has cleaned up and exits
 * <state> is one of the strings of monitor_state below; <start usec> is
 * CLOCK_REALTIME; <procs> is the rest of the line: a cgroup.procs file
 * listing the domain's processes, or "-" when the host gave it no cgroup.
 */
#pragma once

#include <string.h>

#define MONITOR_MSG_MAX 1024
#define MONITOR_SOCKET  "monitor.sock"
#define MONITOR_PID     "monitor.pid"
#define MONITOR_STATE   "state"
#define MONITOR_CONFIG  "config"
#define MONITOR_CONSOLE "console.log"

enum monitor_state {
        MONITOR_STARTING,
        MONITOR_RUNNING,
        MONITOR_PAUSED,
        MONITOR_HALTING,
        MONITOR_HALTED,
        _MONITOR_STATE_MAX,
};

static inline const char *monitor_state_to_string(enum monitor_state s) {
        static const char *const names[_MONITOR_STATE_MAX] = {
                "starting", "running", "paused", "halting", "halted",
        };
        return s < _MONITOR_STATE_MAX ? names[s] : "halted";
}

static inline int monitor_state_from_string(const char *s) {
        for (int i = 0; i < _MONITOR_STATE_MAX; i++)
                if (strcmp(s, monitor_state_to_string((enum monitor_state) i)) == 0)
                        return i;
        return -1;
}
