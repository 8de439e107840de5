/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guid: shows one domain's windows on the admin X display.  It connects to
 * the domain's gui-agent (vchan port 6000 + the pixel side channel), then
 * runs an sd-event loop over the GUI channel and the X connection, inside a
 * seccomp sandbox.  Any protocol violation by the agent ends this process,
 * and only it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "guid.h"
#include "log.h"
#include "property.h"
#include "sandbox.h"
#include "util.h"

static void help(void) {
        printf("Usage: guid --domain NAME --domid N --label COLOR --vchan-dir DIR [OPTIONS]\n\n"
               "Show the windows of domain NAME on the admin X display, framed in its label color.\n\n"
               "  --domain NAME            the domain's name (shown as [NAME] in titles)\n"
               "  --domid N                its domain id (vchan peer)\n"
               "  --label COLOR            red, orange, yellow, green, gray, blue, purple, black\n"
               "                           or 0xRRGGBB\n"
               "  --vchan-dir DIR          the domain's vchan directory\n"
               "  --display DISPLAY        X display (default $DISPLAY)\n"
               "  --clipboard-dir DIR      the global clipboard (default <runtime>/gui)\n"
               "  --policy-socket PATH     qrexec-policyd's socket (default <runtime>/policy.sock)\n"
               "  --clipboard-limit BYTES  largest clipboard copied (256..%u, default %u)\n"
               "  --allow-utf8-titles      show UTF-8 titles (default: ASCII only)\n"
               "  -h --help                this text\n", GUI_CLIPBOARD_LIMIT_MAX, GUI_CLIPBOARD_LIMIT_DEFAULT);
}

static int parse_label(const char *s, uint32_t *ret) {
        const struct label *l = label_find(s);
        if (l) {
                *ret = l->color;
                return 0;
        }
        if (strncmp(s, "0x", 2) == 0 && strlen(s) == 8) {
                char *end;
                unsigned long v = strtoul(s + 2, &end, 16);
                if (*end == '\0') {
                        *ret = (uint32_t) v;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_args(int argc, char **argv, struct guid_config *cfg) {
        enum { ARG_DOMAIN = 0x100, ARG_DOMID, ARG_LABEL, ARG_VCHAN_DIR, ARG_DISPLAY, ARG_CLIPBOARD_DIR,
               ARG_POLICY_SOCKET, ARG_CLIPBOARD_LIMIT, ARG_UTF8 };
        static const struct option options[] = {
                { "domain", required_argument, NULL, ARG_DOMAIN },
                { "domid", required_argument, NULL, ARG_DOMID },
                { "label", required_argument, NULL, ARG_LABEL },
                { "vchan-dir", required_argument, NULL, ARG_VCHAN_DIR },
                { "display", required_argument, NULL, ARG_DISPLAY },
                { "clipboard-dir", required_argument, NULL, ARG_CLIPBOARD_DIR },
                { "policy-socket", required_argument, NULL, ARG_POLICY_SOCKET },
                { "clipboard-limit", required_argument, NULL, ARG_CLIPBOARD_LIMIT },
                { "allow-utf8-titles", no_argument, NULL, ARG_UTF8 },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool have_label = false, have_domid = false;
        int c;

        cfg->clipboard_limit = GUI_CLIPBOARD_LIMIT_DEFAULT;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_DOMAIN:
                        cfg->domain = optarg;
                        break;
                case ARG_DOMID:
                        if (parse_uint32(optarg, &cfg->domid) < 0 || cfg->domid == 0) {
                                fprintf(stderr, "guid: bad --domid '%s'\n", optarg);
                                return -EINVAL;
                        }
                        have_domid = true;
                        break;
                case ARG_LABEL:
                        if (parse_label(optarg, &cfg->label_color) < 0) {
                                fprintf(stderr, "guid: unknown label '%s'\n", optarg);
                                return -EINVAL;
                        }
                        have_label = true;
                        break;
                case ARG_VCHAN_DIR:
                        cfg->vchan_dir = optarg;
                        break;
                case ARG_DISPLAY:
                        cfg->display = optarg;
                        break;
                case ARG_CLIPBOARD_DIR:
                        cfg->clipboard_dir = optarg;
                        break;
                case ARG_POLICY_SOCKET:
                        cfg->policy_socket = optarg;
                        break;
                case ARG_CLIPBOARD_LIMIT:
                        if (parse_uint32(optarg, &cfg->clipboard_limit) < 0 || cfg->clipboard_limit < 256 ||
                            cfg->clipboard_limit > GUI_CLIPBOARD_LIMIT_MAX) {
                                fprintf(stderr, "guid: --clipboard-limit must be 256..%u\n",
                                        GUI_CLIPBOARD_LIMIT_MAX);
                                return -EINVAL;
                        }
                        break;
                case ARG_UTF8:
                        cfg->allow_utf8_titles = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc || !cfg->domain || !have_domid || !have_label || !cfg->vchan_dir) {
                fprintf(stderr, "guid: --domain, --domid, --label and --vchan-dir are required (see --help)\n");
                return -EINVAL;
        }
        /* the name shows in titles and classes: keep it to Qubes' name characters */
        for (const char *p = cfg->domain; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.') || p - cfg->domain >= 31) {
                        fprintf(stderr, "guid: invalid domain name '%s'\n", cfg->domain);
                        return -EINVAL;
                }
        return 1;
}

static int on_agent(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int pump(struct guid *g) {
        int r = guid_agent_process(g);
        if (r >= 0) {
                int x = guid_x11_process(g);
                xcb_flush(g->conn);
                if (x < 0)
                        r = x;
        }
        if (r < 0) {
                g->exit_code = r == -EPIPE ? EXIT_SUCCESS : EXIT_FAILURE;
                return sd_event_exit(g->event, 0);
        }
        return r;
}

static int on_more(sd_event_source *s, void *userdata) {
        struct guid *g = userdata;
        int r = pump(g);
        if (r != 1)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static sd_event_source *more_source;

static int on_agent(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        if (pump(userdata) == 1)
                (void) sd_event_source_set_enabled(more_source, SD_EVENT_ON);
        return 0;
}

static int on_x11(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        struct guid *g = userdata;
        int r = guid_x11_process(g);
        xcb_flush(g->conn);
        if (r < 0) {
                g->exit_code = EXIT_FAILURE;
                return sd_event_exit(g->event, 0);
        }
        return 0;
}

/* Called before sleeping: xcb may hold events read while we sent. */
static int on_prepare(sd_event_source *s _unused_, void *userdata) {
        struct guid *g = userdata;
        xcb_flush(g->conn);
        return 0;
}

static const char *const sandbox_extra[] = {
        "openat", "flock", "ftruncate", "socket", "connect", "setsockopt", "uname", NULL,
};

int main(int argc, char **argv) {
        struct guid g = { .shm_fd = -1, .exit_code = EXIT_FAILURE };
        _cleanup_free_ char *clipboard_dir = NULL, *policy_socket = NULL;
        sd_event_source *prepare_source = NULL;
        int r;

        log_setup("guid");
        r = parse_args(argc, argv, &g.cfg);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (!g.cfg.clipboard_dir) {
                clipboard_dir = daemon_runtime_path(NULL, "gui");
                if (!clipboard_dir || mkdir_p(clipboard_dir, 0700) < 0) {
                        log_error("Cannot create the clipboard directory.");
                        return EXIT_FAILURE;
                }
                g.cfg.clipboard_dir = clipboard_dir;
        }
        if (!g.cfg.policy_socket)
                g.cfg.policy_socket = policy_socket = daemon_runtime_path(NULL, "policy.sock");

        if (guid_x11_setup(&g) < 0)
                goto finish;
        if (g.screen->root_depth != 24) {
                log_error("The X screen has depth %u; guid needs a 24-bit TrueColor screen.", g.screen->root_depth);
                goto finish;
        }
        g.state = (struct guid_state) {
                .domain = g.cfg.domain,
                .screen_width = g.screen->width_in_pixels,
                .screen_height = g.screen->height_in_pixels,
                .clipboard_limit = g.cfg.clipboard_limit,
                .allow_utf8_titles = g.cfg.allow_utf8_titles,
        };
        if (guid_agent_connect(&g) < 0)
                goto finish;

        r = daemon_event_new(&g.event);
        if (r < 0)
                goto finish;
        sd_event_source *src;
        if (sd_event_add_io(g.event, &src, vchan_fd_for_select(g.vchan), EPOLLIN, on_agent, &g) < 0 ||
            sd_event_source_set_floating(src, true) < 0 ||
            sd_event_add_io(g.event, &src, xcb_get_file_descriptor(g.conn), EPOLLIN, on_x11, &g) < 0 ||
            sd_event_source_set_floating(src, true) < 0 ||
            sd_event_add_defer(g.event, &more_source, on_more, &g) < 0 ||
            sd_event_source_set_enabled(more_source, SD_EVENT_OFF) < 0 ||
            sd_event_add_post(g.event, &prepare_source, on_prepare, &g) < 0) {
                log_error("Cannot set up the event loop.");
                goto finish;
        }
        /* the agent may have written before the loop watched its fd */
        (void) sd_event_source_set_enabled(more_source, SD_EVENT_ON);

        if (sandbox_apply(sandbox_extra) < 0)
                goto finish;
        daemon_notify_ready("Showing windows");
        r = sd_event_loop(g.event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        guid_paste_free(&g);
        sd_event_source_unref(more_source);
        sd_event_source_unref(prepare_source);
        if (g.conn) {
                guid_windows_free(&g);
                xcb_flush(g.conn);
                xcb_disconnect(g.conn);
        }
        vchan_close(g.vchan);
        if (g.shm_fd >= 0)
                close(g.shm_fd);
        free(g.in);
        sd_event_unref(g.event);
        return g.exit_code;
}
