/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between property.c (the table, type checks), property-defaults.c
 * (computed defaults) and property-validate.c (per-property rules): the
 * position of each property in prop_table, and the helpers they all use.
 */
#pragma once

#include <stdarg.h>

#include "util.h"

#include "domain.h"
#include "property.h"

/* prop_table order; property.c checks the two agree at build time. */
enum prop_id {
        PROP_ID_NAME,
        PROP_ID_QID,
        PROP_ID_UUID,
        PROP_ID_KLASS,
        PROP_ID_LABEL,
        PROP_ID_TEMPLATE,
        PROP_ID_NETVM,
        PROP_ID_PROVIDES_NETWORK,
        PROP_ID_DEFAULT_DISPVM,
        PROP_ID_TEMPLATE_FOR_DISPVMS,
        PROP_ID_BACKEND,
        PROP_ID_MEMORY,
        PROP_ID_MAXMEM,
        PROP_ID_VCPUS,
        PROP_ID_VIRT_MODE,
        PROP_ID_KERNEL,
        PROP_ID_IP,
        PROP_ID_MAC,
        PROP_ID_AUTOSTART,
        PROP_ID_DEFAULT_USER,
        PROP_ID_INCLUDE_IN_BACKUPS,
        PROP_ID_DEBUG,
        PROP_ID_QREXEC_TIMEOUT,
        PROP_ID_SHUTDOWN_TIMEOUT,
        /* globals */
        PROP_ID_DEFAULT_NETVM,
        PROP_ID_DEFAULT_TEMPLATE,
        PROP_ID_DEFAULT_DISPVM_GLOBAL,
        PROP_ID_DEFAULT_KERNEL,
        PROP_ID_DEFAULT_BACKEND,
        PROP_ID_DEFAULT_QREXEC_TIMEOUT,
        PROP_ID_DEFAULT_SHUTDOWN_TIMEOUT,
        _PROP_ID_MAX,
};

#define PROP(id) (&prop_table[PROP_ID_##id])

/* Writes "prop: <formatted rule>" into error (NULL-safe) and returns r. */
int prop_error(char *error, size_t error_size, const struct prop_def *p, int r, const char *fmt, ...)
        _printf_(5, 6);
/* The same without a property name in front (name rule, tags...). */
int text_error(char *error, size_t error_size, int r, const char *fmt, ...) _printf_(4, 5);

/* Effective value of a property, "" on any failure (for rules that only compare). */
void prop_get_text(const struct domain_set *set, const struct domain *d, enum prop_id id, char *buf, size_t size);
bool prop_get_bool(const struct domain_set *set, const struct domain *d, enum prop_id id);

/* The domain a DOMAIN property effectively names, NULL for none. */
struct domain *prop_get_domain(const struct domain_set *set, const struct domain *d, enum prop_id id);

/* d is a member of set (and not a domain being created). */
bool domain_in_set(const struct domain_set *set, const struct domain *d);

/* The effective netvm of x if `changed` had netvm `changed_netvm` (NULL: as
 * now) and the global default_netvm were `global_netvm` (NULL: as now).
 * Writes the name or "" into buf. */
void netvm_effective(const struct domain_set *set, const struct domain *x, const struct domain *changed,
                     const char *changed_netvm, const char *global_netvm, char *buf, size_t size);

/* Network loop checks in prop_check (netvm, default_netvm, a DispVM's
 * template) are on; store_load turns them off while it applies stored
 * values in whatever order, then breaks any loop itself. */
void netvm_loop_checks_enable(bool enable);

/* UTF-8 with no control characters (C0, DEL, C1), at most max bytes. */
bool text_printable(const char *s, size_t max);
/* value is short and printable enough to quote in a message. */
const char *quotable(const char *value);

/* Defaults (property-defaults.c). */
int default_template(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_netvm(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_default_dispvm(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_backend(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_memory(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_maxmem(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_vcpus(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_virt_mode(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_kernel(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_ip(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_default_user(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_include_in_backups(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_qrexec_timeout(const struct domain_set *set, const struct domain *d, char *buf, size_t size);
int default_shutdown_timeout(const struct domain_set *set, const struct domain *d, char *buf, size_t size);

/* Rules (property-validate.c). */
int validate_template(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                      size_t error_size);
int validate_netvm(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                   size_t error_size);
int validate_provides_network(const struct domain_set *set, const struct domain *d, const char *value,
                              char *error, size_t error_size);
int validate_default_dispvm(const struct domain_set *set, const struct domain *d, const char *value,
                            char *error, size_t error_size);
int validate_template_for_dispvms(const struct domain_set *set, const struct domain *d, const char *value,
                                  char *error, size_t error_size);
int validate_backend(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                     size_t error_size);
int validate_kernel(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                    size_t error_size);
int validate_mac(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                 size_t error_size);
int validate_default_user(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                          size_t error_size);
int validate_default_netvm(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                           size_t error_size);
int validate_default_template(const struct domain_set *set, const struct domain *d, const char *value,
                              char *error, size_t error_size);
