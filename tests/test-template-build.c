/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BuildTemplate for real: debootstrap bookworm from the host's apt mirror
 * into a private stack, progress signals rising to 100, TemplateBuildFinished
 * with 0, a TemplateVM whose own root holds a Debian tree with what the
 * agents need, owned by the TemplateVM's uid range (setuid bits kept), which
 * starts, and an AppVM on it that starts.  Slow and needs the network: skipped (77) unless
 * ODYSSEY_SLOW_TESTS=1.  Exit 0 pass, 1 fail.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin-client.h"
#include "hal.h"
#include "stack-harness.h"

static int failures;

#define CHECK(cond, ...) do {                                   \
        if (cond)                                               \
                printf("ok: " __VA_ARGS__);                     \
        else {                                                  \
                printf("FAIL: " __VA_ARGS__);                   \
                failures++;                                     \
        }                                                       \
        printf("\n");                                           \
} while (0)

int main(void) {
        struct test_stack stack;
        struct admin_signals *sig;
        char error[256], path[1024], prop[64];
        sd_bus *bus;
        const char *slow = getenv("ODYSSEY_SLOW_TESTS");

        if (!slow || strcmp(slow, "1") != 0) {
                printf("SKIP: debootstrap takes minutes and the network; run with ODYSSEY_SLOW_TESTS=1\n");
                return 77;
        }
        if (access("/usr/sbin/debootstrap", X_OK) < 0) {
                printf("SKIP: debootstrap is not installed (tools/debian-packages lists it)\n");
                return 77;
        }
        sig = calloc(1, sizeof(*sig));
        if (!sig || test_stack_start(&stack, NULL) < 0) {
                free(sig);
                printf("FAIL: the stack did not start\n");
                return 1;
        }
        bus = admin_connect(stack.admin_address);
        if (!bus) {
                free(sig);
                test_stack_stop(&stack);
                return 1;
        }
        admin_watch_signals(bus, sig);
        int r = admin_call(bus, ADMIN_PATH, ADMIN_MANAGER, "BuildTemplate", error, sizeof(error), NULL, "sss",
                           "debian-12", "bookworm", "black");
        CHECK(r == 0, "BuildTemplate returns at once (%s)", error);
        CHECK(admin_wait_signal(bus, sig, "TemplateBuildFinished debian-12", 30 * 60 * 1000),
              "TemplateBuildFinished within 30 minutes");
        CHECK(admin_wait_signal(bus, sig, "TemplateBuildFinished debian-12 0 ", 0), "the build succeeded");
        if (failures)   /* what it said */
                for (size_t i = 0; i < sig->n; i++)
                        printf("  %s\n", sig->lines[i]);

        /* progress: several signals, never falling, ending at 100 */
        unsigned last = 0, n = 0;
        bool rising = true, retrieving = false, configuring = false;
        for (size_t i = 0; i < sig->n; i++) {
                unsigned percent;
                if (sscanf(sig->lines[i], "TemplateBuildProgress debian-12 %u", &percent) != 1)
                        continue;
                rising = rising && percent >= last;
                last = percent;
                n++;
                retrieving = retrieving || strstr(sig->lines[i], "I: Retrieving");
                configuring = configuring || strstr(sig->lines[i], "I: Configuring");
        }
        CHECK(n > 20, "%u progress signals", n);
        CHECK(rising, "the percent never falls");
        CHECK(last == 100, "the last progress is 100 (%u)", last);
        CHECK(retrieving && configuring, "debootstrap's Retrieving and Configuring lines are passed on");

        CHECK(admin_get_property(bus, "debian-12", "klass", prop, sizeof(prop)) == 0 && strcmp(prop, "TemplateVM") == 0,
              "debian-12 is a TemplateVM");
        CHECK(admin_get_property(bus, "debian-12", "label", prop, sizeof(prop)) == 0 && strcmp(prop, "black") == 0,
              "with label black");
        snprintf(path, sizeof(path), "%s/state/domains/debian-12/root/usr/bin/dpkg", stack.root);
        CHECK(access(path, X_OK) == 0, "its own root is a Debian tree (%s)", path);
        snprintf(path, sizeof(path), "%s/state/domains/debian-12/root/usr/lib/x86_64-linux-gnu/libxenvchan.so.4.17",
                 stack.root);
        CHECK(access(path, F_OK) == 0, "with libxenvchan for qrexec-agent");

        /* the tree is the TemplateVM's: owned by its uid range (its uid 0 = host hal_native_uid_base(qid)) */
        uint32_t qid = 0;
        CHECK(admin_get_property(bus, "debian-12", "qid", prop, sizeof(prop)) == 0 && sscanf(prop, "%" SCNu32, &qid) == 1 &&
              qid > 0, "debian-12 has a qid (%s)", prop);
        uint32_t base = hal_native_uid_base(qid);
        static const char *const owned[] = { "", "/etc", "/usr/bin/dpkg", "/root", "/var/lib/dpkg/status" };
        for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
                struct stat st;
                snprintf(path, sizeof(path), "%s/state/domains/debian-12/root%s", stack.root, owned[i]);
                CHECK(lstat(path, &st) == 0 && st.st_uid == base && st.st_gid == base, "root%s is owned by %" PRIu32
                      ":%" PRIu32 " (%u:%u)", owned[i], base, base, (unsigned) st.st_uid, (unsigned) st.st_gid);
        }
        struct stat st_shadow, st_passwd;
        snprintf(path, sizeof(path), "%s/state/domains/debian-12/root/usr/bin/passwd", stack.root);
        CHECK(lstat(path, &st_passwd) == 0 && st_passwd.st_uid == base && (st_passwd.st_mode & 07777) == 04755,
              "usr/bin/passwd keeps its setuid bit (%o)", (unsigned) st_passwd.st_mode & 07777);
        snprintf(path, sizeof(path), "%s/state/domains/debian-12/root/etc/shadow", stack.root);
        CHECK(lstat(path, &st_shadow) == 0 && st_shadow.st_uid == base && st_shadow.st_gid == base + 42,
              "etc/shadow keeps its group shadow (42), in the range (%u)", (unsigned) st_shadow.st_gid);

        /* the TemplateVM runs on its own root */
        char *tpl = admin_path("debian-12");
        r = admin_call(bus, tpl, ADMIN_DOMAIN, "Start", error, sizeof(error), NULL, NULL);
        CHECK(r == 0 && admin_get_property(bus, "debian-12", "state", prop, sizeof(prop)) == 0 &&
              strcmp(prop, "Running") == 0, "the TemplateVM starts on its own root (%s)", error);
        r = admin_call(bus, tpl, ADMIN_DOMAIN, "Kill", error, sizeof(error), NULL, NULL);
        CHECK(r == 0, "and is killed (%s)", error);
        free(tpl);

        /* an AppVM on the new tree: its agents run on the Debian root and say hello */
        r = admin_call(bus, ADMIN_PATH, ADMIN_MANAGER, "CreateDomain", error, sizeof(error), NULL, "ssa{sv}", "deb-app",
                       "AppVM", 2, "label", "s", "red", "template", "s", "debian-12");
        CHECK(r == 0, "an AppVM based on debian-12 is created (%s)", error);
        char *app = admin_path("deb-app");
        r = admin_call(bus, app, ADMIN_DOMAIN, "Start", error, sizeof(error), NULL, NULL);
        CHECK(r == 0 && admin_get_property(bus, "deb-app", "state", prop, sizeof(prop)) == 0 &&
              strcmp(prop, "Running") == 0, "it starts and its agent says hello (%s)", error);
        r = admin_call(bus, app, ADMIN_DOMAIN, "Kill", error, sizeof(error), NULL, NULL);
        CHECK(r == 0, "and is killed (%s)", error);
        free(app);

        r = admin_call(bus, ADMIN_PATH, ADMIN_MANAGER, "BuildTemplate", error, sizeof(error), NULL, "sss", "debian-12",
                       "bookworm", "black");
        CHECK(r < 0 && strcmp(error, "org.qubes.Admin1.Error.AlreadyExists") == 0, "a second build of the name is refused");

        sd_bus_unref(bus);
        test_stack_stop(&stack);
        free(sig);
        printf("%d failure(s)\n", failures);
        return failures ? 1 : 0;
}
