/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Moving a tree into a domain's uid range: every entry below and including
 * a directory gets, without following symlinks and without leaving the
 * directory's file system, the owner and group
 *   id - old_base + new_base   for id in [old_base, old_base + RANGE),
 *   id                         for id already in [new_base, new_base + RANGE),
 *   new_base + 65534 (nobody)  for every other id,
 * RANGE = HAL_NATIVE_UID_RANGE.  The setuid/setgid bits chown clears are put
 * back.  Running it again (after an interruption) finishes the job.  Run by
 * the file worker (WORKER_SHIFT_IDS), never in qubesd's event loop.
 */
#pragma once

#include <stdint.h>

#define UID_SHIFT_NOBODY UINT32_C(65534)

/* The id an entry owned by id gets. */
uint32_t uid_shift_id(uint32_t id, uint32_t old_base, uint32_t new_base);

/* 0, or the first -errno met (the walk goes on past errors); -EINVAL when
 * the two ranges overlap without being the same, -ENOTDIR when path is not a
 * directory (a symlink to one included). */
int uid_shift_tree(const char *path, uint32_t old_base, uint32_t new_base);
