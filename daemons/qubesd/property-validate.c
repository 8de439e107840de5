/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules beyond a property's type: which class may point at which, network
 * loops, what may not be withdrawn while others rely on it, and the formats
 * of names, MACs and user names.  Every refusal names the property and the
 * rule.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "property-internal.h"

/* "a, b, c" of the domains matching, into list. */
struct name_list {
        char text[512];
        size_t count;
};

static void name_list_add(struct name_list *l, const char *what, const char *name) {
        size_t used = strlen(l->text);

        if (used + 1 >= sizeof(l->text))
                return;
        snprintf(l->text + used, sizeof(l->text) - used, "%s%s%s", l->count > 0 ? ", " : "", what, name);
        l->count++;
}

static bool is_char_of(char c, const char *extra) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr(extra, c));
}

bool domain_name_valid(const char *name, char *error, size_t error_size) {
        size_t len = name ? strlen(name) : 0;

        if (len < 1 || len > DOMAIN_NAME_MAX)
                return text_error(error, error_size, false, "name: must be 1 to %d characters long", DOMAIN_NAME_MAX);
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
                return text_error(error, error_size, false, "name: must start with a letter");
        for (size_t i = 0; i < len; i++)
                if (!is_char_of(name[i], "_.-"))
                        return text_error(error, error_size, false,
                                          "name: may contain only letters, digits, '_', '.' and '-'");
        if (strcmp(name, "none") == 0 || strcmp(name, "default") == 0 || strcmp(name, "Domain-0") == 0 ||
            strcmp(name, "dom0") == 0)
                return text_error(error, error_size, false, "name: '%s' is reserved", name);
        if (len >= 3 && strcmp(name + len - 3, "-dm") == 0)
                return text_error(error, error_size, false,
                                  "name: must not end in '-dm' (reserved for device-model domains)");
        return true;
}

static bool netvm_any_loop(const struct domain_set *set, const struct domain *changed, const char *changed_netvm,
                           const char *global_netvm, const char **ret_on_loop);

static bool loop_checks = true;

void netvm_loop_checks_enable(bool enable) {
        loop_checks = enable;
}

int validate_template(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                      size_t error_size) {
        const struct prop_def *p = PROP(TEMPLATE);
        struct domain *t;

        if (d->klass != DOMAIN_APPVM && d->klass != DOMAIN_DISPVM)
                return prop_error(error, error_size, p, -EINVAL, "only AppVMs and DispVMs have a template, not a %s",
                                  domain_class_to_string(d->klass));
        if (value[0] == '\0')
                return prop_error(error, error_size, p, -EINVAL, "required (set it, or set the global %s)",
                                  d->klass == DOMAIN_APPVM ? "default_template" : "default_dispvm");
        t = domain_set_find(set, value);
        if (!t)
                return prop_error(error, error_size, p, -ENOENT, "no such domain '%s'", quotable(value));
        if (d->klass == DOMAIN_APPVM && t->klass != DOMAIN_TEMPLATEVM)
                return prop_error(error, error_size, p, -EINVAL, "an AppVM's template must be a TemplateVM; %s is a %s",
                                  t->name, domain_class_to_string(t->klass));
        if (d->klass == DOMAIN_DISPVM &&
            (t->klass != DOMAIN_APPVM || !prop_get_bool(set, t, PROP_ID_TEMPLATE_FOR_DISPVMS)))
                return prop_error(error, error_size, p, -EINVAL,
                                  "a DispVM's template must be an AppVM with template_for_dispvms=True; %s is not",
                                  t->name);
        /* A DispVM that sets no netvm follows its template's: that may close a loop. */
        if (d->klass == DOMAIN_DISPVM && !d->values[PROP_ID_NETVM] && domain_in_set(set, d)) {
                char netvm[DOMAIN_NAME_MAX + 1];
                const char *on_loop = NULL;

                netvm_effective(set, t, NULL, NULL, NULL, netvm, sizeof(netvm));
                if (strcmp(netvm, d->name) == 0 || netvm_any_loop(set, d, netvm, NULL, &on_loop))
                        return prop_error(error, error_size, p, -ELOOP,
                                          "%s would make a network loop (%s would follow its netvm %s)", t->name,
                                          d->name, netvm[0] ? netvm : "none");
        }
        return 0;
}

/*
 * Would any domain's netvm chain loop, with `changed`'s netvm (or the global
 * default_netvm) replaced?  Checks every chain, because one change can close
 * a loop that does not pass through the changed domain (a DispVM following
 * its disposable template's netvm).  A chain longer than the number of
 * domains has repeated a domain.  Writes the name of a domain on the loop.
 */
static bool netvm_any_loop(const struct domain_set *set, const struct domain *changed, const char *changed_netvm,
                           const char *global_netvm, const char **ret_on_loop) {
        if (!loop_checks)
                return false;
        for (size_t i = 0; i < set->n_domains; i++) {
                struct domain *cur = set->domains[i];
                size_t steps = 0;

                while (cur) {
                        char next[DOMAIN_NAME_MAX + 1];

                        if (++steps > set->n_domains + 1) {
                                *ret_on_loop = cur->name;
                                return true;
                        }
                        netvm_effective(set, cur, changed, changed_netvm, global_netvm, next, sizeof(next));
                        cur = next[0] ? domain_set_find(set, next) : NULL;
                }
        }
        return false;
}

static int check_netvm_target(const struct domain_set *set, const struct prop_def *p, const char *value,
                              struct domain **ret, char *error, size_t error_size) {
        struct domain *t = domain_set_find(set, value);

        if (!t)
                return prop_error(error, error_size, p, -ENOENT, "no such domain '%s'", quotable(value));
        if (!prop_get_bool(set, t, PROP_ID_PROVIDES_NETWORK))
                return prop_error(error, error_size, p, -EINVAL,
                                  "%s does not provide network (its provides_network is False)", t->name);
        *ret = t;
        return 0;
}

int validate_netvm(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                   size_t error_size) {
        const struct prop_def *p = PROP(NETVM);
        const char *on_loop = NULL;
        struct domain *t;
        int r;

        if (d->klass == DOMAIN_ADMINVM && value[0] != '\0')
                return prop_error(error, error_size, p, -EINVAL, "the AdminVM has no netvm");
        if (value[0] == '\0')
                return 0;
        if (strcmp(value, d->name) == 0)
                return prop_error(error, error_size, p, -ELOOP, "a domain cannot be its own netvm");
        r = check_netvm_target(set, p, value, &t, error, error_size);
        if (r < 0)
                return r;
        if (netvm_any_loop(set, d, value, NULL, &on_loop))
                return prop_error(error, error_size, p, -ELOOP, "%s would make a network loop (through %s)", value,
                                  on_loop);
        return 0;
}

int validate_default_netvm(const struct domain_set *set, const struct domain *d _unused_, const char *value,
                           char *error, size_t error_size) {
        const struct prop_def *p = PROP(DEFAULT_NETVM);
        const char *on_loop = NULL;
        struct domain *t;
        int r;

        if (value[0] == '\0')
                return 0;
        r = check_netvm_target(set, p, value, &t, error, error_size);
        if (r < 0)
                return r;
        if (netvm_any_loop(set, NULL, NULL, value, &on_loop))
                return prop_error(error, error_size, p, -ELOOP, "%s would make a network loop (through %s)", value,
                                  on_loop);
        return 0;
}

int validate_provides_network(const struct domain_set *set, const struct domain *d, const char *value,
                              char *error, size_t error_size) {
        struct name_list users = {};

        if (strcmp(value, "True") == 0)
                return 0;
        for (size_t i = 0; i < set->n_domains; i++) {
                char netvm[DOMAIN_NAME_MAX + 1];

                if (set->domains[i] == d)
                        continue;
                netvm_effective(set, set->domains[i], NULL, NULL, NULL, netvm, sizeof(netvm));
                if (strcmp(netvm, d->name) == 0)
                        name_list_add(&users, "", set->domains[i]->name);
        }
        if (set->globals[PROP_ID_DEFAULT_NETVM] && strcmp(set->globals[PROP_ID_DEFAULT_NETVM], d->name) == 0)
                name_list_add(&users, "", "the global default_netvm");
        if (users.count > 0)
                return prop_error(error, error_size, PROP(PROVIDES_NETWORK), -EINVAL,
                                  "cannot be False while %s is still the netvm of: %s", d->name, users.text);
        return 0;
}

int validate_default_dispvm(const struct domain_set *set, const struct domain *d, const char *value, char *error,
                            size_t error_size) {
        const struct prop_def *p = d ? PROP(DEFAULT_DISPVM) : PROP(DEFAULT_DISPVM_GLOBAL);
        struct domain *t;

        if (value[0] == '\0')
                return 0;
        t = domain_set_find(set, value);
        if (!t)
                return prop_error(error, error_size, p, -ENOENT, "no such domain '%s'", quotable(value));
        if (!prop_get_bool(set, t, PROP_ID_TEMPLATE_FOR_DISPVMS))
                return prop_error(error, error_size, p, -EINVAL,
                                  "%s is not a disposable template (its template_for_dispvms is False)", t->name);
        return 0;
}

int validate_template_for_dispvms(const struct domain_set *set, const struct domain *d, const char *value,
                                  char *error, size_t error_size) {
        const struct prop_def *p = PROP(TEMPLATE_FOR_DISPVMS);
        struct name_list users = {};

        if (strcmp(value, "True") == 0) {
                if (d->klass != DOMAIN_APPVM)
                        return prop_error(error, error_size, p, -EINVAL,
                                          "only an AppVM can be a disposable template, not a %s",
                                          domain_class_to_string(d->klass));
                return 0;
        }
        for (size_t i = 0; i < set->n_domains; i++) {
                struct domain *x = set->domains[i];

                if (x == d)
                        continue;
                if (x->klass == DOMAIN_DISPVM && domain_get_template(set, x) == d)
                        name_list_add(&users, "template of ", x->name);
                else if (x->values[PROP_ID_DEFAULT_DISPVM] && strcmp(x->values[PROP_ID_DEFAULT_DISPVM], d->name) == 0)
                        name_list_add(&users, "default_dispvm of ", x->name);
        }
        if (set->globals[PROP_ID_DEFAULT_DISPVM_GLOBAL] &&
            strcmp(set->globals[PROP_ID_DEFAULT_DISPVM_GLOBAL], d->name) == 0)
                name_list_add(&users, "", "the global default_dispvm");
        if (users.count > 0)
                return prop_error(error, error_size, p, -EINVAL, "cannot be False while %s is still used: %s",
                                  d->name, users.text);
        return 0;
}

int validate_backend(const struct domain_set *set _unused_, const struct domain *d, const char *value, char *error,
                     size_t error_size) {
        const struct prop_def *p = d ? PROP(BACKEND) : PROP(DEFAULT_BACKEND);

        if (strcmp(value, "native") == 0)
                return 0;
        if (strncmp(value, "libvirt:", 8) == 0 && value[8] != '\0' && !strpbrk(value, " \t"))
                return 0;
        return prop_error(error, error_size, p, -EINVAL, "must be native or libvirt:<uri>");
}

int validate_kernel(const struct domain_set *set _unused_, const struct domain *d, const char *value, char *error,
                    size_t error_size) {
        const struct prop_def *p = d ? PROP(KERNEL) : PROP(DEFAULT_KERNEL);

        if (value[0] == '.')
                goto bad;
        for (const char *c = value; *c; c++)
                if (!is_char_of(*c, "._+-"))
                        goto bad;
        return 0;
bad:
        return prop_error(error, error_size, p, -EINVAL,
                          "must be empty or a kernel version (letters, digits, '.', '_', '+', '-'; "
                          "not starting with '.')");
}

int validate_mac(const struct domain_set *set _unused_, const struct domain *d _unused_, const char *value,
                 char *error, size_t error_size) {
        static const char hex[] = "0123456789abcdefABCDEF";

        if (strlen(value) != 17)
                goto bad;
        for (size_t i = 0; i < 17; i++) {
                if (i % 3 == 2 ? value[i] != ':' : !strchr(hex, value[i]))
                        goto bad;
        }
        return 0;
bad:
        return prop_error(error, error_size, PROP(MAC), -EINVAL,
                          "must be a MAC address of six hexadecimal pairs, like 00:16:3e:5e:6c:00");
}

int validate_default_user(const struct domain_set *set _unused_, const struct domain *d _unused_,
                          const char *value, char *error, size_t error_size) {
        if (!((value[0] >= 'a' && value[0] <= 'z') || value[0] == '_'))
                goto bad;
        for (const char *c = value; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
                        goto bad;
        return 0;
bad:
        return prop_error(error, error_size, PROP(DEFAULT_USER), -EINVAL,
                          "must be a user name (lowercase letters, digits, '_', '-'; starting with a letter or '_')");
}

int validate_default_template(const struct domain_set *set, const struct domain *d _unused_, const char *value,
                              char *error, size_t error_size) {
        const struct prop_def *p = PROP(DEFAULT_TEMPLATE);
        struct domain *t;

        if (value[0] == '\0')
                return 0;
        t = domain_set_find(set, value);
        if (!t)
                return prop_error(error, error_size, p, -ENOENT, "no such domain '%s'", quotable(value));
        if (t->klass != DOMAIN_TEMPLATEVM)
                return prop_error(error, error_size, p, -EINVAL, "must be a TemplateVM; %s is a %s", t->name,
                                  domain_class_to_string(t->klass));
        return 0;
}
