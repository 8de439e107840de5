/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small sd-bus client helpers for the Admin API tests: connect to a stack's
 * admin socket, call a method and get the D-Bus error name, collect signals.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "stack-harness.h"

#define ADMIN_PATH "/org/qubes/Admin1"
#define ADMIN_MANAGER "org.qubes.Admin1.Manager"
#define ADMIN_DOMAIN "org.qubes.Admin1.Domain"

/* Connected client bus, or NULL (with the reason on stderr). */
sd_bus *admin_connect(const char *address);

/* The path of a domain's object (a fresh string). */
char *admin_path(const char *name);

/* Call; returns 0 or the negative errno, the error name (or "") into
 * error_name when not NULL, the reply into *reply when not NULL. */
int admin_call(sd_bus *bus, const char *path, const char *interface, const char *member, char *error_name,
               size_t size, sd_bus_message **reply, const char *types, ...);

/* Signals of the manager, recorded as "Member arg0 arg1" lines (string and
 * integer args only; others shown as '?'). */
struct admin_signals {
        char lines[4096][256];   /* 1 MiB: allocate it, not on the stack */
        size_t n;
};
int admin_watch_signals(sd_bus *bus, struct admin_signals *s);
/* Process the bus until a recorded line starts with prefix, up to timeout_ms. */
bool admin_wait_signal(sd_bus *bus, struct admin_signals *s, const char *prefix, int timeout_ms);

/* A domain property as text through org.freedesktop.DBus.Properties.Get ("s", "x", "b"). */
int admin_get_property(sd_bus *bus, const char *domain, const char *property, char *buf, size_t size);

/* For check tests (they ck_assert what must work): a manager or domain call
 * whose D-Bus error name ("" on success) is returned; CreateDomain with a
 * label and at most one more string property; ListDomains has name; a
 * domain property as text. */
#define ADMIN_ERROR "org.qubes.Admin1.Error."
const char *admin_manager_call(sd_bus *bus, const char *member, sd_bus_message **reply, const char *types, ...);
const char *admin_domain_call(sd_bus *bus, const char *domain, const char *member, sd_bus_message **reply,
                              const char *types, ...);
const char *admin_create(sd_bus *bus, const char *name, const char *klass, const char *label, const char *key,
                         const char *value);
bool admin_list_has(sd_bus *bus, const char *name);
const char *admin_prop(sd_bus *bus, const char *domain, const char *property);

/* The private stack a check test case's tests share: its unchecked (or
 * checked) fixture's setup calls admin_stack_start(launcher options...,
 * NULL), its teardown is admin_stack_stop.  A stack that did not start fails
 * each test in admin_stack_client(), which connects a client to it. */
extern struct test_stack admin_stack;
extern bool admin_stack_up;
void admin_stack_start(const char *option, ...);
void admin_stack_stop(void);
sd_bus *admin_stack_client(void);
/* Assert the build tree holds the agents a native domain runs (make check
 * builds them before these tests). */
void admin_stack_require_agents(void);
