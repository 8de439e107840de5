/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qfile-agent: the sending side of qubes.Filecopy, run by qvm-copy-to-vm as
 * qrexec-client-vm's LOCAL_PROG: the file-copy stream of FILE... goes to
 * stdout (the service's stdin), the receiver's result comes on stdin.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecopy.h"

static void show_progress(uint64_t bytes_sent, void *userdata) {
        (void) userdata;
        fprintf(stderr, "\rqfile-agent: %llu MiB sent", (unsigned long long) (bytes_sent >> 20));
}

static void help(void) {
        printf("Usage: qfile-agent [--ignore-symlinks] [--no-progress] FILE...\n"
               "Send FILE... (directories with their contents) as the qubes.Filecopy\n"
               "stream on stdout and read the receiver's result on stdin.\n"
               "Run by qvm-copy-to-vm through qrexec-client-vm.\n\n"
               "  --ignore-symlinks   skip symbolic links instead of copying them\n"
               "  --no-progress       no progress on stderr (default: when it is a terminal)\n"
               "  -h, --help          this text\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_IGNORE_SYMLINKS = 0x100, ARG_NO_PROGRESS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "ignore-symlinks", no_argument, NULL, ARG_IGNORE_SYMLINKS },
                { "no-progress", no_argument, NULL, ARG_NO_PROGRESS },
                {},
        };
        struct filecopy_sender sender;
        bool ignore_symlinks = false, progress = isatty(STDERR_FILENO);
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_IGNORE_SYMLINKS:
                        ignore_symlinks = true;
                        break;
                case ARG_NO_PROGRESS:
                        progress = false;
                        break;
                default:
                        return 2;
                }
        if (optind == argc) {
                fprintf(stderr, "qfile-agent: no file to send (see --help)\n");
                return 2;
        }

        filecopy_sender_init(&sender, STDOUT_FILENO);
        sender.ignore_symlinks = ignore_symlinks;
        if (progress)
                sender.progress = show_progress;
        /* A receiver that gives up stops reading: EPIPE, then its result. */
        signal(SIGPIPE, SIG_IGN);
        r = 0;
        for (int i = optind; i < argc && r >= 0; i++) {
                r = filecopy_send_path(&sender, argv[i]);
                if (r < 0 && r != -EPIPE) {
                        fprintf(stderr, "qfile-agent: %s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
        }
        r = r < 0 ? filecopy_read_result(&sender, STDIN_FILENO) : filecopy_send_end(&sender, STDIN_FILENO);
        if (progress && sender.last_progress)
                fputc('\n', stderr);
        if (r < 0) {
                fprintf(stderr, "qfile-agent: the receiver reports: %s\n",
                        r == -EPIPE ? "no result (the copy was cut short)" :
                        r == -EIO ? "an error or a checksum mismatch" : strerror(-r));
                return 1;
        }
        return 0;
}
