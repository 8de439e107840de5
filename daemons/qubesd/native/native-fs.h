/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host-side files of a native domain (the monitor's job, as host root). */
#pragma once

#include "native.h"

/* Remove what is inside `path` / `path` itself, never following symlinks. */
int native_remove_contents(const char *path);
int native_remove_tree(const char *path);

/* The private volume exists; a fresh one (owned by host root) and its home/
 * are given to the domain's root uid. */
int native_prepare_private(const struct native_config *c);
/* The vchan dir exists, empty, owned by busd and the domain's root group, 0770. */
int native_prepare_vchan_dir(const struct native_config *c);
