/* SPDX-License-Identifier: GPL-2.0-or-later */
/* odyssey-stack stop and status. */
#include <stdio.h>

#include "log.h"
#include "stack.h"

#define STATUS_EXIT_NOT_RUNNING 3

int stack_stop(struct stack *s) {
        _cleanup_free_ struct stack_entry *entries = NULL;
        size_t n = 0, n_live = 0;
        int r;

        r = stack_read_pids(s->pids_path, &entries, &n);
        if (r == -ENOENT) {
                fprintf(stderr, "odyssey-stack: no stack running in %s\n", s->root);
                return 0;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot read %s", s->pids_path);
                return 1;
        }

        pid_t pids[n + 1];
        const char *names[n + 1];
        for (size_t i = 0; i < n; i++) {
                if (!stack_process_alive(entries[i].pid))
                        continue;
                /* A recycled pid is somebody else's process: leave it alone. */
                if (!stack_process_ours(s, entries[i].pid)) {
                        fprintf(stderr, "odyssey-stack: pid %i is no longer %s, not signalling it\n",
                                (int) entries[i].pid, entries[i].name);
                        continue;
                }
                pids[n_live] = entries[i].pid;
                names[n_live++] = entries[i].name;
        }
        r = stack_terminate(pids, names, n_live, s->stop_timeout_usec);
        for (size_t i = 0; i < n_live; i++)
                printf("stopped %s (pid %i)\n", names[i], (int) pids[i]);

        /* The keeper leaves by itself once it has reaped and logged its last
         * daemon; only one that lingers is told to go. */
        pid_t keeper;
        if (stack_read_pid_file(s->keeper_path, &keeper) >= 0 && stack_process_alive(keeper) &&
            stack_process_ours(s, keeper) && !stack_wait_exit(keeper, 5 * UINT64_C(1000000))) {
                const char *name = "keeper";
                (void) stack_terminate(&keeper, &name, 1, 2 * UINT64_C(1000000));
        }

        if (r < 0) {
                log_error("Some daemons of %s survived SIGKILL; %s kept.", s->root, s->pids_path);
                return 1;
        }
        unlink(s->pids_path);
        unlink(s->keeper_path);
        unlink(s->notify_path);
        return 0;
}

int stack_status(struct stack *s) {
        _cleanup_free_ struct stack_entry *entries = NULL;
        size_t n = 0;
        bool all_running = true;
        int r;

        r = stack_read_pids(s->pids_path, &entries, &n);
        if (r == -ENOENT) {
                fprintf(stderr, "odyssey-stack: no stack in %s\n", s->root);
                return STATUS_EXIT_NOT_RUNNING;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot read %s", s->pids_path);
                return 1;
        }
        if (n == 0)
                all_running = false;

        for (size_t i = 0; i < n; i++) {
                char seccomp[16] = "?", no_new_privs[16] = "?", uid[64] = "?";
                bool running = stack_process_alive(entries[i].pid) && stack_process_ours(s, entries[i].pid);

                if (!running) {
                        all_running = false;
                        printf("%-20s %7i dead\n", entries[i].name, (int) entries[i].pid);
                        continue;
                }
                (void) stack_proc_status_field(entries[i].pid, "Seccomp", seccomp, sizeof(seccomp));
                (void) stack_proc_status_field(entries[i].pid, "NoNewPrivs", no_new_privs, sizeof(no_new_privs));
                (void) stack_proc_status_field(entries[i].pid, "Uid", uid, sizeof(uid));
                uid[strcspn(uid, " \t")] = '\0';        /* real uid only */
                printf("%-20s %7i running Seccomp=%s NoNewPrivs=%s uid=%s\n", entries[i].name,
                       (int) entries[i].pid, seccomp, no_new_privs, uid);
        }
        return all_running ? 0 : STATUS_EXIT_NOT_RUNNING;
}
