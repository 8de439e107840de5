/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Domain XML for the libvirt backend, made from a domain's resolved
 * configuration.  Pure text: no libvirt call, so it is tested on its own and
 * validated with virt-xml-validate.  Every value is escaped.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hal.h"

/* libvirt domains of Odyssey are named PREFIX + the domain's name, so
 * `virsh list` shows them and list() finds them again. */
#define LIBVIRT_NAME_PREFIX "odyssey-"

/* The virtio-serial port of the control channel (vchan port 512), named as
 * the virtio vchan backend expects (protocol/vchan-virtio.h): the guest sees
 * /dev/virtio-ports/LIBVIRT_CONTROL_PORT; the host socket is
 * <vchan dir>/virtio.<domid>.512.sock. */
#define LIBVIRT_CONTROL_PORT "org.odyssey.vchan.512"
/* The port carrying every other vchan of the guest, between two
 * odyssey-vchan-mux (daemons/qubesd/mux-launch.c); host socket
 * <vchan dir>/virtio.<domid>.mux.sock. */
#define LIBVIRT_MUX_PORT "org.odyssey.vchan.mux"

/* Our metadata element (qid), so a re-adopted domain maps back to its qid. */
#define LIBVIRT_METADATA_URI    "https://odyssey.invalid/xmlns/libvirt/1"
#define LIBVIRT_METADATA_PREFIX "odyssey"

/* The domain type libvirt runs the guest with. */
enum libvirt_hv {
        LIBVIRT_HV_QEMU,        /* type='qemu': TCG */
        LIBVIRT_HV_KVM,         /* type='kvm' */
        LIBVIRT_HV_XEN,         /* type='xen': virt_mode pv, pvh or hvm */
        LIBVIRT_HV_TEST,        /* test:///default */
        _LIBVIRT_HV_MAX,
};

const char *libvirt_hv_to_string(enum libvirt_hv hv);

struct libvirt_xml_input {
        const struct hal_domain_config *cfg;
        enum libvirt_hv hv;
        const char *channel_socket;     /* host path of the control channel (not for Xen) */
        const char *mux_socket;         /* host path of the data vchans' port (not for Xen) */
        const char *vchan_dir;          /* kept in our metadata for a restarted qubesd; may be NULL */
        const char *console_log;        /* NULL: no log file */
        uint64_t start_time_usec;       /* CLOCK_REALTIME, kept in our metadata */
};

/* Append text to *buf with XML's five special characters escaped; characters
 * XML 1.0 cannot carry (controls other than tab, newline, CR) become U+FFFD,
 * so any input gives a well-formed document. */
char *libvirt_xml_escape(const char *text);

/* A fresh domain XML document in *ret; -EINVAL when a required value is
 * missing or a number is out of range. */
int libvirt_domain_xml(const struct libvirt_xml_input *in, char **ret);
