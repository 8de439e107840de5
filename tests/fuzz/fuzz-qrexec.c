/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the qrexec codec.  Input: one byte choosing the
 * starting version (0 = before HELLO; 1 and 5 are versions no negotiation
 * yields), then a stream of qrexec messages.  The same stream is read as
 * each of the three kinds of channel, the way a receiver does: header,
 * qrexec_check_header(), payload, the matching decoder; reading stops where
 * a receiver would drop the peer.  Whatever decodes is checked for the
 * decoder's promises (sanitised character sets, terminated strings) and,
 * where an encoder exists, encoded again: the bytes must come back
 * identical when the input was canonical, and decode to the same values in
 * any case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qrexec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE (QREXEC_HEADER_SIZE + 160 + QREXEC_MAX_CMD_LEN + 16)

static uint8_t reencoded[MAX_MESSAGE];
static struct qrexec_trigger trigger, trigger_again;

#define require(cond) do { if (!(cond)) abort(); } while (0)

static bool in_set(char c, const char *extra) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               c == '_' || c == '-' || c == '.' || (c != '\0' && strchr(extra, c));
}

static void require_sanitised(const char *s, size_t size, const char *extra) {
        size_t n = strnlen(s, size);
        require(n < size);
        for (size_t i = 0; i < n; i++)
                require(in_set(s[i], extra));
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* Message bytes identical to the input, header included. */
static void require_same_bytes(int r, const uint8_t *header, const uint8_t *payload, size_t len) {
        require(r == (int) (QREXEC_HEADER_SIZE + len));
        require(memcmp(reencoded, header, QREXEC_HEADER_SIZE) == 0);
        require(len == 0 || memcmp(reencoded + QREXEC_HEADER_SIZE, payload, len) == 0);
}

static void check_trigger(const struct qrexec_hdr *hdr, const uint8_t *payload, uint32_t version) {
        struct qrexec_hdr again;
        int r;

        if (qrexec_decode_trigger(hdr, payload, version, &trigger) < 0)
                return;
        require(trigger.type == hdr->type);
        require_sanitised(trigger.source_domain, sizeof(trigger.source_domain), "@:");
        require_sanitised(trigger.target_domain, sizeof(trigger.target_domain), "@:");
        require(strnlen(trigger.ident, sizeof(trigger.ident)) < sizeof(trigger.ident));
        require_sanitised(trigger.service, sizeof(trigger.service), "+");
        if (trigger.refuse)
                return;
        require(qrexec_ident_valid(trigger.ident));
        require(trigger.service[0] != '\0' && trigger.service[0] != '+');

        if (hdr->type == QREXEC_MSG_TRIGGER_SERVICE3)
                r = qrexec_encode_trigger3(reencoded, sizeof(reencoded), trigger.target_domain, trigger.ident,
                                           trigger.service);
        else if (hdr->type == QREXEC_MSG_TRIGGER_SERVICE4)
                r = qrexec_encode_trigger4(reencoded, sizeof(reencoded), trigger.source_domain,
                                           trigger.target_domain, trigger.ident, trigger.service);
        else
                return;         /* we never send protocol-2 triggers */
        /* Sanitising keeps lengths, so the message is as long as the input. */
        require(r == (int) (QREXEC_HEADER_SIZE + hdr->len));
        qrexec_decode_header(reencoded, &again);
        require(again.type == hdr->type && again.len == hdr->len);
        require(qrexec_check_header(&again, QREXEC_STREAM_FROM_AGENT, version) == 0);
        require(qrexec_decode_trigger(&again, reencoded + QREXEC_HEADER_SIZE, version, &trigger_again) == 0);
        require(!trigger_again.refuse);
        require(strcmp(trigger.source_domain, trigger_again.source_domain) == 0);
        require(strcmp(trigger.target_domain, trigger_again.target_domain) == 0);
        require(memcmp(trigger.ident, trigger_again.ident, sizeof(trigger.ident)) == 0);
        require(strcmp(trigger.service, trigger_again.service) == 0);
}

static void check_exec(const uint8_t *header, const struct qrexec_hdr *hdr, const uint8_t *payload) {
        struct qrexec_exec e;
        int r;

        if (qrexec_decode_exec(hdr, payload, &e) < 0)
                return;
        require(e.type == hdr->type);
        if (e.type == QREXEC_MSG_SERVICE_CONNECT) {
                require(!e.cmdline);
                r = qrexec_encode_service_connect(reencoded, sizeof(reencoded), e.connect_domain,
                                                  e.connect_port, e.ident);
                size_t n = strnlen(e.ident, sizeof(e.ident));
                require(n < sizeof(e.ident));
                if (all_zero(payload + 8 + n, QREXEC_IDENT_SIZE - n))
                        require_same_bytes(r, header, payload, hdr->len);
                else
                        require(r == QREXEC_HEADER_SIZE + 8 + QREXEC_IDENT_SIZE);
        } else {
                require(e.cmdline && strlen(e.cmdline) + 1 + 8 == hdr->len);
                r = qrexec_encode_exec(reencoded, sizeof(reencoded), e.type, e.connect_domain, e.connect_port,
                                       e.cmdline);
                require_same_bytes(r, header, payload, hdr->len);
        }
}

/* Reads messages until a receiver would stop; returns nothing, aborts on a broken promise. */
static void read_stream(enum qrexec_stream stream, uint32_t version, const uint8_t *data, size_t size) {
        while (size >= QREXEC_HEADER_SIZE) {
                const uint8_t *header = data;
                struct qrexec_hdr hdr;
                uint32_t d, p, theirs;
                char ident[QREXEC_IDENT_SIZE];
                int32_t code;
                int r;

                qrexec_decode_header(header, &hdr);
                data += QREXEC_HEADER_SIZE;
                size -= QREXEC_HEADER_SIZE;
                if (qrexec_check_header(&hdr, stream, version) < 0)
                        return;
                if (hdr.len > size)
                        return;         /* the peer went away mid-message */

                /* An exact-size copy, so that ASan catches any read past the payload. */
                _cleanup_free_ uint8_t *payload = malloc(hdr.len ? hdr.len : 1);
                if (!payload)
                        return;
                memcpy(payload, data, hdr.len);
                data += hdr.len;
                size -= hdr.len;

                switch (hdr.type) {
                case QREXEC_MSG_HELLO:
                        require(qrexec_decode_hello(payload, hdr.len, &theirs) == 0);
                        require(qrexec_encode_hello(reencoded, sizeof(reencoded), theirs) == 12);
                        require_same_bytes(12, header, payload, hdr.len);
                        r = qrexec_negotiate(QREXEC_PROTOCOL_VERSION, theirs);
                        if (r < 0)
                                return;
                        version = (uint32_t) r;
                        break;
                case QREXEC_MSG_TRIGGER_SERVICE:
                case QREXEC_MSG_TRIGGER_SERVICE3:
                case QREXEC_MSG_TRIGGER_SERVICE4:
                        check_trigger(&hdr, payload, version);
                        break;
                case QREXEC_MSG_EXEC_CMDLINE:
                case QREXEC_MSG_JUST_EXEC:
                case QREXEC_MSG_SERVICE_CONNECT:
                        check_exec(header, &hdr, payload);
                        break;
                case QREXEC_MSG_SERVICE_REFUSED:
                        if (qrexec_decode_service_refused(payload, hdr.len, ident) < 0)
                                break;
                        r = qrexec_encode_service_refused(reencoded, sizeof(reencoded), ident);
                        require(r == QREXEC_HEADER_SIZE + QREXEC_IDENT_SIZE);
                        if (all_zero(payload + strlen(ident), QREXEC_IDENT_SIZE - strlen(ident)))
                                require_same_bytes(r, header, payload, hdr.len);
                        break;
                case QREXEC_MSG_CONNECTION_TERMINATED:
                        if (qrexec_decode_connection_terminated(payload, hdr.len, &d, &p) < 0)
                                break;
                        r = qrexec_encode_connection_terminated(reencoded, sizeof(reencoded), d, p);
                        require_same_bytes(r, header, payload, hdr.len);
                        break;
                case QREXEC_MSG_DATA_STDIN:
                case QREXEC_MSG_DATA_STDOUT:
                case QREXEC_MSG_DATA_STDERR:
                        r = qrexec_encode_data(reencoded, sizeof(reencoded), hdr.type, payload, hdr.len);
                        require_same_bytes(r, header, payload, hdr.len);
                        break;
                case QREXEC_MSG_DATA_EXIT_CODE:
                        require(qrexec_decode_exit_code(payload, hdr.len, &code) == 0);
                        if (hdr.len < 4) {
                                require(code == 255);
                                break;
                        }
                        r = qrexec_encode_exit_code(reencoded, sizeof(reencoded), code);
                        require_same_bytes(r, header, payload, hdr.len);
                        break;
                default:
                        abort();        /* check_header let through a type nobody decodes */
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint32_t version = data[0] % 6;

        read_stream(QREXEC_STREAM_FROM_AGENT, version, data + 1, size - 1);
        read_stream(QREXEC_STREAM_FROM_DAEMON, version, data + 1, size - 1);
        read_stream(QREXEC_STREAM_DATA, version, data + 1, size - 1);
        return 0;
}
