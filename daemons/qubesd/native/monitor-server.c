/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The monitor's socket: clients (qubesd), requests and events (monitor-protocol.h). */
#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "monitor.h"

static void client_free(struct monitor_client *c) {
        struct monitor *m = c->monitor;

        for (struct monitor_client **p = &m->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        sd_event_source_disable_unref(c->source);
        close(c->fd);
        free(c);
}

void monitor_free_clients(struct monitor *m) {
        while (m->clients)
                client_free(m->clients);
}

static void client_send(struct monitor_client *c, const char *message) {
        /* Tiny datagrams to a peer that reads them: a full queue means the
         * peer is stuck, and it is dropped rather than waited for. */
        if (send(c->fd, message, strlen(message), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_debug_errno(errno, "Cannot send '%s' to a client", message);
}

void monitor_broadcast(struct monitor *m, const char *message) {
        for (struct monitor_client *c = m->clients; c; c = c->next)
                client_send(c, message);
}

static void reply_result(struct monitor_client *c, int r) {
        char line[32];

        if (r < 0)
                snprintf(line, sizeof(line), "ERR %d", -r);
        else
                snprintf(line, sizeof(line), "OK");
        client_send(c, line);
}

static void handle_request(struct monitor_client *c, char *untrusted_line) {
        struct monitor *m = c->monitor;
        char reply[MONITOR_MSG_MAX], description[MONITOR_MSG_MAX - 64];
        uint32_t timeout;

        if (strcmp(untrusted_line, "STATE") == 0) {
                monitor_describe(m, description, sizeof(description));
                snprintf(reply, sizeof(reply), "OK %s %s", monitor_state_to_string(m->state), description);
                client_send(c, reply);
        } else if (strncmp(untrusted_line, "SHUTDOWN ", 9) == 0 && parse_uint32(untrusted_line + 9, &timeout) == 0)
                reply_result(c, monitor_shutdown(m, timeout));
        else if (strcmp(untrusted_line, "KILL") == 0)
                reply_result(c, monitor_kill(m));
        else if (strcmp(untrusted_line, "PAUSE") == 0)
                reply_result(c, monitor_pause(m, true));
        else if (strcmp(untrusted_line, "UNPAUSE") == 0)
                reply_result(c, monitor_pause(m, false));
        else if (strcmp(untrusted_line, "PSS") == 0) {
                uint64_t kb;
                int r = m->init_pid > 0 ? native_domain_pss_kb(getpid(), m->cgroup.procs_path, m->init_pid, &kb)
                                        : -ESRCH;
                if (r < 0)
                        reply_result(c, r);
                else {
                        snprintf(reply, sizeof(reply), "OK %" PRIu64, kb);
                        client_send(c, reply);
                }
        } else
                reply_result(c, -EINVAL);
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct monitor_client *c = userdata;
        char buf[MONITOR_MSG_MAX + 1];
        ssize_t n;

        n = recv(fd, buf, MONITOR_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0 || n > MONITOR_MSG_MAX || memchr(buf, '\0', (size_t) n)) {
                /* EOF, error or garbage: this client is gone. */
                client_free(c);
                return 0;
        }
        buf[n] = '\0';
        handle_request(c, buf);
        return 0;
}

int monitor_add_client(struct monitor *m, int fd) {
        struct monitor_client *c = calloc(1, sizeof(*c));
        int r;

        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->monitor = m;
        c->fd = fd;
        r = sd_event_add_io(m->event, &c->source, fd, EPOLLIN, on_client, c);
        if (r < 0) {
                close(fd);
                free(c);
                return log_error_errno(r, "Cannot watch a client");
        }
        c->next = m->clients;
        m->clients = c;
        return 0;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct monitor *m = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int client;

        client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0)
                return 0;
        /* The socket's mode says root only; check it anyway. */
        if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                log_warning("Refusing a client of uid %u", (unsigned) cred.uid);
                close(client);
                return 0;
        }
        (void) monitor_add_client(m, client);
        return 0;
}

int monitor_server_open(struct monitor *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        mode_t old_umask;
        int r;

        m->socket_path = path_join(m->dir, MONITOR_SOCKET);
        if (!m->socket_path)
                return -ENOMEM;
        if (strlen(m->socket_path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", m->socket_path);
        strcpy(sa.sun_path, m->socket_path);
        m->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (m->listen_fd < 0)
                return log_error_errno(errno, "Cannot create a socket");
        (void) unlink(m->socket_path);
        old_umask = umask(0177);
        r = bind(m->listen_fd, (const struct sockaddr *) &sa, sizeof(sa));
        umask(old_umask);
        if (r < 0 || listen(m->listen_fd, 64) < 0)
                return log_error_errno(errno, "Cannot listen on %s", m->socket_path);
        r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_listen, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch %s", m->socket_path);
        return 0;
}

void monitor_server_close(struct monitor *m) {
        m->listen_source = sd_event_source_disable_unref(m->listen_source);
        if (m->listen_fd >= 0) {
                close(m->listen_fd);
                m->listen_fd = -1;
                (void) unlink(m->socket_path);
                _cleanup_free_ char *pid_path = path_join(m->dir, MONITOR_PID);
                if (pid_path)
                        (void) unlink(pid_path);
        }
        free(m->socket_path);
        m->socket_path = NULL;
}
