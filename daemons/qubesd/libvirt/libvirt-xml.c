/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domain XML from a hal_domain_config.  Built with open_memstream: every
 * value goes through xml_escape(), numbers are printed from integers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt-xml.h"
#include "util.h"

static const char *const hv_names[_LIBVIRT_HV_MAX] = {
        [LIBVIRT_HV_QEMU] = "qemu",
        [LIBVIRT_HV_KVM] = "kvm",
        [LIBVIRT_HV_XEN] = "xen",
        [LIBVIRT_HV_TEST] = "test",
};

const char *libvirt_hv_to_string(enum libvirt_hv hv) {
        return hv >= 0 && hv < _LIBVIRT_HV_MAX ? hv_names[hv] : NULL;
}

/* The length of the valid UTF-8 sequence at s holding a character XML 1.0
 * allows, 0 when there is none. */
static size_t xml_char_length(const unsigned char *s) {
        uint32_t c;
        size_t n;

        if (s[0] < 0x80)
                return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' ? 1 : 0;
        if ((s[0] & 0xe0) == 0xc0) {
                n = 2;
                c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3;
                c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4;
                c = s[0] & 0x07;
        } else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        /* overlong forms, surrogates, U+FFFE/U+FFFF, beyond U+10FFFF */
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
            (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff || c > 0x10ffff)
                return 0;
        return n;
}

static void put_escaped(FILE *f, const char *text) {
        const unsigned char *s = (const unsigned char *) text;

        while (*s) {
                size_t n = xml_char_length(s);

                if (n == 0) {
                        fputs("\xef\xbf\xbd", f);       /* U+FFFD */
                        s++;
                        continue;
                }
                switch (*s) {
                case '&':  fputs("&amp;", f); break;
                case '<':  fputs("&lt;", f); break;
                case '>':  fputs("&gt;", f); break;
                case '\'': fputs("&apos;", f); break;
                case '"':  fputs("&quot;", f); break;
                /* as references, so attribute normalisation keeps them */
                case '\t': fputs("&#9;", f); break;
                case '\n': fputs("&#10;", f); break;
                case '\r': fputs("&#13;", f); break;
                default:   fwrite(s, 1, n, f); break;
                }
                s += n;
        }
}

char *libvirt_xml_escape(const char *text) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        put_escaped(f, text);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* <tag>value</tag> on its own line, indented. */
static void put_element(FILE *f, unsigned indent, const char *tag, const char *value) {
        fprintf(f, "%*s<%s>", (int) indent, "", tag);
        put_escaped(f, value);
        fprintf(f, "</%s>\n", tag);
}

/* The <os> element: the machine type for the hypervisor and virt_mode, then
 * direct kernel boot or a disk. */
static int put_os(FILE *f, const struct libvirt_xml_input *in) {
        const struct hal_domain_config *cfg = in->cfg;
        const char *mode = cfg->virt_mode ?: (in->hv == LIBVIRT_HV_XEN ? "pvh" : "hvm");

        fputs("  <os>\n", f);
        if (in->hv == LIBVIRT_HV_XEN) {
                if (strcmp(mode, "pv") == 0)
                        fputs("    <type arch='x86_64' machine='xenpv'>linux</type>\n", f);
                else if (strcmp(mode, "pvh") == 0)
                        fputs("    <type arch='x86_64' machine='xenpvh'>xenpvh</type>\n", f);
                else if (strcmp(mode, "hvm") == 0)
                        fputs("    <type arch='x86_64' machine='xenfv'>hvm</type>\n", f);
                else
                        return -EINVAL;
        } else {
                /* QEMU (and the test driver) have no paravirtual mode of their own:
                 * every guest is a PC with virtio devices. */
                if (strcmp(mode, "pv") != 0 && strcmp(mode, "pvh") != 0 && strcmp(mode, "hvm") != 0)
                        return -EINVAL;
                fputs("    <type arch='x86_64'>hvm</type>\n", f);
        }
        if (cfg->kernel) {
                put_element(f, 4, "kernel", cfg->kernel);
                if (cfg->initrd)
                        put_element(f, 4, "initrd", cfg->initrd);
                if (cfg->kernel_cmdline)
                        put_element(f, 4, "cmdline", cfg->kernel_cmdline);
        } else
                fputs("    <boot dev='hd'/>\n", f);
        fputs("  </os>\n", f);
        return 0;
}

static void put_devices(FILE *f, const struct libvirt_xml_input *in) {
        const struct hal_domain_config *cfg = in->cfg;
        bool xen = in->hv == LIBVIRT_HV_XEN;

        fputs("  <devices>\n", f);
        if (cfg->disk_image) {
                fputs("    <disk type='file' device='disk'>\n", f);
                if (!xen)
                        fputs("      <driver name='qemu' type='raw'/>\n", f);
                fputs("      <source file='", f);
                put_escaped(f, cfg->disk_image);
                fprintf(f, "'/>\n      <target dev='%s' bus='%s'/>\n    </disk>\n", xen ? "xvda" : "vda",
                        xen ? "xen" : "virtio");
        }
        if (cfg->network) {
                fputs("    <interface type='network'>\n      <source network='", f);
                put_escaped(f, cfg->network);
                fputs("'/>\n", f);
                if (cfg->mac) {
                        fputs("      <mac address='", f);
                        put_escaped(f, cfg->mac);
                        fputs("'/>\n", f);
                }
                if (!xen)
                        fputs("      <model type='virtio'/>\n", f);
                fputs("    </interface>\n", f);
        }
        /* The console: a pty, copied to a log file by virtlogd. */
        fputs("    <console type='pty'>\n", f);
        if (in->console_log && !xen) {
                fputs("      <log file='", f);
                put_escaped(f, in->console_log);
                fputs("' append='off'/>\n", f);
        }
        fprintf(f, "      <target type='%s' port='0'/>\n    </console>\n", xen ? "xen" : "serial");
        /* The control channel: virtio-serial on QEMU; Xen uses libxenvchan. */
        if (!xen && in->channel_socket) {
                fputs("    <channel type='unix'>\n      <source mode='bind' path='", f);
                put_escaped(f, in->channel_socket);
                fputs("'/>\n      <target type='virtio' name='" LIBVIRT_CONTROL_PORT "'/>\n    </channel>\n", f);
        }
        if (!xen && in->mux_socket) {
                fputs("    <channel type='unix'>\n      <source mode='bind' path='", f);
                put_escaped(f, in->mux_socket);
                fputs("'/>\n      <target type='virtio' name='" LIBVIRT_MUX_PORT "'/>\n    </channel>\n", f);
        }
        if (!xen)
                fputs("    <memballoon model='none'/>\n", f);
        fputs("  </devices>\n", f);
}

int libvirt_domain_xml(const struct libvirt_xml_input *in, char **ret) {
        const struct hal_domain_config *cfg = in ? in->cfg : NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (!cfg || !cfg->name || !*cfg->name || !libvirt_hv_to_string(in->hv) || cfg->memory_mb == 0 ||
            cfg->memory_mb > UINT32_MAX / 1024 || cfg->maxmem_mb > UINT32_MAX / 1024 || cfg->vcpus == 0 ||
            cfg->vcpus > 4096 || (cfg->maxmem_mb && cfg->maxmem_mb < cfg->memory_mb))
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "<domain type='%s'>\n  <name>" LIBVIRT_NAME_PREFIX, libvirt_hv_to_string(in->hv));
        put_escaped(f, cfg->name);
        fputs("</name>\n", f);
        if (cfg->uuid && *cfg->uuid)
                put_element(f, 2, "uuid", cfg->uuid);
        fputs("  <title>Odyssey domain ", f);
        put_escaped(f, cfg->name);
        fputs("</title>\n", f);
        fprintf(f, "  <metadata>\n    <" LIBVIRT_METADATA_PREFIX ":domain xmlns:" LIBVIRT_METADATA_PREFIX
                   "='" LIBVIRT_METADATA_URI "' qid='%" PRIu32 "' started='%" PRIu64 "'",
                cfg->domid, in->start_time_usec);
        if (in->vchan_dir) {
                fputs(" vchan-dir='", f);
                put_escaped(f, in->vchan_dir);
                fputc('\'', f);
        }
        fputs("/>\n  </metadata>\n", f);
        fprintf(f, "  <memory unit='MiB'>%" PRIu32 "</memory>\n", cfg->maxmem_mb ?: cfg->memory_mb);
        fprintf(f, "  <currentMemory unit='MiB'>%" PRIu32 "</currentMemory>\n", cfg->memory_mb);
        fprintf(f, "  <vcpu>%" PRIu32 "</vcpu>\n", cfg->vcpus);
        r = put_os(f, in);
        if (r < 0) {
                fclose(f);
                free(buf);
                return r;
        }
        if (in->hv != LIBVIRT_HV_XEN || (cfg->virt_mode && strcmp(cfg->virt_mode, "hvm") == 0))
                fputs("  <features>\n    <acpi/>\n  </features>\n", f);
        /* qubesd decides what happens next: a stop is a stop. */
        fputs("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
              "  <on_crash>destroy</on_crash>\n", f);
        put_devices(f, in);
        fputs("</domain>\n", f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
