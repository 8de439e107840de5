/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seccomp filter of every process in a native domain (DESIGN §4): a
 * denylist of the known escape routes, applied by the domain monitor to the
 * domain's init just before it execs (so every process of the domain
 * inherits it), after no_new_privs and after dropping every capability.
 * Refused: TIOCSTI and TIOCLINUX (compared on the low 32 bits of the ioctl
 * number, so high bits set do not slip past), keyctl/add_key/request_key,
 * bpf, userfaultfd, perf_event_open, ptrace, process_vm_readv/writev,
 * open_by_handle_at/name_to_handle_at, mount/umount2/pivot_root/move_mount/
 * fsopen/fsmount/fsconfig/open_tree/mount_setattr, unshare/setns, and clone/
 * clone3 with namespace flags, init_module/finit_module/delete_module,
 * kexec_load/kexec_file_load, reboot, swapon/swapoff, acct, quotactl,
 * settimeofday/clock_settime/adjtimex, iopl/ioperm, the x32 ABI and every
 * foreign architecture, socket(AF_PACKET)/raw sockets, and mknod of devices.
 * Also refused, as more of the same routes: chroot, syslog, fspick,
 * open_tree_attr, quotactl_fd, clock_adjtime, pidfd_getfd, process_madvise,
 * and io_uring (its operations run in the kernel, past the argument checks).
 * Refused calls fail with EPERM, except clone3, which fails with ENOSYS so
 * that glibc falls back to clone(), whose flags the filter can see.
 * setgroups() reports success and changes nothing (see domain-seccomp.c).
 */
#pragma once

int domain_seccomp_apply(void);
