/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seccomp filter of a native domain (see domain-seccomp.h).  Unlike a
 * daemon's allowlist (lib/sandbox.c), a domain runs arbitrary software, so
 * this is a denylist: everything is allowed except the calls that reach past
 * the domain's namespaces or into kernel code that has no business being
 * reachable from it.  Capabilities are already gone when it is applied; the
 * filter is the second wall, for kernel bugs and for what user namespaces
 * make reachable without any capability.
 *
 * Integer arguments the kernel reads as `int` (ioctl requests, socket
 * domains and types, mknod modes) are compared on their low 32 bits only
 * (SCMP_CMP_MASKED_EQ), so garbage in the high bits cannot dodge a rule.
 */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "domain-seccomp.h"
#include "log.h"
#include "sandbox.h"

#define LOW32 UINT32_C(0xffffffff)
/* The type argument of socket() carries SOCK_NONBLOCK/SOCK_CLOEXEC above these bits. */
#define SOCKET_TYPE_MASK 0xf

/* Refused whatever their arguments. */
static const char *const domain_refused_syscalls[] = {
        /* kernel keyrings: not namespaced */
        "keyctl", "add_key", "request_key",
        /* kernel attack surface with no use in a domain */
        "bpf", "userfaultfd", "perf_event_open",
        /* io_uring performs socket/open/... on the kernel's side, where the
         * argument checks below never see them */
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        /* reading or steering other processes */
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
        /* file handles bypass the mount tree (the "shocker" escape) */
        "open_by_handle_at", "name_to_handle_at",
        /* the mount tree is fixed once the domain runs */
        "mount", "umount2", "pivot_root", "chroot",
        "move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "open_tree", "mount_setattr",
        /* namespaces are fixed too (clone is filtered by flags below) */
        "unshare", "setns",
        /* the kernel itself */
        "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
        "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
        /* the host's clock */
        "settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
        /* I/O ports */
        "iopl", "ioperm",
        NULL
};

#if defined(__x86_64__)
/* Newer than libseccomp 2.5.4's syscall table: refused by number (x86-64 only,
 * the only architecture in the filter). */
static const int domain_refused_numbers[] = {
        467,    /* open_tree_attr (Linux 6.15): open_tree() that also sets mount attributes */
};
#endif

/* Namespace flags that clone() accepts.  CLONE_NEWTIME shares its bit with the
 * exit signal in clone()'s flags and is only honoured by clone3()/unshare(),
 * both refused outright. */
static const uint64_t domain_clone_ns_flags[] = {
        CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

static int refuse_by_name(scmp_filter_ctx ctx, uint32_t action, const char *name) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return log_error_errno(EINVAL, "Unknown syscall '%s' in the domain filter", name);

        /* A call that does not exist on this architecture has a negative
         * pseudo-number; libseccomp skips it, which is what we want. */
        int r = seccomp_rule_add(ctx, action, nr, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to refuse syscall '%s'", name);
        return 0;
}

/* ioctl(fd, TIOCSTI) pushes bytes into a terminal's input queue and
 * ioctl(fd, TIOCLINUX, TIOCL_PASTESEL...) pastes a console selection: both
 * type commands into whatever reads the tty, which may be outside the domain. */
static int refuse_tty_injection(scmp_filter_ctx ctx, uint32_t action) {
        static const uint64_t requests[] = { TIOCSTI, TIOCLINUX };

        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                int r = seccomp_rule_add(ctx, action, SCMP_SYS(ioctl), 1,
                                         SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, requests[i]));
                if (r < 0)
                        return log_error_errno(r, "Failed to refuse tty injection ioctls");
        }
        return 0;
}

/* A new namespace of any kind through clone(); fork(), vfork() and threads
 * (no namespace flag) go through. */
static int refuse_clone_namespaces(scmp_filter_ctx ctx, uint32_t action) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(domain_clone_ns_flags); i++) {
                uint64_t flag = domain_clone_ns_flags[i];
                r = seccomp_rule_add(ctx, action, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
                if (r < 0)
                        return log_error_errno(r, "Failed to refuse clone() with namespace flags");
        }

        /* clone3() passes its flags in memory, out of the filter's sight.
         * ENOSYS (not EPERM) makes glibc fall back to clone(), where they are
         * visible. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0)
                return log_error_errno(r, "Failed to refuse clone3()");
        return 0;
}

/* Packet sockets see every frame of an interface; raw IP sockets forge any
 * packet.  (SOCK_RAW stays allowed for AF_NETLINK: it is netlink's ordinary
 * type, used by getifaddrs() and getaddrinfo().) */
static int refuse_raw_sockets(scmp_filter_ctx ctx, uint32_t action) {
        static const uint64_t ip_families[] = { AF_INET, AF_INET6 };
        static const uint64_t raw_types[] = { SOCK_RAW, SOCK_PACKET };
        int r;

        r = seccomp_rule_add(ctx, action, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, AF_PACKET));
        if (r < 0)
                return log_error_errno(r, "Failed to refuse packet sockets");

        for (size_t f = 0; f < ELEMENTSOF(ip_families); f++)
                for (size_t t = 0; t < ELEMENTSOF(raw_types); t++) {
                        r = seccomp_rule_add(ctx, action, SCMP_SYS(socket), 2,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, ip_families[f]),
                                             SCMP_A1(SCMP_CMP_MASKED_EQ, SOCKET_TYPE_MASK, raw_types[t]));
                        if (r < 0)
                                return log_error_errno(r, "Failed to refuse raw sockets");
                }
        return 0;
}

/* Device nodes: a domain gets the few it needs from its monitor.  FIFOs,
 * sockets and regular files made with mknod stay allowed. */
static int refuse_device_nodes(scmp_filter_ctx ctx, uint32_t action) {
        static const uint64_t device_types[] = { S_IFCHR, S_IFBLK };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(device_types); i++) {
                r = seccomp_rule_add(ctx, action, SCMP_SYS(mknod), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, device_types[i]));
                if (r < 0)
                        return log_error_errno(r, "Failed to refuse mknod() of devices");
                r = seccomp_rule_add(ctx, action, SCMP_SYS(mknodat), 1,
                                     SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, device_types[i]));
                if (r < 0)
                        return log_error_errno(r, "Failed to refuse mknodat() of devices");
        }
        return 0;
}

/* The domain's user namespace denies setgroups() (and no domain process has
 * CAP_SETGID anyway), so supplementary groups stay what the monitor left:
 * none.  Programs that run as the domain's root and call initgroups() before
 * starting a child (xterm, su-like tools) treat its failure as fatal; a
 * success that changes nothing lets them run.  The lie is harmless one way
 * only, which is the way it goes here: a process believes it has at most
 * the groups it asked for, and it has none. */
static int pretend_setgroups(scmp_filter_ctx ctx) {
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(0), SCMP_SYS(setgroups), 0);
        if (r < 0)
                return log_error_errno(r, "Failed to add the setgroups() rule");
        return 0;
}

static int domain_seccomp_build(scmp_filter_ctx ctx) {
        const uint32_t refuse = SCMP_ACT_ERRNO(EPERM);
        int r;

        /* Only the native ABI: i386 (int 0x80) and x32 calls reach the kernel by
         * other numbers than the ones listed here, so they are refused wholesale. */
        r = sandbox_native_abi_only(ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to restrict the domain filter to the native ABI");

        for (const char *const *name = domain_refused_syscalls; *name; name++) {
                r = refuse_by_name(ctx, refuse, *name);
                if (r < 0)
                        return r;
        }
#if defined(__x86_64__)
        for (size_t i = 0; i < ELEMENTSOF(domain_refused_numbers); i++) {
                r = seccomp_rule_add(ctx, refuse, domain_refused_numbers[i], 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to refuse syscall %d", domain_refused_numbers[i]);
        }
#endif

        r = refuse_tty_injection(ctx, refuse);
        if (r < 0)
                return r;
        r = refuse_clone_namespaces(ctx, refuse);
        if (r < 0)
                return r;
        r = refuse_raw_sockets(ctx, refuse);
        if (r < 0)
                return r;
        r = refuse_device_nodes(ctx, refuse);
        if (r < 0)
                return r;
        return pretend_setgroups(ctx);
}

int domain_seccomp_apply(void) {
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return log_error_errno(ENOMEM, "Failed to allocate the domain's seccomp filter");

        r = domain_seccomp_build(ctx);
        if (r < 0)
                goto finish;

        /* Every thread of the caller, should it have any. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r < 0) {
                log_error_errno(r, "Failed to ask for thread synchronisation");
                goto finish;
        }

        /* libseccomp sets no_new_privs itself (SCMP_FLTATR_CTL_NNP, on by
         * default); without it an unprivileged process cannot load a filter. */
        r = seccomp_load(ctx);
        if (r < 0)
                log_error_errno(r, "Failed to load the domain's seccomp filter");

finish:
        seccomp_release(ctx);
        return r;
}
