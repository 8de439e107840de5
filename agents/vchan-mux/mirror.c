/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Mirrors: for each real server the other side announced, a listening
 * socket of the same name in our directory (mode 0666, the directory guards
 * access), published under a temporary name and renamed into place as the
 * socket vchan backend does, so a client never finds the name without a
 * listener.  A connection accepted on it becomes a stream we OPEN.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"
#include "vchan-socket.h"

#define MIRROR_BACKLOG 64

struct mirror *mirror_find(struct mux *m, const char *name) {
        for (unsigned i = 0; i < m->n_mirrors; i++)
                if (strcmp(m->mirrors[i]->name, name) == 0)
                        return m->mirrors[i];
        return NULL;
}

static int mirror_bind(struct mux *m, struct mirror *mi) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        _cleanup_close_ int fd = -1;
        int n, r;

        n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", m->dir, mi->name);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = vchan_socket_publish(fd, &sa, MIRROR_BACKLOG);
        if (r < 0)
                return r;
        if (fstatat(m->dir_fd, mi->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        mi->ino = st.st_ino;
        r = epoll_set(m, fd, &mi->source, 0, EPOLLIN);
        if (r < 0)
                return r;
        mi->fd = TAKE_FD(fd);
        return 0;
}

int mirror_add(struct mux *m, const char *name) {
        struct mirror *mi = calloc(1, sizeof(*mi));
        int r;

        if (!mi)
                return log_error_errno(ENOMEM, "Out of memory");
        mi->source.kind = SOURCE_MIRROR;
        mi->mux = m;
        mi->fd = -1;
        snprintf(mi->name, sizeof(mi->name), "%s", name);
        /* Kept when it fails too: the peer's UNLISTEN must still match. */
        m->mirrors[m->n_mirrors++] = mi;

        r = mirror_bind(m, mi);
        if (r < 0)
                log_warning_errno(r, "Cannot create mirror %s/%s", m->dir, name);
        else
                log_info("Mirroring %s.", name);
        return 0;
}

static void mirror_destroy(struct mux *m, struct mirror *mi) {
        struct stat st;

        if (mi->fd >= 0) {
                close(mi->fd);      /* also leaves the epoll set, paused or not */
                /* Only our own socket: the name may have been replaced since. */
                if (fstatat(m->dir_fd, mi->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == mi->ino &&
                    S_ISSOCK(st.st_mode))
                        (void) unlinkat(m->dir_fd, mi->name, 0);
                log_info("Mirror %s removed.", mi->name);
        }
        mi->fd = -1;
        mi->dead = true;
        mi->dead_next = m->dead_mirrors;
        m->dead_mirrors = mi;
}

void mirror_remove(struct mux *m, struct mirror *mi) {
        for (unsigned i = 0; i < m->n_mirrors; i++)
                if (m->mirrors[i] == mi) {
                        m->mirrors[i] = m->mirrors[--m->n_mirrors];
                        break;
                }
        mirror_destroy(m, mi);
}

void mirrors_drop_all(struct mux *m) {
        while (m->n_mirrors > 0)
                mirror_remove(m, m->mirrors[m->n_mirrors - 1]);
}

void mirrors_collect(struct mux *m) {
        while (m->dead_mirrors) {
                struct mirror *mi = m->dead_mirrors;
                m->dead_mirrors = mi->dead_next;
                free(mi);
        }
}

void mirrors_resume(struct mux *m) {
        if (!m->mirrors_paused)
                return;
        m->mirrors_paused = false;
        for (unsigned i = 0; i < m->n_mirrors; i++) {
                struct mirror *mi = m->mirrors[i];
                if (mi->paused && mi->fd >= 0 && epoll_set(m, mi->fd, &mi->source, 0, EPOLLIN) >= 0)
                        mi->paused = false;
        }
}

static int allocate_id(struct mux *m, uint16_t *ret) {
        for (unsigned tries = 0; tries < 32768; tries++) {
                uint16_t id = m->next_id;

                m->next_id = (uint16_t) (m->next_id + 2);
                if (m->next_id < 2)
                        m->next_id = m->side == SIDE_HOST ? 2 : 1;
                if (id != 0 && !m->streams[id]) {
                        *ret = id;
                        return 0;
                }
        }
        return -EBUSY;
}

int mirror_event(struct mirror *mi) {
        struct mux *m = mi->mux;

        /* A few per wake-up: one busy mirror must not starve the rest. */
        for (unsigned i = 0; i < 16 && !mi->dead && mi->fd >= 0; i++) {
                struct stream *s;
                uint16_t id;
                int fd, r;

                fd = accept4(mi->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                /* The connection stays queued and the socket
                                 * readable: stop watching it until an fd is free. */
                                log_warning_errno(errno, "Not accepting on mirror %s for now", mi->name);
                                if (epoll_set(m, mi->fd, &mi->source, EPOLLIN, 0) >= 0)
                                        mi->paused = m->mirrors_paused = true;
                        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "Cannot accept on mirror %s", mi->name);
                        return 0;
                }
                if (m->state != TRANSPORT_UP || m->streams_ours >= VMUX_STREAMS_MAX || allocate_id(m, &id) < 0) {
                        log_warning("Refusing a connection to %s: %u streams open.", mi->name, m->streams_ours);
                        close(fd);
                        continue;
                }
                r = stream_new(m, id, fd, true, mi->name, &s);
                if (r < 0) {
                        close(fd);
                        return r;
                }
                r = transport_send(m, VMUX_OPEN, id, mi->name, (uint32_t) strlen(mi->name));
                if (r < 0)
                        return r;
                log_debug("Stream %u: opening %s.", id, mi->name);
        }
        return 0;
}
