/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gui-agent: shows a domain's windows through its guid (docs/man/gui-agent.8).
 * Publishes GUI vchan port 6000 and the pixel side channel, starts the
 * domain's Xvfb at once (so that DISPLAY works before guid comes; or at
 * guid's screen size with --screen guid; none when --display names an X
 * server), waits for guid, then one poll() loop: X events become messages, guid's
 * messages become input, and each pass ends with one frame of pixels.
 * When guid goes away the agent waits for the next one.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gui-agent.h"
#include "util.h"

void agent_log(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("gui-agent: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

#define SCREEN_DEFAULT_W 1920
#define SCREEN_DEFAULT_H 1080

static int parse_screen(const char *s, struct agent_options *o) {
        unsigned w, h;
        char end;

        if (strcmp(s, "guid") == 0) {
                o->screen_w = o->screen_h = 0;
                return 0;
        }
        if (sscanf(s, "%ux%u%c", &w, &h, &end) != 2 || w < 64 || h < 64 || w > GUI_MAX_WINDOW_WIDTH ||
            h > GUI_MAX_WINDOW_HEIGHT)
                return -EINVAL;
        o->screen_w = w;
        o->screen_h = h;
        return 0;
}

static void help(void) {
        printf("gui-agent [OPTIONS]\n\n"
               "Show this domain's X windows on the admin display through guid: GUI vchan\n"
               "port %d (this agent is the server) and memfd pixels on the side channel\n"
               "gui-shm.DOMID.sock in the vchan directory.\n\n"
               "  --display DISPLAY   forward this X server's windows (default: start Xvfb)\n"
               "  --xvfb PATH         the Xvfb to start (default: Xvfb)\n"
               "  --xvfb-display N    its display number, or auto: the first free one (default: 0)\n"
               "  --screen WxH|guid   its size; it starts at once (default: %ux%u);\n"
               "                      guid: when the first guid connects, at its screen's size\n"
               "  --vchan-dir DIR     the vchan directory (default: $VCHAN_SOCKET_DIR)\n"
               "  --domid N           this domain's id (default: $VCHAN_DOMAIN)\n"
               "  -h, --help          this text\n",
               GUI_VCHAN_PORT, SCREEN_DEFAULT_W, SCREEN_DEFAULT_H);
}

static int parse_args(int argc, char **argv, struct agent_options *o) {
        enum { ARG_DISPLAY = 0x100, ARG_XVFB, ARG_XVFB_DISPLAY, ARG_VCHAN_DIR, ARG_DOMID, ARG_SCREEN };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "display", required_argument, NULL, ARG_DISPLAY },
                { "xvfb", required_argument, NULL, ARG_XVFB },
                { "xvfb-display", required_argument, NULL, ARG_XVFB_DISPLAY },
                { "vchan-dir", required_argument, NULL, ARG_VCHAN_DIR },
                { "domid", required_argument, NULL, ARG_DOMID },
                { "screen", required_argument, NULL, ARG_SCREEN },
                {}
        };
        uint32_t v;
        int c;

        *o = (struct agent_options) {
                .xvfb = "Xvfb", .domid = -1, .screen_w = SCREEN_DEFAULT_W, .screen_h = SCREEN_DEFAULT_H,
        };
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_DISPLAY:
                        o->display = optarg;
                        break;
                case ARG_XVFB:
                        o->xvfb = optarg;
                        break;
                case ARG_XVFB_DISPLAY:
                        if (strcmp(optarg, "auto") == 0) {
                                o->xvfb_display = XVFB_DISPLAY_AUTO;
                                break;
                        }
                        if (parse_uint32(optarg, &v) < 0 || v > 65535) {
                                agent_log("bad display number '%s'", optarg);
                                return -EINVAL;
                        }
                        o->xvfb_display = v;
                        break;
                case ARG_VCHAN_DIR:
                        o->vchan_dir = optarg;
                        break;
                case ARG_SCREEN:
                        if (parse_screen(optarg, o) < 0) {
                                agent_log("bad screen '%s' (WxH, 64x64..%ux%u, or guid)", optarg,
                                          GUI_MAX_WINDOW_WIDTH, GUI_MAX_WINDOW_HEIGHT);
                                return -EINVAL;
                        }
                        break;
                case ARG_DOMID:
                        if (parse_uint32(optarg, &v) < 0 || v > 32767) {
                                agent_log("bad domain id '%s'", optarg);
                                return -EINVAL;
                        }
                        o->domid = (int) v;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                agent_log("unexpected argument '%s' (see --help)", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* Every queued X event, then one frame.  A frame may read events into
 * Xlib's queue (direct.c's XSync), where the poll on the X connection
 * would never see them: handle those too before going back to it. */
static int process_x(struct agent *a) {
        do {
                while (XPending(a->dpy) > 0) {
                        XEvent ev;
                        XNextEvent(a->dpy, &ev);
                        int r = clipboard_handle_event(a, &ev);
                        if (r == 0)
                                r = windows_handle_event(a, &ev);
                        if (r < 0)
                                return r;
                }
                int r = pixels_flush(a);
                if (r < 0)
                        return r;
        } while (XEventsQueued(a->dpy, QueuedAlready) > 0);
        return 0;
}

/* One guid session: <0 when it ended (guid closed or misbehaved). */
static int serve(struct agent *a) {
        int r = screen_send(a);
        if (r < 0)
                return r;
        r = windows_announce_all(a);
        if (r < 0)
                return r;
        for (;;) {
                r = process_x(a);
                if (r < 0)
                        return r;
                struct pollfd fds[] = {
                        { .fd = ConnectionNumber(a->dpy), .events = POLLIN },
                        { .fd = vchan_fd_for_select(a->vchan), .events = POLLIN },
                };
                /* guid's messages first: input must not wait behind a frame */
                if (poll(fds, ELEMENTSOF(fds), vchan_data_ready(a->vchan) > 0 ? 0 : -1) < 0 && errno != EINTR)
                        return -errno;
                if (fds[0].revents & (POLLERR | POLLHUP)) {
                        agent_log("lost the X server");
                        return -ENOTCONN;
                }
                if ((fds[1].revents || vchan_data_ready(a->vchan) > 0) && (r = channel_process(a)) < 0)
                        return r;
                XFlush(a->dpy);
        }
}

static volatile pid_t xvfb_to_reap;

/* Stopped: our Xvfb goes too, and is reaped here (PID 1 may not reap). */
static void on_terminate(int sig) {
        (void) sig;
        if (xvfb_to_reap > 0) {
                kill(xvfb_to_reap, SIGTERM);
                (void) waitpid(xvfb_to_reap, NULL, 0);
        }
        _exit(0);
}

int main(int argc, char **argv) {
        struct agent a = { .shm_listen = -1, .shm_fd = -1, .screen_fd = -1 };
        int r;

        r = parse_args(argc, argv, &a.opt);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        signal(SIGPIPE, SIG_IGN);
        struct sigaction sa = { .sa_handler = on_terminate };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        r = channel_listen(&a);
        if (r < 0)
                return 1;
        if (!a.opt.display && a.opt.screen_w > 0) {
                /* now: the domain's programs may use DISPLAY before any guid comes */
                a.xconf.w = a.opt.screen_w;
                a.xconf.h = a.opt.screen_h;
                r = display_open(&a);
                xvfb_to_reap = a.xvfb_pid;
                if (r < 0) {
                        display_close(&a);
                        return 1;
                }
        }
        for (;;) {
                r = channel_accept(&a);
                if (r < 0 && !a.vchan)
                        return 1;       /* cannot even publish the channel */
                if (r < 0) {
                        agent_log("GUI handshake failed: %s", strerror(-r));
                        channel_close(&a);
                        continue;
                }
                if (!a.dpy) {
                        r = display_open(&a);
                        xvfb_to_reap = a.xvfb_pid;
                        if (r < 0) {
                                display_close(&a);
                                return 1;
                        }
                }
                r = serve(&a);
                windows_forget_all(&a);
                channel_close(&a);
                if (r == -ENOTCONN)
                        break;
                agent_log("guid went away (%s); waiting for the next one", strerror(-r));
        }
        display_close(&a);
        return 1;
}
