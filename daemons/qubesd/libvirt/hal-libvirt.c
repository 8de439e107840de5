/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt backend (DESIGN §4): hal_libvirt_ops.  Each operation is a job
 * for the backend's worker thread (libvirt-worker.c); results and libvirt's
 * lifecycle events come back on qubesd's loop.  Domains are transient: started
 * from XML made of their configuration, gone from libvirt once stopped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "hal-libvirt.h"
#include "libvirt-ops.h"
#include "log.h"
#include "util.h"

#define LIST_TIMEOUT_USEC (10 * UINT64_C(1000000))

const char *const hal_libvirt_syscalls[] = {
        /* threads, libvirt's RPC client, its config files and locale */
        "clone", "clone3", "set_robust_list", "rseq", "socket", "connect",
        "openat", "close", "fstat", "newfstatat", "statx", "readlink", "getdents64", "uname",
        "pipe2", "eventfd2", "dup", "dup3", "bind", "getrlimit", "prlimit64",
        "sched_setaffinity", "getpgrp", "setsid", "umask", "mkdir", "unlink",
        /* the guest's kernel copied where QEMU reads it */
        "copy_file_range", "rename", "fchmod", "chmod",
        /* remote URIs (qemu+tcp, qemu+ssh): TCP options of the connection */
        "setsockopt", "getsockopt", "getsockname", "getpeername",
        NULL,
};

static bool name_ok(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > DOMAIN_NAME_MAX)
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* The domain type for a URI's driver ("qemu+ssh://..." → qemu). */
static int hv_from_uri(const char *uri, enum libvirt_hv *ret) {
        size_t n = strcspn(uri, "+:");
        const char *kvm = getenv("ODYSSEY_LIBVIRT_KVM");

        if (n == 4 && strncmp(uri, "qemu", 4) == 0)
                *ret = kvm && strcmp(kvm, "1") == 0 ? LIBVIRT_HV_KVM : LIBVIRT_HV_QEMU;
        else if (n == 3 && strncmp(uri, "xen", 3) == 0)
                *ret = LIBVIRT_HV_XEN;
        else if (n == 4 && strncmp(uri, "test", 4) == 0)
                *ret = LIBVIRT_HV_TEST;
        else
                return -EOPNOTSUPP;
        return 0;
}

/* ---------------------------------------------------------------- domain records */

struct libvirt_domain *libvirt_domain_find(struct libvirt_backend *b, const char *name) {
        for (struct libvirt_domain *d = b->domains; d; d = d->next)
                if (strcmp(d->name, name) == 0)
                        return d;
        return NULL;
}

int libvirt_domain_add(struct libvirt_backend *b, const char *name, uint32_t domid, struct libvirt_domain **ret) {
        struct libvirt_domain *d = calloc(1, sizeof(*d));

        if (!d || !(d->name = strdup(name))) {
                free(d);
                return -ENOMEM;
        }
        d->backend = b;
        d->domid = domid;
        d->state = POWER_TRANSIENT;
        d->next = b->domains;
        b->domains = d;
        *ret = d;
        return 0;
}

void libvirt_domain_free(struct libvirt_domain *d) {
        struct libvirt_domain **p;

        if (!d)
                return;
        for (p = &d->backend->domains; *p && *p != d; p = &(*p)->next)
                ;
        if (*p)
                *p = d->next;
        while (d->stop_waiters) {
                struct libvirt_waiter *w = d->stop_waiters;
                d->stop_waiters = w->next;
                free(w);
        }
        sd_event_source_disable_unref(d->shutdown_timer);
        free(d->vchan_dir);
        free(d->name);
        free(d);
}

void libvirt_domain_stopped(struct libvirt_domain *d, enum power_state state, int reason) {
        struct libvirt_backend *b = d->backend;
        struct libvirt_waiter *waiters = TAKE_PTR(d->stop_waiters);
        _cleanup_free_ char *name = strdup(d->name);
        bool was_running = d->state != POWER_TRANSIENT;

        libvirt_domain_free(d);
        if (name && was_running)
                b->on_event(b->userdata, name, state, reason);
        while (waiters) {
                struct libvirt_waiter *w = waiters;
                waiters = w->next;
                w->done(w->userdata, 0);
                free(w);
        }
}

void libvirt_domain_changed(struct libvirt_domain *d, enum power_state state) {
        if (d->state == POWER_TRANSIENT || d->state == state)
                return;
        d->state = state;
        d->backend->on_event(d->backend->userdata, d->name, state, 0);
}

/* ---------------------------------------------------------------- backend */

static int libvirt_new_at(sd_event *event, const char *uri, const char *runtime_dir, const char *state_dir _unused_,
                          hal_event_fn on_event, void *userdata, struct hal_backend **ret) {
        struct libvirt_backend *b;
        enum libvirt_hv hv;
        int r;

        if (!uri || !*uri)
                return -EINVAL;
        r = hv_from_uri(uri, &hv);
        if (r < 0)
                return log_error_errno(r, "libvirt URI %s: only qemu, xen and test drivers are supported", uri);
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(event);
        b->on_event = on_event;
        b->userdata = userdata;
        b->callback_id = -1;
        b->uri = strdup(uri);
        b->channels_dir = path_join(runtime_dir, "libvirt");
        if (!b->uri || !b->channels_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = libvirt_worker_new(event, uri, libvirt_events_connected, b, &b->worker);
        if (r < 0) {
                log_error_errno(r, "Cannot start the libvirt worker for %s", uri);
                goto fail;
        }
        *ret = (struct hal_backend *) b;
        return 0;
fail:
        sd_event_unref(b->event);
        free(b->uri);
        free(b->channels_dir);
        free(b);
        return r;
}

static int libvirt_new(sd_event *event, const char *runtime_dir, const char *state_dir, hal_event_fn on_event,
                       void *userdata, struct hal_backend **ret) {
        return libvirt_new_at(event, "qemu:///system", runtime_dir, state_dir, on_event, userdata, ret);
}

static void libvirt_free(struct hal_backend *hb) {
        struct libvirt_backend *b = libvirt_backend(hb);

        if (!b)
                return;
        /* The worker drops its event callback and closes its connection;
         * the domains keep running: a restarted qubesd finds them (list). */
        libvirt_worker_free(b->worker);
        while (b->domains)
                libvirt_domain_free(b->domains);
        sd_event_unref(b->event);
        free(b->uri);
        free(b->channels_dir);
        free(b);
}

static int libvirt_list(struct hal_backend *hb, hal_list_fn fn, void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        struct libvirt_op *op = libvirt_op_new(b, LIBVIRT_OP_LIST, NULL, NULL);
        int r;

        if (!op)
                return -ENOMEM;
        libvirt_worker_submit(b->worker, &op->job);
        /* Synchronous by contract (qubesd's start-up): bounded, so a hung
         * hypervisor delays the start-up, never stops it. */
        r = libvirt_worker_wait_run(b->worker, &op->job, LIST_TIMEOUT_USEC);
        if (r < 0)
                return log_warning_errno(r, "libvirt at %s did not answer the list in time", b->uri);
        if (op->job.result < 0)
                return op->job.result;
        for (size_t i = 0; i < op->n_found; i++) {
                struct libvirt_found *f = &op->found[i];
                struct libvirt_domain *d = libvirt_domain_find(b, f->name);

                if (!d) {
                        r = libvirt_domain_add(b, f->name, f->domid, &d);
                        if (r < 0)
                                return r;
                        d->start_time_usec = f->start_time_usec;
                        if (f->vchan_dir[0] && !(d->vchan_dir = strdup(f->vchan_dir)))
                                return -ENOMEM;
                }
                d->state = f->state;
                struct hal_domain_info info = {
                        .name = d->name,
                        .domid = d->domid,
                        .state = d->state,
                        .start_time_usec = d->start_time_usec,
                };
                fn(userdata, &info);
        }
        return 0;       /* the op is freed when the loop dispatches it */
}

static void start_finish(struct libvirt_op *op) {
        struct libvirt_domain *d = libvirt_domain_find(op->backend, op->name);

        if (op->job.result < 0) {
                if (d && d->state == POWER_TRANSIENT)
                        libvirt_domain_free(d);
        } else if (d && d->state == POWER_TRANSIENT)
                d->state = POWER_RUNNING;
        else if (!d)
                op->job.result = -ESRCH;        /* stopped before it was reported started */
        op->done(op->userdata, op->job.result);
}

/* Where the domain's ports' sockets are: its vchan dir (busd's broker finds
 * the data vchans the mux mirrors there), else a dir of our own. */
static char *ports_dir(struct libvirt_backend *b, const char *vchan_dir, uint32_t domid) {
        char *dir;

        if (vchan_dir)
                return strdup(vchan_dir);
        return asprintf(&dir, "%s/%" PRIu32, b->channels_dir, domid) < 0 ? NULL : dir;
}

static int libvirt_start(struct hal_backend *hb, const struct hal_domain_config *cfg, hal_done_fn done,
                         void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        _cleanup_free_ char *dir = NULL, *ports = NULL, *socket_path = NULL, *mux_path = NULL, *log_path = NULL;
        struct libvirt_domain *d = NULL;
        struct libvirt_op *op;
        enum libvirt_hv hv;
        int r;

        if (!cfg || !name_ok(cfg->name) || cfg->domid == 0)
                return -EINVAL;
        if (cfg->klass == DOMAIN_ADMINVM)
                return -EOPNOTSUPP;
        if (libvirt_domain_find(b, cfg->name))
                return -EBUSY;
        r = hv_from_uri(b->uri, &hv);
        if (r < 0)
                return r;
        /* kept verbatim in our metadata: nothing there may need escaping */
        if (cfg->vchan_dir && (cfg->vchan_dir[0] != '/' || strpbrk(cfg->vchan_dir, "'\"&<>")))
                return -EINVAL;
        /* Named by domid, not name: a UNIX socket path must fit in 108 bytes
         * whatever the domain's name. */
        if (asprintf(&dir, "%s/%" PRIu32, b->channels_dir, cfg->domid) < 0 ||
            !(ports = ports_dir(b, cfg->vchan_dir, cfg->domid)))
                return -ENOMEM;
        if (asprintf(&socket_path, "%s/virtio.%u.512.sock", ports, (unsigned) cfg->domid) < 0 ||
            asprintf(&mux_path, "%s/virtio.%u.mux.sock", ports, (unsigned) cfg->domid) < 0 ||
            asprintf(&log_path, "%s/console.log", dir) < 0)
                return -ENOMEM;
        if (strlen(mux_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -ENAMETOOLONG;
        if (hv != LIBVIRT_HV_TEST) {
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return log_error_errno(r, "Cannot create %s", dir);
        }
        /* QEMU runs as its own user: it reads the kernel and initramfs from
         * the domain's dir under <runtime>/libvirt, copied there on the worker
         * (the state dir is qubesd's alone). */
        struct hal_domain_config vm_cfg = *cfg;
        _cleanup_free_ char *kernel = NULL, *initrd = NULL;
        bool copy_kernel = cfg->kernel && hv != LIBVIRT_HV_TEST && hv != LIBVIRT_HV_XEN;
        if (copy_kernel) {
                if (asprintf(&kernel, "%s/vmlinuz", dir) < 0 ||
                    (cfg->initrd && asprintf(&initrd, "%s/initramfs.img", dir) < 0))
                        return -ENOMEM;
                vm_cfg.kernel = kernel;
                vm_cfg.initrd = initrd;
        }
        uint64_t started = realtime_usec();
        const struct libvirt_xml_input in = {
                .cfg = &vm_cfg,
                .hv = hv,
                .channel_socket = hv == LIBVIRT_HV_XEN ? NULL : socket_path,
                .mux_socket = hv == LIBVIRT_HV_XEN ? NULL : mux_path,
                .vchan_dir = cfg->vchan_dir,
                .console_log = log_path,
                .start_time_usec = started,
        };
        op = libvirt_op_new(b, LIBVIRT_OP_START, cfg->name, start_finish);
        if (!op)
                return -ENOMEM;
        r = libvirt_domain_xml(&in, &op->xml);
        if (r >= 0)
                r = libvirt_domain_add(b, cfg->name, cfg->domid, &d);
        if (r >= 0 && cfg->vchan_dir && !(d->vchan_dir = strdup(cfg->vchan_dir)))
                r = -ENOMEM;
        if (r >= 0 && hv != LIBVIRT_HV_XEN && hv != LIBVIRT_HV_TEST) {
                op->open_sockets[0] = TAKE_PTR(socket_path);
                op->open_sockets[1] = TAKE_PTR(mux_path);
        }
        if (r >= 0 && copy_kernel) {
                if (!(op->copy_from[0] = strdup(cfg->kernel)) ||
                    (cfg->initrd && !(op->copy_from[1] = strdup(cfg->initrd))))
                        r = -ENOMEM;
                op->copy_to[0] = TAKE_PTR(kernel);
                op->copy_to[1] = TAKE_PTR(initrd);
        }
        if (r < 0 && d) {
                libvirt_domain_free(d);
                d = NULL;
        }
        if (r < 0) {
                libvirt_op_free(op);
                return r;
        }
        d->start_time_usec = started;
        op->done = done;
        op->userdata = userdata;
        libvirt_worker_submit(b->worker, &op->job);
        return 0;
}

/* Kill: done once libvirt destroyed it (or it was gone already). */
static void destroy_finish(struct libvirt_op *op) {
        struct libvirt_domain *d = libvirt_domain_find(op->backend, op->name);
        int r = op->job.result == -ENOENT ? 0 : op->job.result;

        if (r >= 0 && d)
                libvirt_domain_stopped(d, POWER_HALTED, 0);
        if (op->done)
                op->done(op->userdata, r);
}

static int submit(struct libvirt_backend *b, enum libvirt_op_kind kind, const char *name,
                  void (*finish)(struct libvirt_op *op), hal_done_fn done, void *userdata) {
        struct libvirt_op *op = libvirt_op_new(b, kind, name, finish);

        if (!op)
                return -ENOMEM;
        op->done = done;
        op->userdata = userdata;
        libvirt_worker_submit(b->worker, &op->job);
        return 0;
}

static struct libvirt_domain *running_domain(struct libvirt_backend *b, const char *name, int *r) {
        struct libvirt_domain *d;

        *r = 0;
        if (!name_ok(name))
                *r = -EINVAL;
        else if (!(d = libvirt_domain_find(b, name)))
                *r = -ENOENT;
        else
                return d;
        return NULL;
}

static int on_shutdown_timeout(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        struct libvirt_domain *d = userdata;

        log_notice("%s: did not shut down in time: destroying it", d->name);
        d->shutdown_timer = sd_event_source_disable_unref(d->shutdown_timer);
        (void) submit(d->backend, LIBVIRT_OP_DESTROY, d->name, destroy_finish, NULL, NULL);
        return 0;
}

static void shutdown_finish(struct libvirt_op *op) {
        struct libvirt_domain *d = libvirt_domain_find(op->backend, op->name);

        if (op->job.result >= 0 || !d)
                return;         /* the stop event answers the waiters */
        /* libvirt refused: answer this request's waiter now */
        for (struct libvirt_waiter **p = &d->stop_waiters; *p; p = &(*p)->next)
                if ((*p)->done == op->done && (*p)->userdata == op->userdata) {
                        struct libvirt_waiter *w = *p;
                        *p = w->next;
                        free(w);
                        break;
                }
        if (!d->stop_waiters)
                d->shutdown_timer = sd_event_source_disable_unref(d->shutdown_timer);
        op->done(op->userdata, op->job.result);
}

static int libvirt_shutdown(struct hal_backend *hb, const char *name, uint32_t timeout_sec, hal_done_fn done,
                            void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        struct libvirt_waiter *w;
        struct libvirt_domain *d;
        int r;

        d = running_domain(b, name, &r);
        if (!d)
                return r;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        r = submit(b, LIBVIRT_OP_SHUTDOWN, name, shutdown_finish, done, userdata);
        if (r < 0) {
                free(w);
                return r;
        }
        w->done = done;
        w->userdata = userdata;
        w->next = d->stop_waiters;
        d->stop_waiters = w;
        if (!d->shutdown_timer) {
                r = sd_event_add_time_relative(b->event, &d->shutdown_timer, CLOCK_MONOTONIC,
                                               (uint64_t) timeout_sec * 1000000, 0, on_shutdown_timeout, d);
                if (r < 0)
                        log_warning_errno(r, "%s: no shutdown timer; it is not killed after %u s", name,
                                          (unsigned) timeout_sec);
        }
        return 0;
}

static int libvirt_kill(struct hal_backend *hb, const char *name, hal_done_fn done, void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        int r;

        if (!running_domain(b, name, &r))
                return r;
        return submit(b, LIBVIRT_OP_DESTROY, name, destroy_finish, done, userdata);
}

static void pause_finish(struct libvirt_op *op) {
        struct libvirt_domain *d = libvirt_domain_find(op->backend, op->name);

        if (op->job.result >= 0 && d)
                libvirt_domain_changed(d, op->kind == LIBVIRT_OP_SUSPEND ? POWER_PAUSED : POWER_RUNNING);
        op->done(op->userdata, op->job.result);
}

static int libvirt_pause(struct hal_backend *hb, const char *name, hal_done_fn done, void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        int r;

        if (!running_domain(b, name, &r))
                return r;
        return submit(b, LIBVIRT_OP_SUSPEND, name, pause_finish, done, userdata);
}

static int libvirt_unpause(struct hal_backend *hb, const char *name, hal_done_fn done, void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        int r;

        if (!running_domain(b, name, &r))
                return r;
        return submit(b, LIBVIRT_OP_RESUME, name, pause_finish, done, userdata);
}

/* The running domain's ports dir; -EOPNOTSUPP on Xen (libxenvchan, no ports). */
static int domain_ports_dir(struct libvirt_backend *b, const char *name, struct libvirt_domain **ret_domain,
                            char **ret_dir) {
        enum libvirt_hv hv = LIBVIRT_HV_QEMU;
        int r;

        *ret_domain = running_domain(b, name, &r);
        if (!*ret_domain)
                return r;
        (void) hv_from_uri(b->uri, &hv);
        if (hv == LIBVIRT_HV_XEN)
                return -EOPNOTSUPP;
        *ret_dir = ports_dir(b, (*ret_domain)->vchan_dir, (*ret_domain)->domid);
        return *ret_dir ? 0 : -ENOMEM;
}

static int libvirt_control_channel(struct hal_backend *hb, const char *name, enum vchan_backend *ret_backend,
                                   char *ret_dir, size_t dir_size) {
        _cleanup_free_ char *ports = NULL;
        struct libvirt_domain *d;
        int r, n;

        r = domain_ports_dir(libvirt_backend(hb), name, &d, &ports);
        if (r == -EOPNOTSUPP) {
                *ret_backend = VCHAN_XEN;
                ret_dir[0] = '\0';
                return dir_size > 0 ? 0 : -ENAMETOOLONG;
        }
        if (r < 0)
                return r;
        *ret_backend = VCHAN_VIRTIO;
        n = snprintf(ret_dir, dir_size, "%s", ports);
        return n < 0 || (size_t) n >= dir_size ? -ENAMETOOLONG : 0;
}

static int libvirt_mux_socket(struct hal_backend *hb, const char *name, char *ret_path, size_t path_size) {
        _cleanup_free_ char *ports = NULL;
        struct libvirt_domain *d;
        int r, n;

        r = domain_ports_dir(libvirt_backend(hb), name, &d, &ports);
        if (r < 0)
                return r;
        n = snprintf(ret_path, path_size, "%s/virtio.%" PRIu32 ".mux.sock", ports, d->domid);
        return n < 0 || (size_t) n >= path_size ? -ENAMETOOLONG : 0;
}

static int libvirt_memory_kb(struct hal_backend *hb _unused_, const char *name _unused_, uint64_t *ret_kb _unused_) {
        return -EOPNOTSUPP;     /* would be a libvirt call: never on the loop */
}

static void hook_finish(struct libvirt_op *op) {
        op->done(op->userdata, 0);
}

int hal_libvirt_run_on_worker(struct hal_backend *hb, void (*hook)(void *data), void *data, hal_done_fn done,
                              void *userdata) {
        struct libvirt_backend *b = libvirt_backend(hb);
        struct libvirt_op *op = libvirt_op_new(b, LIBVIRT_OP_HOOK, NULL, hook_finish);

        if (!op)
                return -ENOMEM;
        op->hook = hook;
        op->hook_data = data;
        op->done = done;
        op->userdata = userdata;
        libvirt_worker_submit(b->worker, &op->job);
        return 0;
}

const struct hal_backend_ops hal_libvirt_ops = {
        .kind = "libvirt",
        .new = libvirt_new,
        .new_at = libvirt_new_at,
        .free = libvirt_free,
        .list = libvirt_list,
        .start = libvirt_start,
        .shutdown = libvirt_shutdown,
        .kill = libvirt_kill,
        .pause = libvirt_pause,
        .unpause = libvirt_unpause,
        .control_channel = libvirt_control_channel,
        .mux_socket = libvirt_mux_socket,
        .memory_kb = libvirt_memory_kb,
};
