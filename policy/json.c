/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

typedef struct JsonParser {
        const char *text;
        size_t size, pos;
} JsonParser;

static int parse_value(JsonParser *p, unsigned depth, JsonValue **ret);

void json_free(JsonValue *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                if (v->keys)
                        free(v->keys[i]);
                json_free(v->items[i]);
        }
        free(v->keys);
        free(v->items);
        free(v->string);
        free(v);
}

const JsonValue *json_object_get(const JsonValue *v, const char *key) {
        if (!v || v->type != JSON_OBJECT)
                return NULL;
        for (size_t i = 0; i < v->n_items; i++)
                if (strcmp(v->keys[i], key) == 0)
                        return v->items[i];
        return NULL;
}

static void skip_space(JsonParser *p) {
        while (p->pos < p->size && strchr(" \t\r\n", p->text[p->pos]) && p->text[p->pos] != '\0')
                p->pos++;
}

static bool consume(JsonParser *p, const char *word) {
        size_t n = strlen(word);
        if (p->size - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
                return false;
        p->pos += n;
        return true;
}

static int hex4(JsonParser *p, uint32_t *ret) {
        uint32_t v = 0;
        if (p->size - p->pos < 4)
                return -EINVAL;
        for (int i = 0; i < 4; i++) {
                char c = p->text[p->pos++];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

static size_t utf8_put(char *out, uint32_t cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xC0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xE0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

/* At the opening quote.  Escapes decoded; raw control characters and
 * \u0000 refused (the result is a C string). */
static int parse_string(JsonParser *p, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0;

        if (p->pos >= p->size || p->text[p->pos] != '"')
                return -EINVAL;
        p->pos++;
        /* The decoded form is never longer than the encoded one. */
        size_t end = p->pos;
        while (end < p->size && p->text[end] != '"') {
                if (p->text[end] == '\\')
                        end++;
                end++;
        }
        if (end >= p->size)
                return -EINVAL;
        if (end - p->pos > JSON_MAX_STRING)
                return -E2BIG;
        out = malloc(end - p->pos + 1);
        if (!out)
                return -ENOMEM;

        for (;;) {
                if (p->pos >= p->size)
                        return -EINVAL;
                unsigned char c = (unsigned char) p->text[p->pos++];
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EINVAL;
                if (c != '\\') {
                        out[n++] = (char) c;
                        continue;
                }
                if (p->pos >= p->size)
                        return -EINVAL;
                c = (unsigned char) p->text[p->pos++];
                switch (c) {
                case '"': case '\\': case '/': out[n++] = (char) c; break;
                case 'b': out[n++] = '\b'; break;
                case 'f': out[n++] = '\f'; break;
                case 'n': out[n++] = '\n'; break;
                case 'r': out[n++] = '\r'; break;
                case 't': out[n++] = '\t'; break;
                case 'u': {
                        uint32_t cp, low;
                        if (hex4(p, &cp) < 0 || cp == 0)
                                return -EINVAL;
                        if (cp >= 0xDC00 && cp <= 0xDFFF)
                                return -EINVAL;
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                if (!consume(p, "\\u") || hex4(p, &low) < 0 || low < 0xDC00 || low > 0xDFFF)
                                        return -EINVAL;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        }
                        n += utf8_put(out + n, cp);
                        break;
                }
                default:
                        return -EINVAL;
                }
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_number(JsonParser *p, double *ret) {
        size_t start = p->pos;
        char buf[64];

        if (p->pos < p->size && p->text[p->pos] == '-')
                p->pos++;
        if (p->pos >= p->size)
                return -EINVAL;
        if (p->text[p->pos] == '0')
                p->pos++;
        else if (p->text[p->pos] >= '1' && p->text[p->pos] <= '9')
                while (p->pos < p->size && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
                        p->pos++;
        else
                return -EINVAL;
        if (p->pos < p->size && p->text[p->pos] == '.') {
                p->pos++;
                if (p->pos >= p->size || p->text[p->pos] < '0' || p->text[p->pos] > '9')
                        return -EINVAL;
                while (p->pos < p->size && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
                        p->pos++;
        }
        if (p->pos < p->size && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
                p->pos++;
                if (p->pos < p->size && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
                        p->pos++;
                if (p->pos >= p->size || p->text[p->pos] < '0' || p->text[p->pos] > '9')
                        return -EINVAL;
                while (p->pos < p->size && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
                        p->pos++;
        }
        if (p->pos - start >= sizeof(buf))
                return -E2BIG;
        memcpy(buf, p->text + start, p->pos - start);
        buf[p->pos - start] = '\0';
        *ret = strtod(buf, NULL);
        return 0;
}

/* Arrays and objects: items separated by commas, no trailing comma. */
static int parse_container(JsonParser *p, unsigned depth, JsonValue *v) {
        bool object = v->type == JSON_OBJECT;
        char close = object ? '}' : ']';
        size_t allocated = 0;

        p->pos++;
        skip_space(p);
        if (p->pos < p->size && p->text[p->pos] == close) {
                p->pos++;
                return 0;
        }
        for (;;) {
                _cleanup_free_ char *key = NULL;
                JsonValue *item = NULL;
                int r;

                skip_space(p);
                if (object) {
                        r = parse_string(p, &key);
                        if (r < 0)
                                return r;
                        if (json_object_get(v, key))
                                return -EINVAL; /* duplicate key: ambiguous */
                        skip_space(p);
                        if (!consume(p, ":"))
                                return -EINVAL;
                }
                r = parse_value(p, depth + 1, &item);
                if (r < 0)
                        return r;
                if (v->n_items >= JSON_MAX_ITEMS) {
                        json_free(item);
                        return -E2BIG;
                }
                if (v->n_items == allocated) {
                        size_t want = allocated ? allocated * 2 : 8;
                        JsonValue **items = realloc(v->items, want * sizeof(*items));
                        if (items)
                                v->items = items;
                        char **keys = object ? realloc(v->keys, want * sizeof(*keys)) : NULL;
                        if (keys)
                                v->keys = keys;
                        if (!items || (object && !keys)) {
                                json_free(item);
                                return -ENOMEM;
                        }
                        allocated = want;
                }
                v->items[v->n_items] = item;
                if (object)
                        v->keys[v->n_items] = TAKE_PTR(key);
                v->n_items++;

                skip_space(p);
                if (p->pos >= p->size)
                        return -EINVAL;
                char c = p->text[p->pos++];
                if (c == close)
                        return 0;
                if (c != ',')
                        return -EINVAL;
        }
}

static int parse_value(JsonParser *p, unsigned depth, JsonValue **ret) {
        _cleanup_free_ JsonValue *v = NULL;
        int r = 0;

        if (depth > JSON_MAX_DEPTH)
                return -E2BIG;
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        skip_space(p);
        if (p->pos >= p->size)
                return -EINVAL;

        switch (p->text[p->pos]) {
        case '{':
        case '[':
                v->type = p->text[p->pos] == '{' ? JSON_OBJECT : JSON_ARRAY;
                r = parse_container(p, depth, v);
                if (r < 0) {
                        json_free(TAKE_PTR(v));
                        return r;
                }
                break;
        case '"':
                v->type = JSON_STRING;
                r = parse_string(p, &v->string);
                break;
        case 't':
                v->type = JSON_BOOLEAN;
                v->boolean = true;
                r = consume(p, "true") ? 0 : -EINVAL;
                break;
        case 'f':
                v->type = JSON_BOOLEAN;
                r = consume(p, "false") ? 0 : -EINVAL;
                break;
        case 'n':
                v->type = JSON_NULL;
                r = consume(p, "null") ? 0 : -EINVAL;
                break;
        default:
                v->type = JSON_NUMBER;
                r = parse_number(p, &v->number);
                break;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

int json_parse(const char *text, size_t size, JsonValue **ret, size_t *ret_offset) {
        JsonParser p = { .text = text, .size = size };
        JsonValue *v = NULL;
        int r;

        if (size > JSON_MAX_INPUT)
                return -E2BIG;
        r = parse_value(&p, 0, &v);
        if (r >= 0) {
                skip_space(&p);
                if (p.pos != size) {
                        json_free(v);
                        r = -EINVAL;
                }
        }
        if (ret_offset)
                *ret_offset = p.pos;
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
