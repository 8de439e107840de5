/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transport to the other mux: an inherited socket (--fd), a UNIX socket
 * we connect to (--connect: QEMU's chardev on the host), or the guest's
 * virtio port device (--device).  Frames in through a fixed buffer of two
 * frames; frames out through a fixed buffer: DATA is only produced while it
 * holds less than TX_DATA_HIGH, and we stop reading the transport while it
 * holds more than TX_READ_HIGH, so control frames always find room and a
 * peer that does not read cannot grow our memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"

#define TX_CAP (2u * 1024u * 1024u)
#define TX_DATA_HIGH (512u * 1024u)
#define TX_READ_HIGH (1024u * 1024u)
#define RX_CAP (2u * VMUX_FRAME_MAX)
#define RETRY_MSEC 100

static size_t tx_used(const struct mux *m) {
        return m->tx.end - m->tx.start;
}

static void tx_compact(struct mux *m) {
        if (m->tx.start == 0)
                return;
        memmove(m->tx.data, m->tx.data + m->tx.start, tx_used(m));
        m->tx.end -= m->tx.start;
        m->tx.start = 0;
}

static int arm_timer(struct mux *m, unsigned msec) {
        struct itimerspec its = {
                .it_value = { .tv_sec = msec / 1000, .tv_nsec = (long) (msec % 1000) * 1000000L },
        };

        if (timerfd_settime(m->timer_fd, 0, &its, NULL) < 0)
                return log_error_errno(errno, "Failed to arm the retry timer");
        return 0;
}

static void close_transport(struct mux *m) {
        if (m->transport_fd >= 0)
                close(m->transport_fd);
        m->transport_fd = -1;
        m->transport_events = 0;
}

void transport_update(struct mux *m) {
        uint32_t want = 0;

        if (m->transport_fd < 0 || m->state == TRANSPORT_DOWN)
                return;
        if (m->state == TRANSPORT_WAITING)
                want = EPOLLIN | EPOLLOUT | EPOLLET;     /* a portless device is always HUP: wait for the edge */
        else {
                if (tx_used(m) <= TX_READ_HIGH)
                        want |= EPOLLIN;
                if (tx_used(m) > 0)
                        want |= EPOLLOUT;
        }
        if (epoll_set(m, m->transport_fd, &m->transport_source, m->transport_events, want) >= 0)
                m->transport_events = want;
}

static int transport_up(struct mux *m) {
        uint8_t hello[VMUX_HELLO_SIZE];

        m->state = TRANSPORT_UP;
        m->hello_received = false;
        m->rx_len = 0;
        m->tx.start = m->tx.end = 0;
        if (m->side == SIDE_GUEST)
                return session_start(m);
        /* The host speaks first only to say it is there: it announces once
         * the guest's HELLO opened a session. */
        log_info("Transport up, saying HELLO.");
        vmux_hello_encode(hello, 0);
        if (transport_send(m, VMUX_HELLO, 0, hello + VMUX_HEADER_SIZE, VMUX_HELLO_SIZE - VMUX_HEADER_SIZE) < 0)
                return -ENOBUFS;
        transport_update(m);
        return 0;
}

/* Guest device: is a host there (no POLLHUP)? */
static int check_host(struct mux *m) {
        struct pollfd pfd = { .fd = m->transport_fd, .events = POLLIN | POLLOUT };

        if (poll(&pfd, 1, 0) < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
                return 0;
        if (m->transport_events)
                (void) epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->transport_fd, NULL);
        m->transport_events = 0;
        return transport_up(m);
}

static int try_connect(struct mux *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;

        strncpy(sa.sun_path, m->path, sizeof(sa.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN)
                        return 1;
                return -errno;
        }
        m->transport_fd = TAKE_FD(fd);
        return 0;
}

static int try_open_device(struct mux *m) {
        int fd = open(m->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

        if (fd < 0)
                return (errno == ENOENT || errno == EBUSY || errno == ENXIO) ? 1 : -errno;
        m->transport_fd = fd;
        return 0;
}

/* One attempt to get the transport; a retry is armed when it is not there. */
static int transport_attempt(struct mux *m) {
        int r;

        if (m->kind == TRANSPORT_CONNECT) {
                r = try_connect(m);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to %s", m->path);
                if (r > 0) {
                        if (m->side == SIDE_HOST && now_usec() > m->connect_deadline) {
                                log_error("Timed out waiting for %s.", m->path);
                                return -ETIMEDOUT;
                        }
                        return arm_timer(m, RETRY_MSEC);
                }
                return transport_up(m);
        }
        r = try_open_device(m);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s", m->path);
        if (r > 0)
                return arm_timer(m, RETRY_MSEC);
        m->state = TRANSPORT_WAITING;
        transport_update(m);
        return check_host(m);
}

int transport_start(struct mux *m) {
        m->tx.cap = TX_CAP;
        m->tx.data = malloc(TX_CAP);
        m->rx = malloc(RX_CAP);
        if (!m->tx.data || !m->rx)
                return log_error_errno(ENOMEM, "Out of memory");
        m->transport_source.kind = SOURCE_TRANSPORT;
        m->timer_source.kind = SOURCE_TIMER;
        m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (m->timer_fd < 0)
                return log_error_errno(errno, "Failed to create a timer");
        if (epoll_set(m, m->timer_fd, &m->timer_source, 0, EPOLLIN) < 0)
                return -errno;
        m->connect_deadline = now_usec() + (uint64_t) m->timeout_sec * 1000000u;

        if (m->kind == TRANSPORT_FD) {
                int flags = fcntl(m->inherited_fd, F_GETFL);

                if (flags < 0 || fcntl(m->inherited_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
                    fcntl(m->inherited_fd, F_SETFD, FD_CLOEXEC) < 0)
                        return log_error_errno(errno, "Bad --fd %d", m->inherited_fd);
                m->transport_fd = m->inherited_fd;
                return transport_up(m);
        }
        return transport_attempt(m);
}

int transport_timer(struct mux *m) {
        uint64_t expirations;

        (void) read(m->timer_fd, &expirations, sizeof(expirations));
        if (m->state != TRANSPORT_DOWN)
                return 0;
        return transport_attempt(m);
}

void transport_lost(struct mux *m, const char *why) {
        if (m->state == TRANSPORT_DOWN)
                return;
        streams_drop_all(m);
        mirrors_drop_all(m);
        watch_forget_all(m);
        close_transport(m);
        m->state = TRANSPORT_DOWN;
        m->rx_len = 0;
        m->tx.start = m->tx.end = 0;

        if (m->side == SIDE_HOST || m->kind == TRANSPORT_FD) {
                log_info("Transport ended (%s), exiting.", why);
                m->quit = true;
                return;
        }
        log_info("Transport lost (%s): mirrors and streams dropped, waiting for a host again.", why);
        if (arm_timer(m, RETRY_MSEC) < 0)
                m->quit = true;
}

int transport_send(struct mux *m, enum vmux_type type, uint16_t stream, const void *payload, uint32_t len) {
        size_t need = VMUX_HEADER_SIZE + len;

        if (m->state != TRANSPORT_UP)
                return 0;
        if (m->tx.cap - m->tx.end < need)
                tx_compact(m);
        if (m->tx.cap - m->tx.end < need) {
                /* Cannot happen with the limits above; never grow. */
                log_error("Transport output full.");
                m->exit_status = 1;
                transport_lost(m, "output full");
                return -ENOBUFS;
        }
        vmux_header_encode(m->tx.data + m->tx.end, type, stream, len);
        if (len)
                memcpy(m->tx.data + m->tx.end + VMUX_HEADER_SIZE, payload, len);
        m->tx.end += need;
        return 0;
}

size_t transport_data_room(struct mux *m) {
        if (m->state != TRANSPORT_UP || tx_used(m) >= TX_DATA_HIGH)
                return 0;
        if (m->tx.cap - m->tx.end < VMUX_FRAME_MAX)
                tx_compact(m);
        return VMUX_DATA_MAX;
}

uint8_t *transport_data_reserve(struct mux *m) {
        return m->tx.data + m->tx.end + VMUX_HEADER_SIZE;
}

int transport_data_commit(struct mux *m, uint16_t stream, uint32_t len) {
        vmux_header_encode(m->tx.data + m->tx.end, VMUX_DATA, stream, len);
        m->tx.end += VMUX_HEADER_SIZE + len;
        return 0;
}

int transport_flush(struct mux *m) {
        bool was_full = tx_used(m) >= TX_DATA_HIGH;

        while (m->state == TRANSPORT_UP && tx_used(m) > 0) {
                ssize_t n = write(m->transport_fd, m->tx.data + m->tx.start, tx_used(m));

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        transport_lost(m, errno == EPIPE || errno == ECONNRESET ? "peer gone" : "write error");
                        return 0;
                }
                m->tx.start += (size_t) n;
        }
        if (tx_used(m) == 0)
                m->tx.start = m->tx.end = 0;
        transport_update(m);
        if (was_full && tx_used(m) < TX_DATA_HIGH)
                streams_update_all(m);
        return 0;
}

/* Guest, between its HELLO(s) and the host's echo: skip everything before
 * the echo (the rest of an old session, cut anywhere); keep a tail that may
 * be the start of it.  The position after the echo, or 0 when not there. */
static size_t skip_to_echo(struct mux *m) {
        uint8_t echo[VMUX_HELLO_SIZE];

        vmux_hello_encode(echo, m->session);
        for (size_t pos = 0; pos + VMUX_HELLO_SIZE <= m->rx_len; pos++)
                if (memcmp(m->rx + pos, echo, VMUX_HELLO_SIZE) == 0) {
                        m->syncing = false;
                        m->hello_received = true;
                        log_info("The host answered HELLO: session %08x.", m->session);
                        return pos + VMUX_HELLO_SIZE;
                }
        if (m->rx_len >= VMUX_HELLO_SIZE) {
                memmove(m->rx, m->rx + m->rx_len - (VMUX_HELLO_SIZE - 1), VMUX_HELLO_SIZE - 1);
                m->rx_len = VMUX_HELLO_SIZE - 1;
        }
        return 0;
}

/* Handle every complete frame in rx. */
static int process_frames(struct mux *m) {
        size_t pos = 0;
        int r = 0;

        while (m->state == TRANSPORT_UP) {
                struct vmux_header h;
                struct vmux_frame f;
                const char *reason = NULL;

                if (m->syncing) {
                        /* A HELLO(0) just started a new session: skip from here. */
                        memmove(m->rx, m->rx + pos, m->rx_len - pos);
                        m->rx_len -= pos;
                        pos = skip_to_echo(m);
                        if (m->syncing)
                                return 0;
                        continue;
                }
                if (m->rx_len - pos < VMUX_HEADER_SIZE)
                        break;
                if (vmux_header_decode(m->rx + pos, &h, &reason) < 0)
                        return peer_violation(m, "%s (type %u, flags %u, stream %u, length %u)", reason,
                                              m->rx[pos], m->rx[pos + 1], le16_load(m->rx + pos + 2),
                                              le32_load(m->rx + pos + 4));
                if (m->rx_len - pos < VMUX_HEADER_SIZE + h.length)
                        break;
                if (vmux_frame_decode(&h, m->rx + pos + VMUX_HEADER_SIZE, &f, &reason) < 0)
                        return peer_violation(m, "%s in %s on stream %u", reason, vmux_type_to_string(h.type),
                                              h.stream);
                pos += VMUX_HEADER_SIZE + h.length;
                r = peer_frame(m, &f);
                if (r < 0)
                        return r;
        }
        if (m->state != TRANSPORT_UP)
                return r;
        memmove(m->rx, m->rx + pos, m->rx_len - pos);
        m->rx_len -= pos;
        return 0;
}

int transport_event(struct mux *m, uint32_t events) {
        ssize_t n;

        if (m->state == TRANSPORT_WAITING)
                return check_host(m);
        if (m->state != TRANSPORT_UP)
                return 0;

        if (events & EPOLLOUT)
                (void) transport_flush(m);
        if (m->state != TRANSPORT_UP)
                return 0;
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return 0;
        if (!(m->transport_events & EPOLLIN)) {
                /* Hung up while we were not reading: nothing more will come. */
                transport_lost(m, "hangup");
                return 0;
        }

        n = read(m->transport_fd, m->rx + m->rx_len, RX_CAP - m->rx_len);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                transport_lost(m, "read error");
                return 0;
        }
        if (n == 0) {
                if (m->rx_len > 0)
                        log_warning("Transport ended inside a frame.");
                transport_lost(m, "end of file");
                return 0;
        }
        m->rx_len += (size_t) n;
        return process_frames(m);
}

void transport_free(struct mux *m) {
        close_transport(m);
        if (m->timer_fd >= 0)
                close(m->timer_fd);
        free(m->tx.data);
        free(m->rx);
}
