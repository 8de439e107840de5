/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "hal-test-helpers.h"

void hal_test_on_event(void *userdata, const char *name, enum power_state state, int reason) {
        struct hal_test_events *e = userdata;

        (void) reason;
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->state = state;
        e->n++;
}

void hal_test_on_done(void *userdata, int r) {
        struct hal_test_result *res = userdata;

        res->done = true;
        res->r = r;
}
