/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See agent-harness.h. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"
#include "qrexec-stream.h"

char agent_dir[64], agent_vchan_dir[PATH_MAX], agent_service_dir[PATH_MAX], agent_home_base[PATH_MAX],
        agent_trigger[PATH_MAX];
const char *agent_extra_option;
static pid_t agent_pid;
static struct vchan *ctrl;

static void subdir(char *ret, const char *name) {
        snprintf(ret, PATH_MAX, "%s/%s", agent_dir, name);
        ck_assert_int_eq(mkdir(ret, 0755), 0);
}

static void control_handshake(void) {
        uint8_t buf[QREXEC_HEADER_SIZE + 4];
        struct qrexec_hdr hdr;
        uint32_t version;
        int n;

        ck_assert_int_eq(vchan_recv(ctrl, buf, QREXEC_HEADER_SIZE), QREXEC_HEADER_SIZE);
        qrexec_decode_header(buf, &hdr);
        ck_assert_uint_eq(hdr.type, QREXEC_MSG_HELLO);
        ck_assert_uint_eq(hdr.len, 4);
        ck_assert_int_eq(vchan_recv(ctrl, buf, 4), 4);
        ck_assert_int_eq(qrexec_decode_hello(buf, 4, &version), 0);
        ck_assert_uint_eq(version, QREXEC_PROTOCOL_VERSION);
        n = qrexec_encode_hello(buf, sizeof(buf), QREXEC_PROTOCOL_VERSION);
        ck_assert_int_eq(vchan_send(ctrl, buf, (size_t) n), n);
}

void agent_setup(void) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = AGENT_DOMID,
                .port = QREXEC_VCHAN_BASE_PORT,
        };
        char config_dir[PATH_MAX];

        signal(SIGPIPE, SIG_IGN);
        strcpy(agent_dir, "/tmp/test-qrexec-agent.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(agent_dir));
        subdir(agent_vchan_dir, "vchan");
        subdir(agent_service_dir, "rpc");
        subdir(agent_home_base, "home");
        subdir(config_dir, "rpc-config");
        snprintf(agent_trigger, sizeof(agent_trigger), "%s/run/agent.sock", agent_dir);

        agent_pid = fork();
        ck_assert_int_ge(agent_pid, 0);
        if (agent_pid == 0) {
                char socket_opt[PATH_MAX + 32], home_opt[PATH_MAX + 32];

                snprintf(socket_opt, sizeof(socket_opt), "--agent-socket=%s", agent_trigger);
                snprintf(home_opt, sizeof(home_opt), "--home-base=%s", agent_home_base);
                setenv("VCHAN_DOMAIN", "5", 1);
                setenv("VCHAN_SOCKET_DIR", agent_vchan_dir, 1);
                setenv("QREXEC_SERVICE_PATH", agent_service_dir, 1);
                setenv("QUBES_RPC_CONFIG_PATH", config_dir, 1);
                setenv("QREXEC_LEAKED", "1", 1);        /* must not reach services */
                unsetenv("NOTIFY_SOCKET");
                unsetenv("VCHAN_BACKEND");
                execl(AGENTS_BINDIR "/qrexec-agent", "qrexec-agent", socket_opt, home_opt, agent_extra_option,
                      (char *) NULL);
                _exit(99);
        }
        ep.socket_dir = agent_vchan_dir;
        ck_assert_int_eq(vchan_client_init(&ep, 30000, &ctrl), 0);
        control_handshake();
        /* The trigger socket comes after HELLO: wait for it to appear. */
        for (int i = 0; i < 3000 && access(agent_trigger, F_OK) < 0; i++)
                usleep(10000);
        ck_assert_int_eq(access(agent_trigger, F_OK), 0);
}

void agent_teardown(void) {
        char cmd[128];

        vchan_close(ctrl);              /* the agent ends when its channel closes */
        ctrl = NULL;
        if (agent_pid > 0) {
                ck_assert_int_eq(wait_exit_code(agent_pid), 0);
                agent_pid = 0;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", agent_dir);
        ck_assert_int_eq(system(cmd), 0);
}

void agent_add_service(const char *name, const char *text) {
        char path[PATH_MAX * 2];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", agent_service_dir, name);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, 0755), 0);
}

int memfd_with(const char *text) {
        int fd = memfd_create("test", MFD_CLOEXEC);
        size_t n = text ? strlen(text) : 0;

        ck_assert_int_ge(fd, 0);
        if (n)
                ck_assert_int_eq(write(fd, text, n), (ssize_t) n);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

char *memfd_text(int fd) {
        struct stat st;
        char *s;

        ck_assert_int_eq(fstat(fd, &st), 0);
        s = malloc((size_t) st.st_size + 1);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(pread(fd, s, (size_t) st.st_size, 0), st.st_size);
        s[st.st_size] = '\0';
        return s;
}

void agent_send_raw(const void *msg, size_t len) {
        ck_assert_int_eq(vchan_send(ctrl, msg, len), (ssize_t) len);
}

void agent_send_exec(uint32_t type, int port, const char *cmdline) {
        size_t size = QREXEC_HEADER_SIZE + 8 + strlen(cmdline) + 1;
        uint8_t *msg = malloc(size);
        int n;

        ck_assert_ptr_nonnull(msg);
        n = qrexec_encode_exec(msg, size, type, 0, (uint32_t) port, cmdline);
        ck_assert_int_eq(n, (int) size);
        agent_send_raw(msg, size);
        free(msg);
}

uint8_t *agent_recv(struct qrexec_hdr *hdr) {
        uint8_t raw[QREXEC_HEADER_SIZE], *payload;

        ck_assert_int_eq(vchan_recv(ctrl, raw, sizeof(raw)), QREXEC_HEADER_SIZE);
        qrexec_decode_header(raw, hdr);
        ck_assert_int_eq(qrexec_check_header(hdr, QREXEC_STREAM_FROM_AGENT, QREXEC_PROTOCOL_VERSION), 0);
        payload = malloc(hdr->len + 1);
        ck_assert_ptr_nonnull(payload);
        if (hdr->len)
                ck_assert_int_eq(vchan_recv(ctrl, payload, hdr->len), (ssize_t) hdr->len);
        return payload;
}

void agent_expect_terminated(uint32_t domain, uint32_t port) {
        struct qrexec_hdr hdr;
        uint32_t d, p;
        uint8_t *payload = agent_recv(&hdr);

        ck_assert_uint_eq(hdr.type, QREXEC_MSG_CONNECTION_TERMINATED);
        ck_assert_int_eq(qrexec_decode_connection_terminated(payload, hdr.len, &d, &p), 0);
        ck_assert_uint_eq(d, domain);
        ck_assert_uint_eq(p, port);
        free(payload);
}

void agent_serve_call(int port, const char *input, struct call_result *ret) {
        agent_serve_call_fd(port, memfd_with(input), ret);
}

void agent_serve_call_fd(int port, int in, struct call_result *ret) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET, .local_domid = 0, .remote_domid = AGENT_DOMID, .port = port,
                .socket_dir = agent_vchan_dir,
        };
        int out = memfd_with(NULL), err = memfd_with(NULL);
        struct vchan *v = NULL;
        uint32_t version;

        ck_assert_int_eq(vchan_server_init(&ep, 0, 0, &v), 0);
        while (vchan_is_open(v) == VCHAN_WAITING)
                ck_assert_int_eq(vchan_wait(v), 0);
        ck_assert_int_eq(vchan_is_open(v), VCHAN_CONNECTED);
        ck_assert_int_eq(qrexec_stream_handshake(v, 30000, &version), 0);
        ret->exit_code = qrexec_stream_run_client(v, version, in, dup(out), dup(err), NULL);
        vchan_close(v);
        ret->out = memfd_text(out);
        ret->err = memfd_text(err);
        close(out);
        close(err);
}

void agent_call(int port, const char *cmdline, const char *input, struct call_result *ret) {
        agent_send_exec(QREXEC_MSG_EXEC_CMDLINE, port, cmdline);
        agent_serve_call(port, input, ret);
        agent_expect_terminated(0, (uint32_t) port);
}

void call_result_done(struct call_result *r) {
        free(r->out);
        free(r->err);
        *r = (struct call_result) {};
}

pid_t spawn_with_stdio(char *const argv[], int in_fd, int out_fd, int err_fd) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                        _exit(98);
                signal(SIGPIPE, SIG_DFL);
                execv(argv[0], argv);
                _exit(99);
        }
        return pid;
}

int wait_exit_code(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
