/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "qubes-ctl.h"

uint64_t api_timeout(uint64_t usec) {
        return arg_reply_timeout_usec ?: usec;
}

const char *api_address(void) {
        const char *env = getenv("QUBES_ADMIN_ADDRESS");

        if (arg_address)
                return arg_address;
        return env && *env ? env : ADMIN_DEFAULT_ADDRESS;
}

int api_process_until(sd_bus *bus, bool (*done)(void *userdata), void *userdata, uint64_t deadline) {
        int r;

        for (;;) {
                if (done && done(userdata))
                        return 0;
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_process(bus, NULL);
                if (r > 0)
                        continue;
                if (r >= 0)
                        r = sd_bus_wait(bus, deadline == UINT64_MAX ? UINT64_MAX : deadline - now);
                if (r < 0 && r != -EINTR)       /* a signal with a handler (run --dispvm) is not an end */
                        return r;
        }
}

static bool bus_ready_or_broken(void *userdata) {
        return sd_bus_is_ready(userdata) != 0;
}

/* sd-bus waits for the authentication before any call with its own 90 s
 * limit: wait here instead, bounded like a call.  (The handshake is a round
 * trip every first call would make anyway.) */
static int wait_ready(sd_bus *bus) {
        int r = api_process_until(bus, bus_ready_or_broken, bus, now_usec() + api_timeout(API_TIMEOUT_USEC));

        if (r < 0)
                return r;
        r = sd_bus_is_ready(bus);
        return r < 0 ? r : 0;
}

int api_connect(sd_bus **ret) {
        /* Not flushed on failure: sd-bus would wait for a handshake that failed. */
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        const char *address = api_address();
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return ctl_error_errno(r, "cannot allocate a D-Bus connection");
        /* Peer to peer: no Hello, no bus names; qubesd is the other end. */
        r = sd_bus_set_address(bus, address);
        if (r >= 0 && arg_reply_timeout_usec)
                r = sd_bus_set_method_call_timeout(bus, arg_reply_timeout_usec);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = wait_ready(bus);
        if (r == -ETIMEDOUT) {
                ctl_error("cannot connect to qubesd at %s: no answer to the D-Bus handshake within %" PRIu64 " s",
                          address, api_timeout(API_TIMEOUT_USEC) / API_USEC_PER_SEC);
                return -ENOTCONN;
        }
        if (r < 0) {
                ctl_error("cannot connect to qubesd at %s: %s%s", address, strerror(-r),
                          r == -ENOENT || r == -ECONNREFUSED
                          ? " (is qubesd running? the address comes from --address or $QUBES_ADMIN_ADDRESS)"
                          : r == -EACCES ? " (only root and members of group qubes may connect)" : "");
                return -ENOTCONN;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

int api_report(sd_bus *bus, int r, const sd_bus_error *error, const char *domain) {
        if (r == -ENOMEM)
                return ctl_error_errno(r, "out of memory");
        /* No reply at all: our deadline passed, or the connection broke. */
        if (!sd_bus_error_is_set(error)) {
                if (r == -ETIMEDOUT) {
                        ctl_error("qubesd did not answer in time%s%s (see --reply-timeout)",
                                  domain ? " for domain " : "", domain ?: "");
                        return -ETIMEDOUT;
                }
                ctl_error("lost the connection to qubesd at %s: %s", api_address(), strerror(r < 0 ? -r : EIO));
                return -ENOTCONN;
        }
        /* sd-bus answers a call itself when the peer cannot: NoReply. */
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(error, SD_BUS_ERROR_DISCONNECTED)) {
                if (sd_bus_is_open(bus) <= 0) {
                        ctl_error("lost the connection to qubesd at %s", api_address());
                        return -ENOTCONN;
                }
                return api_report(bus, -ETIMEDOUT, NULL, domain);
        }
        /* A domain object that does not exist: qubesd has no such domain. */
        if (domain && sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_OBJECT)) {
                ctl_error("no such domain '%s'", domain);
                return -ENXIO;
        }
        ctl_error("%s", error->message && *error->message ? error->message : error->name);
        if (sd_bus_error_has_name(error, ADMIN_ERROR_PREFIX "NoSuchDomain"))
                return -ENXIO;
        if (sd_bus_error_has_name(error, ADMIN_ERROR_PREFIX "Timeout") || sd_bus_error_has_name(error, SD_BUS_ERROR_TIMEOUT))
                return -ETIMEDOUT;
        return -EREMOTEIO;
}

char *api_domain_path(const char *name) {
        char *path = NULL;

        if (sd_bus_path_encode(ADMIN_DOMAIN_PATH_PREFIX, name, &path) < 0)
                return NULL;
        return path;
}

/* A call in flight: its reply, or its error. */
struct pending_call {
        sd_bus_slot *slot;
        sd_bus_message *reply;
        sd_bus_error error;
        int r;
        bool done;
};

static void pending_call_done(struct pending_call *call) {
        sd_bus_slot_unref(call->slot);
        sd_bus_message_unref(call->reply);
        sd_bus_error_free(&call->error);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct pending_call *call = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        call->done = true;
        if (e) {
                call->r = -(sd_bus_message_get_errno(m) ?: EIO);
                /* sd_bus_error_copy() returns the error's errno, not success. */
                (void) sd_bus_error_copy(&call->error, e);
        } else
                call->reply = sd_bus_message_ref(m);
        return 0;
}

static int pending_call_send(sd_bus *bus, sd_bus_message *m, struct pending_call *call, uint64_t timeout_usec) {
        int r = sd_bus_call_async(bus, &call->slot, m, on_reply, call, timeout_usec);

        call->done = r < 0;
        call->r = r;
        return r;
}

struct pending_calls {
        struct pending_call *calls;
        size_t n;
};

static bool pending_calls_all_done(void *userdata) {
        const struct pending_calls *p = userdata;

        for (size_t i = 0; i < p->n; i++)
                if (!p->calls[i].done)
                        return false;
        return true;
}

/* Wait for every call's reply, at most timeout_usec: calls left then fail
 * with -ETIMEDOUT, and all left when the connection breaks with -ECONNRESET. */
static void pending_calls_wait(sd_bus *bus, struct pending_call *calls, size_t n, uint64_t timeout_usec) {
        struct pending_calls p = { .calls = calls, .n = n };
        int r = api_process_until(bus, pending_calls_all_done, &p, now_usec() + timeout_usec);

        for (size_t i = 0; r < 0 && i < n; i++)
                if (!calls[i].done) {
                        calls[i].done = true;
                        calls[i].r = r == -ETIMEDOUT ? r : -ECONNRESET;
                }
}

int api_call(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **reply, const char *domain) {
        struct pending_call call = {};
        int r;

        timeout_usec = api_timeout(timeout_usec);
        r = pending_call_send(bus, m, &call, timeout_usec);
        if (r >= 0)
                pending_calls_wait(bus, &call, 1, timeout_usec);
        r = call.r < 0 ? api_report(bus, call.r, &call.error, domain) : 0;
        if (r >= 0 && reply)
                *reply = TAKE_PTR(call.reply);
        pending_call_done(&call);
        return r;
}

static int call_v(sd_bus *bus, const char *path, const char *interface, const char *method, const char *domain,
                  uint64_t timeout_usec, sd_bus_message **reply, const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, NULL, path, interface, method);
        if (r < 0)
                return ctl_error_errno(r, "cannot build the %s call", method);
        if (types) {
                r = sd_bus_message_appendv(m, types, ap);
                if (r < 0)
                        return ctl_error_errno(r, "cannot build the %s call (text must be UTF-8)", method);
        }
        return api_call(bus, m, timeout_usec, reply, domain);
}

int api_call_manager(sd_bus *bus, const char *method, uint64_t timeout_usec, sd_bus_message **reply,
                     const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = call_v(bus, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE, method, NULL, timeout_usec, reply, types, ap);
        va_end(ap);
        return r;
}

static int call_domain_v(sd_bus *bus, const char *domain, const char *interface, const char *method,
                         uint64_t timeout_usec, sd_bus_message **reply, const char *types, va_list ap) {
        _cleanup_free_ char *path = api_domain_path(domain);

        if (!path)
                return ctl_error_errno(ENOMEM, "out of memory");
        return call_v(bus, path, interface, method, domain, timeout_usec, reply, types, ap);
}

static int call_domain(sd_bus *bus, const char *domain, const char *interface, const char *method,
                       uint64_t timeout_usec, sd_bus_message **reply, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = call_domain_v(bus, domain, interface, method, timeout_usec, reply, types, ap);
        va_end(ap);
        return r;
}

int api_call_domain(sd_bus *bus, const char *domain, const char *method, uint64_t timeout_usec,
                    sd_bus_message **reply, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = call_domain_v(bus, domain, ADMIN_DOMAIN_INTERFACE, method, timeout_usec, reply, types, ap);
        va_end(ap);
        return r;
}

static int read_reply_value(sd_bus_message *reply, struct value *ret) {
        int r = value_read(reply, ret);

        if (r < 0) {
                value_done(ret);
                return ctl_error_errno(r, "qubesd sent a reply this client cannot read");
        }
        return 0;
}

int api_get_domain_properties(sd_bus *bus, const char *domain, struct value *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call_domain(bus, domain, "org.freedesktop.DBus.Properties", "GetAll", API_TIMEOUT_USEC, &reply, "s",
                        ADMIN_DOMAIN_INTERFACE);
        if (r < 0)
                return r;
        return read_reply_value(reply, ret);
}

int api_get_domain_property(sd_bus *bus, const char *domain, const char *property, struct value *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call_domain(bus, domain, "org.freedesktop.DBus.Properties", "Get", API_TIMEOUT_USEC, &reply, "ss",
                        ADMIN_DOMAIN_INTERFACE, property);
        if (r < 0)
                return r;
        r = read_reply_value(reply, ret);
        if (r < 0)
                return r;
        /* Get returns a variant: keep its content. */
        if (ret->type == SD_BUS_TYPE_VARIANT && ret->n_items == 1) {
                struct value inner = ret->items[0];
                free(ret->items);
                *ret = inner;
        }
        return 0;
}

int api_call_each_domain(sd_bus *bus, char *const *names, size_t n_names, const char *method,
                         uint64_t timeout_usec, api_append_fn append, void *userdata) {
        _cleanup_free_ struct pending_call *calls = calloc(n_names ?: 1, sizeof(*calls));
        size_t sent = 0;
        int r = 0, first = 0;

        if (!calls)
                return ctl_error_errno(ENOMEM, "out of memory");
        timeout_usec = api_timeout(timeout_usec);
        for (; sent < n_names; sent++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_free_ char *path = api_domain_path(names[sent]);

                if (!path) {
                        r = ctl_error_errno(ENOMEM, "out of memory");
                        break;
                }
                r = sd_bus_message_new_method_call(bus, &m, NULL, path, ADMIN_DOMAIN_INTERFACE, method);
                if (r >= 0 && append)
                        r = append(m, userdata);
                if (r < 0) {
                        r = ctl_error_errno(r, "cannot build the %s call", method);
                        break;
                }
                r = pending_call_send(bus, m, &calls[sent], timeout_usec);
                if (r < 0) {
                        r = api_report(bus, r, NULL, names[sent]);
                        break;
                }
        }
        pending_calls_wait(bus, calls, sent, timeout_usec);
        for (size_t i = 0; i < sent; i++) {
                if (calls[i].r < 0) {
                        int k = api_report(bus, calls[i].r, &calls[i].error, names[i]);
                        if (first == 0)
                                first = k;
                }
                pending_call_done(&calls[i]);
        }
        return first ?: (r < 0 ? r : 0);
}

int api_get_all_domains(sd_bus *bus, struct value *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = api_call_manager(bus, "GetAllDomains", API_TIMEOUT_USEC, &reply, NULL);
        if (r < 0)
                return r;
        r = read_reply_value(reply, ret);
        if (r < 0)
                return r;
        if (!ret->dict) {
                value_done(ret);
                return ctl_error_errno(EBADMSG, "GetAllDomains did not return a{sa{sv}}");
        }
        return 0;
}

static int domain_compare(const void *a, const void *b) {
        return strcmp(((const struct api_domain *) a)->name, ((const struct api_domain *) b)->name);
}

int api_domains_sorted(const struct value *all, struct api_domain **ret, size_t *ret_n) {
        struct api_domain *list = calloc(all->n_items ?: 1, sizeof(*list));
        size_t n = 0;

        if (!list)
                return ctl_error_errno(ENOMEM, "out of memory");
        for (size_t i = 0; i < all->n_items; i++) {
                const struct value *e = &all->items[i];
                if (e->n_items != 2 || e->items[0].type != SD_BUS_TYPE_STRING)
                        continue;
                list[n++] = (struct api_domain) { .name = e->items[0].str, .props = value_unwrap(&e->items[1]) };
        }
        qsort(list, n, sizeof(*list), domain_compare);
        *ret = list;
        *ret_n = n;
        return 0;
}

char *api_domain_prop_text(const struct api_domain *d, const char *property) {
        const struct value *v = value_dict_get(d->props, property);

        if (!v)
                return strdup(strcmp(property, "name") == 0 ? d->name : "");
        return value_to_text(v);
}

int api_new_manager_call(sd_bus *bus, const char *method, sd_bus_message **ret) {
        int r = sd_bus_message_new_method_call(bus, ret, NULL, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE, method);

        if (r < 0)
                return ctl_error_errno(r, "cannot build the %s call", method);
        return 0;
}
