/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One data connection (EXEC_CMDLINE or JUST_EXEC), in a process of its own
 * so the agent's loop never waits for a call: find and start the service,
 * connect the data vchan as client to (connect_domain, port), HELLO, then
 * the data phase (protocol/qrexec-stream.h).  The agent learns the end from
 * SIGCHLD and reports CONNECTION_TERMINATED.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "qrexec-stream.h"
#include "service.h"
#include "util.h"
#include "vchan-socket.h"

#define DATA_CONNECT_TIMEOUT_MSEC (120 * 1000)  /* as Qubes' agent */

static struct vchan *data_connect(const struct qrexec_exec *exec, uint32_t *ret_version) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = -1,                      /* $VCHAN_DOMAIN */
                .remote_domid = (int) exec->connect_domain,
                .port = (int) exec->connect_port,
        };
        struct vchan *v = NULL;
        int r;

        r = vchan_client_init(&ep, DATA_CONNECT_TIMEOUT_MSEC, &v);
        if (r < 0) {
                agent_log("data vchan to domain %u port %u: %s", (unsigned) exec->connect_domain,
                          (unsigned) exec->connect_port, strerror(-r));
                return NULL;
        }
        r = qrexec_stream_handshake(v, DATA_CONNECT_TIMEOUT_MSEC, ret_version);
        if (r < 0) {
                agent_log("data vchan handshake: %s", strerror(-r));
                vchan_close(v);
                return NULL;
        }
        return v;
}

#define REFUSAL_TEXT_MAX 1024

/* Nothing was started: the client still gets its answer, with what a
 * child that gave up wrote to its stderr (err_fd, taken; -1: none). */
static int answer_refusal(const struct qrexec_exec *exec, int code, int err_fd) {
        uint8_t msg[QREXEC_HEADER_SIZE + REFUSAL_TEXT_MAX];
        char text[REFUSAL_TEXT_MAX];
        ssize_t n = 0;
        uint32_t version;
        struct vchan *v;
        int r = 0;

        /* Every writer is gone (the child exited): this never blocks. */
        if (err_fd >= 0) {
                n = read(err_fd, text, sizeof(text));
                close(err_fd);
        }
        v = data_connect(exec, &version);
        if (!v)
                return 1;
        if (n > 0) {
                int len = qrexec_encode_data(msg, sizeof(msg), QREXEC_MSG_DATA_STDERR, text, (size_t) n);

                r = len < 0 ? len : vchan_write_full(v, msg, (size_t) len);
        }
        if (r >= 0)
                r = qrexec_stream_refuse(v, version, code);
        vchan_close(v);
        return r < 0 ? 1 : 0;
}

static int answer_only(const struct qrexec_exec *exec, int code) {
        return answer_refusal(exec, code, -1);
}

static void wait_for_session(const struct service_request *req, const char *own_dir, const char *user,
                             pid_t agent_pid) {
        struct service_request session = *req;
        _cleanup_free_ char *path = NULL;
        char name[] = "qubes.WaitForSession";
        enum service_kind kind;
        pid_t pid;

        session.descriptor = session.service = name;
        session.argument = NULL;
        if (service_lookup(&session, own_dir, &path, &kind) < 0 || kind != SERVICE_EXECUTABLE)
                return;
        pid = service_spawn_executable(&session, path, user, agent_pid, -1, -1, -1);
        if (pid > 0)
                (void) waitpid(pid, NULL, 0);
}

static int serve_socket(const struct qrexec_exec *exec, const struct service_request *req,
                        const struct service_config *config, const char *path) {
        _cleanup_free_ char *descriptor = NULL;
        struct vchan *v;
        uint32_t version;
        unsigned flags = 0;
        int fd, r;

        fd = vchan_socket_connect_path(path);
        if (fd < 0) {
                agent_log("socket service %s: %s", path, strerror(-fd));
                return answer_only(exec, QREXEC_EXIT_PROBLEM);
        }
        if (!config->skip_service_descriptor) {
                if (asprintf(&descriptor, "%s %s", req->descriptor, req->source) < 0 ||
                    write_full(fd, descriptor, strlen(descriptor) + 1) < 0) {
                        close(fd);
                        return answer_only(exec, QREXEC_EXIT_PROBLEM);
                }
        }
        v = data_connect(exec, &version);
        if (!v) {
                close(fd);
                return 1;
        }
        if (config->exit_on_client_eof)
                flags |= QREXEC_STREAM_EXIT_ON_CLIENT_EOF;
        if (config->exit_on_service_eof)
                flags |= QREXEC_STREAM_EXIT_ON_SERVICE_EOF;
        r = qrexec_stream_run_service_flags(v, version, fd, fd, -1, 0, flags);
        vchan_close(v);
        return r < 0 ? 1 : 0;
}

static int serve(const struct qrexec_exec *exec, const char *own_dir, pid_t agent_pid) {
        bool just_exec = exec->type == QREXEC_MSG_JUST_EXEC;
        struct service_request req = {};
        struct service_config config = {};
        _cleanup_free_ char *path = NULL;
        enum service_kind kind = SERVICE_EXECUTABLE;
        const char *user;
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
        struct vchan *v;
        uint32_t version;
        pid_t child;
        int r;

        r = service_request_parse(exec->cmdline, &req);
        if (r < 0) {
                agent_log("refusing a malformed command line");
                return answer_only(exec, QREXEC_EXIT_PROBLEM);
        }
        if (req.rpc) {
                r = service_lookup(&req, own_dir, &path, &kind);
                if (r < 0) {
                        agent_log("service %s: %s", req.descriptor, r == -ENOENT ? "not found" : strerror(-r));
                        service_request_done(&req);
                        return answer_only(exec, r == -ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND
                                                              : QREXEC_EXIT_PROBLEM);
                }
                r = service_config_load(&req, &config);
                if (r < 0) {
                        agent_log("service %s: invalid rpc-config", req.descriptor);
                        service_request_done(&req);
                        return answer_only(exec, QREXEC_EXIT_PROBLEM);
                }
        }
        /* A native domain's agent cannot switch users: the command runs as
         * the agent, with the requested user's name and home.  The admin
         * domain's services always run as the agent's own user. */
        user = config.force_user[0] && !service_is_admin() ? config.force_user : req.user;
        if (config.wait_for_session && !req.nogui)
                wait_for_session(&req, own_dir, user, agent_pid);

        if (req.rpc && kind == SERVICE_SOCKET && !just_exec) {
                r = serve_socket(exec, &req, &config, path);
                service_request_done(&req);
                return r;
        }

        if (!just_exec && (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)) {
                service_request_done(&req);
                return answer_only(exec, QREXEC_EXIT_PROBLEM);
        }
        if (req.rpc && kind == SERVICE_SOCKET)
                child = -EOPNOTSUPP;    /* JUST_EXEC of a socket service: nothing to start */
        else if (req.rpc)
                child = service_spawn_executable(&req, path, user, agent_pid, in[0], out[1], err[1]);
        else
                child = service_spawn_command(&req, user, agent_pid, in[0], out[1], err[1]);
        if (child < 0)
                agent_log("cannot start %s as user %s: %s", req.rpc ? req.descriptor : "a command", user,
                          strerror((int) -child));
        service_request_done(&req);
        if (in[0] >= 0) {
                close(in[0]);
                close(out[1]);
                close(err[1]);
        }
        if (child < 0 || just_exec) {
                if (in[0] >= 0) {
                        close(in[1]);
                        close(out[0]);
                }
                return answer_refusal(exec, child == -ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND
                                            : child < 0      ? QREXEC_EXIT_PROBLEM
                                                             : 0,
                                      err[0]);
        }

        v = data_connect(exec, &version);
        if (!v) {
                kill(child, SIGTERM);
                return 1;
        }
        r = qrexec_stream_run_service(v, version, in[1], out[0], err[0], child);
        vchan_close(v);
        if (r < 0) {
                agent_log("connection to domain %u port %u: %s", (unsigned) exec->connect_domain,
                          (unsigned) exec->connect_port, strerror(-r));
                return 1;
        }
        return 0;
}

pid_t connection_start(const struct qrexec_exec *exec, const char *own_service_dir, pid_t agent_pid) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                _exit(serve(exec, own_service_dir, agent_pid));
        }
        return pid;
}
