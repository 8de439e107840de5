/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-init: PID 1 of a native domain.  Starts each agent named in
 * $ODYSSEY_AGENTS (':'-separated, default "qrexec-agent") from
 * /run/odyssey/agents, restarts nothing, reaps every process that ends up
 * its child, and on SIGTERM (or SIGINT) sends SIGTERM to every process of
 * the domain, waits up to a few seconds, SIGKILLs what is left and exits 0.
 * With gui-agent in the list, every agent (and so every service or command
 * qrexec-agent runs) gets DISPLAY=:0, and the agents after gui-agent start
 * once its X server accepts clients (or after GUI_WAIT_TIMEOUT seconds).
 * Plain libc only, so it links statically as well.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENTS_DIR       "/run/odyssey/agents"
#define DEFAULT_AGENTS   "qrexec-agent"
#define SHUTDOWN_TIMEOUT 3      /* seconds between SIGTERM and SIGKILL */
#define GUI_AGENT        "gui-agent"
#define GUI_DISPLAY      ":0"   /* gui-agent's Xvfb display number */
#define GUI_X_SOCKET     "/tmp/.X11-unix/X0"
#define GUI_WAIT_TIMEOUT 15     /* seconds */

static bool agent_name_valid(const char *name, size_t n) {
        if (n == 0 || n > 64 || name[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", name[i]))
                        return false;
        return true;
}

static pid_t start_agent(const char *name, size_t n) {
        sigset_t none;
        char path[sizeof(AGENTS_DIR) + 80];
        pid_t pid;

        if (!agent_name_valid(name, n)) {
                fprintf(stderr, "odyssey-init: ignoring invalid agent name '%.*s'\n", (int) n, name);
                return -1;
        }
        snprintf(path, sizeof(path), AGENTS_DIR "/%.*s", (int) n, name);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "odyssey-init: cannot start %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (pid == 0) {
                /* Our monitor started us with these blocked; agents start clean. */
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                (void) setsid();
                execl(path, path, (char *) NULL);
                fprintf(stderr, "odyssey-init: cannot execute %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        return pid;
}

static bool agents_have(const char *agents, const char *name) {
        size_t len = strlen(name);

        for (const char *p = agents; *p;) {
                size_t n = strcspn(p, ":");
                if (n == len && strncmp(p, name, n) == 0)
                        return true;
                p += n;
                if (*p == ':')
                        p++;
        }
        return false;
}

static void reap(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* Everyone but keep, whose end wait_for_x() watches. */
static void reap_others(pid_t keep) {
        siginfo_t si;

        for (;;) {
                si.si_pid = 0;
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0 || si.si_pid == keep)
                        return;
                (void) waitpid(si.si_pid, NULL, 0);
        }
}

/* Until gui-agent's X server listens, gui-agent dies, a stop is asked for
 * (left pending for the main loop) or the timeout passes. */
static void wait_for_x(pid_t gui_agent) {
        struct timespec deadline, now;
        struct stat st;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += GUI_WAIT_TIMEOUT;
        for (;;) {
                if (stat(GUI_X_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
                        return;
                int status;
                if (waitpid(gui_agent, &status, WNOHANG) == gui_agent) {
                        fprintf(stderr, "odyssey-init: " GUI_AGENT " ended before its X server ran\n");
                        return;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec >= deadline.tv_sec) {
                        fprintf(stderr, "odyssey-init: no X server after %d s; starting the other agents\n",
                                GUI_WAIT_TIMEOUT);
                        return;
                }
                sigset_t pending;
                if (sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)))
                        return;
                /* only SIGCHLD is taken here: a stop request stays pending */
                struct timespec wait = { .tv_nsec = 50 * 1000 * 1000 };
                sigset_t child;
                siginfo_t si;
                sigemptyset(&child);
                sigaddset(&child, SIGCHLD);
                if (sigtimedwait(&child, &si, &wait) == SIGCHLD)
                        reap_others(gui_agent);
        }
}

/* SIGTERM everyone, give them SHUTDOWN_TIMEOUT seconds, SIGKILL the rest. */
static _Noreturn void shut_down(const sigset_t *waited) {
        struct timespec deadline, now;

        (void) kill(-1, SIGTERM);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += SHUTDOWN_TIMEOUT;
        for (;;) {
                reap();
                if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
                        _exit(0);
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec > deadline.tv_sec ||
                    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
                        break;
                struct timespec wait = { .tv_nsec = 50 * 1000 * 1000 };
                (void) sigtimedwait(waited, NULL, &wait);
        }
        (void) kill(-1, SIGKILL);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
        _exit(0);
}

int main(int argc, char *argv[]) {
        const char *agents = getenv("ODYSSEY_AGENTS");
        sigset_t waited;

        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: odyssey-init\n"
                       "PID 1 of a native Odyssey domain: starts the agents in $ODYSSEY_AGENTS\n"
                       "(':'-separated, default " DEFAULT_AGENTS ") from " AGENTS_DIR ",\n"
                       "reaps every process, and on SIGTERM stops them all and exits.\n");
                return 0;
        }
        umask(0022);
        if (chdir("/") < 0)
                return 1;
        /* Handled synchronously: a PID 1 only gets the signals it waits for. */
        sigemptyset(&waited);
        sigaddset(&waited, SIGCHLD);
        sigaddset(&waited, SIGTERM);
        sigaddset(&waited, SIGINT);
        sigprocmask(SIG_BLOCK, &waited, NULL);

        if (!agents || !*agents)
                agents = DEFAULT_AGENTS;
        if (agents_have(agents, GUI_AGENT))
                (void) setenv("DISPLAY", GUI_DISPLAY, 1);
        for (const char *p = agents; *p;) {
                size_t n = strcspn(p, ":");
                pid_t pid = n > 0 ? start_agent(p, n) : -1;
                if (pid > 0 && n == strlen(GUI_AGENT) && strncmp(p, GUI_AGENT, n) == 0 && p[n] != '\0')
                        wait_for_x(pid);
                p += n;
                if (*p == ':')
                        p++;
        }

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&waited, &si);

                if (sig == SIGCHLD)
                        reap();
                else if (sig == SIGTERM || sig == SIGINT)
                        shut_down(&waited);
        }
}
