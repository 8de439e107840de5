/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest image boots under a bare qemu-system-x86_64 (TCG, or
 * $ODYSSEY_QEMU_ACCEL) and its qrexec-agent says HELLO on the control
 * channel through the virtio vchan, the host side connecting as busd does,
 * before the agent has started.  Then the host leaves and comes back: the
 * agent in the guest notices, is started again and says HELLO on the new
 * connection.  With odyssey-vchan-mux among the agents, a command runs in
 * the guest as busd and qubesd would start it: its data vchan is a socket
 * server in the host's vchan dir of the guest, which the mux carries to the
 * guest; it runs as "user" and its output and exit code come back.  Last,
 * the ACPI power button: the agents stop and QEMU exits by itself.  Prints
 * the boot time.  Slow (a TCG boot): skipped (77) unless
 * ODYSSEY_SLOW_TESTS=1.  The console's end is printed on a failure, or
 * always with ODYSSEY_GUEST_CONSOLE=1.  Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest-boot.h"
#include "qrexec.h"
#include "qrexec-stream.h"
#include "util.h"

#define BOOT_TIMEOUT_MSEC (300 * 1000)  /* TCG on a loaded 2-core machine */
#define STEP_TIMEOUT_MSEC (120 * 1000)
#define DOMID 5
#define EXEC_PORT 513         /* host -> guest: echo hello; id -un */
#define CALLER_PORT 515       /* host -> guest: qrexec-client-vm, the call's client */
#define CALL_PORT 516         /* guest -> host: the call's data vchan */

static int failures;

#define CHECK(cond, ...) do {                                   \
        if (cond)                                               \
                printf("ok: " __VA_ARGS__);                     \
        else {                                                  \
                printf("FAIL: " __VA_ARGS__);                   \
                failures++;                                     \
        }                                                       \
        printf("\n");                                           \
        fflush(stdout);                                         \
} while (0)

static int send_hello(struct vchan *ctrl) {
        uint8_t hello[QREXEC_HEADER_SIZE + 4];
        int r = qrexec_encode_hello(hello, sizeof(hello), QREXEC_PROTOCOL_VERSION);

        return r < 0 ? r : vchan_write_full(ctrl, hello, (size_t) r);
}

/* The host side of the mux, as qubesd would run it for the guest. */
static pid_t start_host_mux(const char *mux, const char *host_dir, const char *qemu_socket) {
        char domid[16];
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        snprintf(domid, sizeof(domid), "%d", DOMID);
        execl(mux, mux, "--side", "host", "--domid", domid, "--dir", host_dir, "--connect", qemu_socket,
              (char *) NULL);
        _exit(127);
}

/* Wait until a server vchan has its client (the guest's side, through the mux). */
static int accept_by(struct vchan *v, int timeout_ms) {
        double deadline = guest_now() + timeout_ms / 1000.0;

        while (vchan_is_open(v) != VCHAN_CONNECTED) {
                struct pollfd pfd = { .fd = vchan_fd_for_select(v), .events = POLLIN };
                double left = deadline - guest_now();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) (left * 1000) + 1) > 0) {
                        r = vchan_wait(v);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* As busd + qubesd's Run: the data vchan's server in the host's dir of the
 * guest, EXEC_CMDLINE on the control channel, the guest's side connected
 * and HELLO exchanged: 0 with the stream in *ret, -errno. */
static int start_in_guest(struct vchan *ctrl, const char *host_dir, int port, const char *cmdline,
                          struct vchan **ret, uint32_t *ret_version) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = 0,
                .remote_domid = DOMID,
                .port = port,
                .socket_dir = host_dir,
        };
        uint8_t message[QREXEC_HEADER_SIZE + 8 + 512];
        struct vchan *data = NULL;
        int r;

        r = vchan_server_init(&ep, 0, 0, &data);
        if (r < 0)
                return r;
        r = qrexec_encode_exec(message, sizeof(message), QREXEC_MSG_EXEC_CMDLINE, 0, (uint32_t) port, cmdline);
        if (r >= 0)
                r = vchan_write_full(ctrl, message, (size_t) r);
        if (r >= 0)
                r = accept_by(data, STEP_TIMEOUT_MSEC);
        if (r >= 0)
                r = qrexec_stream_handshake(data, STEP_TIMEOUT_MSEC, ret_version);
        if (r < 0) {
                vchan_close(data);
                return r;
        }
        *ret = data;
        return 0;
}

/* The client end of the stream to its end: the command's exit code, its
 * stdout in out[]; -errno. */
static int finish_in_guest(struct vchan *data, uint32_t version, char *out, size_t size) {
        int pipe_fds[2], code;
        ssize_t n;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
                vchan_close(data);
                return -errno;
        }
        /* A few bytes: the pipe holds them until the stream ends. */
        code = qrexec_stream_run_client(data, version, -1, pipe_fds[1], -1, NULL);
        vchan_close(data);
        n = read(pipe_fds[0], out, size - 1);
        close(pipe_fds[0]);
        out[n > 0 ? n : 0] = '\0';
        return code;
}

/* The other way: a call from inside the guest to a service of the admin
 * side.  As busd does: take the agent's TRIGGER_SERVICE, answer
 * SERVICE_CONNECT; the guest's client then publishes its data vchan in its
 * /run/vchan, and the mux makes it appear in the host's dir, where the
 * "service" (this thread) connects and answers "pong". */
struct call {
        struct vchan *ctrl;
        const char *host_dir;
        char service[64];
        int result;
};

static int answer_call(struct call *call, struct qrexec_trigger *trigger, uint8_t *payload, size_t size) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = 0,
                .remote_domid = DOMID,
                .port = CALL_PORT,
                .socket_dir = call->host_dir,
        };
        struct qrexec_hdr hdr;
        struct vchan *data = NULL;
        uint32_t version;
        int pipe_fds[2], null_fd, r;

        /* CONNECTION_TERMINATED of the command before may come first. */
        do {
                r = guest_recv_message(call->ctrl, QREXEC_PROTOCOL_VERSION, STEP_TIMEOUT_MSEC, &hdr, payload, size);
                if (r < 0)
                        return r;
        } while (hdr.type == QREXEC_MSG_CONNECTION_TERMINATED);
        r = qrexec_decode_trigger(&hdr, payload, QREXEC_PROTOCOL_VERSION, trigger);
        if (r < 0 || trigger->refuse)
                return -EPROTO;
        snprintf(call->service, sizeof(call->service), "%.63s", trigger->service);
        r = qrexec_encode_service_connect(payload, size, 0, CALL_PORT, trigger->ident);
        if (r >= 0)
                r = vchan_write_full(call->ctrl, payload, (size_t) r);
        if (r >= 0)
                r = vchan_client_init(&ep, STEP_TIMEOUT_MSEC, &data);
        if (r < 0)
                return r;
        r = qrexec_stream_handshake(data, STEP_TIMEOUT_MSEC, &version);
        if (r < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0) {
                vchan_close(data);
                return r < 0 ? r : -errno;
        }
        (void) write(pipe_fds[1], "pong\n", 5);
        close(pipe_fds[1]);
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        r = qrexec_stream_run_service(data, version, null_fd, pipe_fds[0], -1, 0);
        vchan_close(data);
        return r;
}

static void *serve_call(void *arg) {
        struct call *call = arg;
        size_t size = QREXEC_HEADER_SIZE + QREXEC_MAX_CMD_LEN + 1;
        _cleanup_free_ struct qrexec_trigger *trigger = malloc(sizeof(*trigger));
        _cleanup_free_ uint8_t *payload = malloc(size);

        call->result = trigger && payload ? answer_call(call, trigger, payload, size) : -ENOMEM;
        return NULL;
}

static void check_exec(struct guest_vm *vm, struct vchan *ctrl) {
        char mux[600], host_dir[128], out[256] = "";
        struct vchan *data = NULL;
        uint32_t version;
        pid_t mux_pid;
        double start;
        int r;

        snprintf(mux, sizeof(mux), "%s/agents/bin/odyssey-vchan-mux", ODYSSEY_BUILDDIR);
        if (access(mux, X_OK) < 0) {
                printf("skipped: no %s, no data vchans\n", mux);
                return;
        }
        snprintf(host_dir, sizeof(host_dir), "%s/vchan", vm->dir);
        if (mkdir(host_dir, 0700) < 0) {
                CHECK(false, "mkdir %s: %s", host_dir, strerror(errno));
                return;
        }
        mux_pid = start_host_mux(mux, host_dir, vm->mux_socket);
        CHECK(mux_pid > 0, "host side of odyssey-vchan-mux started");
        if (mux_pid <= 0)
                return;

        start = guest_now();
        r = start_in_guest(ctrl, host_dir, EXEC_PORT, "user:echo hello; id -un", &data, &version);
        if (r == 0)
                r = finish_in_guest(data, version, out, sizeof(out));
        CHECK(r == 0 && strcmp(out, "hello\nuser\n") == 0,
              "'echo hello; id -un' ran in the guest as user through the mux: exit %d (%s), stdout '%s' (%.1f s)",
              r, r < 0 ? strerror(-r) : "ok", out, guest_now() - start);

        struct call call = { .ctrl = ctrl, .host_dir = host_dir, .result = -ESRCH };
        pthread_t thread;

        /* The control channel is the thread's once the command is sent. */
        start = guest_now();
        out[0] = '\0';
        r = start_in_guest(ctrl, host_dir, CALLER_PORT, "user:qrexec-client-vm @default test.Ping", &data, &version);
        if (r == 0) {
                r = -pthread_create(&thread, NULL, serve_call, &call);
                if (r == 0) {
                        r = finish_in_guest(data, version, out, sizeof(out));
                        (void) pthread_join(thread, NULL);
                } else
                        vchan_close(data);
        }
        CHECK(call.result == 0 && strcmp(call.service, "test.Ping") == 0,
              "a call from inside the guest reached the host: its data vchan appeared in the host's dir (%s)",
              call.result < 0 ? strerror(-call.result) : "ok");
        CHECK(r == 0 && strcmp(out, "pong\n") == 0,
              "qrexec-client-vm in the guest got the host service's answer: exit %d, stdout '%s' (%.1f s)", r, out,
              guest_now() - start);

        (void) kill(mux_pid, SIGTERM);
        (void) waitpid(mux_pid, NULL, 0);
}

int main(void) {
        const char *slow = getenv("ODYSSEY_SLOW_TESTS");
        char kernel[512], initrd[512];
        struct guest_vm vm;
        struct vchan *ctrl = NULL;
        uint32_t version = 0;
        double start;
        int r, status = 0;

        if (!slow || strcmp(slow, "1") != 0) {
                printf("SKIP: boots a QEMU guest under TCG; run with ODYSSEY_SLOW_TESTS=1\n");
                return 77;
        }
        if (system("command -v qemu-system-x86_64 >/dev/null") != 0) {
                printf("SKIP: qemu-system-x86_64 is not installed (tools/debian-packages lists it)\n");
                return 77;
        }
        /* A stream that never ends must not hang the suite: SIGALRM fails
         * the test, and QEMU dies with us (PR_SET_PDEATHSIG). */
        alarm(900);

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
        CHECK(send_hello(ctrl) == 0, "host HELLO sent");

        /* The host goes away: the agent sees EOF and its loop says so (the
         * console is the only way to know it noticed before the host comes
         * back), then a new host connection gets a new HELLO. */
        vchan_close(ctrl);
        ctrl = NULL;
        CHECK(guest_console_shows(&vm, "qrexec-agent exited with 0", STEP_TIMEOUT_MSEC),
              "the agent in the guest noticed the host leaving and exited 0");
        start = guest_now();
        r = guest_wait_hello(&vm, STEP_TIMEOUT_MSEC, &ctrl, &version);
        CHECK(r == 0, "after the host reconnected, the restarted agent said HELLO again (%.1f s, %s)",
              guest_now() - start, r < 0 ? strerror(-r) : "ok");
        if (r < 0)
                goto out;
        CHECK(send_hello(ctrl) == 0, "host HELLO sent again");

        check_exec(&vm, ctrl);

        /* The power button (libvirt's shutdown): acpid in the guest stops
         * the agents through odyssey-init, /init powers off, QEMU exits. */
        start = guest_now();
        r = guest_vm_powerdown(&vm, 30 * 1000);
        CHECK(r == 0, "QMP system_powerdown taken (%s)", r < 0 ? strerror(-r) : "ok");
        r = guest_vm_wait_exit(&vm, 30 * 1000, &status);
        CHECK(r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "QEMU exited by itself %.1f s after the power button (%s, status 0x%x)", guest_now() - start,
              r < 0 ? strerror(-r) : "ok", (unsigned) status);
        CHECK(guest_console_shows(&vm, "odyssey-guest: qrexec-agent stopped", 1000) &&
              guest_console_shows(&vm, "odyssey-init ended, powering off", 1000),
              "the console shows the agents stopping, then the power-off");

out:
        if (failures || getenv("ODYSSEY_GUEST_CONSOLE"))
                guest_console_dump(&vm);
        vchan_close(ctrl);
        guest_vm_stop(&vm);
        printf("%s\n", failures ? "FAILED" : "PASSED");
        return failures ? 1 : 0;
}
