/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-ctl copy: files from the admin domain into a domain (Qubes'
 * qvm-copy-to-vm in dom0).  The domain's qubes.Filecopy service (with dom0 as
 * the source: files land in ~/QubesIncoming/dom0) gets the file-copy stream
 * (protocol/filecopy.h) from a packer in a child process; the receiver's
 * result comes back on the service's stdout.  The admin side is trusted, so
 * no policy is asked, as with `qubes-ctl run`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "filecopy.h"
#include "qubes-ctl.h"

/* The packer, in the child: exits 0 when the receiver confirmed every byte. */
static _Noreturn void pack(int data_fd, int result_fd, char *const *paths, int n) {
        struct filecopy_sender sender;
        int r = 0;

        signal(SIGPIPE, SIG_IGN);       /* a receiver that refuses stops reading: its result says why */
        filecopy_sender_init(&sender, data_fd);
        for (int i = 0; i < n && r >= 0; i++)
                r = filecopy_send_path(&sender, paths[i]);
        if (r == -EPIPE)
                r = filecopy_read_result(&sender, result_fd);
        else if (r >= 0)
                r = filecopy_send_end(&sender, result_fd);
        if (r < 0)
                ctl_error_errno(r, "the copy failed");
        _exit(r < 0 ? 1 : 0);
}

static int run_copy(const struct ctl_command *cmd, int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int data[2], result[2], r, status;
        const char *name;
        pid_t child;

        r = ctl_parse_help_only(cmd, argc, argv);
        if (r >= 0)
                return r;
        if (argc - optind < 2)
                return ctl_usage_error(cmd, "which files, and to which domain?");
        name = argv[argc - 1];
        for (int i = optind; i < argc - 1; i++) {
                struct stat st;

                if (lstat(argv[i], &st) < 0)
                        return ctl_exit_status(ctl_error_errno(errno, "%s", argv[i]));
        }

        r = api_connect(&bus);
        if (r < 0)
                return ctl_exit_status(r);
        if (pipe2(data, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
                return ctl_exit_status(ctl_error_errno(errno, "pipe"));
        child = fork();
        if (child < 0)
                return ctl_exit_status(ctl_error_errno(errno, "fork"));
        if (child == 0) {
                close(data[0]);
                close(result[1]);
                pack(data[1], result[0], argv + optind, argc - 1 - optind);
        }
        close(data[1]);
        close(result[0]);
        /* the service's stdin is the packer's stream, its stdout the packer's result */
        r = ctl_run_with_fds(bus, name, NULL, "QUBESRPC qubes.Filecopy dom0", true, data[0], result[1],
                             fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return ctl_exit_status(r);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return CTL_EXIT_REFUSED;
        if (r != 0) {
                ctl_error("qubes.Filecopy in %s ended with status %d", name, r);
                return CTL_EXIT_REFUSED;
        }
        return 0;
}

const struct ctl_command ctl_command_copy = {
        .name = "copy",
        .summary = "copy files from the admin domain into a domain",
        .help = "Usage: qubes-ctl copy FILE... NAME\n"
                "Copy files and directories (recursively, symlinks kept) into domain NAME,\n"
                "where they land in ~/QubesIncoming/dom0/ of the domain's default user, through\n"
                "its qubes.Filecopy service.  A halted domain is started first.  Nothing that\n"
                "exists there is overwritten.\n",
        .run = run_copy,
};
