/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one catalogue of Odyssey's internal bus messages.
 *
 * Everything about a message is declared here once: its number, who may send
 * it, who may receive it, and its payload fields with their bounds.  The
 * payload structs, the encoder/decoder tables (bus-codec.c) and busd's route
 * table (bus-route.c) are all expanded from these lists; nothing else may
 * describe a message.
 *
 * BUS_MESSAGES(X) calls X(NAME, name, number, senders, receivers) for every type.
 *   senders/receivers are BUS_ROLE_BIT() masks (see bus.h).
 * BUS_FIELDS_<NAME>(F) lists the payload fields of NAME in wire order:
 *   F(U8,  name, 0)          uint8_t
 *   F(U16, name, 0)          uint16_t, little endian
 *   F(U32, name, 0)          uint32_t, little endian
 *   F(I32, name, 0)          int32_t, little endian
 *   F(U64, name, 0)          uint64_t, little endian
 *   F(STR, name, MAX)        u16 length + MAX bytes at most, no NUL inside;
 *                            decoded into char name[MAX + 1], NUL-terminated
 *   F(BLOB, name, MAX)       u32 length + MAX bytes at most, any bytes;
 *                            decoded into uint8_t name[MAX] + size_t name_len
 * Field order is the wire order.  Numbers are never reused.
 */
#pragma once

#define BUS_NAME_MAX            31      /* domain name, as in Qubes */
#define BUS_IDENT_MAX           31      /* qrexec request ident (ident[32] on the wire) */
#define BUS_QREXEC_DOMAIN_MAX   63      /* target/source domain fields of TRIGGER_SERVICE3/4 */
#define BUS_SERVICE_MAX         65000   /* MAX_SERVICE_NAME_LEN of qrexec, without the NUL */
#define BUS_CMDLINE_MAX         65535   /* MAX_QREXEC_CMD_LEN */
#define BUS_PATH_MAX            255
#define BUS_ERROR_TEXT_MAX      255
#define BUS_ECHO_MAX            4096
#define BUS_UUID_MAX            36
#define BUS_TAGS_MAX            16383   /* tags of one domain, space separated */
#define BUS_TARGETS_MAX         16383   /* an ask's target list, space separated */
#define BUS_POLICY_ERRORS_MAX   8191    /* "file:line: message" lines of a broken policy */

/* Role masks used below; expanded by bus.h. */
#define BUS_FROM_DAEMONS  BUS_ROLE_DAEMONS_MASK
#define BUS_TO_DAEMONS    BUS_ROLE_DAEMONS_MASK

#define BUS_MESSAGES(X)                                                                    \
        /* busd <-> any daemon: session and liveness */                                  \
        X(WELCOME,                 welcome, 0x0001, BUS_ROLE_BIT(BUSD),    BUS_TO_DAEMONS)           \
        X(PING,                    ping, 0x0002, BUS_FROM_DAEMONS,      BUS_ROLE_BIT(BUSD))       \
        X(PONG,                    pong, 0x0003, BUS_ROLE_BIT(BUSD),    BUS_TO_DAEMONS)           \
        X(ERROR,                   error, 0x0004, BUS_FROM_DAEMONS | BUS_ROLE_BIT(BUSD), BUS_TO_DAEMONS) \
        /* daemon <-> daemon health check, also what bench/ measures */                  \
        X(ECHO_REQUEST,            echo_request, 0x0010, BUS_FROM_DAEMONS,      BUS_TO_DAEMONS)           \
        X(ECHO_REPLY,              echo_reply, 0x0011, BUS_FROM_DAEMONS,      BUS_TO_DAEMONS)           \
        /* qubesd -> busd: open/close the control channel of a running domain */         \
        X(DOMAIN_CHANNEL_OPEN,     domain_channel_open, 0x0100, BUS_ROLE_BIT(QUBESD),  BUS_ROLE_BIT(BUSD))       \
        X(DOMAIN_CHANNEL_CLOSE,    domain_channel_close, 0x0101, BUS_ROLE_BIT(QUBESD),  BUS_ROLE_BIT(BUSD))       \
        /* busd -> qubesd, qrexec-policyd: channel state changes */                        \
        X(DOMAIN_CHANNEL_UP,       domain_channel_up, 0x0102, BUS_ROLE_BIT(BUSD),    BUS_ROLE_BIT(QUBESD) | BUS_ROLE_BIT(POLICYD)) \
        X(DOMAIN_CHANNEL_DOWN,     domain_channel_down, 0x0103, BUS_ROLE_BIT(BUSD),    BUS_ROLE_BIT(QUBESD) | BUS_ROLE_BIT(POLICYD)) \
        /* guest -> qrexec-policyd: a service call asked for by a domain (from          \
         * MSG_TRIGGER_SERVICE3/4 on its control channel; source = the channel) */       \
        X(QREXEC_TRIGGER,          qrexec_trigger, 0x0200, BUS_ROLE_BIT(GUEST),   BUS_ROLE_BIT(POLICYD))    \
        /* guest -> qubesd, qrexec-policyd: MSG_CONNECTION_TERMINATED */                  \
        X(QREXEC_TERMINATED,       qrexec_terminated, 0x0201, BUS_ROLE_BIT(GUEST),   BUS_ROLE_BIT(QUBESD) | BUS_ROLE_BIT(POLICYD)) \
        /* policyd/qubesd -> guest: become MSG_EXEC_CMDLINE / MSG_JUST_EXEC /              \
         * MSG_SERVICE_CONNECT / MSG_SERVICE_REFUSED on the domain's channel */           \
        X(QREXEC_EXEC,             qrexec_exec, 0x0210, BUS_ROLE_BIT(POLICYD) | BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(GUEST)) \
        X(QREXEC_SERVICE_CONNECT,  qrexec_service_connect, 0x0211, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(GUEST))      \
        X(QREXEC_SERVICE_REFUSED,  qrexec_service_refused, 0x0212, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(GUEST)) \
        /* policyd -> busd: broker an allowed call between two running domains:       \
         * busd picks the data port, sends MSG_SERVICE_CONNECT to the source and      \
         * MSG_EXEC_CMDLINE/JUST_EXEC to the target, and lets the source's data     \
         * socket be reached from the target's vchan dir; busd answers CONNECTED */  \
        X(QREXEC_CONNECT,          qrexec_connect, 0x0220, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(BUSD))     \
        X(QREXEC_CONNECTED,        qrexec_connected, 0x0221, BUS_ROLE_BIT(BUSD),  BUS_ROLE_BIT(POLICYD))  \
        /* policyd <-> qubesd: system info (pushed, never fetched per request) */     \
        X(SYSTEM_INFO_SUBSCRIBE,   system_info_subscribe, 0x0300, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD)) \
        X(DOMAIN_INFO,             domain_info, 0x0301, BUS_ROLE_BIT(QUBESD),  BUS_ROLE_BIT(POLICYD))   \
        X(DOMAIN_INFO_REMOVED,     domain_info_removed, 0x0302, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(POLICYD)) \
        X(SYSTEM_INFO_DONE,        system_info_done, 0x0303, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(POLICYD)) \
        /* policyd -> qubesd: start a target (autostart), make a disposable, end it */ \
        X(DOMAIN_START_REQUEST,    domain_start_request, 0x0310, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD)) \
        X(DOMAIN_START_REPLY,      domain_start_reply, 0x0311, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(POLICYD)) \
        X(DISPVM_CREATE_REQUEST,   dispvm_create_request, 0x0312, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD)) \
        X(DISPVM_CREATE_REPLY,     dispvm_create_reply, 0x0313, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(POLICYD)) \
        X(DOMAIN_KILL_REQUEST,     domain_kill_request, 0x0314, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD)) \
        X(DOMAIN_KILL_REPLY,       domain_kill_reply, 0x0315, BUS_ROLE_BIT(QUBESD), BUS_ROLE_BIT(POLICYD)) \
        /* policyd -> qubesd -> the ask agent registered on the Admin API */          \
        X(ASK_REQUEST,             ask_request, 0x0320, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD))    \
        X(ASK_REPLY,               ask_reply, 0x0321, BUS_ROLE_BIT(QUBESD),  BUS_ROLE_BIT(POLICYD))     \
        /* policyd -> qubesd: the state of the loaded policy, after every (re)load */   \
        X(POLICY_STATUS,           policy_status, 0x0330, BUS_ROLE_BIT(POLICYD), BUS_ROLE_BIT(QUBESD))

/* Fields, in wire order. */
#define BUS_FIELDS_WELCOME(F)                                                              \
        F(U32, version, 0)       /* BUS_PROTOCOL_VERSION */                               \
        F(U32, peer, 0)          /* the peer id busd gave this connection */             \
        F(U8,  role, 0)          /* enum bus_role busd authenticated */                 \
        F(U8,  fds, 0)           /* BUS_WELCOME_FD_* bits: the fds attached, in bit order */

#define BUS_FIELDS_PING(F)                                                                 \
        F(U64, token, 0)

#define BUS_FIELDS_PONG(F)                                                                 \
        F(U64, token, 0)

#define BUS_FIELDS_ERROR(F)                                                                \
        F(I32, error, 0)         /* negative errno */                                     \
        F(U16, failed_type, 0)   /* the type of the message that failed */                \
        F(STR, text, BUS_ERROR_TEXT_MAX)

#define BUS_FIELDS_ECHO_REQUEST(F)                                                         \
        F(BLOB, data, BUS_ECHO_MAX)

#define BUS_FIELDS_ECHO_REPLY(F)                                                           \
        F(BLOB, data, BUS_ECHO_MAX)

#define BUS_FIELDS_DOMAIN_CHANNEL_OPEN(F)                                                  \
        F(U32, domid, 0)                                                                   \
        F(U8,  vchan_backend, 0) /* enum vchan_backend */                                 \
        F(STR, name, BUS_NAME_MAX)                                                         \
        F(STR, vchan_dir, BUS_PATH_MAX) /* socket backend: where the domain's channels live */

#define BUS_FIELDS_DOMAIN_CHANNEL_CLOSE(F)                                                 \
        F(U32, domid, 0)

#define BUS_FIELDS_DOMAIN_CHANNEL_UP(F)                                                    \
        F(U32, domid, 0)                                                                   \
        F(U32, qrexec_version, 0)

#define BUS_FIELDS_DOMAIN_CHANNEL_DOWN(F)                                                  \
        F(U32, domid, 0)                                                                   \
        F(I32, reason, 0)        /* 0 closed on request, negative errno otherwise */

#define BUS_FIELDS_QREXEC_TRIGGER(F)                                                       \
        F(U32, source_domid, 0)  /* stamped by busd from the channel */                   \
        F(U8,  protocol, 0)      /* 3 or 4: which TRIGGER_SERVICE it came as */            \
        F(STR, source_domain, BUS_QREXEC_DOMAIN_MAX) /* v4 relay field, "" otherwise */   \
        F(STR, target_domain, BUS_QREXEC_DOMAIN_MAX)                                       \
        F(STR, ident, BUS_IDENT_MAX)                                                       \
        F(STR, service, BUS_SERVICE_MAX)

#define BUS_FIELDS_QREXEC_TERMINATED(F)                                                    \
        F(U32, source_domid, 0)                                                            \
        F(U32, connect_domain, 0)                                                          \
        F(U32, connect_port, 0)

#define BUS_FIELDS_QREXEC_EXEC(F)                                                          \
        F(U8,  just_exec, 0)     /* 1: MSG_JUST_EXEC, 0: MSG_EXEC_CMDLINE */               \
        F(U32, connect_domain, 0)                                                          \
        F(U32, connect_port, 0)                                                            \
        F(STR, cmdline, BUS_CMDLINE_MAX)

#define BUS_FIELDS_QREXEC_SERVICE_CONNECT(F)                                               \
        F(U32, connect_domain, 0)                                                          \
        F(U32, connect_port, 0)                                                            \
        F(STR, ident, BUS_IDENT_MAX)

#define BUS_FIELDS_QREXEC_SERVICE_REFUSED(F)                                               \
        F(STR, ident, BUS_IDENT_MAX)

#define BUS_FIELDS_QREXEC_CONNECT(F)                                                       \
        F(U32, source_domid, 0)  /* the caller: gets MSG_SERVICE_CONNECT, is the vchan server */ \
        F(U32, target_domid, 0)  /* runs the service: gets EXEC_CMDLINE, vchan client */  \
        F(U8,  just_exec, 0)     /* 1: MSG_JUST_EXEC */                                    \
        F(STR, ident, BUS_IDENT_MAX) /* the source's request ident, echoed */              \
        F(STR, cmdline, BUS_CMDLINE_MAX) /* "USER:QUBESRPC SERVICE+ARG SOURCE" */

#define BUS_FIELDS_QREXEC_CONNECTED(F)                                                     \
        F(I32, error, 0)         /* 0, or -EHOSTUNREACH (a channel is down), -EBUSY (no port), ... */ \
        F(U32, port, 0)          /* the data port (513..768) */

#define BUS_FIELDS_SYSTEM_INFO_SUBSCRIBE(F)                                                \
        F(U32, reserved, 0)      /* 0 */

/* One domain as policy sees it (the shape of Qubes' system info). qubesd sends it
 * for every domain after SYSTEM_INFO_SUBSCRIBE (then SYSTEM_INFO_DONE), on its own
 * start, and again whenever anything in it changes. dom0 is included. */
#define BUS_FIELDS_DOMAIN_INFO(F)                                                          \
        F(STR, name, BUS_NAME_MAX)                                                         \
        F(STR, klass, BUS_NAME_MAX)          /* AdminVM, TemplateVM, AppVM, ... */         \
        F(STR, uuid, BUS_UUID_MAX)                                                         \
        F(U32, domid, 0)                     /* the qid; the running domain's peer is GUEST(domid) */ \
        F(U8,  power_state, 0)               /* enum bus_power_state */                    \
        F(U8,  template_for_dispvms, 0)                                                    \
        F(U8,  internal, 0)                                                                \
        F(STR, default_dispvm, BUS_NAME_MAX) /* "" = none */                               \
        F(STR, default_user, BUS_NAME_MAX)                                                 \
        F(STR, icon, BUS_NAME_MAX)           /* the label name, e.g. "red" */               \
        F(STR, tags, BUS_TAGS_MAX)           /* space separated */

#define BUS_FIELDS_DOMAIN_INFO_REMOVED(F)                                                  \
        F(STR, name, BUS_NAME_MAX)

#define BUS_FIELDS_SYSTEM_INFO_DONE(F)                                                     \
        F(U32, domains, 0)       /* how many DOMAIN_INFO came before */

/* The reply comes once the domain runs and its control channel is up. */
#define BUS_FIELDS_DOMAIN_START_REQUEST(F)                                                 \
        F(STR, name, BUS_NAME_MAX)

#define BUS_FIELDS_DOMAIN_START_REPLY(F)                                                   \
        F(I32, error, 0)                                                                   \
        F(U32, domid, 0)                                                                   \
        F(STR, message, BUS_ERROR_TEXT_MAX)

/* Create a DispVM from a disposable template, start it, reply once its channel is up. */
#define BUS_FIELDS_DISPVM_CREATE_REQUEST(F)                                                \
        F(STR, template_name, BUS_NAME_MAX)

#define BUS_FIELDS_DISPVM_CREATE_REPLY(F)                                                  \
        F(I32, error, 0)                                                                   \
        F(U32, domid, 0)                                                                   \
        F(STR, name, BUS_NAME_MAX)                                                         \
        F(STR, message, BUS_ERROR_TEXT_MAX)

/* Kill a domain; with remove=1 (disposables) also remove it from the database. */
#define BUS_FIELDS_DOMAIN_KILL_REQUEST(F)                                                  \
        F(STR, name, BUS_NAME_MAX)                                                         \
        F(U8,  remove, 0)

#define BUS_FIELDS_DOMAIN_KILL_REPLY(F)                                                    \
        F(I32, error, 0)

#define BUS_FIELDS_ASK_REQUEST(F)                                                          \
        F(STR, source, BUS_NAME_MAX)                                                       \
        F(STR, service, BUS_SERVICE_MAX)     /* SERVICE+ARG */                             \
        F(STR, targets, BUS_TARGETS_MAX)     /* space separated, sorted */                 \
        F(STR, default_target, BUS_QREXEC_DOMAIN_MAX) /* "" = none */

/* error 0 + target: the user chose; -EACCES: the user refused; -EHOSTDOWN: no ask
 * agent is registered; -ETIMEDOUT: no answer in time. */
#define BUS_FIELDS_ASK_REPLY(F)                                                            \
        F(I32, error, 0)                                                                   \
        F(STR, target, BUS_QREXEC_DOMAIN_MAX)

#define BUS_FIELDS_POLICY_STATUS(F)                                                        \
        F(U8,  ok, 0)            /* 0: broken, everything is denied */                    \
        F(U32, files, 0)                                                                   \
        F(U32, rules, 0)                                                                   \
        F(U64, loaded_usec, 0)   /* CLOCK_REALTIME of the (re)load */                     \
        F(STR, policy_dir, BUS_PATH_MAX)                                                   \
        F(STR, errors, BUS_POLICY_ERRORS_MAX) /* "file:line: message" lines, "" when ok */
