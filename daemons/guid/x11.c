/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid's connection to the admin X display: the screen, MIT-SHM with fd
 * passing (required: pixels are never copied), the atoms of the window
 * properties, and the keycodes of the clipboard shortcuts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guid.h"
#include "log.h"

#define X_CONNECT_TRIES 50              /* 5 s */

static xcb_atom_t intern(xcb_connection_t *c, const char *name) {
        xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c, xcb_intern_atom(c, 0, (uint16_t) strlen(name), name),
                                                           NULL);
        xcb_atom_t a = r ? r->atom : XCB_ATOM_NONE;
        free(r);
        return a;
}

/* The keycode of a keysym in the unshifted column, 0 if none. */
static xcb_keycode_t keycode_of(struct guid *g, xcb_keysym_t sym) {
        const xcb_setup_t *setup = xcb_get_setup(g->conn);
        uint8_t count = (uint8_t) (setup->max_keycode - setup->min_keycode + 1);
        xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
                g->conn, xcb_get_keyboard_mapping(g->conn, setup->min_keycode, count), NULL);
        xcb_keycode_t found = 0;

        if (!r)
                return 0;
        xcb_keysym_t *syms = xcb_get_keyboard_mapping_keysyms(r);
        for (unsigned k = 0; k < count && !found; k++)
                if (r->keysyms_per_keycode > 0 && syms[k * r->keysyms_per_keycode] == sym)
                        found = (xcb_keycode_t) (setup->min_keycode + k);
        free(r);
        return found;
}

int guid_x11_setup(struct guid *g) {
        int screen_number;

        /* The display may be starting or busy: a guid given up on leaves
         * its domain without windows, so try for X_CONNECT_TRIES tenths of
         * a second. */
        for (unsigned tries = 1;; tries++) {
                g->conn = xcb_connect(g->cfg.display, &screen_number);
                int error = xcb_connection_has_error(g->conn);
                if (!error)
                        break;
                xcb_disconnect(g->conn);
                g->conn = NULL;
                if (tries == X_CONNECT_TRIES)
                        return log_error_errno(ECONNREFUSED, "Cannot open X display %s (xcb error %d)",
                                               g->cfg.display ?: getenv("DISPLAY") ?: "(unset)", error);
                (void) usleep(100 * 1000);
        }
        xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(g->conn));
        for (int i = 0; i < screen_number && it.rem; i++)
                xcb_screen_next(&it);
        g->screen = it.data;
        if (!g->screen)
                return log_error_errno(ENODEV, "No X screen %d", screen_number);

        xcb_shm_query_version_reply_t *shm = xcb_shm_query_version_reply(g->conn, xcb_shm_query_version(g->conn),
                                                                         NULL);
        bool fd_passing = shm && (shm->major_version > 1 || shm->minor_version >= 2);
        free(shm);
        if (!fd_passing)
                return log_error_errno(EOPNOTSUPP, "The X server lacks MIT-SHM 1.2 (fd passing)");

        g->shm_completion = (uint8_t) (xcb_get_extension_data(g->conn, &xcb_shm_id)->first_event +
                                       XCB_SHM_COMPLETION);
        g->gc = xcb_generate_id(g->conn);
        xcb_create_gc(g->conn, g->gc, g->screen->root, 0, NULL);
        g->atom_vmname = intern(g->conn, "_QUBES_VMNAME");
        g->atom_label_color = intern(g->conn, "_QUBES_LABEL_COLOR");
        g->atom_vmwindowid = intern(g->conn, "_QUBES_VMWINDOWID");
        g->atom_net_wm_name = intern(g->conn, "_NET_WM_NAME");
        g->atom_utf8_string = intern(g->conn, "UTF8_STRING");
        g->atom_wm_protocols = intern(g->conn, "WM_PROTOCOLS");
        g->atom_wm_delete = intern(g->conn, "WM_DELETE_WINDOW");
        g->key_c = keycode_of(g, 'c');
        g->key_v = keycode_of(g, 'v');
        return 0;
}
