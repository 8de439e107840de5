/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules for a frame the other side sent (checked before anything is
 * done with it), and sessions (protocol/vchan-mux.h).  The host trusts
 * nothing from the guest: a violation ends the host mux (its mirrors
 * removed); the guest drops the transport and waits for a host again.  A
 * guest's mux that starts again is no violation: its new HELLO ends the
 * old session on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"

int peer_violation(struct mux *m, const char *fmt, ...) {
        char reason[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        log_error("Protocol violation by the %s: %s.", m->side == SIDE_HOST ? "guest" : "host", reason);
        if (m->side == SIDE_HOST || m->kind == TRANSPORT_FD)
                m->exit_status = 1;
        transport_lost(m, "protocol violation");
        return -EBADMSG;
}

/* A real server of our side (ours) or of the other side: the guest's
 * programs serve as its own domid, the host's sockets serve the guest. */
bool name_is_real(const struct mux *m, const struct vmux_name *n, bool ours) {
        bool guest = (m->side == SIDE_GUEST) == ours;

        if (guest)
                return n->server == m->domid && n->client != m->domid;
        return n->client == m->domid && n->server != m->domid;
}

static bool id_is_theirs(const struct mux *m, uint16_t id) {
        /* host opens even ids, guest odd */
        return (id & 1) == (m->side == SIDE_HOST ? 1 : 0);
}

static int connect_real(struct mux *m, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, n;

        n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", m->dir, name);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int peer_open(struct mux *m, const struct vmux_frame *f) {
        uint16_t id = f->header.stream;
        struct stream *s;
        int fd, r;

        if (!id_is_theirs(m, id))
                return peer_violation(m, "OPEN of stream %u, which is not theirs to open", id);
        if (stream_get(m, id))
                return peer_violation(m, "OPEN of stream %u, which is in use", id);
        if (!name_is_real(m, &f->name, true))
                return peer_violation(m, "OPEN of %s, which is not one of our servers", f->name_text);
        if (m->streams_theirs >= VMUX_STREAMS_MAX)
                return peer_violation(m, "more than %u streams open", VMUX_STREAMS_MAX);

        fd = connect_real(m, f->name_text);
        r = stream_new(m, id, fd < 0 ? -1 : fd, false, f->name_text, &s);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        if (fd < 0) {
                log_info("Stream %u: cannot connect to %s: %s.", id, f->name_text, strerror(-fd));
                return stream_abort(s);
        }
        log_debug("Stream %u: connected to %s.", id, f->name_text);
        return 0;
}

/* Forget the streams and mirrors of a session that ended on the other side:
 * no CLOSE, the other side knows none of them.  Mirrors first: whoever sees
 * a stream end finds no stale mirror to connect to. */
static void session_forget(struct mux *m) {
        unsigned n_streams = m->streams_ours + m->streams_theirs, n_mirrors = m->n_mirrors;

        mirrors_drop_all(m);
        streams_drop_all(m);
        watch_forget_all(m);
        log_notice("The %s's mux started again: %u streams and %u mirrors of its last session ended.",
                   m->side == SIDE_HOST ? "guest" : "host", n_streams, n_mirrors);
}

static uint32_t new_session_id(void) {
        uint32_t id = 0;

        /* Unique, not secret: early in a guest's boot getrandom may block. */
        if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t) sizeof(id))
                id = (uint32_t) (now_usec() * 2654435761u) ^ ((uint32_t) getpid() << 16);
        return id ? id : 1;
}

int session_start(struct mux *m) {
        uint8_t hello[VMUX_HELLO_SIZE];

        m->session = new_session_id();
        m->syncing = true;
        m->hello_received = false;
        log_info("Transport up, saying HELLO (session %08x).", m->session);
        vmux_hello_encode(hello, m->session);
        if (transport_send(m, VMUX_HELLO, 0, hello + VMUX_HEADER_SIZE, VMUX_HELLO_SIZE - VMUX_HEADER_SIZE) < 0)
                return -ENOBUFS;
        transport_update(m);
        return watch_announce_all(m);
}

/* Host: the guest's HELLO(s) opens a session, ending the one before. */
static int host_hello(struct mux *m, const struct vmux_frame *f) {
        uint8_t hello[VMUX_HELLO_SIZE];
        int r;

        if (f->session == 0)
                return peer_violation(m, "HELLO of session 0");
        if (m->hello_received)
                session_forget(m);
        watch_forget_all(m);    /* what we announced before this HELLO went to no session */
        m->hello_received = true;
        m->session = f->session;
        log_info("The guest said HELLO (session %08x).", f->session);
        vmux_hello_encode(hello, f->session);
        r = transport_send(m, VMUX_HELLO, 0, hello + VMUX_HEADER_SIZE, VMUX_HELLO_SIZE - VMUX_HEADER_SIZE);
        return r < 0 ? r : watch_announce_all(m);
}

int peer_frame(struct mux *m, const struct vmux_frame *f) {
        const struct vmux_header *h = &f->header;
        struct mirror *mi;
        struct stream *s;

        if (h->type == VMUX_HELLO) {
                if (m->side == SIDE_HOST)
                        return host_hello(m, f);
                /* Guest, in a session (the echo was skipped to): only a new host. */
                if (f->session != 0)
                        return peer_violation(m, "HELLO of session %08x in session %08x", f->session, m->session);
                session_forget(m);
                return session_start(m);
        }
        if (!m->hello_received)
                return peer_violation(m, "%s before HELLO", vmux_type_to_string(h->type));

        switch (h->type) {
        case VMUX_LISTEN:
                if (!name_is_real(m, &f->name, false))
                        return peer_violation(m, "LISTEN of %s, which is not theirs to serve", f->name_text);
                if (mirror_find(m, f->name_text))
                        return peer_violation(m, "LISTEN of %s, which is mirrored already", f->name_text);
                if (m->n_mirrors >= VMUX_MIRRORS_MAX)
                        return peer_violation(m, "more than %u mirrors", VMUX_MIRRORS_MAX);
                return mirror_add(m, f->name_text);
        case VMUX_UNLISTEN:
                mi = mirror_find(m, f->name_text);
                if (!mi)
                        return peer_violation(m, "UNLISTEN of %s, which is not mirrored", f->name_text);
                mirror_remove(m, mi);
                return 0;
        case VMUX_OPEN:
                return peer_open(m, f);
        default:
                break;
        }

        s = stream_get(m, h->stream);
        if (!s)
                return peer_violation(m, "%s for stream %u, which is not open", vmux_type_to_string(h->type),
                                      h->stream);
        switch (h->type) {
        case VMUX_DATA:
                return stream_data(s, f->data, h->length);
        case VMUX_CREDIT:
                return stream_credit(s, f->value);
        case VMUX_EOF:
                return stream_peer_eof(s);
        case VMUX_CLOSE:
                return stream_peer_close(s);
        default:
                return peer_violation(m, "unexpected frame type %u", h->type);
        }
}
