/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data vchans of a QEMU guest: one virtio-serial port
 * (org.odyssey.vchan.mux, its host socket <vchan dir>/virtio.<domid>.mux.sock)
 * carries them all, between odyssey-vchan-mux in the guest and one on the
 * host, a helper (launcher.c) started once the backend started the guest.
 * The host side mirrors the guest's vchan servers into the guest's vchan dir
 * and the servers placed there for the guest into the guest, so busd's
 * broker and `Run` treat the guest exactly as a native domain.  It runs as
 * the uid and gid a native domain of that domid would have: it reaches that
 * vchan dir and nothing else, and it is sandboxed (seccomp) by itself.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

#define MUX_PROGRAM "odyssey-vchan-mux"

int mux_launch_open(struct qubesd *q) {
        struct launcher_config *c = &q->launcher_config;

        if (!q->agents_dir)
                return 0;
        c->mux_program = path_join(q->agents_dir, MUX_PROGRAM);
        if (!c->mux_program)
                return -ENOMEM;
        if (access(c->mux_program, X_OK) < 0) {
                log_notice("No %s: QEMU guests get no data vchans (calls to and from them fail)",
                           c->mux_program);
                free(c->mux_program);
                c->mux_program = NULL;
        }
        return 0;
}

void mux_launch_close(struct qubesd *q) {
        free(q->launcher_config.mux_program);
        q->launcher_config.mux_program = NULL;
}

/* In the launcher's child: args are the domain's name, its vchan dir and
 * the mux port's host socket. */
_Noreturn void mux_exec(const struct launcher_config *l, uint32_t domid, char **args, size_t n_args) {
        char domid_text[16];
        int r;

        if (n_args != 3 || !l->mux_program)
                _exit(127);
        if (geteuid() == 0) {
                r = helper_become(native_domain_uid(domid), native_domain_uid(domid), NULL);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot become the domain's uid for its vchan mux: %m", args[0]);
                        _exit(127);
                }
        }
        snprintf(domid_text, sizeof(domid_text), "%" PRIu32, domid);
        const char *argv[] = {
                MUX_PROGRAM, "--side", "host", "--domid", domid_text, "--dir", args[1], "--connect", args[2], NULL,
        };
        execv(l->mux_program, (char *const *) argv);
        log_error_errno(errno, "Cannot execute %s", l->mux_program);
        _exit(127);
}

bool mux_launch_wanted(const struct domain_run *run) {
        return run->ops && run->ops->mux_socket;
}

void mux_launch_domain_started(struct qubesd *q, struct domain *d, struct domain_run *run) {
        char socket_path[PATH_MAX];
        int r;

        if (!run->cfg_vchan_dir || !mux_launch_wanted(run))
                return;
        r = run->ops->mux_socket(run->backend, d->name, socket_path, sizeof(socket_path));
        if (r == -EOPNOTSUPP)
                return;         /* Xen: libxenvchan reaches everyone itself */
        if (r < 0) {
                log_error_errno(r, "%s: no data vchan socket: %m", d->name);
                return;
        }
        if (!q->launcher_config.mux_program) {
                log_warning("%s: no %s: calls to and from it fail", d->name, MUX_PROGRAM);
                return;
        }
        const char *args[] = { d->name, run->cfg_vchan_dir, socket_path };
        r = launcher_start(q, HELPER_VCHAN_MUX, d->qid, args, ELEMENTSOF(args));
        if (r < 0)
                log_error_errno(r, "%s: cannot ask for its vchan mux: %m", d->name);
}

void mux_launch_domain_stopped(struct qubesd *q, struct domain *d) {
        launcher_stop(q, HELPER_VCHAN_MUX, d->qid);
}
