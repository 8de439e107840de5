/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real qrexec-agent (domain 5) in a temp dir, with the test playing the
 * admin side of its control channel (domain 0), as busd does: the vchan dir,
 * a service dir on QREXEC_SERVICE_PATH, users' homes under a private base,
 * the trigger socket for qrexec-client-vm.  Meant for checked fixtures.
 */
#pragma once

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "qrexec.h"
#include "vchan.h"

#define AGENT_DOMID 5

extern char agent_dir[64];              /* the temp dir */
extern char agent_vchan_dir[PATH_MAX];  /* <dir>/vchan */
extern char agent_service_dir[PATH_MAX];/* <dir>/rpc */
extern char agent_home_base[PATH_MAX];  /* <dir>/home */
extern char agent_trigger[PATH_MAX];    /* <dir>/agent.sock */

extern const char *agent_extra_option;  /* one more option for the agent, or NULL */

void agent_setup(void);                 /* temp dir, agent started, HELLO both ways */
void agent_teardown(void);

/* A file in the service dir (mode 0755) with this text. */
void agent_add_service(const char *name, const char *text);

/* A memfd holding `text` (read from its start); and the whole content of one. */
int memfd_with(const char *text);
char *memfd_text(int fd);               /* malloc'd, NUL-terminated */

/* Send EXEC_CMDLINE or JUST_EXEC {connect_domain 0, port, cmdline}. */
void agent_send_exec(uint32_t type, int port, const char *cmdline);
void agent_send_raw(const void *msg, size_t len);

/* Next control message from the agent: header in *hdr, payload malloc'd. */
uint8_t *agent_recv(struct qrexec_hdr *hdr);
/* Wait for CONNECTION_TERMINATED {domain, port} (other messages fail the test). */
void agent_expect_terminated(uint32_t domain, uint32_t port);

struct call_result {
        int exit_code;                  /* remote exit, or -errno */
        char *out, *err;
};
/* The client end of one call on data port `port` (domain 0 serves it):
 * waits for the agent's connection, sends `input`, collects the rest. */
void agent_serve_call(int port, const char *input, struct call_result *ret);
/* The same with the input read from in_fd (taken). */
void agent_serve_call_fd(int port, int in_fd, struct call_result *ret);
/* agent_send_exec(EXEC_CMDLINE) + agent_serve_call + agent_expect_terminated. */
void agent_call(int port, const char *cmdline, const char *input, struct call_result *ret);
void call_result_done(struct call_result *r);

/* fork + exec with stdin/stdout/stderr on the given fds; the pid. */
pid_t spawn_with_stdio(char *const argv[], int in_fd, int out_fd, int err_fd);
int wait_exit_code(pid_t pid);          /* exit status, or 128+signal */
