/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event loop, signals, watchdog and readiness every daemon shares (see daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "daemon.h"
#include "log.h"
#include "spin-slots.h"

/* /proc/loadavg, opened before the sandbox: daemon_event_loop() reads how
 * many tasks are runnable from it.  -1: unknown, poll as if CPUs were free. */
static int loadavg_fd = -1;

static struct daemon_poll_hook poll_hooks[DAEMON_POLL_HOOKS_MAX];
static bool polling_now;

int daemon_poll_hook_add(const struct daemon_poll_hook *hook) {
        for (size_t i = 0; i < DAEMON_POLL_HOOKS_MAX; i++)
                if (!poll_hooks[i].userdata) {
                        poll_hooks[i] = *hook;
                        if (polling_now)
                                hook->set_polling(true, hook->userdata);
                        return 0;
                }
        return -ENOSPC;
}

void daemon_poll_hook_remove(void *userdata) {
        for (size_t i = 0; i < DAEMON_POLL_HOOKS_MAX; i++)
                if (poll_hooks[i].userdata == userdata)
                        poll_hooks[i] = (struct daemon_poll_hook) {};
}

static void poll_hooks_set_polling(bool polling) {
        polling_now = polling;
        for (size_t i = 0; i < DAEMON_POLL_HOOKS_MAX; i++)
                if (poll_hooks[i].userdata)
                        poll_hooks[i].set_polling(polling, poll_hooks[i].userdata);
}

static void poll_hooks_poll(void) {
        for (size_t i = 0; i < DAEMON_POLL_HOOKS_MAX; i++)
                if (poll_hooks[i].userdata)
                        poll_hooks[i].poll(poll_hooks[i].userdata);
}

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

/* How often a polling loop looks at the run queue, its slot and its share of the CPU. */
#define SPIN_CHECK_USEC 1000
/* The load that is not ours is the least of the reads of the last
 * LOAD_SAMPLES_USEC (at most LOAD_SAMPLES of them): a read also counts a
 * daemon of ours that was just woken and has not taken its slot yet (in a
 * VM that takes tens of microseconds), while load that lasts shows in all. */
#define LOAD_SAMPLES 8
#define LOAD_SAMPLES_USEC 20000
/* A poller that got less than SPIN_SHARE_MIN of its part of a CPU (all of
 * one, or its share with our other pollers) over SPIN_SHARE_WINDOW_USEC
 * shares it with other work: it stops polling for SPIN_BACKOFF_USEC. */
#define SPIN_SHARE_WINDOW_USEC 4000
#define SPIN_SHARE_MIN 0.45
#define SPIN_BACKOFF_USEC 50000
/* DAEMON_SPIN_POLLERS_BEYOND_CPUS: a call through busd has three loops in
 * it (caller, busd, callee), and pollers that yield whenever they find
 * nothing hand a shared CPU to each other at once (a context switch, not a
 * time slice, nor an idle vCPU's wake-up). */

/* Whether a loop may poll: the run queue as read lately, its spin slot,
 * and what polling has cost it. */
struct poll_gate {
        long ncpus;
        int slot;                       /* held while awake, or -1 */
        uint64_t load_read_at;          /* 0: never */
        struct load_sample { uint64_t at; long unrelated; } samples[LOAD_SAMPLES];
        unsigned next_sample;
        long unrelated;                 /* runnable tasks that are not our daemons */
        uint64_t backoff_until;         /* no polling before this */
        uint64_t window_start, window_cpu_start;
};

static void poll_gate_read_load(struct poll_gate *g, uint64_t now) {
        long others = others_runnable();

        g->load_read_at = now;
        if (others < 0)
                others = 0;     /* unknown: poll as if CPUs were free */
        /* Our daemons awake now are runnable too, but not load: they hold
         * slots, and poll, if at all, within the limit. */
        others -= (long) spin_slots_held(now, g->slot, NULL);
        g->samples[g->next_sample++ % LOAD_SAMPLES] = (struct load_sample) { now, others > 0 ? others : 0 };
        g->unrelated = LONG_MAX;
        for (unsigned i = 0; i < LOAD_SAMPLES; i++)
                if (g->samples[i].at != 0 && now - g->samples[i].at < LOAD_SAMPLES_USEC &&
                    g->samples[i].unrelated < g->unrelated)
                        g->unrelated = g->samples[i].unrelated;
}

static uint64_t process_cpu_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Poll only while a CPU is left for us: when the machine is busy, polling
 * takes the CPU our peers need to answer, and the wake-ups it saves are
 * cheap there (the CPUs are not idle). */
static bool poll_gate_allows(struct poll_gate *g, uint64_t now) {
        if (g->load_read_at == 0 || now - g->load_read_at >= SPIN_CHECK_USEC)
                poll_gate_read_load(g, now);
        /* With other work about, one CPU is left for it and for the
         * wake-ups of our sleepers: a poller sharing a CPU with other work
         * delays every message by its time slices. */
        long limit = g->unrelated == 0 ? g->ncpus + DAEMON_SPIN_POLLERS_BEYOND_CPUS : g->ncpus - g->unrelated - 1;
        /* Without a page from busd the loop counts only for itself. */
        if (!spin_slots_mapped())
                return limit > 0;
        return spin_slot_poll(g->slot, limit, now);
}

/* After a wake-up's work: may we poll? */
static bool poll_gate_open(struct poll_gate *g, uint64_t now) {
        if (now < g->backoff_until)
                return false;
        g->window_start = now;
        g->window_cpu_start = process_cpu_usec();
        return poll_gate_allows(g, now);
}

/* Every SPIN_CHECK_USEC of polling: may we go on? */
static bool poll_gate_check(struct poll_gate *g, uint64_t now) {
        if (now - g->window_start >= SPIN_SHARE_WINDOW_USEC) {
                /* Not sleeping, we ran all the time we were not made to wait. */
                uint64_t cpu = process_cpu_usec();
                unsigned others_polling = 0;
                (void) spin_slots_held(now, g->slot, &others_polling);
                /* Our pollers beyond the CPUs share them by yielding: each is
                 * owed its part, not a whole CPU. */
                double owed = others_polling + 1 > (unsigned) g->ncpus
                                      ? (double) g->ncpus / (double) (others_polling + 1) : 1.0;
                if ((double) (cpu - g->window_cpu_start) < SPIN_SHARE_MIN * owed * (double) (now - g->window_start)) {
                        g->backoff_until = now + SPIN_BACKOFF_USEC;
                        return false;
                }
                g->window_start = now;
                g->window_cpu_start = cpu;
        }
        return poll_gate_allows(g, now);
}

/* One iteration of the loop that may sleep.  Awake, the loop holds a slot
 * from the moment it wakes, so that the others count it while it works. */
static int run_marked(sd_event *e, struct poll_gate *g) {
        int r = sd_event_prepare(e);

        if (r == 0)
                r = sd_event_wait(e, UINT64_MAX);
        if (g->slot < 0)
                g->slot = spin_slot_take(now_usec());
        if (r > 0)
                r = sd_event_dispatch(e);
        return r;
}

static void poll_gate_sleep(struct poll_gate *g) {
        spin_slot_release(g->slot);
        g->slot = -1;
}

int daemon_event_loop(sd_event *e, uint64_t spin_usec) {
        struct poll_gate gate = { .slot = -1 };
        int r = 0, code = 0;

        /* With one CPU nothing else can make work for us while we poll. */
        cpu_set_t cpus;
        gate.ncpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        if (gate.ncpus < 2)
                spin_usec = 0;
        if (spin_usec == 0)
                return sd_event_loop(e);

        while (!loop_finished(e)) {
                r = run_marked(e, &gate);
                if (r < 0)
                        break;

                /* Poll while work keeps arriving within the window. */
                uint64_t now = now_usec(), idle_from = now, checked_at = now;
                bool open = poll_gate_open(&gate, now), polled = open;
                if (polled)
                        poll_hooks_set_polling(true);
                while (open && !loop_finished(e) && now - idle_from < spin_usec) {
                        poll_hooks_poll();
                        r = sd_event_run(e, 0);
                        if (r < 0)
                                break;
                        now = now_usec();
                        if (r > 0)
                                idle_from = now;
                        else
                                /* A loop of ours woken onto this CPU (the
                                 * next hop of an exchange) runs at once. */
                                sched_yield();
                        if (now - checked_at >= SPIN_CHECK_USEC) {
                                checked_at = now;
                                open = poll_gate_check(&gate, now);
                        }
                }
                if (polled)
                        poll_hooks_set_polling(false);
                if (r < 0)
                        break;
                poll_gate_sleep(&gate);
        }
        poll_gate_sleep(&gate);
        if (r < 0)
                return r;
        r = sd_event_get_exit_code(e, &code);
        return r < 0 ? r : code;
}
