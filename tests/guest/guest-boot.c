/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot a QEMU guest from the Odyssey guest image; see guest-boot.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-boot.h"
#include "qrexec.h"
#include "util.h"

double guest_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

int guest_image_build(char kernel[static 512], char initrd[static 512]) {
        char command[2048], output[400];
        int status;

        snprintf(output, sizeof(output), "%s/tests/guest/image", ODYSSEY_BUILDDIR);
        snprintf(command, sizeof(command), "'%s/tools/build-guest-image' --agents '%s/agents/bin' --output '%s'",
                 ODYSSEY_SRCDIR, ODYSSEY_BUILDDIR, output);
        status = system(command);
        if (status != 0)
                return -EIO;
        snprintf(kernel, 512, "%s/vmlinuz", output);
        snprintf(initrd, 512, "%s/initramfs.img", output);
        return access(kernel, R_OK) == 0 && access(initrd, R_OK) == 0 ? 0 : -ENOENT;
}

static void child_exec_qemu(struct guest_vm *vm, const char *kernel, const char *initrd) {
        char append[128], serial[160], chardev[256], port[128];
        /* /dev/kvm may exist without working (nested, as on the CI
         * machine): TCG unless told otherwise. */
        const char *accel = getenv("ODYSSEY_QEMU_ACCEL");
        int log_fd;

        snprintf(append, sizeof(append), "console=ttyS0 panic=-1 odyssey.domid=%d", vm->domid);
        snprintf(serial, sizeof(serial), "file:%s", vm->serial_log);
        snprintf(chardev, sizeof(chardev), "socket,id=vchan512,path=%s/virtio.%d.%d.sock,server=on,wait=off",
                 vm->dir, vm->domid, QREXEC_VCHAN_BASE_PORT);
        snprintf(port, sizeof(port), "virtserialport,bus=vser0.0,chardev=vchan512,name=org.odyssey.vchan.%d",
                 QREXEC_VCHAN_BASE_PORT);
        const char *argv[] = {
                "qemu-system-x86_64",
                "-accel", accel && *accel ? accel : "tcg",
                "-m", "256", "-smp", "1",
                "-nodefaults", "-nographic", "-no-reboot",
                "-kernel", kernel, "-initrd", initrd, "-append", append,
                "-serial", serial,
                "-device", "virtio-serial-pci,id=vser0",
                "-chardev", chardev,
                "-device", port,
                NULL,
        };

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        log_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (log_fd >= 0) {
                dup2(log_fd, STDIN_FILENO);
                dup2(log_fd, STDOUT_FILENO);
        }
        execvp(argv[0], (char **) argv);
        fprintf(stderr, "cannot run qemu-system-x86_64: %m\n");
        _exit(127);
}

int guest_vm_start(struct guest_vm *vm, const char *kernel, const char *initrd, int domid) {
        memset(vm, 0, sizeof(*vm));
        vm->domid = domid;
        snprintf(vm->dir, sizeof(vm->dir), "/tmp/odyssey-guest-XXXXXX");
        if (!mkdtemp(vm->dir))
                return -errno;
        snprintf(vm->serial_log, sizeof(vm->serial_log), "%s/serial.log", vm->dir);
        vm->qemu = fork();
        if (vm->qemu < 0)
                return -errno;
        if (vm->qemu == 0)
                child_exec_qemu(vm, kernel, initrd);
        return 0;
}

/* Non-blocking receive of exactly n bytes by the deadline. */
static int recv_by(struct vchan *v, void *buf, size_t n, double deadline) {
        for (;;) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                ssize_t got = vchan_recv(v, buf, n);
                double left;

                if (got == (ssize_t) n)
                        return 0;
                if (got != -EAGAIN)
                        return got < 0 ? (int) got : -EIO;
                left = deadline - guest_now();
                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) (left * 1000) + 1) > 0) {
                        int r = vchan_wait(v);
                        if (r < 0)
                                return r;
                }
        }
}

int guest_wait_hello(struct guest_vm *vm, int timeout_ms, struct vchan **ret, uint32_t *version) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_VIRTIO,
                .local_domid = 0,
                .remote_domid = vm->domid,
                .port = QREXEC_VCHAN_BASE_PORT,
                .socket_dir = vm->dir,
        };
        double deadline = guest_now() + timeout_ms / 1000.0;
        struct qrexec_hdr hdr;
        uint8_t raw[QREXEC_HEADER_SIZE], payload[4];
        struct vchan *v = NULL;
        int r;

        r = vchan_client_init(&ep, timeout_ms, &v);
        if (r < 0)
                return r;
        vchan_set_blocking(v, false);
        r = recv_by(v, raw, sizeof(raw), deadline);
        if (r < 0)
                goto fail;
        qrexec_decode_header(raw, &hdr);
        r = qrexec_check_header(&hdr, QREXEC_STREAM_FROM_AGENT, 0);
        if (r < 0 || hdr.type != QREXEC_MSG_HELLO || hdr.len != sizeof(payload)) {
                r = -EPROTO;
                goto fail;
        }
        r = recv_by(v, payload, sizeof(payload), deadline);
        if (r < 0)
                goto fail;
        r = qrexec_decode_hello(payload, sizeof(payload), version);
        if (r < 0) {
                r = -EPROTO;
                goto fail;
        }
        *ret = v;
        return 0;

fail:
        vchan_close(v);
        return r;
}

bool guest_console_shows(struct guest_vm *vm, const char *text, int timeout_ms) {
        double deadline = guest_now() + timeout_ms / 1000.0;

        for (;;) {
                _cleanup_free_ char *content = NULL;
                size_t size = 0;
                FILE *f = fopen(vm->serial_log, "re");

                if (f) {
                        ssize_t n = getdelim(&content, &size, '\0', f);

                        fclose(f);
                        if (n > 0 && strstr(content, text))
                                return true;
                }
                if (guest_now() > deadline)
                        return false;
                /* QEMU appends to a plain file: nothing to wait on but time. */
                (void) poll(NULL, 0, 100);
        }
}

void guest_console_dump(struct guest_vm *vm) {
        char command[256];

        snprintf(command, sizeof(command), "tail -n 25 '%s'", vm->serial_log);
        (void) system(command);
}

void guest_vm_stop(struct guest_vm *vm) {
        DIR *d;
        struct dirent *de;

        if (vm->qemu > 0) {
                (void) kill(vm->qemu, SIGKILL);
                (void) waitpid(vm->qemu, NULL, 0);
                vm->qemu = 0;
        }
        d = opendir(vm->dir);
        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void) rmdir(vm->dir);
}
