/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd: the daemon that holds the domains.  One struct qubesd owns the
 * event loop, the database and the in-memory domain set, the HAL backends,
 * the link to busd, the file worker and the Admin API's client buses.
 *
 * Files: main.c (options, setup order), hal.c (backend lookup), worker.c (the
 * unsandboxed helper for file jobs), bus-link.c (busd), admin-server.c (the
 * private socket and client buses), admin-util.c (errors, values, signals),
 * admin-manager.c and admin-domain.c (the two interfaces), lifecycle.c and
 * lifecycle-start.c (start, stop and the rest), domain-files.c (create, clone,
 * remove on disk), template-build.c (debootstrap); for qrexec: domain-wait.c
 * (work waiting for a domain to run or stop), policy-link.c (qrexec-policyd),
 * dispvm.c (disposables), ask-relay.c (ask agents), admin-run.c (Run).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-client.h"
#include "domain.h"
#include "hal.h"
#include "store.h"

#define ADMIN_INTERFACE_MANAGER "org.qubes.Admin1.Manager"
#define ADMIN_INTERFACE_DOMAIN  "org.qubes.Admin1.Domain"
#define ADMIN_BUS_NAME          "org.qubes.Admin1"
#define ADMIN_PATH_MANAGER      "/org/qubes/Admin1"
#define ADMIN_PATH_DOMAINS      "/org/qubes/Admin1/domain"

#define ADMIN_ERROR_NO_SUCH_DOMAIN   "org.qubes.Admin1.Error.NoSuchDomain"
#define ADMIN_ERROR_NO_SUCH_PROPERTY "org.qubes.Admin1.Error.NoSuchProperty"
#define ADMIN_ERROR_INVALID_VALUE    "org.qubes.Admin1.Error.InvalidValue"
#define ADMIN_ERROR_ALREADY_EXISTS   "org.qubes.Admin1.Error.AlreadyExists"
#define ADMIN_ERROR_IN_USE           "org.qubes.Admin1.Error.InUse"
#define ADMIN_ERROR_NOT_HALTED       "org.qubes.Admin1.Error.NotHalted"
#define ADMIN_ERROR_NOT_RUNNING      "org.qubes.Admin1.Error.NotRunning"
#define ADMIN_ERROR_READ_ONLY        "org.qubes.Admin1.Error.ReadOnly"
#define ADMIN_ERROR_BACKEND          "org.qubes.Admin1.Error.Backend"
#define ADMIN_ERROR_TIMEOUT          "org.qubes.Admin1.Error.Timeout"

#define QUBESD_MAX_CLIENTS 256
#define QUBESD_BACKEND_MAX 4

struct qubesd;
struct worker;
struct domain_waiter;
struct ask_agent;
struct ask_call;
struct qrexec_run;
struct bus_msg_policy_status;

/* --system-bus: claim org.qubes.Admin1 on the system bus? */
enum system_bus_mode {
        SYSTEM_BUS_AUTO,        /* when one runs, and never in a private stack */
        SYSTEM_BUS_YES,         /* always; qubesd fails to start without it */
        SYSTEM_BUS_NO,
};

/* A method call that is answered later (Start waits for the agent's hello). */
struct pending_call {
        sd_bus_message *message;
        struct pending_call *next;
};

/* Why a start is under way: a client's Start call, a dependent domain's
 * start (its netvm), or autostart. */
struct domain_run {
        struct qubesd *q;
        struct domain *domain;
        const struct hal_backend_ops *ops;      /* the backend the domain runs on */
        struct hal_backend *backend;
        struct pending_call *start_waiters;     /* replied when Running or failed */
        struct pending_call *stop_waiters;      /* replied when Halted */
        struct domain_run *waiting_for_netvm;   /* this start waits for that domain */
        sd_event_source *hello_timer;
        uint32_t open_request_id;               /* DOMAIN_CHANNEL_OPEN in flight */
        bool open_retried;
        bool stop_requested;                    /* Shutdown/Kill: a stop is not a crash */
        bool gui;                               /* this run has gui-agent and gets a guid */
        unsigned busy;                          /* clone/copy jobs reading its files */
        /* the config strings handed to the backend, alive until it answered */
        char *cfg_template_root, *cfg_own_root, *cfg_private_dir, *cfg_vchan_dir, *cfg_default_user;
};

/* One connected Admin API client (or the system bus). */
struct admin_client {
        struct qubesd *q;
        sd_bus *bus;
        bool allowed;
        uid_t uid;
        pid_t pid;
        struct admin_client *next;
};

/* Programs the launcher (launcher.c) runs for running domains. */
enum helper_kind {
        HELPER_GUID,            /* the domain's windows (gui-launch.c) */
        HELPER_VCHAN_MUX,       /* a QEMU guest's data vchans (mux-launch.c) */
        _HELPER_KIND_MAX,
};

/* What the launcher's children need, set before it forks. */
struct launcher_config {
        const char *runtime_dir;
        char *guid_program;             /* NULL: no guid */
        const char *display;
        uid_t guid_uid;                 /* 0 keeps ours (qubesd not root) */
        char *mux_program;              /* NULL: no odyssey-vchan-mux */
};

typedef void (*helper_exec_fn)(const struct launcher_config *c, uint32_t domid, char **args,
                                         size_t n_args);

struct qubesd {
        sd_event *event;
        char *admin_socket_path;
        char *bus_socket_path;
        char *db_path;
        char *state_dir;
        char *runtime_dir;
        char *agents_dir;
        enum system_bus_mode system_bus_mode;
        char *admin_group;              /* may use the private socket besides root */
        uint64_t spin_usec;

        struct store *store;
        struct domain_set *set;
        struct domain_run *runs[DOMAIN_QID_MAX + 1];    /* by qid */

        struct {
                const struct hal_backend_ops *ops;
                struct hal_backend *backend;
                char *address;          /* new_at()'s address; NULL for native */
        } backends[QUBESD_BACKEND_MAX];
        size_t n_backends;

        struct bus_client *bus;
        sd_event_source *bus_retry_timer;
        uint64_t bus_deadline_usec;

        int admin_fd;
        sd_event_source *admin_source;
        struct admin_client *clients;
        size_t n_clients;
        sd_event_source *client_reaper;
        struct admin_client *dead_clients;
        sd_bus *system_bus;
        gid_t admin_gid;                /* admin_group's, when it exists */
        bool have_admin_gid;
        sd_id128_t server_id;

        struct worker *worker;
        char **reserved_names;          /* creates/clones/removes in progress */
        size_t n_reserved;
        struct pending_call *shutdown_all_waiters;

        /* qrexec: see domain-wait.c, policy-link.c, dispvm.c, ask-relay.c, admin-run.c */
        struct domain_waiter *waiters;          /* until a domain runs / stops */
        sd_event_source *waiter_dispatch;
        struct bus_msg_policy_status *policy_status;    /* NULL until policyd reported */
        struct ask_agent *ask_agent;            /* NULL: none registered */
        struct ask_call *ask_calls;             /* questions waiting for the agent */
        struct qrexec_run *qrexec_runs;         /* Run calls whose data socket is open */

        /* the admin domain's qrexec agent: see admin-agent.c */
        uint32_t admin_agent_request_id;        /* our DOMAIN_CHANNEL_OPEN in flight */
        sd_event_source *admin_agent_retry;
        bool admin_agent_up;

        /* helpers of running domains: see launcher.c, gui-launch.c, mux-launch.c */
        struct launcher_config launcher_config;
        int launcher_fd;                        /* -1: no launcher */
        pid_t launcher_pid;
        char *gui_display;                      /* the admin display; NULL: no GUI */
        uid_t guid_uid;
        bool have_guid_uid;                     /* --guid-uid given */
        bool gui_missing_logged;
};

/* --- hal.c --- */
/* The running backend instance for a `backend` property value (created on first use). */
int qubesd_backend_get(struct qubesd *q, const char *kind, const struct hal_backend_ops **ret_ops,
                       struct hal_backend **ret_backend);
int qubesd_backends_open(struct qubesd *q);
void qubesd_backends_close(struct qubesd *q);

/* --- bus-link.c --- */
int bus_link_connect(struct qubesd *q, uint64_t timeout_usec);
void bus_link_close(struct qubesd *q);
/* Ask busd to open (or close) the domain's control channel. */
int bus_link_open_channel(struct qubesd *q, struct domain_run *run);
void bus_link_close_channel(struct qubesd *q, uint32_t domid);

/* --- admin-agent.c --- */
/* Fixed uids of the daemon roles (systemd/sysusers.d): base + enum bus_role. */
#define QUBESD_UID_BASE UINT32_C(64100)
/* "uid ROLE N" of the stack's roles file, else the user's uid, else fallback. */
uid_t qubesd_role_uid(const char *runtime_dir, const char *role, const char *user, uid_t fallback);
char *admin_agent_vchan_dir(const struct qubesd *q);
/* Prepare the vchan dir of the admin domain's agent and ask busd to open
 * its channel (domain 0); retried until the agent is there. */
int admin_agent_setup(struct qubesd *q);
void admin_agent_close(struct qubesd *q);
void admin_agent_on_channel_up(struct qubesd *q);
void admin_agent_on_channel_down(struct qubesd *q, int reason);
/* true when the ERROR answered our request. */
bool admin_agent_on_bus_error(struct qubesd *q, uint32_t request_id, int error);

/* --- admin-server.c --- */
int admin_server_open(struct qubesd *q);
void admin_server_close(struct qubesd *q);
/* Claim the name on the system bus; without one, an error only when required. */
int admin_system_bus_open(struct qubesd *q, bool required);
/* Attach the Admin API's objects to one bus (a client's or the system bus). */
int admin_attach_objects(struct qubesd *q, sd_bus *bus);

/* --- admin-util.c --- */
/* Fill error with the Admin1 name for r (prop_check's and the model's errors). */
int admin_error_from_errno(sd_bus_error *error, int r, const char *message);
int admin_errorf(sd_bus_error *error, const char *name, const char *format, ...) _printf_(3, 4);
int admin_error_reply(sd_bus_message *m, const char *name, const char *format, ...) _printf_(3, 4);
const char *admin_type_signature(enum prop_type t);
const char *admin_type_name(enum prop_type t);
/* Append a canonical text value as its D-Bus type (basic, or a variant). */
int admin_append_value(sd_bus_message *reply, const struct prop_def *p, const char *text, bool as_variant);
/* Read one value (a variant of the property's type or "s" text when as_variant,
 * else the bare type) into its text form for prop_check. */
int admin_read_value(sd_bus_message *m, const struct prop_def *p, bool as_variant, char *buf, size_t size);
char *admin_domain_path(const char *name);
/* Signals: sent on every client bus. */
void admin_emit_manager_signal(struct qubesd *q, const char *member, const char *types, ...);
void admin_emit_property_changed(struct qubesd *q, const struct domain *d, const struct prop_def *p);
void admin_emit_domain_properties_changed(struct qubesd *q, const struct domain *d, const char *property);
void admin_emit_tags_changed(struct qubesd *q, const struct domain *d);
void admin_emit_features_changed(struct qubesd *q, const struct domain *d);
void admin_emit_domain_added(struct qubesd *q, const struct domain *d);
void admin_emit_domain_removed(struct qubesd *q, const char *name);
/* Reply to and free a list of pending calls. */
void pending_calls_reply(struct pending_call **list, const char *error_name, const char *message);
int pending_call_add(struct pending_call **list, sd_bus_message *m);
void pending_calls_free(struct pending_call **list);
int admin_append_domain_all(sd_bus_message *reply, struct qubesd *q, const struct domain *d);
int admin_append_strv(sd_bus_message *reply, char **strv, size_t n);
int admin_append_features(sd_bus_message *reply, const struct domain *d);
int admin_append_default_properties(sd_bus_message *reply, struct qubesd *q, const struct domain *d);

/* --- admin-manager.c / admin-domain.c --- */
extern const sd_bus_vtable admin_manager_vtable[];
int admin_domain_vtable_build(void);
const sd_bus_vtable *admin_domain_vtable(void);
int admin_domain_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                      sd_bus_error *error);
int admin_domain_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error);
/* Set or reset one property with all the checks, store first, then memory, then signals. */
int admin_domain_set_property(struct qubesd *q, struct domain *d, const struct prop_def *p, const char *untrusted_text,
                              sd_bus_error *error);

/* --- lifecycle.c / lifecycle-start.c --- */
struct domain_run *domain_run_get(struct qubesd *q, struct domain *d);
void domain_run_free(struct qubesd *q, struct domain *d);
void domain_run_free_config(struct domain_run *run);
void domain_set_state(struct qubesd *q, struct domain *d, enum power_state state);
/* Start with everything it takes; m (may be NULL) is answered when Running or failed. */
int lifecycle_start(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error);
int lifecycle_shutdown(struct qubesd *q, struct domain *d, uint32_t timeout_sec, bool wait, sd_bus_message *m,
                       sd_bus_error *error);
int lifecycle_kill(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error);
int lifecycle_pause(struct qubesd *q, struct domain *d, bool pause, sd_bus_message *m, sd_bus_error *error);
int lifecycle_shutdown_all(struct qubesd *q, uint32_t timeout_sec, sd_bus_message *m, sd_bus_error *error);
void lifecycle_autostart(struct qubesd *q);
int lifecycle_rediscover(struct qubesd *q);
/* From the backend or busd. */
void lifecycle_on_backend_event(void *userdata, const char *name, enum power_state state, int reason);
void lifecycle_on_channel_up(struct qubesd *q, uint32_t domid);
void lifecycle_on_channel_down(struct qubesd *q, uint32_t domid, int reason);
void lifecycle_on_channel_error(struct qubesd *q, uint32_t request_id, int error, const char *text);
void lifecycle_stopped(struct qubesd *q, struct domain *d, int reason);
/* A domain others wait for (as their netvm) is Running (ok) or failed to start. */
void lifecycle_netvm_finished(struct qubesd *q, struct domain_run *netvm, bool ok);
bool domain_is_start_time_property(const struct prop_def *p);
/* A property's effective value as text ("" when unknown or unset). */
void prop_text(struct qubesd *q, const struct domain *d, const char *name, char *buf, size_t size);
/* ...as a number; fallback when unknown, unset or not a number. */
uint32_t prop_uint(struct qubesd *q, const struct domain *d, const char *name, uint32_t fallback);

/* --- launcher.c --- */
int launcher_open(struct qubesd *q);            /* before the sandbox, after *_launch_open() */
void launcher_close(struct qubesd *q);
/* Start a helper of the domain (args: the kind's, args[0] the domain's name), or stop it. */
int launcher_start(struct qubesd *q, enum helper_kind kind, uint32_t domid, const char *const *args,
                   size_t n_args);
void launcher_stop(struct qubesd *q, enum helper_kind kind, uint32_t domid);
/* In a helper's child: signals, mask and fds reset, parent-death signal set. */
void helper_reset_process(void);
/* ...then its identity: 0 or -errno. */
int helper_become(uid_t uid, gid_t gid, const gid_t *extra_gid);

/* --- gui-launch.c --- */
int gui_launch_open(struct qubesd *q);          /* before the launcher forks */
void gui_launch_close(struct qubesd *q);
/* Should this start of d run gui-agent and get a guid (feature gui, a display, native)? */
bool gui_launch_wanted(struct qubesd *q, const struct domain *d, const struct hal_backend_ops *ops);
void gui_launch_domain_started(struct qubesd *q, struct domain *d, struct domain_run *run);
void gui_launch_domain_stopped(struct qubesd *q, struct domain *d);
_Noreturn void gui_exec(const struct launcher_config *c, uint32_t domid, char **args, size_t n_args);

/* --- mux-launch.c --- */
int mux_launch_open(struct qubesd *q);          /* before the launcher forks */
void mux_launch_close(struct qubesd *q);
bool mux_launch_wanted(const struct domain_run *run);   /* its backend carries data vchans over a mux */
void mux_launch_domain_started(struct qubesd *q, struct domain *d, struct domain_run *run);
void mux_launch_domain_stopped(struct qubesd *q, struct domain *d);
_Noreturn void mux_exec(const struct launcher_config *c, uint32_t domid, char **args, size_t n_args);
/* <run>/vchan/<name>: where a domain's vchans are met (busd's broker). */
void domain_vchan_dir(struct qubesd *q, const struct domain *d, char *buf, size_t size);
/* <state>/domains/<name>[/sub] */
char *domain_dir(struct qubesd *q, const char *name, const char *sub);
/* The directory with the domain's own root tree, when it has one (NULL otherwise). */
char *domain_own_root(struct qubesd *q, const struct domain *d);

/* --- domain-files.c --- */
bool qubesd_name_reserved(struct qubesd *q, const char *name);
int qubesd_reserve_name(struct qubesd *q, const char *name);
void qubesd_release_name(struct qubesd *q, const char *name);
int domain_create(struct qubesd *q, sd_bus_message *m, const char *name, const char *klass, sd_bus_error *error);
int domain_clone(struct qubesd *q, sd_bus_message *m, const char *source, const char *name, sd_bus_error *error);
int domain_remove(struct qubesd *q, sd_bus_message *m, const char *name, sd_bus_error *error);
/* Commit a new domain (store, set, DomainAdded); answers m (if any) with its path.  Takes d. */
int domain_commit_new(struct qubesd *q, struct domain *d, sd_bus_message *m, sd_bus_error *error);

/* --- domain-wait.c: things to do once a domain runs or stops, never from
 * inside the lifecycle's own callbacks (dispatched from a defer source) --- */
/* error 0 (Running / stopped) or -errno, with a message on failure. */
typedef void (*domain_wait_fn)(struct qubesd *q, const char *name, int error, const char *message,
                               void *userdata);
/* fn once `name` is Running (error if its start fails) / once it is Halted or gone. */
int domain_wait_running(struct qubesd *q, const char *name, domain_wait_fn fn, void *userdata);
int domain_wait_stopped(struct qubesd *q, const char *name, domain_wait_fn fn, void *userdata);
/* Remove `name` (a DispVM) once it is halted. */
int domain_wait_remove(struct qubesd *q, const char *name);
/* From domain_set_state(): wakes the waiters, tells policyd, cleans up runs and disposables. */
void domain_state_changed(struct qubesd *q, struct domain *d, enum power_state old_state);
void domain_waiters_free(struct qubesd *q);

/* --- policy-link.c: system info, policy status and requests of qrexec-policyd --- */
void policy_link_on_message(struct qubesd *q, const struct bus_message *msg);
/* DOMAIN_INFO of one domain / of every domain (a global or a template changed). */
void policy_link_domain_changed(struct qubesd *q, const struct domain *d);
void policy_link_all_changed(struct qubesd *q);
void policy_link_domain_removed(struct qubesd *q, const char *name);
void policy_link_free(struct qubesd *q);
int admin_method_get_policy_status(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* --- dispvm.c --- */
/* Create DispVM disp<N> from `template_name` ("" = default_dispvm), start it;
 * done(name) once it runs, or the error. */
typedef void (*dispvm_done_fn)(struct qubesd *q, int error, const char *name, const char *message,
                               void *userdata);
int dispvm_create(struct qubesd *q, const char *untrusted_template, dispvm_done_fn done, void *userdata,
                  sd_bus_error *error);
/* DispVMs left halted (by a crash of qubesd): removed at start-up. */
void dispvm_remove_leftovers(struct qubesd *q);
int admin_method_create_disposable(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* --- ask-relay.c --- */
int admin_method_register_ask_agent(sd_bus_message *m, void *userdata, sd_bus_error *error);
int admin_method_unregister_ask_agent(sd_bus_message *m, void *userdata, sd_bus_error *error);
void ask_relay_on_request(struct qubesd *q, const struct bus_message *msg);
/* An Admin API connection went away: its agent (if any) with it. */
void ask_relay_bus_gone(struct qubesd *q, sd_bus *bus);
void ask_relay_free(struct qubesd *q);

/* --- admin-run.c --- */
int admin_method_run(sd_bus_message *m, void *userdata, sd_bus_error *error);
void admin_run_on_terminated(struct qubesd *q, const struct bus_message *msg);
/* The domain's channel went down or it stopped: its data sockets go. */
void admin_run_domain_gone(struct qubesd *q, uint32_t domid);
/* busd refused a QREXEC_EXEC of ours: true when request_id was one. */
bool admin_run_on_bus_error(struct qubesd *q, uint32_t request_id, int error, const char *text);
void admin_run_free(struct qubesd *q);

/* --- template-build.c --- */
int template_build(struct qubesd *q, const char *name, const char *suite, const char *label, sd_bus_error *error);
