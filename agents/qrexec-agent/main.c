/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-agent: publishes the control channel (vchan server on port 512
 * towards domain 0; socket backend from $VCHAN_DOMAIN and $VCHAN_SOCKET_DIR,
 * as Qubes' socket emulation has it), says HELLO, then in one poll() loop:
 *   - EXEC_CMDLINE / JUST_EXEC: a process per connection (connection.c);
 *   - the local trigger socket: qrexec-client-vm's requests go out as
 *     TRIGGER_SERVICE3 with ident SOCKET<fd>; SERVICE_CONNECT writes the
 *     exec_params to that client, SERVICE_REFUSED closes it;
 *   - CONNECTION_TERMINATED after every connection (a per-connection
 *     process exited, or a connected client-vm closed its socket).
 * Nothing in the loop waits for one call.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "service.h"
#include "trigger.h"
#include "util.h"

#define AGENT_RING_SIZE 4096    /* as Qubes' agent asks */
#define DEFAULT_AGENT_SOCKET "/var/run/qubes/qrexec-agent"

enum slot_kind { SLOT_FREE, SLOT_EXEC, SLOT_TRIGGER_READING, SLOT_TRIGGER_PENDING, SLOT_TRIGGER_CONNECTED };

struct slot {
        enum slot_kind kind;
        pid_t pid;                      /* SLOT_EXEC */
        struct trigger_request trigger; /* SLOT_TRIGGER_* */
        bool client_gone;               /* pending client closed: keep its fd (its ident) until answered */
        uint32_t connect_domain, port;
};

static struct slot slots[AGENT_MAX_CONNECTIONS];
static struct control control;
static char own_service_dir[PATH_MAX];

void agent_log(const char *fmt, ...) {
        va_list ap;

        fputs("qrexec-agent: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static struct slot *slot_new(void) {
        for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                if (slots[i].kind == SLOT_FREE)
                        return &slots[i];
        return NULL;
}

static void slot_free(struct slot *s) {
        if (s->kind >= SLOT_TRIGGER_READING) {
                close(s->trigger.fd);
                trigger_request_done(&s->trigger);
        }
        *s = (struct slot) { .kind = SLOT_FREE };
}

static struct slot *slot_by_client_fd(int fd) {
        for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                if (slots[i].kind == SLOT_TRIGGER_PENDING && slots[i].trigger.fd == fd)
                        return &slots[i];
        return NULL;
}

static void send_terminated(uint32_t domain, uint32_t port) {
        uint8_t msg[QREXEC_HEADER_SIZE + 8];
        int n = qrexec_encode_connection_terminated(msg, sizeof(msg), domain, port);

        if (n < 0 || control_send(&control, msg, (size_t) n) < 0)
                agent_log("cannot report the end of the connection to domain %u port %u",
                          (unsigned) domain, (unsigned) port);
}

static void handle_exec(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        struct qrexec_exec exec;
        struct slot *s;
        pid_t pid;

        if (qrexec_decode_exec(hdr, untrusted_payload, &exec) < 0) {
                agent_log("ignoring a malformed %s", qrexec_msg_type_to_string(hdr->type));
                return;
        }
        s = slot_new();
        if (!s) {
                agent_log("too many connections, dropping a request");
                send_terminated(exec.connect_domain, exec.connect_port);
                return;
        }
        pid = connection_start(&exec, own_service_dir[0] ? own_service_dir : NULL, getpid());
        if (pid < 0) {
                agent_log("cannot start a connection: %s", strerror((int) -pid));
                send_terminated(exec.connect_domain, exec.connect_port);
                return;
        }
        *s = (struct slot) { .kind = SLOT_EXEC, .pid = pid, .connect_domain = exec.connect_domain,
                             .port = exec.connect_port };
}

static void handle_service_connect(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        struct qrexec_exec exec;
        uint8_t params[8];
        struct slot *s;
        int fd;

        if (qrexec_decode_exec(hdr, untrusted_payload, &exec) < 0 || (fd = trigger_ident_fd(exec.ident)) < 0 ||
            !(s = slot_by_client_fd(fd))) {
                agent_log("ignoring SERVICE_CONNECT for no pending request");
                return;
        }
        s->connect_domain = exec.connect_domain;
        s->port = exec.connect_port;
        le32_store(params, exec.connect_domain);
        le32_store(params + 4, exec.connect_port);
        if (s->client_gone || write(fd, params, sizeof(params)) != (ssize_t) sizeof(params)) {
                /* Nobody will serve the port: free it now. */
                send_terminated(s->connect_domain, s->port);
                slot_free(s);
                return;
        }
        s->kind = SLOT_TRIGGER_CONNECTED;
}

static void handle_service_refused(const uint8_t *untrusted_payload, uint32_t len) {
        char ident[QREXEC_IDENT_SIZE];
        struct slot *s;
        int fd;

        if (qrexec_decode_service_refused(untrusted_payload, len, ident) < 0 ||
            (fd = trigger_ident_fd(ident)) < 0 || !(s = slot_by_client_fd(fd)))
                return;
        slot_free(s);           /* the client reads EOF: refused */
}

void agent_dispatch(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload) {
        switch (hdr->type) {
        case QREXEC_MSG_EXEC_CMDLINE:
        case QREXEC_MSG_JUST_EXEC:
                handle_exec(hdr, untrusted_payload);
                return;
        case QREXEC_MSG_SERVICE_CONNECT:
                handle_service_connect(hdr, untrusted_payload);
                return;
        case QREXEC_MSG_SERVICE_REFUSED:
                handle_service_refused(untrusted_payload, hdr->len);
                return;
        default:
                agent_log("ignoring %s", qrexec_msg_type_to_string(hdr->type) ?: "an unknown message");
        }
}

static void reap_children(int sigfd) {
        struct signalfd_siginfo si;
        pid_t pid;

        while (read(sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                ;
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
                for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                        if (slots[i].kind == SLOT_EXEC && slots[i].pid == pid) {
                                send_terminated(slots[i].connect_domain, slots[i].port);
                                slot_free(&slots[i]);
                                break;
                        }
}

static void accept_clients(int listen_fd) {
        for (;;) {
                struct slot *s;
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0)
                        return;
                s = slot_new();
                if (!s) {
                        agent_log("too many connections, refusing a local request");
                        close(fd);
                        continue;
                }
                s->kind = SLOT_TRIGGER_READING;
                trigger_request_init(&s->trigger, fd);
        }
}

static void client_event(struct slot *s) {
        uint8_t *msg = NULL, junk[256];
        size_t len;
        ssize_t n;
        int r;

        switch (s->kind) {
        case SLOT_TRIGGER_READING:
                r = trigger_request_read(&s->trigger);
                if (r == 0)
                        return;
                if (r > 0)
                        r = trigger_request_forward(&s->trigger, &msg, &len);
                if (r < 0) {
                        if (r != -EPIPE)
                                agent_log("dropping a bad local request: %s", strerror(-r));
                        slot_free(s);
                        return;
                }
                trigger_request_done(&s->trigger);
                s->kind = SLOT_TRIGGER_PENDING;
                r = control_send(&control, msg, len);
                free(msg);
                if (r < 0)
                        slot_free(s);
                return;
        case SLOT_TRIGGER_PENDING:
        case SLOT_TRIGGER_CONNECTED:
                /* Nothing more is expected from the client but its end. */
                n = read(s->trigger.fd, junk, sizeof(junk));
                if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
                        return;
                if (s->kind == SLOT_TRIGGER_PENDING) {
                        s->client_gone = true;
                        return;
                }
                send_terminated(s->connect_domain, s->port);
                slot_free(s);
                return;
        default:
                return;
        }
}

static void notify_ready(void) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len;
        int fd;

        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return;
        strcpy(sa.sun_path, path);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0';
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        (void) sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sa, len);
        close(fd);
        unsetenv("NOTIFY_SOCKET");
}

static void find_own_service_dir(void) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n <= 0)
                return;
        exe[n] = '\0';
        snprintf(own_service_dir, sizeof(own_service_dir), "%s/qubes-rpc", dirname(exe));
}

static int serve(int listen_fd, int sigfd) {
        static struct pollfd pfd[3 + AGENT_MAX_CONNECTIONS];
        static struct slot *owner[3 + AGENT_MAX_CONNECTIONS];

        for (;;) {
                int nfds = 0, r;

                r = control_receive(&control);
                if (r == -EPIPE) {
                        agent_log("control channel closed");
                        return 0;
                }
                if (r < 0)
                        return r;

                pfd[nfds++] = (struct pollfd) { .fd = vchan_fd_for_select(control.v), .events = POLLIN };
                pfd[nfds++] = (struct pollfd) { .fd = sigfd, .events = POLLIN };
                pfd[nfds++] = (struct pollfd) { .fd = listen_fd, .events = POLLIN };
                for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                        if (slots[i].kind >= SLOT_TRIGGER_READING && !slots[i].client_gone) {
                                owner[nfds] = &slots[i];
                                pfd[nfds++] = (struct pollfd) { .fd = slots[i].trigger.fd, .events = POLLIN };
                        }
                if (poll(pfd, (nfds_t) nfds, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pfd[0].revents) {
                        r = vchan_wait(control.v);
                        if (r < 0)
                                return r;
                }
                if (pfd[1].revents)
                        reap_children(sigfd);
                if (pfd[2].revents)
                        accept_clients(listen_fd);
                for (int k = 3; k < nfds; k++)
                        if (pfd[k].revents && owner[k]->kind >= SLOT_TRIGGER_READING)
                                client_event(owner[k]);
        }
}

static void help(void) {
        printf("Usage: qrexec-agent [OPTIONS]\n"
               "The qrexec agent of an Odyssey domain: serves the domain's control channel\n"
               "(vchan port %d towards domain 0) from $VCHAN_DOMAIN and $VCHAN_SOCKET_DIR,\n"
               "runs the services the admin side asks for and forwards local requests.\n\n"
               "  --agent-socket=PATH       local trigger socket (default %s)\n"
               "  --home-base=DIR           where users' homes are created (default /home)\n"
               "  --switch-users            run each service and command as the user it names\n"
               "                            (from the domain's passwd; the agent runs as root),\n"
               "                            refusing (125) a user that does not exist\n"
               "  --service-path=DIRS       where services are looked up (':'-separated;\n"
               "                            default $QREXEC_SERVICE_PATH, else Qubes' path)\n"
               "  --admin                   serve the admin domain (dom0): services run as this\n"
               "                            process's user, only from the service path, and the\n"
               "                            channel is published again whenever busd closes it\n"
               "  --vchan-dir=DIR           with --admin: the admin domain's vchan directory\n"
               "                            (default $ODYSSEY_RUNTIME_DIR/vchan/dom0,\n"
               "                            else /run/qubes/vchan/dom0)\n"
               "  --fork-server-socket=PATH accepted for Qubes compatibility; unused\n"
               "  --no-fork-server          accepted for Qubes compatibility; unused\n"
               "  -h, --help                this text\n",
               QREXEC_VCHAN_BASE_PORT, DEFAULT_AGENT_SOCKET);
}

/* --admin: who we are, where our channel lives; the environment carries
 * the vchan endpoint to the per-connection processes. */
static int setup_admin(const char *vchan_dir) {
        _cleanup_free_ char *default_dir = NULL;
        const char *runtime = getenv("ODYSSEY_RUNTIME_DIR");
        struct passwd *pw = getpwuid(getuid());
        char uid_name[16];

        /* A uid without a passwd entry (a dev stack's) is named by its number. */
        snprintf(uid_name, sizeof(uid_name), "%u", (unsigned) getuid());
        if (!vchan_dir) {
                if (asprintf(&default_dir, "%s/vchan/dom0", runtime && *runtime ? runtime : "/run/qubes") < 0)
                        return -ENOMEM;
                vchan_dir = default_dir;
        }
        if (vchan_dir[0] != '/') {
                agent_log("--vchan-dir needs an absolute path");
                return -EINVAL;
        }
        service_set_admin(pw ? pw->pw_name : uid_name, pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
        if (setenv("VCHAN_DOMAIN", "0", 1) < 0 || setenv("VCHAN_SOCKET_DIR", vchan_dir, 1) < 0)
                return -errno;
        own_service_dir[0] = '\0';    /* domains' services are not the admin's */
        return 0;
}

/* Publish the control channel and wait for busd's HELLO. */
static int publish(struct vchan **ret, uint32_t *ret_version) {
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = -1,              /* $VCHAN_DOMAIN */
                .remote_domid = 0,
                .port = QREXEC_VCHAN_BASE_PORT,
                .socket_dir = NULL,             /* $VCHAN_SOCKET_DIR */
        };
        struct vchan *ctrl = NULL;
        int r;

        /* The socket backend makes the file mode 0666 (busd is neither its
         * owner nor in its group); the directory (busd's, 0770 with our
         * group) is what keeps everyone else out. */
        r = vchan_server_init(&ep, AGENT_RING_SIZE, AGENT_RING_SIZE, &ctrl);
        if (r < 0) {
                agent_log("cannot publish the control channel: %s", strerror(-r));
                return r;
        }
        r = agent_handshake(ctrl, ret_version);
        if (r < 0) {
                agent_log("handshake failed: %s", strerror(-r));
                vchan_close(ctrl);
                return r;
        }
        *ret = ctrl;
        return 0;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_AGENT_SOCKET = 0x100, ARG_FORK_SERVER_SOCKET, ARG_NO_FORK_SERVER, ARG_HOME_BASE,
                ARG_SERVICE_PATH, ARG_ADMIN, ARG_VCHAN_DIR, ARG_SWITCH_USERS,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "agent-socket", required_argument, NULL, ARG_AGENT_SOCKET },
                { "fork-server-socket", required_argument, NULL, ARG_FORK_SERVER_SOCKET },
                { "no-fork-server", no_argument, NULL, ARG_NO_FORK_SERVER },
                { "home-base", required_argument, NULL, ARG_HOME_BASE },
                { "service-path", required_argument, NULL, ARG_SERVICE_PATH },
                { "admin", no_argument, NULL, ARG_ADMIN },
                { "vchan-dir", required_argument, NULL, ARG_VCHAN_DIR },
                { "switch-users", no_argument, NULL, ARG_SWITCH_USERS },
                {},
        };
        const char *agent_socket = DEFAULT_AGENT_SOCKET, *vchan_dir = NULL;
        _cleanup_close_ int listen_fd = -1, sigfd = -1;
        bool admin = false, ready = false, switch_users = false;
        struct vchan *ctrl = NULL;
        uint32_t version;
        sigset_t mask;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_AGENT_SOCKET:
                        agent_socket = optarg;
                        break;
                case ARG_FORK_SERVER_SOCKET:
                case ARG_NO_FORK_SERVER:
                        break;
                case ARG_HOME_BASE:
                        if (optarg[0] != '/') {
                                agent_log("--home-base needs an absolute path");
                                return 2;
                        }
                        service_set_home_base(optarg);
                        break;
                case ARG_SERVICE_PATH:
                        if (setenv("QREXEC_SERVICE_PATH", optarg, 1) < 0)
                                return 1;
                        break;
                case ARG_ADMIN:
                        admin = true;
                        break;
                case ARG_VCHAN_DIR:
                        vchan_dir = optarg;
                        break;
                case ARG_SWITCH_USERS:
                        switch_users = true;
                        break;
                default:
                        return 2;
                }
        if (optind != argc) {
                agent_log("unexpected argument '%s' (see --help)", argv[optind]);
                return 2;
        }
        if (vchan_dir && !admin) {
                agent_log("--vchan-dir is for --admin (a domain's agent takes $VCHAN_SOCKET_DIR)");
                return 2;
        }
        if (switch_users && (admin || geteuid() != 0)) {
                agent_log("--switch-users needs a domain's agent running as root");
                return 2;
        }
        service_set_switch_users(switch_users);

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0) {
                agent_log("signalfd: %m");
                return 1;
        }
        find_own_service_dir();
        if (admin && setup_admin(vchan_dir) < 0)
                return 1;

        /* The admin domain's agent outlives busd: a restarted busd opens the
         * channel again.  A domain's agent ends with its channel. */
        do {
                r = publish(&ctrl, &version);
                if (r < 0)
                        return 1;
                /* Only after hello, as Qubes' agent: a trigger before would go
                 * nowhere.  The admin domain takes no triggers. */
                if (!admin && listen_fd < 0) {
                        listen_fd = trigger_listen(agent_socket);
                        if (listen_fd < 0)
                                agent_log("no local trigger socket at %s: %s", agent_socket,
                                          strerror(-listen_fd));
                }
                if (!ready)
                        notify_ready();
                ready = true;

                r = control_init(&control, ctrl, version);
                if (r >= 0)
                        r = serve(listen_fd, sigfd);
                control_done(&control);
                vchan_close(ctrl);
                ctrl = NULL;
                if (r < 0)
                        agent_log("control channel: %s", strerror(-r));
        } while (admin);
        if (listen_fd >= 0)
                (void) unlink(agent_socket);
        return r < 0 ? 1 : 0;
}
