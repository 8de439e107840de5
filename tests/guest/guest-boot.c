/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot a QEMU guest from the Odyssey guest image; see guest-boot.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
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
        char append[128], serial[160], chardev[256], port[128], mux_chardev[256], qmp[192];
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
        snprintf(mux_chardev, sizeof(mux_chardev), "socket,id=vchanmux,path=%s,server=on,wait=off",
                 vm->mux_socket);
        snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->qmp_socket);
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
                "-chardev", mux_chardev,
                "-device", "virtserialport,bus=vser0.0,chardev=vchanmux,name=org.odyssey.vchan.mux",
                "-qmp", qmp,
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
        snprintf(vm->mux_socket, sizeof(vm->mux_socket), "%s/virtio.%d.mux.sock", vm->dir, domid);
        snprintf(vm->qmp_socket, sizeof(vm->qmp_socket), "%s/qmp.sock", vm->dir);
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

static int recv_message_by(struct vchan *ctrl, uint32_t version, double deadline, struct qrexec_hdr *hdr,
                           uint8_t *payload, size_t size) {
        uint8_t raw[QREXEC_HEADER_SIZE];
        int r;

        r = recv_by(ctrl, raw, sizeof(raw), deadline);
        if (r < 0)
                return r;
        qrexec_decode_header(raw, hdr);
        if (qrexec_check_header(hdr, QREXEC_STREAM_FROM_AGENT, version) < 0 || hdr->len > size)
                return -EPROTO;
        return hdr->len > 0 ? recv_by(ctrl, payload, hdr->len, deadline) : 0;
}

int guest_recv_message(struct vchan *ctrl, uint32_t version, int timeout_ms, struct qrexec_hdr *hdr,
                       uint8_t *payload, size_t size) {
        return recv_message_by(ctrl, version, guest_now() + timeout_ms / 1000.0, hdr, payload, size);
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
        uint8_t payload[4];
        struct vchan *v = NULL;
        int r;

        r = vchan_client_init(&ep, timeout_ms, &v);
        if (r < 0)
                return r;
        vchan_set_blocking(v, false);
        r = recv_message_by(v, 0, deadline, &hdr, payload, sizeof(payload));
        if (r < 0)
                goto fail;
        if (hdr.type != QREXEC_MSG_HELLO || hdr.len != sizeof(payload)) {
                r = -EPROTO;
                goto fail;
        }
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

        snprintf(command, sizeof(command), "tail -n 60 '%s'", vm->serial_log);
        (void) system(command);
}

/* Read from a QMP connection until a line answers the last command
 * ("return" or "error"; events come in between): 0, -EIO for an error,
 * -ETIMEDOUT, -ECONNRESET when QEMU closed it. */
static int qmp_answer(int fd, double deadline) {
        char buf[4096];
        size_t used = 0;

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                char *line, *end;
                double left = deadline - guest_now();
                ssize_t n;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) (left * 1000) + 1) <= 0)
                        continue;
                if (used == sizeof(buf) - 1)
                        used = 0;       /* a long event: we only look for the answer */
                n = read(fd, buf + used, sizeof(buf) - 1 - used);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                used += (size_t) n;
                buf[used] = '\0';
                for (line = buf; (end = strchr(line, '\n')); line = end + 1) {
                        *end = '\0';
                        if (strstr(line, "\"return\""))
                                return 0;
                        if (strstr(line, "\"error\""))
                                return -EIO;
                }
                used = strlen(line);
                memmove(buf, line, used);
        }
}

static int qmp_execute(int fd, const char *command, double deadline) {
        char line[128];
        int n = snprintf(line, sizeof(line), "{\"execute\": \"%s\"}\n", command);

        if (write(fd, line, (size_t) n) != n)
                return -EIO;
        return qmp_answer(fd, deadline);
}

int guest_vm_powerdown(struct guest_vm *vm, int timeout_ms) {
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        double deadline = guest_now() + timeout_ms / 1000.0;
        _cleanup_close_ int fd = -1;
        int r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        snprintf(address.sun_path, sizeof(address.sun_path), "%s", vm->qmp_socket);
        if (connect(fd, (struct sockaddr *) &address, sizeof(address)) < 0)
                return -errno;
        /* The greeting has no "return": qmp_capabilities' answer is the
         * first line that does. */
        r = qmp_execute(fd, "qmp_capabilities", deadline);
        if (r < 0)
                return r;
        return qmp_execute(fd, "system_powerdown", deadline);
}

int guest_vm_wait_exit(struct guest_vm *vm, int timeout_ms, int *status) {
        double deadline = guest_now() + timeout_ms / 1000.0;
        _cleanup_close_ int pidfd = -1;

        if (vm->qemu <= 0)
                return -ECHILD;
        pidfd = (int) syscall(SYS_pidfd_open, vm->qemu, 0);
        if (pidfd < 0)
                return -errno;
        for (;;) {
                struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
                double left = deadline - guest_now();
                pid_t pid = waitpid(vm->qemu, status, WNOHANG);

                if (pid == vm->qemu) {
                        vm->qemu = 0;
                        return 0;
                }
                if (pid < 0)
                        return -errno;
                if (left <= 0)
                        return -ETIMEDOUT;
                (void) poll(&pfd, 1, (int) (left * 1000) + 1);
        }
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        (void) (type == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

void guest_vm_stop(struct guest_vm *vm) {
        if (vm->qemu > 0) {
                (void) kill(vm->qemu, SIGKILL);
                (void) waitpid(vm->qemu, NULL, 0);
                vm->qemu = 0;
        }
        if (vm->dir[0])
                (void) nftw(vm->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
