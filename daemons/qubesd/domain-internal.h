/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For the model's own files (domain-set.c, store-load.c): a bare domain. */
#pragma once

#include "domain.h"

/* A domain with the given name and class, no qid (0), no uuid, no values;
 * NULL on ENOMEM.  The name is not checked: callers validate it. */
struct domain *domain_alloc(const char *name, enum domain_class klass);

/* A fresh random (version 4) UUID in canonical form; 0 or -errno. */
int uuid_generate(char ret[static 37]);
