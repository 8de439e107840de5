/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qfile-unpacker: the receiving side of qubes.Filecopy.  Reads the stream on
 * stdin into ~/QubesIncoming/<calling domain>/ (or DIR), strictly (see
 * protocol/filecopy.h), and answers the result on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy.h"
#include "util.h"

static void help(void) {
        printf("Usage: qfile-unpacker [--allow-all-names] [DIR]\n"
               "Receive a qubes.Filecopy stream on stdin into DIR (default\n"
               "$HOME/QubesIncoming/$QREXEC_REMOTE_DOMAIN) and answer the result on stdout.\n\n"
               "  --allow-all-names   accept names that are not valid UTF-8\n"
               "  -h, --help          this text\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_ALLOW_ALL_NAMES = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "allow-all-names", no_argument, NULL, ARG_ALLOW_ALL_NAMES },
                {},
        };
        struct filecopy_unpack_options opts = { .require_utf8 = true };
        struct filecopy_unpack_result result = {};
        _cleanup_free_ char *incoming = NULL;
        _cleanup_close_ int dir_fd = -1;
        const char *dir;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_ALLOW_ALL_NAMES:
                        opts.require_utf8 = false;
                        break;
                default:
                        return 2;
                }
        if (argc - optind > 1) {
                fprintf(stderr, "qfile-unpacker: one target directory at most (see --help)\n");
                return 2;
        }
        if (optind < argc)
                dir = argv[optind];
        else {
                const char *home = getenv("HOME"), *untrusted_source = getenv("QREXEC_REMOTE_DOMAIN");

                /* The source is the admin side's word, but it names a directory: check it. */
                if (!home || !untrusted_source || !filecopy_name_valid(untrusted_source, true) ||
                    strchr(untrusted_source, '/')) {
                        fprintf(stderr, "qfile-unpacker: needs HOME and a valid QREXEC_REMOTE_DOMAIN\n");
                        return 1;
                }
                if (asprintf(&incoming, "%s/QubesIncoming/%s", home, untrusted_source) < 0)
                        return 1;
                dir = incoming;
        }
        r = mkdir_p(dir, 0700);
        if (r >= 0) {
                dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir_fd < 0)
                        r = -errno;
        }
        if (r < 0) {
                fprintf(stderr, "qfile-unpacker: %s: %s\n", dir, strerror(-r));
                (void) filecopy_send_result(STDOUT_FILENO, r, &result);
                return 1;
        }

        r = filecopy_unpack(STDIN_FILENO, dir_fd, &opts, &result);
        if (r < 0)
                fprintf(stderr, "qfile-unpacker: %s%s%s\n", result.last_name, result.last_name[0] ? ": " : "",
                        r == -EPIPE ? "the stream ended early" : strerror(-r));
        (void) filecopy_send_result(STDOUT_FILENO, r, &result);
        return r < 0 ? 1 : 0;
}
