/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QEMU guest booted from tools/build-guest-image's kernel + initramfs with
 * a bare qemu-system-x86_64 (no libvirt), its qrexec control channel on a
 * virtio-serial port, for the guest test and the boot benchmark.
 *
 * The QEMU arguments (guest_qemu_argv()) are the contract with the libvirt
 * backend: one virtio-serial controller, and per vchan port P a
 * virtserialport named org.odyssey.vchan.P whose chardev is a UNIX socket
 * QEMU serves (server=on,wait=off) at DIR/virtio.<domid>.P.sock.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "vchan.h"

struct guest_vm {
        pid_t qemu;
        int domid;
        char dir[64];           /* sockets and logs, removed by guest_vm_stop() */
        char serial_log[128];
};

/* Build (or take from the cache) the image for the agents of this build
 * tree; fills the paths of its kernel and initramfs.  0 or -errno. */
int guest_image_build(char kernel[static 512], char initrd[static 512]);

/* Start QEMU on that image, domain domid, control channel on port 512;
 * accelerator $ODYSSEY_QEMU_ACCEL (default tcg). */
int guest_vm_start(struct guest_vm *vm, const char *kernel, const char *initrd, int domid);

/* As busd would: connect to the control channel and read the agent's HELLO
 * within timeout_ms.  0 with the channel and the agent's version, -ETIMEDOUT,
 * -EPROTO for anything but a well-formed HELLO. */
int guest_wait_hello(struct guest_vm *vm, int timeout_ms, struct vchan **ret, uint32_t *version);

/* Does the guest's serial console show `text` within timeout_ms? */
bool guest_console_shows(struct guest_vm *vm, const char *text, int timeout_ms);
void guest_console_dump(struct guest_vm *vm);      /* the last lines, for a failure */

void guest_vm_stop(struct guest_vm *vm);
double guest_now(void);                             /* monotonic seconds */
