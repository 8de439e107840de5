/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Service requests: the command line, the lookup on the service path, the
 * rpc-config subset (the environment and the spawn: service-spawn.c).
 * Everything here runs in the per-connection process, never in the agent's
 * loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"
#include "util.h"

#define DEFAULT_SERVICE_PATH "/run/qubes-rpc:/usr/local/etc/qubes-rpc:/etc/qubes-rpc"
#define DEFAULT_CONFIG_PATH  "/run/qubes/rpc-config:/usr/local/etc/qubes/rpc-config:/etc/qubes/rpc-config"
#define CONFIG_MAX           (64 * 1024)
#define SERVICE_NAME_MAX     255        /* NAME_MAX: a file name */

bool user_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > AGENT_USER_MAX)
                return false;
        if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(name[i] == '_' || name[i] == '-' || (name[i] >= 'a' && name[i] <= 'z') ||
                      (name[i] >= '0' && name[i] <= '9')))
                        return false;
        return true;
}

void service_request_done(struct service_request *req) {
        free(req->buffer);
        *req = (struct service_request) {};
}

static struct {
        char user[AGENT_USER_MAX + 1];
        char home[PATH_MAX];
} admin;

void service_set_admin(const char *user, const char *home) {
        snprintf(admin.user, sizeof(admin.user), "%s", user);
        snprintf(admin.home, sizeof(admin.home), "%s", home);
}

bool service_is_admin(void) {
        return admin.user[0] != '\0';
}

const char *service_admin_home(void) {
        return admin.home;
}

/* The admin domain's tokens 3 and 4 of "SOURCE name|keyword TARGET". */
static int parse_admin_target(char *rest, struct service_request *req) {
        char *space = strchr(rest, ' ');

        if (!space)
                return -EINVAL;
        *space = '\0';
        if (strcmp(rest, "name") != 0 && strcmp(rest, "keyword") != 0)
                return -EINVAL;
        req->target_type = rest;
        req->target = space + 1;
        if (!*req->target || strchr(req->target, ' '))
                return -EINVAL;
        return 0;
}

int service_request_parse(const char *untrusted_cmdline, struct service_request *ret) {
        struct service_request req = {};
        const char *colon = strchr(untrusted_cmdline, ':'), *rest;
        char *p, *space;

        if (!colon || (size_t) (colon - untrusted_cmdline) > AGENT_USER_MAX)
                return -EINVAL;
        memcpy(req.user, untrusted_cmdline, (size_t) (colon - untrusted_cmdline));
        if (service_is_admin()) {
                /* Qubes' dom0 takes DEFAULT only; services run as the agent's user. */
                if (strcmp(req.user, "DEFAULT") != 0 && strcmp(req.user, admin.user) != 0)
                        return -EINVAL;
                snprintf(req.user, sizeof(req.user), "%s", admin.user);
        } else if (!user_name_valid(req.user))
                return -EINVAL;
        rest = colon + 1;
        if (strncmp(rest, "nogui:", 6) == 0) {
                req.nogui = true;
                rest += 6;
        }
        if (strncmp(rest, "QUBESRPC", 8) != 0 || (rest[8] != ' ' && rest[8] != '\0')) {
                /* The admin domain runs services, never a command a domain names. */
                if (!*rest || service_is_admin())
                        return -EINVAL;
                req.command = rest;
                *ret = req;
                return 0;
        }

        /* "QUBESRPC SERVICE+ARG SOURCE": exactly one space after QUBESRPC;
         * tokens 3 and 4 (dom0 only) are not for domains. */
        req.rpc = true;
        req.buffer = strdup(rest + 8 + (rest[8] == ' '));
        if (!req.buffer)
                return -ENOMEM;
        p = req.buffer;
        space = strchr(p, ' ');
        if (!space || space == p)
                goto invalid;
        *space = '\0';
        req.descriptor = p;
        req.source = space + 1;
        space = strchr(req.source, ' ');
        if (space && service_is_admin()) {
                *space = '\0';
                if (parse_admin_target(space + 1, &req) < 0)
                        goto invalid;
        }
        if (!*req.source || strchr(req.source, ' ') || strlen(req.descriptor) > 65000)
                goto invalid;
        req.service = strdup(req.descriptor);
        if (!req.service) {
                free(req.buffer);
                return -ENOMEM;
        }
        p = strchr(req.service, '+');
        if (p) {
                *p = '\0';
                req.argument = req.descriptor + (p - req.service) + 1;
        }
        if (!*req.service || strlen(req.service) > SERVICE_NAME_MAX || strchr(req.service, '/') ||
            strcmp(req.service, ".") == 0 || strcmp(req.service, "..") == 0 ||
            (req.argument && strchr(req.argument, '/'))) {
                free(req.service);
                goto invalid;
        }
        *ret = req;
        return 0;

invalid:
        free(req.buffer);
        return -EINVAL;
}

/* One pass along `path` (':'-separated) then own_dir, for file `name`.
 * 1 found, 0 not, -errno on a lookup error. */
static int find_in_path(const char *path, const char *own_dir, const char *name, char **ret) {
        _cleanup_free_ char *copy = strdup(path);
        char *saveptr = NULL;
        struct stat st;
        bool own_done = false;

        if (!copy)
                return -ENOMEM;
        for (char *dir = strtok_r(copy, ":", &saveptr);; dir = strtok_r(NULL, ":", &saveptr)) {
                _cleanup_free_ char *full = NULL;

                if (!dir) {
                        if (own_done || !own_dir)
                                return 0;
                        dir = (char *) own_dir;
                        own_done = true;
                }
                if (asprintf(&full, "%s/%s", dir, name) < 0)
                        return -ENOMEM;
                if (lstat(full, &st) < 0) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return -errno;
                }
                *ret = TAKE_PTR(full);
                return 1;
        }
}

/* SERVICE+ARG along the whole path first, then SERVICE. */
static int find_two_pass(const struct service_request *req, const char *path, const char *own_dir,
                         char **ret) {
        int r;

        if (strlen(req->descriptor) <= SERVICE_NAME_MAX && req->argument) {
                r = find_in_path(path, own_dir, req->descriptor, ret);
                if (r != 0)
                        return r;
        }
        return find_in_path(path, own_dir, req->service, ret);
}

int service_lookup(const struct service_request *req, const char *own_dir, char **ret_path,
                   enum service_kind *ret_kind) {
        const char *path = getenv("QREXEC_SERVICE_PATH");
        _cleanup_free_ char *found = NULL;
        struct stat st;
        int r;

        if (!path || !*path)
                path = DEFAULT_SERVICE_PATH;
        r = find_two_pass(req, path, own_dir, &found);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (stat(found, &st) < 0)
                return errno == ENOENT ? -ENOENT : -errno;     /* a dangling link: not there */
        if (S_ISSOCK(st.st_mode))
                *ret_kind = SERVICE_SOCKET;
        else if (S_ISREG(st.st_mode) && access(found, X_OK) == 0)
                *ret_kind = SERVICE_EXECUTABLE;
        else
                return -EACCES;
        *ret_path = TAKE_PTR(found);
        return 0;
}

static char *strip(char *s) {
        char *end;

        while (*s == ' ' || *s == '\t')
                s++;
        end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                *--end = '\0';
        return s;
}

static int parse_bool(const char *value, bool *ret) {
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                *ret = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* Qubes' TOML subset: `key = value`, '#' comments, booleans, 'strings',
 * integers; no sections, no double quotes; a duplicate key or a wrong type
 * makes the whole file invalid; unknown keys are ignored. */
int service_config_parse(const char *text, struct service_config *ret) {
        static const char *const keys[] = {
                "wait-for-session", "skip-service-descriptor", "exit-on-client-eof",
                "exit-on-service-eof", "force-user",
        };
        struct service_config c = {};
        bool seen[ELEMENTSOF(keys)] = {};
        _cleanup_free_ char *copy = strdup(text);
        char *saveptr = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *eq, *key, *value;
                size_t k;

                line = strip(line);
                if (!*line || *line == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        return -EINVAL;
                *eq = '\0';
                key = strip(line);
                value = strip(eq + 1);
                if (*value != '\'') {
                        char *hash = strchr(value, '#');

                        if (hash) {
                                *hash = '\0';
                                value = strip(value);
                        }
                }
                if (!*key || !*value)
                        return -EINVAL;
                for (k = 0; k < ELEMENTSOF(keys); k++)
                        if (strcmp(key, keys[k]) == 0)
                                break;
                if (k == ELEMENTSOF(keys))
                        continue;               /* unknown: ignored */
                if (seen[k])
                        return -EINVAL;
                seen[k] = true;

                if (k == 4) {
                        size_t n = strlen(value);

                        if (n < 2 || value[0] != '\'' || value[n - 1] != '\'' || n - 2 > AGENT_USER_MAX)
                                return -EINVAL;
                        memcpy(c.force_user, value + 1, n - 2);
                        c.force_user[n - 2] = '\0';
                        if (!user_name_valid(c.force_user))
                                return -EINVAL;
                        continue;
                }
                bool *target[] = { &c.wait_for_session, &c.skip_service_descriptor, &c.exit_on_client_eof,
                                   &c.exit_on_service_eof };
                if (parse_bool(value, target[k]) < 0)
                        return -EINVAL;
        }
        /* force-user is for executables; the other three for sockets. */
        if (c.force_user[0] && (c.skip_service_descriptor || c.exit_on_client_eof || c.exit_on_service_eof))
                return -EINVAL;
        *ret = c;
        return 0;
}

int service_config_load(const struct service_request *req, struct service_config *ret) {
        const char *path = getenv("QUBES_RPC_CONFIG_PATH");
        _cleanup_free_ char *found = NULL, *text = NULL;
        _cleanup_close_ int fd = -1;
        ssize_t n;
        int r;

        *ret = (struct service_config) {};
        if (!path || !*path)
                path = DEFAULT_CONFIG_PATH;
        r = find_two_pass(req, path, NULL, &found);
        if (r <= 0)
                return r;
        fd = open(found, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        text = malloc(CONFIG_MAX + 1);
        if (!text)
                return -ENOMEM;
        n = read(fd, text, CONFIG_MAX + 1);
        if (n < 0)
                return -errno;
        if (n > CONFIG_MAX || memchr(text, '\0', (size_t) n))
                return -EINVAL;
        text[n] = '\0';
        return service_config_parse(text, ret);
}
