/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data phase of one qrexec connection over its data vchan (reference
 * qrexec.md §2.9), for both ends:
 *   - the client end (qrexec-client-vm in a domain, `qubes-ctl run` in the
 *     admin domain): HELLO, sends its stdin as DATA_STDIN, writes what comes
 *     back as DATA_STDOUT / DATA_STDERR, ends with the remote EXIT_CODE;
 *   - the service end (qrexec-agent): HELLO, feeds DATA_STDIN to the service,
 *     sends its stdout/stderr, then STDERR-EOF and EXIT_CODE last.
 * Every message from the peer is checked (qrexec_check_header with the data
 * stream's rules: type valid for the direction, length bounded); a peer that
 * breaks the protocol ends the connection with -EBADMSG, never a crash.
 * Functions return -errno; no global state, so one process may run many
 * connections (each with its own vchan) from its own event loop.
 *
 * The run functions own the local fds they are given: each is closed when
 * its stream ends (that is how EOF reaches a local reader or writer), and
 * all are closed on return.  Pass dup()s of stdio to keep it.  Output fds
 * are made non-blocking while in use and restored before closing.  SIGPIPE
 * is blocked while they run (a vanished local reader is EPIPE, not death).
 * Every function leaves the vchan in blocking mode.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vchan.h"

/* HELLO both ways on a freshly connected data vchan; the negotiated version
 * (2..4) in *ret_version.  Blocking, bounded by timeout_ms (-1: none). */
int qrexec_stream_handshake(struct vchan *v, int timeout_ms, uint32_t *ret_version);

struct qrexec_client_options {
        bool replace_escapes_stdout;    /* -t: non-printable bytes become '_' */
        bool replace_escapes_stderr;    /* -T */
        const void *prefix_data;        /* -p DATA: sent before stdin; NULL = none */
        size_t prefix_len;
};

/*
 * Client end.  Sends in_fd (EOF → empty DATA_STDIN; in_fd < 0 = no input,
 * EOF at once), writes DATA_STDOUT to out_fd and DATA_STDERR to err_fd
 * (either < 0 = discard), until EXIT_CODE arrives and the peer's output is
 * drained.  Returns the remote exit status (0..255; a short EXIT_CODE payload
 * = 255), or -errno when the connection broke before EXIT_CODE (callers map
 * that to 255, as qrexec-client-vm does).
 */
int qrexec_stream_run_client(struct vchan *v, uint32_t version, int in_fd, int out_fd, int err_fd,
                             const struct qrexec_client_options *opts);

/*
 * Service end, after the service was spawned with its stdin/stdout/stderr on
 * the given fds (err_fd < 0: a socket service, STDERR-EOF is sent at once).
 * Pumps until stdin, stdout and stderr are closed and `child` has exited
 * (child <= 0: nothing to wait for, exit code 0), then sends STDERR-EOF (if
 * not yet) and EXIT_CODE last.  Returns 0 or -errno.
 */
int qrexec_stream_run_service(struct vchan *v, uint32_t version, int in_fd, int out_fd, int err_fd,
                              pid_t child);

/* The same with the rpc-config options of socket services (in_fd == out_fd
 * is allowed: a connected socket; stdin EOF then shuts down its write side). */
enum {
        QREXEC_STREAM_EXIT_ON_CLIENT_EOF  = 1 << 0,     /* end when the client's stdin ends */
        QREXEC_STREAM_EXIT_ON_SERVICE_EOF = 1 << 1,     /* end when the service's output ends */
};
int qrexec_stream_run_service_flags(struct vchan *v, uint32_t version, int in_fd, int out_fd,
                                    int err_fd, pid_t child, unsigned flags);

/* Service end, when the service could not be started: STDOUT-EOF,
 * STDERR-EOF, EXIT_CODE `code` (127 not found, 125 other). */
int qrexec_stream_refuse(struct vchan *v, uint32_t version, int code);
