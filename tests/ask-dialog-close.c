/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ask-dialog-close WIN: what a window manager does when the user clicks a
 * window's close button: a WM_PROTOCOLS / WM_DELETE_WINDOW client message to
 * WIN (an X window id, decimal or 0x hex) on $DISPLAY.  For tests under Xvfb,
 * which has no window manager (and this xdotool has no windowclose).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>

int main(int argc, char **argv) {
        char *end;
        unsigned long win = argc == 2 ? strtoul(argv[1], &end, 0) : 0;

        if (argc != 2 || *end || win == 0 || win > UINT32_MAX) {
                fprintf(stderr, "Usage: ask-dialog-close WINDOW-ID\n");
                return 2;
        }
        xcb_connection_t *c = xcb_connect(NULL, NULL);
        if (xcb_connection_has_error(c)) {
                fprintf(stderr, "ask-dialog-close: cannot open $DISPLAY\n");
                return 1;
        }
        xcb_intern_atom_cookie_t protocols = xcb_intern_atom(c, 0, strlen("WM_PROTOCOLS"), "WM_PROTOCOLS");
        xcb_intern_atom_cookie_t delete = xcb_intern_atom(c, 0, strlen("WM_DELETE_WINDOW"), "WM_DELETE_WINDOW");
        xcb_intern_atom_reply_t *p = xcb_intern_atom_reply(c, protocols, NULL);
        xcb_intern_atom_reply_t *d = xcb_intern_atom_reply(c, delete, NULL);
        if (!p || !d) {
                fprintf(stderr, "ask-dialog-close: cannot intern the WM_PROTOCOLS atoms\n");
                return 1;
        }
        xcb_client_message_event_t ev = {
                .response_type = XCB_CLIENT_MESSAGE,
                .format = 32,
                .window = (xcb_window_t) win,
                .type = p->atom,
        };
        ev.data.data32[0] = d->atom;
        free(p);
        free(d);
        ev.data.data32[1] = XCB_CURRENT_TIME;
        xcb_generic_error_t *e = xcb_request_check(c, xcb_send_event_checked(c, 0, (xcb_window_t) win,
                                                                             XCB_EVENT_MASK_NO_EVENT,
                                                                             (const char *) &ev));
        int status = e ? 1 : 0;
        if (e)
                fprintf(stderr, "ask-dialog-close: X error %u\n", e->error_code);
        free(e);
        xcb_disconnect(c);
        return status;
}
