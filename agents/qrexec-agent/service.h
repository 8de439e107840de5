/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one EXEC_CMDLINE / JUST_EXEC asks for, and how it is started
 * (reference qrexec.md §2.6 and §5, qrexec-interop.md): the command line's
 * parts, the service file found on the service path, its rpc-config, and
 * the spawned process.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define AGENT_USER_MAX 32

struct service_request {
        char user[AGENT_USER_MAX + 1];
        bool nogui;
        bool rpc;                       /* "QUBESRPC SERVICE+ARG SOURCE" */
        const char *command;            /* plain command (rpc == false) */
        char *descriptor;               /* SERVICE+ARG */
        char *service;                  /* SERVICE */
        const char *argument;           /* ARG, NULL when there was no '+' */
        char *source;                   /* the calling domain */
        const char *target_type;        /* admin domain only: "name" or "keyword", else NULL */
        const char *target;             /* admin domain only: the requested target */
        char *buffer;                   /* owns the strings above */
};

struct service_config {
        bool wait_for_session;
        bool skip_service_descriptor;
        bool exit_on_client_eof;
        bool exit_on_service_eof;
        char force_user[AGENT_USER_MAX + 1];
};

enum service_kind { SERVICE_EXECUTABLE, SERVICE_SOCKET };

/* Parse "USER:[nogui:]QUBESRPC SERVICE+ARG SOURCE" or "USER:COMMAND"; in
 * the admin domain only "DEFAULT:QUBESRPC SERVICE+ARG SOURCE name|keyword
 * TARGET" (Qubes' dom0 form).  -EINVAL when malformed (the caller answers 125). */
int service_request_parse(const char *untrusted_cmdline, struct service_request *ret);
void service_request_done(struct service_request *req);

/* [a-z_][a-z0-9_-]{0,31} */
bool user_name_valid(const char *name);

/* The agent serves the admin domain: every service runs as `user` (the
 * agent's own) with `home`, whatever user the call names. */
void service_set_admin(const char *user, const char *home);
bool service_is_admin(void);

/* First hit of SERVICE+ARG, then SERVICE, along $QREXEC_SERVICE_PATH (or
 * Qubes' default) followed by `own_dir`.  0 with *ret_path (malloc'd) and
 * *ret_kind; -ENOENT not found (127); other -errno unusable (125). */
int service_lookup(const struct service_request *req, const char *own_dir, char **ret_path,
                   enum service_kind *ret_kind);

/* The rpc-config of the service ($QUBES_RPC_CONFIG_PATH or Qubes' default);
 * defaults when there is none; -EINVAL when it is invalid (125). */
int service_config_load(const struct service_request *req, struct service_config *ret);

/* Parse one config file's text (exposed for tests and the fuzzer). */
int service_config_parse(const char *text, struct service_config *ret);

/* The admin domain's user's home (service_set_admin). */
const char *service_admin_home(void);

/* service-spawn.c */

/* Where users' homes are (default /home; tests point it elsewhere).  `dir`
 * must live as long as the process. */
void service_set_home_base(const char *dir);

/* --switch-users (an agent running as root in a guest, as Qubes' does):
 * each service or command runs as its user, looked up in the domain's
 * passwd.  Without it (native domains: one uid, no users to switch to) it
 * runs as the agent, with the user's name and home. */
void service_set_switch_users(bool on);
/* In the child: initgroups + setresgid + setresuid to `user`'s passwd
 * entry, checked to have stuck.  0, or -errno with *ret_why for the caller
 * (the child must then exit, never exec). */
int service_become_user(const char *user, const char **ret_why);

/* Start with stdin/stdout/stderr on the given fds (-1: /dev/null),
 * argv[1] = the argument when not empty.  Returns once the child has
 * exec'd (its pid) or could not (-errno, the child reaped; -ENOENT:
 * nothing to exec, 127 for the caller).  With --switch-users a refused
 * user's message is then on err_fd. */
pid_t service_spawn_executable(const struct service_request *req, const char *path, const char *user,
                               pid_t agent_pid, int in_fd, int out_fd, int err_fd);
/* /bin/sh -c COMMAND, same conventions. */
pid_t service_spawn_command(const struct service_request *req, const char *user, pid_t agent_pid,
                            int in_fd, int out_fd, int err_fd);
