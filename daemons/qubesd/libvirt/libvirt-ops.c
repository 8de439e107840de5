/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt backend's jobs: each runs one libvirt call on the worker thread
 * and finishes on qubesd's loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libvirt-ops.h"
#include "log.h"
#include "util.h"

static void op_free(struct libvirt_op *op) {
        free(op->name);
        free(op->xml);
        free(op->open_sockets[0]);
        free(op->open_sockets[1]);
        for (size_t i = 0; i < ELEMENTSOF(op->copy_from); i++) {
                free(op->copy_from[i]);
                free(op->copy_to[i]);
        }
        free(op->found);
        free(op);
}

static void op_run(struct libvirt_job *job, virConnectPtr conn) {
        struct libvirt_op *op = (struct libvirt_op *) job;
        _cleanup_free_ char *libvirt_name = NULL;
        virDomainPtr dom;
        int r = 0;

        if (!conn)
                return;         /* job->result holds why */
        if (op->kind == LIBVIRT_OP_HOOK) {
                op->hook(op->hook_data);
                return;
        }
        if (op->kind == LIBVIRT_OP_START) {
                for (size_t i = 0; i < ELEMENTSOF(op->copy_from); i++)
                        if (op->copy_from[i] && (r = copy_file(op->copy_from[i], op->copy_to[i], 0644)) < 0) {
                                log_warning_errno(r, "libvirt: cannot copy %s for %s: %m", op->copy_from[i],
                                                  op->name);
                                job->result = r;
                                return;
                        }
                dom = virDomainCreateXML(conn, op->xml, 0);
                job->result = dom ? 0 : libvirt_last_errno();
                if (!dom)
                        log_warning("libvirt: cannot start %s: %s", op->name, virGetLastErrorMessage());
                else
                        virDomainFree(dom);
                /* The ports' sockets belong to QEMU's user; busd and the
                 * guest's mux connect to them: the vchan dir (busd's, the
                 * guest's group, 0770) is what guards them. */
                for (size_t i = 0; dom && i < ELEMENTSOF(op->open_sockets); i++)
                        if (op->open_sockets[i] && chmod(op->open_sockets[i], 0666) < 0)
                                log_warning_errno(errno, "libvirt: cannot open %s to busd: %m", op->open_sockets[i]);
                return;
        }
        if (asprintf(&libvirt_name, LIBVIRT_NAME_PREFIX "%s", op->name) < 0) {
                job->result = -ENOMEM;
                return;
        }
        dom = virDomainLookupByName(conn, libvirt_name);
        if (!dom) {
                job->result = libvirt_last_errno();
                return;
        }
        switch (op->kind) {
        case LIBVIRT_OP_SHUTDOWN:
                r = virDomainShutdown(dom);
                break;
        case LIBVIRT_OP_DESTROY:
                r = virDomainDestroy(dom);
                break;
        case LIBVIRT_OP_SUSPEND:
                r = virDomainSuspend(dom);
                break;
        case LIBVIRT_OP_RESUME:
                r = virDomainResume(dom);
                break;
        default:
                r = 0;
                break;
        }
        job->result = r < 0 ? libvirt_last_errno() : 0;
        if (r < 0)
                log_warning("libvirt: %s: %s", libvirt_name, virGetLastErrorMessage());
        virDomainFree(dom);
}

/* qid, start time and vchan dir from our metadata element; 0 or "" when
 * missing.  The dir was refused at start when it needed escaping. */
static void parse_metadata(const char *text, uint32_t *ret_qid, uint64_t *ret_started, char *ret_dir,
                           size_t dir_size) {
        const char *p;

        *ret_qid = 0;
        *ret_started = 0;
        ret_dir[0] = '\0';
        if (!text)
                return;
        p = strstr(text, "vchan-dir=");
        if (p && (p[10] == '\'' || p[10] == '"')) {
                size_t n = strcspn(p + 11, "'\"&<");
                if (p[11] == '/' && n < dir_size && (p[11 + n] == '\'' || p[11 + n] == '"')) {
                        memcpy(ret_dir, p + 11, n);
                        ret_dir[n] = '\0';
                }
        }
        p = strstr(text, "qid=");
        if (p && (p[4] == '\'' || p[4] == '"'))
                *ret_qid = (uint32_t) strtoul(p + 5, NULL, 10);
        p = strstr(text, "started=");
        if (p && (p[8] == '\'' || p[8] == '"'))
                *ret_started = strtoull(p + 9, NULL, 10);
}

static void list_run(struct libvirt_job *job, virConnectPtr conn) {
        struct libvirt_op *op = (struct libvirt_op *) job;
        virDomainPtr *doms = NULL;
        int n;

        if (!conn)
                return;
        n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) {
                job->result = libvirt_last_errno();
                return;
        }
        op->found = calloc((size_t) n + 1, sizeof(*op->found));
        for (int i = 0; i < n; i++) {
                const char *name = libvirt_odyssey_name(virDomainGetName(doms[i]));
                int state, reason;

                if (op->found && name && strlen(name) < sizeof(op->found[0].name) &&
                    virDomainGetState(doms[i], &state, &reason, 0) == 0) {
                        struct libvirt_found *f = &op->found[op->n_found++];
                        char *meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                                          LIBVIRT_METADATA_URI, 0);
                        strcpy(f->name, name);
                        f->state = state == VIR_DOMAIN_PAUSED ? POWER_PAUSED : POWER_RUNNING;
                        parse_metadata(meta, &f->domid, &f->start_time_usec, f->vchan_dir,
                                       sizeof(f->vchan_dir));
                        free(meta);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        job->result = op->found ? 0 : -ENOMEM;
}

static void op_finish(struct libvirt_job *job) {
        struct libvirt_op *op = (struct libvirt_op *) job;

        if (op->finish)
                op->finish(op);
        op_free(op);
}

struct libvirt_op *libvirt_op_new(struct libvirt_backend *b, enum libvirt_op_kind kind, const char *name,
                                  void (*finish)(struct libvirt_op *op)) {
        struct libvirt_op *op = calloc(1, sizeof(*op));

        if (!op)
                return NULL;
        op->job.run = kind == LIBVIRT_OP_LIST ? list_run : op_run;
        op->job.finish = op_finish;
        op->backend = b;
        op->kind = kind;
        op->finish = finish;
        if (name) {
                op->name = strdup(name);
                if (!op->name) {
                        free(op);
                        return NULL;
                }
        }
        return op;
}

void libvirt_op_free(struct libvirt_op *op) {
        op_free(op);
}
