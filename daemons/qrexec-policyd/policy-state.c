/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The loaded policy: loaded at start, reloaded when a file of the policy
 * directories changes (inotify on each directory and its subdirectories,
 * where !include-dir files live), coalesced over a short delay because an
 * editor's save is several events.  The new policy replaces the old only
 * once completely loaded; one with errors replaces it too and denies
 * everything (fail closed), with every `file:line: message` logged and sent
 * to qubesd in POLICY_STATUS, as after every (re)load.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <time.h>

#include "log.h"
#include "policyd.h"

#define RELOAD_DELAY_USEC (100 * UINT64_C(1000))
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | \
                    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void add_watch(struct policyd *p, const char *path) {
        if (inotify_add_watch(p->inotify_fd, path, WATCH_MASK) < 0 && errno != ENOENT && errno != ENOTDIR)
                log_warning_errno(errno, "Cannot watch %s for policy changes", path);
}

/* A fresh inotify instance watching every policy directory and its
 * subdirectories as they are now (a new subdirectory is seen on the reload
 * its creation causes). */
static int watch_dirs(struct policyd *p) {
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        int r;

        if (fd < 0)
                return log_error_errno(errno, "Cannot create an inotify instance");
        p->inotify_source = sd_event_source_disable_unref(p->inotify_source);
        if (p->inotify_fd >= 0)
                close(p->inotify_fd);
        p->inotify_fd = TAKE_FD(fd);

        for (size_t i = 0; i < p->n_policy_dirs; i++) {
                DIR *d = opendir(p->policy_dirs[i]);
                struct dirent *de;

                add_watch(p, p->policy_dirs[i]);
                if (!d)
                        continue;
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                                _cleanup_free_ char *sub = path_join(p->policy_dirs[i], de->d_name);
                                if (sub)
                                        add_watch(p, sub);
                        }
                closedir(d);
        }
        r = sd_event_add_io(p->event, &p->inotify_source, p->inotify_fd, EPOLLIN, on_inotify, p);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the inotify instance");
        return 0;
}

static int on_reload_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct policyd *p = userdata;

        p->reload_timer = sd_event_source_disable_unref(p->reload_timer);
        policy_state_reload(p);
        return 0;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct policyd *p = userdata;
        uint8_t buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int r;

        /* Which file changed does not matter: everything is reloaded. */
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        if (p->reload_timer)
                return 0;
        r = sd_event_add_time_relative(p->event, &p->reload_timer, CLOCK_MONOTONIC, RELOAD_DELAY_USEC, 0,
                                       on_reload_timer, p);
        if (r < 0) {
                log_error_errno(r, "Cannot schedule a policy reload; reloading now");
                policy_state_reload(p);
        }
        return 0;
}

/* Every error of the policy, one per line, as much as fits. */
static void format_errors(const Policy *pol, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < pol->n_errors && used + 1 < size; i++) {
                _cleanup_free_ char *e = policy_error_format(&pol->errors[i]);
                int n = snprintf(buf + used, size - used, "%s%s", used ? "\n" : "", e ?: "(out of memory)");
                if (n < 0 || (size_t) n >= size - used) {
                        buf[used] = '\0';       /* no half line */
                        break;
                }
                used += (size_t) n;
        }
}

void policy_state_send_status(struct policyd *p) {
        _cleanup_free_ struct bus_msg_policy_status *st = calloc(1, sizeof(*st));
        size_t used = 0;
        int r;

        if (!p->bus || !st)
                return;
        st->ok = p->policy->n_errors == 0;
        st->files = (uint32_t) p->policy->n_files;
        st->rules = (uint32_t) p->policy->n_rules;
        st->loaded_usec = p->loaded_usec;
        for (size_t i = 0; i < p->n_policy_dirs; i++) {
                int n = snprintf(st->policy_dir + used, sizeof(st->policy_dir) - used, "%s%s", i ? ":" : "",
                                 p->policy_dirs[i]);
                if (n < 0 || (size_t) n >= sizeof(st->policy_dir) - used)
                        break;
                used += (size_t) n;
        }
        format_errors(p->policy, st->errors, sizeof(st->errors));
        r = bus_client_send(p->bus, BUS_MSG_POLICY_STATUS, BUS_PEER_ROLE(BUS_ROLE_QUBESD),
                            bus_client_new_request_id(p->bus), st);
        if (r < 0)
                log_debug_errno(r, "Cannot send POLICY_STATUS");
}

void policy_state_reload(struct policyd *p) {
        PolicyLoadOptions options = { .dirs = p->policy_dirs, .n_dirs = p->n_policy_dirs };
        Policy *loaded = NULL;
        int r;

        /* Watch first: a change made while loading triggers another reload. */
        (void) watch_dirs(p);
        r = policy_load(&options, &loaded);
        if (r < 0) {
                log_error_errno(r, "Cannot load the policy; keeping the previous one");
                return;
        }
        policy_free(p->policy);
        p->policy = loaded;
        p->loaded_usec = realtime_usec();
        if (loaded->n_errors == 0)
                log_info("Policy loaded: %zu files, %zu rules", loaded->n_files, loaded->n_rules);
        else {
                log_error("Policy has %zu errors: EVERY qrexec call is denied until they are fixed",
                          loaded->n_errors);
                for (size_t i = 0; i < loaded->n_errors; i++) {
                        _cleanup_free_ char *e = policy_error_format(&loaded->errors[i]);
                        log_error("%s", e ?: "(out of memory)");
                }
        }
        policy_state_send_status(p);
}

int policy_state_init(struct policyd *p) {
        p->inotify_fd = -1;
        /* A policy that denies everything until the first load. */
        p->policy = policy_new();
        if (!p->policy || policy_index(p->policy) < 0)
                return log_error_errno(ENOMEM, "Out of memory");
        policy_state_reload(p);
        return p->inotify_source ? 0 : -EIO;
}

void policy_state_done(struct policyd *p) {
        p->reload_timer = sd_event_source_disable_unref(p->reload_timer);
        p->inotify_source = sd_event_source_disable_unref(p->inotify_source);
        if (p->inotify_fd >= 0)
                close(p->inotify_fd);
        p->inotify_fd = -1;
        policy_free(p->policy);
        p->policy = NULL;
}
