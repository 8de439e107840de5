/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "admin-client.h"
#include "util.h"

sd_bus *admin_connect(const char *address) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                fprintf(stderr, "connecting to %s: %s\n", address, strerror(-r));
                sd_bus_unref(bus);
                return NULL;
        }
        return bus;
}

char *admin_path(const char *name) {
        char *path = NULL;

        return sd_bus_path_encode(ADMIN_PATH "/domain", name, &path) < 0 ? NULL : path;
}

int admin_call(sd_bus *bus, const char *path, const char *interface, const char *member, char *error_name,
               size_t size, sd_bus_message **reply, const char *types, ...) {
        sd_bus_message *m = NULL, *r_msg = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, NULL, path, interface, member);
        if (r >= 0 && types && *types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                /* longer than qubesd's own timeouts (qrexec_timeout 60 s), so that its error comes first */
                r = sd_bus_call(bus, m, 120 * 1000000ULL, &error, &r_msg);
        if (error_name && size)
                snprintf(error_name, size, "%s", error.name ?: "");
        if (r < 0 && error.message)
                fprintf(stderr, "%s.%s: %s: %s\n", interface, member, error.name, error.message);
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        if (reply)
                *reply = r_msg;
        else
                sd_bus_message_unref(r_msg);
        return r < 0 ? r : 0;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct admin_signals *s = userdata;
        char line[256];
        size_t len;

        if (s->n >= sizeof(s->lines) / sizeof(s->lines[0]))
                return 0;
        len = (size_t) snprintf(line, sizeof(line), "%s", sd_bus_message_get_member(m) ?: "?");
        for (;;) {
                char type;
                const char *contents;
                int r = sd_bus_message_peek_type(m, &type, &contents);
                if (r <= 0)
                        break;
                union { const char *s; int32_t i; uint32_t u; int b; } v;
                if (type == 's' || type == 'o') {
                        sd_bus_message_read_basic(m, type, &v.s);
                        len += (size_t) snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0, " %s", v.s);
                } else if (type == 'i') {
                        sd_bus_message_read_basic(m, type, &v.i);
                        len += (size_t) snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0, " %" PRIi32, v.i);
                } else if (type == 'u') {
                        sd_bus_message_read_basic(m, type, &v.u);
                        len += (size_t) snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0, " %" PRIu32, v.u);
                } else {
                        sd_bus_message_skip(m, NULL);
                        len += (size_t) snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0, " ?");
                }
                if (len >= sizeof(line))
                        break;
        }
        snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
        return 0;
}

int admin_watch_signals(sd_bus *bus, struct admin_signals *s) {
        memset(s, 0, sizeof(*s));
        return sd_bus_match_signal(bus, NULL, NULL, ADMIN_PATH, ADMIN_MANAGER, NULL, on_signal, s);
}

bool admin_wait_signal(sd_bus *bus, struct admin_signals *s, const char *prefix, int timeout_ms) {
        uint64_t deadline = now_usec() + (uint64_t) timeout_ms * 1000;

        for (;;) {
                for (size_t i = 0; i < s->n; i++)
                        if (strncmp(s->lines[i], prefix, strlen(prefix)) == 0)
                                return true;
                uint64_t now = now_usec();
                if (now >= deadline)
                        return false;
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return false;
                if (r == 0)
                        (void) sd_bus_wait(bus, deadline - now);
        }
}

int admin_get_property(sd_bus *bus, const char *domain, const char *property, char *buf, size_t size) {
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *path = admin_path(domain);
        const char *contents;
        char type;
        int r;

        r = sd_bus_call_method(bus, NULL, path, "org.freedesktop.DBus.Properties", "Get", &error, &reply, "ss",
                               ADMIN_DOMAIN, property);
        free(path);
        sd_bus_error_free(&error);
        if (r >= 0)
                r = sd_bus_message_peek_type(reply, &type, &contents);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'v', contents);
        if (r >= 0) {
                if (contents[0] == 's') {
                        const char *s;
                        r = sd_bus_message_read_basic(reply, 's', &s);
                        if (r >= 0)
                                snprintf(buf, size, "%s", s);
                } else if (contents[0] == 'x') {
                        int64_t x;
                        r = sd_bus_message_read_basic(reply, 'x', &x);
                        if (r >= 0)
                                snprintf(buf, size, "%" PRIi64, x);
                } else if (contents[0] == 'b') {
                        int b;
                        r = sd_bus_message_read_basic(reply, 'b', &b);
                        if (r >= 0)
                                snprintf(buf, size, "%s", b ? "True" : "False");
                } else
                        r = -EINVAL;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- asserting helpers for check tests */

/* A call whose D-Bus error name ("" on success) is returned (in a static buffer). */
static const char *call_error_name(sd_bus *bus, const char *path, const char *interface, const char *member,
                                   sd_bus_message **reply, const char *types, va_list ap) {
        static char name[256];
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, NULL, path, interface, member);
        ck_assert_int_ge(r, 0);
        if (types && *types) {
                r = sd_bus_message_appendv(m, types, ap);
                ck_assert_int_ge(r, 0);
        }
        r = sd_bus_call(bus, m, 120 * 1000000ULL, &error, reply);
        if (r < 0 && error.message)
                fprintf(stderr, "  %s %s -> %s: %s\n", path, member, error.name, error.message);
        snprintf(name, sizeof(name), "%s", r < 0 ? (error.name ?: "?") : "");
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        return name;
}

const char *admin_manager_call(sd_bus *bus, const char *member, sd_bus_message **reply, const char *types, ...) {
        const char *name;
        va_list ap;

        va_start(ap, types);
        name = call_error_name(bus, ADMIN_PATH, ADMIN_MANAGER, member, reply, types, ap);
        va_end(ap);
        return name;
}

const char *admin_domain_call(sd_bus *bus, const char *domain, const char *member, sd_bus_message **reply,
                              const char *types, ...) {
        char *path = admin_path(domain);
        const char *name;
        va_list ap;

        ck_assert_ptr_nonnull(path);
        va_start(ap, types);
        name = call_error_name(bus, path, ADMIN_DOMAIN, member, reply, types, ap);
        va_end(ap);
        free(path);
        return name;
}

const char *admin_create(sd_bus *bus, const char *name, const char *klass, const char *label, const char *key,
                          const char *value) {
        if (key)
                return admin_manager_call(bus, "CreateDomain", NULL, "ssa{sv}", name, klass, 2, "label", "s", label, key,
                                    "s", value);
        if (label)
                return admin_manager_call(bus, "CreateDomain", NULL, "ssa{sv}", name, klass, 1, "label", "s", label);
        return admin_manager_call(bus, "CreateDomain", NULL, "ssa{sv}", name, klass, 0);
}

bool admin_list_has(sd_bus *bus, const char *name) {
        sd_bus_message *reply = NULL;
        const char *s;
        bool found = false;

        ck_assert_str_eq(admin_manager_call(bus, "ListDomains", &reply, NULL), "");
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "s"), 0);
        while (sd_bus_message_read_basic(reply, 's', &s) > 0)
                found = found || strcmp(s, name) == 0;
        sd_bus_message_unref(reply);
        return found;
}

const char *admin_prop(sd_bus *bus, const char *domain, const char *property) {
        static char buf[4096];
        ck_assert_int_eq(admin_get_property(bus, domain, property, buf, sizeof(buf)), 0);
        return buf;
}

/* ---------------------------------------------------------------- a stack shared by a test case */

struct test_stack admin_stack;
bool admin_stack_up;

void admin_stack_start(const char *option, ...) {
        va_list ap;

        va_start(ap, option);
        admin_stack_up = test_stack_startv(&admin_stack, option, ap) == 0;
        va_end(ap);
}

void admin_stack_stop(void) {
        if (admin_stack_up)
                test_stack_stop(&admin_stack);
        admin_stack_up = false;
}

sd_bus *admin_stack_client(void) {
        ck_assert_msg(admin_stack_up, "the stack did not start");
        sd_bus *bus = admin_connect(admin_stack.admin_address);
        ck_assert_ptr_nonnull(bus);
        return bus;
}

void admin_stack_require_agents(void) {
        static const char *const agents[] = { "odyssey-init", "qrexec-agent" };
        char path[sizeof(admin_stack.builddir) + 64];

        for (size_t i = 0; i < ELEMENTSOF(agents); i++) {
                snprintf(path, sizeof(path), "%s/agents/bin/%s", admin_stack.builddir, agents[i]);
                ck_assert_msg(access(path, X_OK) == 0, "%s is not built (make check builds it first)", path);
        }
}
