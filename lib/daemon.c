/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event loop, signals, watchdog and readiness every daemon shares (see daemon.h). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "daemon.h"
#include "log.h"

/* /proc/loadavg, opened before the sandbox: daemon_event_loop() reads how
 * many tasks are runnable from it.  -1: unknown, poll as if CPUs were free. */
static int loadavg_fd = -1;

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        sd_event *event = sd_event_source_get_event(source);

        log_info("Received %s, exiting.", sigabbrev_np((int) si->ssi_signo) ?: "signal");
        return sd_event_exit(event, 0);
}

int daemon_event_new(sd_event **ret) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        struct sigaction ignore = { .sa_handler = SIG_IGN };
        sigset_t exit_signals;
        int r;

        /* A peer closing its end must be an EPIPE on that connection, not our death. */
        if (sigaction(SIGPIPE, &ignore, NULL) < 0)
                return log_error_errno(errno, "Failed to ignore SIGPIPE");

        /* sd-event reads signals from a signalfd, which only sees blocked signals. */
        sigemptyset(&exit_signals);
        sigaddset(&exit_signals, SIGTERM);
        sigaddset(&exit_signals, SIGINT);
        if (sigprocmask(SIG_BLOCK, &exit_signals, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGTERM/SIGINT");

        /* Not sd_event_default(): that one asks the kernel for the thread id on every iteration. */
        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop");

        if (loadavg_fd < 0)
                loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);

        /* sd-event spreads timer wake-ups by the boot id, read on first use;
         * read it now, while files may still be opened (it is cached). */
        sd_id128_t boot_id;
        r = sd_id128_get_boot(&boot_id);
        if (r < 0)
                log_debug_errno(r, "Failed to read the boot id, timers are not spread");

        r = sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM");
        r = sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGINT");

        /* Pings the service manager at half of $WATCHDOG_USEC; nothing when unset. */
        r = sd_event_set_watchdog(event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog");
        if (r > 0)
                log_debug("Service manager watchdog enabled.");

        *ret = TAKE_PTR(event);
        return 0;
}

void daemon_notify_ready(const char *status) {
        int r;

        if (status)
                r = sd_notifyf(false, "READY=1\nSTATUS=%s", status);
        else
                r = sd_notify(false, "READY=1");
        if (r < 0)
                log_warning_errno(r, "Failed to notify readiness");
}

void daemon_notify_stopping(void) {
        int r = sd_notify(false, "STOPPING=1");
        if (r < 0)
                log_debug_errno(r, "Failed to notify stopping");
}

static char *daemon_dir_path(const char *opt, const char *env_name, const char *fallback, const char *name) {
        const char *dir;

        if (opt)
                return strdup(opt);
        dir = getenv(env_name);
        /* A relative directory would depend on where the daemon was started from. */
        if (!dir || dir[0] != '/')
                dir = fallback;
        return path_join(dir, name);
}

char *daemon_runtime_path(const char *opt, const char *name) {
        return daemon_dir_path(opt, "ODYSSEY_RUNTIME_DIR", "/run/qubes", name);
}

char *daemon_state_path(const char *opt, const char *name) {
        return daemon_dir_path(opt, "ODYSSEY_STATE_DIR", "/var/lib/qubes", name);
}

static bool loop_finished(sd_event *e) {
        return sd_event_get_state(e) == SD_EVENT_FINISHED;
}

/* Tasks other than the caller running or waiting for a CPU right now
 * ("0.52 0.41 0.30 3/250 12345": the 3); -1 when unknown. */
static long others_runnable(void) {
        char buf[128];
        long running;
        ssize_t n;

        if (loadavg_fd < 0)
                return -1;
        n = pread(loadavg_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        if (sscanf(buf, "%*s %*s %*s %ld/", &running) != 1 || running < 1)
                return -1;
        return running - 1;
}

/* How often a polling loop looks at the run queue again. */
#define SPIN_LOAD_CHECK_USEC 1000

int daemon_event_loop(sd_event *e, uint64_t spin_usec) {
        uint64_t checked_at = 0;
        bool cpu_free = true;
        int r, code = 0;

        /* With one CPU nothing else can make work for us while we poll. */
        cpu_set_t cpus;
        int ncpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        if (ncpus < 2)
                spin_usec = 0;
        if (spin_usec == 0)
                return sd_event_loop(e);

        while (!loop_finished(e)) {
                r = sd_event_run(e, UINT64_MAX);
                if (r < 0)
                        return r;

                /* Poll while work keeps arriving within the window, and only
                 * while a CPU is left for the others: when the machine is
                 * busy, polling takes the CPU our peers need to answer, and
                 * loses the priority the scheduler gives a task that slept. */
                uint64_t now = now_usec(), idle_from = now;
                for (;;) {
                        if (now - checked_at >= SPIN_LOAD_CHECK_USEC) {
                                checked_at = now;
                                cpu_free = others_runnable() < ncpus;
                        }
                        if (!cpu_free || loop_finished(e) || now - idle_from >= spin_usec)
                                break;
                        r = sd_event_run(e, 0);
                        if (r < 0)
                                return r;
                        now = now_usec();
                        if (r > 0)
                                idle_from = now;
                }
        }
        r = sd_event_get_exit_code(e, &code);
        return r < 0 ? r : code;
}
