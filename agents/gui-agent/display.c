/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain's own X server: started here (Xvfb, as large as guid's
 * screen, its framebuffer shared with guid: screen.c) unless --display
 * names one, then prepared for forwarding: Composite (top-level windows
 * redirected one by one, direct.c), DAMAGE, XFIXES cursor notifications, XTEST
 * for input, and a second, xcb connection for MIT-SHM fd attach.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <X11/extensions/Xcomposite.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/XTest.h>

#include "gui-agent.h"
#include "util.h"

#define XVFB_START_TIMEOUT_SEC 30

/* Races with windows going away are normal: never fatal. */
static int ignore_x_error(Display *dpy, XErrorEvent *e) {
        (void) dpy;
        (void) e;
        return 0;
}

/* Xvfb writes the display number to -displayfd once it accepts clients.
 * Its framebuffer is our memfd when that can be set up (screen.c). */
static int start_xvfb(struct agent *a, char display[static 32]) {
        int pipe_fds[2];
        char screen[64], display_arg[16], fd_arg[16], fbdir[64];
        bool shared = screen_prepare(a, fbdir) >= 0;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
                int r = -errno;
                if (shared)
                        screen_cleanup_dir(fbdir);
                return r;
        }
        snprintf(screen, sizeof(screen), "%ux%ux24", a->xconf.w, a->xconf.h);
        snprintf(display_arg, sizeof(display_arg), ":%u", a->opt.xvfb_display);
        snprintf(fd_arg, sizeof(fd_arg), "%d", pipe_fds[1]);

        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipe_fds[0]);
                close(pipe_fds[1]);
                if (shared)
                        screen_cleanup_dir(fbdir);
                return r;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                (void) fcntl(pipe_fds[1], F_SETFD, 0);
                const char *argv[16] = { a->opt.xvfb };
                size_t n = 1;
                if (a->opt.xvfb_display != XVFB_DISPLAY_AUTO)
                        argv[n++] = display_arg;
                argv[n++] = "-screen", argv[n++] = "0", argv[n++] = screen;
                argv[n++] = "-nolisten", argv[n++] = "tcp", argv[n++] = "-displayfd", argv[n++] = fd_arg;
                if (shared) {
                        (void) fcntl(a->screen_fd, F_SETFD, 0);
                        argv[n++] = "-fbdir", argv[n++] = fbdir;
                }
                execvp(a->opt.xvfb, (char **) argv);
                fprintf(stderr, "gui-agent: cannot run %s: %s\n", a->opt.xvfb, strerror(errno));
                _exit(127);
        }
        close(pipe_fds[1]);
        a->xvfb_pid = pid;

        char number[16] = "";
        size_t len = 0;
        while (len < sizeof(number) - 1) {
                struct pollfd pfd = { .fd = pipe_fds[0], .events = POLLIN };
                if (poll(&pfd, 1, XVFB_START_TIMEOUT_SEC * 1000) <= 0)
                        break;
                ssize_t n = read(pipe_fds[0], number + len, sizeof(number) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(number, '\n', len))
                        break;
        }
        close(pipe_fds[0]);
        if (shared)
                screen_cleanup_dir(fbdir);
        number[len] = '\0';
        unsigned d;
        if (sscanf(number, "%u", &d) != 1) {
                agent_log("%s did not start", a->opt.xvfb);
                return -ESRCH;
        }
        snprintf(display, 32, ":%u", d);
        agent_log("started %s on %s (%s)", a->opt.xvfb, display, screen);
        if (shared)
                (void) screen_seal(a);
        return 0;
}

static bool has_extension(Display *dpy, const char *name) {
        int opcode, event, error;
        return XQueryExtension(dpy, name, &opcode, &event, &error);
}

int display_open(struct agent *a) {
        char started[32];
        const char *display = a->opt.display;
        int r, error_base, major = 0, minor = 0;

        if (!display) {
                r = start_xvfb(a, started);
                if (r < 0)
                        return r;
                display = started;
                setenv("DISPLAY", display, 1);
        }
        a->dpy = XOpenDisplay(display);
        if (!a->dpy) {
                agent_log("cannot open X display %s", display);
                return -ECONNREFUSED;
        }
        XSetErrorHandler(ignore_x_error);
        a->root = DefaultRootWindow(a->dpy);

        if (!XCompositeQueryExtension(a->dpy, &r, &error_base) ||
            !XDamageQueryExtension(a->dpy, &a->damage_event, &error_base) ||
            !XFixesQueryExtension(a->dpy, &a->xfixes_event, &error_base) ||
            !XTestQueryExtension(a->dpy, &r, &error_base, &major, &minor) || !has_extension(a->dpy, "MIT-SHM")) {
                agent_log("the X server %s lacks Composite, DAMAGE, XFIXES, XTEST or MIT-SHM", display);
                return -EOPNOTSUPP;
        }
        XCompositeQueryVersion(a->dpy, &major, &minor);
        XDamageQueryVersion(a->dpy, &major, &minor);
        XFixesQueryVersion(a->dpy, &major, &minor);
        if (DefaultDepth(a->dpy, DefaultScreen(a->dpy)) != 24) {
                agent_log("the X server %s is not 24-bit", display);
                return -EOPNOTSUPP;
        }

        a->shm_conn = xcb_connect(display, NULL);
        if (xcb_connection_has_error(a->shm_conn)) {
                agent_log("cannot open a second connection to %s", display);
                return -ECONNREFUSED;
        }
        xcb_shm_query_version_reply_t *shm = xcb_shm_query_version_reply(
                a->shm_conn, xcb_shm_query_version(a->shm_conn), NULL);
        bool fd_passing = shm && (shm->major_version > 1 || shm->minor_version >= 2);
        free(shm);
        if (!fd_passing) {
                agent_log("the X server %s lacks MIT-SHM 1.2 (fd passing)", display);
                return -EOPNOTSUPP;
        }

        a->atom_net_wm_name = XInternAtom(a->dpy, "_NET_WM_NAME", False);
        a->atom_utf8_string = XInternAtom(a->dpy, "UTF8_STRING", False);
        a->atom_wm_protocols = XInternAtom(a->dpy, "WM_PROTOCOLS", False);
        a->atom_wm_delete = XInternAtom(a->dpy, "WM_DELETE_WINDOW", False);
        a->atom_clipboard = XInternAtom(a->dpy, "CLIPBOARD", False);
        a->atom_targets = XInternAtom(a->dpy, "TARGETS", False);
        a->atom_text = XInternAtom(a->dpy, "TEXT", False);
        a->atom_property = XInternAtom(a->dpy, "_ODYSSEY_CLIPBOARD", False);

        /* Top-level windows are redirected one by one (direct.c). */
        XSelectInput(a->dpy, a->root, SubstructureNotifyMask);
        XFixesSelectCursorInput(a->dpy, a->root, XFixesDisplayCursorNotifyMask);
        /* An input-only window for the clipboard: never a top-level to forward. */
        XSetWindowAttributes attrs = { .override_redirect = True };
        a->selection_window = XCreateWindow(a->dpy, a->root, -10, -10, 1, 1, 0, 0, InputOnly, CopyFromParent,
                                            CWOverrideRedirect, &attrs);
        XSync(a->dpy, False);
        agent_log("forwarding the windows of X display %s", display);
        return 0;
}

void display_close(struct agent *a) {
        if (a->shm_conn)
                xcb_disconnect(a->shm_conn);
        a->shm_conn = NULL;
        if (a->dpy)
                XCloseDisplay(a->dpy);
        a->dpy = NULL;
        if (a->xvfb_pid > 0) {
                kill(a->xvfb_pid, SIGTERM);
                (void) waitpid(a->xvfb_pid, NULL, 0);
                a->xvfb_pid = 0;
        }
}
