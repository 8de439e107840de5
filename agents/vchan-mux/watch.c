/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Our directory's real servers, announced to the other side: an initial
 * scan when the transport comes up, then inotify (a full scan again when
 * its queue overflowed).  Real means a socket (never following a link) named
 * as a server of our side (name_is_real()); our own mirrors have the other
 * side's pattern, so they are never announced back.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR)

int watch_start(struct mux *m) {
        m->announced = calloc(VMUX_MIRRORS_MAX, sizeof(*m->announced));
        if (!m->announced)
                return log_error_errno(ENOMEM, "Out of memory");
        m->inotify_source.kind = SOURCE_INOTIFY;
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd < 0)
                return log_error_errno(errno, "Failed to create an inotify fd");
        if (inotify_add_watch(m->inotify_fd, m->dir, WATCH_MASK) < 0)
                return log_error_errno(errno, "Failed to watch %s", m->dir);
        return epoll_set(m, m->inotify_fd, &m->inotify_source, 0, EPOLLIN);
}

static int announced_find(struct mux *m, const char *name) {
        for (unsigned i = 0; i < m->n_announced; i++)
                if (strcmp(m->announced[i], name) == 0)
                        return (int) i;
        return -1;
}

static bool is_real_socket(struct mux *m, const char *name) {
        struct vmux_name n;
        struct stat st;

        if (vmux_name_parse(name, strlen(name), &n) < 0 || !name_is_real(m, &n, true))
                return false;
        return fstatat(m->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode);
}

static int announce(struct mux *m, const char *name) {
        if (m->n_announced >= VMUX_MIRRORS_MAX) {
                log_warning("Not announcing %s: %u servers announced already.", name, VMUX_MIRRORS_MAX);
                return 0;
        }
        snprintf(m->announced[m->n_announced++], VMUX_NAME_MAX + 1, "%s", name);
        log_debug("Announcing %s.", name);
        return transport_send(m, VMUX_LISTEN, 0, name, (uint32_t) strlen(name));
}

static int withdraw(struct mux *m, unsigned i) {
        char name[VMUX_NAME_MAX + 1];

        memcpy(name, m->announced[i], sizeof(name));
        memcpy(m->announced[i], m->announced[--m->n_announced], sizeof(name));
        log_debug("Withdrawing %s.", name);
        return transport_send(m, VMUX_UNLISTEN, 0, name, (uint32_t) strlen(name));
}

/* `appeared`: a file was created or moved in under this name.  A server
 * published again under a name we announced (a new call on the same port)
 * is withdrawn and announced again: the other side's mirror of the old one
 * may be gone (busd removes a call's names when the call ends), and a
 * fresh mirror is what the new server's peer connects to. */
static int reconsider(struct mux *m, const char *name, bool appeared) {
        int i = announced_find(m, name);
        bool real = is_real_socket(m, name);
        int r;

        if (real && i >= 0 && appeared) {
                r = withdraw(m, (unsigned) i);
                return r < 0 ? r : announce(m, name);
        }
        if (real && i < 0)
                return announce(m, name);
        if (!real && i >= 0)
                return withdraw(m, (unsigned) i);
        return 0;
}

int watch_announce_all(struct mux *m) {
        _cleanup_close_ int fd = -1;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (m->state != TRANSPORT_UP)
                return 0;
        /* Withdraw what went, then announce what is there. */
        for (unsigned i = m->n_announced; i > 0 && r >= 0; i--)
                if (!is_real_socket(m, m->announced[i - 1]))
                        r = withdraw(m, i - 1);
        fd = openat(m->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to read %s", m->dir);
        d = fdopendir(fd);
        if (!d)
                return log_error_errno(errno, "Failed to read %s", m->dir);
        TAKE_FD(fd);
        while (r >= 0 && m->state == TRANSPORT_UP && (de = readdir(d)))
                if (strlen(de->d_name) <= VMUX_NAME_MAX && announced_find(m, de->d_name) < 0 &&
                    is_real_socket(m, de->d_name))
                        r = announce(m, de->d_name);
        closedir(d);
        return r;
}

void watch_forget_all(struct mux *m) {
        m->n_announced = 0;
}

int watch_event(struct mux *m) {
        uint8_t buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool rescan = false;
        ssize_t n;
        int r = 0;

        n = read(m->inotify_fd, buf, sizeof(buf));
        if (n < 0)
                return (errno == EAGAIN || errno == EINTR) ? 0 : log_error_errno(errno, "inotify read failed");
        for (ssize_t pos = 0; pos < n && r >= 0;) {
                const struct inotify_event *ev = (const struct inotify_event *) (buf + pos);

                pos += (ssize_t) (sizeof(*ev) + ev->len);
                if (ev->mask & IN_Q_OVERFLOW)
                        rescan = true;
                else if (ev->len > 0 && m->state == TRANSPORT_UP)
                        r = reconsider(m, ev->name, ev->mask & (IN_CREATE | IN_MOVED_TO));
        }
        if (rescan && r >= 0)
                r = watch_announce_all(m);
        return r;
}
