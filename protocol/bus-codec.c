/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bus message codec.  Every message type gets a field descriptor table
 * expanded from bus-catalogue.h (offset of each member in its struct
 * bus_msg_*, its kind and bound); one generic encoder and one strict decoder
 * walk those tables, so no message has code of its own.
 */
#include <errno.h>
#include <string.h>

#include "bus.h"
#include "util.h"

enum bus_field_kind {
        BUS_FIELD_U8,
        BUS_FIELD_U16,
        BUS_FIELD_U32,
        BUS_FIELD_I32,
        BUS_FIELD_U64,
        BUS_FIELD_STR,
        BUS_FIELD_BLOB,
        _BUS_FIELD_END,         /* ends every table, so a type may have no field */
};

struct bus_field {
        enum bus_field_kind kind;
        uint32_t offset;        /* of the member in struct bus_msg_<name> */
        uint32_t len_offset;    /* BLOB: of its size_t <member>_len */
        uint32_t max;           /* STR, BLOB: most bytes */
};

struct bus_type_info {
        const char *name;
        const struct bus_field *fields;
        size_t struct_size;     /* sizeof(struct bus_msg_<name>) */
        size_t payload_min;     /* every string and blob empty */
        size_t payload_max;     /* every string and blob full */
};

/* Wire bytes of a field: a fixed part (the integer, or the length prefix)
 * and, for strings and blobs, up to `max` bytes of content. */
#define BUS_WIRE_FIXED_U8   1
#define BUS_WIRE_FIXED_U16  2
#define BUS_WIRE_FIXED_U32  4
#define BUS_WIRE_FIXED_I32  4
#define BUS_WIRE_FIXED_U64  8
#define BUS_WIRE_FIXED_STR  2
#define BUS_WIRE_FIXED_BLOB 4
#define BUS_WIRE_VAR_U8(max)   0
#define BUS_WIRE_VAR_U16(max)  0
#define BUS_WIRE_VAR_U32(max)  0
#define BUS_WIRE_VAR_I32(max)  0
#define BUS_WIRE_VAR_U64(max)  0
#define BUS_WIRE_VAR_STR(max)  (max)
#define BUS_WIRE_VAR_BLOB(max) (max)
#define BUS_FIELD_WIRE_MIN(kind, n, max) + BUS_WIRE_FIXED_##kind
#define BUS_FIELD_WIRE_MAX(kind, n, max) + BUS_WIRE_FIXED_##kind + BUS_WIRE_VAR_##kind(max)

/* Integers carry no bound; a string's length must fit its u16 prefix. */
#define BUS_FIELD_BOUND_OK_U8(max)   ((max) == 0)
#define BUS_FIELD_BOUND_OK_U16(max)  ((max) == 0)
#define BUS_FIELD_BOUND_OK_U32(max)  ((max) == 0)
#define BUS_FIELD_BOUND_OK_I32(max)  ((max) == 0)
#define BUS_FIELD_BOUND_OK_U64(max)  ((max) == 0)
#define BUS_FIELD_BOUND_OK_STR(max)  ((max) > 0 && (max) <= UINT16_MAX)
#define BUS_FIELD_BOUND_OK_BLOB(max) ((max) > 0 && (max) <= BUS_MSG_MAX)
#define BUS_FIELD_ASSERT(kind, n, max) \
        _Static_assert(BUS_FIELD_BOUND_OK_##kind(max), "bad bound for bus field " #n);

/* Descriptors refer to the struct of the type being expanded as msg_t. */
#define BUS_FIELD_LEN_OFFSET_U8(n)   0
#define BUS_FIELD_LEN_OFFSET_U16(n)  0
#define BUS_FIELD_LEN_OFFSET_U32(n)  0
#define BUS_FIELD_LEN_OFFSET_I32(n)  0
#define BUS_FIELD_LEN_OFFSET_U64(n)  0
#define BUS_FIELD_LEN_OFFSET_STR(n)  0
#define BUS_FIELD_LEN_OFFSET_BLOB(n) offsetof(msg_t, n##_len)
#define BUS_FIELD_DESC(field_kind, member, bound)                       \
        {                                                               \
                .kind = BUS_FIELD_##field_kind,                         \
                .offset = offsetof(msg_t, member),                      \
                .len_offset = BUS_FIELD_LEN_OFFSET_##field_kind(member), \
                .max = (bound),                                         \
        },

/*
 * One case per type: each has its own block, so the field table can name
 * the type's struct as msg_t for offsetof().  The switch also refuses to
 * compile if the catalogue ever gives two types the same number.
 */
static const struct bus_type_info *bus_type_info(uint16_t type) {
        switch (type) {
#define BUS_X_TYPE_INFO(NAME, lower, num, from, to)                                     \
        case num: {                                                                     \
                typedef struct bus_msg_##lower msg_t;                                   \
                BUS_FIELDS_##NAME(BUS_FIELD_ASSERT)                                     \
                _Static_assert((num) <= UINT16_MAX, #NAME " has no 16-bit number");    \
                _Static_assert(BUS_HEADER_SIZE + (0 BUS_FIELDS_##NAME(BUS_FIELD_WIRE_MAX)) \
                               <= BUS_MSG_MAX, #NAME " may not fit BUS_MSG_MAX");      \
                static const struct bus_field fields[] = {                              \
                        BUS_FIELDS_##NAME(BUS_FIELD_DESC)                               \
                        { .kind = _BUS_FIELD_END },                                     \
                };                                                                      \
                static const struct bus_type_info info = {                              \
                        .name = #NAME,                                                  \
                        .fields = fields,                                               \
                        .struct_size = sizeof(msg_t),                                   \
                        .payload_min = 0 BUS_FIELDS_##NAME(BUS_FIELD_WIRE_MIN),         \
                        .payload_max = 0 BUS_FIELDS_##NAME(BUS_FIELD_WIRE_MAX),         \
                };                                                                      \
                return &info;                                                           \
        }
        BUS_MESSAGES(BUS_X_TYPE_INFO)
#undef BUS_X_TYPE_INFO
        default:
                return NULL;
        }
}

bool bus_type_known(uint16_t type) {
        return bus_type_info(type) != NULL;
}

const char *bus_type_to_string(uint16_t type) {
        const struct bus_type_info *info = bus_type_info(type);
        return info ? info->name : NULL;
}

size_t bus_payload_max(uint16_t type) {
        const struct bus_type_info *info = bus_type_info(type);
        return info ? info->payload_max : 0;
}

/* Wire bytes of each kind's fixed part: the integer, or a length prefix. */
static const uint8_t bus_field_fixed[_BUS_FIELD_END] = {
        [BUS_FIELD_U8] = BUS_WIRE_FIXED_U8,
        [BUS_FIELD_U16] = BUS_WIRE_FIXED_U16,
        [BUS_FIELD_U32] = BUS_WIRE_FIXED_U32,
        [BUS_FIELD_I32] = BUS_WIRE_FIXED_I32,
        [BUS_FIELD_U64] = BUS_WIRE_FIXED_U64,
        [BUS_FIELD_STR] = BUS_WIRE_FIXED_STR,
        [BUS_FIELD_BLOB] = BUS_WIRE_FIXED_BLOB,
};

/* Content bytes of a string or blob member (0 for integers); -EINVAL if it
 * is out of bounds. */
static int bus_field_content_size(const struct bus_field *f, const uint8_t *payload, size_t *ret) {
        size_t n = 0;

        if (f->kind == BUS_FIELD_STR)
                /* Not NUL-terminated within its array means longer than max. */
                n = strnlen((const char *) payload + f->offset, (size_t) f->max + 1);
        else if (f->kind == BUS_FIELD_BLOB)
                memcpy(&n, payload + f->len_offset, sizeof n);
        if (n > f->max)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* Write `f` at out; bus_field_content_size() has checked it and the room.
 * I32 travels as the u32 of the same bits. */
static size_t bus_field_encode(const struct bus_field *f, const uint8_t *payload, uint8_t *out) {
        const uint8_t *member = payload + f->offset;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;
        size_t n;

        switch (f->kind) {
        case BUS_FIELD_U8:
                out[0] = member[0];
                break;
        case BUS_FIELD_U16:
                memcpy(&v16, member, sizeof v16);
                le16_store(out, v16);
                break;
        case BUS_FIELD_U32:
        case BUS_FIELD_I32:
                memcpy(&v32, member, sizeof v32);
                le32_store(out, v32);
                break;
        case BUS_FIELD_U64:
                memcpy(&v64, member, sizeof v64);
                le64_store(out, v64);
                break;
        case BUS_FIELD_STR:
                n = strnlen((const char *) member, f->max);
                le16_store(out, (uint16_t) n);
                memcpy(out + 2, member, n);
                return 2 + n;
        case BUS_FIELD_BLOB:
                memcpy(&n, payload + f->len_offset, sizeof n);
                le32_store(out, (uint32_t) n);
                memcpy(out + 4, member, n);
                return 4 + n;
        case _BUS_FIELD_END:
                return 0;
        }
        return bus_field_fixed[f->kind];
}

int bus_encode(const struct bus_hdr *hdr, const void *payload, uint8_t *buf, size_t size) {
        const struct bus_type_info *info = bus_type_info(hdr->type);
        const uint8_t *p = payload;
        size_t len = 0;

        if (!info)
                return -ENOMSG;
        if (hdr->flags != 0)
                return -EINVAL;

        /* Check every field before writing anything, so errors do not depend on buf. */
        for (const struct bus_field *f = info->fields; f->kind != _BUS_FIELD_END; f++) {
                size_t n;
                int r = bus_field_content_size(f, p, &n);
                if (r < 0)
                        return r;
                len += bus_field_fixed[f->kind] + n;
        }
        if (size < BUS_HEADER_SIZE || size - BUS_HEADER_SIZE < len)
                return -ENOBUFS;

        le16_store(buf, hdr->type);
        le16_store(buf + 2, 0);
        le32_store(buf + 4, (uint32_t) len);
        le32_store(buf + 8, hdr->request_id);
        le32_store(buf + 12, hdr->peer);

        uint8_t *out = buf + BUS_HEADER_SIZE;
        for (const struct bus_field *f = info->fields; f->kind != _BUS_FIELD_END; f++)
                out += bus_field_encode(f, p, out);

        return (int) (BUS_HEADER_SIZE + len);
}

int bus_decode_header(const uint8_t *untrusted_buf, size_t size, struct bus_hdr *hdr) {
        struct bus_hdr untrusted_hdr;

        if (size < BUS_HEADER_SIZE)
                return -EBADMSG;
        untrusted_hdr = (struct bus_hdr) {
                .type = le16_load(untrusted_buf),
                .flags = le16_load(untrusted_buf + 2),
                .len = le32_load(untrusted_buf + 4),
                .request_id = le32_load(untrusted_buf + 8),
                .peer = le32_load(untrusted_buf + 12),
        };
        if (untrusted_hdr.flags != 0 || untrusted_hdr.len != size - BUS_HEADER_SIZE)
                return -EBADMSG;
        *hdr = untrusted_hdr;
        return 0;
}

/*
 * Decode one field from [*untrusted_pos, end) into the payload struct (already
 * zeroed).  Advances *untrusted_pos; -EBADMSG if the field does not fit or
 * breaks its bound.
 */
static int bus_field_decode(const struct bus_field *f, const uint8_t **untrusted_pos,
                            const uint8_t *end, uint8_t *payload) {
        const uint8_t *untrusted_p = *untrusted_pos;
        size_t avail = (size_t) (end - untrusted_p), fixed, n = 0;
        uint8_t *member = payload + f->offset;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;

        if (f->kind >= _BUS_FIELD_END)
                return -EBADMSG;
        fixed = bus_field_fixed[f->kind];
        if (avail < fixed)
                return -EBADMSG;

        switch (f->kind) {
        case BUS_FIELD_U8:
                member[0] = untrusted_p[0];
                break;
        case BUS_FIELD_U16:
                v16 = le16_load(untrusted_p);
                memcpy(member, &v16, sizeof v16);
                break;
        case BUS_FIELD_U32:
        case BUS_FIELD_I32:
                v32 = le32_load(untrusted_p);
                memcpy(member, &v32, sizeof v32);
                break;
        case BUS_FIELD_U64:
                v64 = le64_load(untrusted_p);
                memcpy(member, &v64, sizeof v64);
                break;
        case BUS_FIELD_STR:
                n = le16_load(untrusted_p);
                if (n > f->max || n > avail - fixed)
                        return -EBADMSG;
                /* A NUL inside would make the C string shorter than what was sent. */
                if (memchr(untrusted_p + fixed, 0, n))
                        return -EBADMSG;
                memcpy(member, untrusted_p + fixed, n);     /* the NUL is already there */
                break;
        case BUS_FIELD_BLOB:
                n = le32_load(untrusted_p);
                if (n > f->max || n > avail - fixed)
                        return -EBADMSG;
                memcpy(member, untrusted_p + fixed, n);
                memcpy(payload + f->len_offset, &n, sizeof n);
                break;
        case _BUS_FIELD_END:
                return -EBADMSG;
        }

        *untrusted_pos = untrusted_p + fixed + n;
        return 0;
}

int bus_decode(const uint8_t *untrusted_buf, size_t size, struct bus_message *msg) {
        const struct bus_type_info *info;
        struct bus_hdr hdr;
        int r;

        r = bus_decode_header(untrusted_buf, size, &hdr);
        if (r < 0)
                return r;

        info = bus_type_info(hdr.type);
        if (!info) {
                msg->hdr = hdr;
                return -ENOMSG;
        }
        if (hdr.len < info->payload_min || hdr.len > info->payload_max)
                return -EBADMSG;

        /* Zero the whole struct of this type (padding, string and blob tails
         * included), so nothing from an earlier message survives in it. */
        uint8_t *payload = (uint8_t *) &msg->u;
        memset(payload, 0, info->struct_size);

        const uint8_t *untrusted_p = untrusted_buf + BUS_HEADER_SIZE;
        const uint8_t *end = untrusted_p + hdr.len;
        for (const struct bus_field *f = info->fields; f->kind != _BUS_FIELD_END; f++) {
                r = bus_field_decode(f, &untrusted_p, end, payload);
                if (r < 0)
                        return r;
        }
        if (untrusted_p != end)
                return -EBADMSG;

        msg->hdr = hdr;
        return 0;
}
