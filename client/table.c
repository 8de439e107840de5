/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "util.h"

struct table {
        size_t n_columns;
        char **cells;           /* row-major; n_cells of them */
        size_t n_cells, allocated;
        char **headers;         /* NULL when the table has none */
        const char *empty_text;
};

static bool is_control(unsigned char c) {
        return c < 0x20 || c == 0x7f;
}

void text_print_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) (s ?: ""); *p; p++)
                if (is_control(*p))
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
}

size_t text_escaped_width(const char *s) {
        size_t width = 0;

        for (const unsigned char *p = (const unsigned char *) (s ?: ""); *p; p++)
                if (is_control(*p))
                        width += 4;
                else if ((*p & 0xc0) != 0x80)   /* not a UTF-8 continuation byte */
                        width++;
        return width;
}

struct table *table_new(size_t n_columns, const char *const *headers) {
        struct table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->empty_text = "-";
        if (headers) {
                t->headers = calloc(n_columns, sizeof(char *));
                if (!t->headers)
                        goto fail;
                for (size_t i = 0; i < n_columns; i++)
                        if (!(t->headers[i] = strdup(headers[i])))
                                goto fail;
        }
        return t;
fail:
        table_free(t);
        return NULL;
}

void table_free(struct table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        if (t->headers)
                for (size_t i = 0; i < t->n_columns; i++)
                        free(t->headers[i]);
        free(t->headers);
        free(t);
}

int table_add(struct table *t, const char *text) {
        if (t->n_cells == t->allocated) {
                size_t n = t->allocated ? t->allocated * 2 : 64;
                char **grown = reallocarray(t->cells, n, sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                t->cells = grown;
                t->allocated = n;
        }
        t->cells[t->n_cells] = strdup(text ?: "");
        if (!t->cells[t->n_cells])
                return -ENOMEM;
        t->n_cells++;
        return 0;
}

size_t table_rows(const struct table *t) {
        return t->n_columns ? (t->n_cells + t->n_columns - 1) / t->n_columns : 0;
}

void table_set_empty_text(struct table *t, const char *text) {
        t->empty_text = text;
}

static const char *shown(const struct table *t, const char *cell, bool raw) {
        return !raw && !*cell ? t->empty_text : cell;
}

static void print_row(const struct table *t, FILE *f, char *const *row, size_t n, const size_t *widths, bool raw) {
        for (size_t c = 0; c < n; c++) {
                const char *text = shown(t, row[c], raw);

                if (c > 0)
                        fputs(raw ? "\t" : "  ", f);
                text_print_escaped(f, text);
                /* No trailing blanks after the last column. */
                if (!raw && c + 1 < n)
                        for (size_t w = text_escaped_width(text); w < widths[c]; w++)
                                fputc(' ', f);
        }
        fputc('\n', f);
}

int table_print(const struct table *t, FILE *f, bool raw) {
        _cleanup_free_ size_t *widths = calloc(t->n_columns ?: 1, sizeof(size_t));

        if (!widths)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = text_escaped_width(shown(t, t->cells[i], raw));
                if (w > widths[i % t->n_columns])
                        widths[i % t->n_columns] = w;
        }
        if (t->headers && !raw) {
                for (size_t c = 0; c < t->n_columns; c++)
                        if (strlen(t->headers[c]) > widths[c])
                                widths[c] = strlen(t->headers[c]);
                print_row(t, f, t->headers, t->n_columns, widths, raw);
        }
        for (size_t i = 0; i < t->n_cells; i += t->n_columns) {
                size_t n = t->n_cells - i < t->n_columns ? t->n_cells - i : t->n_columns;
                print_row(t, f, t->cells + i, n, widths, raw);
        }
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}
