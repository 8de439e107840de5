/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Column output.  A table is filled row by row, one cell at a time, then
 * printed either aligned for people (a header row, columns padded to the
 * widest cell, empty cells shown as "-") or raw for scripts (no header, one
 * tab between cells, nothing padded).  Text from qubesd is peer data: control
 * characters are printed as \xHH so no value can drive the terminal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct table;

/* A table with n_columns columns; headers (n_columns strings) or NULL for none. */
struct table *table_new(size_t n_columns, const char *const *headers);
void table_free(struct table *t);
static inline void table_freep(struct table **t) { table_free(*t); }
#define _cleanup_table_ __attribute__((cleanup(table_freep)))

/* Append a cell (copied) to the current row; a row ends after n_columns cells.
 * NULL is the same as "".  0 or -ENOMEM. */
int table_add(struct table *t, const char *text);
size_t table_rows(const struct table *t);
/* What an empty cell shows in aligned output (default "-"; static string). */
void table_set_empty_text(struct table *t, const char *text);

/* Print every row; raw as described above.  0 or -EIO when stdout failed. */
int table_print(const struct table *t, FILE *f, bool raw);

/* Peer text made safe for a terminal (control characters as \xHH). */
void text_print_escaped(FILE *f, const char *s);
/* Columns text_print_escaped() takes for s (UTF-8 characters, not bytes). */
size_t text_escaped_width(const char *s);
