/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "value.h"

static bool type_is_string(char t) {
        return t == SD_BUS_TYPE_STRING || t == SD_BUS_TYPE_OBJECT_PATH || t == SD_BUS_TYPE_SIGNATURE;
}

static int read_basic(sd_bus_message *m, char type, struct value *v) {
        union {
                uint8_t y;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                int b;
                double d;
                const char *s;
        } in = {};
        int r = sd_bus_message_read_basic(m, type, &in);

        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        switch (type) {
        case SD_BUS_TYPE_BYTE:    v->u = in.y; break;
        case SD_BUS_TYPE_INT16:   v->i = in.n; break;
        case SD_BUS_TYPE_UINT16:  v->u = in.q; break;
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD: v->i = in.i; break;
        case SD_BUS_TYPE_UINT32:  v->u = in.u; break;
        case SD_BUS_TYPE_INT64:   v->i = in.x; break;
        case SD_BUS_TYPE_UINT64:  v->u = in.t; break;
        case SD_BUS_TYPE_BOOLEAN: v->b = in.b; break;
        case SD_BUS_TYPE_DOUBLE:  v->d = in.d; break;
        default:
                v->str = strdup(in.s);
                if (!v->str)
                        return -ENOMEM;
        }
        return 0;
}

static int read_items(sd_bus_message *m, struct value *v) {
        size_t allocated = 0;
        int r;

        for (;;) {
                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
                if (v->n_items == allocated) {
                        size_t n = allocated ? allocated * 2 : 8;
                        struct value *grown = reallocarray(v->items, n, sizeof(*grown));
                        if (!grown)
                                return -ENOMEM;
                        v->items = grown;
                        allocated = n;
                }
                v->items[v->n_items] = (struct value) {};
                r = value_read(m, &v->items[v->n_items]);
                v->n_items++;   /* counted even when half read: value_done frees it */
                if (r < 0)
                        return r;
        }
}

int value_read(sd_bus_message *m, struct value *ret) {
        const char *contents = NULL;
        char type;
        int r;

        *ret = (struct value) {};
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        ret->type = type == SD_BUS_TYPE_STRUCT ? 'r' : type == SD_BUS_TYPE_DICT_ENTRY ? 'e' : type;
        if (!contents)
                return read_basic(m, type, ret);

        ret->dict = type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN;
        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        r = read_items(m, ret);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

void value_done(struct value *v) {
        if (!v)
                return;
        if (type_is_string(v->type))
                free(v->str);
        for (size_t i = 0; i < v->n_items; i++)
                value_done(&v->items[i]);
        free(v->items);
        *v = (struct value) {};
}

const struct value *value_unwrap(const struct value *v) {
        while (v && v->type == SD_BUS_TYPE_VARIANT && v->n_items == 1)
                v = &v->items[0];
        return v;
}

const struct value *value_dict_get(const struct value *dict, const char *key) {
        dict = value_unwrap(dict);
        if (!dict || !dict->dict)
                return NULL;
        for (size_t i = 0; i < dict->n_items; i++) {
                const struct value *e = &dict->items[i];
                if (e->n_items == 2 && type_is_string(e->items[0].type) && strcmp(e->items[0].str, key) == 0)
                        return value_unwrap(&e->items[1]);
        }
        return NULL;
}

bool value_strv_contains(const struct value *v, const char *s) {
        v = value_unwrap(v);
        if (!v || v->type != SD_BUS_TYPE_ARRAY)
                return false;
        for (size_t i = 0; i < v->n_items; i++)
                if (type_is_string(v->items[i].type) && strcmp(v->items[i].str, s) == 0)
                        return true;
        return false;
}

static void text_write(FILE *f, const struct value *v) {
        v = value_unwrap(v);
        if (type_is_string(v->type)) {
                fputs(v->str, f);
                return;
        }
        switch (v->type) {
        case SD_BUS_TYPE_BOOLEAN:
                fputs(v->b ? "True" : "False", f);
                return;
        case SD_BUS_TYPE_INT16:
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_INT64:
        case SD_BUS_TYPE_UNIX_FD:
                fprintf(f, "%" PRId64, v->i);
                return;
        case SD_BUS_TYPE_BYTE:
        case SD_BUS_TYPE_UINT16:
        case SD_BUS_TYPE_UINT32:
        case SD_BUS_TYPE_UINT64:
                fprintf(f, "%" PRIu64, v->u);
                return;
        case SD_BUS_TYPE_DOUBLE:
                fprintf(f, "%g", v->d);
                return;
        case 'e':
                if (v->n_items == 2) {
                        text_write(f, &v->items[0]);
                        fputc('=', f);
                        text_write(f, &v->items[1]);
                }
                return;
        default:        /* arrays and structs */
                if (v->type == 'r')
                        fputc('(', f);
                for (size_t i = 0; i < v->n_items; i++) {
                        if (i > 0)
                                fputs(v->type == 'r' ? ", " : ",", f);
                        text_write(f, &v->items[i]);
                }
                if (v->type == 'r')
                        fputc(')', f);
        }
}

char *value_to_text(const struct value *v) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        text_write(f, v);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

void json_print_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        fputc('"', f);
}

void value_print_json(FILE *f, const struct value *v) {
        v = value_unwrap(v);
        if (type_is_string(v->type)) {
                json_print_string(f, v->str);
                return;
        }
        switch (v->type) {
        case SD_BUS_TYPE_BOOLEAN:
                fputs(v->b ? "true" : "false", f);
                return;
        case SD_BUS_TYPE_DOUBLE:
                fprintf(f, "%.17g", v->d);
                return;
        case SD_BUS_TYPE_ARRAY:
                if (v->dict && (v->n_items == 0 || type_is_string(v->items[0].items[0].type))) {
                        fputc('{', f);
                        for (size_t i = 0; i < v->n_items; i++) {
                                const struct value *e = &v->items[i];
                                if (i > 0)
                                        fputc(',', f);
                                json_print_string(f, e->items[0].str);
                                fputc(':', f);
                                value_print_json(f, &e->items[1]);
                        }
                        fputc('}', f);
                        return;
                }
                __attribute__((fallthrough));
        case 'r':
        case 'e':
                fputc('[', f);
                for (size_t i = 0; i < v->n_items; i++) {
                        if (i > 0)
                                fputc(',', f);
                        value_print_json(f, &v->items[i]);
                }
                fputc(']', f);
                return;
        default:        /* numbers print as text does */
                text_write(f, v);
        }
}
