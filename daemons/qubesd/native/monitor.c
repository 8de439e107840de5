/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-domain: the monitor of one running native domain (like conmon).
 * Started by qubesd's spawner with the domain's directory; it starts the
 * domain's init, stays its parent, serves monitor.sock (monitor-protocol.h),
 * and when the init ends it cleans up (cgroups, a disposable's private
 * volume, the vchan dir), reports STOPPED and exits.  It lives exactly as
 * long as the domain, so a restarted qubesd finds every running domain again
 * by connecting to the monitors' sockets.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "log.h"
#include "monitor-protocol.h"
#include "monitor.h"
#include "native-fs.h"
#include "native-root.h"

#define MONITOR_TERM_TIMEOUT_SEC 10     /* when the monitor itself is told to stop */

/* Readers see the old file, no file, or the whole new one.  The old one is
 * unlinked rather than renamed over: replacing a file makes ext4 write the
 * new one out first (auto_da_alloc), milliseconds on a domain's start when
 * the runtime directory is on disk; no reader needs them at every instant. */
static int write_small_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *path = path_join(dir, name), *tmp = NULL;
        _cleanup_close_ int fd = -1;

        if (!path || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        if (write_full(fd, content, strlen(content)) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

void monitor_set_state(struct monitor *m, enum monitor_state state) {
        char line[32];

        m->state = state;
        snprintf(line, sizeof(line), "%s\n", monitor_state_to_string(state));
        (void) write_small_file(m->dir, MONITOR_STATE, line);
}

/* "<domid> <init pid> <start usec> <monitor pid> <procs>" */
void monitor_describe(const struct monitor *m, char *buf, size_t size) {
        snprintf(buf, size, "%u %d %llu %d %s", (unsigned) m->config.domid, (int) m->init_pid,
                 (unsigned long long) m->start_usec, (int) getpid(), m->cgroup.procs_path ?: "-");
}

static int on_init_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct monitor *m = userdata;
        int reason = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        char event[64];
        int r;

        log_info("Domain %s stopped (%s %d).", m->config.name, si->si_code == CLD_EXITED ? "exit status" : "signal",
                 si->si_status);
        m->init_pid = 0;
        m->kill_timer = sd_event_source_disable_unref(m->kill_timer);

        /* The pid namespace is empty once its init is reaped; the groups may
         * take a moment to notice. */
        for (int i = 0; i < 100 && (r = native_cgroup_remove(&m->cgroup)) == -EBUSY; i++)
                nanosleep(&(struct timespec) { .tv_nsec = 1000 * 1000 }, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the cgroups of domain %s", m->config.name);
        if (m->config.volatile_private) {
                r = native_remove_tree(m->config.private_dir);
                if (r < 0)
                        log_warning_errno(r, "Cannot discard the volatile private volume %s", m->config.private_dir);
        }
        r = native_remove_contents(m->config.vchan_dir);
        if (r < 0)
                log_warning_errno(r, "Cannot empty the vchan dir %s", m->config.vchan_dir);

        /* Gone from the directory before anyone hears it stopped, so a new
         * start's monitor never loses its socket to us. */
        monitor_server_close(m);
        monitor_set_state(m, MONITOR_HALTED);
        snprintf(event, sizeof(event), "EVENT STOPPED %d", reason);
        monitor_broadcast(m, event);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct monitor *m = userdata;

        log_notice("Domain %s did not stop in time, killing it.", m->config.name);
        monitor_kill(m);
        return 0;
}

int monitor_shutdown(struct monitor *m, uint32_t timeout_sec) {
        uint64_t deadline;
        int r;

        if (m->init_pid <= 0)
                return -ESRCH;
        if (m->state == MONITOR_PAUSED)
                (void) monitor_pause(m, false);
        if (kill(m->init_pid, SIGTERM) < 0)
                return -errno;
        monitor_set_state(m, MONITOR_HALTING);
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &deadline);
        if (r < 0)
                return r;
        deadline += (uint64_t) timeout_sec * 1000000;
        if (m->kill_timer) {
                uint64_t current;
                if (sd_event_source_get_time(m->kill_timer, &current) >= 0 && current <= deadline)
                        return 0;
                m->kill_timer = sd_event_source_disable_unref(m->kill_timer);
        }
        return sd_event_add_time(m->event, &m->kill_timer, CLOCK_MONOTONIC, deadline, 0, on_kill_timer, m);
}

int monitor_kill(struct monitor *m) {
        bool was_paused = m->state == MONITOR_PAUSED;

        if (m->init_pid <= 0)
                return -ESRCH;
        /* The pid namespace dies with its init. */
        if (kill(m->init_pid, SIGKILL) < 0)
                return -errno;
        monitor_set_state(m, MONITOR_HALTING);
        /* Frozen tasks only die once thawed. */
        if (was_paused)
                (void) monitor_pause(m, false);
        return 0;
}

/* Without a freezer: stop or continue every process of the pid namespace. */
static int signal_all(struct monitor *m, int sig) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        r = native_domain_pids(NULL, m->init_pid, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                (void) kill(pids[i], sig);
        return 0;
}

int monitor_pause(struct monitor *m, bool pause) {
        int r;

        if (m->init_pid <= 0)
                return -ESRCH;
        if (pause && m->state != MONITOR_RUNNING)
                return m->state == MONITOR_PAUSED ? 0 : -EBUSY;
        if (!pause && m->state != MONITOR_PAUSED)
                return 0;
        if (native_cgroup_can_freeze(&m->cgroup))
                r = native_cgroup_freeze(&m->cgroup, pause);
        else
                r = signal_all(m, pause ? SIGSTOP : SIGCONT);
        if (r < 0)
                return log_error_errno(r, "Cannot %s domain %s", pause ? "pause" : "unpause", m->config.name);
        monitor_set_state(m, pause ? MONITOR_PAUSED : MONITOR_RUNNING);
        return 0;
}

static int on_term_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct monitor *m = userdata;

        log_info("Received %s, shutting domain %s down.", sigabbrev_np((int) si->ssi_signo) ?: "signal",
                 m->config.name);
        if (monitor_shutdown(m, MONITOR_TERM_TIMEOUT_SEC) < 0)
                (void) monitor_kill(m);
        return 0;
}

static int start_domain(struct monitor *m) {
        _cleanup_close_ int console_fd = -1;
        char line[MONITOR_MSG_MAX - 16], event[MONITOR_MSG_MAX];
        int r;

        r = native_prepare_private(&m->config);
        if (r >= 0)
                r = native_prepare_vchan_dir(&m->config);
        if (r < 0)
                return r;
        /* name.monitor-pid: unique per running domain, even for two stacks
         * on one host (the tests) that each have a "work", or a group some
         * crashed run left behind. */
        char group[64 + 16];
        snprintf(group, sizeof(group), "%s.%d", m->config.name, (int) getpid());
        r = native_cgroup_create(&m->cgroup, group, m->config.maxmem_mb ?: m->config.memory_mb, m->config.vcpus);
        if (r < 0)
                return r;
        if (m->config.debug) {
                _cleanup_free_ char *path = path_join(m->dir, MONITOR_CONSOLE);
                if (!path)
                        return -ENOMEM;
                console_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (console_fd < 0)
                        log_warning_errno(errno, "Cannot open %s, the domain's output is discarded", path);
        }
        m->start_usec = realtime_usec();
        r = native_init_spawn(&m->config, &m->cgroup, console_fd, &m->init_pid);
        if (r < 0)
                return r;
        r = sd_event_add_child(m->event, &m->child_source, m->init_pid, WEXITED, on_init_exit, m);
        if (r < 0) {
                (void) kill(m->init_pid, SIGKILL);
                return log_error_errno(r, "Cannot watch the domain's init");
        }
        /* qubesd first: the state file is for people and can wait. */
        m->state = MONITOR_RUNNING;
        monitor_describe(m, line, sizeof(line));
        snprintf(event, sizeof(event), "EVENT STARTED %s", line);
        monitor_broadcast(m, event);
        monitor_set_state(m, MONITOR_RUNNING);
        log_info("Domain %s started, init %d.", m->config.name, (int) m->init_pid);
        return 0;
}

static void help(void) {
        printf("Usage: odyssey-domain [--qubesd-fd FD] DIR\n"
               "Run and watch one native Odyssey domain, described by DIR/config.\n"
               "Started by qubesd's native backend; not meant to be run by hand.\n\n"
               "  --qubesd-fd FD  an already connected client (qubesd) on FD\n"
               "  -h, --help      show this help\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "qubesd-fd", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_free_ char *config_path = NULL;
        struct monitor m = { .listen_fd = -1, .state = MONITOR_STARTING };
        struct sigaction ignore = { .sa_handler = SIG_IGN };
        uint32_t qubesd_fd = UINT32_MAX;
        sigset_t blocked;
        char pid_line[32];
        int c, r;

        log_setup("odyssey-domain");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        if (parse_uint32(optarg, &qubesd_fd) < 0 || qubesd_fd < 3 || qubesd_fd > INT32_MAX) {
                                log_error("Invalid --qubesd-fd '%s'", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind + 1 != argc) {
                log_error("Expected exactly one argument, the domain's directory (see --help).");
                return 2;
        }
        m.dir = argv[optind];

        (void) sigaction(SIGPIPE, &ignore, NULL);
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGCHLD);
        sigaddset(&blocked, SIGTERM);
        sigaddset(&blocked, SIGINT);
        if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0)
                return log_error_errno(errno, "Cannot block signals"), 1;
        r = sd_event_new(&m.event);
        if (r < 0)
                return log_error_errno(r, "Cannot allocate the event loop"), 1;

        if (qubesd_fd != UINT32_MAX)
                (void) monitor_add_client(&m, (int) qubesd_fd);

        config_path = path_join(m.dir, MONITOR_CONFIG);
        if (!config_path)
                return 1;
        r = native_config_read(config_path, &m.config);
        if (r < 0) {
                log_error_errno(r, "Cannot read %s", config_path);
                goto failed;
        }
        snprintf(pid_line, sizeof(pid_line), "%d\n", (int) getpid());
        r = write_small_file(m.dir, MONITOR_PID, pid_line);
        if (r < 0) {
                log_error_errno(r, "Cannot write %s/%s", m.dir, MONITOR_PID);
                goto failed;
        }
        monitor_set_state(&m, MONITOR_STARTING);
        r = monitor_server_open(&m);
        if (r < 0)
                goto failed;
        if (sd_event_add_signal(m.event, NULL, SIGTERM, on_term_signal, &m) < 0 ||
            sd_event_add_signal(m.event, NULL, SIGINT, on_term_signal, &m) < 0) {
                r = log_error_errno(ENOMEM, "Cannot watch signals");
                goto failed;
        }
        r = start_domain(&m);
        if (r < 0)
                goto failed;

        r = sd_event_loop(m.event);
        monitor_server_close(&m);
        monitor_free_clients(&m);
        native_cgroup_done(&m.cgroup);
        native_config_done(&m.config);
        sd_event_source_disable_unref(m.child_source);
        sd_event_source_disable_unref(m.kill_timer);
        sd_event_unref(m.event);
        return r < 0 ? 1 : 0;

failed: {
        char event[64];
        snprintf(event, sizeof(event), "EVENT FAILED %d", -r);
        if (m.config.name) {
                (void) native_cgroup_remove(&m.cgroup);
                if (m.config.vchan_dir)
                        (void) native_remove_contents(m.config.vchan_dir);
        }
        monitor_server_close(&m);
        monitor_set_state(&m, MONITOR_HALTED);
        monitor_broadcast(&m, event);
        monitor_free_clients(&m);
        native_cgroup_done(&m.cgroup);
        native_config_done(&m.config);
        sd_event_unref(m.event);
        return 1;
}
}
