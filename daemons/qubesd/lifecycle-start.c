/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting a domain: checks, its netvm first, the backend configuration
 * from its properties, the backend's start, then busd opens the domain's
 * control channel and the domain is Running only once its agent said hello
 * (DOMAIN_CHANNEL_UP), within qrexec_timeout.  Also autostart.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

#define QREXEC_TIMEOUT_DEFAULT 60

/* The effective value of a property by name; "" when the table has no such property. */
void prop_text(struct qubesd *q, const struct domain *d, const char *name, char *buf, size_t size) {
        const struct prop_def *p = prop_find(name, false);
        bool is_default;

        if (!p || prop_get(q->set, d, p, buf, size, &is_default) < 0)
                buf[0] = '\0';
}

uint32_t prop_uint(struct qubesd *q, const struct domain *d, const char *name, uint32_t fallback) {
        char buf[32];
        uint32_t v;

        prop_text(q, d, name, buf, sizeof(buf));
        return parse_uint32(buf, &v) >= 0 ? v : fallback;
}

static void on_kill_after_failure(void *userdata, int result) {
        if (result < 0)
                log_warning_errno(result, "Cannot kill a domain whose start failed");
}

/* Give up on a start: answer everyone waiting, stop whatever the backend started. */
static void start_failed(struct domain_run *run, const char *error_name, const char *message, bool backend_running) {
        struct qubesd *q = run->q;
        struct domain *d = run->domain;

        log_error("%s", message);
        run->hello_timer = sd_event_source_disable_unref(run->hello_timer);
        run->open_request_id = 0;
        run->waiting_for_netvm = NULL;
        pending_calls_reply(&run->start_waiters, error_name, message);
        lifecycle_netvm_finished(q, run, false);
        if (backend_running && run->ops) {
                run->stop_requested = true;
                if (run->ops->kill(run->backend, d->name, on_kill_after_failure, NULL) >= 0) {
                        domain_set_state(q, d, POWER_DYING);
                        return;         /* the backend's event finishes it */
                }
        }
        d->start_time_usec = 0;
        domain_set_state(q, d, POWER_HALTED);
}

static int on_hello_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct domain_run *run = userdata;
        char message[256];

        snprintf(message, sizeof(message), "%s: the agent did not say hello within qrexec_timeout (%" PRIu32 " s)",
                 run->domain->name, prop_uint(run->q, run->domain, "qrexec_timeout", QREXEC_TIMEOUT_DEFAULT));
        start_failed(run, ADMIN_ERROR_TIMEOUT, message, true);
        return 0;
}

static void on_backend_started(void *userdata, int result) {
        struct domain_run *run = userdata;
        struct qubesd *q = run->q;
        struct domain *d = run->domain;
        char message[256];
        int r;

        if (d->state != POWER_TRANSIENT)
                return;         /* killed meanwhile */
        if (result < 0) {
                snprintf(message, sizeof(message), "%s: the %s backend could not start it: %s", d->name,
                         run->ops->kind, strerror(-result));
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
                return;
        }
        r = bus_link_open_channel(q, run);
        if (r < 0) {
                snprintf(message, sizeof(message), "%s: cannot ask busd to open its control channel: %s", d->name,
                         r == -ENOTCONN ? "not connected to busd" : strerror(-r));
                start_failed(run, ADMIN_ERROR_BACKEND, message, true);
                return;
        }
        /* a QEMU guest's data vchans: ready before its agent can be called */
        mux_launch_domain_started(q, d, run);
        uint64_t timeout = (uint64_t) prop_uint(q, d, "qrexec_timeout", QREXEC_TIMEOUT_DEFAULT) * 1000000;
        r = sd_event_add_time_relative(q->event, &run->hello_timer, CLOCK_MONOTONIC, timeout, 0, on_hello_timeout, run);
        if (r < 0) {
                snprintf(message, sizeof(message), "%s: cannot arm the hello timer: %s", d->name, strerror(-r));
                start_failed(run, ADMIN_ERROR_BACKEND, message, true);
        }
}

void lifecycle_on_channel_up(struct qubesd *q, uint32_t domid) {
        struct domain *d = domain_set_find_qid(q->set, domid);
        struct domain_run *run = d ? domain_run_get(q, d) : NULL;

        if (!run || d->state != POWER_TRANSIENT) {
                log_debug("Control channel of domid %" PRIu32 " is up (nothing waits for it)", domid);
                return;
        }
        run->hello_timer = sd_event_source_disable_unref(run->hello_timer);
        run->open_request_id = 0;
        d->start_time_usec = realtime_usec();
        domain_set_state(q, d, POWER_RUNNING);
        admin_emit_manager_signal(q, "DomainStarted", "s", d->name);
        pending_calls_reply(&run->start_waiters, NULL, NULL);
        lifecycle_netvm_finished(q, run, true);
        gui_launch_domain_started(q, d, run);
}

void lifecycle_on_channel_down(struct qubesd *q, uint32_t domid, int reason) {
        struct domain *d = domain_set_find_qid(q->set, domid);
        struct domain_run *run = d ? domain_run_get(q, d) : NULL;
        char message[256];

        if (!run)
                return;
        if (d->state != POWER_TRANSIENT) {
                /* The domain may well run on; its stop comes from the backend. */
                log_notice("%s: control channel closed (%d)", d->name, reason);
                return;
        }
        snprintf(message, sizeof(message), "%s: the control channel closed before the agent said hello: %s",
                 d->name, reason ? strerror(-reason) : "closed");
        start_failed(run, ADMIN_ERROR_BACKEND, message, true);
}

void lifecycle_on_channel_error(struct qubesd *q, uint32_t request_id, int error, const char *text) {
        struct domain_run *run = NULL;
        char message[512];

        for (size_t i = 0; request_id && i < q->set->n_domains && !run; i++) {
                struct domain *d = q->set->domains[i];
                struct domain_run *candidate = d->qid <= DOMAIN_QID_MAX ? q->runs[d->qid] : NULL;
                if (candidate && candidate->domain == d && candidate->open_request_id == request_id)
                        run = candidate;
        }
        if (!run) {
                log_debug("busd: %s (%d)", text, error);
                return;
        }
        run->open_request_id = 0;
        if (run->domain->state != POWER_TRANSIENT)
                return;         /* a rediscovered domain whose channel busd kept */
        if (error == -EEXIST && !run->open_retried) {
                /* a channel left from an earlier run of this domid: replace it */
                run->open_retried = true;
                bus_link_close_channel(q, run->domain->qid);
                if (bus_link_open_channel(q, run) >= 0)
                        return;
        }
        snprintf(message, sizeof(message), "%s: busd cannot open its control channel: %s", run->domain->name, text);
        start_failed(run, ADMIN_ERROR_BACKEND, message, true);
}

/* The TemplateVM (or StandaloneVM) whose tree d's root comes from; d itself for those. */
static struct domain *root_source(struct qubesd *q, struct domain *d, char *missing, size_t size) {
        char name[DOMAIN_NAME_MAX + 1];

        for (unsigned depth = 0; depth < 4; depth++) {
                if (d->klass == DOMAIN_TEMPLATEVM || d->klass == DOMAIN_STANDALONEVM)
                        return d;
                prop_text(q, d, "template", name, sizeof(name));
                struct domain *t = name[0] ? domain_set_find(q->set, name) : NULL;
                if (!t) {
                        snprintf(missing, size, "%s: its template '%s' does not exist", d->name, name);
                        return NULL;
                }
                d = t;
        }
        snprintf(missing, size, "%s: template chain too long", d->name);
        return NULL;
}

/* How a virtual machine backend boots d: kernel version K is
 * <state>/kernels/K/vmlinuz with its initramfs.img when there is one; an
 * empty kernel boots the domain's own disk.  Backends read the config during
 * start(), so these buffers live on start_now()'s stack. */
struct vm_boot {
        char virt_mode[8];
        char kernel[PATH_MAX], initrd[PATH_MAX], cmdline[128];
};

static int vm_boot_resolve(struct qubesd *q, const struct domain *d, bool debug, struct vm_boot *ret,
                           char *message, size_t message_size) {
        char version[64 + 1];           /* the kernel property's longest value */
        struct stat st;
        int n;

        *ret = (struct vm_boot) {};
        prop_text(q, d, "virt_mode", ret->virt_mode, sizeof(ret->virt_mode));
        /* panic=-1: a guest kernel that panics stops, and the backend reports it */
        snprintf(ret->cmdline, sizeof(ret->cmdline), "console=ttyS0 panic=-1 odyssey.domid=%" PRIu32 "%s", d->qid,
                 debug ? "" : " quiet");
        prop_text(q, d, "kernel", version, sizeof(version));
        if (!version[0])
                return 0;
        n = snprintf(ret->kernel, sizeof(ret->kernel), "%s/kernels/%s/vmlinuz", q->state_dir, version);
        if (n < 0 || (size_t) n >= sizeof(ret->kernel) ||
            snprintf(ret->initrd, sizeof(ret->initrd), "%s/kernels/%s/initramfs.img", q->state_dir, version) < 0) {
                snprintf(message, message_size, "%s: the path of kernel %s is too long", d->name, version);
                return -ENAMETOOLONG;
        }
        if (stat(ret->kernel, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(message, message_size, "%s: kernel %s is not installed (no %s/kernels/%s/vmlinuz)",
                         d->name, version, q->state_dir, version);
                return -ENOENT;
        }
        if (stat(ret->initrd, &st) < 0 || !S_ISREG(st.st_mode))
                ret->initrd[0] = '\0';
        return 0;
}

/* busd's broker finds a VM's data vchans where it finds a native domain's,
 * mirrored there by the guest's vchan mux (mux-launch.c). */
static int prepare_vm_vchan_dir(struct qubesd *q, const struct domain *d, const char *dir) {
        uid_t busd_uid = geteuid();

        if (geteuid() == 0 && native_busd_uid(q->runtime_dir, &busd_uid) < 0)
                busd_uid = 0;
        return native_prepare_vchan_dir_at(dir, busd_uid, d->qid);
}

static int start_now(struct domain_run *run) {
        struct qubesd *q = run->q;
        struct domain *d = run->domain;
        char message[512], text[PROP_VALUE_MAX];
        struct domain *source;
        int r;

        domain_run_free_config(run);
        source = root_source(q, d, message, sizeof(message));
        if (!source) {
                start_failed(run, ADMIN_ERROR_NO_SUCH_DOMAIN, message, false);
                return 0;
        }
        _cleanup_free_ char *source_root = domain_own_root(q, source);
        run->cfg_template_root = strdup(source_root ?: "/");
        if (source == d && source_root)
                run->cfg_own_root = strdup(source_root);
        run->cfg_private_dir = domain_dir(q, d->name, "private");
        prop_text(q, d, "default_user", text, sizeof(text));
        run->cfg_default_user = strdup(text[0] ? text : "user");
        run->cfg_vchan_dir = calloc(1, PATH_MAX);
        if (!run->cfg_template_root || (source == d && source_root && !run->cfg_own_root) || !run->cfg_private_dir ||
            !run->cfg_default_user || !run->cfg_vchan_dir) {
                start_failed(run, ADMIN_ERROR_BACKEND, "Out of memory", false);
                return 0;
        }
        r = mkdir_p(run->cfg_private_dir, 0700);
        domain_vchan_dir(q, d, run->cfg_vchan_dir, PATH_MAX);
        if (r < 0) {
                snprintf(message, sizeof(message), "%s: cannot create %s: %s", d->name, run->cfg_private_dir,
                         strerror(-r));
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
                return 0;
        }
        prop_text(q, d, "debug", text, sizeof(text));
        /* the native backend has no kernel of its own to boot */
        bool vm = strcmp(run->ops->kind, "native") != 0;
        /* the native backend's monitor prepares the vchan dir itself */
        if (vm && (r = prepare_vm_vchan_dir(q, d, run->cfg_vchan_dir)) < 0) {
                snprintf(message, sizeof(message), "%s: cannot prepare %s: %s", d->name, run->cfg_vchan_dir,
                         strerror(-r));
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
                return 0;
        }
        struct vm_boot boot = {};
        if (vm && vm_boot_resolve(q, d, strcmp(text, "True") == 0, &boot, message, sizeof(message)) < 0) {
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
                return 0;
        }
        run->gui = gui_launch_wanted(q, d, run->ops);
        const struct hal_domain_config cfg = {
                .name = d->name,
                .domid = d->qid,
                .uuid = d->uuid,
                .klass = d->klass,
                .template_root = run->cfg_template_root,
                .own_root = run->cfg_own_root,
                .private_dir = run->cfg_private_dir,
                .volatile_private = d->klass == DOMAIN_DISPVM,
                .memory_mb = prop_uint(q, d, "memory", 400),
                .maxmem_mb = prop_uint(q, d, "maxmem", 0),
                .vcpus = prop_uint(q, d, "vcpus", 2),
                .debug = strcmp(text, "True") == 0,
                .default_user = run->cfg_default_user,
                .vchan_dir = run->cfg_vchan_dir,
                .agents_dir = q->agents_dir,
                /* gui-agent first: odyssey-init starts the others once its X server runs */
                .agents = run->gui ? "gui-agent:qrexec-agent" : NULL,
                .virt_mode = vm && boot.virt_mode[0] ? boot.virt_mode : NULL,
                .kernel = vm && boot.kernel[0] ? boot.kernel : NULL,
                .initrd = vm && boot.initrd[0] ? boot.initrd : NULL,
                .kernel_cmdline = vm && boot.kernel[0] ? boot.cmdline : NULL,
        };
        log_info("%s: starting on backend %s (root %s%s)", d->name, run->ops->kind,
                 cfg.own_root ?: cfg.template_root, cfg.own_root ? ", own" : "");
        r = run->ops->start(run->backend, &cfg, on_backend_started, run);
        if (r < 0) {
                snprintf(message, sizeof(message), "%s: the %s backend cannot start it: %s", d->name, run->ops->kind,
                         strerror(-r));
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
        }
        return 0;
}

void lifecycle_netvm_finished(struct qubesd *q, struct domain_run *netvm, bool ok) {
        char message[256];

        for (size_t i = 0; i <= DOMAIN_QID_MAX; i++) {
                struct domain_run *run = q->runs[i];

                if (!run || run->waiting_for_netvm != netvm)
                        continue;
                run->waiting_for_netvm = NULL;
                if (run->domain->state != POWER_TRANSIENT)
                        continue;
                if (ok) {
                        (void) start_now(run);
                        continue;
                }
                snprintf(message, sizeof(message), "%s: its netvm %s did not start", run->domain->name,
                         netvm->domain->name);
                start_failed(run, ADMIN_ERROR_BACKEND, message, false);
        }
}

int lifecycle_start(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error) {
        struct domain_run *run = domain_run_get(q, d);
        char name[DOMAIN_NAME_MAX + 1], message[512], backend[256];
        struct domain *netvm = NULL;
        int r;

        if (!run)
                return -ENOMEM;
        if (d->klass == DOMAIN_ADMINVM || (d->state != POWER_HALTED && d->state != POWER_CRASHED))
                return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s is not halted (%s)", d->name,
                                    power_state_to_string(d->state));
        if (run->busy > 0)
                return admin_errorf(error, ADMIN_ERROR_NOT_HALTED, "%s: its files are being copied", d->name);
        if (!root_source(q, d, message, sizeof(message)))
                return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "%s", message);
        prop_text(q, d, "netvm", name, sizeof(name));
        if (name[0]) {
                netvm = domain_set_find(q->set, name);
                if (!netvm)
                        return admin_errorf(error, ADMIN_ERROR_NO_SUCH_DOMAIN, "%s: its netvm '%s' does not exist",
                                            d->name, name);
                if (netvm == d)
                        netvm = NULL;
        }
        prop_text(q, d, "backend", backend, sizeof(backend));
        r = qubesd_backend_get(q, backend[0] ? backend : "native", &run->ops, &run->backend);
        if (r == -EOPNOTSUPP)
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: backend '%s' is not supported",
                                    d->name, backend);
        if (r < 0)
                return admin_errorf(error, ADMIN_ERROR_BACKEND, "%s: backend '%s': %s", d->name, backend, strerror(-r));

        r = pending_call_add(&run->start_waiters, m);
        if (r < 0)
                return r;
        run->stop_requested = false;
        run->open_retried = false;
        domain_set_state(q, d, POWER_TRANSIENT);

        /* The netvm first, as Qubes does; the domain waits in Transient. */
        if (netvm && netvm->klass != DOMAIN_ADMINVM && netvm->state != POWER_RUNNING) {
                struct domain_run *netvm_run = domain_run_get(q, netvm);
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (!netvm_run)
                        return -ENOMEM;
                run->waiting_for_netvm = netvm_run;
                if (netvm->state == POWER_TRANSIENT)
                        return 0;
                log_info("%s: starting its netvm %s first", d->name, netvm->name);
                if (lifecycle_start(q, netvm, NULL, &e) < 0) {
                        snprintf(message, sizeof(message), "%s: cannot start its netvm: %s", d->name,
                                 e.message ?: netvm->name);
                        start_failed(run, e.name ?: ADMIN_ERROR_BACKEND, message, false);
                }
                return 0;
        }
        return start_now(run);
}

void lifecycle_autostart(struct qubesd *q) {
        for (size_t i = 0; i < q->set->n_domains; i++) {
                struct domain *d = q->set->domains[i];
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                char value[16];

                if (d->klass == DOMAIN_ADMINVM || d->state != POWER_HALTED)
                        continue;
                prop_text(q, d, "autostart", value, sizeof(value));
                if (strcmp(value, "True") != 0)
                        continue;
                log_info("%s: autostart", d->name);
                if (lifecycle_start(q, d, NULL, &e) < 0)
                        log_error("%s: autostart failed: %s", d->name, e.message ?: "");
        }
}
