/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qubes-policy edit and replace (see qubes-policy-edit.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy.h"
#include "qubes-policy-edit.h"
#include "util.h"

#define EXIT_USAGE 64
#define MAX_POLICY_TEXT (16 * 1024 * 1024)

/* The file to install and the policy it is linted in. */
typedef struct Target {
        const char *path;               /* FILE as given */
        char *dir;                      /* its directory */
        const char *name;               /* its basename, points into path */
        const char *const *dirs;        /* the policy to lint */
        size_t n_dirs;
        const char *replace_dir;        /* the entry of dirs that is dir */
} Target;

static void target_done(Target *t) {
        free(t->dir);
        t->dir = NULL;
}

static bool same_directory(const char *a, const char *b) {
        struct stat sa, sb;

        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* 0, or an exit status after printing why FILE cannot be installed. */
static int target_init(Target *t, const char *const *dirs, size_t n_dirs, const char *path) {
        const char *slash = strrchr(path, '/');

        *t = (Target) { .path = path, .name = slash ? slash + 1 : path };
        if (!policy_filename_valid(t->name)) {
                fprintf(stderr,
                        "qubes-policy: invalid policy file name '%s': it must end in .policy, not start with a "
                        "dot, and use only a-z 0-9 _ . -\n",
                        t->name);
                return EXIT_USAGE;
        }
        t->dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!t->dir)
                return EXIT_FAILURE;
        if (n_dirs == 0) {
                t->dirs = (const char *const *) &t->dir;
                t->n_dirs = 1;
                t->replace_dir = t->dir;
                return 0;
        }
        t->dirs = dirs;
        t->n_dirs = n_dirs;
        for (size_t i = 0; i < n_dirs && !t->replace_dir; i++)
                if (same_directory(dirs[i], t->dir))
                        t->replace_dir = dirs[i];
        if (!t->replace_dir) {
                fprintf(stderr, "qubes-policy: %s is not in any --policy-dir\n", path);
                return EXIT_USAGE;
        }
        return 0;
}

/* Read at most MAX_POLICY_TEXT bytes to the end.  -EFBIG when longer. */
static int read_bounded(int fd, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                if (size == allocated) {
                        size_t want = allocated ? allocated * 2 : 64 * 1024;
                        if (want > MAX_POLICY_TEXT + 1)
                                want = MAX_POLICY_TEXT + 1;
                        if (want == allocated)
                                return -EFBIG;
                        char *grown = realloc(buf, want);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                        allocated = want;
                }
                ssize_t n = read(fd, buf + size, allocated - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > MAX_POLICY_TEXT)
                return -EFBIG;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int read_path(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        return read_bounded(fd, ret, ret_size);
}

/* Lint the policy with text in place of the target.  0 clean, 1 errors
 * (printed), -errno. */
static int lint_with(const Target *t, const char *text, size_t size) {
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicyLoadOptions lo = {
                .dirs = t->dirs,
                .n_dirs = t->n_dirs,
                .replace_dir = t->replace_dir,
                .replace_name = t->name,
                .replace_text = text,
                .replace_size = size,
        };
        int r = policy_load(&lo, &p);

        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_errors; i++) {
                _cleanup_free_ char *e = policy_error_format(&p->errors[i]);
                fprintf(stderr, "%s\n", e ? e : "(out of memory)");
        }
        return p->n_errors > 0;
}

/* The mode (and owner) the new file gets: the old file's, or 0644. */
static int existing_file(int dir_fd, const Target *t, struct stat *ret, bool *ret_exists) {
        if (fstatat(dir_fd, t->name, ret, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_exists = false;
                return 0;
        }
        if (!S_ISREG(ret->st_mode))
                return -EINVAL; /* a symlink would be replaced by a file: refuse */
        *ret_exists = true;
        return 0;
}

static int write_temp(int dir_fd, const Target *t, const char *text, size_t size, char **ret_name) {
        _cleanup_free_ char *template = NULL;
        _cleanup_close_ int fd = -1;
        struct stat old;
        bool exists = false;
        int r;

        r = existing_file(dir_fd, t, &old, &exists);
        if (r < 0)
                return r;
        /* Hidden and without .policy: the loader never reads it. */
        if (asprintf(&template, "%s/.%s.XXXXXX", t->dir, t->name) < 0)
                return -ENOMEM;
        fd = mkostemp(template, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_full(fd, text, size);
        if (r >= 0 && fchmod(fd, exists ? old.st_mode & 07777 : 0644) < 0)
                r = -errno;
        if (r >= 0 && exists && fchown(fd, old.st_uid, old.st_gid) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(template);
                return r;
        }
        *ret_name = TAKE_PTR(template);
        return 0;
}

/* Write, lint, and rename over the target.  0 installed, 1 lint errors
 * (printed; the target untouched), -errno (printed). */
static int install_checked(const Target *t, const char *text, size_t size) {
        _cleanup_close_ int dir_fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *temp = NULL;
        int r;

        if (dir_fd < 0) {
                r = -errno;
                fprintf(stderr, "qubes-policy: %s: %s\n", t->dir, strerror(-r));
                return r;
        }
        r = write_temp(dir_fd, t, text, size, &temp);
        if (r < 0) {
                fprintf(stderr, "qubes-policy: cannot write a new %s: %s\n", t->path,
                        r == -EINVAL ? "not a regular file" : strerror(-r));
                return r;
        }
        r = lint_with(t, text, size);
        if (r < 0)
                fprintf(stderr, "qubes-policy: cannot load the policy: %s\n", strerror(-r));
        if (r == 0 && rename(temp, t->path) < 0) {
                r = -errno;
                fprintf(stderr, "qubes-policy: cannot install %s: %s\n", t->path, strerror(-r));
        }
        if (r != 0) {
                (void) unlink(temp);
                return r;
        }
        /* Make the rename itself durable. */
        if (fsync(dir_fd) < 0) {
                r = -errno;
                fprintf(stderr, "qubes-policy: %s: %s\n", t->dir, strerror(-r));
                return r;
        }
        return 0;
}

int policy_cli_replace(const char *const *dirs, size_t n_dirs, const char *file) {
        _cleanup_(target_done) Target t = {};
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = target_init(&t, dirs, n_dirs, file);
        if (r != 0)
                return r;
        r = read_bounded(STDIN_FILENO, &text, &size);
        if (r < 0) {
                fprintf(stderr, "qubes-policy: reading standard input: %s\n",
                        r == -EFBIG ? "more than 16 MiB" : strerror(-r));
                return EXIT_FAILURE;
        }
        return install_checked(&t, text ? text : "", size) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run_editor(const char *path) {
        const char *editor = getenv("VISUAL");
        int status;
        pid_t pid;

        if (!editor || !*editor)
                editor = getenv("EDITOR");
        if (!editor || !*editor)
                editor = "vi";
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* The value names a program, not a shell command. */
                char *const argv[] = { (char *) editor, (char *) path, NULL };
                execvp(editor, argv);
                fprintf(stderr, "qubes-policy: cannot run the editor %s: %s\n", editor, strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "qubes-policy: the editor %s failed; nothing installed\n", editor);
                return -ECANCELED;
        }
        return 0;
}

/* After lint errors: true to edit again.  Only a terminal is asked. */
static bool ask_edit_again(void) {
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0;

        if (!isatty(STDIN_FILENO))
                return false;
        for (;;) {
                fputs("(e)dit again or (a)bort? ", stderr);
                fflush(stderr);
                if (getline(&line, &allocated, stdin) < 0)
                        return false;
                if (line[0] == 'e' || line[0] == 'E')
                        return true;
                if (line[0] == 'a' || line[0] == 'A')
                        return false;
        }
}

/* The editor's copy: hidden in the policy directory, so the loader skips it. */
static int make_edit_copy(const Target *t, const char *text, size_t size, char **ret) {
        _cleanup_free_ char *template = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (asprintf(&template, "%s/.%s.edit.XXXXXX", t->dir, t->name) < 0)
                return -ENOMEM;
        fd = mkostemp(template, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_full(fd, text, size);
        if (r < 0) {
                (void) unlink(template);
                return r;
        }
        *ret = TAKE_PTR(template);
        return 0;
}

int policy_cli_edit(const char *const *dirs, size_t n_dirs, const char *file) {
        _cleanup_(target_done) Target t = {};
        _cleanup_free_ char *old = NULL, *copy = NULL;
        size_t old_size = 0;
        bool exists = true;
        int r, status = EXIT_FAILURE;

        r = target_init(&t, dirs, n_dirs, file);
        if (r != 0)
                return r;
        r = read_path(file, &old, &old_size);
        if (r == -ENOENT)
                exists = false;
        else if (r < 0) {
                fprintf(stderr, "qubes-policy: %s: %s\n", file, r == -EFBIG ? "more than 16 MiB" : strerror(-r));
                return EXIT_FAILURE;
        }
        r = make_edit_copy(&t, old ? old : "", old_size, &copy);
        if (r < 0) {
                fprintf(stderr, "qubes-policy: cannot make a copy of %s to edit: %s\n", file, strerror(-r));
                return EXIT_FAILURE;
        }
        for (;;) {
                _cleanup_free_ char *text = NULL;
                size_t size = 0;

                if (run_editor(copy) < 0)
                        break;
                r = read_path(copy, &text, &size);
                if (r < 0) {
                        fprintf(stderr, "qubes-policy: reading the edited copy: %s\n",
                                r == -EFBIG ? "more than 16 MiB" : strerror(-r));
                        break;
                }
                if (exists && size == old_size && (size == 0 || memcmp(text, old, size) == 0)) {
                        fprintf(stderr, "qubes-policy: %s unchanged\n", file);
                        status = EXIT_SUCCESS;
                        break;
                }
                r = install_checked(&t, text ? text : "", size);
                if (r == 0)
                        status = EXIT_SUCCESS;
                if (r != 1 || !ask_edit_again())
                        break;
        }
        if (status != EXIT_SUCCESS)
                fprintf(stderr, "qubes-policy: %s left unchanged\n", file);
        (void) unlink(copy);
        return status;
}
