/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-stack: runs the daemons of a build tree as a private "stack" with
 * every runtime path under one root directory.
 *   ROOT/run    runtime directory ($ODYSSEY_RUNTIME_DIR): notify.sock (the
 *               launcher's sd_notify socket), stack.pids, keeper.pid, roles,
 *               and the daemons' sockets (bus.sock, admin.sock, ...)
 *   ROOT/state  state directory ($ODYSSEY_STATE_DIR)
 *   ROOT/log    NAME.log per daemon (its stdout and stderr), stack.log (the keeper)
 * `start` forks a small keeper process that starts the daemons one by one,
 * waits for each one's READY=1, then stays behind as their parent to reap
 * them and log how they ended.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"

#define STACK_UID_BASE_DEFAULT          64100
#define STACK_START_TIMEOUT_USEC        (30 * UINT64_C(1000000))
#define STACK_STOP_TIMEOUT_USEC         (10 * UINT64_C(1000000))

struct stack_daemon {
        char *name;
        char *program;          /* absolute, or relative to the build directory */
        enum bus_role role;     /* _BUS_ROLE_INVALID: no role, runs as the launcher's uid */
        char **args;            /* extra arguments (--arg), NULL-terminated */
        size_t n_args;
        bool selected;          /* to be started this time */
        bool builtin;           /* from the built-in table: skipped when not built */
};

struct stack {
        char *root;
        char *build_dir;
        char *run_dir, *state_dir, *log_dir;
        char *notify_path, *pids_path, *keeper_path, *roles_path;
        uid_t uid_base;
        uint64_t start_timeout_usec;
        uint64_t stop_timeout_usec;
        struct stack_daemon *daemons;
        size_t n_daemons;
        bool only_given;        /* --only: a selected daemon that is not built is an error */
};

/* stack-table.c: the daemons, their roles and uids */
int stack_init(struct stack *s);
void stack_done(struct stack *s);
int stack_set_root(struct stack *s, const char *root);
int stack_add_daemon(struct stack *s, const char *spec);          /* NAME=PATH[:ROLE] */
int stack_add_arg(struct stack *s, const char *spec);             /* NAME=ARG */
int stack_select(struct stack *s, const char *names);             /* "a,b" */
struct stack_daemon *stack_find(struct stack *s, const char *name);
uid_t stack_role_uid(const struct stack *s, enum bus_role role);
uid_t stack_daemon_uid(const struct stack *s, const struct stack_daemon *d);
uint64_t stack_role_ambient_caps(enum bus_role role);
char *stack_program_path(const struct stack *s, const struct stack_daemon *d);
char **stack_daemon_argv(const struct stack *s, const struct stack_daemon *d);
int stack_write_roles(const struct stack *s);
int stack_prepare_policyd(const struct stack *s);     /* its policy dir and socket dir */
void stack_strv_free(char **strv);

/* stack-pids.c: stack.pids and what became of the processes in it */
struct stack_entry {
        char name[64];
        pid_t pid;
};
int stack_read_pids(const char *path, struct stack_entry **ret, size_t *ret_n);
int stack_write_pids(const char *path, const struct stack_entry *entries, size_t n);
int stack_read_pid_file(const char *path, pid_t *ret);
int stack_write_pid_file(const char *path, pid_t pid);
bool stack_process_alive(pid_t pid);
bool stack_process_ours(const struct stack *s, pid_t pid);
int stack_proc_status_field(pid_t pid, const char *field, char *buf, size_t size);
bool stack_wait_exit(pid_t pid, uint64_t timeout_usec);
int stack_terminate(const pid_t *pids, const char *const *names, size_t n, uint64_t timeout_usec);

/* stack-start.c, stack-control.c: the commands; each returns the exit status */
int stack_start(struct stack *s);
int stack_stop(struct stack *s);
int stack_status(struct stack *s);

/* Shared bits of the spawn path. */
int stack_spawn(const struct stack *s, const struct stack_daemon *d, pid_t *ret_pid);
void stack_print_log_tail(const struct stack *s, const char *name, unsigned lines);
