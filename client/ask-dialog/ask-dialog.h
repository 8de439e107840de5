/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-ask-dialog (docs/man/odyssey-ask-dialog.1): the ask agent of the
 * qrexec policy as a trusted dialog on the admin X display.  main.c serves
 * org.qubes.AskAgent1 on a connection to qubesd; every Ask becomes one
 * struct ask_dialog (dialog.c draws it and turns the user's input into an
 * answer); question.c checks the question's text before anything shows it;
 * labels.c finds each target's label color.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <xcb/xcb.h>

#include "util.h"

#define ASK_TEXT_MAX 255                /* longest name, service or argument shown */
#define ASK_TARGETS_MAX 256
#define ASK_TIMEOUT_SEC_DEFAULT 60
#define ASK_TIMEOUT_SEC_MAX 60          /* qubesd waits no longer for an answer */
/* Input is ignored this long after a dialog appears, so that a key or click
 * meant for the window that had the focus cannot answer it. */
#define ASK_ARM_USEC (500 * UINT64_C(1000))

/* One question, every string checked by question_parse(). */
struct question {
        char *source;
        char *service;                  /* the service name, without "+ARG" */
        char *argument;                 /* "" when none */
        char **targets;
        size_t n_targets;
        size_t default_index;           /* n_targets when there is no default */
};

/* question.c: true when s is non-empty printable ASCII of at most ASK_TEXT_MAX bytes. */
bool question_text_ok(const char *untrusted_s);
/* Read Ask's arguments (ssass) from m; -EBADMSG for text that may not be shown. */
int question_parse(sd_bus_message *m, struct question *ret);
void question_done(struct question *q);

/* The X side, shared by every dialog (dialog.c). */
struct ask_x11 {
        xcb_connection_t *conn;
        xcb_screen_t *screen;
        xcb_font_t font;
        uint16_t char_width, ascent, descent;
        xcb_gcontext_t gc;
        uint32_t color_bg, color_fg, color_header, color_header_fg, color_select, color_select_fg,
                color_allow, color_deny, color_disabled, color_dim;
        xcb_atom_t atom_wm_protocols, atom_wm_delete, atom_net_wm_name, atom_utf8_string, atom_net_wm_type,
                atom_net_wm_type_dialog, atom_net_wm_state, atom_net_wm_state_above, atom_ready;
        /* keysyms of the unshifted column, indexed by keycode - min_keycode */
        xcb_keysym_t *keysyms;
        uint8_t min_keycode, keysyms_per_keycode;
        unsigned n_keycodes;
};

struct ask_agent;

struct ask_dialog {
        struct ask_agent *agent;
        sd_bus_message *call;           /* the Ask, answered once */
        struct question q;
        xcb_window_t window;
        uint16_t width, height;
        size_t selected, first_row;
        /* per target: its domain's label color, when known (labels.c) */
        uint32_t *target_color;
        bool *target_has_color;
        sd_bus_slot *labels_call;       /* GetAllDomains, until it answers */
        bool armed;
        sd_event_source *deadline, *arm_timer;
        struct ask_dialog *next;
};

struct ask_agent {
        sd_event *event;
        sd_bus *bus;
        struct ask_x11 x;
        unsigned timeout_sec;
        unsigned n_shown;               /* to place each new dialog a little off the last */
        struct ask_dialog *dialogs;
        int exit_code;
};

/* dialog.c */
int ask_x11_open(struct ask_x11 *x, const char *display);
void ask_x11_close(struct ask_x11 *x);
int ask_dialog_show(struct ask_agent *a, struct ask_dialog *d);
/* Handle pending X events; <0 when the X connection is gone. */
int ask_x11_process(struct ask_agent *a);

/* labels.c: ask qubesd for the targets' labels; d is shown when they come
 * (or do not).  <0: not asked, show d now. */
int ask_labels_fetch(struct ask_agent *a, struct ask_dialog *d);

/* main.c: answer d's Ask (target NULL: deny), close and free d. */
void ask_dialog_answer(struct ask_dialog *d, const char *target);
