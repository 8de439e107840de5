/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec-agent, minimal for now: publishes the control channel (vchan server
 * on port 512 towards domain 0, socket backend from $VCHAN_DOMAIN and
 * $VCHAN_SOCKET_DIR, as Qubes' socket emulation has it), says HELLO
 * (version 4), reads the admin side's HELLO, then logs and ignores the
 * requests on the channel (running services comes with qrexec, issue 4) and
 * exits 0 when the channel closes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "qrexec.h"

#define AGENT_RING_SIZE 4096    /* as Qubes' agent asks */

void agent_log(const char *fmt, ...) {
        va_list ap;

        fputs("qrexec-agent: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void help(void) {
        printf("Usage: qrexec-agent [--help]\n"
               "The qrexec agent of an Odyssey domain: serves the domain's control channel\n"
               "(vchan port %d towards domain 0) from $VCHAN_DOMAIN and $VCHAN_SOCKET_DIR.\n",
               QREXEC_VCHAN_BASE_PORT);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct vchan_endpoint ep = {
                .backend = VCHAN_SOCKET,
                .local_domid = -1,              /* $VCHAN_DOMAIN */
                .remote_domid = 0,
                .port = QREXEC_VCHAN_BASE_PORT,
                .socket_dir = NULL,             /* $VCHAN_SOCKET_DIR */
        };
        struct vchan *ctrl = NULL;
        uint32_t version;
        mode_t old_umask;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind != argc) {
                agent_log("unexpected argument '%s' (see --help)", argv[optind]);
                return 2;
        }

        /* The socket must be connectable by busd, which is neither its owner
         * nor in its group; the directory (busd's, 0770 with our group) is
         * what keeps everyone else out. */
        old_umask = umask(0);
        r = vchan_server_init(&ep, AGENT_RING_SIZE, AGENT_RING_SIZE, &ctrl);
        umask(old_umask);
        if (r < 0) {
                agent_log("cannot publish the control channel: %s", strerror(-r));
                return 1;
        }
        r = agent_handshake(ctrl, &version);
        if (r < 0) {
                agent_log("handshake failed: %s", strerror(-r));
                vchan_close(ctrl);
                return 1;
        }
        r = agent_serve(ctrl, version);
        vchan_close(ctrl);
        if (r < 0) {
                agent_log("control channel: %s", strerror(-r));
                return 1;
        }
        return 0;
}
