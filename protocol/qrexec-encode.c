/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qrexec encoding: header + payload into a caller buffer, laid out as Qubes'
 * C structs (fixed char arrays NUL-padded, integers little-endian).  A string
 * that does not fit its field is -EINVAL rather than truncated: a truncated
 * ident or domain name would address something else.
 */
#include <errno.h>
#include <string.h>

#include "qrexec.h"
#include "qrexec-layout.h"
#include "util.h"

/* Writes the header once the whole message is known to fit; returns the
 * total size.  Payloads here are at most 8 + MAX_QREXEC_CMD_LEN or
 * 160 + MAX_SERVICE_NAME_LEN bytes, far below INT_MAX. */
static int put_header(uint8_t *buf, size_t size, uint32_t type, size_t payload_len) {
        if (size < QREXEC_HEADER_SIZE || size - QREXEC_HEADER_SIZE < payload_len)
                return -ENOBUFS;
        le32_store(buf, type);
        le32_store(buf + 4, (uint32_t) payload_len);
        return (int) (QREXEC_HEADER_SIZE + payload_len);
}

/* Length of s if it fits a field of field_size bytes with its NUL, else -EINVAL. */
static int fitting_length(const char *s, size_t field_size) {
        if (!s)
                return -EINVAL;
        size_t n = strnlen(s, field_size);
        return n < field_size ? (int) n : -EINVAL;
}

/* s (already checked to fit) into a NUL-padded field. */
static void put_field(uint8_t *field, size_t field_size, const char *s) {
        size_t n = strlen(s);

        memcpy(field, s, n);
        memset(field + n, 0, field_size - n);
}

static void put_exec_params(uint8_t *payload, uint32_t connect_domain, uint32_t connect_port) {
        le32_store(payload + QREXEC_EXEC_DOMAIN_OFFSET, connect_domain);
        le32_store(payload + QREXEC_EXEC_PORT_OFFSET, connect_port);
}

int qrexec_encode_hello(uint8_t *buf, size_t size, uint32_t version) {
        int total = put_header(buf, size, QREXEC_MSG_HELLO, QREXEC_HELLO_SIZE);

        if (total < 0)
                return total;
        le32_store(buf + QREXEC_HEADER_SIZE, version);
        return total;
}

int qrexec_encode_exec(uint8_t *buf, size_t size, uint32_t type, uint32_t connect_domain,
                       uint32_t connect_port, const char *cmdline) {
        int n, total;

        if (type != QREXEC_MSG_EXEC_CMDLINE && type != QREXEC_MSG_JUST_EXEC)
                return -EINVAL;
        /* 1..MAX_QREXEC_CMD_LEN bytes including the NUL, as an agent accepts. */
        n = fitting_length(cmdline, QREXEC_MAX_CMD_LEN);
        if (n <= 0)
                return -EINVAL;

        total = put_header(buf, size, type, QREXEC_EXEC_PARAMS_SIZE + (size_t) n + 1);
        if (total < 0)
                return total;
        put_exec_params(buf + QREXEC_HEADER_SIZE, connect_domain, connect_port);
        memcpy(buf + QREXEC_HEADER_SIZE + QREXEC_EXEC_PARAMS_SIZE, cmdline, (size_t) n + 1);
        return total;
}

int qrexec_encode_service_connect(uint8_t *buf, size_t size, uint32_t connect_domain,
                                  uint32_t connect_port, const char *ident) {
        int total;

        if (fitting_length(ident, QREXEC_IDENT_SIZE) < 0)
                return -EINVAL;
        total = put_header(buf, size, QREXEC_MSG_SERVICE_CONNECT, QREXEC_SERVICE_CONNECT_SIZE);
        if (total < 0)
                return total;
        put_exec_params(buf + QREXEC_HEADER_SIZE, connect_domain, connect_port);
        put_field(buf + QREXEC_HEADER_SIZE + QREXEC_EXEC_PARAMS_SIZE, QREXEC_IDENT_SIZE, ident);
        return total;
}

int qrexec_encode_service_refused(uint8_t *buf, size_t size, const char *ident) {
        int total;

        if (fitting_length(ident, QREXEC_IDENT_SIZE) < 0)
                return -EINVAL;
        total = put_header(buf, size, QREXEC_MSG_SERVICE_REFUSED, QREXEC_IDENT_SIZE);
        if (total < 0)
                return total;
        put_field(buf + QREXEC_HEADER_SIZE, QREXEC_IDENT_SIZE, ident);
        return total;
}

/* The variable tail of TRIGGER_SERVICE3/4: name and NUL, at most
 * MAX_SERVICE_NAME_LEN bytes together.  Returns the name length. */
static int service_name_length(const char *service) {
        return fitting_length(service, QREXEC_MAX_SERVICE_NAME_LEN);
}

int qrexec_encode_trigger3(uint8_t *buf, size_t size, const char *target, const char *ident,
                           const char *service) {
        int name_len, total;

        if (fitting_length(target, QREXEC_DOMAIN_SIZE) < 0 || fitting_length(ident, QREXEC_IDENT_SIZE) < 0)
                return -EINVAL;
        name_len = service_name_length(service);
        if (name_len < 0)
                return name_len;

        total = put_header(buf, size, QREXEC_MSG_TRIGGER_SERVICE3,
                           QREXEC_TRIGGER3_FIXED_SIZE + (size_t) name_len + 1);
        if (total < 0)
                return total;
        uint8_t *payload = buf + QREXEC_HEADER_SIZE;
        put_field(payload + QREXEC_TRIGGER3_TARGET_OFFSET, QREXEC_DOMAIN_SIZE, target);
        put_field(payload + QREXEC_TRIGGER3_IDENT_OFFSET, QREXEC_IDENT_SIZE, ident);
        memcpy(payload + QREXEC_TRIGGER3_FIXED_SIZE, service, (size_t) name_len + 1);
        return total;
}

/* source may be NULL: the caller is not relaying, the field stays empty. */
int qrexec_encode_trigger4(uint8_t *buf, size_t size, const char *source, const char *target,
                           const char *ident, const char *service) {
        int name_len, total;

        if (!source)
                source = "";
        if (fitting_length(source, QREXEC_DOMAIN_SIZE) < 0 || fitting_length(target, QREXEC_DOMAIN_SIZE) < 0 ||
            fitting_length(ident, QREXEC_IDENT_SIZE) < 0)
                return -EINVAL;
        name_len = service_name_length(service);
        if (name_len < 0)
                return name_len;

        total = put_header(buf, size, QREXEC_MSG_TRIGGER_SERVICE4,
                           QREXEC_TRIGGER4_FIXED_SIZE + (size_t) name_len + 1);
        if (total < 0)
                return total;
        uint8_t *payload = buf + QREXEC_HEADER_SIZE;
        put_field(payload + QREXEC_TRIGGER4_SOURCE_OFFSET, QREXEC_DOMAIN_SIZE, source);
        put_field(payload + QREXEC_TRIGGER4_TARGET_OFFSET, QREXEC_DOMAIN_SIZE, target);
        put_field(payload + QREXEC_TRIGGER4_IDENT_OFFSET, QREXEC_IDENT_SIZE, ident);
        memcpy(payload + QREXEC_TRIGGER4_FIXED_SIZE, service, (size_t) name_len + 1);
        return total;
}

int qrexec_encode_connection_terminated(uint8_t *buf, size_t size, uint32_t connect_domain,
                                        uint32_t connect_port) {
        int total = put_header(buf, size, QREXEC_MSG_CONNECTION_TERMINATED, QREXEC_EXEC_PARAMS_SIZE);

        if (total < 0)
                return total;
        put_exec_params(buf + QREXEC_HEADER_SIZE, connect_domain, connect_port);
        return total;
}

/* STDIN/STDOUT/STDERR; n == 0 is that stream's EOF.  The chunk limit of the
 * negotiated version is the caller's to respect; beyond the largest one
 * (protocol 3+) no peer would accept it. */
int qrexec_encode_data(uint8_t *buf, size_t size, uint32_t type, const void *data, size_t n) {
        int total;

        if (type != QREXEC_MSG_DATA_STDIN && type != QREXEC_MSG_DATA_STDOUT && type != QREXEC_MSG_DATA_STDERR)
                return -EINVAL;
        if (n > QREXEC_MAX_DATA_CHUNK_V3 || (n > 0 && !data))
                return -EINVAL;
        total = put_header(buf, size, type, n);
        if (total < 0)
                return total;
        if (n > 0)
                memcpy(buf + QREXEC_HEADER_SIZE, data, n);
        return total;
}

int qrexec_encode_exit_code(uint8_t *buf, size_t size, int32_t code) {
        int total = put_header(buf, size, QREXEC_MSG_DATA_EXIT_CODE, QREXEC_EXIT_CODE_SIZE);

        if (total < 0)
                return total;
        le32_store(buf + QREXEC_HEADER_SIZE, (uint32_t) code);
        return total;
}
