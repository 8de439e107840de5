/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules for a frame the other side sent (checked before anything is
 * done with it).  The host trusts nothing from the guest: a violation ends
 * the host mux (its mirrors removed); the guest drops the transport and
 * waits for a host again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
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

int peer_frame(struct mux *m, const struct vmux_frame *f) {
        const struct vmux_header *h = &f->header;
        struct mirror *mi;
        struct stream *s;

        if (!m->hello_received) {
                if (h->type != VMUX_HELLO)
                        return peer_violation(m, "%s before HELLO", vmux_type_to_string(h->type));
                m->hello_received = true;
                log_info("The %s said HELLO (version %u).", m->side == SIDE_HOST ? "guest" : "host", f->value);
                return 0;
        }

        switch (h->type) {
        case VMUX_HELLO:
                return peer_violation(m, "second HELLO");
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
