/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts to reach what lives outside the domain: another domain's private
 * volume, the admin X display, the Admin API and busd sockets (by path and
 * as abstract sockets, which are per network namespace), a TCP port on the
 * host's loopback, and the host's namespaces themselves.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "escape.h"

static void try_other_volume(const char *path) {
        char name[64];
        struct stat st;

        snprintf(name, sizeof(name), "other-volume");
        if (stat(path, &st) < 0) {
                escape_expect_refused(name, -1, errno, (const int[]) { ENOENT, EACCES, EPERM, 0 });
                return;
        }
        /* Visible at all is already a leak; readable is worse. */
        DIR *d = opendir(path);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)) && de->d_name[0] == '.')
                        ;
                escape_escaped(name, "%s is visible and listable (%s)", path, de ? de->d_name : "empty");
                closedir(d);
                return;
        }
        escape_escaped(name, "%s is visible (%s)", path, strerrorname_np(errno));
}

/* connect() to a stream socket by path, or in the abstract namespace under
 * the same name (as X clients try "@/tmp/.X11-unix/X0" first). */
static void try_connect_unix(const char *name, const char *path, bool abstract) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(path);

        if (len + 1 >= sizeof(sa.sun_path)) {
                escape_escaped(name, "path too long for this battery: %s", path);
                return;
        }
        memcpy(sa.sun_path + (abstract ? 1 : 0), path, len);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                escape_escaped(name, "cannot even make an AF_UNIX socket (%s): the battery is broken",
                               strerrorname_np(errno));
                return;
        }
        socklen_t sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
        int r = connect(fd, (struct sockaddr *) &sa, sa_len);
        int err = errno;
        close(fd);
        if (r == 0)
                escape_escaped(name, "connected to %s%s", abstract ? "@" : "", path);
        else
                escape_expect_refused(name, -1, err, (const int[]) { ENOENT, ECONNREFUSED, EACCES, EPERM, 0 });
}

static void try_host_loopback(int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0) {
                escape_escaped("host-loopback-tcp", "cannot even make a TCP socket (%s): the battery is broken",
                               strerrorname_np(errno));
                return;
        }
        int r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
        int err = errno;
        close(fd);
        if (r == 0)
                escape_escaped("host-loopback-tcp", "connected to the host's 127.0.0.1:%d", port);
        else
                escape_expect_refused("host-loopback-tcp", -1, err,
                                      (const int[]) { ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, 0 });
}

/* The domain's own namespaces must all differ from the host's. */
static void try_host_namespaces(const struct escape_config *c) {
        char shared[256] = "";

        for (size_t i = 0; i < c->n_host_namespaces; i++) {
                const char *host = c->host_namespaces[i];
                char path[64], own[64];
                size_t type_len = strcspn(host, ":");

                snprintf(path, sizeof(path), "/proc/self/ns/%.*s", (int) type_len, host);
                ssize_t n = readlink(path, own, sizeof(own) - 1);
                if (n < 0)
                        continue;
                own[n] = '\0';
                if (strcmp(own, host) == 0) {
                        escape_append(shared, sizeof(shared), " %s", own);
                }
        }
        if (shared[0])
                escape_escaped("host-namespaces", "shares the host's namespaces:%s", shared);
        else
                escape_blocked("host-namespaces", "none of %zu host namespaces is shared", c->n_host_namespaces);
}

void escape_run_reach(const struct escape_config *c) {
        static const struct {
                const char *name;
                size_t offset;
        } sockets[] = {
                { "display", offsetof(struct escape_config, display_socket) },
                { "admin-api", offsetof(struct escape_config, admin_socket) },
                { "busd", offsetof(struct escape_config, bus_socket) },
        };

        for (size_t i = 0; i < c->n_other_volumes; i++)
                try_other_volume(c->other_volumes[i]);

        for (size_t i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++) {
                const char *path = *(const char *const *) ((const char *) c + sockets[i].offset);
                char name[64];

                snprintf(name, sizeof(name), "reach-%s", sockets[i].name);
                try_connect_unix(name, path, false);
                snprintf(name, sizeof(name), "reach-%s-abstract", sockets[i].name);
                try_connect_unix(name, path, true);
        }
        /* The usual display too, whatever the test passed. */
        if (strcmp(c->display_socket, "/tmp/.X11-unix/X0") != 0) {
                try_connect_unix("reach-display-x0", "/tmp/.X11-unix/X0", false);
                try_connect_unix("reach-display-x0-abstract", "/tmp/.X11-unix/X0", true);
        }

        if (c->host_tcp_port > 0)
                try_host_loopback(c->host_tcp_port);
        if (c->n_host_namespaces > 0)
                try_host_namespaces(c);
}
