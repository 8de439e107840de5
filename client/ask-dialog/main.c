/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * odyssey-ask-dialog: answers the qrexec policy's `ask` questions with a
 * dialog on the admin X display.  Like `qubes-ctl ask-agent` it serves
 * org.qubes.AskAgent1 on its own connection to qubesd (client/api.c) and
 * registers it with RegisterAskAgent; each Ask gets its own window, answered
 * by the user, by closing the window (deny) or by the timeout (deny).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ask-dialog.h"
#include "daemon.h"
#include "log.h"
#include "qubes-ctl.h"
#include "sandbox.h"

#define ASK_AGENT_PATH "/org/qubes/AskAgent1"
#define ASK_AGENT_INTERFACE "org.qubes.AskAgent1"

static void help(void) {
        printf("Usage: odyssey-ask-dialog [OPTIONS]\n\n"
               "Answer the qrexec policy's 'ask' questions with a dialog on the admin X display:\n"
               "the calling domain, the service and its argument, the targets the policy allows\n"
               "(the default one chosen), Allow and Deny.  Up/Down choose, Enter allows, Escape,\n"
               "closing the window or the timeout deny.\n\n"
               "  --display DISPLAY        X display (default $DISPLAY)\n"
               "  --admin-address ADDRESS  qubesd's Admin API (also --address; default\n"
               "                           $QUBES_ADMIN_ADDRESS, else %s)\n"
               "  --timeout SEC            deny a question left unanswered this long\n"
               "                           (1..%u, default %u)\n"
               "  -h --help                this text\n",
               ADMIN_DEFAULT_ADDRESS, ASK_TIMEOUT_SEC_MAX, ASK_TIMEOUT_SEC_DEFAULT);
}

struct options {
        const char *display;
};

static int parse_args(int argc, char **argv, struct ask_agent *a, struct options *o) {
        enum { ARG_DISPLAY = 0x100, ARG_ADDRESS, ARG_TIMEOUT };
        static const struct option options[] = {
                { "display", required_argument, NULL, ARG_DISPLAY },
                { "admin-address", required_argument, NULL, ARG_ADDRESS },
                { "address", required_argument, NULL, ARG_ADDRESS },    /* as qubes-ctl, which api.c's hints name */
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        uint32_t sec;
        int c;

        a->timeout_sec = ASK_TIMEOUT_SEC_DEFAULT;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_DISPLAY:
                        o->display = optarg;
                        break;
                case ARG_ADDRESS:
                        arg_address = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_uint32(optarg, &sec) < 0 || sec < 1 || sec > ASK_TIMEOUT_SEC_MAX) {
                                fprintf(stderr, "odyssey-ask-dialog: --timeout must be 1..%u seconds\n",
                                        ASK_TIMEOUT_SEC_MAX);
                                return -EINVAL;
                        }
                        a->timeout_sec = sec;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "odyssey-ask-dialog: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* ------------------------------------------------------------ questions */

static void dialog_unlink(struct ask_agent *a, struct ask_dialog *d) {
        for (struct ask_dialog **p = &a->dialogs; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        return;
                }
}

void ask_dialog_answer(struct ask_dialog *d, const char *target) {
        struct ask_agent *a = d->agent;
        int r;

        /* the deny answer is "", as qubes-ctl ask-agent gives it */
        r = sd_bus_reply_method_return(d->call, "s", target ?: "");
        if (r < 0)
                log_warning_errno(r, "Cannot send the answer to qubesd");
        log_info("%s -> %s: %s", d->q.source, d->q.service, target ? target : "denied");
        dialog_unlink(a, d);
        if (d->window != XCB_WINDOW_NONE && a->x.conn) {
                xcb_destroy_window(a->x.conn, d->window);
                xcb_flush(a->x.conn);
        }
        sd_event_source_disable_unref(d->deadline);
        sd_event_source_disable_unref(d->arm_timer);
        sd_bus_slot_unref(d->labels_call);
        free(d->target_color);
        free(d->target_has_color);
        sd_bus_message_unref(d->call);
        question_done(&d->q);
        free(d);
}

static int on_deadline(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        struct ask_dialog *d = userdata;

        log_info("No answer within %u s: denying.", d->agent->timeout_sec);
        ask_dialog_answer(d, NULL);
        return 0;
}

static int method_ask(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct ask_agent *a = userdata;
        struct ask_dialog *d;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (struct ask_dialog) { .agent = a, .call = sd_bus_message_ref(m), .window = XCB_WINDOW_NONE };
        d->next = a->dialogs;
        a->dialogs = d;
        r = question_parse(m, &d->q);
        if (r < 0) {
                log_warning_errno(r, "Denying a question that cannot be shown");
                ask_dialog_answer(d, NULL);
                return 1;
        }
        r = sd_event_add_time_relative(a->event, &d->deadline, CLOCK_MONOTONIC,
                                       (uint64_t) a->timeout_sec * UINT64_C(1000000), 0, on_deadline, d);
        if (r < 0) {
                log_warning_errno(r, "Denying a question: cannot set its timeout");
                ask_dialog_answer(d, NULL);
                return 1;
        }
        log_info("%s wants to call %s%s%s: asking.", d->q.source, d->q.service, d->q.argument[0] ? "+" : "",
                 d->q.argument);
        if (ask_labels_fetch(a, d) < 0)
                (void) ask_dialog_show(a, d);
        return 1;
}

static const sd_bus_vtable ask_agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Ask", "ssass", SD_BUS_PARAM(source) SD_BUS_PARAM(service) SD_BUS_PARAM(targets)
                                 SD_BUS_PARAM(default_target), "s", SD_BUS_PARAM(target), method_ask, 0),
        SD_BUS_VTABLE_END
};

/* ------------------------------------------------------------ the loop */

static int on_x11(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        struct ask_agent *a = userdata;

        if (ask_x11_process(a) < 0) {
                a->exit_code = EXIT_FAILURE;
                return sd_event_exit(a->event, 0);
        }
        return 0;
}

/* Before sleeping: send what was drawn, and handle events xcb read meanwhile. */
static int on_prepare(sd_event_source *s _unused_, void *userdata) {
        return on_x11(NULL, -1, 0, userdata);
}

static int on_bus_gone(sd_bus_message *m _unused_, void *userdata, sd_bus_error *error _unused_) {
        struct ask_agent *a = userdata;

        log_error("Lost the connection to qubesd.");
        a->exit_code = EXIT_FAILURE;
        return sd_event_exit(a->event, 0);
}

/* At the loop's end, before sd-bus's own exit handler closes the connection:
 * questions still open are denied, not left to qubesd's timeout. */
static int on_loop_exit(sd_event_source *s _unused_, void *userdata) {
        struct ask_agent *a = userdata;

        while (a->dialogs)
                ask_dialog_answer(a->dialogs, NULL);
        return 0;
}

static int serve(struct ask_agent *a, sd_bus_slot **ret_slot) {
        int r;

        r = sd_bus_add_object_vtable(a->bus, ret_slot, ASK_AGENT_PATH, ASK_AGENT_INTERFACE, ask_agent_vtable, a);
        if (r < 0)
                return log_error_errno(r, "Cannot serve %s", ASK_AGENT_INTERFACE);
        r = sd_bus_match_signal(a->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_gone, a);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the connection");
        r = api_call_manager(a->bus, "RegisterAskAgent", API_TIMEOUT_USEC, NULL, "o", ASK_AGENT_PATH);
        if (r < 0)
                return r;
        return sd_bus_attach_event(a->bus, a->event, SD_EVENT_PRIORITY_NORMAL);
}

int main(int argc, char **argv) {
        struct ask_agent a = { .exit_code = EXIT_FAILURE };
        struct options o = {};
        sd_bus_slot *slot = NULL;
        sd_event_source *x11_source = NULL, *prepare_source = NULL, *exit_source = NULL;
        int r;

        log_setup("odyssey-ask-dialog");
        r = parse_args(argc, argv, &a, &o);
        if (r <= 0)
                return r < 0 ? 2 : EXIT_SUCCESS;

        if (ask_x11_open(&a.x, o.display) < 0 || daemon_event_new(&a.event) < 0)
                goto finish;
        if (sd_event_add_io(a.event, &x11_source, xcb_get_file_descriptor(a.x.conn), EPOLLIN, on_x11, &a) < 0 ||
            sd_event_add_post(a.event, &prepare_source, on_prepare, &a) < 0 ||
            sd_event_add_exit(a.event, &exit_source, on_loop_exit, &a) < 0 ||
            sd_event_source_set_priority(exit_source, SD_EVENT_PRIORITY_IMPORTANT) < 0) {
                log_error("Cannot set up the event loop.");
                goto finish;
        }
        if (api_connect(&a.bus) < 0 || serve(&a, &slot) < 0)
                goto finish;
        /* From here on only the X and D-Bus connections are used: what a
         * hostile X client or qubesd could make of this process is bounded. */
        if (sandbox_apply(NULL) < 0)
                goto finish;
        /* one line on stdout, for scripts waiting for us */
        printf("Registered as the ask agent.\n");
        fflush(stdout);
        daemon_notify_ready("Waiting for questions");
        a.exit_code = EXIT_SUCCESS;
        r = sd_event_loop(a.event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed");
                a.exit_code = EXIT_FAILURE;
        }
finish:
        on_loop_exit(NULL, &a);
        sd_bus_slot_unref(slot);
        if (a.bus) {
                sd_bus_flush(a.bus);
                sd_bus_detach_event(a.bus);
        }
        sd_bus_close_unref(a.bus);
        sd_event_source_disable_unref(x11_source);
        sd_event_source_disable_unref(prepare_source);
        sd_event_source_disable_unref(exit_source);
        ask_x11_close(&a.x);
        sd_event_unref(a.event);
        return a.exit_code;
}
