/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The callbacks a HAL backend test hands to the backend (hal.h): what an
 * operation answered, and what the backend's event callback reported.
 */
#pragma once

#include <stdbool.h>

#include "hal.h"

struct hal_test_result {
        bool done;
        int r;
};

/* The last event and how many came. */
struct hal_test_events {
        char name[64];
        enum power_state state;
        unsigned n;
};

/* hal_event_fn; userdata is a struct hal_test_events. */
void hal_test_on_event(void *userdata, const char *name, enum power_state state, int reason);
/* hal_done_fn; userdata is a struct hal_test_result. */
void hal_test_on_done(void *userdata, int r);
