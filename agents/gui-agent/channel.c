/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The agent's end of the GUI channel: vchan server on port 6000 towards
 * domain 0, the version handshake (we announce, guid chooses, then sends
 * its screen size), the pixel side channel gui-shm.<domid>.sock on which
 * window memfds go to guid, and strict framing of guid's messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gui-agent.h"
#include "util.h"

#define MAX_MESSAGES_PER_WAKEUP 256

static int own_domid(const struct agent *a) {
        if (a->opt.domid >= 0)
                return a->opt.domid;
        const char *e = getenv("VCHAN_DOMAIN");
        return e ? atoi(e) : 0;
}

static const char *vchan_dir(const struct agent *a) {
        return a->opt.vchan_dir ?: getenv("VCHAN_SOCKET_DIR") ?: "/var/run/vchan";
}

/* The side channel exists before the vchan: guid connects to it right
 * after the handshake. */
int channel_listen(struct agent *a) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/gui-shm.%d.sock", vchan_dir(a), own_domid(a));
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(sa.sun_path);
        /* 0666: guid runs as its own uid; the vchan dir's permissions say who may reach it. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0 ||
            listen(fd, 1) < 0) {
                int r = -errno;
                agent_log("cannot create the pixel channel %s: %s", sa.sun_path, strerror(-r));
                return r;
        }
        a->shm_listen = TAKE_FD(fd);
        return 0;
}

int channel_accept(struct agent *a) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = own_domid(a),
                .remote_domid = 0,
                .port = GUI_VCHAN_PORT,
                .socket_dir = vchan_dir(a),
        };
        uint8_t buf[GUI_XCONF_SIZE];
        int r;

        r = vchan_server_init(&ep, 0, 0, &a->vchan);
        if (r < 0) {
                agent_log("cannot publish GUI vchan port %d: %s", GUI_VCHAN_PORT, strerror(-r));
                return r;
        }
        vchan_set_blocking(a->vchan, true);
        while (vchan_is_open(a->vchan) == VCHAN_WAITING)
                if ((r = vchan_wait(a->vchan)) < 0)
                        return r;

        gui_encode_u32(buf, GUI_PROTOCOL_VERSION);
        if (vchan_send(a->vchan, buf, 4) != 4)
                return -EPIPE;
        r = vchan_read_full(a->vchan, buf, 4);
        if (r < 0)
                return r;
        uint32_t untrusted_version = gui_decode_u32(buf);
        if (gui_check_daemon_version(untrusted_version) < 0) {
                agent_log("guid chose GUI protocol %u.%u, which this agent does not speak",
                          untrusted_version >> 16, untrusted_version & 0xffff);
                return -EPROTONOSUPPORT;
        }
        a->version = untrusted_version;
        r = vchan_read_full(a->vchan, buf, GUI_XCONF_SIZE);
        if (r < 0)
                return r;
        gui_decode_xconf(buf, &a->xconf);
        /* guid is the trusted side, but a nonsense screen is still refused */
        if (a->xconf.w == 0 || a->xconf.h == 0 || a->xconf.w > GUI_MAX_WINDOW_WIDTH ||
            a->xconf.h > GUI_MAX_WINDOW_HEIGHT) {
                agent_log("guid announced an impossible screen %ux%u", a->xconf.w, a->xconf.h);
                return -EBADMSG;
        }

        a->shm_fd = accept4(a->shm_listen, NULL, NULL, SOCK_CLOEXEC);
        if (a->shm_fd < 0)
                return -errno;
        vchan_set_blocking(a->vchan, false);
        a->in_len = 0;
        agent_log("guid connected: protocol %u.%u, screen %ux%u", a->version >> 16, a->version & 0xffff,
                  a->xconf.w, a->xconf.h);
        return 0;
}

void channel_close(struct agent *a) {
        vchan_close(a->vchan);
        a->vchan = NULL;
        if (a->shm_fd >= 0)
                close(a->shm_fd);
        a->shm_fd = -1;
}

/* Agent-to-guid traffic is written through: a blocking wait while guid's
 * ring is full is the flow control. */
int channel_send(struct agent *a, const struct gui_msg *m) {
        static uint8_t buf[GUI_HEADER_SIZE + GUI_CLIPBOARD_WIRE_MAX];
        int n = gui_encode(m, buf, sizeof(buf));
        if (n < 0)
                return n;
        vchan_set_blocking(a->vchan, true);
        int r = vchan_write_full(a->vchan, buf, (size_t) n);
        vchan_set_blocking(a->vchan, false);
        return r;
}

int channel_send_fd(struct agent *a, uint32_t window, int fd) {
        uint8_t id[4];

        le32_store(id, window);
        ssize_t n = send_with_fd(a->shm_fd, id, sizeof(id), 0, fd);
        return n < 0 ? (int) n : 0;
}

int channel_process(struct agent *a) {
        int r = vchan_wait(a->vchan);
        if (r < 0)
                return r;
        for (unsigned handled = 0; handled < MAX_MESSAGES_PER_WAKEUP;) {
                struct gui_header h;
                size_t want;
                int total = gui_frame(a->in, a->in_len, GUI_FROM_DAEMON, &h, &want);
                if (total < 0) {
                        agent_log("guid sent a bad header: type %u, length %u", h.type, h.untrusted_len);
                        return total;
                }
                if (total == 0) {
                        ssize_t n = vchan_read(a->vchan, a->in + a->in_len, want);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return vchan_is_open(a->vchan) == VCHAN_CONNECTED ? 0 : -EPIPE;
                        a->in_len += (size_t) n;
                        continue;
                }
                struct gui_msg m;
                r = gui_decode_body(&h, a->in + GUI_HEADER_SIZE, h.untrusted_len, &m);
                if (r < 0) {
                        agent_log("guid sent a malformed %s", gui_msg_type_to_string(h.type));
                        return r;
                }
                r = input_handle(a, &m);
                if (r < 0)
                        return r;
                a->in_len = 0;
                handled++;
        }
        return 1;
}
