/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mux's state and loop: setting up and tearing down, the epoll set
 * (registration, and who handles an event), one round of the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"

int epoll_set(struct mux *m, int fd, struct source *src, uint32_t old_events, uint32_t new_events) {
        struct epoll_event ev = { .events = new_events, .data.ptr = src };
        int op;

        if (old_events == new_events)
                return 0;
        op = old_events == 0 ? EPOLL_CTL_ADD : new_events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
        if (epoll_ctl(m->epoll_fd, op, fd, &ev) < 0)
                return log_error_errno(errno, "epoll_ctl failed");
        return 0;
}

int mux_dispatch(struct mux *m, const struct epoll_event *ev) {
        struct source *src = ev->data.ptr;
        struct signalfd_siginfo si;

        switch (src->kind) {
        case SOURCE_TRANSPORT:
                return transport_event(m, ev->events);
        case SOURCE_TIMER:
                return transport_timer(m);
        case SOURCE_SIGNAL:
                if (read(m->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                        log_info("Signal %u: removing the mirrors, exiting.", si.ssi_signo);
                        m->quit = true;
                }
                return 0;
        case SOURCE_INOTIFY:
                return watch_event(m);
        case SOURCE_MIRROR:
                return ((struct mirror *) src)->dead ? 0 : mirror_event((struct mirror *) src);
        case SOURCE_STREAM:
                return stream_event((struct stream *) src, ev->events);
        }
        return 0;
}

int mux_run_once(struct mux *m, int timeout_ms) {
        struct epoll_event events[64];
        int n = epoll_wait(m->epoll_fd, events, (int) ELEMENTSOF(events), timeout_ms);

        if (n < 0)
                return errno == EINTR ? 0 : log_error_errno(errno, "epoll_wait failed");
        for (int i = 0; i < n && !m->quit; i++) {
                int r = mux_dispatch(m, &events[i]);
                /* -EBADMSG: a violation, -ENOBUFS: transport lost; both handled */
                if (r < 0 && r != -EBADMSG && r != -ENOBUFS) {
                        m->exit_status = 1;
                        m->quit = true;
                }
        }
        (void) transport_flush(m);
        /* Freed only now: later events of this batch may name them. */
        streams_collect(m);
        mirrors_collect(m);
        return n;
}

int mux_init(struct mux *m) {
        m->next_id = m->side == SIDE_HOST ? 2 : 1;
        m->streams = calloc((size_t) UINT16_MAX + 1, sizeof(*m->streams));
        if (!m->streams)
                return log_error_errno(ENOMEM, "Out of memory");
        m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (m->epoll_fd < 0)
                return log_error_errno(errno, "Failed to create an epoll fd");
        m->dir_fd = open(m->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m->dir_fd < 0)
                return log_error_errno(errno, "Cannot open %s", m->dir);
        return 0;
}

void mux_done(struct mux *m) {
        streams_drop_all(m);
        mirrors_drop_all(m);
        streams_collect(m);
        mirrors_collect(m);
        transport_free(m);
        free(m->streams);
        free(m->announced);
        if (m->inotify_fd >= 0)
                close(m->inotify_fd);
        if (m->signal_fd >= 0)
                close(m->signal_fd);
        if (m->dir_fd >= 0)
                close(m->dir_fd);
        if (m->epoll_fd >= 0)
                close(m->epoll_fd);
}
