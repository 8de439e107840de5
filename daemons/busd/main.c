/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * busd: Odyssey's message bus.  Options, setup, the event loop.
 *   busd [--socket PATH] --role-uid ROLE=UID... [--stall-timeout MSEC]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busd.h"
#include "spin-slots.h"
#include "daemon.h"
#include "log.h"
#include "sandbox.h"

/* What busd needs beyond the base profile (which has accept4 and getsockopt
 * for SO_PEERCRED): connecting vchan clients to guests' control channels
 * (socket backend: a UNIX socket).  The socket backend's optional inotify
 * watch and buffer tuning stay refused; it falls back to polling. */
static const char *const busd_syscalls[] = {
        "socket",
        "connect",
        /* listener.c: each connection's rings, a memfd sized once */
        "ftruncate",
        /* broker.c: watch vchan dirs, link and remove data sockets */
        "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "linkat", "link", "unlink", "unlinkat",
        NULL,
};

static void help(void) {
        printf("Usage: busd [OPTIONS]\n"
               "Odyssey's message bus: routes typed messages between the admin domain's\n"
               "daemons and terminates every guest domain's control channel.\n\n"
               "  --socket PATH           listening socket (default $ODYSSEY_RUNTIME_DIR/bus.sock,\n"
               "                          else /run/qubes/bus.sock)\n"
               "  --role-uid ROLE=UID     connections from UID are daemon ROLE (repeatable; one\n"
               "                          role per uid): qubesd, qrexec-policyd, guid, netvm-mgr,\n"
               "                          usbvm-mgr, stubdom-qemu-mgr\n"
               "  --stall-timeout MSEC    drop a daemon whose outbound queue stays full this long\n"
               "                          (default %u)\n"
               "  --spin-usec USEC        poll this long for more work before sleeping;\n"
               "                          0 disables (default %u)\n"
               "  -h --help               show this help\n"
               "  --version               show the version\n",
               BUSD_STALL_TIMEOUT_USEC_DEFAULT / 1000, DAEMON_SPIN_USEC_DEFAULT);
}

static int parse_role_uid(struct busd *b, const char *arg) {
        _cleanup_free_ char *role_name = NULL;
        const char *eq = strchr(arg, '=');
        enum bus_role role;
        uint32_t uid;
        int r;

        if (!eq)
                return log_error_errno(-EINVAL, "--role-uid wants ROLE=UID, not '%s'", arg);
        role_name = strndup(arg, (size_t) (eq - arg));
        if (!role_name)
                return log_error_errno(-ENOMEM, "Out of memory");
        role = bus_role_from_string(role_name);
        if (role == _BUS_ROLE_INVALID || !(BUS_ROLE_DAEMONS_MASK & (1u << role)))
                return log_error_errno(-EINVAL, "Unknown daemon role '%s'", role_name);
        r = parse_uint32(eq + 1, &uid);
        if (r < 0 || uid == UINT32_MAX)
                return log_error_errno(-EINVAL, "Invalid uid '%s'", eq + 1);

        for (size_t i = 0; i < b->n_role_uids; i++) {
                if (b->role_uids[i].uid == (uid_t) uid)
                        return log_error_errno(-EINVAL, "uid %u is already role %s", uid,
                                               bus_role_to_string(b->role_uids[i].role));
                if (b->role_uids[i].role == role)
                        return log_error_errno(-EINVAL, "Role %s already has uid %u", role_name,
                                               (unsigned) b->role_uids[i].uid);
        }
        b->role_uids[b->n_role_uids++] = (struct role_uid) { .uid = (uid_t) uid, .role = role };
        return 0;
}

/* 0 to run, > 0 to exit successfully (help, version), < 0 on a bad option. */
static int parse_argv(struct busd *b, int argc, char *argv[]) {
        enum { ARG_SOCKET = 0x100, ARG_ROLE_UID, ARG_STALL_TIMEOUT, ARG_SPIN_USEC, ARG_VERSION };
        static const struct option options[] = {
                { "socket",        required_argument, NULL, ARG_SOCKET },
                { "role-uid",      required_argument, NULL, ARG_ROLE_UID },
                { "stall-timeout", required_argument, NULL, ARG_STALL_TIMEOUT },
                { "spin-usec",     required_argument, NULL, ARG_SPIN_USEC },
                { "help",          no_argument,       NULL, 'h' },
                { "version",       no_argument,       NULL, ARG_VERSION },
                {}
        };
        const char *socket_opt = NULL;
        uint32_t msec;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_SOCKET:
                        socket_opt = optarg;
                        break;
                case ARG_ROLE_UID:
                        r = parse_role_uid(b, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_STALL_TIMEOUT:
                        r = parse_uint32(optarg, &msec);
                        if (r < 0 || msec == 0)
                                return log_error_errno(-EINVAL, "Invalid --stall-timeout '%s'", optarg);
                        b->stall_timeout_usec = (uint64_t) msec * 1000;
                        break;
                case ARG_SPIN_USEC:
                        r = parse_uint32(optarg, &b->spin_usec);
                        if (r < 0 || b->spin_usec > 1000000)
                                return log_error_errno(-EINVAL, "Invalid --spin-usec '%s' (0..1000000)", optarg);
                        break;
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("busd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return 1;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        if (b->n_role_uids == 0)
                return log_error_errno(-EINVAL, "No --role-uid given: nobody could connect");

        b->socket_path = daemon_runtime_path(socket_opt, "bus.sock");
        if (!b->socket_path)
                return log_error_errno(-ENOMEM, "Out of memory");
        return 0;
}

static void busd_reap(struct busd *b) {
        while (b->dead_peers) {
                struct peer *p = b->dead_peers;

                b->dead_peers = p->next_dead;
                peer_free(p);
        }
        while (b->dead_guests) {
                struct guest *g = b->dead_guests;

                b->dead_guests = g->next_dead;
                guest_free(g);
        }
}

static int busd_on_reap(sd_event_source *s, void *userdata) {
        busd_reap(userdata);
        return 0;
}

void busd_schedule_reap(struct busd *b) {
        (void) sd_event_source_set_enabled(b->reaper, SD_EVENT_ONESHOT);
}

static int busd_init(struct busd *b) {
        int r;

        b->untrusted_rx = malloc(BUS_MSG_MAX);
        b->tx = malloc(BUS_MSG_MAX);
        b->guest_tx = malloc(BUSD_GUEST_TX_MAX);
        b->msg = malloc(sizeof(*b->msg));
        b->trigger = malloc(sizeof(*b->trigger));
        if (!b->untrusted_rx || !b->tx || !b->guest_tx || !b->msg || !b->trigger)
                return log_error_errno(-ENOMEM, "Out of memory");

        r = daemon_event_new(&b->event);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the event loop");
        /* Without it every daemon still polls, by its own count of the load. */
        b->spin_slots_fd = spin_slots_create();
        if (b->spin_slots_fd < 0 || (r = spin_slots_map(b->spin_slots_fd)) < 0)
                log_warning_errno(b->spin_slots_fd < 0 ? b->spin_slots_fd : r,
                                  "Cannot set up the spin slots, daemons poll without them");
        r = sd_event_add_defer(b->event, &b->reaper, busd_on_reap, b);
        if (r >= 0)
                r = sd_event_source_set_enabled(b->reaper, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the reaper");
        r = broker_init(b);
        if (r < 0)
                return r;
        r = peers_add_poll_hook(b);
        if (r < 0)
                return log_error_errno(r, "Cannot hook the rings into the loop");
        return listener_open(b);
}

static void busd_done(struct busd *b) {
        for (size_t i = 0; i < _BUS_ROLE_MAX; i++)
                if (b->peers[i])
                        peer_drop(b->peers[i], "closed: busd is stopping", 0);
        while (b->guests)
                guest_close(b->guests, 0, "busd is stopping");
        busd_reap(b);
        broker_done(b);
        listener_close(b);
        sd_event_source_disable_unref(b->reaper);
        sd_event_unref(b->event);
        if (b->spin_slots_fd >= 0)
                close(b->spin_slots_fd);
        free(b->socket_path);
        free(b->untrusted_rx);
        free(b->tx);
        free(b->guest_tx);
        free(b->msg);
        free(b->trigger);
}

int main(int argc, char *argv[]) {
        struct busd b = {
                .listen_fd = -1,
                .inotify_fd = -1,
                .stall_timeout_usec = BUSD_STALL_TIMEOUT_USEC_DEFAULT,
                .spin_usec = DAEMON_SPIN_USEC_DEFAULT,
                .spin_slots_fd = -1,
        };
        int r;

        log_setup("busd");
        r = parse_argv(&b, argc, argv);
        if (r != 0) {
                free(b.socket_path);
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }

        r = busd_init(&b);
        if (r < 0)
                goto finish;
        r = sandbox_apply(busd_syscalls);
        if (r < 0) {
                log_error_errno(r, "Cannot apply the seccomp sandbox");
                goto finish;
        }

        log_info("Listening on %s with %zu roles", b.socket_path, b.n_role_uids);
        daemon_notify_ready("Routing messages");
        r = daemon_event_loop(b.event, b.spin_usec);
        daemon_notify_stopping();
        if (r < 0)
                log_error_errno(r, "Event loop failed");
finish:
        busd_done(&b);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
