/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemons/qubesd/native/domain-seccomp.c on its own: a forked child (host
 * root, every capability, so only the filter can say no) applies
 * domain_seccomp_apply() and checks that each refused call fails with EPERM,
 * also with junk in the high bits of 32-bit arguments, and that ordinary work
 * (fork, threads, exec, files, FIFOs, AF_UNIX/AF_INET/netlink sockets, tty
 * ioctls) goes on, and that setgroups() is a no-op that reports success.
 * Every refused call is made with arguments that would be harmless should
 * the filter let it through; mounts happen in a private mount namespace made
 * before the filter.
 */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/io.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>

#include "child-check.h"
#include "domain-seccomp.h"
#include "util.h"

#define X32_SYSCALL_BIT 0x40000000UL
#define HIGH_BITS 0xdead00000000UL

/* Refused by the filter: -1 with EPERM, whatever the kernel would have said. */
extern char **environ;

static int status_field(const char *name) {
        char text[4096], key[64];
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return -1;
        text[n] = '\0';
        snprintf(key, sizeof(key), "\n%s:", name);
        const char *p = strstr(text, key);
        return p ? atoi(p + strlen(key)) : -1;
}

/* A pty pair: the slave in *ret_slave. */
static int open_pty(int *ret_slave) {
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return -1;
        *ret_slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        return *ret_slave < 0 ? -1 : master;
}

/* clone() with flags; a child that appears exits at once. */
static long raw_clone(unsigned long flags) {
        long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, __WALL);
        return pid;
}

/* Everything the contract in domain-seccomp.h lists. */
static void check_refused_calls(const char *dir, pid_t sleeper) {
        char path[PATH_MAX], new_root[PATH_MAX], put_old[PATH_MAX];
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int slave, master = open_pty(&slave);
        CHILD_CHECK(null_fd >= 0 && master >= 0);

        /* tty injection, with the request also carrying junk above bit 31 */
        CHILD_CHECK_EPERM(ioctl(slave, TIOCSTI, NULL));
        CHILD_CHECK_EPERM(ioctl(slave, TIOCLINUX, NULL));
        CHILD_CHECK_EPERM(syscall(SYS_ioctl, slave, HIGH_BITS | TIOCSTI, NULL));
        CHILD_CHECK_EPERM(syscall(SYS_ioctl, slave, HIGH_BITS | TIOCLINUX, NULL));

        /* keyrings, bpf, userfaultfd, perf, io_uring */
        CHILD_CHECK_EPERM(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0));
        CHILD_CHECK_EPERM(syscall(SYS_add_key, "user", "test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
        CHILD_CHECK_EPERM(syscall(SYS_request_key, "user", "test-none", NULL, 0));
        union bpf_attr map = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
        CHILD_CHECK_EPERM(syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof(map)));
        CHILD_CHECK_EPERM(syscall(SYS_userfaultfd, O_CLOEXEC));
        struct perf_event_attr pe = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(pe),
                                      .config = PERF_COUNT_SW_TASK_CLOCK, .exclude_kernel = 1 };
        CHILD_CHECK_EPERM(syscall(SYS_perf_event_open, &pe, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
        struct io_uring_params params = {};
        CHILD_CHECK_EPERM(syscall(SYS_io_uring_setup, 1, &params));
        CHILD_CHECK_EPERM(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
        CHILD_CHECK_EPERM(syscall(SYS_io_uring_register, -1, 0, NULL, 0));

        /* other processes */
        char byte;
        struct iovec local = { &byte, 1 }, remote = { (void *) 0x1000, 1 };
        CHILD_CHECK_EPERM(ptrace(PTRACE_ATTACH, sleeper, NULL, NULL));
        CHILD_CHECK_EPERM(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
        CHILD_CHECK_EPERM(process_vm_readv(sleeper, &local, 1, &remote, 1, 0));
        CHILD_CHECK_EPERM(process_vm_writev(sleeper, &local, 1, &remote, 1, 0));
        CHILD_CHECK_EPERM(syscall(SYS_pidfd_getfd, -1, 0, 0));
        CHILD_CHECK_EPERM(syscall(SYS_process_madvise, -1, NULL, 0, 0, 0));

        /* file handles */
        struct {
                struct file_handle h;
                unsigned char bytes[MAX_HANDLE_SZ];
        } handle = { .h = { .handle_bytes = MAX_HANDLE_SZ } };
        int mount_id;
        CHILD_CHECK_EPERM(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &handle.h, &mount_id, 0));
        CHILD_CHECK_EPERM(syscall(SYS_open_by_handle_at, AT_FDCWD, &handle.h, O_RDONLY));

        /* the mount tree (in this child's private mount namespace) */
        snprintf(new_root, sizeof(new_root), "%s/new-root", dir);
        snprintf(put_old, sizeof(put_old), "%s/new-root/old", dir);
        CHILD_CHECK_EPERM(mount("test", dir, "tmpfs", 0, NULL));
        CHILD_CHECK_EPERM(umount2(dir, 0));
        CHILD_CHECK_EPERM(syscall(SYS_pivot_root, new_root, put_old));
        CHILD_CHECK_EPERM(chroot("/"));
        CHILD_CHECK_EPERM(syscall(SYS_move_mount, -1, "", -1, "", 0));
        CHILD_CHECK_EPERM(syscall(SYS_fsopen, "tmpfs", 0));
        CHILD_CHECK_EPERM(syscall(SYS_fsmount, -1, 0, 0));
        CHILD_CHECK_EPERM(syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
        CHILD_CHECK_EPERM(syscall(SYS_fspick, AT_FDCWD, "/", 0));
        CHILD_CHECK_EPERM(syscall(SYS_open_tree, AT_FDCWD, "/", 0));
        CHILD_CHECK_EPERM(syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
        CHILD_CHECK_EPERM(syscall(467 /* open_tree_attr */, AT_FDCWD, "/", 0, NULL, 0));

        /* namespaces */
        int uts_ns = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(uts_ns >= 0);
        CHILD_CHECK_EPERM(unshare(CLONE_NEWUTS));
        CHILD_CHECK_EPERM(unshare(0));
        CHILD_CHECK_EPERM(setns(uts_ns, 0));
        static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                                                  CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
        for (size_t i = 0; i < ELEMENTSOF(ns_flags); i++) {
                CHILD_CHECK_EPERM(raw_clone(ns_flags[i] | SIGCHLD));
                CHILD_CHECK_EPERM(raw_clone(HIGH_BITS | ns_flags[i] | SIGCHLD));
        }
        CHILD_CHECK_EPERM(raw_clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD));
        struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
        CHILD_CHECK(syscall(SYS_clone3, &args, sizeof(args)) == -1 && errno == ENOSYS);
        args.flags = 0;         /* even without flags: glibc must take the clone() path */
        CHILD_CHECK(syscall(SYS_clone3, &args, sizeof(args)) == -1 && errno == ENOSYS);

        /* the kernel itself: arguments the kernel would reject after its checks */
        static const unsigned char junk[64];
        CHILD_CHECK_EPERM(syscall(SYS_init_module, junk, sizeof(junk), ""));
        CHILD_CHECK_EPERM(syscall(SYS_finit_module, null_fd, "", 0x80000000U));
        CHILD_CHECK_EPERM(syscall(SYS_delete_module, "odyssey_test_none", 0));
        CHILD_CHECK_EPERM(syscall(SYS_kexec_load, 0, 0, NULL, 0x8000UL));
        CHILD_CHECK_EPERM(syscall(SYS_kexec_file_load, -1, -1, 0, "", 0x8000UL));
        CHILD_CHECK_EPERM(syscall(SYS_reboot, 0, 0, 0, NULL));
        CHILD_CHECK_EPERM(swapon("/odyssey-test-none", 0));
        CHILD_CHECK_EPERM(swapoff("/odyssey-test-none"));
        CHILD_CHECK_EPERM(acct("/odyssey-test-none"));
        CHILD_CHECK_EPERM(syscall(SYS_quotactl, 0, NULL, 0, NULL));
        CHILD_CHECK_EPERM(syscall(SYS_quotactl_fd, -1, 0, 0, NULL));
        CHILD_CHECK_EPERM(klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));

        /* the clock */
        struct timeval now;
        struct timezone tz;
        CHILD_CHECK(gettimeofday(&now, &tz) == 0);
        CHILD_CHECK_EPERM(settimeofday(NULL, &tz));
        struct timespec bad_ts = { .tv_sec = now.tv_sec, .tv_nsec = 2000000000L };
        CHILD_CHECK_EPERM(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad_ts)); /* glibc would check tv_nsec */
        struct timex tx = { .modes = ADJ_TICK, .tick = 1 };
        CHILD_CHECK_EPERM(adjtimex(&tx));
        CHILD_CHECK_EPERM(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));

        /* I/O ports (level 0 and "off": harmless were they allowed) */
        CHILD_CHECK_EPERM(iopl(0));
        CHILD_CHECK_EPERM(ioperm(0x80, 1, 0));

        /* packet and raw sockets, also with junk in the high bits */
        CHILD_CHECK_EPERM(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
        CHILD_CHECK_EPERM(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        CHILD_CHECK_EPERM(syscall(SYS_socket, HIGH_BITS | AF_PACKET, SOCK_RAW, 0));
        CHILD_CHECK_EPERM(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
        CHILD_CHECK_EPERM(socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW));
        CHILD_CHECK_EPERM(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
        CHILD_CHECK_EPERM(socket(AF_INET, SOCK_PACKET, 0));
        CHILD_CHECK_EPERM(syscall(SYS_socket, HIGH_BITS | AF_INET, HIGH_BITS | SOCK_RAW, IPPROTO_RAW));

        /* device nodes, also with junk above the file type bits */
        snprintf(path, sizeof(path), "%s/dev", dir);
        CHILD_CHECK_EPERM(mknod(path, S_IFCHR | 0600, makedev(1, 3)));
        CHILD_CHECK_EPERM(mknodat(AT_FDCWD, path, S_IFBLK | 0600, makedev(7, 0)));
        CHILD_CHECK_EPERM(syscall(SYS_mknod, path, 0xffff0000UL | S_IFCHR | 0600, makedev(1, 3)));
        CHILD_CHECK_EPERM(syscall(SYS_mknodat, AT_FDCWD, path, HIGH_BITS | S_IFBLK | 0600, makedev(7, 0)));

        /* the x32 ABI: same numbers with __X32_SYSCALL_BIT */
        CHILD_CHECK_EPERM(syscall(X32_SYSCALL_BIT | SYS_getpid));
        CHILD_CHECK_EPERM(syscall(X32_SYSCALL_BIT | SYS_unshare, CLONE_NEWUSER));
}

START_TEST(test_refused_calls) {
        char dir[] = "/tmp/test-domain-seccomp-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));

        pid_t sleeper = fork();
        ck_assert_int_ge(sleeper, 0);
        if (sleeper == 0) {
                pause();
                _exit(0);
        }

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char sub[PATH_MAX];

                /* Should a mount get through, it stays in here. */
                CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
                CHILD_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
                snprintf(sub, sizeof(sub), "%s/new-root", dir);
                CHILD_CHECK(mkdir(sub, 0700) == 0);
                snprintf(sub, sizeof(sub), "%s/new-root/old", dir);
                CHILD_CHECK(mkdir(sub, 0700) == 0);

                CHILD_CHECK(status_field("Seccomp") == 0);
                CHILD_CHECK(domain_seccomp_apply() == 0);
                CHILD_CHECK(status_field("Seccomp") == 2);
                CHILD_CHECK(status_field("NoNewPrivs") == 1);

                check_refused_calls(dir, sleeper);
                _exit(0);
        }
        wait_child_ok(pid);
        kill(sleeper, SIGKILL);
        waitpid(sleeper, NULL, 0);

        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/dev", dir);
        ck_assert_msg(access(sub, F_OK) < 0, "a device node was created");
        snprintf(sub, sizeof(sub), "%s/new-root/old", dir);
        ck_assert_int_eq(rmdir(sub), 0);
        snprintf(sub, sizeof(sub), "%s/new-root", dir);
        ck_assert_int_eq(rmdir(sub), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

#if defined(__x86_64__)
START_TEST(test_i386_refused) {
        pid_t pid;

        if (!i386_emulation_present()) {
                fprintf(stderr, "no i386 emulation in this kernel, nothing to refuse\n");
                return;
        }

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                CHILD_CHECK(domain_seccomp_apply() == 0);
                CHILD_CHECK(i386_getpid() == -EPERM);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST
#endif

static void *thread_main(void *arg) {
        return (void *) ((intptr_t) arg + 1);
}

/* What any program in a domain does keeps working. */
static void check_ordinary_work(const char *dir) {
        char path[PATH_MAX], buf[16];
        int status;

        /* fork() (clone without namespace flags), exit status */
        pid_t pid = fork();
        CHILD_CHECK(pid >= 0);
        if (pid == 0)
                _exit(7);
        CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7);

        /* threads: clone3 says ENOSYS and glibc falls back to clone(CLONE_THREAD...) */
        pthread_t thread;
        void *result;
        CHILD_CHECK(pthread_create(&thread, NULL, thread_main, (void *) 41) == 0);
        CHILD_CHECK(pthread_join(thread, &result) == 0 && (intptr_t) result == 42);

        /* exec through posix_spawn (vfork-style clone) */
        char *const argv[] = { (char *) "true", NULL };
        CHILD_CHECK(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0);
        CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* files, a FIFO and a regular file made by mknod */
        snprintf(path, sizeof(path), "%s/file", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHILD_CHECK(fd >= 0 && write(fd, "hello", 5) == 5 && pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0);
        close(fd);
        CHILD_CHECK(unlink(path) == 0);
        snprintf(path, sizeof(path), "%s/fifo", dir);
        CHILD_CHECK(mkfifo(path, 0600) == 0 && unlink(path) == 0);
        CHILD_CHECK(mknod(path, S_IFREG | 0600, 0) == 0 && unlink(path) == 0);

        /* sockets: AF_UNIX, AF_INET over loopback, ICMP ping sockets' SOCK_DGRAM, netlink */
        int pair[2];
        CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        CHILD_CHECK(write(pair[0], "x", 1) == 1 && read(pair[1], buf, 1) == 1 && buf[0] == 'x');
        int pending = -1;
        CHILD_CHECK(write(pair[0], "yz", 2) == 2 && ioctl(pair[1], FIONREAD, &pending) == 0 && pending == 2);
        close(pair[0]);
        close(pair[1]);

        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHILD_CHECK(server >= 0 && bind(server, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(server, 1) == 0);
        CHILD_CHECK(getsockname(server, (struct sockaddr *) &sa, &len) == 0);
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHILD_CHECK(client >= 0 && connect(client, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        int accepted = accept4(server, NULL, NULL, SOCK_CLOEXEC);
        CHILD_CHECK(accepted >= 0 && write(client, "ok", 2) == 2 && read(accepted, buf, 2) == 2);
        close(accepted);
        close(client);
        close(server);
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHILD_CHECK(fd >= 0 || errno == EAFNOSUPPORT);
        if (fd >= 0)
                close(fd);
        /* netlink's ordinary type is SOCK_RAW: getifaddrs() needs it */
        struct ifaddrs *ifa;
        CHILD_CHECK(getifaddrs(&ifa) == 0);
        freeifaddrs(ifa);

        /* tty ioctls other than injection */
        int slave, master = open_pty(&slave);
        struct termios t;
        CHILD_CHECK(master >= 0 && tcgetattr(slave, &t) == 0 && tcsetattr(slave, TCSANOW, &t) == 0);
        struct winsize ws = { .ws_row = 24, .ws_col = 80 };
        CHILD_CHECK(ioctl(master, TIOCSWINSZ, &ws) == 0);
        close(slave);
        close(master);
}

START_TEST(test_ordinary_work) {
        char dir[] = "/tmp/test-domain-seccomp-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                CHILD_CHECK(domain_seccomp_apply() == 0);
                check_ordinary_work(dir);
                _exit(0);
        }
        wait_child_ok(pid);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* setgroups() reports success and changes nothing, even for a caller (host
 * root here) that the kernel would let change its groups. */
START_TEST(test_setgroups_is_a_no_op) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                gid_t groups[4] = { 1234, 5678 };
                CHILD_CHECK(setgroups(0, NULL) == 0 && getgroups(0, NULL) == 0);
                CHILD_CHECK(domain_seccomp_apply() == 0);
                CHILD_CHECK(setgroups(2, groups) == 0);
                CHILD_CHECK(getgroups(4, groups) == 0);
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

/* The domain's init applies it after giving up every privilege: it must
 * load without any capability (libseccomp sets no_new_privs). */
START_TEST(test_applies_without_privilege) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                CHILD_CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
                CHILD_CHECK(status_field("NoNewPrivs") == 0);
                CHILD_CHECK(domain_seccomp_apply() == 0);
                CHILD_CHECK(status_field("Seccomp") == 2 && status_field("NoNewPrivs") == 1);
                CHILD_CHECK_EPERM(unshare(CLONE_NEWUSER));
                _exit(0);
        }
        wait_child_ok(pid);
}
END_TEST

static Suite *domain_seccomp_suite(void) {
        Suite *s = suite_create("domain-seccomp");
        TCase *tc = tcase_create("filter");

        tcase_add_test(tc, test_refused_calls);
#if defined(__x86_64__)
        tcase_add_test(tc, test_i386_refused);
#endif
        tcase_add_test(tc, test_ordinary_work);
        tcase_add_test(tc, test_setgroups_is_a_no_op);
        tcase_add_test(tc, test_applies_without_privilege);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(domain_seccomp_suite());

        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
