/* SPDX-License-Identifier: GPL-2.0-or-later */
/* odyssey-stack: which daemons a stack runs, as which uid, with which arguments. */
#include <dirent.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "stack.h"

#ifndef ODYSSEY_SRCDIR
#  define ODYSSEY_SRCDIR "."
#endif

/* The daemons of Odyssey, in start order (busd first: the others connect to it).
 * A daemon whose program is not built is skipped.  Add each daemon here as it
 * lands in the tree. */
static const struct {
        const char *name;
        const char *program;    /* relative to the build directory */
        enum bus_role role;
} stack_builtin_daemons[] = {
        { "busd", "daemons/busd/busd", BUS_ROLE_BUSD },
        { "qubesd", "daemons/qubesd/qubesd", BUS_ROLE_QUBESD },
        { "qrexec-policyd", "daemons/qrexec-policyd/qrexec-policyd", BUS_ROLE_POLICYD },
        /* The admin domain's qrexec agent: for busd the channel of domain 0, a
         * guest's; it runs the services domains call in the admin domain. */
        { "admin-agent", "agents/bin/qrexec-agent", BUS_ROLE_GUEST },
};

/* The one place that says which uid a role runs as: qubesd is root (it
 * drives the isolation backends), every other role r is uid_base + r.
 * busd gets this whole table on its command line. */
uid_t stack_role_uid(const struct stack *s, enum bus_role role) {
        if (role == BUS_ROLE_QUBESD)
                return 0;
        return s->uid_base + (uid_t) role;
}

/* Capabilities a role keeps under its own uid (the same as its systemd unit's
 * AmbientCapabilities=): busd links a domain's data socket, which another
 * domain owns, into the peer domain's vchan dir, and the kernel's
 * protected_hardlinks lets only the owner or CAP_FOWNER link a socket. */
uint64_t stack_role_ambient_caps(enum bus_role role) {
        return role == BUS_ROLE_BUSD ? UINT64_C(1) << CAP_FOWNER : 0;
}

uid_t stack_daemon_uid(const struct stack *s, const struct stack_daemon *d) {
        return d->role == _BUS_ROLE_INVALID ? getuid() : stack_role_uid(s, d->role);
}

static bool role_runs_as_daemon(enum bus_role role) {
        return role == BUS_ROLE_BUSD || (role >= 0 && (BUS_ROLE_DAEMONS_MASK & (1u << role)));
}

void stack_strv_free(char **strv) {
        for (char **p = strv; p && *p; p++)
                free(*p);
        free(strv);
}

static void daemon_done(struct stack_daemon *d) {
        free(d->name);
        free(d->program);
        stack_strv_free(d->args);
}

static struct stack_daemon *stack_append(struct stack *s, const char *name, const char *program,
                                         enum bus_role role) {
        struct stack_daemon *grown = reallocarray(s->daemons, s->n_daemons + 1, sizeof(*grown));
        if (!grown)
                return NULL;
        s->daemons = grown;

        struct stack_daemon *d = &s->daemons[s->n_daemons];
        *d = (struct stack_daemon) { .role = role, .selected = true };
        d->name = strdup(name);
        d->program = strdup(program);
        d->args = calloc(1, sizeof(char *));
        if (!d->name || !d->program || !d->args) {
                daemon_done(d);
                return NULL;
        }
        s->n_daemons++;
        return d;
}

int stack_init(struct stack *s) {
        const char *base = getenv("ODYSSEY_UID_BASE");
        uint32_t parsed;

        *s = (struct stack) {
                .uid_base = STACK_UID_BASE_DEFAULT,
                .start_timeout_usec = STACK_START_TIMEOUT_USEC,
                .stop_timeout_usec = STACK_STOP_TIMEOUT_USEC,
        };
        if (base && *base) {
                if (parse_uint32(base, &parsed) < 0 || parsed == 0 || parsed > UINT32_MAX - _BUS_ROLE_MAX)
                        return log_error_errno(EINVAL, "Invalid $ODYSSEY_UID_BASE '%s'", base);
                s->uid_base = parsed;
        }
        s->build_dir = strdup(ODYSSEY_BUILDDIR);
        if (!s->build_dir)
                return log_error_errno(ENOMEM, "Out of memory");
        for (size_t i = 0; i < ELEMENTSOF(stack_builtin_daemons); i++) {
                struct stack_daemon *d = stack_append(s, stack_builtin_daemons[i].name,
                                                      stack_builtin_daemons[i].program,
                                                      stack_builtin_daemons[i].role);
                if (!d)
                        return log_error_errno(ENOMEM, "Out of memory");
                d->builtin = true;
        }
        return 0;
}

void stack_done(struct stack *s) {
        for (size_t i = 0; i < s->n_daemons; i++)
                daemon_done(&s->daemons[i]);
        free(s->daemons);
        free(s->root);
        free(s->build_dir);
        free(s->run_dir);
        free(s->state_dir);
        free(s->log_dir);
        free(s->notify_path);
        free(s->pids_path);
        free(s->keeper_path);
        free(s->roles_path);
}

int stack_set_root(struct stack *s, const char *root) {
        _cleanup_free_ char *absolute = NULL;
        struct sockaddr_un sa;

        if (!root || !*root)
                return log_error_errno(EINVAL, "--root needs a directory");
        if (root[0] == '/')
                absolute = strdup(root);
        else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return log_error_errno(errno, "Cannot read the current directory");
                absolute = path_join(cwd, root);
        }
        if (!absolute)
                return log_error_errno(ENOMEM, "Out of memory");
        for (size_t l = strlen(absolute); l > 1 && absolute[l - 1] == '/'; l--)
                absolute[l - 1] = '\0';
        /* One spelling per directory: stack.pids and the daemons' environment
         * are compared with paths made from it. */
        char *canonical = realpath(absolute, NULL);
        if (canonical) {
                free(absolute);
                absolute = canonical;
        }
        /* Paths go into the environment, a D-Bus address and stack.pids lines. */
        if (strpbrk(absolute, "\n\r\t ;'\"\\$`"))
                return log_error_errno(EINVAL, "Refusing root '%s': no whitespace or shell quoting characters, please", root);

        free(s->root);
        free(s->run_dir);
        free(s->state_dir);
        free(s->log_dir);
        free(s->notify_path);
        free(s->pids_path);
        free(s->keeper_path);
        free(s->roles_path);
        s->root = TAKE_PTR(absolute);
        s->run_dir = path_join(s->root, "run");
        s->state_dir = path_join(s->root, "state");
        s->log_dir = path_join(s->root, "log");
        if (!s->run_dir || !s->state_dir || !s->log_dir)
                return log_error_errno(ENOMEM, "Out of memory");
        s->notify_path = path_join(s->run_dir, "notify.sock");
        s->pids_path = path_join(s->run_dir, "stack.pids");
        s->keeper_path = path_join(s->run_dir, "keeper.pid");
        s->roles_path = path_join(s->run_dir, "roles");
        if (!s->notify_path || !s->pids_path || !s->keeper_path || !s->roles_path)
                return log_error_errno(ENOMEM, "Out of memory");
        /* Every socket of the stack lives in run/; the longest name is admin.sock/notify.sock. */
        if (strlen(s->notify_path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Root '%s' is too long for UNIX socket paths under it", s->root);
        return 0;
}

static bool name_is_valid(const char *name, size_t len) {
        if (len == 0 || len >= sizeof(((struct stack_entry *) NULL)->name))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", name[i]))
                        return false;
        return true;
}

struct stack_daemon *stack_find(struct stack *s, const char *name) {
        for (size_t i = 0; i < s->n_daemons; i++)
                if (strcmp(s->daemons[i].name, name) == 0)
                        return &s->daemons[i];
        return NULL;
}

int stack_add_daemon(struct stack *s, const char *spec) {
        const char *eq = strchr(spec, '='), *colon;
        _cleanup_free_ char *name = NULL, *program = NULL;
        enum bus_role role = _BUS_ROLE_INVALID;
        bool role_given = false;

        if (!eq || !name_is_valid(spec, (size_t) (eq - spec)))
                return log_error_errno(EINVAL, "--daemon wants NAME=PATH[:ROLE] with NAME of letters, digits, '-' and '_', not '%s'", spec);
        name = strndup(spec, (size_t) (eq - spec));
        colon = strrchr(eq + 1, ':');
        if (colon) {
                role = bus_role_from_string(colon + 1);
                if (!role_runs_as_daemon(role))
                        return log_error_errno(EINVAL, "Unknown role '%s' in --daemon %s (roles: busd, qubesd, qrexec-policyd, guid, netvm-mgr, usbvm-mgr, stubdom-qemu-mgr)", colon + 1, spec);
                role_given = true;
                program = strndup(eq + 1, (size_t) (colon - eq - 1));
        } else
                program = strdup(eq + 1);
        if (!name || !program)
                return log_error_errno(ENOMEM, "Out of memory");
        if (!*program)
                return log_error_errno(EINVAL, "--daemon %s has no program path", spec);

        /* Replacing a known daemon keeps its role unless another is given. */
        struct stack_daemon *d = stack_find(s, name);
        if (d) {
                free(d->program);
                d->program = TAKE_PTR(program);
                d->builtin = false;     /* a program asked for by path must exist */
                if (role_given)
                        d->role = role;
                return 0;
        }
        if (!stack_append(s, name, program, role))
                return log_error_errno(ENOMEM, "Out of memory");
        return 0;
}

int stack_add_arg(struct stack *s, const char *spec) {
        const char *eq = strchr(spec, '=');
        _cleanup_free_ char *name = NULL;

        if (!eq)
                return log_error_errno(EINVAL, "--arg wants NAME=ARGUMENT, not '%s'", spec);
        name = strndup(spec, (size_t) (eq - spec));
        if (!name)
                return log_error_errno(ENOMEM, "Out of memory");
        struct stack_daemon *d = stack_find(s, name);
        if (!d)
                return log_error_errno(EINVAL, "--arg for unknown daemon '%s' (add it with --daemon first)", name);

        char **grown = reallocarray(d->args, d->n_args + 2, sizeof(char *));
        if (!grown)
                return log_error_errno(ENOMEM, "Out of memory");
        d->args = grown;
        d->args[d->n_args] = strdup(eq + 1);
        if (!d->args[d->n_args])
                return log_error_errno(ENOMEM, "Out of memory");
        d->args[++d->n_args] = NULL;
        return 0;
}

int stack_select(struct stack *s, const char *names) {
        _cleanup_free_ char *copy = strdup(names);
        char *saveptr = NULL;

        if (!copy)
                return log_error_errno(ENOMEM, "Out of memory");
        for (size_t i = 0; i < s->n_daemons; i++)
                s->daemons[i].selected = false;
        for (char *name = strtok_r(copy, ", ", &saveptr); name; name = strtok_r(NULL, ", ", &saveptr)) {
                struct stack_daemon *d = stack_find(s, name);
                if (!d)
                        return log_error_errno(EINVAL, "--only: unknown daemon '%s'", name);
                d->selected = true;
        }
        return 0;
}

char *stack_program_path(const struct stack *s, const struct stack_daemon *d) {
        return d->program[0] == '/' ? strdup(d->program) : path_join(s->build_dir, d->program);
}

char **stack_daemon_argv(const struct stack *s, const struct stack_daemon *d) {
        size_t n = 0, max = 1 + 2 * _BUS_ROLE_MAX + 4 + d->n_args + 1;
        char **argv = calloc(max, sizeof(char *));

        if (!argv)
                return NULL;
        argv[n++] = stack_program_path(s, d);
        if (!argv[0])
                goto fail;
        /* busd authenticates daemons by uid: it gets the table the others run under. */
        if (d->role == BUS_ROLE_BUSD)
                for (enum bus_role role = 0; role < _BUS_ROLE_MAX; role++) {
                        if (!(BUS_ROLE_DAEMONS_MASK & (1u << role)))
                                continue;
                        argv[n++] = strdup("--role-uid");
                        if (asprintf(&argv[n++], "%s=%u", bus_role_to_string(role),
                                     (unsigned) stack_role_uid(s, role)) < 0)
                                argv[n - 1] = NULL;
                        if (!argv[n - 2] || !argv[n - 1])
                                goto fail;
                }
        /* qrexec-policyd: the stack's policy directory, and its socket in a
         * directory of its own (run/ is not its to write; run/policy.sock
         * is a link to it). */
        if (d->role == BUS_ROLE_POLICYD) {
                argv[n++] = strdup("--policy-dir");
                argv[n++] = path_join(s->root, "etc/policy.d");
                argv[n++] = strdup("--policy-socket");
                argv[n++] = path_join(s->run_dir, "policyd/policy.sock");
                if (!argv[n - 4] || !argv[n - 3] || !argv[n - 2] || !argv[n - 1])
                        goto fail;
        }
        /* The admin agent: the stack's own services (ROOT/etc/qubes-rpc), then
         * the ones Odyssey ships for the admin domain. */
        if (d->role == BUS_ROLE_GUEST) {
                argv[n++] = strdup("--admin");
                if (asprintf(&argv[n++], "--service-path=%s/etc/qubes-rpc:%s/agents/admin-rpc", s->root,
                             ODYSSEY_SRCDIR) < 0)
                        argv[n - 1] = NULL;
                if (!argv[n - 2] || !argv[n - 1])
                        goto fail;
        }
        for (size_t i = 0; i < d->n_args; i++)
                if (!(argv[n++] = strdup(d->args[i])))
                        goto fail;
        return argv;

fail:
        for (size_t i = 0; i < max; i++)
                free(argv[i]);
        free(argv);
        return NULL;
}

/* run/roles: "uid ROLE UID" per role, for scripts that act as a role. */
int stack_write_roles(const struct stack *s) {
        _cleanup_free_ char *tmp = NULL;
        FILE *f;

        if (asprintf(&tmp, "%s.tmp", s->roles_path) < 0)
                return log_error_errno(ENOMEM, "Out of memory");
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create %s", tmp);
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return log_error_errno(errno, "Cannot create %s", tmp);
        }
        for (enum bus_role role = 0; role < _BUS_ROLE_MAX; role++)
                if (role_runs_as_daemon(role))
                        fprintf(f, "uid %s %u\n", bus_role_to_string(role), (unsigned) stack_role_uid(s, role));
        fprintf(f, "uid admin-agent %u\n", (unsigned) stack_role_uid(s, BUS_ROLE_GUEST));
        if (fclose(f) != 0)
                return log_error_errno(errno, "Cannot write %s", tmp);
        if (rename(tmp, s->roles_path) < 0)
                return log_error_errno(errno, "Cannot rename %s", tmp);
        return 0;
}

/* Copy the regular files of src into the empty directory dst (mode 0644). */
static int seed_policy_dir(const char *src, const char *dst) {
        DIR *d = opendir(src);
        struct dirent *de;
        int r = 0;

        if (!d)
                return log_error_errno(errno, "Cannot open the default policy %s", src);
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *from = path_join(src, de->d_name), *to = path_join(dst, de->d_name);
                _cleanup_close_ int in = -1, out = -1;
                char buf[16384];
                ssize_t k;

                if (de->d_name[0] == '.' || de->d_type != DT_REG)
                        continue;
                if (!from || !to) {
                        r = log_error_errno(ENOMEM, "Out of memory");
                        break;
                }
                in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (in < 0 || out < 0) {
                        r = log_error_errno(errno, "Cannot copy %s to %s", from, to);
                        break;
                }
                while ((k = read(in, buf, sizeof(buf))) > 0)
                        if ((r = write_full(out, buf, (size_t) k)) < 0)
                                break;
                if (k < 0)
                        r = -errno;
                if (r < 0)
                        log_error_errno(r, "Cannot copy %s to %s", from, to);
        }
        closedir(d);
        return r;
}

/* ROOT/etc/policy.d (seeded from the source tree's policy/policy.d/ when
 * empty, readable by qrexec-policyd), and run/policyd/ for its socket,
 * owned by its uid, with run/policy.sock pointing into it. */
int stack_prepare_policyd(const struct stack *s) {
        _cleanup_free_ char *etc = path_join(s->root, "etc"), *dir = path_join(s->root, "etc/policy.d"),
                            *sock_dir = path_join(s->run_dir, "policyd"),
                            *link = path_join(s->run_dir, "policy.sock"), *rpc_dir = path_join(s->root, "etc/qubes-rpc");
        uid_t uid = stack_role_uid(s, BUS_ROLE_POLICYD);
        struct stack_daemon *d = NULL;
        bool empty = true;
        DIR *dd;
        int r;

        for (size_t i = 0; i < s->n_daemons; i++)
                if (s->daemons[i].role == BUS_ROLE_POLICYD && s->daemons[i].selected)
                        d = &s->daemons[i];
        if (!d)
                return 0;
        if (!etc || !dir || !sock_dir || !link || !rpc_dir)
                return log_error_errno(ENOMEM, "Out of memory");
        /* ROOT/etc/qubes-rpc: the admin domain's services of this stack. */
        if ((r = mkdir_p(rpc_dir, 0755)) < 0)
                return log_error_errno(r, "Cannot create %s", rpc_dir);
        if ((r = mkdir_p(dir, 0755)) < 0 || (r = mkdir_p(sock_dir, 0755)) < 0)
                return log_error_errno(r, "Cannot create %s or %s", dir, sock_dir);
        if (chmod(etc, 0755) < 0 || chmod(dir, 0755) < 0 || chown(sock_dir, uid, uid) < 0)
                return log_error_errno(errno, "Cannot set up %s and %s for qrexec-policyd", dir, sock_dir);
        dd = opendir(dir);
        if (!dd)
                return log_error_errno(errno, "Cannot open %s", dir);
        for (struct dirent *de; (de = readdir(dd));)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        empty = false;
        closedir(dd);
        if (empty && (r = seed_policy_dir(ODYSSEY_SRCDIR "/policy/policy.d", dir)) < 0)
                return r;
        if (unlink(link) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Cannot remove %s", link);
        if (symlink("policyd/policy.sock", link) < 0)
                return log_error_errno(errno, "Cannot create %s", link);
        return 0;
}
