/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's end of the GUI channel: vchan client of the agent's port 6000,
 * the version handshake, strict framing of the agent's messages, and the
 * side channel on which the agent passes window memfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_MS 60000
/* Work done per wake-up before X events get their turn: a flooding agent
 * cannot starve the user's input. */
#define MAX_MESSAGES_PER_WAKEUP 256

static int shm_socket_connect(struct guid *g) {
        _cleanup_free_ char *name = NULL, *path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (asprintf(&name, "gui-shm.%u.sock", g->cfg.domid) < 0)
                return -ENOMEM;
        path = path_join(g->cfg.vchan_dir, name);
        if (!path)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot connect to the pixel channel %s: %m", path);
        return TAKE_FD(fd);
}

int guid_agent_connect(struct guid *g) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = 0,
                .remote_domid = (int) g->cfg.domid,
                .port = GUI_VCHAN_PORT,
                .socket_dir = g->cfg.vchan_dir,
        };
        uint8_t buf[GUI_XCONF_SIZE];
        int r;

        r = vchan_client_init(&ep, HANDSHAKE_TIMEOUT_MS, &g->vchan);
        if (r < 0)
                return log_error_errno(r, "Cannot reach the GUI agent of %s: %m", g->cfg.domain);
        vchan_set_blocking(g->vchan, true);

        /* The agent writes its version first. */
        r = vchan_read_full(g->vchan, buf, 4);
        if (r < 0)
                return log_error_errno(r, "No GUI protocol version from %s: %m", g->cfg.domain);
        uint32_t untrusted_version = gui_decode_u32(buf);
        r = gui_negotiate_version(untrusted_version, &g->version);
        if (r < 0)
                return log_error_errno(r, "%s speaks GUI protocol %u.%u, this guid %u.%u..%u.%u",
                                       g->cfg.domain, untrusted_version >> 16, untrusted_version & 0xffff,
                                       GUI_PROTOCOL_MAJOR, GUI_PROTOCOL_MIN_MINOR, GUI_PROTOCOL_MAJOR,
                                       GUI_PROTOCOL_MINOR);
        g->state.screen_allowed = (g->version & 0xffff) >= GUI_PROTOCOL_SCREEN_MINOR;
        gui_encode_u32(buf, g->version);
        if (vchan_send(g->vchan, buf, 4) != 4)
                return log_error_errno(EPIPE, "Cannot answer the GUI agent of %s", g->cfg.domain);

        /* Width rounded up to a multiple of 8, as Qubes does. */
        struct gui_xconf xconf = {
                .w = (g->screen->width_in_pixels + 7u) & ~7u,
                .h = g->screen->height_in_pixels,
                .depth = g->screen->root_depth,
        };
        xconf.mem = xconf.w * xconf.h * 4 / 1024 + 1;
        gui_encode_xconf(buf, &xconf);
        if (vchan_send(g->vchan, buf, sizeof(buf)) != (ssize_t) sizeof(buf))
                return log_error_errno(EPIPE, "Cannot send the screen size to %s", g->cfg.domain);

        g->shm_fd = shm_socket_connect(g);
        if (g->shm_fd < 0)
                return g->shm_fd;

        vchan_set_blocking(g->vchan, false);
        g->in = malloc(GUI_HEADER_SIZE + GUI_MAX_BODY);
        if (!g->in)
                return -ENOMEM;
        log_info("GUI agent of %s connected, protocol %u.%u.", g->cfg.domain, g->version >> 16,
                 g->version & 0xffff);
        return 0;
}

/* The memfd of a GUI_DUMP_MEMFD dump: the agent sent it on the side
 * channel before the dump message, so it is already queued. */
int guid_agent_receive_memfd(struct guid *g, uint32_t window, uint64_t need) {
        uint8_t untrusted_id[4];
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = { .iov_base = untrusted_id, .iov_len = sizeof(untrusted_id) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        _cleanup_close_ int fd = -1;

        ssize_t n = recvmsg(g->shm_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return log_error_errno(errno == EAGAIN ? EBADMSG : errno,
                                       "%s announced a window buffer it did not pass: %m", g->cfg.domain);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        int fds[4];
                        memcpy(fds, CMSG_DATA(c), count * sizeof(int));
                        for (size_t i = 0; i < count; i++) {
                                if (fd < 0 && i == 0)
                                        fd = fds[i];
                                else
                                        close(fds[i]);
                        }
                }
        if (n != sizeof(untrusted_id) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fd < 0 ||
            le32_load(untrusted_id) != window)
                return log_error_errno(EBADMSG, "%s passed a malformed window buffer; closing.", g->cfg.domain);

        /* A sealed regular file at least as large as the image: it can
         * neither shrink under the X server (SIGBUS) nor be a device. */
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        int seals = fcntl(fd, F_GET_SEALS);
        if (!S_ISREG(st.st_mode) || seals < 0 || !(seals & F_SEAL_SHRINK) || (uint64_t) st.st_size < need)
                return log_error_errno(EBADMSG, "%s passed an unusable window buffer (size %lld, seals 0x%x); "
                                       "closing.", g->cfg.domain, (long long) st.st_size, seals);
        return TAKE_FD(fd);
}

int guid_agent_send(struct guid *g, const struct gui_msg *m) {
        size_t size = GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t small[GUI_HEADER_SIZE + 64];
        uint8_t *p = small;

        if (m->type == GUI_MSG_CLIPBOARD_DATA) {
                p = buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
        } else
                size = sizeof(small);
        int n = gui_encode(m, p, size);
        if (n < 0)
                return n;
        /* Daemon-to-agent traffic is small and rare: write it through, a
         * short blocking wait when the agent's ring is full. */
        vchan_set_blocking(g->vchan, true);
        int r = vchan_write_full(g->vchan, p, (size_t) n);
        vchan_set_blocking(g->vchan, false);
        return r;
}

int guid_agent_process(struct guid *g) {
        int r = vchan_wait(g->vchan);
        if (r < 0)
                return r;

        for (unsigned handled = 0; handled < MAX_MESSAGES_PER_WAKEUP;) {
                struct gui_header h;
                size_t want;
                int total = gui_frame(g->in, g->in_len, GUI_FROM_AGENT, &h, &want);
                if (total < 0) {
                        log_error("%s sent a bad GUI header: type %u (%s), length %u; closing.", g->cfg.domain,
                                  h.type, gui_msg_type_to_string(h.type), h.untrusted_len);
                        return total;
                }
                if (total == 0) {
                        ssize_t n = vchan_read(g->vchan, g->in + g->in_len, want);
                        if (n < 0)
                                return (int) n;
                        if (n == 0) {
                                if (vchan_is_open(g->vchan) != VCHAN_CONNECTED) {
                                        log_info("GUI agent of %s closed the channel.", g->cfg.domain);
                                        return -EPIPE;
                                }
                                return 0;
                        }
                        g->in_len += (size_t) n;
                        continue;
                }

                struct gui_msg untrusted_msg;
                r = gui_decode_body(&h, g->in + GUI_HEADER_SIZE, h.untrusted_len, &untrusted_msg);
                if (r < 0)
                        return log_error_errno(r, "%s sent a malformed %s message; closing.", g->cfg.domain,
                                               gui_msg_type_to_string(h.type));
                r = guid_handle_agent_message(g, &untrusted_msg);
                if (r < 0)
                        return r;
                g->in_len = 0;
                handled++;
        }
        /* More may be waiting: come back after X events. */
        return 1;
}
