/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers of test-hal-native: a native backend on a private runtime dir, driven on an sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "hal.h"

#define TEST_BUSD_UID  64100    /* written to RUNTIME/roles: the uid the backend opens vchans to */
#define TEST_OTHER_UID 64101

struct test_event {
        char name[32];
        enum power_state state;
        int reason;
};

struct test_env {
        char root[96];
        char runtime_dir[128];
        char state_dir[128];
        char agents_dir[2048];
        sd_event *event;
        struct hal_backend *backend;
        struct test_event events[64];
        size_t n_events;
};

/* Once per run: a parent dir for every test's root; at the end, stop the
 * monitors a failed test left behind and remove it. */
int env_run_begin(void);
void env_run_end(void);

/* Fresh temp root, roles file, loop, backend. */
void env_setup(struct test_env *env);
/* Kill what still runs, free the backend, remove the root. */
void env_teardown(struct test_env *env);
/* Free the backend and make a new one (as after a qubesd restart). */
void env_restart_backend(struct test_env *env);

/* Run the loop until *flag becomes true or timeout_ms pass. */
bool env_run_until(struct test_env *env, const bool *flag, int timeout_ms);
/* Run the loop until an event for `name` with `state` arrived; its reason. */
bool env_wait_event(struct test_env *env, const char *name, enum power_state state, int timeout_ms, int *ret_reason);

/* A domain config for `name`/domid with its private dir under the state dir. */
void env_config(struct test_env *env, struct hal_domain_config *cfg, const char *name, uint32_t domid);
/* Start and wait for the done callback: its result. */
int env_start(struct test_env *env, const struct hal_domain_config *cfg);
/* Ask for shutdown / kill / pause / unpause and wait for done: its result. */
int env_shutdown(struct test_env *env, const char *name, uint32_t timeout_sec);
int env_kill(struct test_env *env, const char *name);
int env_pause(struct test_env *env, const char *name, bool pause);

/* The admin side of HELLO as busd does it, in a child running as `uid`:
 * the agent's version, or -errno. */
int env_hello(struct test_env *env, const char *name, uint32_t domid, uid_t uid, int timeout_ms);

/* Host pid of the domain's init (from the monitor's STATE) and monitor. */
pid_t env_init_pid(struct test_env *env, const char *name);
pid_t env_monitor_pid(struct test_env *env, const char *name);
bool env_process_alive(pid_t pid);

/* Run fn inside the domain of init_pid (its user and mount namespaces, as
 * its root) in a child: fn's return value (0..255) or -1. */
int env_in_domain(pid_t init_pid, int (*fn)(void *), void *arg);
