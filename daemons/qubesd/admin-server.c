/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Admin API's transport: a private UNIX socket on which every accepted
 * connection becomes a peer-to-peer sd-bus server bus (no bus daemon), plus
 * optionally the name org.qubes.Admin1 on the system bus.  Only root and
 * members of the admin group (--admin-group, default qubes) are served on the
 * socket; anyone else gets AccessDenied for every call (the socket's mode
 * keeps them out in the first place).  On the system bus, the bus's policy
 * (systemd/org.qubes.Admin1.conf) decides who may call.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "qubesd.h"

static bool peer_is_allowed(struct qubesd *q, int fd, const struct ucred *cred) {
        gid_t groups[NGROUPS_MAX];
        socklen_t len = sizeof(groups);

        if (cred->uid == 0)
                return true;
        if (!q->have_admin_gid)
                return false;
        if (cred->gid == q->admin_gid)
                return true;
        /* The peer's supplementary groups as they were when it connected. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == q->admin_gid)
                        return true;
        return false;
}

static void client_free(struct admin_client *c) {
        if (!c)
                return;
        if (c->bus) {
                sd_bus_close_unref(c->bus);
                c->bus = NULL;
        }
        free(c);
}

static int on_client_reap(sd_event_source *s, void *userdata) {
        struct qubesd *q = userdata;

        while (q->dead_clients) {
                struct admin_client *c = q->dead_clients;
                q->dead_clients = c->next;
                client_free(c);
        }
        return 0;
}

static int on_client_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct admin_client *c = userdata;
        struct qubesd *q = c->q;

        for (struct admin_client **p = &q->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        q->n_clients--;
                        break;
                }
        log_debug("Admin client (pid %d, uid %u) disconnected", (int) c->pid, (unsigned) c->uid);
        ask_relay_bus_gone(q, c->bus);
        /* Not here: the bus is dispatching this very message. */
        (void) sd_bus_detach_event(c->bus);
        c->next = q->dead_clients;
        q->dead_clients = c;
        (void) sd_event_source_set_enabled(q->client_reaper, SD_EVENT_ONESHOT);
        return 0;
}

/* A peer outside the admin group: every call is refused, whatever it names. */
static int on_denied_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct admin_client *c = userdata;

        if (sd_bus_message_is_method_call(m, NULL, NULL) <= 0)
                return 0;
        log_notice("Refusing %s.%s from uid %u (pid %d): neither root nor in group %s",
                   (sd_bus_message_get_interface(m) ?: "?"), (sd_bus_message_get_member(m) ?: "?"),
                   (unsigned) c->uid, (int) c->pid, c->q->admin_group);
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
                                          "Access denied: uid %u is neither root nor in group %s",
                                          (unsigned) c->uid, c->q->admin_group);
        return 1;
}

/* Clients written for a bus (busctl --address=...) say Hello first and want
 * a unique name back; a peer-to-peer server has none to give, so it makes one up. */
static int method_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct admin_client *c = userdata;
        char name[64];

        snprintf(name, sizeof(name), ":1.%d", (int) c->pid);
        return sd_bus_reply_method_return(m, "s", name);
}

static const sd_bus_vtable hello_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hello", "", "s", method_hello, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int admin_attach_objects(struct qubesd *q, sd_bus *bus) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, ADMIN_PATH_MANAGER, ADMIN_INTERFACE_MANAGER, admin_manager_vtable, q);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, ADMIN_PATH_DOMAINS, ADMIN_INTERFACE_DOMAIN,
                                               admin_domain_vtable(), admin_domain_find, q);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, ADMIN_PATH_DOMAINS, admin_domain_enumerate, q);
        if (r >= 0)
                r = sd_bus_add_object_manager(bus, NULL, ADMIN_PATH_MANAGER);
        return r;
}

static int client_new(struct qubesd *q, int fd) {
        _cleanup_close_ int cfd = fd;
        struct admin_client *c;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int r;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return log_warning_errno(errno, "Cannot read the credentials of an Admin API client");
        if (q->n_clients >= QUBESD_MAX_CLIENTS) {
                log_warning("Refusing an Admin API client (pid %d): %d clients already", (int) cred.pid,
                            QUBESD_MAX_CLIENTS);
                return -EMFILE;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct admin_client) { .q = q, .uid = cred.uid, .pid = cred.pid };
        c->allowed = peer_is_allowed(q, cfd, &cred);

        r = sd_bus_new(&c->bus);
        if (r >= 0)
                r = sd_bus_set_fd(c->bus, cfd, cfd);
        if (r >= 0) {
                TAKE_FD(cfd);
                r = sd_bus_set_server(c->bus, 1, q->server_id);
        }
        if (r >= 0)
                r = sd_bus_set_description(c->bus, "admin-client");
        if (r >= 0)
                r = sd_bus_start(c->bus);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, q->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, NULL, NULL, "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_client_disconnected, c);
        if (r >= 0) {
                if (c->allowed)
                        r = admin_attach_objects(q, c->bus);
                if (r >= 0 && c->allowed)
                        r = sd_bus_add_object_vtable(c->bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                     hello_vtable, c);
                else
                        r = sd_bus_add_filter(c->bus, NULL, on_denied_message, c);
        }
        if (r < 0) {
                client_free(c);
                return log_warning_errno(r, "Cannot set up the bus of an Admin API client (pid %d)", (int) cred.pid);
        }
        c->next = q->clients;
        q->clients = c;
        q->n_clients++;
        log_debug("Admin client connected: pid %d, uid %u%s", (int) cred.pid, (unsigned) cred.uid,
                  c->allowed ? "" : " (not allowed)");
        return 0;
}

static int on_admin_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct qubesd *q = userdata;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "accept() on the admin socket failed");
                        return 0;
                }
                (void) client_new(q, cfd);
        }
}

int admin_server_open(struct qubesd *q) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        r = admin_domain_vtable_build();
        if (r < 0)
                return log_error_errno(r, "Cannot build the domain interface from the property table");
        r = sd_id128_randomize(&q->server_id);
        if (r < 0)
                return log_error_errno(r, "Cannot make a server id");
        if (strlen(q->admin_socket_path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "Admin socket path too long: %s", q->admin_socket_path);
        strcpy(sa.sun_path, q->admin_socket_path);
        q->admin_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (q->admin_fd < 0)
                return log_error_errno(errno, "Cannot create the admin socket");
        (void) unlink(q->admin_socket_path);
        /* Created with no access, opened up once owner and mode are right. */
        mode_t old = umask(0777);
        r = bind(q->admin_fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Cannot bind %s", q->admin_socket_path);
        if (q->have_admin_gid && chown(q->admin_socket_path, 0, q->admin_gid) < 0)
                return log_error_errno(errno, "Cannot give %s to group %s", q->admin_socket_path, q->admin_group);
        if (chmod(q->admin_socket_path, 0660) < 0)
                return log_error_errno(errno, "Cannot set the mode of %s", q->admin_socket_path);
        if (listen(q->admin_fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Cannot listen on %s", q->admin_socket_path);

        r = sd_event_add_io(q->event, &q->admin_source, q->admin_fd, EPOLLIN, on_admin_accept, q);
        if (r >= 0)
                r = sd_event_add_defer(q->event, &q->client_reaper, on_client_reap, q);
        if (r >= 0)
                r = sd_event_source_set_enabled(q->client_reaper, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the admin socket");
        log_info("Admin API on unix:path=%s (%s %s)", q->admin_socket_path,
                 q->have_admin_gid ? "root and group" : "root only: no group", q->admin_group);
        return 0;
}

void admin_server_close(struct qubesd *q) {
        while (q->clients) {
                struct admin_client *c = q->clients;
                q->clients = c->next;
                client_free(c);
        }
        q->n_clients = 0;
        (void) on_client_reap(NULL, q);
        q->client_reaper = sd_event_source_disable_unref(q->client_reaper);
        q->admin_source = sd_event_source_disable_unref(q->admin_source);
        if (q->admin_fd >= 0) {
                close(q->admin_fd);
                q->admin_fd = -1;
                (void) unlink(q->admin_socket_path);
        }
        if (q->system_bus)
                q->system_bus = sd_bus_flush_close_unref(q->system_bus);
}

/* The system bus is optional unless required: most dev stacks have none,
 * and qubesd serves its private socket either way. */
int admin_system_bus_open(struct qubesd *q, bool required) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        /* $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                if (required)
                        return log_error_errno(r, "Cannot connect to the system bus (--system-bus=yes)");
                log_info_errno(r, "No system bus; serving the private socket only");
                return 0;
        }
        r = admin_attach_objects(q, bus);
        if (r >= 0)
                r = sd_bus_request_name(bus, ADMIN_BUS_NAME, 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, q->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                if (required)
                        return log_error_errno(r, "Cannot serve %s on the system bus (policy file installed?)",
                                               ADMIN_BUS_NAME);
                log_warning_errno(r, "Cannot serve %s on the system bus (policy file installed?)", ADMIN_BUS_NAME);
                return 0;
        }
        log_info("Serving %s on the system bus", ADMIN_BUS_NAME);
        q->system_bus = TAKE_PTR(bus);
        return 0;
}
