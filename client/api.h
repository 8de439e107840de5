/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl's side of the Admin API (docs/admin-api.md): the connection,
 * method calls on the manager and on domain objects, and turning a failed
 * call into one printed message plus the -errno that picks the exit status
 * (-ENXIO no such domain, -ETIMEDOUT timeout, -ENOTCONN no connection,
 * anything else refused; see ctl_exit_status()).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "value.h"

#define ADMIN_DEFAULT_ADDRESS "unix:path=/run/qubes/admin.sock"
#define ADMIN_MANAGER_PATH "/org/qubes/Admin1"
#define ADMIN_MANAGER_INTERFACE "org.qubes.Admin1.Manager"
#define ADMIN_DOMAIN_PATH_PREFIX "/org/qubes/Admin1/domain"
#define ADMIN_DOMAIN_INTERFACE "org.qubes.Admin1.Domain"
#define ADMIN_ERROR_PREFIX "org.qubes.Admin1.Error."

#define API_USEC_PER_SEC UINT64_C(1000000)
/* Ordinary calls; and calls that wait for a domain (Start waits for the
 * agent's hello, bounded by qubesd with qrexec_timeout). */
#define API_TIMEOUT_USEC (30 * API_USEC_PER_SEC)
#define API_LIFECYCLE_TIMEOUT_USEC (330 * API_USEC_PER_SEC)

/* The timeout for a call: --reply-timeout, else usec. */
uint64_t api_timeout(uint64_t usec);
/* --address, else $QUBES_ADMIN_ADDRESS, else the default. */
const char *api_address(void);
/* Dispatch the connection's messages until done(userdata) is true (done NULL:
 * never) or the deadline (now_usec() clock; UINT64_MAX: none) passes.
 * 0 when done, -ETIMEDOUT at the deadline, or the connection's -errno (EINTR
 * is not one). */
int api_process_until(sd_bus *bus, bool (*done)(void *userdata), void *userdata, uint64_t deadline);
/* Connect (peer to peer, no bus daemon).  0, or -ENOTCONN after a message. */
int api_connect(sd_bus **ret);

/* Print the failure of a call and return its class (see above).  domain:
 * the domain the call was addressed to, or NULL. */
int api_report(sd_bus *bus, int r, const sd_bus_error *error, const char *domain);

/* "/org/qubes/Admin1/domain/<encoded name>"; NULL on ENOMEM. */
char *api_domain_path(const char *name);

/* Call a method of the manager / of a domain; arguments as sd_bus_message_append().
 * Failures are reported (api_report) and their class returned. */
int api_call_manager(sd_bus *bus, const char *method, uint64_t timeout_usec, sd_bus_message **reply,
                     const char *types, ...);
int api_call_domain(sd_bus *bus, const char *domain, const char *method, uint64_t timeout_usec,
                    sd_bus_message **reply, const char *types, ...);

/* Every D-Bus property of a domain's object (a{sv}), or one of them (the
 * variant's content), read through org.freedesktop.DBus.Properties. */
int api_get_domain_properties(sd_bus *bus, const char *domain, struct value *ret);
int api_get_domain_property(sd_bus *bus, const char *domain, const char *property, struct value *ret);

/* The same method on several domains at once (each domain's call does not
 * wait for the others): every failure is reported, in the order of names;
 * returns the first one's class, or 0.  append adds the arguments (or NULL). */
typedef int (*api_append_fn)(sd_bus_message *m, void *userdata);
int api_call_each_domain(sd_bus *bus, char *const *names, size_t n_names, const char *method,
                         uint64_t timeout_usec, api_append_fn append, void *userdata);

/* GetAllDomains: name → { property → value } (a{sa{sv}}), in one call. */
int api_get_all_domains(sd_bus *bus, struct value *ret);
/* Its domains sorted by name; the entries point into all. */
struct api_domain {
        const char *name;
        const struct value *props;      /* a{sv} */
};
int api_domains_sorted(const struct value *all, struct api_domain **ret, size_t *ret_n);
/* A property of one domain as text ("" when absent); NULL on ENOMEM. */
char *api_domain_prop_text(const struct api_domain *d, const char *property);

/* For arguments varargs cannot carry (a{sv} of any length): make the call
 * message, append to it, then send it with api_call(). */
int api_new_manager_call(sd_bus *bus, const char *method, sd_bus_message **ret);
int api_call(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **reply, const char *domain);

/* cmd-run.c: run `command` in domain `name` through qubesd's Run and the
 * qrexec data stream, with in/out/err (taken over, closed; -1 = none) as the
 * command's stdin/stdout/stderr.  The remote exit status (0..255; 125 a local
 * problem, 255 the connection was lost), or a negative errno from the API. */
int ctl_run_with_fds(sd_bus *bus, const char *name, const char *user, const char *command, bool autostart,
                     int in, int out, int err);
