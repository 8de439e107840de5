/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd: holds the domains, serves the Admin API, drives lifecycles through
 * the HAL and busd.  Options, the setup order, the event loop.
 */
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "libvirt/hal-libvirt.h"
#include "native/hal-native.h"
#include "log.h"
#include "qubesd.h"
#include "sandbox.h"
#include "worker.h"

#ifndef PKGLIBEXECDIR
#  define PKGLIBEXECDIR "/usr/libexec/odyssey"
#endif

#define BUS_CONNECT_TIMEOUT_USEC (10 * UINT64_C(1000000))
#define ADMIN_GROUP_DEFAULT "qubes"

/* Beyond the base profile: SQLite's file I/O (its database, WAL and shm
 * files, their locks), the domains' directories (a private volume is created
 * on its first start), the pipe of a template build and reading the host's
 * apt sources for it.  No exec, no fork, no namespaces: what needs them runs
 * in the native backend's spawner or the file worker, both forked before this. */
static const char *const qubesd_syscalls[] = {
        "openat", "open", "access", "faccessat", "faccessat2", "stat", "lstat", "statx",
        "readlink", "readlinkat", "getcwd", "getdents64",
        "fsync", "fdatasync", "ftruncate", "fallocate", "flock", "fchown", "fchmod",
        "unlink", "unlinkat", "mkdir", "mkdirat",
        "pipe2", "wait4", "kill",
        /* Run: the listening data socket in a domain's vchan dir */
        "bind", "listen", "chmod", "fchmodat",
        NULL,
};

static void help(void) {
        printf("Usage: qubesd [OPTIONS]\n"
               "Odyssey's domain daemon: holds the domains and their properties, starts and\n"
               "stops them through the isolation backends, and serves the Admin API\n"
               "(org.qubes.Admin1) over D-Bus.\n\n"
               "  --admin-socket PATH  the Admin API's private socket (default\n"
               "                       $ODYSSEY_RUNTIME_DIR/admin.sock, else /run/qubes/admin.sock)\n"
               "  --bus-socket PATH    busd's socket (default $ODYSSEY_RUNTIME_DIR/bus.sock, else\n"
               "                       /run/qubes/bus.sock)\n"
               "  --db PATH            the domain database (default $ODYSSEY_STATE_DIR/qubes.db,\n"
               "                       else /var/lib/qubes/qubes.db)\n"
               "  --agents-dir DIR     odyssey-init and the guest agents (default:\n"
               "                       $ODYSSEY_LIBEXECDIR/agents, the build tree's agents/bin,\n"
               "                       else %s/agents)\n"
               "  --admin-group NAME   the group whose members may use the private socket\n"
               "                       besides root, and the socket's group (default %s;\n"
               "                       when the default is missing: root only)\n"
               "  --system-bus=MODE    claim %s on the system bus\n"
               "                       ($DBUS_SYSTEM_BUS_ADDRESS, else the standard one):\n"
               "                       auto (when one runs; never in a private stack, where\n"
               "                       $ODYSSEY_RUNTIME_DIR is set), yes (fail without it),\n"
               "                       no (default auto)\n"
               "  --no-system-bus      the same as --system-bus=no\n"
               "  --gui-display DISPLAY show the windows of domains with the feature gui on this\n"
               "                       X display, one guid per domain (default $DISPLAY)\n"
               "  --no-gui             show no domain's windows\n"
               "  --guid-uid UID       run guid as UID (default: the stack's run/roles, else the\n"
               "                       user odyssey-guid, else 64103; only when qubesd is root)\n"
               "  --spin-usec USEC     poll this long for more work before sleeping (default %u)\n"
               "  -h --help            show this help\n"
               "  --version            show the version\n",
               PKGLIBEXECDIR, ADMIN_GROUP_DEFAULT, ADMIN_BUS_NAME, DAEMON_SPIN_USEC_DEFAULT);
}

static char *default_agents_dir(void) {
        return hal_native_agents_dir() ?: strdup(PKGLIBEXECDIR "/agents");
}

/* qubesd's own extras plus what the native backend calls from qubesd's loop
 * and the libvirt backend's worker threads call. */
static int apply_sandbox(void) {
        _cleanup_free_ const char **all = NULL;
        size_t n = 0, max = ELEMENTSOF(qubesd_syscalls);

        for (const char *const *p = hal_native_syscalls; *p; p++)
                max++;
        for (const char *const *p = hal_libvirt_syscalls; *p; p++)
                max++;
        all = calloc(max, sizeof(char *));
        if (!all)
                return -ENOMEM;
        for (const char *const *p = qubesd_syscalls; *p; p++)
                all[n++] = *p;
        for (const char *const *p = hal_native_syscalls; *p; p++)
                all[n++] = *p;
        for (const char *const *p = hal_libvirt_syscalls; *p; p++)
                all[n++] = *p;
        all[n] = NULL;
        return sandbox_apply(all);
}

/* Now, before the sandbox (NSS may need files or sockets).  A group named on
 * the command line must exist; without the default one, only root is served. */
static int resolve_admin_group(struct qubesd *q, bool named) {
        struct group *g;

        errno = 0;
        g = getgrnam(q->admin_group);
        if (!g) {
                if (named)
                        return log_error_errno(errno > 0 ? errno : ENOENT, "No group '%s' (--admin-group)",
                                               q->admin_group);
                return 0;
        }
        q->admin_gid = g->gr_gid;
        q->have_admin_gid = true;
        return 0;
}

static int parse_argv(struct qubesd *q, int argc, char *argv[]) {
        enum { ARG_ADMIN_SOCKET = 0x100, ARG_BUS_SOCKET, ARG_DB, ARG_AGENTS_DIR, ARG_ADMIN_GROUP, ARG_SYSTEM_BUS,
               ARG_NO_SYSTEM_BUS, ARG_SPIN_USEC, ARG_GUI_DISPLAY, ARG_NO_GUI, ARG_GUID_UID, ARG_VERSION };
        static const struct option options[] = {
                { "admin-socket",  required_argument, NULL, ARG_ADMIN_SOCKET },
                { "bus-socket",    required_argument, NULL, ARG_BUS_SOCKET },
                { "db",            required_argument, NULL, ARG_DB },
                { "agents-dir",    required_argument, NULL, ARG_AGENTS_DIR },
                { "admin-group",   required_argument, NULL, ARG_ADMIN_GROUP },
                { "system-bus",    required_argument, NULL, ARG_SYSTEM_BUS },
                { "no-system-bus", no_argument,       NULL, ARG_NO_SYSTEM_BUS },
                { "spin-usec",     required_argument, NULL, ARG_SPIN_USEC },
                { "gui-display",   required_argument, NULL, ARG_GUI_DISPLAY },
                { "no-gui",        no_argument,       NULL, ARG_NO_GUI },
                { "guid-uid",      required_argument, NULL, ARG_GUID_UID },
                { "help",          no_argument,       NULL, 'h' },
                { "version",       no_argument,       NULL, ARG_VERSION },
                {}
        };
        const char *admin_opt = NULL, *bus_opt = NULL, *db_opt = NULL, *agents_opt = NULL, *group_opt = NULL;
        const char *gui_display = getenv("DISPLAY");
        uint32_t spin, uid;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_ADMIN_SOCKET:
                        admin_opt = optarg;
                        break;
                case ARG_BUS_SOCKET:
                        bus_opt = optarg;
                        break;
                case ARG_DB:
                        db_opt = optarg;
                        break;
                case ARG_AGENTS_DIR:
                        agents_opt = optarg;
                        break;
                case ARG_ADMIN_GROUP:
                        if (!*optarg)
                                return log_error_errno(-EINVAL, "--admin-group wants a group name");
                        group_opt = optarg;
                        break;
                case ARG_SYSTEM_BUS:
                        if (strcmp(optarg, "auto") == 0)
                                q->system_bus_mode = SYSTEM_BUS_AUTO;
                        else if (strcmp(optarg, "yes") == 0)
                                q->system_bus_mode = SYSTEM_BUS_YES;
                        else if (strcmp(optarg, "no") == 0)
                                q->system_bus_mode = SYSTEM_BUS_NO;
                        else
                                return log_error_errno(-EINVAL, "Invalid --system-bus '%s' (auto, yes or no)",
                                                       optarg);
                        break;
                case ARG_NO_SYSTEM_BUS:
                        q->system_bus_mode = SYSTEM_BUS_NO;
                        break;
                case ARG_SPIN_USEC:
                        if (parse_uint32(optarg, &spin) < 0 || spin > 1000000)
                                return log_error_errno(-EINVAL, "Invalid --spin-usec '%s' (0..1000000)", optarg);
                        q->spin_usec = spin;
                        break;
                case ARG_GUI_DISPLAY:
                        if (!*optarg || strchr(optarg, '\n'))
                                return log_error_errno(-EINVAL, "--gui-display wants an X display like :0");
                        gui_display = optarg;
                        break;
                case ARG_NO_GUI:
                        gui_display = NULL;
                        break;
                case ARG_GUID_UID:
                        if (parse_uint32(optarg, &uid) < 0 || uid == 0 || uid == UINT32_MAX)
                                return log_error_errno(-EINVAL, "Invalid --guid-uid '%s' (not root)", optarg);
                        q->guid_uid = (uid_t) uid;
                        q->have_guid_uid = true;
                        break;
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("qubesd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return 1;
                default:
                        fprintf(stderr, "Try 'qubesd --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        /* A private stack must not take the system's name from the real qubesd,
         * unless told to (a test with its own system bus). */
        if (q->system_bus_mode == SYSTEM_BUS_AUTO && getenv("ODYSSEY_RUNTIME_DIR"))
                q->system_bus_mode = SYSTEM_BUS_NO;
        q->admin_group = strdup(group_opt ?: ADMIN_GROUP_DEFAULT);
        if (gui_display && *gui_display && !strchr(gui_display, '\n')) {
                q->gui_display = strdup(gui_display);
                if (!q->gui_display)
                        return log_error_errno(-ENOMEM, "Out of memory");
        }
        if (!q->admin_group)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = resolve_admin_group(q, group_opt);
        if (r < 0)
                return r;

        q->admin_socket_path = daemon_runtime_path(admin_opt, "admin.sock");
        q->bus_socket_path = daemon_runtime_path(bus_opt, "bus.sock");
        q->db_path = daemon_state_path(db_opt, "qubes.db");
        /* The directories themselves: a path made from an empty name, trailing '/' dropped. */
        q->runtime_dir = daemon_runtime_path(NULL, "");
        q->state_dir = daemon_state_path(NULL, "");
        q->agents_dir = agents_opt ? strdup(agents_opt) : default_agents_dir();
        if (!q->admin_socket_path || !q->bus_socket_path || !q->db_path || !q->runtime_dir || !q->state_dir ||
            !q->agents_dir)
                return log_error_errno(-ENOMEM, "Out of memory");
        for (char *dir = q->runtime_dir; dir; dir = dir == q->runtime_dir ? q->state_dir : NULL) {
                size_t l = strlen(dir);
                while (l > 1 && dir[l - 1] == '/')
                        dir[--l] = '\0';
        }
        if (db_opt) {
                /* the state (domain directories) lives next to the database */
                char *slash = strrchr(q->db_path, '/');
                free(q->state_dir);
                q->state_dir = slash && slash != q->db_path ? strndup(q->db_path, (size_t) (slash - q->db_path))
                                                            : strdup(slash ? "/" : ".");
                if (!q->state_dir)
                        return log_error_errno(-ENOMEM, "Out of memory");
        }
        return 0;
}

static int qubesd_init(struct qubesd *q) {
        int r;

        r = mkdir_p(q->state_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s", q->state_dir);
        /* Forked first: no event loop, no database, no sockets to inherit. */
        r = worker_start(q->state_dir, &q->worker);
        if (r < 0)
                return log_error_errno(r, "Cannot start the file worker");
        q->launcher_config.runtime_dir = q->runtime_dir;
        r = gui_launch_open(q);
        if (r >= 0)
                r = mux_launch_open(q);
        if (r >= 0)
                r = launcher_open(q);
        if (r < 0)
                return r;
        r = daemon_event_new(&q->event);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the event loop");
        r = worker_attach_event(q->worker, q->event);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the file worker");

        r = store_open(q->db_path, &q->store);
        if (r < 0)
                return log_error_errno(r, "Cannot open the domain database %s", q->db_path);
        r = store_load(q->store, &q->set);
        if (r < 0)
                return log_error_errno(r, "Cannot load the domain database %s", q->db_path);
        for (size_t i = 0; i < q->set->n_domains; i++)
                if (q->set->domains[i]->klass == DOMAIN_ADMINVM)
                        q->set->domains[i]->state = POWER_RUNNING;
        log_info("Loaded %zu domains from %s", q->set->n_domains, q->db_path);

        /* The native backend forks its spawner: before the sandbox. */
        r = qubesd_backends_open(q);
        if (r < 0)
                return r;
        r = bus_link_connect(q, BUS_CONNECT_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = lifecycle_rediscover(q);
        if (r < 0)
                return r;
        dispvm_remove_leftovers(q);
        (void) admin_agent_setup(q);    /* without it only calls to the admin domain fail */
        r = admin_server_open(q);
        if (r < 0)
                return r;
        if (q->system_bus_mode != SYSTEM_BUS_NO) {
                r = admin_system_bus_open(q, q->system_bus_mode == SYSTEM_BUS_YES);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void qubesd_done(struct qubesd *q) {
        if (q->event) {
                domain_waiters_free(q);
                ask_relay_free(q);
        }
        admin_run_free(q);
        policy_link_free(q);
        admin_server_close(q);
        for (size_t i = 0; i <= DOMAIN_QID_MAX; i++)
                if (q->runs[i])
                        domain_run_free(q, q->runs[i]->domain);
        admin_agent_close(q);
        bus_link_close(q);
        /* Domains keep running: a restarted qubesd finds them again. */
        qubesd_backends_close(q);
        launcher_close(q);
        gui_launch_close(q);
        mux_launch_close(q);
        worker_free(q->worker);
        domain_set_free(q->set);
        store_close(q->store);
        for (size_t i = 0; i < q->n_reserved; i++)
                free(q->reserved_names[i]);
        free(q->reserved_names);
        sd_event_unref(q->event);
        free(q->admin_socket_path);
        free(q->bus_socket_path);
        free(q->db_path);
        free(q->runtime_dir);
        free(q->state_dir);
        free(q->agents_dir);
        free(q->admin_group);
}

int main(int argc, char *argv[]) {
        static struct qubesd q = {
                .admin_fd = -1,
                .launcher_fd = -1,
                .system_bus_mode = SYSTEM_BUS_AUTO,
                .spin_usec = DAEMON_SPIN_USEC_DEFAULT,
        };
        int r;

        log_setup("qubesd");
        r = parse_argv(&q, argc, argv);
        if (r != 0) {
                qubesd_done(&q);
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }

        r = qubesd_init(&q);
        if (r < 0)
                goto finish;
        r = apply_sandbox();
        if (r < 0) {
                log_error_errno(r, "Cannot apply the seccomp sandbox");
                goto finish;
        }
        lifecycle_autostart(&q);
        /* a policyd started before us learns the domains now (else: -EHOSTUNREACH, ignored) */
        policy_link_all_changed(&q);

        daemon_notify_ready("Serving the Admin API");
        r = daemon_event_loop(q.event, q.spin_usec);
        daemon_notify_stopping();
        if (r < 0)
                log_error_errno(r, "Event loop failed");
finish:
        qubesd_done(&q);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
