/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy files and directives (reference §4.1, §4.8): which files count,
 * their order, !include, !include-dir, !include-service, !compat-4.0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy-internal.h"
#include "util.h"

#define POLICY_MAX_FILE_SIZE (16 * 1024 * 1024)
/* The reference has no limit; a cycle would recurse forever.  We stop. */
#define POLICY_MAX_INCLUDE_DEPTH 32
#define POLICY_MAX_WORDS 64
#define LEGACY_POLICY_DIR "/etc/qubes-rpc/policy"

typedef struct Loader {
        Policy *p;
        const char *include_base;
        const char *legacy_dir;
        unsigned depth;
        const char *stack[POLICY_MAX_INCLUDE_DEPTH + 1];  /* files being parsed, for cycles */
        bool in_compat;
        char *replace_path;             /* PolicyLoadOptions.replace_* */
        const char *replace_text;
        size_t replace_size;
} Loader;

/* Service-syntax context for !include-service and legacy files. */
typedef struct ServiceContext {
        const char *service, *argument;
} ServiceContext;

static int parse_file(Loader *l, const char *path, const ServiceContext *svc, const char *from_file,
                      unsigned from_line);

/* Keep the file name alive for as long as the rules pointing to it. */
static const char *intern_file(Policy *p, const char *path) {
        for (size_t i = p->n_files; i > 0; i--)
                if (strcmp(p->files[i - 1], path) == 0)
                        return p->files[i - 1];
        char **files = realloc(p->files, (p->n_files + 1) * sizeof(char *));
        if (!files)
                return NULL;
        p->files = files;
        p->files[p->n_files] = strdup(path);
        return p->files[p->n_files] ? p->files[p->n_files++] : NULL;
}

static int read_text(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > POLICY_MAX_FILE_SIZE)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + size, (size_t) st.st_size + 1 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > (size_t) st.st_size)
                        return -EFBIG; /* grew while we read it */
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Split a line on whitespace runs, in place.  Returns the word count, which
 * may exceed max (the extra words are not stored). */
static size_t split_words(char *line, char **words, size_t max) {
        size_t n = 0;
        char *c = line;

        for (;;) {
                while (*c && is_space(*c))
                        c++;
                if (!*c)
                        return n;
                if (n < max)
                        words[n] = c;
                n++;
                while (*c && !is_space(*c))
                        c++;
                if (*c)
                        *c++ = '\0';
        }
}

static char *resolve_path(const Loader *l, const char *path) {
        if (path[0] == '/')
                return strdup(path);
        return path_join(l->include_base, path);
}

static bool filename_ok(const char *name, const char *charset_extra) {
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr(charset_extra, *c)))
                        return false;
        return true;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

typedef struct NameList {
        char **names;
        size_t n;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        l->names = NULL;
        l->n = 0;
}

static int name_list_add(NameList *l, const char *name) {
        char **names = realloc(l->names, (l->n + 1) * sizeof(char *));
        if (!names)
                return -ENOMEM;
        l->names = names;
        l->names[l->n] = strdup(name);
        if (!l->names[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

/* The eligible *.policy basenames of dir (regular files, symlinks
 * followed, not hidden).  -ENOTDIR/-ENOENT when dir is not a directory. */
static int list_policy_files(const char *dir, NameList *ret) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                struct stat st;
                if (de->d_name[0] == '.' || n < 7 || strcmp(de->d_name + n - 7, ".policy") != 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = name_list_add(ret, de->d_name);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r >= 0 && ret->n > 1)
                qsort(ret->names, ret->n, sizeof(char *), compare_strings);
        return r;
}

bool policy_filename_valid(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 7 && strcmp(name + n - 7, ".policy") == 0 && filename_ok(name, "_.-");
}

/* The file being replaced counts in its directory even before it exists. */
static int add_replaced_name(const Loader *l, const char *dir, NameList *names) {
        _cleanup_free_ char *path = NULL;

        if (!l->replace_path)
                return 0;
        path = path_join(dir, strrchr(l->replace_path, '/') + 1);
        if (!path)
                return -ENOMEM;
        if (strcmp(path, l->replace_path) != 0)
                return 0;
        for (size_t i = 0; i < names->n; i++)
                if (strcmp(names->names[i], strrchr(l->replace_path, '/') + 1) == 0)
                        return 0;
        int r = name_list_add(names, strrchr(l->replace_path, '/') + 1);
        if (r >= 0)
                qsort(names->names, names->n, sizeof(char *), compare_strings);
        return r;
}

/* The dirs' files merged by basename (first dir wins), in basename order.
 * An invalid name anywhere fails the whole load. */
static int load_dirs(Loader *l, const char *const *dirs, size_t n_dirs, const char *from_file, unsigned from_line) {
        _cleanup_free_ char **merged = NULL;
        _cleanup_free_ const char **merged_dir = NULL;
        NameList lists[8] = {};
        size_t n_merged = 0, total = 0;
        bool bad_name = false;
        int r = 0;

        if (n_dirs > ELEMENTSOF(lists))
                return -E2BIG;
        for (size_t i = 0; i < n_dirs; i++) {
                r = list_policy_files(dirs[i], &lists[i]);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0 && from_file) {
                        r = policy_add_error(l->p, from_file, from_line, "not a directory: %s", dirs[i]);
                        goto finish;
                }
                r = from_file ? 0 : add_replaced_name(l, dirs[i], &lists[i]);
                if (r < 0)
                        goto finish; /* a missing top-level directory holds no rules, otherwise */
                total += lists[i].n;
        }
        merged = calloc(total + 1, sizeof(char *));
        merged_dir = calloc(total + 1, sizeof(char *));
        if (!merged || !merged_dir) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_dirs; i++)
                for (size_t j = 0; j < lists[i].n; j++) {
                        bool dup = false;
                        for (size_t k = 0; k < n_merged && !dup; k++)
                                dup = strcmp(merged[k], lists[i].names[j]) == 0;
                        if (dup)
                                continue;
                        if (!filename_ok(lists[i].names[j], "_.-")) {
                                _cleanup_free_ char *path = path_join(dirs[i], lists[i].names[j]);
                                r = policy_add_error(l->p, NULL, 0, "invalid filename: %s",
                                                     path ? path : lists[i].names[j]);
                                if (r < 0)
                                        goto finish;
                                bad_name = true;
                        }
                        merged_dir[n_merged] = dirs[i];
                        merged[n_merged++] = lists[i].names[j];
                }
        if (bad_name)
                goto finish; /* all or nothing */

        /* Sort by basename, carrying the directory along (insertion sort:
         * the lists are already sorted, so this is a merge in practice). */
        for (size_t i = 1; i < n_merged; i++)
                for (size_t j = i; j > 0 && strcmp(merged[j - 1], merged[j]) > 0; j--) {
                        char *t = merged[j];
                        const char *td = merged_dir[j];
                        merged[j] = merged[j - 1];
                        merged_dir[j] = merged_dir[j - 1];
                        merged[j - 1] = t;
                        merged_dir[j - 1] = td;
                }
        for (size_t i = 0; i < n_merged; i++) {
                _cleanup_free_ char *path = path_join(merged_dir[i], merged[i]);
                if (!path) {
                        r = -ENOMEM;
                        goto finish;
                }
                /* Top-level files include relative to their own directory. */
                const char *saved_base = l->include_base;
                if (!from_file)
                        l->include_base = merged_dir[i];
                r = parse_file(l, path, NULL, from_file, from_line);
                l->include_base = saved_base;
                if (r < 0)
                        goto finish;
        }
finish:
        for (size_t i = 0; i < n_dirs; i++)
                name_list_done(&lists[i]);
        return r;
}

/* !compat-4.0: the legacy per-service files, as !include-service of each,
 * sorted by service then argument, the generic file last; after each
 * argument-specific file two implicit denies. */
static int load_compat(Loader *l, const char *from_file, unsigned from_line) {
        NameList names = {};
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (l->in_compat)
                return policy_add_error(l->p, from_file, from_line, "!compat-4.0 is not recursive");
        d = opendir(l->legacy_dir);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (de->d_name[0] == '.' || (n >= 8 && strcmp(de->d_name + n - 8, ".rpmsave") == 0) ||
                    (n >= 7 && strcmp(de->d_name + n - 7, ".rpmnew") == 0) ||
                    (n >= 4 && strcmp(de->d_name + n - 4, ".swp") == 0))
                        continue;
                bool ok = true;
                for (const char *c = de->d_name; *c && ok; c++)
                        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                             strchr("._-+", *c);
                if (ok && (r = name_list_add(&names, de->d_name)) < 0)
                        break;
        }
        closedir(d);
        /* Plain string order puts "svc" before "svc+arg"; the generic file
         * must come after its argument-specific ones. */
        for (size_t i = 1; r >= 0 && i < names.n; i++)
                for (size_t j = i; j > 0; j--) {
                        const char *a = names.names[j - 1], *b = names.names[j];
                        size_t sa = strcspn(a, "+"), sb = strcspn(b, "+");
                        int c = strncmp(a, b, sa < sb ? sa : sb);
                        if (c == 0)
                                c = sa != sb ? (sa < sb ? -1 : 1) : (!a[sa] ? 1 : !b[sb] ? -1 : strcmp(a + sa, b + sb));
                        if (c <= 0)
                                break;
                        char *t = names.names[j];
                        names.names[j] = names.names[j - 1];
                        names.names[j - 1] = t;
                }

        l->in_compat = true;
        for (size_t i = 0; r >= 0 && i < names.n; i++) {
                _cleanup_free_ char *path = path_join(l->legacy_dir, names.names[i]), *service = NULL;
                char *plus;
                if (!path || !(service = strdup(names.names[i]))) {
                        r = -ENOMEM;
                        break;
                }
                plus = strchr(service, '+');
                _cleanup_free_ char *argument = plus ? strdup(plus) : strdup("*");
                if (!argument) {
                        r = -ENOMEM;
                        break;
                }
                if (plus)
                        *plus = '\0';
                ServiceContext svc = { service, argument };
                r = parse_file(l, path, &svc, NULL, 0);
                if (r < 0 || !plus)
                        continue;
                const char *file = intern_file(l->p, path);
                char deny[] = "deny";
                char *words[] = { deny };
                if (!file)
                        r = -ENOMEM;
                else if ((r = policy_add_rule(l->p, file, 0, service, argument, "@anyvm", "@anyvm", words, 1)) >= 0)
                        r = policy_add_rule(l->p, file, 0, service, argument, "@anyvm", "@adminvm", words, 1);
        }
        l->in_compat = false;
        name_list_done(&names);
        return r;
}

static int handle_directive(Loader *l, const char *file, unsigned line, char **words, size_t n,
                            const ServiceContext *svc) {
        _cleanup_free_ char *path = NULL;

        if (svc) {
                /* Service syntax knows only !include, of another service file. */
                if (strcmp(words[0], "!include") != 0)
                        return policy_add_error(l->p, file, line, "invalid directive");
        }
        if (strcmp(words[0], "!include") == 0 || strcmp(words[0], "!include-dir") == 0) {
                bool dir = words[0][8] == '-';
                struct stat st;
                if (n != 2)
                        return policy_add_error(l->p, file, line, "invalid number of params");
                path = resolve_path(l, words[1]);
                if (!path)
                        return -ENOMEM;
                if (dir) {
                        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                                return policy_add_error(l->p, file, line, "not a directory: %s", path);
                        const char *dirs[] = { path };
                        return load_dirs(l, dirs, 1, file, line);
                }
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        return policy_add_error(l->p, file, line, "not a file: %s", path);
                return parse_file(l, path, svc, file, line);
        }
        if (strcmp(words[0], "!include-service") == 0) {
                _cleanup_free_ char *service = NULL, *argument = NULL;
                size_t errors_before = l->p->n_errors;
                struct stat st;
                if (n != 4)
                        return policy_add_error(l->p, file, line, "invalid number of params");
                /* false without a recorded error: out of memory (see policy_add_rule()) */
                if (!policy_parse_service_argument(l->p, file, line, words[1], words[2], &service, &argument))
                        return l->p->n_errors > errors_before ? 0 : -ENOMEM;
                path = resolve_path(l, words[3]);
                if (!path)
                        return -ENOMEM;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        return policy_add_error(l->p, file, line, "not a file: %s", path);
                ServiceContext sub = { words[1], words[2] };
                return parse_file(l, path, &sub, file, line);
        }
        if (strcmp(words[0], "!compat-4.0") == 0) {
                if (n != 1)
                        return policy_add_error(l->p, file, line, "invalid number of params");
                return load_compat(l, file, line);
        }
        return policy_add_error(l->p, file, line, "invalid directive");
}

/* Service syntax: $include: → !include, $ → @, "," → " " (reference §4.8). */
static char *service_line_rewrite(const char *line) {
        const char *s = line;
        char *out, *o;

        while (is_space(*s))
                s++;
        out = malloc(strlen(line) + 16);
        if (!out)
                return NULL;
        o = out;
        if (strncmp(s, "$include:", 9) == 0) {
                o += sprintf(o, "!include ");
                s += 9;
        }
        for (; *s; s++)
                *o++ = *s == '$' ? '@' : *s == ',' ? ' ' : *s;
        *o = '\0';
        return out;
}

static int parse_line(Loader *l, const char *file, unsigned line, char *text, const ServiceContext *svc) {
        char *words[POLICY_MAX_WORDS];
        size_t n;

        n = split_words(text, words, ELEMENTSOF(words));
        if (n == 0 || words[0][0] == '#')
                return 0;
        if (n > ELEMENTSOF(words))
                return policy_add_error(l->p, file, line, "wrong number of fields");
        if (words[0][0] == '!')
                return handle_directive(l, file, line, words, n, svc);
        if (svc) {
                if (n < 3)
                        return policy_add_error(l->p, file, line, "wrong number of fields");
                return policy_add_rule(l->p, file, line, svc->service, svc->argument, words[0], words[1], words + 2,
                                       n - 2);
        }
        if (n < 5)
                return policy_add_error(l->p, file, line, "wrong number of fields");
        return policy_add_rule(l->p, file, line, words[0], words[1], words[2], words[3], words + 4, n - 4);
}

static int parse_text(Loader *l, const char *path, const char *text, size_t size, const ServiceContext *svc) {
        const char *file = intern_file(l->p, path);
        const char *end = text + size;
        unsigned line = 0;

        if (!file)
                return -ENOMEM;
        for (const char *c = text; c < end;) {
                const char *nl = memchr(c, '\n', (size_t) (end - c));
                size_t len = nl ? (size_t) (nl - c) : (size_t) (end - c);
                _cleanup_free_ char *copy = NULL;
                int r;

                line++;
                if (memchr(c, '\0', len)) {
                        r = policy_add_error(l->p, file, line, "invalid NUL byte");
                } else {
                        copy = strndup(c, len);
                        if (copy && svc) {
                                _cleanup_free_ char *raw = TAKE_PTR(copy);
                                copy = service_line_rewrite(raw);
                        }
                        if (!copy)
                                return -ENOMEM;
                        r = parse_line(l, file, line, copy, svc);
                }
                if (r < 0)
                        return r;
                c += len + 1;
        }
        return 0;
}

static int parse_file(Loader *l, const char *path, const ServiceContext *svc, const char *from_file,
                      unsigned from_line) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        for (unsigned i = 0; i < l->depth; i++)
                if (strcmp(l->stack[i], path) == 0)
                        return policy_add_error(l->p, from_file, from_line, "circular include: %s", path);
        if (l->depth >= POLICY_MAX_INCLUDE_DEPTH)
                return policy_add_error(l->p, from_file, from_line, "includes nested too deep: %s", path);
        if (l->replace_path && strcmp(path, l->replace_path) == 0) {
                text = malloc(l->replace_size + 1);
                if (!text)
                        return -ENOMEM;
                memcpy(text, l->replace_text, l->replace_size);
                text[l->replace_size] = '\0';
                size = l->replace_size;
                r = 0;
        } else
                r = read_text(path, &text, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return policy_add_error(l->p, from_file, from_line, "failed to load %s file: %s", path,
                                        strerror(-r));
        l->stack[l->depth++] = path;
        r = parse_text(l, path, text, size, svc);
        l->depth--;
        return r;
}

int policy_parse_text(Policy *p, const char *path, const char *text, size_t size, const char *include_base,
                      const char *legacy_dir) {
        Loader l = {
                .p = p,
                .include_base = include_base ? include_base : ".",
                .legacy_dir = legacy_dir ? legacy_dir : LEGACY_POLICY_DIR,
        };
        return parse_text(&l, path, text, size, NULL);
}

int policy_load(const PolicyLoadOptions *options, Policy **ret) {
        _cleanup_(policy_freep) Policy *p = policy_new();
        _cleanup_free_ char *replace_path = NULL;
        Loader l = {
                .p = p,
                .legacy_dir = options->legacy_dir ? options->legacy_dir : LEGACY_POLICY_DIR,
                .replace_text = options->replace_text ? options->replace_text : "",
                .replace_size = options->replace_text ? options->replace_size : 0,
        };
        int r;

        if (!p)
                return -ENOMEM;
        if (options->replace_name) {
                if (!options->replace_dir || !options->replace_dir[0] || strchr(options->replace_name, '/'))
                        return -EINVAL;
                replace_path = path_join(options->replace_dir, options->replace_name);
                if (!replace_path)
                        return -ENOMEM;
                l.replace_path = replace_path;
        }
        r = load_dirs(&l, options->dirs, options->n_dirs, NULL, 0);
        if (r < 0)
                return r;
        r = policy_index(p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
