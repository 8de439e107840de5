/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QEMU guest booted from tools/build-guest-image's kernel + initramfs with
 * a bare qemu-system-x86_64 (no libvirt), its qrexec control channel on a
 * virtio-serial port, for the guest test and the boot benchmark.
 *
 * The QEMU arguments are the contract with the libvirt backend: one
 * virtio-serial controller; the control channel (vchan port 512) is a
 * virtserialport named org.odyssey.vchan.512 whose chardev is a UNIX socket
 * QEMU serves (server=on,wait=off) at DIR/virtio.<domid>.512.sock; every
 * other vchan of the guest goes through odyssey-vchan-mux on the
 * virtserialport org.odyssey.vchan.mux, socket DIR/virtio.<domid>.mux.sock.
 * The power button is QMP's system_powerdown on DIR/qmp.sock (libvirt's
 * virDomainShutdown presses the same ACPI button).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "qrexec.h"
#include "vchan.h"

struct guest_vm {
        pid_t qemu;
        int domid;
        char dir[64];           /* sockets and logs, removed by guest_vm_stop() */
        char serial_log[128];
        char mux_socket[100];   /* the host side of org.odyssey.vchan.mux */
        char qmp_socket[100];   /* fits a sockaddr_un */
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

/* The next message the agent sends on the control channel (negotiated
 * `version`), its payload (at most size bytes) in payload: 0, -ETIMEDOUT,
 * -EPROTO for a message the strict checks refuse or larger than size. */
int guest_recv_message(struct vchan *ctrl, uint32_t version, int timeout_ms, struct qrexec_hdr *hdr,
                       uint8_t *payload, size_t size);

/* Does the guest's serial console show `text` within timeout_ms? */
bool guest_console_shows(struct guest_vm *vm, const char *text, int timeout_ms);
void guest_console_dump(struct guest_vm *vm);      /* the last lines, for a failure */

/* Press the ACPI power button (QMP system_powerdown): 0 once QEMU took the
 * command, -errno. */
int guest_vm_powerdown(struct guest_vm *vm, int timeout_ms);

/* Wait up to timeout_ms for QEMU to exit on its own: 0 (and its wait
 * status), -ETIMEDOUT. */
int guest_vm_wait_exit(struct guest_vm *vm, int timeout_ms, int *status);

/* Kill QEMU if it still runs, remove DIR and all in it. */
void guest_vm_stop(struct guest_vm *vm);
double guest_now(void);                             /* monotonic seconds */
