/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-vchan-mux: the data vchans of a QEMU guest over one virtio-serial
 * port (docs/man/odyssey-vchan-mux.8).  Options, the epoll loop, signals;
 * on the host, a seccomp allowlist once set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"
#include "sandbox.h"

/* What the host side does beyond the base profile: mirrors (bind, listen,
 * chmod, rename, unlink), streams to real servers (connect), scans (openat,
 * getdents64). */
static const char *const host_syscalls[] = {
        "connect", "bind", "listen", "chmod", "fchmodat", "rename", "renameat", "renameat2",
        "unlink", "unlinkat", "openat", "getdents64", NULL,
};

static void help(void) {
        printf("Usage: odyssey-vchan-mux [OPTIONS]\n"
               "Carry the data vchans of a QEMU guest over one virtio-serial port.\n\n"
               "  --side host|guest  which end this is (default guest)\n"
               "  --domid G          the guest's domid (default $VCHAN_DOMAIN; host: required)\n"
               "  --dir DIR          the vchan socket directory (default $VCHAN_SOCKET_DIR,\n"
               "                     else /run/vchan; host: required)\n"
               "  --connect PATH     connect to this UNIX socket (QEMU's chardev)\n"
               "  --device PATH      the virtio port device (guest default\n"
               "                     " VMUX_PORT_DEVICE ")\n"
               "  --fd N             an inherited connected stream socket\n"
               "  --timeout S        host: give up connecting after S seconds (default 30)\n"
               "  --verbose          log every stream\n"
               "  --help             show this help\n");
}

static int parse_args(int argc, char **argv, struct mux *m) {
        static const struct option options[] = {
                { "side", required_argument, NULL, 's' },    { "domid", required_argument, NULL, 'd' },
                { "dir", required_argument, NULL, 'D' },     { "connect", required_argument, NULL, 'c' },
                { "device", required_argument, NULL, 'v' },  { "fd", required_argument, NULL, 'f' },
                { "timeout", required_argument, NULL, 't' }, { "verbose", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },          {},
        };
        const char *domid = getenv("VCHAN_DOMAIN"), *dir = getenv("VCHAN_SOCKET_DIR");
        bool have_domid = false, have_dir = false, have_transport = false;
        uint32_t v;
        int c;

        m->side = SIDE_GUEST;
        m->kind = TRANSPORT_DEVICE;
        m->path = VMUX_PORT_DEVICE;
        m->timeout_sec = 30;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (strcmp(optarg, "host") == 0)
                                m->side = SIDE_HOST;
                        else if (strcmp(optarg, "guest") == 0)
                                m->side = SIDE_GUEST;
                        else
                                return log_error_errno(EINVAL, "--side must be host or guest");
                        break;
                case 'd':
                        domid = optarg;
                        have_domid = true;
                        break;
                case 'D':
                        dir = optarg;
                        have_dir = true;
                        break;
                case 'c':
                case 'v':
                        m->kind = c == 'c' ? TRANSPORT_CONNECT : TRANSPORT_DEVICE;
                        m->path = optarg;
                        have_transport = true;
                        break;
                case 'f':
                        if (parse_uint32(optarg, &v) < 0 || v < 3 || v > INT32_MAX)
                                return log_error_errno(EINVAL, "Bad --fd %s", optarg);
                        m->kind = TRANSPORT_FD;
                        m->inherited_fd = (int) v;
                        have_transport = true;
                        break;
                case 't':
                        if (parse_uint32(optarg, &v) < 0 || v == 0)
                                return log_error_errno(EINVAL, "Bad --timeout %s", optarg);
                        m->timeout_sec = v;
                        break;
                case 'V':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument %s", argv[optind]);
        if (m->side == SIDE_HOST && (!have_domid || !have_dir || !have_transport))
                return log_error_errno(EINVAL, "The host side needs --domid, --dir and a transport");
        if (!domid || parse_uint32(domid, &v) < 0 || v > VMUX_DOMID_MAX)
                return log_error_errno(EINVAL, "Bad or missing domid (--domid or $VCHAN_DOMAIN)");
        m->domid = v;
        if (m->side == SIDE_HOST && m->domid == 0)
                return log_error_errno(EINVAL, "The guest's domid cannot be 0");
        m->dir = dir && *dir ? dir : "/run/vchan";
        if (strlen(m->dir) + 1 + VMUX_NAME_MAX >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return log_error_errno(ENAMETOOLONG, "--dir %s is too long for socket names", m->dir);
        return 0;
}

/* A socket per stream and per mirror: up to 2 x VMUX_STREAMS_MAX +
 * VMUX_MIRRORS_MAX fds, more than the usual soft limit of 1024. */
static void raise_fd_limit(void) {
        struct rlimit rl;
        rlim_t want = 4 * VMUX_STREAMS_MAX;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
}

static int setup_signals(struct mux *m) {
        sigset_t mask;

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        m->signal_source.kind = SOURCE_SIGNAL;
        m->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (m->signal_fd < 0)
                return log_error_errno(errno, "Failed to create a signalfd");
        return epoll_set(m, m->signal_fd, &m->signal_source, 0, EPOLLIN);
}

int main(int argc, char **argv) {
        struct mux m = {
                .dir_fd = -1, .epoll_fd = -1, .transport_fd = -1, .timer_fd = -1,
                .signal_fd = -1, .inotify_fd = -1, .inherited_fd = -1,
        };
        int r;

        log_setup("odyssey-vchan-mux");
        r = parse_args(argc, argv, &m);
        if (r < 0)
                return 2;
        raise_fd_limit();
        r = mux_init(&m);
        if (r >= 0)
                r = setup_signals(&m);
        if (r >= 0)
                r = watch_start(&m);
        if (r >= 0 && m.side == SIDE_HOST)
                r = sandbox_apply(host_syscalls);
        if (r >= 0) {
                log_info("%s side of domain %u on %s.", m.side == SIDE_HOST ? "Host" : "Guest", m.domid, m.dir);
                r = transport_start(&m);
        }
        while (r >= 0 && !m.quit)
                r = mux_run_once(&m, -1);
        if (r < 0)
                m.exit_status = 1;

        mux_done(&m);
        return m.exit_status;
}
