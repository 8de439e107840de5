/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each target's label color, so the user sees which domain a name stands
 * for as guid shows it (the colored frame).  The labels come from qubesd
 * (GetAllDomains, asked without blocking the loop: qubesd is waiting for
 * our answer meanwhile); the colors from qubesd's own table (label.c).  The
 * dialog shows once the answer is in; without one (LABELS_TIMEOUT_USEC),
 * without colors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ask-dialog.h"
#include "log.h"
#include "property.h"
#include "value.h"

/* long enough for a loaded qubesd; the question's own timeout still runs */
#define LABELS_TIMEOUT_USEC (10 * API_USEC_PER_SEC)

/* "@dispvm:T" starts a disposable of T, which has T's label. */
static const char *domain_of_target(const char *target) {
        static const char dispvm[] = "@dispvm:";
        if (strncmp(target, dispvm, strlen(dispvm)) == 0)
                return target + strlen(dispvm);
        return target;
}

static void set_colors(struct ask_dialog *d, const struct value *all) {
        for (size_t i = 0; i < d->q.n_targets; i++) {
                const struct value *props = value_dict_get(all, domain_of_target(d->q.targets[i]));
                const struct value *label = props && props->dict ? value_dict_get(props, "label") : NULL;
                label = label ? value_unwrap(label) : NULL;
                const struct label *l = label && label->type == 's' ? label_find(label->str) : NULL;
                if (l) {
                        d->target_color[i] = l->color;
                        d->target_has_color[i] = true;
                }
        }
}

static int on_domains(sd_bus_message *reply, void *userdata, sd_bus_error *error _unused_) {
        struct ask_dialog *d = userdata;
        _cleanup_value_ struct value all = {};

        d->labels_call = sd_bus_slot_unref(d->labels_call);
        if (sd_bus_message_is_method_error(reply, NULL))
                log_warning("Cannot read the domains' labels (%s): targets shown without colors.",
                            sd_bus_message_get_error(reply)->message);
        else if (value_read(reply, &all) < 0 || !all.dict)
                log_warning("GetAllDomains answered something else than a{sa{sv}}: targets shown without colors.");
        else
                set_colors(d, &all);
        (void) ask_dialog_show(d->agent, d);
        return 0;
}

int ask_labels_fetch(struct ask_agent *a, struct ask_dialog *d) {
        d->target_color = calloc(d->q.n_targets, sizeof(*d->target_color));
        d->target_has_color = calloc(d->q.n_targets, sizeof(*d->target_has_color));
        if (!d->target_color || !d->target_has_color)
                return -ENOMEM;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(a->bus, &m, NULL, ADMIN_MANAGER_PATH, ADMIN_MANAGER_INTERFACE,
                                               "GetAllDomains");
        if (r >= 0)
                r = sd_bus_call_async(a->bus, &d->labels_call, m, on_domains, d, LABELS_TIMEOUT_USEC);
        if (r < 0)
                return log_warning_errno(r, "Cannot ask for the domains' labels: %m");
        return 0;
}
