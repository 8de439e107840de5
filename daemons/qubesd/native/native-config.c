/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A domain's config file: key=value lines, from qubesd to the domain monitor. */
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "native.h"

enum field_type { FIELD_STR, FIELD_U32, FIELD_BOOL, FIELD_INT, FIELD_UID };

static const struct field {
        const char *key;
        enum field_type type;
        size_t offset;
        bool required;
} config_fields[] = {
#define F(k, t, req) { #k, t, offsetof(struct native_config, k), req }
        F(name, FIELD_STR, true),
        F(domid, FIELD_U32, true),
        F(uuid, FIELD_STR, false),
        F(klass, FIELD_INT, false),
        F(template_root, FIELD_STR, false),
        F(own_root, FIELD_STR, false),
        F(private_dir, FIELD_STR, true),
        F(volatile_private, FIELD_BOOL, false),
        F(memory_mb, FIELD_U32, false),
        F(maxmem_mb, FIELD_U32, false),
        F(vcpus, FIELD_U32, false),
        F(debug, FIELD_BOOL, false),
        F(default_user, FIELD_STR, false),
        F(vchan_dir, FIELD_STR, true),
        F(agents_dir, FIELD_STR, true),
        F(agents, FIELD_STR, false),
        F(busd_uid, FIELD_UID, true),
#undef F
};

void native_config_done(struct native_config *c) {
        for (size_t i = 0; i < ELEMENTSOF(config_fields); i++)
                if (config_fields[i].type == FIELD_STR) {
                        char **s = (char **) ((uint8_t *) c + config_fields[i].offset);
                        free(*s);
                        *s = NULL;
                }
}

static int set_field(struct native_config *c, const struct field *f, const char *value) {
        void *p = (uint8_t *) c + f->offset;
        uint32_t u;
        int r;

        switch (f->type) {
        case FIELD_STR: {
                char *copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
                free(*(char **) p);
                *(char **) p = copy;
                return 0;
        }
        case FIELD_BOOL:
                if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
                        return -EBADMSG;
                *(bool *) p = value[0] == '1';
                return 0;
        default:
                r = parse_uint32(value, &u);
                if (r < 0)
                        return -EBADMSG;
                if (f->type == FIELD_U32)
                        *(uint32_t *) p = u;
                else if (f->type == FIELD_UID)
                        *(uid_t *) p = (uid_t) u;
                else if (u > INT32_MAX)
                        return -EBADMSG;
                else
                        *(int *) p = (int) u;
                return 0;
        }
}

int native_config_read(const char *path, struct native_config *ret) {
        _cleanup_free_ char *line = NULL;
        struct native_config c = {};
        bool seen[ELEMENTSOF(config_fields)] = {};
        size_t size = 0;
        ssize_t n;
        FILE *f;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        while ((n = getline(&line, &size, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                char *eq = strchr(line, '=');
                if (!eq) {
                        r = -EBADMSG;
                        break;
                }
                *eq = '\0';
                size_t i;
                for (i = 0; i < ELEMENTSOF(config_fields); i++)
                        if (strcmp(config_fields[i].key, line) == 0)
                                break;
                if (i == ELEMENTSOF(config_fields))
                        continue;       /* a newer qubesd's key: not ours to refuse */
                r = set_field(&c, &config_fields[i], eq + 1);
                if (r < 0)
                        break;
                seen[i] = true;
        }
        fclose(f);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(config_fields); i++)
                if (config_fields[i].required && !seen[i])
                        r = -EBADMSG;
        if (r == 0 && (!native_name_valid(c.name) || c.domid == 0 || c.domid > NATIVE_DOMID_MAX))
                r = -EBADMSG;
        if (r < 0) {
                native_config_done(&c);
                return r;
        }
        if (c.own_root && !*c.own_root) {
                free(c.own_root);
                c.own_root = NULL;
        }
        *ret = c;
        return 0;
}

int native_config_write(const char *path, const struct native_config *c) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        FILE *f;
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(config_fields); i++)
                if (config_fields[i].type == FIELD_STR) {
                        const char *s = *(char **) ((const uint8_t *) c + config_fields[i].offset);
                        if (s && strchr(s, '\n'))
                                return -EINVAL;
                }
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f)
                return -errno;
        fd = -1;
        for (size_t i = 0; i < ELEMENTSOF(config_fields); i++) {
                const struct field *fl = &config_fields[i];
                const void *p = (const uint8_t *) c + fl->offset;

                switch (fl->type) {
                case FIELD_STR:
                        if (*(char *const *) p)
                                fprintf(f, "%s=%s\n", fl->key, *(char *const *) p);
                        break;
                case FIELD_BOOL:
                        fprintf(f, "%s=%d\n", fl->key, *(const bool *) p ? 1 : 0);
                        break;
                case FIELD_U32:
                        fprintf(f, "%s=%" PRIu32 "\n", fl->key, *(const uint32_t *) p);
                        break;
                case FIELD_UID:
                        fprintf(f, "%s=%u\n", fl->key, (unsigned) *(const uid_t *) p);
                        break;
                case FIELD_INT:
                        fprintf(f, "%s=%d\n", fl->key, *(const int *) p);
                        break;
                }
        }
        if (fclose(f) != 0)
                r = -errno;
        /* Unlinked, not renamed over: see write_small_file() in monitor.c.
         * The config is only read by the monitor this start creates. */
        if (r == 0 && unlink(path) < 0 && errno != ENOENT)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
