/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domain XML of the libvirt backend: what qemu and xen get validates against
 * libvirt's schema (virt-xml-validate), and hostile values (quotes, <, &,
 * ]]>, newlines, control bytes, invalid UTF-8) leave a well-formed document
 * whose values read back as given (control bytes and bad UTF-8 as U+FFFD).
 */
#include <check.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libvirt-xml.h"
#include "util.h"

static struct hal_domain_config base_config(void) {
        return (struct hal_domain_config) {
                .name = "work",
                .domid = 7,
                .uuid = "2b5c0b5e-6e0a-4a8d-9d0e-0123456789ab",
                .klass = DOMAIN_APPVM,
                .memory_mb = 400,
                .maxmem_mb = 800,
                .vcpus = 2,
                .kernel = "/boot/vmlinuz",
                .initrd = "/boot/initrd.img",
                .kernel_cmdline = "console=ttyS0 quiet",
                .network = "default",
                .mac = "00:16:3e:5e:6c:07",
        };
}

static char *make_xml(const struct hal_domain_config *cfg, enum libvirt_hv hv) {
        const struct libvirt_xml_input in = {
                .cfg = cfg,
                .hv = hv,
                .channel_socket = "/run/qubes/libvirt/work/virtio.7.512.sock",
                .console_log = "/run/qubes/libvirt/work/console.log",
                .start_time_usec = 1700000000000000,
        };
        char *xml = NULL;

        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), 0);
        ck_assert_ptr_nonnull(xml);
        return xml;
}

/* virt-xml-validate FILE domain: 0 when valid (77 when the tool is missing). */
static int validate(const char *xml) {
        char path[] = "/tmp/test-libvirt-xml-XXXXXX";
        int fd = mkstemp(path), status;
        pid_t pid;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, xml, strlen(xml)), (ssize_t) strlen(xml));
        close(fd);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDOUT_FILENO);      /* "FILE validates" */
                execlp("virt-xml-validate", "virt-xml-validate", path, "domain", (char *) NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        unlink(path);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 127, "virt-xml-validate is not installed");
        if (WEXITSTATUS(status) != 0)
                fprintf(stderr, "invalid:\n%s\n", xml);
        return WEXITSTATUS(status);
}

/* The string value of an XPath expression over xml. */
static char *xpath_string(const char *xml, const char *expr) {
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
        ck_assert_msg(doc != NULL, "not well-formed:\n%s", xml);
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *) expr, ctx);
        ck_assert_ptr_nonnull(obj);
        char *value = strdup(obj->stringval ? (const char *) obj->stringval : "");
        xmlXPathFreeObject(obj);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return value;
}

static void assert_xpath(const char *xml, const char *expr, const char *expected) {
        _cleanup_free_ char *value = xpath_string(xml, expr);
        ck_assert_str_eq(value, expected);
}

START_TEST(test_qemu_validates) {
        struct hal_domain_config cfg = base_config();
        _cleanup_free_ char *xml = make_xml(&cfg, LIBVIRT_HV_QEMU);

        ck_assert_int_eq(validate(xml), 0);
        assert_xpath(xml, "string(/domain/@type)", "qemu");
        assert_xpath(xml, "string(/domain/name)", "odyssey-work");
        assert_xpath(xml, "string(/domain/uuid)", cfg.uuid);
        assert_xpath(xml, "string(/domain/memory)", "800");
        assert_xpath(xml, "string(/domain/currentMemory)", "400");
        assert_xpath(xml, "string(/domain/vcpu)", "2");
        assert_xpath(xml, "string(/domain/os/kernel)", "/boot/vmlinuz");
        assert_xpath(xml, "string(/domain/os/initrd)", "/boot/initrd.img");
        assert_xpath(xml, "string(/domain/os/cmdline)", "console=ttyS0 quiet");
        assert_xpath(xml, "string(/domain/devices/channel/target/@name)", LIBVIRT_CONTROL_PORT);
        assert_xpath(xml, "string(/domain/devices/channel/source/@path)",
                     "/run/qubes/libvirt/work/virtio.7.512.sock");
        assert_xpath(xml, "string(/domain/devices/interface/source/@network)", "default");
        assert_xpath(xml, "string(/domain/devices/console/log/@file)", "/run/qubes/libvirt/work/console.log");
        assert_xpath(xml, "string(/domain/metadata/*[local-name()='domain']/@qid)", "7");

        /* KVM only when asked; a disk instead of a kernel; no network */
        cfg.kernel = NULL;
        cfg.disk_image = "/var/lib/qubes/work.img";
        cfg.network = NULL;
        _cleanup_free_ char *kvm = make_xml(&cfg, LIBVIRT_HV_KVM);
        ck_assert_int_eq(validate(kvm), 0);
        assert_xpath(kvm, "string(/domain/@type)", "kvm");
        assert_xpath(kvm, "string(/domain/devices/disk/source/@file)", "/var/lib/qubes/work.img");
        assert_xpath(kvm, "string(count(/domain/devices/interface))", "0");
}
END_TEST

START_TEST(test_xen_validates_every_mode) {
        static const char *const modes[] = { "pv", "pvh", "hvm" };
        static const char *const types[] = { "linux", "xenpvh", "hvm" };

        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                struct hal_domain_config cfg = base_config();
                cfg.virt_mode = modes[i];
                _cleanup_free_ char *xml = make_xml(&cfg, LIBVIRT_HV_XEN);

                ck_assert_int_eq(validate(xml), 0);
                assert_xpath(xml, "string(/domain/@type)", "xen");
                assert_xpath(xml, "string(/domain/os/type)", types[i]);
                /* Xen's control channel is libxenvchan, not virtio-serial */
                assert_xpath(xml, "string(count(/domain/devices/channel))", "0");
        }
}
END_TEST

START_TEST(test_hostile_values) {
        static const char *const hostile[] = {
                "a'b\"c<d>e&f",
                "]]><evil/><![CDATA[",
                "line1\nline2\r\n\ttab",
                "&amp;&#10;&lt;",
                "</cmdline></os><devices><disk/></devices>",
        };

        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                struct hal_domain_config cfg = base_config();
                _cleanup_free_ char *path = NULL;
                ck_assert_int_ge(asprintf(&path, "/boot/%s", hostile[i]), 0);
                cfg.kernel = path;
                cfg.initrd = path;
                cfg.kernel_cmdline = hostile[i];
                cfg.network = hostile[i];
                _cleanup_free_ char *xml = make_xml(&cfg, LIBVIRT_HV_QEMU);

                /* The schema refuses a path or name with a line break (libvirt
                 * would too): then only well-formedness and the values count. */
                if (!strpbrk(hostile[i], "\r\n"))
                        ck_assert_int_eq(validate(xml), 0);
                assert_xpath(xml, "string(/domain/os/kernel)", path);
                assert_xpath(xml, "string(/domain/os/initrd)", path);
                assert_xpath(xml, "string(/domain/os/cmdline)", hostile[i]);
                assert_xpath(xml, "string(/domain/devices/interface/source/@network)", hostile[i]);
                /* free text: valid whatever it holds */
                cfg = base_config();
                cfg.kernel_cmdline = hostile[i];
                _cleanup_free_ char *text = make_xml(&cfg, LIBVIRT_HV_QEMU);
                ck_assert_int_eq(validate(text), 0);
                assert_xpath(text, "string(/domain/os/cmdline)", hostile[i]);
                /* nothing injected: still exactly one of each */
                assert_xpath(xml, "string(count(//disk))", "0");
                assert_xpath(xml, "string(count(//os))", "1");
        }
        /* Names are checked by qubesd, but escaped anyway (no newline: the schema refuses it in a name). */
        struct hal_domain_config cfg = base_config();
        cfg.name = "x'\"<&]]>y";
        _cleanup_free_ char *xml = make_xml(&cfg, LIBVIRT_HV_QEMU);
        ck_assert_int_eq(validate(xml), 0);
        assert_xpath(xml, "string(/domain/name)", "odyssey-x'\"<&]]>y");
}
END_TEST

START_TEST(test_unrepresentable_bytes) {
        struct hal_domain_config cfg = base_config();
        cfg.kernel_cmdline = "a\x01" "b\x1b[2J\xff\xc3(" "\xed\xa0\x80" "\xef\xbf\xbe" "z";
        _cleanup_free_ char *xml = make_xml(&cfg, LIBVIRT_HV_QEMU);

        ck_assert_int_eq(validate(xml), 0);
        /* each control byte, bad byte, surrogate and non-character → U+FFFD; valid é kept */
        assert_xpath(xml, "string(/domain/os/cmdline)",
                     "a\xef\xbf\xbd" "b\xef\xbf\xbd[2J\xef\xbf\xbd\xef\xbf\xbd(" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "z");
        _cleanup_free_ char *e = libvirt_xml_escape("caf\xc3\xa9 <&>");
        ck_assert_str_eq(e, "caf\xc3\xa9 &lt;&amp;&gt;");
}
END_TEST

START_TEST(test_refused_configs) {
        struct hal_domain_config cfg = base_config();
        struct libvirt_xml_input in = { .cfg = &cfg, .hv = LIBVIRT_HV_QEMU };
        char *xml = NULL;

        cfg.memory_mb = 0;
        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), -EINVAL);
        cfg = base_config();
        cfg.maxmem_mb = 100;    /* below memory */
        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), -EINVAL);
        cfg = base_config();
        cfg.vcpus = 0;
        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), -EINVAL);
        cfg = base_config();
        cfg.virt_mode = "hvm'><x";
        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), -EINVAL);
        in.hv = _LIBVIRT_HV_MAX;
        cfg = base_config();
        ck_assert_int_eq(libvirt_domain_xml(&in, &xml), -EINVAL);
        ck_assert_ptr_null(xml);
}
END_TEST

int main(void) {
        Suite *s = suite_create("libvirt-xml");
        TCase *tc = tcase_create("xml");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_qemu_validates);
        tcase_add_test(tc, test_xen_validates_every_mode);
        tcase_add_test(tc, test_hostile_values);
        tcase_add_test(tc, test_unrepresentable_bytes);
        tcase_add_test(tc, test_refused_configs);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
