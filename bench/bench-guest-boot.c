/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bare-QEMU baseline of libvirt_start_ratio_vs_qemu: the guest image
 * booted with a plain qemu-system-x86_64 (no libvirt), timed from QEMU's
 * start until qrexec-agent's HELLO arrives on its virtio-serial port, the
 * host side connected from the start as busd is.  Median of
 * $BENCH_GUEST_RUNS boots (default 3; each is seconds under TCG).
 *   BENCH qemu_start_s_p50 <v> s
 *   BENCH qemu_start_s_min <v> s
 * The libvirt side (libvirt_start_s_p50 and the ratio) is measured by the
 * libvirt backend's benchmark against this same figure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-boot.h"

#define MAX_RUNS 25

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

int main(void) {
        const char *env = getenv("BENCH_GUEST_RUNS");
        int runs = env ? atoi(env) : 3;
        double times[MAX_RUNS];
        char kernel[512], initrd[512];
        int r;

        if (runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "BENCH_GUEST_RUNS must be 1..%d\n", MAX_RUNS);
                return 2;
        }
        r = guest_image_build(kernel, initrd);
        if (r < 0) {
                fprintf(stderr, "cannot build the guest image: %s\n", strerror(-r));
                return 1;
        }

        for (int i = 0; i < runs; i++) {
                struct guest_vm vm;
                struct vchan *ctrl = NULL;
                uint32_t version;
                double start = guest_now();

                r = guest_vm_start(&vm, kernel, initrd, 5);
                if (r >= 0)
                        r = guest_wait_hello(&vm, 300 * 1000, &ctrl, &version);
                times[i] = guest_now() - start;
                vchan_close(ctrl);
                if (r < 0)
                        guest_console_dump(&vm);
                guest_vm_stop(&vm);
                if (r < 0) {
                        fprintf(stderr, "boot %d: no HELLO: %s\n", i + 1, strerror(-r));
                        return 1;
                }
                fprintf(stderr, "boot %d: %.2f s\n", i + 1, times[i]);
        }
        qsort(times, (size_t) runs, sizeof(times[0]), compare_double);
        printf("BENCH qemu_start_s_p50 %.3f s\n", times[runs / 2]);
        printf("BENCH qemu_start_s_min %.3f s\n", times[0]);
        return 0;
}
