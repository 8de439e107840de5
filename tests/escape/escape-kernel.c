/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attempts on the kernel's own interfaces: keyrings, bpf, userfaultfd,
 * perf_event_open, io_uring, kexec and modules, reboot, swap, the kernel
 * log, I/O ports, the clock, process accounting, raw and packet sockets, the
 * x32 and i386 ABIs, and device nodes.  Dangerous calls are made with an
 * argument the kernel rejects only after its permission check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <unistd.h>

#include "escape.h"

#define X32_SYSCALL_BIT 0x40000000
#define HIGH_BITS 0xdead00000000UL

/* Close what a successful call returned, then judge it. */
static void judge_fd(const char *name, long fd, const int *walls) {
        int err = errno;

        if (fd >= 0)
                close((int) fd);
        escape_expect_refused(name, fd, err, walls);
}

static long do_join_keyring(void *arg) {
        return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "escape-battery");
}

static long do_add_key(void *arg) {
        return syscall(SYS_add_key, "user", "escape-battery", "x", 1, KEY_SPEC_PROCESS_KEYRING);
}

static void try_keyrings(void) {
        int err;
        long r;

        r = escape_in_child(do_join_keyring, NULL, &err);
        escape_expect_refused("keyctl", r, err, NULL);
        r = escape_in_child(do_add_key, NULL, &err);
        escape_expect_refused("add-key", r, err, NULL);
        /* ENOKEY would mean the keyring was searched. */
        r = syscall(SYS_request_key, "user", "escape-battery-none", NULL, 0);
        escape_expect_refused("request-key", r, errno, NULL);
}

static void try_bpf_uffd_perf(void) {
        union bpf_attr attr = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
        judge_fd("bpf-map-create", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)), NULL);

        /* User-mode-only userfaultfd needs no privilege at all in the kernel. */
        judge_fd("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY), NULL);
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        long r = dev < 0 ? -1 : ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        int err = errno;
        if (dev >= 0)
                close(dev);
        errno = err;
        judge_fd("userfaultfd-device", r, (const int[]) { EPERM, EACCES, ENOENT, 0 });

        /* A software counter on itself: allowed to anyone at perf_event_paranoid 2. */
        struct perf_event_attr pe = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof(pe),
                .config = PERF_COUNT_SW_TASK_CLOCK,
                .exclude_kernel = 1,
                .exclude_hv = 1,
        };
        judge_fd("perf-event-open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, PERF_FLAG_FD_CLOEXEC), NULL);

        struct io_uring_params params = { 0 };
        judge_fd("io-uring", syscall(SYS_io_uring_setup, 1, &params), NULL);
}

static void try_boot_and_modules(void) {
        static const uint8_t not_a_module[64];
        long r;

        /* Unknown flag bits: EINVAL comes only after CAP_SYS_BOOT. */
        r = syscall(SYS_kexec_load, 0, 0, NULL, 0x8000UL);
        escape_expect_refused("kexec-load", r, errno, NULL);
        r = syscall(SYS_kexec_file_load, -1, -1, 0, "", 0x8000UL);
        escape_expect_refused("kexec-file-load", r, errno, NULL);

        r = syscall(SYS_init_module, not_a_module, sizeof(not_a_module), "");
        escape_expect_refused("init-module", r, errno, NULL);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        r = syscall(SYS_finit_module, fd, "", 0x80000000U);
        escape_expect_refused("finit-module", r, errno, NULL);
        if (fd >= 0)
                close(fd);
        r = syscall(SYS_delete_module, "escape_battery_none", 0);
        escape_expect_refused("delete-module", r, errno, NULL);

        /* No magic numbers: EINVAL only with CAP_SYS_BOOT. */
        r = syscall(SYS_reboot, 0, 0, 0, NULL);
        escape_expect_refused("reboot", r, errno, NULL);
        r = swapon("/escape-battery-none", 0);
        escape_expect_refused("swapon", r, errno, NULL);
        r = acct("/escape-battery-none");
        escape_expect_refused("acct", r, errno, NULL);
}

static void try_host_state(void) {
        long r;

        /* The size of the kernel log buffer: answered only with CAP_SYSLOG here (dmesg_restrict). */
        r = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
        escape_expect_refused("syslog", r, errno, NULL);

        r = iopl(3);
        escape_expect_refused("iopl", r, errno, NULL);
        r = ioperm(0x80, 1, 1);
        escape_expect_refused("ioperm", r, errno, NULL);

        /* Set the clock's timezone to what it already is: harmless if allowed. */
        struct timeval now;
        struct timezone tz;
        gettimeofday(&now, &tz);
        r = settimeofday(NULL, &tz);
        escape_expect_refused("settimeofday", r, errno, NULL);
        /* An out-of-range tick: EINVAL only after CAP_SYS_TIME. */
        struct timex tx = { .modes = ADJ_TICK, .tick = 1 };
        r = adjtimex(&tx);
        escape_expect_refused("adjtimex", r, errno, NULL);
}

static void try_sockets(void) {
        static const int walls[] = { EPERM, EACCES, EAFNOSUPPORT, 0 };

        judge_fd("socket-packet", socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)), walls);
        judge_fd("socket-packet-highbits", syscall(SYS_socket, HIGH_BITS | AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL)),
                 walls);
        judge_fd("socket-raw-inet", socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), walls);
        judge_fd("socket-raw-inet6", socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6), walls);
        judge_fd("socket-raw-highbits", syscall(SYS_socket, HIGH_BITS | AF_INET, HIGH_BITS | SOCK_RAW, IPPROTO_RAW),
                 walls);
}

static long do_x32_unshare(void *arg) {
        return syscall(X32_SYSCALL_BIT | SYS_unshare, 0x10000000 /* CLONE_NEWUSER */);
}

#if defined(__x86_64__)
/* A call through the i386 entry point (int 0x80): i386 numbers. */
static long ia32_syscall1(long nr, long arg) {
        long ret = nr;
        __asm__ volatile("int $0x80" : "+a"(ret) : "b"(arg) : "memory");
        return ret;
}

static long do_ia32_unshare(void *arg) {
        long r = ia32_syscall1(310 /* i386 unshare */, 0x10000000 /* CLONE_NEWUSER */);
        if (r < 0) {
                errno = (int) -r;
                return -1;
        }
        return r;
}
#endif

static void try_foreign_abis(void) {
        static const int walls[] = { EPERM, ENOSYS, 0 };

        int err;

        long r = syscall(X32_SYSCALL_BIT | SYS_getpid);
        escape_expect_refused("x32-getpid", r, errno, walls);
        r = escape_in_child(do_x32_unshare, NULL, &err);
        escape_expect_refused("x32-unshare", r, err, walls);
#if defined(__x86_64__)
        r = ia32_syscall1(20 /* i386 getpid */, 0);
        escape_expect_refused("ia32-getpid", r < 0 ? -1 : r, r < 0 ? (int) -r : 0, walls);
        r = escape_in_child(do_ia32_unshare, NULL, &err);
        escape_expect_refused("ia32-unshare", r, err, walls);
#endif
}

static void try_mknod(void) {
        char path[512];
        long r;

        snprintf(path, sizeof(path), "%s/mem", escape_scratch_dir());
        r = mknod(path, S_IFCHR | 0600, makedev(1, 1));
        if (r == 0)
                unlink(path);
        escape_expect_refused("mknod-char", r, errno, NULL);

        snprintf(path, sizeof(path), "%s/disk", escape_scratch_dir());
        r = mknodat(AT_FDCWD, path, S_IFBLK | 0600, makedev(8, 0));
        if (r == 0)
                unlink(path);
        escape_expect_refused("mknod-block", r, errno, NULL);
}

void escape_run_kernel(const struct escape_config *c) {
        try_keyrings();
        try_bpf_uffd_perf();
        try_boot_and_modules();
        try_host_state();
        try_sockets();
        try_foreign_abis();
        try_mknod();
}
