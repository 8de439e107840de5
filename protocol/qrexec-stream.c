/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data phase of a qrexec connection (reference qrexec.md §2.9), both
 * ends on one engine.  Each end has local sources (fds whose bytes go to the
 * peer as DATA messages) and local sinks (fds that receive the peer's DATA):
 *   client   source stdin            sinks stdout, stderr
 *   service  sources stdout, stderr  sink  stdin
 * One poll() loop, no thread.  Flow control follows Qubes: a source is read
 * only while the vchan has more than a header's worth of room, and a chunk
 * is min(room - 8, the version's chunk limit); a message from the peer is
 * taken only when the previous one was written out locally, so a slow local
 * reader holds the peer back through the vchan instead of growing a buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qrexec-layout.h"
#include "qrexec-stream.h"
#include "qrexec.h"

/* Without a pidfd the child is looked for this often. */
#define CHILD_POLL_MSEC 50

enum { SINK_STDIN, SINK_STDOUT, SINK_STDERR, _SINK_MAX };

struct local_fd {
        int fd;                 /* -1 once closed (or never given) */
        int saved_flags;        /* file status flags to restore, -1 = untouched */
        bool replace_escapes;   /* sinks: -t / -T */
};

struct pump {
        struct vchan *v;
        uint32_t version;
        size_t max_chunk;
        bool service;
        bool stderr_eof_at_once;        /* service without stderr (a socket) */
        unsigned flags;

        /* sources, by the data type they produce (client: STDIN; service: STDOUT, STDERR) */
        struct local_fd source[_SINK_MAX];
        bool source_eof_sent[_SINK_MAX];
        const uint8_t *prefix;          /* client: sent as stdin before in_fd */
        size_t prefix_left;

        /* sinks, by the data type they take */
        struct local_fd sink[_SINK_MAX];

        /* the message being received */
        uint8_t hdr_raw[QREXEC_HEADER_SIZE];
        size_t hdr_got;
        bool have_hdr;
        struct qrexec_hdr hdr;
        size_t payload_got;
        uint8_t *payload;               /* QREXEC_MAX_DATA_CHUNK_V3 bytes */

        /* a received payload still being written to its sink */
        int pending_sink;               /* -1 = none */
        size_t pending_off, pending_len;

        /* a message for the peer that did not fit yet */
        uint8_t *tx;                    /* header + max chunk */
        size_t tx_len;

        bool got_exit_code;
        int exit_code;

        pid_t child;
        int pidfd;
        bool child_done;
        int child_status;
};

/* A pidfd is always close-on-exec. */
static int pidfd_open_compat(pid_t pid) {
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0);

        return fd >= 0 ? (int) fd : -errno;
#else
        return -ENOSYS;
#endif
}

static bool fd_shared(const struct pump *p, int fd) {
        int uses = 0;

        for (int i = 0; i < _SINK_MAX; i++)
                uses += (p->source[i].fd == fd) + (p->sink[i].fd == fd);
        return uses > 1;
}

/* Stop using one local fd.  A socket that is also a source (a socket service)
 * only loses its write side, so the service sees EOF and can still answer. */
static void local_release(struct pump *p, struct local_fd *l, bool is_sink) {
        int fd = l->fd;

        if (fd < 0)
                return;
        l->fd = -1;
        if (fd_shared(p, fd)) {
                if (is_sink)
                        (void) shutdown(fd, SHUT_WR);
                return;
        }
        if (l->saved_flags >= 0)
                (void) fcntl(fd, F_SETFL, l->saved_flags);
        close(fd);
}

static void sink_init(struct pump *p, int type, int fd, bool replace) {
        struct local_fd *l = &p->sink[type];

        l->fd = fd;
        l->saved_flags = -1;
        l->replace_escapes = replace;
        if (fd < 0)
                return;
        /* Writes must never stall the loop: the other direction has to move
         * meanwhile, or a local program that writes before it reads would
         * deadlock against us. */
        l->saved_flags = fcntl(fd, F_GETFL);
        if (l->saved_flags >= 0 && !(l->saved_flags & O_NONBLOCK))
                (void) fcntl(fd, F_SETFL, l->saved_flags | O_NONBLOCK);
        else
                l->saved_flags = -1;
}

static void source_init(struct pump *p, int type, int fd) {
        p->source[type] = (struct local_fd) { .fd = fd, .saved_flags = -1 };
        /* No fd: EOF at once. */
}

/* *p is always left ready for pump_done(). */
static int pump_init(struct pump *p, struct vchan *v, uint32_t version, bool service) {
        *p = (struct pump) {
                .v = v,
                .version = version,
                .max_chunk = version >= 3 ? QREXEC_MAX_DATA_CHUNK_V3 : QREXEC_MAX_DATA_CHUNK_V2,
                .service = service,
                .pending_sink = -1,
                .pidfd = -1,
        };
        for (int i = 0; i < _SINK_MAX; i++) {
                p->source[i] = (struct local_fd) { .fd = -1, .saved_flags = -1 };
                p->sink[i] = (struct local_fd) { .fd = -1, .saved_flags = -1 };
        }
        if (!v || version < QREXEC_PROTOCOL_MIN || version > QREXEC_PROTOCOL_VERSION)
                return -EINVAL;
        p->payload = malloc(QREXEC_MAX_DATA_CHUNK_V3);
        p->tx = malloc(QREXEC_HEADER_SIZE + QREXEC_MAX_DATA_CHUNK_V3);
        if (!p->payload || !p->tx)
                return -ENOMEM;
        vchan_set_blocking(v, false);
        return 0;
}

static void pump_done(struct pump *p) {
        for (int i = 0; i < _SINK_MAX; i++) {
                local_release(p, &p->sink[i], true);
                local_release(p, &p->source[i], false);
        }
        if (p->pidfd >= 0)
                close(p->pidfd);
        free(p->payload);
        free(p->tx);
        if (p->v)
                vchan_set_blocking(p->v, true);
}

/* A message for the peer; kept when the vchan has no room for it now. */
static int peer_send(struct pump *p, const uint8_t *msg, size_t len) {
        ssize_t n;

        if (p->tx_len > 0)
                return -EBUSY;          /* callers check tx_len first */
        n = vchan_send(p->v, msg, len);
        if (n == (ssize_t) len)
                return 0;
        if (n >= 0 || n == -EAGAIN) {
                if (msg != p->tx)
                        memcpy(p->tx, msg, len);
                p->tx_len = len;
                return 0;
        }
        /* A peer that is gone may still have left messages to read (its
         * EXIT_CODE): the receiving side tells when it is really over. */
        return n == -EPIPE ? 0 : (int) n;
}

static int peer_flush(struct pump *p) {
        ssize_t n;

        if (p->tx_len == 0)
                return 0;
        n = vchan_send(p->v, p->tx, p->tx_len);
        if (n == (ssize_t) p->tx_len || n == -EPIPE) {
                p->tx_len = 0;          /* sent, or undeliverable (see peer_send) */
                return 0;
        }
        return n == -EAGAIN || n >= 0 ? 0 : (int) n;
}

/* A stream's EOF (an empty DATA message of `type`), or EXIT_CODE `code`. */
static int encode_end(uint8_t msg[QREXEC_HEADER_SIZE + QREXEC_EXIT_CODE_SIZE], uint32_t type, int32_t code) {
        size_t size = QREXEC_HEADER_SIZE + QREXEC_EXIT_CODE_SIZE;

        return type == QREXEC_MSG_DATA_EXIT_CODE ? qrexec_encode_exit_code(msg, size, code)
                                                 : qrexec_encode_data(msg, size, type, NULL, 0);
}

static int send_empty(struct pump *p, uint32_t type) {
        uint8_t msg[QREXEC_HEADER_SIZE + QREXEC_EXIT_CODE_SIZE];
        int n = encode_end(msg, type, p->exit_code);

        if (n < 0)
                return n;
        return peer_send(p, msg, (size_t) n);
}

static uint32_t source_type(int i) {
        return QREXEC_MSG_DATA_STDIN + (uint32_t) i;
}

/* Room for a data chunk: Qubes reads local data only with more than a header free. */
static size_t chunk_room(struct pump *p) {
        size_t space;

        if (p->tx_len > 0)
                return 0;
        space = vchan_buffer_space(p->v);
        if (space <= QREXEC_HEADER_SIZE)
                return 0;
        space -= QREXEC_HEADER_SIZE;
        return space < p->max_chunk ? space : p->max_chunk;
}

/* The source's end: an empty message, except the service's stderr, whose
 * EOF is held back to go right before EXIT_CODE. */
static int source_ended(struct pump *p, int i) {
        local_release(p, &p->source[i], false);
        if (p->service && i == SINK_STDERR)
                return 0;
        p->source_eof_sent[i] = true;
        return send_empty(p, source_type(i));
}

static int source_read(struct pump *p, int i) {
        size_t room = chunk_room(p);
        ssize_t n;

        if (room == 0)
                return 0;
        n = read(p->source[i].fd, p->tx + QREXEC_HEADER_SIZE, room);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                n = 0;          /* EIO of a hung-up tty and the like: the stream is over */
        }
        if (n == 0)
                return source_ended(p, i);
        n = qrexec_encode_data(p->tx, QREXEC_HEADER_SIZE + (size_t) n, source_type(i),
                               p->tx + QREXEC_HEADER_SIZE, (size_t) n);
        if (n < 0)
                return (int) n;
        return peer_send(p, p->tx, (size_t) n);
}

static int prefix_send(struct pump *p) {
        size_t room = chunk_room(p), take;
        int n;

        if (room == 0)
                return 0;
        take = p->prefix_left < room ? p->prefix_left : room;
        n = qrexec_encode_data(p->tx, QREXEC_HEADER_SIZE + take, QREXEC_MSG_DATA_STDIN, p->prefix, take);
        if (n < 0)
                return n;
        p->prefix += take;
        p->prefix_left -= take;
        return peer_send(p, p->tx, (size_t) n);
}

static void replace_escapes(uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((buf[i] < 0x20 || buf[i] > 0x7e) && buf[i] != '\t' && buf[i] != '\n')
                        buf[i] = '_';
}

/* Write what is pending to its sink; a sink that cannot take more (its
 * reader is gone) is closed and the rest dropped. */
static void sink_flush(struct pump *p) {
        struct local_fd *l;

        if (p->pending_sink < 0)
                return;
        l = &p->sink[p->pending_sink];
        while (p->pending_off < p->pending_len && l->fd >= 0) {
                ssize_t n = write(l->fd, p->payload + p->pending_off, p->pending_len - p->pending_off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        local_release(p, l, true);
                        break;
                }
                p->pending_off += (size_t) n;
        }
        p->pending_sink = -1;
}

/* A complete message from the peer. */
static int message_handle(struct pump *p) {
        uint32_t type = p->hdr.type;
        int i;

        if (type == QREXEC_MSG_DATA_EXIT_CODE) {
                int32_t code;

                if (p->service)
                        return 0;               /* wrong direction: ignored, as Qubes does */
                (void) qrexec_decode_exit_code(p->payload, p->hdr.len, &code);
                p->exit_code = (int) ((uint32_t) code & 0xff);
                p->got_exit_code = true;
                return 0;
        }

        i = (int) (type - QREXEC_MSG_DATA_STDIN);
        if ((i == SINK_STDIN) != p->service)
                return 0;                       /* wrong direction: ignored */
        if (p->hdr.len == 0) {
                local_release(p, &p->sink[i], true);
                return 0;
        }
        if (p->sink[i].fd < 0)
                return 0;                       /* discarded: nobody reads it */
        if (p->sink[i].replace_escapes)
                replace_escapes(p->payload, p->hdr.len);
        p->pending_sink = i;
        p->pending_off = 0;
        p->pending_len = p->hdr.len;
        sink_flush(p);
        return 0;
}

/* Take messages from the vchan while no earlier one waits for its sink. */
static int peer_receive(struct pump *p) {
        for (;;) {
                ssize_t n;
                int r;

                if (p->pending_sink >= 0 || (!p->service && p->got_exit_code))
                        return 0;
                if (!p->have_hdr) {
                        n = vchan_read(p->v, p->hdr_raw + p->hdr_got, QREXEC_HEADER_SIZE - p->hdr_got);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return vchan_is_open(p->v) == VCHAN_DISCONNECTED ? -EPIPE : 0;
                        p->hdr_got += (size_t) n;
                        if (p->hdr_got < QREXEC_HEADER_SIZE)
                                continue;
                        qrexec_decode_header(p->hdr_raw, &p->hdr);
                        if (qrexec_check_header(&p->hdr, QREXEC_STREAM_DATA, p->version) < 0)
                                return -EBADMSG;
                        p->have_hdr = true;
                        p->payload_got = 0;
                }
                if (p->payload_got < p->hdr.len) {
                        n = vchan_read(p->v, p->payload + p->payload_got, p->hdr.len - p->payload_got);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return vchan_is_open(p->v) == VCHAN_DISCONNECTED ? -EPIPE : 0;
                        p->payload_got += (size_t) n;
                        if (p->payload_got < p->hdr.len)
                                continue;
                }
                p->have_hdr = false;
                p->hdr_got = 0;
                r = message_handle(p);
                if (r < 0)
                        return r;
        }
}

static void child_check(struct pump *p) {
        int status;
        pid_t r;

        if (p->child_done)
                return;
        r = waitpid(p->child, &status, WNOHANG);
        if (r == 0)
                return;
        p->child_done = true;
        if (r < 0)
                p->child_status = QREXEC_EXIT_PROBLEM;          /* not ours to wait for */
        else if (WIFEXITED(status))
                p->child_status = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                p->child_status = 128 + WTERMSIG(status);
        else
                p->child_done = false;                          /* stopped: keep waiting */
}

/* Service end: what is left to do before EXIT_CODE? */
static bool service_finished(struct pump *p) {
        bool output_done = p->source[SINK_STDOUT].fd < 0 && p->source[SINK_STDERR].fd < 0;
        bool input_done = p->sink[SINK_STDIN].fd < 0;

        if (p->child > 0)
                return output_done && p->child_done;
        if ((p->flags & QREXEC_STREAM_EXIT_ON_SERVICE_EOF) && output_done)
                return true;
        if ((p->flags & QREXEC_STREAM_EXIT_ON_CLIENT_EOF) && input_done)
                return true;
        return output_done && input_done;
}

static int pump_poll(struct pump *p) {
        struct pollfd pfd[2 + _SINK_MAX];
        int nfds = 0, timeout = -1, r;
        size_t room = chunk_room(p);

        pfd[nfds++] = (struct pollfd) { .fd = vchan_fd_for_select(p->v), .events = POLLIN };
        for (int i = 0; i < _SINK_MAX; i++)
                if (p->source[i].fd >= 0 && room > 0 && !(i == SINK_STDIN && p->prefix_left > 0))
                        pfd[nfds++] = (struct pollfd) { .fd = p->source[i].fd, .events = POLLIN };
        if (p->pending_sink >= 0)
                pfd[nfds++] = (struct pollfd) { .fd = p->sink[p->pending_sink].fd, .events = POLLOUT };
        if (p->child > 0 && !p->child_done) {
                if (p->pidfd >= 0)
                        pfd[nfds++] = (struct pollfd) { .fd = p->pidfd, .events = POLLIN };
                else
                        timeout = CHILD_POLL_MSEC;
        }

        r = poll(pfd, (nfds_t) nfds, timeout);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd[0].revents) {
                r = vchan_wait(p->v);
                if (r < 0)
                        return r;
        }
        for (int k = 1; k < nfds; k++) {
                if (!pfd[k].revents)
                        continue;
                for (int i = 0; i < _SINK_MAX; i++)
                        if (p->source[i].fd == pfd[k].fd && pfd[k].events == POLLIN) {
                                r = source_read(p, i);
                                if (r < 0)
                                        return r;
                                break;
                        }
        }
        return 0;
}

static int pump_run(struct pump *p) {
        sigset_t block, saved;
        int r;

        /* A sink whose reader went away must be EPIPE, not the end of us. */
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        sigprocmask(SIG_BLOCK, &block, &saved);

        for (;;) {
                r = peer_flush(p);
                if (r < 0)
                        break;
                sink_flush(p);
                r = peer_receive(p);
                if (r < 0)
                        break;
                if (!p->service && p->prefix_left > 0 && p->tx_len == 0) {
                        r = prefix_send(p);
                        if (r < 0)
                                break;
                }
                /* A source given as no fd: its EOF goes at once. */
                for (int i = 0; i < _SINK_MAX; i++) {
                        bool is_source = p->service ? i != SINK_STDIN : i == SINK_STDIN;

                        if (is_source && p->source[i].fd < 0 && !p->source_eof_sent[i] && p->tx_len == 0 &&
                            !(p->service && i == SINK_STDERR && !p->stderr_eof_at_once) &&
                            !(i == SINK_STDIN && p->prefix_left > 0)) {
                                p->source_eof_sent[i] = true;
                                r = send_empty(p, source_type(i));
                                if (r < 0)
                                        goto out;
                        }
                }

                if (p->service) {
                        if (p->child > 0) {
                                child_check(p);
                                /* A service that exited reads no more input
                                 * (a descendant may hold its stdin: not ours to feed). */
                                if (p->child_done) {
                                        if (p->pending_sink == SINK_STDIN)
                                                p->pending_sink = -1;
                                        local_release(p, &p->sink[SINK_STDIN], true);
                                }
                        }
                        if (service_finished(p) && p->tx_len == 0) {
                                r = 0;
                                break;
                        }
                } else if (p->got_exit_code && p->pending_sink < 0 && p->tx_len == 0) {
                        r = 0;
                        break;
                }

                r = pump_poll(p);
                if (r < 0)
                        break;
        }
out:
        {
                struct timespec zero = {};

                while (sigtimedwait(&block, NULL, &zero) > 0)
                        ;
        }
        sigprocmask(SIG_SETMASK, &saved, NULL);
        return r;
}

static long long monotonic_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Both ends send first and then read, which cannot deadlock: a HELLO always
 * fits in an empty ring (even a server's that has no client yet). */
int qrexec_stream_handshake(struct vchan *v, int timeout_ms, uint32_t *ret_version) {
        uint8_t msg[QREXEC_HEADER_SIZE + QREXEC_HELLO_SIZE];
        uint8_t untrusted_reply[QREXEC_HEADER_SIZE + QREXEC_HELLO_SIZE];
        long long deadline = timeout_ms >= 0 ? monotonic_msec() + timeout_ms : 0;
        struct qrexec_hdr hdr;
        uint32_t theirs;
        size_t got = 0;
        ssize_t n;
        int len, r;

        if (!v || !ret_version)
                return -EINVAL;
        len = qrexec_encode_hello(msg, sizeof(msg), QREXEC_PROTOCOL_VERSION);
        if (len < 0)
                return len;
        vchan_set_blocking(v, false);
        n = vchan_send(v, msg, (size_t) len);
        if (n != len) {
                r = n < 0 ? (int) n : -EIO;
                goto out;
        }

        while (got < sizeof(untrusted_reply)) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                int wait_ms = -1;

                n = vchan_read(v, untrusted_reply + got, sizeof(untrusted_reply) - got);
                if (n < 0) {
                        r = (int) n;
                        goto out;
                }
                got += (size_t) n;
                if (got >= QREXEC_HEADER_SIZE) {
                        qrexec_decode_header(untrusted_reply, &hdr);
                        r = qrexec_check_header(&hdr, QREXEC_STREAM_DATA, 0);
                        if (r < 0)
                                goto out;
                }
                if (n > 0)
                        continue;
                if (vchan_is_open(v) == VCHAN_DISCONNECTED) {
                        r = -EPIPE;
                        goto out;
                }
                if (timeout_ms >= 0) {
                        long long left = deadline - monotonic_msec();

                        if (left <= 0) {
                                r = -ETIMEDOUT;
                                goto out;
                        }
                        wait_ms = left > 60 * 60 * 1000 ? 60 * 60 * 1000 : (int) left;
                }
                if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
                        r = -errno;
                        goto out;
                }
                if (pfd.revents) {
                        r = vchan_wait(v);
                        if (r < 0)
                                goto out;
                }
        }

        r = qrexec_decode_hello(untrusted_reply + QREXEC_HEADER_SIZE, hdr.len, &theirs);
        if (r < 0)
                goto out;
        r = qrexec_negotiate(QREXEC_PROTOCOL_VERSION, theirs);
        if (r < 0)
                goto out;
        *ret_version = (uint32_t) r;
        r = 0;
out:
        vchan_set_blocking(v, true);
        return r;
}

/* Blocking send of the last messages (the vchan is in blocking mode). */
static int send_final(struct vchan *v, uint32_t type, int32_t code) {
        uint8_t msg[QREXEC_HEADER_SIZE + QREXEC_EXIT_CODE_SIZE];
        ssize_t n;
        int len = encode_end(msg, type, code);

        if (len < 0)
                return len;
        n = vchan_send(v, msg, (size_t) len);
        return n < 0 ? (int) n : 0;
}

int qrexec_stream_run_client(struct vchan *v, uint32_t version, int in_fd, int out_fd, int err_fd,
                             const struct qrexec_client_options *opts) {
        struct pump p;
        int r;

        r = pump_init(&p, v, version, false);
        if (r < 0)
                goto out;
        source_init(&p, SINK_STDIN, in_fd);
        in_fd = -1;
        sink_init(&p, SINK_STDOUT, out_fd, opts && opts->replace_escapes_stdout);
        sink_init(&p, SINK_STDERR, err_fd, opts && opts->replace_escapes_stderr);
        out_fd = err_fd = -1;
        if (opts && opts->prefix_data && opts->prefix_len > 0) {
                p.prefix = opts->prefix_data;
                p.prefix_left = opts->prefix_len;
        }

        r = pump_run(&p);
        if (r == 0) {
                r = p.exit_code;
                /* The remote is done; its stdin ends too (Qubes sends the EOF). */
                if (!p.source_eof_sent[SINK_STDIN] && p.tx_len == 0)
                        (void) send_empty(&p, QREXEC_MSG_DATA_STDIN);
        }
out:
        pump_done(&p);
        if (in_fd >= 0)
                close(in_fd);
        if (out_fd >= 0)
                close(out_fd);
        if (err_fd >= 0)
                close(err_fd);
        return r;
}

int qrexec_stream_run_service_flags(struct vchan *v, uint32_t version, int in_fd, int out_fd,
                                    int err_fd, pid_t child, unsigned flags) {
        struct pump p;
        int r;

        r = pump_init(&p, v, version, true);
        if (r < 0) {
                pump_done(&p);
                if (in_fd >= 0)
                        close(in_fd);
                if (out_fd >= 0 && out_fd != in_fd)
                        close(out_fd);
                if (err_fd >= 0)
                        close(err_fd);
                return r;
        }
        p.flags = flags;
        p.child = child;
        p.child_done = child <= 0;
        if (child > 0) {
                p.pidfd = pidfd_open_compat(child);
                if (p.pidfd < 0)
                        p.pidfd = -1;   /* polled instead */
        }
        sink_init(&p, SINK_STDIN, in_fd, false);
        source_init(&p, SINK_STDOUT, out_fd);
        source_init(&p, SINK_STDERR, err_fd);
        p.stderr_eof_at_once = err_fd < 0;

        r = pump_run(&p);
        if (r == 0) {
                /* The end, in Qubes' order: STDOUT-EOF (if not yet), STDERR-EOF, EXIT_CODE. */
                p.exit_code = child > 0 ? p.child_status : 0;
                for (int i = 0; i < _SINK_MAX; i++)
                        local_release(&p, &p.sink[i], true);
                vchan_set_blocking(v, true);
                if (!p.source_eof_sent[SINK_STDOUT])
                        r = send_final(v, QREXEC_MSG_DATA_STDOUT, 0);
                if (r >= 0 && !p.source_eof_sent[SINK_STDERR])
                        r = send_final(v, QREXEC_MSG_DATA_STDERR, 0);
                if (r >= 0)
                        r = send_final(v, QREXEC_MSG_DATA_EXIT_CODE, p.exit_code);
        }
        pump_done(&p);
        return r < 0 ? r : 0;
}

int qrexec_stream_run_service(struct vchan *v, uint32_t version, int in_fd, int out_fd, int err_fd,
                              pid_t child) {
        return qrexec_stream_run_service_flags(v, version, in_fd, out_fd, err_fd, child, 0);
}

int qrexec_stream_refuse(struct vchan *v, uint32_t version, int code) {
        int r;

        if (!v || version < QREXEC_PROTOCOL_MIN || version > QREXEC_PROTOCOL_VERSION)
                return -EINVAL;
        vchan_set_blocking(v, true);
        r = send_final(v, QREXEC_MSG_DATA_STDOUT, 0);
        if (r >= 0)
                r = send_final(v, QREXEC_MSG_DATA_STDERR, 0);
        if (r >= 0)
                r = send_final(v, QREXEC_MSG_DATA_EXIT_CODE, code);
        return r < 0 ? r : 0;
}
