/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The property table and what every property shares: lookup, the type
 * checks that turn untrusted text into the canonical form, and reading the
 * effective value.  Defaults live in property-defaults.c, the rules that go
 * beyond a type in property-validate.c.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "property-internal.h"

static const char *const virt_modes[] = { "pv", "pvh", "hvm", NULL };
static const char *const class_names[] = { "AdminVM", "TemplateVM", "AppVM", "StandaloneVM", "DispVM", NULL };

#define SETTABLE PROP_CLONE

const struct prop_def prop_table[] = {
        [PROP_ID_NAME] = { "name", PROP_STR, PROP_WRITE_ONCE, .max = DOMAIN_NAME_MAX,
                           .doc = "the domain's name (set at creation)" },
        [PROP_ID_QID] = { "qid", PROP_INT, PROP_WRITE_ONCE | PROP_READ_ONLY, .min = 0, .max = DOMAIN_QID_MAX,
                          .doc = "the domain's number, unique, assigned at creation" },
        [PROP_ID_UUID] = { "uuid", PROP_UUID, PROP_WRITE_ONCE, .doc = "the domain's UUID (random at creation)" },
        [PROP_ID_KLASS] = { "klass", PROP_ENUM, PROP_READ_ONLY, .choices = class_names,
                            .doc = "the domain's class" },
        [PROP_ID_LABEL] = { "label", PROP_LABEL, SETTABLE | PROP_REQUIRED,
                            .doc = "the color of the domain's window frames" },
        [PROP_ID_TEMPLATE] = { "template", PROP_DOMAIN, SETTABLE, .default_fn = default_template,
                               .validate = validate_template,
                               .doc = "the TemplateVM whose root an AppVM runs (a DispVM: its disposable template)" },
        [PROP_ID_NETVM] = { "netvm", PROP_DOMAIN, SETTABLE | PROP_NULLABLE, .default_fn = default_netvm,
                            .validate = validate_netvm,
                            .doc = "the domain that provides this one's network (none: offline)" },
        [PROP_ID_PROVIDES_NETWORK] = { "provides_network", PROP_BOOL, SETTABLE, "False",
                                       .validate = validate_provides_network,
                                       .doc = "other domains may use this one as their netvm" },
        [PROP_ID_DEFAULT_DISPVM] = { "default_dispvm", PROP_DOMAIN, SETTABLE | PROP_NULLABLE,
                                     .default_fn = default_default_dispvm, .validate = validate_default_dispvm,
                                     .doc = "the disposable template for disposables this domain starts" },
        [PROP_ID_TEMPLATE_FOR_DISPVMS] = { "template_for_dispvms", PROP_BOOL, 0, "False",
                                           .validate = validate_template_for_dispvms,
                                           .doc = "this AppVM is a disposable template" },
        [PROP_ID_BACKEND] = { "backend", PROP_STR, SETTABLE, .default_fn = default_backend,
                              .validate = validate_backend, .max = 1024,
                              .doc = "the isolation backend: native, or libvirt:<uri>" },
        [PROP_ID_MEMORY] = { "memory", PROP_INT, SETTABLE, .default_fn = default_memory, .min = 32,
                             .max = 1048576, .unit = "MiB", .doc = "initial memory" },
        [PROP_ID_MAXMEM] = { "maxmem", PROP_INT, SETTABLE, .default_fn = default_maxmem, .min = 0,
                             .max = 1048576, .unit = "MiB", .doc = "memory limit (0: no balancing)" },
        [PROP_ID_VCPUS] = { "vcpus", PROP_INT, SETTABLE, .default_fn = default_vcpus, .min = 1, .max = 64,
                            .doc = "number of virtual CPUs" },
        [PROP_ID_VIRT_MODE] = { "virt_mode", PROP_ENUM, SETTABLE, .default_fn = default_virt_mode,
                                .choices = virt_modes, .doc = "virtualisation mode (Xen/libvirt backends)" },
        [PROP_ID_KERNEL] = { "kernel", PROP_STR, SETTABLE, .default_fn = default_kernel,
                             .validate = validate_kernel, .max = 64,
                             .doc = "kernel version to boot (empty: the domain's own)" },
        [PROP_ID_IP] = { "ip", PROP_STR, PROP_READ_ONLY, .default_fn = default_ip,
                         .doc = "the domain's IPv4 address (empty when offline)" },
        [PROP_ID_MAC] = { "mac", PROP_STR, SETTABLE, "00:16:3e:5e:6c:00", .validate = validate_mac, .max = 17,
                          .doc = "MAC address of the domain's network interface" },
        [PROP_ID_AUTOSTART] = { "autostart", PROP_BOOL, 0, "False", .doc = "start the domain at boot" },
        [PROP_ID_DEFAULT_USER] = { "default_user", PROP_STR, SETTABLE, .default_fn = default_default_user,
                                   .validate = validate_default_user, .max = 32,
                                   .doc = "user that runs commands in the domain" },
        [PROP_ID_INCLUDE_IN_BACKUPS] = { "include_in_backups", PROP_BOOL, 0,
                                         .default_fn = default_include_in_backups,
                                         .doc = "include the domain in backups" },
        [PROP_ID_DEBUG] = { "debug", PROP_BOOL, SETTABLE, "False", .doc = "verbose logs from the domain's agents" },
        [PROP_ID_QREXEC_TIMEOUT] = { "qrexec_timeout", PROP_INT, SETTABLE, .default_fn = default_qrexec_timeout,
                                     .min = 1, .max = 86400, .unit = "s",
                                     .doc = "how long a start waits for the domain's agent" },
        [PROP_ID_SHUTDOWN_TIMEOUT] = { "shutdown_timeout", PROP_INT, SETTABLE,
                                       .default_fn = default_shutdown_timeout, .min = 1, .max = 86400,
                                       .unit = "s", .doc = "how long a clean shutdown may take before a kill" },

        [PROP_ID_DEFAULT_NETVM] = { "default_netvm", PROP_DOMAIN, PROP_GLOBAL | PROP_NULLABLE, "",
                                    .validate = validate_default_netvm,
                                    .doc = "netvm of domains that do not set one" },
        [PROP_ID_DEFAULT_TEMPLATE] = { "default_template", PROP_DOMAIN, PROP_GLOBAL | PROP_NULLABLE, "",
                                       .validate = validate_default_template,
                                       .doc = "template of new AppVMs that do not set one" },
        [PROP_ID_DEFAULT_DISPVM_GLOBAL] = { "default_dispvm", PROP_DOMAIN, PROP_GLOBAL | PROP_NULLABLE, "",
                                            .validate = validate_default_dispvm,
                                            .doc = "disposable template of domains that do not set one" },
        [PROP_ID_DEFAULT_KERNEL] = { "default_kernel", PROP_STR, PROP_GLOBAL, "", .validate = validate_kernel,
                                     .max = 64, .doc = "kernel of domains that do not set one" },
        [PROP_ID_DEFAULT_BACKEND] = { "default_backend", PROP_STR, PROP_GLOBAL, "native",
                                      .validate = validate_backend, .max = 1024,
                                      .doc = "backend of domains that do not set one" },
        [PROP_ID_DEFAULT_QREXEC_TIMEOUT] = { "default_qrexec_timeout", PROP_INT, PROP_GLOBAL, "60", .min = 1,
                                             .max = 86400, .unit = "s",
                                             .doc = "qrexec_timeout of domains that do not set one" },
        [PROP_ID_DEFAULT_SHUTDOWN_TIMEOUT] = { "default_shutdown_timeout", PROP_INT, PROP_GLOBAL, "60", .min = 1,
                                               .max = 86400, .unit = "s",
                                               .doc = "shutdown_timeout of domains that do not set one" },
};
const size_t prop_table_size = ELEMENTSOF(prop_table);
static_assert(ELEMENTSOF(prop_table) == _PROP_ID_MAX, "prop_table and enum prop_id disagree");

const struct prop_def *prop_find(const char *name, bool global) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < prop_table_size; i++)
                if (!!(prop_table[i].flags & PROP_GLOBAL) == global && strcmp(prop_table[i].name, name) == 0)
                        return &prop_table[i];
        return NULL;
}

const char *prop_type_to_string(enum prop_type t) {
        static const char *const names[] = {
                [PROP_STR] = "str",       [PROP_INT] = "int",   [PROP_BOOL] = "bool", [PROP_LABEL] = "label",
                [PROP_DOMAIN] = "domain", [PROP_UUID] = "uuid", [PROP_ENUM] = "enum",
        };
        return (int) t >= 0 && (size_t) t < ELEMENTSOF(names) ? names[t] : NULL;
}

size_t prop_index(const struct prop_def *p) {
        return (size_t) (p - prop_table);
}

static void format_error(char *error, size_t error_size, const char *prefix, const char *fmt, va_list ap) {
        size_t n = 0;

        if (!error || error_size == 0)
                return;
        if (prefix) {
                int k = snprintf(error, error_size, "%s: ", prefix);
                n = k < 0 ? 0 : (size_t) k;
        }
        if (n < error_size)
                vsnprintf(error + n, error_size - n, fmt, ap);
}

int prop_error(char *error, size_t error_size, const struct prop_def *p, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        format_error(error, error_size, p->name, fmt, ap);
        va_end(ap);
        return r;
}

int text_error(char *error, size_t error_size, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        format_error(error, error_size, NULL, fmt, ap);
        va_end(ap);
        return r;
}

bool text_printable(const char *s, size_t max) {
        const unsigned char *u = (const unsigned char *) s;
        size_t len = strlen(s);

        if (len > max)
                return false;
        for (size_t i = 0; i < len;) {
                uint32_t c = u[i];
                size_t n;

                if (c < 0x80)
                        n = 1;
                else if ((c & 0xe0) == 0xc0)
                        n = 2, c &= 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        n = 3, c &= 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        n = 4, c &= 0x07;
                else
                        return false;
                if (i + n > len)
                        return false;
                for (size_t k = 1; k < n; k++) {
                        if ((u[i + k] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (u[i + k] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return false;
                if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
                        return false;
                i += n;
        }
        return true;
}

const char *quotable(const char *value) {
        size_t len = strlen(value);

        if (len > 64)
                return "(too long to show)";
        for (size_t i = 0; i < len; i++)
                if (value[i] < 0x20 || value[i] >= 0x7f || value[i] == '\'')
                        return "(unprintable)";
        return value;
}

bool domain_in_set(const struct domain_set *set, const struct domain *d) {
        return set && d && domain_set_find(set, d->name) == d;
}

static int copy_out(const char *value, char *out, size_t out_size) {
        size_t len = strlen(value);

        if (len >= out_size)
                return -ENOBUFS;
        memcpy(out, value, len + 1);
        return 0;
}

static int check_int(const struct prop_def *p, const char *v, char *out, size_t out_size, char *error,
                     size_t error_size) {
        bool negative = false, ok = *v != '\0';
        uint64_t magnitude = 0;
        const char *c = v;

        if (*c == '-' && p->min < 0) {
                negative = true;
                c++;
                ok = *c != '\0';
        }
        for (; ok && *c; c++) {
                if (*c < '0' || *c > '9' || magnitude > (uint64_t) INT64_MAX / 10) {
                        ok = false;
                        break;
                }
                magnitude = magnitude * 10 + (uint64_t) (*c - '0');
        }
        if (ok && magnitude > (uint64_t) INT64_MAX)
                ok = false;
        int64_t value = negative ? -(int64_t) magnitude : (int64_t) magnitude;
        if (!ok || value < p->min || value > p->max)
                return prop_error(error, error_size, p, -EINVAL, "must be an integer between %" PRId64 " and %" PRId64 "%s%s%s",
                                  p->min, p->max, p->unit ? " (" : "", p->unit ?: "", p->unit ? ")" : "");
        if (snprintf(out, out_size, "%" PRId64, value) >= (int) out_size)
                return -ENOBUFS;
        return 0;
}

static int check_uuid(const struct prop_def *p, const char *v, char *out, size_t out_size, char *error,
                      size_t error_size) {
        static const char hex[] = "0123456789abcdef";
        char canonical[37];

        if (strlen(v) != 36)
                goto bad;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (v[i] != '-')
                                goto bad;
                        canonical[i] = '-';
                        continue;
                }
                const char *h = strchr(hex, v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
                if (!h || !*h)
                        goto bad;
                canonical[i] = *h;
        }
        canonical[36] = '\0';
        return copy_out(canonical, out, out_size);
bad:
        return prop_error(error, error_size, p, -EINVAL, "must be a UUID (8-4-4-4-12 hexadecimal digits)");
}

static int check_type(const struct domain_set *set, const struct prop_def *p, const char *v, char *out,
                      size_t out_size, char *error, size_t error_size) {
        switch (p->type) {
        case PROP_STR:
                if (!text_printable(v, (size_t) p->max))
                        return prop_error(error, error_size, p, -EINVAL,
                                          "must be printable UTF-8 text of at most %" PRId64 " bytes", p->max);
                return copy_out(v, out, out_size);
        case PROP_INT:
                return check_int(p, v, out, out_size, error, error_size);
        case PROP_BOOL:
                if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
                        return copy_out("True", out, out_size);
                if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
                        return copy_out("False", out, out_size);
                return prop_error(error, error_size, p, -EINVAL, "must be True or False");
        case PROP_LABEL:
                if (!label_find(v))
                        return prop_error(error, error_size, p, -ENOENT,
                                          "no such label '%s' (red, orange, yellow, green, gray, blue, purple, black)",
                                          quotable(v));
                return copy_out(v, out, out_size);
        case PROP_DOMAIN:
                if (*v == '\0' || strcmp(v, "none") == 0) {
                        if (!(p->flags & PROP_NULLABLE))
                                return prop_error(error, error_size, p, -EINVAL, "must name a domain, not none");
                        return copy_out("", out, out_size);
                }
                if (!domain_set_find(set, v))
                        return prop_error(error, error_size, p, -ENOENT, "no such domain '%s'", quotable(v));
                return copy_out(v, out, out_size);
        case PROP_UUID:
                return check_uuid(p, v, out, out_size, error, error_size);
        case PROP_ENUM: {
                char list[256] = "";
                for (const char *const *c = p->choices; *c; c++) {
                        if (strcmp(*c, v) == 0)
                                return copy_out(v, out, out_size);
                        if (c != p->choices)
                                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                        strncat(list, *c, sizeof(list) - strlen(list) - 1);
                }
                return prop_error(error, error_size, p, -EINVAL, "must be one of %s", list);
        }
        }
        return -EINVAL;
}

int prop_check(const struct domain_set *set, const struct domain *d, const struct prop_def *p,
               const char *untrusted_value, char *out, size_t out_size, char *error, size_t error_size) {
        char canonical[PROP_VALUE_MAX];
        int r;

        if (error && error_size > 0)
                error[0] = '\0';
        if (!set || !p || !out || out_size == 0)
                return -EINVAL;
        if (!!(p->flags & PROP_GLOBAL) != !d)
                return prop_error(error, error_size, p, -EINVAL,
                                  d ? "a global property, not a domain's" : "a domain's property, not a global one");
        if (p->flags & PROP_READ_ONLY)
                return prop_error(error, error_size, p, -EPERM, "read-only");
        if ((p->flags & PROP_WRITE_ONCE) && (prop_index(p) == PROP_ID_NAME || domain_in_set(set, d)))
                return prop_error(error, error_size, p, -EPERM, "set at creation, cannot be changed");
        if (!untrusted_value)
                return prop_error(error, error_size, p, -EINVAL, "a value is required");

        r = check_type(set, p, untrusted_value, canonical, sizeof(canonical), error, error_size);
        if (r < 0)
                return r;
        if (prop_index(p) == PROP_ID_MAC)
                for (char *c = canonical; *c; c++)
                        if (*c >= 'A' && *c <= 'F')
                                *c = (char) (*c - 'A' + 'a');
        if (prop_index(p) == PROP_ID_UUID)
                for (size_t i = 0; i < set->n_domains; i++)
                        if (set->domains[i] != d && strcmp(set->domains[i]->uuid, canonical) == 0)
                                return prop_error(error, error_size, p, -EINVAL, "%s is the UUID of %s",
                                                  canonical, set->domains[i]->name);
        if (p->validate) {
                r = p->validate(set, d, canonical, error, error_size);
                if (r < 0)
                        return r;
        }
        return copy_out(canonical, out, out_size);
}

int prop_check_reset(const struct domain_set *set, const struct domain *d, const struct prop_def *p, char *error,
                     size_t error_size) {
        char value[PROP_VALUE_MAX];
        int r;

        if (error && error_size > 0)
                error[0] = '\0';
        if (!set || !p)
                return -EINVAL;
        if (!!(p->flags & PROP_GLOBAL) != !d)
                return prop_error(error, error_size, p, -EINVAL,
                                  d ? "a global property, not a domain's" : "a domain's property, not a global one");
        if (p->flags & PROP_READ_ONLY)
                return prop_error(error, error_size, p, -EPERM, "read-only");
        if (p->flags & PROP_WRITE_ONCE)
                return prop_error(error, error_size, p, -EPERM, "set at creation, cannot be changed");
        if (!(d ? d->values[prop_index(p)] : set->globals[prop_index(p)]))
                return 0;       /* already at the default */
        if (p->default_fn) {
                r = p->default_fn(set, d, value, sizeof(value));
                if (r == -ENOENT)
                        value[0] = '\0';
                else if (r < 0)
                        return r;
        } else
                snprintf(value, sizeof(value), "%s", p->default_value ?: "");
        if ((p->flags & PROP_REQUIRED) && value[0] == '\0')
                return prop_error(error, error_size, p, -EINVAL, "required, and has no default to go back to");
        return p->validate ? p->validate(set, d, value, error, error_size) : 0;
}

int prop_get(const struct domain_set *set, const struct domain *d, const struct prop_def *p, char *buf,
             size_t size, bool *ret_is_default) {
        bool is_default = false;
        const char *value;
        int r = 0;

        if (!set || !p || !buf || size == 0)
                return -EINVAL;
        if (!!(p->flags & PROP_GLOBAL) != !d)
                return -EINVAL;

        switch (prop_index(p)) {
        case PROP_ID_NAME:
                r = copy_out(d->name, buf, size);
                break;
        case PROP_ID_QID:
                r = snprintf(buf, size, "%" PRIu32, d->qid) >= (int) size ? -ENOBUFS : 0;
                break;
        case PROP_ID_UUID:
                r = copy_out(d->uuid, buf, size);
                break;
        case PROP_ID_KLASS:
                r = copy_out(domain_class_to_string(d->klass) ?: "", buf, size);
                break;
        default:
                value = d ? d->values[prop_index(p)] : set->globals[prop_index(p)];
                if (value) {
                        r = copy_out(value, buf, size);
                        break;
                }
                is_default = true;
                if (p->default_fn) {
                        r = p->default_fn(set, d, buf, size);
                        if (r == -ENOENT)
                                r = copy_out("", buf, size);
                } else
                        r = copy_out(p->default_value ?: "", buf, size);
        }
        if (r < 0)
                return r;
        if (ret_is_default)
                *ret_is_default = is_default;
        return 0;
}

void prop_get_text(const struct domain_set *set, const struct domain *d, enum prop_id id, char *buf, size_t size) {
        if (prop_get(set, d, &prop_table[id], buf, size, NULL) < 0)
                buf[0] = '\0';
}

bool prop_get_bool(const struct domain_set *set, const struct domain *d, enum prop_id id) {
        char buf[16];

        prop_get_text(set, d, id, buf, sizeof(buf));
        return strcmp(buf, "True") == 0;
}

struct domain *prop_get_domain(const struct domain_set *set, const struct domain *d, enum prop_id id) {
        char buf[DOMAIN_NAME_MAX + 1];

        prop_get_text(set, d, id, buf, sizeof(buf));
        return buf[0] ? domain_set_find(set, buf) : NULL;
}

int prop_check_complete(const struct domain_set *set, const struct domain *d, char *error, size_t error_size) {
        char value[PROP_VALUE_MAX];

        if (!set || !d)
                return -EINVAL;
        for (size_t i = 0; i < prop_table_size; i++) {
                const struct prop_def *p = &prop_table[i];

                if (!(p->flags & PROP_REQUIRED) || (p->flags & PROP_GLOBAL))
                        continue;
                prop_get_text(set, d, (enum prop_id) i, value, sizeof(value));
                if (value[0] == '\0')
                        return prop_error(error, error_size, p, -EINVAL, "required");
        }
        if (d->klass == DOMAIN_APPVM || d->klass == DOMAIN_DISPVM) {
                prop_get_text(set, d, PROP_ID_TEMPLATE, value, sizeof(value));
                if (value[0] == '\0')
                        return prop_error(error, error_size, PROP(TEMPLATE), -EINVAL,
                                          "required (set it, or set the global %s)",
                                          d->klass == DOMAIN_APPVM ? "default_template" : "default_dispvm");
                return validate_template(set, d, value, error, error_size);
        }
        return 0;
}
