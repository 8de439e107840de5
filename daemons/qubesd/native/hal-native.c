/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The native backend (DESIGN §4): each domain runs under its own monitor
 * process (odyssey-domain, started by the spawner) in new user, mount, pid,
 * ipc, uts, net and cgroup namespaces.  qubesd talks to the monitors over
 * non-blocking sockets on its sd-event loop; a monitor lives as long as its
 * domain, so a restarted qubesd finds the running domains again (list).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hal-native-internal.h"
#include "hal-native.h"
#include "log.h"
#include "monitor-protocol.h"
#include "native.h"

const char *const hal_native_syscalls[] = {
        "socket", "socketpair", "connect", "sendmsg", "sendto", "recvmsg", "recvfrom", "poll", "ppoll",
        "openat", "close", "read", "write", "lseek", "fstat", "newfstatat", "statx", "getdents64",
        "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "fcntl", "wait4",
        NULL,
};

char *hal_native_agents_dir(void) {
        return native_agents_dir();
}

static int native_new(sd_event *event, const char *runtime_dir, const char *state_dir, hal_event_fn on_event,
                      void *userdata, struct hal_backend **ret) {
        _cleanup_free_ char *monitor = native_monitor_program();
        struct hal_backend *b;
        int r;

        if (!monitor)
                return log_error_errno(ENOENT, "Cannot find the domain monitor odyssey-domain "
                                               "(set $ODYSSEY_LIBEXECDIR or $ODYSSEY_BUILDDIR)");
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(event);
        b->on_event = on_event;
        b->userdata = userdata;
        b->spawner_fd = -1;
        b->runtime_dir = strdup(runtime_dir);
        b->state_dir = strdup(state_dir ?: "");
        b->domains_dir = path_join(runtime_dir, "domains");
        if (!b->runtime_dir || !b->state_dir || !b->domains_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = mkdir_p(b->domains_dir, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create %s", b->domains_dir);
                goto fail;
        }
        r = native_spawner_start(monitor, &b->spawner_fd, &b->spawner_pid);
        if (r < 0) {
                log_error_errno(r, "Cannot start the domain spawner");
                goto fail;
        }
        *ret = b;
        return 0;
fail:
        sd_event_unref(b->event);
        free(b->runtime_dir);
        free(b->state_dir);
        free(b->domains_dir);
        free(b);
        return r;
}

static void native_free(struct hal_backend *b) {
        if (!b)
                return;
        /* The domains keep running under their monitors. */
        while (b->domains)
                native_domain_free(b->domains);
        if (b->spawner_fd >= 0) {
                close(b->spawner_fd);
                (void) waitpid(b->spawner_pid, NULL, 0);        /* it exits on EOF at once */
        }
        sd_event_unref(b->event);
        free(b->runtime_dir);
        free(b->state_dir);
        free(b->domains_dir);
        free(b);
}

static void report(struct native_domain *d, hal_list_fn fn, void *userdata) {
        struct hal_domain_info info = {
                .name = d->name,
                .domid = d->domid,
                .state = d->state,
                .start_time_usec = d->start_time_usec,
        };
        fn(userdata, &info);
}

static int native_list(struct hal_backend *b, hal_list_fn fn, void *userdata) {
        DIR *dir = opendir(b->domains_dir);
        struct dirent *de;

        if (!dir)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(dir))) {
                struct native_domain *d;
                if (!native_name_valid(de->d_name))
                        continue;
                d = native_domain_find(b, de->d_name);
                if (!d) {
                        int r = native_domain_attach(b, de->d_name, &d);
                        if (r < 0) {
                                if (r != -ENOENT)
                                        log_warning_errno(r, "Cannot reach the monitor of domain %s", de->d_name);
                                continue;
                        }
                }
                if (d->state != POWER_HALTED)
                        report(d, fn, userdata);
        }
        closedir(dir);
        return 0;
}

/* The record of a domain this backend runs, attaching to its monitor if
 * qubesd has not heard of it since it (re)started. */
static struct native_domain *lookup(struct hal_backend *b, const char *name) {
        struct native_domain *d = native_domain_find(b, name);

        if (!d && native_domain_attach(b, name, &d) < 0)
                return NULL;
        return d;
}

static int write_config(struct hal_backend *b, const struct hal_domain_config *cfg, const char *dir,
                        const char *vchan_dir) {
        _cleanup_free_ char *path = path_join(dir, MONITOR_CONFIG);
        struct native_config c = {
                .name = (char *) cfg->name,
                .domid = cfg->domid,
                .uuid = (char *) cfg->uuid,
                .klass = (int) cfg->klass,
                .template_root = (char *) cfg->template_root,
                .own_root = (char *) cfg->own_root,
                .private_dir = (char *) cfg->private_dir,
                .volatile_private = cfg->volatile_private,
                .memory_mb = cfg->memory_mb,
                .maxmem_mb = cfg->maxmem_mb,
                .vcpus = cfg->vcpus,
                .debug = cfg->debug,
                .default_user = (char *) cfg->default_user,
                .vchan_dir = (char *) vchan_dir,
                .agents_dir = (char *) cfg->agents_dir,
                .agents = (char *) cfg->agents,
        };
        int r;

        if (!path)
                return -ENOMEM;
        r = native_busd_uid(b->runtime_dir, &c.busd_uid);
        if (r < 0) {
                log_warning("Domain %s: busd's uid is unknown (no %s/roles, no bus.sock, no user odyssey-busd); "
                            "only root may open its channels.", cfg->name, b->runtime_dir);
                c.busd_uid = 0;
        }
        return native_config_write(path, &c);
}

static int native_start(struct hal_backend *b, const struct hal_domain_config *cfg, hal_done_fn done,
                        void *userdata) {
        _cleanup_free_ char *dir = NULL, *default_vchan_dir = NULL;
        struct native_domain *d;
        const char *vchan_dir;
        int pair[2], r;

        if (!cfg || !native_name_valid(cfg->name) || cfg->domid == 0 || cfg->domid > NATIVE_DOMID_MAX ||
            !cfg->private_dir || !cfg->agents_dir)
                return -EINVAL;
        if (cfg->klass == DOMAIN_ADMINVM)
                return -EOPNOTSUPP;
        if (lookup(b, cfg->name))
                return -EBUSY;
        dir = native_domain_dir(b->runtime_dir, cfg->name);
        if (!dir)
                return -ENOMEM;
        if (cfg->vchan_dir)
                vchan_dir = cfg->vchan_dir;
        else {
                if (asprintf(&default_vchan_dir, "%s/vchan/%u", b->runtime_dir, (unsigned) cfg->domid) < 0)
                        return -ENOMEM;
                vchan_dir = default_vchan_dir;
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s", dir);
        r = write_config(b, cfg, dir, vchan_dir);
        if (r < 0)
                return log_error_errno(r, "Cannot write the config of domain %s", cfg->name);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        r = native_spawner_spawn(b->spawner_fd, dir, pair[1]);
        close(pair[1]);
        if (r < 0) {
                close(pair[0]);
                return log_error_errno(r, "Cannot ask the spawner to start domain %s", cfg->name);
        }
        r = native_domain_new(b, cfg->name, pair[0], &d);
        if (r < 0)
                return r;
        d->domid = cfg->domid;
        d->vchan_dir = strdup(vchan_dir);
        if (!d->vchan_dir) {
                native_domain_free(d);  /* the monitor sees EOF on its first send */
                return -ENOMEM;
        }
        d->start_done = done;
        d->start_userdata = userdata;
        return 0;
}

static int request(struct hal_backend *b, const char *name, enum native_request_kind kind, uint32_t arg,
                   hal_done_fn done, void *userdata) {
        struct native_domain *d;

        if (!name || !native_name_valid(name))
                return -EINVAL;
        d = lookup(b, name);
        if (!d)
                return -ENOENT;
        return native_domain_request(d, kind, arg, done, userdata);
}

static int native_shutdown(struct hal_backend *b, const char *name, uint32_t timeout_sec, hal_done_fn done,
                           void *userdata) {
        return request(b, name, NATIVE_REQUEST_SHUTDOWN, timeout_sec, done, userdata);
}

static int native_kill(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata) {
        return request(b, name, NATIVE_REQUEST_KILL, 0, done, userdata);
}

static int native_pause(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata) {
        return request(b, name, NATIVE_REQUEST_PAUSE, 0, done, userdata);
}

static int native_unpause(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata) {
        return request(b, name, NATIVE_REQUEST_UNPAUSE, 0, done, userdata);
}

static int native_control_channel(struct hal_backend *b, const char *name, enum vchan_backend *ret_backend,
                                  char *ret_dir, size_t dir_size) {
        struct native_domain *d;

        if (!name || !native_name_valid(name))
                return -EINVAL;
        d = lookup(b, name);
        if (!d || !d->vchan_dir)
                return -ENOENT;
        if (strlen(d->vchan_dir) >= dir_size)
                return -ENAMETOOLONG;
        strcpy(ret_dir, d->vchan_dir);
        *ret_backend = VCHAN_SOCKET;
        return 0;
}

static int native_memory_kb(struct hal_backend *b, const char *name, uint64_t *ret_kb) {
        struct native_domain *d;

        if (!name || !native_name_valid(name))
                return -EINVAL;
        d = lookup(b, name);
        if (!d || d->init_pid <= 0 || d->monitor_pid <= 0)
                return -ENOENT;
        return native_domain_pss_kb(d->monitor_pid, d->procs_path, d->init_pid, ret_kb);
}

const struct hal_backend_ops hal_native_ops = {
        .kind = "native",
        .new = native_new,
        .free = native_free,
        .list = native_list,
        .start = native_start,
        .shutdown = native_shutdown,
        .kill = native_kill,
        .pause = native_pause,
        .unpause = native_unpause,
        .control_channel = native_control_channel,
        .memory_kb = native_memory_kb,
};
