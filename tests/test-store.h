/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by test-store.c and test-store-durability.c. */
#pragma once

#include <check.h>

/* A fresh directory under /tmp and the database path in it. */
void store_test_dir(char dir[static 64], char path[static 128]);
/* Remove the directory and the files in it. */
void store_test_cleanup(const char *dir);
/* Run SQL / read one value through a separate SQLite connection. */
void sql_exec(const char *path, const char *statements);
const char *sql_text(const char *path, const char *query);

TCase *store_durability_tcase(void);
