/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The local socket daemons connect to.  A connection's role comes from the
 * uid the kernel reports for it (SO_PEERCRED) and busd's fixed table, never
 * from anything the peer says.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "busd.h"
#include "log.h"

static enum bus_role role_for_uid(const struct busd *b, uid_t uid) {
        for (size_t i = 0; i < b->n_role_uids; i++)
                if (b->role_uids[i].uid == uid)
                        return b->role_uids[i].role;
        return _BUS_ROLE_INVALID;
}

/* WELCOME, the first message on a connection, carries the page of spin
 * slots (spin-slots.h) that busd and the daemons share, and the rings of
 * this connection (bus-ring.h).  Without either it still goes out: the
 * daemon then polls by itself, or talks on the socket only. */
static void listener_welcome(struct busd *b, struct peer *p) {
        struct bus_hdr hdr = { .type = BUS_MSG_WELCOME, .peer = BUS_PEER_BUSD };
        struct bus_msg_welcome welcome = {
                .version = BUS_PROTOCOL_VERSION,
                .peer = p->id,
                .role = (uint8_t) p->role,
        };
        struct bus_rings rings = {};
        _cleanup_close_ int rings_fd = bus_rings_create();
        int fds[2], r = 0;
        size_t n_fds = 0;
        ssize_t k;

        if (rings_fd >= 0 && (r = bus_rings_map(rings_fd, true, &rings)) < 0) {
                close(rings_fd);
                rings_fd = r;
        }
        if (rings_fd < 0)
                log_warning_errno(rings_fd, "No rings for %s: messages go on its socket", peer_name(p));
        if (b->spin_slots_fd >= 0) {
                welcome.fds |= BUS_WELCOME_FD_SPIN_SLOTS;
                fds[n_fds++] = b->spin_slots_fd;
        }
        if (rings_fd >= 0) {
                welcome.fds |= BUS_WELCOME_FD_RINGS;
                fds[n_fds++] = rings_fd;
        }
        int n = bus_encode(&hdr, &welcome, b->tx, BUS_MSG_MAX);
        if (n < 0) {
                log_error_errno(n, "Cannot encode WELCOME");
                bus_rings_unmap(&rings);
                return;
        }
        /* A fresh connection's buffer is empty: no queue needed. */
        k = n_fds ? send_with_fds(p->fd, b->tx, (size_t) n, MSG_DONTWAIT, fds, n_fds)
                  : send(p->fd, b->tx, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && n_fds == 0)
                k = -errno;
        if (k < 0) {
                bus_rings_unmap(&rings);
                peer_drop(p, "cannot send WELCOME", (int) k);
                return;
        }
        if (rings.map && (r = peer_attach_rings(p, &rings)) < 0) {
                bus_rings_unmap(&rings);
                peer_drop(p, "cannot watch its ring", r);
        }
}

/* Takes fd on success (0); refuses (< 0, the caller closes fd) otherwise. */
static int listener_accept_one(struct busd *b, int fd) {
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        struct peer *p;
        enum bus_role role;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return log_warning_errno(-errno, "Refusing a connection: no peer credentials");
        if (len != sizeof(cred))
                return log_warning_errno(-EIO, "Refusing a connection: short peer credentials");
        role = role_for_uid(b, cred.uid);
        if (role == _BUS_ROLE_INVALID) {
                log_warning("Refusing a connection from pid %d uid %u: uid not in the role table",
                            (int) cred.pid, (unsigned) cred.uid);
                return -EPERM;
        }
        if (b->peers[role]) {
                log_warning("Refusing a connection from pid %d uid %u: %s is already connected (pid %d)",
                            (int) cred.pid, (unsigned) cred.uid, bus_role_to_string(role),
                            (int) b->peers[role]->pid);
                return -EBUSY;
        }

        r = peer_new(b, fd, role, cred.pid, cred.uid, &p);
        if (r < 0)
                return log_error_errno(r, "Cannot set up a connection for %s", bus_role_to_string(role));
        b->peers[role] = p;
        log_info("%s connected (peer 0x%x, pid %d, uid %u)",
                 bus_role_to_string(role), p->id, (int) cred.pid, (unsigned) cred.uid);

        listener_welcome(b, p);
        return 0;
}

static int listener_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct busd *b = userdata;
        int conn;

        conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(-errno, "accept failed");
                return 0;
        }
        /* A refusal is the close itself: the client sees EOF instead of WELCOME. */
        if (listener_accept_one(b, conn) < 0)
                close(conn);
        return 0;
}

int listener_open(struct busd *b) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(b->socket_path);
        int r;

        if (l == 0 || l >= sizeof(sa.sun_path))
                return log_error_errno(-EINVAL, "Socket path too long or empty: %s", b->socket_path);
        memcpy(sa.sun_path, b->socket_path, l);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(-errno, "socket(AF_UNIX, SOCK_SEQPACKET) failed");
        /* A socket file left by a previous busd would make bind() fail. */
        if (unlink(b->socket_path) < 0 && errno != ENOENT)
                return log_error_errno(-errno, "Cannot remove the old %s", b->socket_path);
        if (bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0)
                return log_error_errno(-errno, "Cannot bind %s", b->socket_path);
        /* Every local user may connect: the role table decides who gets anywhere. */
        if (chmod(b->socket_path, 0666) < 0)
                return log_error_errno(-errno, "Cannot chmod %s", b->socket_path);
        if (listen(fd, 64) < 0)
                return log_error_errno(-errno, "listen on %s failed", b->socket_path);

        r = sd_event_add_io(b->event, &b->listen_io, fd, EPOLLIN, listener_on_io, b);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the listening socket");
        b->listen_fd = TAKE_FD(fd);
        return 0;
}

void listener_close(struct busd *b) {
        b->listen_io = sd_event_source_disable_unref(b->listen_io);
        if (b->listen_fd >= 0) {
                close(b->listen_fd);
                b->listen_fd = -1;
        }
}
