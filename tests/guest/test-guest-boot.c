/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest image boots under a bare qemu-system-x86_64 (TCG, or
 * $ODYSSEY_QEMU_ACCEL) and its qrexec-agent says HELLO on the control channel through
 * the virtio vchan, the host side connecting as busd does, before the agent
 * has started.  Then the host leaves and comes back: the agent in the guest
 * notices, is started again and says HELLO on the new connection.  Prints
 * the boot time.  Slow (a TCG boot): skipped (77) unless ODYSSEY_SLOW_TESTS=1.
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-boot.h"
#include "qrexec.h"

#define BOOT_TIMEOUT_MSEC (300 * 1000)  /* TCG on a loaded 2-core machine */
#define DOMID 5

static int failures;

#define CHECK(cond, ...) do {                                   \
        if (cond)                                               \
                printf("ok: " __VA_ARGS__);                     \
        else {                                                  \
                printf("FAIL: " __VA_ARGS__);                   \
                failures++;                                     \
        }                                                       \
        printf("\n");                                           \
} while (0)

int main(void) {
        const char *slow = getenv("ODYSSEY_SLOW_TESTS");
        char kernel[512], initrd[512];
        struct guest_vm vm;
        struct vchan *ctrl = NULL;
        uint32_t version = 0;
        uint8_t hello[QREXEC_HEADER_SIZE + 4];
        double start;
        int r;

        if (!slow || strcmp(slow, "1") != 0) {
                printf("SKIP: boots a QEMU guest under TCG; run with ODYSSEY_SLOW_TESTS=1\n");
                return 77;
        }
        if (system("command -v qemu-system-x86_64 >/dev/null") != 0) {
                printf("SKIP: qemu-system-x86_64 is not installed (tools/debian-packages lists it)\n");
                return 77;
        }

        start = guest_now();
        r = guest_image_build(kernel, initrd);
        CHECK(r == 0, "tools/build-guest-image made %s (%.1f s)", initrd, guest_now() - start);
        if (r < 0)
                return 1;

        r = guest_vm_start(&vm, kernel, initrd, DOMID);
        CHECK(r == 0, "qemu-system-x86_64 started");
        if (r < 0)
                return 1;
        start = guest_now();
        r = guest_wait_hello(&vm, BOOT_TIMEOUT_MSEC, &ctrl, &version);
        CHECK(r == 0 && version == QREXEC_PROTOCOL_VERSION,
              "qrexec-agent said HELLO (version %u) on org.odyssey.vchan.512 after %.1f s of boot (%s)",
              version, guest_now() - start, r < 0 ? strerror(-r) : "ok");
        if (r < 0)
                goto out;
        printf("guest boot to agent HELLO: %.2f s\n", guest_now() - start);

        /* The admin side's HELLO, as busd sends it: the agent takes it and
         * waits for requests. */
        r = qrexec_encode_hello(hello, sizeof(hello), QREXEC_PROTOCOL_VERSION);
        CHECK(r == sizeof(hello) && vchan_send(ctrl, hello, sizeof(hello)) == sizeof(hello),
              "host HELLO sent");

        /* The host goes away: the agent sees EOF and its loop says so (the
         * console is the only way to know it noticed before the host comes
         * back), then a new host connection gets a new HELLO. */
        vchan_close(ctrl);
        ctrl = NULL;
        CHECK(guest_console_shows(&vm, "qrexec-agent exited with 0", 120 * 1000),
              "the agent in the guest noticed the host leaving and exited 0");
        start = guest_now();
        r = guest_wait_hello(&vm, 120 * 1000, &ctrl, &version);
        CHECK(r == 0, "after the host reconnected, the restarted agent said HELLO again (%.1f s, %s)",
              guest_now() - start, r < 0 ? strerror(-r) : "ok");

out:
        if (failures)
                guest_console_dump(&vm);
        vchan_close(ctrl);
        guest_vm_stop(&vm);
        printf("%s\n", failures ? "FAILED" : "PASSED");
        return failures ? 1 : 0;
}
