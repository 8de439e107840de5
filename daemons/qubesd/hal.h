/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Hypervisor Abstraction Layer: how qubesd drives an isolation provider.
 * A domain's `backend` property names one: "native" or "libvirt:URI"
 * (daemons/qubesd/libvirt/).  Every operation is asynchronous: it returns 0 once
 * under way (or -errno at once) and reports its result through a callback on
 * qubesd's sd-event loop; state changes that nobody asked for (a domain that
 * exits or crashes) come through the backend's event callback.  Nothing here
 * may block qubesd's loop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "domain.h"
#include "vchan.h"

/* The native backend's host uids and gids of domain domid (= qid): its init
 * runs with the uid and gid map "0 BASE RANGE", BASE = hal_native_uid_base().
 * The own root tree of a TemplateVM/StandaloneVM is owned in that range. */
#define HAL_NATIVE_UID_BASE  UINT32_C(100000)
#define HAL_NATIVE_UID_RANGE UINT32_C(65536)

static inline uint32_t hal_native_uid_base(uint32_t domid) {
        return HAL_NATIVE_UID_BASE + domid * HAL_NATIVE_UID_RANGE;
}

/* What a backend needs to run a domain, resolved by qubesd from the properties. */
struct hal_domain_config {
        const char *name;
        uint32_t domid;                 /* = qid */
        const char *uuid;
        enum domain_class klass;
        const char *template_root;      /* root tree of the template (read-only in the
                                         * domain); "/" = the host's own /usr and /etc */
        const char *own_root;           /* TemplateVM/StandaloneVM: its own writable root tree,
                                         * used instead of template_root; NULL otherwise */
        const char *private_dir;        /* persistent volume: /rw and /home in the domain */
        bool volatile_private;          /* DispVM: private_dir is discarded at stop */
        uint32_t memory_mb;
        uint32_t maxmem_mb;             /* 0 = same as memory */
        uint32_t vcpus;
        bool debug;
        const char *default_user;
        const char *vchan_dir;          /* host dir of this domain's vchans; the native
                                         * backend makes it appear as /run/vchan inside,
                                         * the libvirt one puts its ports' sockets there */
        const char *agents_dir;         /* host dir with odyssey-init and the agents;
                                         * appears read-only as /run/odyssey/agents inside */
        const char *agents;             /* which of them odyssey-init starts, ':'-separated;
                                         * NULL = "qrexec-agent" */
        /* Virtual machine backends only (libvirt); the native backend ignores them. */
        const char *virt_mode;          /* "pv", "pvh", "hvm"; NULL = the backend's choice */
        const char *kernel;             /* direct kernel boot: host path of the kernel... */
        const char *initrd;             /* ...its initramfs (may be NULL)... */
        const char *kernel_cmdline;     /* ...and its command line (may be NULL) */
        const char *disk_image;         /* a bootable raw disk image instead (may be NULL) */
        const char *network;            /* libvirt network of its interface; NULL = none */
        const char *mac;                /* that interface's MAC; NULL = libvirt's choice */
};

struct hal_domain_info {
        const char *name;
        uint32_t domid;
        enum power_state state;
        uint64_t start_time_usec;       /* CLOCK_REALTIME */
};

struct hal_backend;

/* The result of one operation. */
typedef void (*hal_done_fn)(void *userdata, int result);
/* A domain's state changed on its own (exited, crashed) or by an operation;
 * reason: 0 normal, -errno or 128+signal for crashes. */
typedef void (*hal_event_fn)(void *userdata, const char *name, enum power_state state, int reason);
/* One running/paused domain found by hal_list(). */
typedef void (*hal_list_fn)(void *userdata, const struct hal_domain_info *info);

struct hal_backend_ops {
        const char *kind;               /* "native", "libvirt" */
        int (*new)(sd_event *event, const char *runtime_dir, const char *state_dir, hal_event_fn on_event,
                   void *userdata, struct hal_backend **ret);
        /* Backends reached at an address (libvirt: what follows "libvirt:" in the
         * `backend` value), one instance per address; NULL when not addressed. */
        int (*new_at)(sd_event *event, const char *address, const char *runtime_dir, const char *state_dir,
                      hal_event_fn on_event, void *userdata, struct hal_backend **ret);
        void (*free)(struct hal_backend *b);
        /* Synchronous: what this backend is already running (after a qubesd restart). */
        int (*list)(struct hal_backend *b, hal_list_fn fn, void *userdata);
        /* Done when the domain runs (its init is up; the agent's hello is qubesd's
         * business through busd). */
        int (*start)(struct hal_backend *b, const struct hal_domain_config *cfg, hal_done_fn done,
                     void *userdata);
        /* Clean shutdown; after timeout_sec, kill.  Done when stopped. */
        int (*shutdown)(struct hal_backend *b, const char *name, uint32_t timeout_sec, hal_done_fn done,
                        void *userdata);
        int (*kill)(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata);
        int (*pause)(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata);
        int (*unpause)(struct hal_backend *b, const char *name, hal_done_fn done, void *userdata);
        /* How busd reaches the domain's control channel (port 512): socket and xen,
         * the vchan dir; virtio, the dir holding virtio.<domid>.<port>.sock (the
         * vchan dir too on the libvirt backend). */
        int (*control_channel)(struct hal_backend *b, const char *name, enum vchan_backend *ret_backend,
                               char *ret_dir, size_t dir_size);
        /* Backends whose guests reach the host through one port per channel
         * (virtio-serial): the host UNIX socket of the port that carries the
         * data vchans (mux-launch.c); NULL or -EOPNOTSUPP when the data vchans
         * need no carrier. */
        int (*mux_socket)(struct hal_backend *b, const char *name, char *ret_path, size_t path_size);
        /* Memory of all the domain's processes, kB of PSS; -ENOENT when not running. */
        int (*memory_kb)(struct hal_backend *b, const char *name, uint64_t *ret_kb);
};

extern const struct hal_backend_ops hal_native_ops;
extern const struct hal_backend_ops hal_libvirt_ops;

/* Look a backend kind up by the `backend` property's value ("native", "libvirt:..."). */
const struct hal_backend_ops *hal_find(const char *backend);
