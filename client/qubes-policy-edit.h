/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubes-policy edit and replace: install a policy file only when the whole
 * policy, with the new text in place of the file, loads without an error
 * (like visudo), and atomically (temporary file, fsync, rename, fsync of
 * the directory).
 */
#pragma once

#include <stddef.h>

/* dirs (n_dirs may be 0: the directory of file) is the policy to lint.
 * Both return an exit status: 0 installed (or unchanged), 1 errors
 * (printed as file:line: message) or aborted, 64 usage error. */
int policy_cli_replace(const char *const *dirs, size_t n_dirs, const char *file);
int policy_cli_edit(const char *const *dirs, size_t n_dirs, const char *file);
