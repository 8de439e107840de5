/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec decoding: which header may arrive on which stream at which version,
 * and the strict payload decoders.  The bounds and the sanitising follow
 * Qubes' qrexec-daemon and qrexec-agent (shared/reference/qrexec.md §2.2-2.9)
 * so that a Qubes peer sees exactly the answers a Qubes peer would give.
 *
 * Every decoder re-checks the lengths itself: calling qrexec_check_header()
 * first is how a caller knows how much to read, not a precondition.
 */
#include <errno.h>
#include <string.h>

#include "qrexec.h"
#include "qrexec-layout.h"
#include "util.h"

const char *qrexec_msg_type_to_string(uint32_t type) {
        switch (type) {
        case QREXEC_MSG_DATA_STDIN:             return "MSG_DATA_STDIN";
        case QREXEC_MSG_DATA_STDOUT:            return "MSG_DATA_STDOUT";
        case QREXEC_MSG_DATA_STDERR:            return "MSG_DATA_STDERR";
        case QREXEC_MSG_DATA_EXIT_CODE:         return "MSG_DATA_EXIT_CODE";
        case QREXEC_MSG_EXEC_CMDLINE:           return "MSG_EXEC_CMDLINE";
        case QREXEC_MSG_JUST_EXEC:              return "MSG_JUST_EXEC";
        case QREXEC_MSG_SERVICE_CONNECT:        return "MSG_SERVICE_CONNECT";
        case QREXEC_MSG_SERVICE_REFUSED:        return "MSG_SERVICE_REFUSED";
        case QREXEC_MSG_TRIGGER_SERVICE:        return "MSG_TRIGGER_SERVICE";
        case QREXEC_MSG_CONNECTION_TERMINATED:  return "MSG_CONNECTION_TERMINATED";
        case QREXEC_MSG_TRIGGER_SERVICE3:       return "MSG_TRIGGER_SERVICE3";
        case QREXEC_MSG_TRIGGER_SERVICE4:       return "MSG_TRIGGER_SERVICE4";
        case QREXEC_MSG_HELLO:                  return "MSG_HELLO";
        default:                                return NULL;
        }
}

void qrexec_decode_header(const uint8_t buf[QREXEC_HEADER_SIZE], struct qrexec_hdr *hdr) {
        hdr->type = le32_load(buf);
        hdr->len = le32_load(buf + 4);
}

/* A version that negotiation can produce: min(ours <= 4, theirs) and >= 2. */
static bool version_negotiated(uint32_t version) {
        return version >= QREXEC_PROTOCOL_MIN && version <= QREXEC_PROTOCOL_VERSION;
}

static bool port_is_data_port(uint32_t port) {
        return port >= QREXEC_FIRST_DATA_PORT && port < QREXEC_END_DATA_PORT;
}

/*
 * Trigger bounds, as qrexec-daemon checks them before reading the payload:
 *  - TRIGGER_SERVICE only while the agent speaks protocol 2, exactly its
 *    128-byte struct;
 *  - TRIGGER_SERVICE3 from protocol 3, TRIGGER_SERVICE4 from protocol 4: the
 *    fixed struct plus at least one byte of service name (its NUL; a payload
 *    no longer than the struct is the QSB-089 case) and at most
 *    MAX_SERVICE_NAME_LEN bytes of name including the NUL.
 */
static int check_trigger_length(uint32_t type, uint32_t len, uint32_t version) {
        uint32_t fixed;

        switch (type) {
        case QREXEC_MSG_TRIGGER_SERVICE:
                return version < 3 && len == QREXEC_TRIGGER2_SIZE ? 0 : -EBADMSG;
        case QREXEC_MSG_TRIGGER_SERVICE3:
                if (version < 3)
                        return -EBADMSG;
                fixed = QREXEC_TRIGGER3_FIXED_SIZE;
                break;
        case QREXEC_MSG_TRIGGER_SERVICE4:
                if (version < 4)
                        return -EBADMSG;
                fixed = QREXEC_TRIGGER4_FIXED_SIZE;
                break;
        default:
                return -EBADMSG;
        }
        if (len <= fixed || len - fixed > QREXEC_MAX_SERVICE_NAME_LEN)
                return -EBADMSG;
        return 0;
}

/*
 * EXEC_CMDLINE / JUST_EXEC towards an agent: exec_params and a command of
 * 1..MAX_QREXEC_CMD_LEN bytes including its NUL.  That is the agent's own
 * limit on the command; Qubes' daemon caps what its local clients send at
 * MAX_QREXEC_CMD_LEN for the whole payload, but replacing "DEFAULT:" by the
 * configured user can make the forwarded message a little longer, so the
 * bound on this stream is MAX_QREXEC_CMD_LEN + 8.
 */
static int check_exec_length(uint32_t len) {
        if (len <= QREXEC_EXEC_PARAMS_SIZE || len - QREXEC_EXEC_PARAMS_SIZE > QREXEC_MAX_CMD_LEN)
                return -EBADMSG;
        return 0;
}

/* Data chunks are bounded by the negotiated version's buffer; EXIT_CODE is
 * one int, and Qubes reads a shorter one as 255 rather than failing. */
static int check_data_length(uint32_t type, uint32_t len, uint32_t version) {
        uint32_t chunk = version >= 3 ? QREXEC_MAX_DATA_CHUNK_V3 : QREXEC_MAX_DATA_CHUNK_V2;

        switch (type) {
        case QREXEC_MSG_DATA_STDIN:
        case QREXEC_MSG_DATA_STDOUT:
        case QREXEC_MSG_DATA_STDERR:
                return len <= chunk ? 0 : -EBADMSG;
        case QREXEC_MSG_DATA_EXIT_CODE:
                return len <= QREXEC_EXIT_CODE_SIZE ? 0 : -EBADMSG;
        default:
                return -EBADMSG;
        }
}

int qrexec_check_header(const struct qrexec_hdr *hdr, enum qrexec_stream stream, uint32_t version) {
        /* Before the handshake every stream carries exactly one HELLO; after
         * it no stream accepts another one (Qubes' peers treat it as an
         * unknown type). */
        if (version == 0)
                return hdr->type == QREXEC_MSG_HELLO && hdr->len == QREXEC_HELLO_SIZE ? 0 : -EBADMSG;
        if (!version_negotiated(version))
                return -EBADMSG;

        switch (stream) {
        case QREXEC_STREAM_FROM_AGENT:
                switch (hdr->type) {
                case QREXEC_MSG_TRIGGER_SERVICE:
                case QREXEC_MSG_TRIGGER_SERVICE3:
                case QREXEC_MSG_TRIGGER_SERVICE4:
                        return check_trigger_length(hdr->type, hdr->len, version);
                case QREXEC_MSG_CONNECTION_TERMINATED:
                        /* exec_params with an empty command: no command bytes at all */
                        return hdr->len == QREXEC_EXEC_PARAMS_SIZE ? 0 : -EBADMSG;
                default:
                        return -EBADMSG;
                }
        case QREXEC_STREAM_FROM_DAEMON:
                switch (hdr->type) {
                case QREXEC_MSG_EXEC_CMDLINE:
                case QREXEC_MSG_JUST_EXEC:
                        return check_exec_length(hdr->len);
                case QREXEC_MSG_SERVICE_CONNECT:
                        return hdr->len == QREXEC_SERVICE_CONNECT_SIZE ? 0 : -EBADMSG;
                case QREXEC_MSG_SERVICE_REFUSED:
                        return hdr->len == QREXEC_IDENT_SIZE ? 0 : -EBADMSG;
                default:
                        return -EBADMSG;
                }
        case QREXEC_STREAM_DATA:
                return check_data_length(hdr->type, hdr->len, version);
        }
        return -EBADMSG;
}

int qrexec_negotiate(uint32_t ours, uint32_t theirs) {
        uint32_t version = ours < theirs ? ours : theirs;

        if (ours < QREXEC_PROTOCOL_MIN || ours > QREXEC_PROTOCOL_VERSION)
                return -EINVAL;
        if (version < QREXEC_PROTOCOL_MIN)
                return -EPROTONOSUPPORT;
        return (int) version;
}

int qrexec_decode_hello(const uint8_t *untrusted_payload, size_t len, uint32_t *version) {
        if (len != QREXEC_HELLO_SIZE)
                return -EBADMSG;
        *version = le32_load(untrusted_payload);
        return 0;
}

bool qrexec_ident_valid(const char ident[QREXEC_IDENT_SIZE]) {
        for (size_t i = 0; i < QREXEC_IDENT_SIZE; i++) {
                unsigned char c = (unsigned char) ident[i];

                if (c == '\0') {
                        if (i == 0)
                                return false;   /* empty */
                        /* Nothing may hide behind the terminator. */
                        for (i++; i < QREXEC_IDENT_SIZE; i++)
                                if (ident[i] != '\0')
                                        return false;
                        return true;
                }
                if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      c == '_' || c == '-' || c == '.' || c == ' '))
                        return false;
        }
        return false;   /* no terminator */
}

/* Qubes' name sanitiser: [A-Za-z0-9_.-] plus `extra` stay, anything else
 * becomes '_'.  Never called on the NUL. */
static char sanitise_byte(unsigned char c, const char *extra) {
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            c == '_' || c == '-' || c == '.' || strchr(extra, c))
                return (char) c;
        return '_';
}

/* A domain field of field_size bytes: its last byte is forced to NUL, the
 * name ends at the first NUL and is sanitised with "@:" allowed.  `out` is
 * QREXEC_DOMAIN_SIZE bytes and comes out NUL-padded. */
static void decode_domain(char out[QREXEC_DOMAIN_SIZE], const uint8_t *untrusted_field, size_t field_size) {
        size_t i;

        for (i = 0; i + 1 < field_size && untrusted_field[i] != '\0'; i++)
                out[i] = sanitise_byte(untrusted_field[i], "@:");
        memset(out + i, 0, QREXEC_DOMAIN_SIZE - i);
}

/* ident is kept as received, for the SERVICE_REFUSED echo; a bad one only
 * gets its last byte forced to NUL so it can be handled as a string. */
static bool decode_ident(char out[QREXEC_IDENT_SIZE], const uint8_t *untrusted_ident) {
        memcpy(out, untrusted_ident, QREXEC_IDENT_SIZE);
        if (qrexec_ident_valid(out))
                return true;
        out[QREXEC_IDENT_SIZE - 1] = '\0';
        return false;
}

/* Qubes refuses an empty service name and one starting with '+' (an
 * argument without a service). */
static bool service_acceptable(const char *service) {
        return service[0] != '\0' && service[0] != '+';
}

/* TRIGGER_SERVICE's fixed 64-byte name: last byte forced to NUL, the name
 * ends at the first NUL, then sanitised with '+' allowed. */
static bool decode_service_v2(char *out, const uint8_t *untrusted_field) {
        size_t i;

        for (i = 0; i + 1 < QREXEC_SERVICE_NAME_SIZE_V2 && untrusted_field[i] != '\0'; i++)
                out[i] = sanitise_byte(untrusted_field[i], "+");
        out[i] = '\0';
        return service_acceptable(out);
}

/* TRIGGER_SERVICE3/4's variable name of n (1..MAX_SERVICE_NAME_LEN) bytes:
 * it must be NUL-terminated exactly at its end.  Qubes answers a name with a
 * missing or early NUL with SERVICE_REFUSED (the daemon does not exit), and
 * so do we: out is left empty and the result says refuse. */
static bool decode_service(char *out, const uint8_t *untrusted_name, size_t n) {
        if (untrusted_name[n - 1] != '\0' || memchr(untrusted_name, '\0', n - 1)) {
                out[0] = '\0';
                return false;
        }
        for (size_t i = 0; i + 1 < n; i++)
                out[i] = sanitise_byte(untrusted_name[i], "+");
        out[n - 1] = '\0';
        return service_acceptable(out);
}

int qrexec_decode_trigger(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload, uint32_t version,
                          struct qrexec_trigger *out) {
        bool ident_ok, service_ok;
        int r;

        if (!version_negotiated(version))
                return -EBADMSG;
        r = check_trigger_length(hdr->type, hdr->len, version);
        if (r < 0)
                return r;

        out->type = hdr->type;
        memset(out->source_domain, 0, sizeof(out->source_domain));

        switch (hdr->type) {
        case QREXEC_MSG_TRIGGER_SERVICE:
                decode_domain(out->target_domain, untrusted_payload + QREXEC_TRIGGER2_TARGET_OFFSET,
                              QREXEC_DOMAIN_SIZE_V2);
                ident_ok = decode_ident(out->ident, untrusted_payload + QREXEC_TRIGGER2_IDENT_OFFSET);
                service_ok = decode_service_v2(out->service, untrusted_payload + QREXEC_TRIGGER2_SERVICE_OFFSET);
                break;
        case QREXEC_MSG_TRIGGER_SERVICE3:
                decode_domain(out->target_domain, untrusted_payload + QREXEC_TRIGGER3_TARGET_OFFSET,
                              QREXEC_DOMAIN_SIZE);
                ident_ok = decode_ident(out->ident, untrusted_payload + QREXEC_TRIGGER3_IDENT_OFFSET);
                service_ok = decode_service(out->service, untrusted_payload + QREXEC_TRIGGER3_FIXED_SIZE,
                                            hdr->len - QREXEC_TRIGGER3_FIXED_SIZE);
                break;
        case QREXEC_MSG_TRIGGER_SERVICE4:
                decode_domain(out->source_domain, untrusted_payload + QREXEC_TRIGGER4_SOURCE_OFFSET,
                              QREXEC_DOMAIN_SIZE);
                decode_domain(out->target_domain, untrusted_payload + QREXEC_TRIGGER4_TARGET_OFFSET,
                              QREXEC_DOMAIN_SIZE);
                ident_ok = decode_ident(out->ident, untrusted_payload + QREXEC_TRIGGER4_IDENT_OFFSET);
                service_ok = decode_service(out->service, untrusted_payload + QREXEC_TRIGGER4_FIXED_SIZE,
                                            hdr->len - QREXEC_TRIGGER4_FIXED_SIZE);
                break;
        default:
                return -EBADMSG;        /* check_trigger_length() already said so */
        }
        out->refuse = !ident_ok || !service_ok;
        return 0;
}

/* An ident field that must carry a terminated string (what our side sends
 * back is always terminated); copied NUL-padded. */
static int decode_terminated_ident(char out[QREXEC_IDENT_SIZE], const uint8_t *untrusted_ident) {
        const uint8_t *nul = memchr(untrusted_ident, '\0', QREXEC_IDENT_SIZE);

        if (!nul)
                return -EBADMSG;
        size_t n = (size_t) (nul - untrusted_ident);
        memcpy(out, untrusted_ident, n);
        memset(out + n, 0, QREXEC_IDENT_SIZE - n);
        return 0;
}

int qrexec_decode_exec(const struct qrexec_hdr *hdr, const uint8_t *untrusted_payload, struct qrexec_exec *out) {
        uint32_t port;
        int r;

        switch (hdr->type) {
        case QREXEC_MSG_EXEC_CMDLINE:
        case QREXEC_MSG_JUST_EXEC: {
                r = check_exec_length(hdr->len);
                if (r < 0)
                        return r;
                const uint8_t *untrusted_cmd = untrusted_payload + QREXEC_EXEC_PARAMS_SIZE;
                size_t n = hdr->len - QREXEC_EXEC_PARAMS_SIZE;
                /* One string filling the rest exactly: non-empty, NUL at the
                 * end and nowhere else (no bytes a string reader would skip). */
                if (n < 2 || untrusted_cmd[n - 1] != '\0' || memchr(untrusted_cmd, '\0', n - 1))
                        return -EBADMSG;
                out->cmdline = (const char *) untrusted_cmd;
                memset(out->ident, 0, sizeof(out->ident));
                break;
        }
        case QREXEC_MSG_SERVICE_CONNECT:
                if (hdr->len != QREXEC_SERVICE_CONNECT_SIZE)
                        return -EBADMSG;
                r = decode_terminated_ident(out->ident, untrusted_payload + QREXEC_EXEC_PARAMS_SIZE);
                if (r < 0)
                        return r;
                out->cmdline = NULL;
                break;
        default:
                return -EBADMSG;
        }

        /* The admin side only ever names a port it allocated. */
        port = le32_load(untrusted_payload + QREXEC_EXEC_PORT_OFFSET);
        if (!port_is_data_port(port))
                return -EBADMSG;

        out->type = hdr->type;
        out->connect_domain = le32_load(untrusted_payload + QREXEC_EXEC_DOMAIN_OFFSET);
        out->connect_port = port;
        return 0;
}

int qrexec_decode_service_refused(const uint8_t *untrusted_payload, size_t len, char ident[QREXEC_IDENT_SIZE]) {
        if (len != QREXEC_IDENT_SIZE)
                return -EBADMSG;
        return decode_terminated_ident(ident, untrusted_payload);
}

int qrexec_decode_connection_terminated(const uint8_t *untrusted_payload, size_t len,
                                        uint32_t *connect_domain, uint32_t *connect_port) {
        if (len != QREXEC_EXEC_PARAMS_SIZE)
                return -EBADMSG;
        uint32_t port = le32_load(untrusted_payload + QREXEC_EXEC_PORT_OFFSET);
        /* qrexec-daemon gives up on an agent naming a port outside the data range. */
        if (!port_is_data_port(port))
                return -EBADMSG;
        *connect_domain = le32_load(untrusted_payload + QREXEC_EXEC_DOMAIN_OFFSET);
        *connect_port = port;
        return 0;
}

int qrexec_decode_exit_code(const uint8_t *untrusted_payload, size_t len, int32_t *code) {
        if (len > QREXEC_EXIT_CODE_SIZE)
                return -EBADMSG;
        if (len < QREXEC_EXIT_CODE_SIZE) {
                *code = 255;
                return 0;
        }
        uint32_t raw = le32_load(untrusted_payload);
        memcpy(code, &raw, sizeof(*code));
        return 0;
}
