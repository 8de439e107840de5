/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The eight built-in labels, with Qubes' indices and colors. */
#include <string.h>

#include "property.h"
#include "util.h"

const struct label label_table[] = {
        { "red",    1, 0xcc0000 },
        { "orange", 2, 0xf57900 },
        { "yellow", 3, 0xedd400 },
        { "green",  4, 0x73d216 },
        { "gray",   5, 0x555555 },
        { "blue",   6, 0x3465a4 },
        { "purple", 7, 0x75507b },
        { "black",  8, 0x000000 },
};
const size_t label_table_size = ELEMENTSOF(label_table);

const struct label *label_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < label_table_size; i++)
                if (strcmp(label_table[i].name, name) == 0)
                        return &label_table[i];
        return NULL;
}
