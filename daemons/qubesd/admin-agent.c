/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The admin domain's qrexec agent: services that domains call in the admin
 * domain (target dom0 in the policy) are run by `qrexec-agent --admin`,
 * started beside the daemons (its own unit, or the stack), as its own
 * unprivileged user.  For busd it is the control channel of domain 0, like
 * any domain's: qubesd prepares its vchan dir (busd's, the agent's group,
 * 0770) and asks busd to open the channel once connected, and again a
 * second after the channel went down or could not open (the agent started
 * later, or restarted).
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "native/native.h"
#include "qubesd.h"

#define ADMIN_AGENT_RETRY_USEC (1000 * UINT64_C(1000))
#define ADMIN_AGENT_USER "odyssey-rpc"

char *admin_agent_vchan_dir(const struct qubesd *q) {
        char *dir = NULL;

        if (asprintf(&dir, "%s/vchan/dom0", q->runtime_dir) < 0)
                return NULL;
        return dir;
}

/* "uid ROLE N" in the stack's roles file, else the system user, else the
 * fixed rule of systemd/sysusers.d (uid base + n). */
uid_t qubesd_role_uid(const char *runtime_dir, const char *role, const char *user, uid_t fallback) {
        struct passwd *pw;
        uid_t uid;

        if (native_role_uid_from_roles(runtime_dir, role, &uid) == 0)
                return uid;
        pw = getpwnam(user);
        return pw ? pw->pw_uid : fallback;
}

static int admin_agent_open(struct qubesd *q);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct qubesd *q = userdata;

        q->admin_agent_retry = sd_event_source_disable_unref(q->admin_agent_retry);
        (void) admin_agent_open(q);
        return 0;
}

static void admin_agent_retry_later(struct qubesd *q) {
        if (q->admin_agent_retry || !q->bus)
                return;
        if (sd_event_add_time_relative(q->event, &q->admin_agent_retry, CLOCK_MONOTONIC, ADMIN_AGENT_RETRY_USEC,
                                       0, on_retry, q) < 0)
                log_warning("Cannot schedule a retry of the admin domain's qrexec channel");
}

static int admin_agent_open(struct qubesd *q) {
        struct bus_msg_domain_channel_open open = { .domid = 0, .vchan_backend = VCHAN_SOCKET };
        _cleanup_free_ char *dir = admin_agent_vchan_dir(q);
        int r;

        if (!q->bus)
                return -ENOTCONN;
        if (!dir || strlen(dir) >= sizeof(open.vchan_dir))
                return log_error_errno(dir ? -ENAMETOOLONG : -ENOMEM, "Cannot name the admin domain's vchan dir");
        snprintf(open.name, sizeof(open.name), "dom0");
        snprintf(open.vchan_dir, sizeof(open.vchan_dir), "%s", dir);
        q->admin_agent_request_id = bus_client_new_request_id(q->bus);
        r = bus_client_send(q->bus, BUS_MSG_DOMAIN_CHANNEL_OPEN, BUS_PEER_BUSD, q->admin_agent_request_id, &open);
        if (r < 0) {
                q->admin_agent_request_id = 0;
                log_warning_errno(r, "Cannot ask busd for the admin domain's qrexec channel");
                admin_agent_retry_later(q);
        }
        return r;
}

int admin_agent_setup(struct qubesd *q) {
        _cleanup_free_ char *parent = path_join(q->runtime_dir, "vchan"), *dir = admin_agent_vchan_dir(q);
        uid_t busd_uid = 0, agent_uid = 0;
        int r;

        if (!parent || !dir)
                return log_error_errno(-ENOMEM, "Out of memory");
        if (geteuid() == 0) {
                if (native_busd_uid(q->runtime_dir, &busd_uid) < 0)
                        log_warning("busd's uid is unknown: only root may open the admin domain's channel");
                agent_uid = qubesd_role_uid(q->runtime_dir, "admin-agent", ADMIN_AGENT_USER,
                                            QUBESD_UID_BASE + BUS_ROLE_GUEST);
        } else
                busd_uid = agent_uid = geteuid();
        r = mkdir_p(parent, 0755);
        if (r >= 0)
                r = mkdir_owned(dir, busd_uid, (gid_t) agent_uid, 0770);
        if (r < 0)
                return log_error_errno(r, "Cannot prepare the admin domain's vchan dir %s", dir);
        log_debug("Admin domain's qrexec agent: vchan dir %s (uid %u may serve it)", dir, (unsigned) agent_uid);
        return admin_agent_open(q);
}

void admin_agent_close(struct qubesd *q) {
        q->admin_agent_retry = sd_event_source_disable_unref(q->admin_agent_retry);
}

void admin_agent_on_channel_up(struct qubesd *q) {
        q->admin_agent_request_id = 0;
        q->admin_agent_up = true;
        log_info("The admin domain's qrexec agent is connected: domains may call its services");
}

void admin_agent_on_channel_down(struct qubesd *q, int reason) {
        q->admin_agent_request_id = 0;
        if (q->admin_agent_up)
                log_full_errno(LOG_NOTICE, reason, "The admin domain's qrexec channel went down; reopening");
        q->admin_agent_up = false;
        admin_agent_retry_later(q);
}

bool admin_agent_on_bus_error(struct qubesd *q, uint32_t request_id, int error) {
        if (!request_id || request_id != q->admin_agent_request_id)
                return false;
        q->admin_agent_request_id = 0;
        log_debug_errno(error, "busd cannot open the admin domain's qrexec channel yet; retrying");
        admin_agent_retry_later(q);
        return true;
}
