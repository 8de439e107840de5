/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What qubesd and the tests need of the libvirt backend beyond hal.h.
 * A backend value "libvirt:URI" runs domains through libvirt at URI, named
 * LIBVIRT_NAME_PREFIX + name, as transient domains (qubesd's database is the
 * only definition).  $ODYSSEY_LIBVIRT_KVM=1 asks QEMU for KVM instead of TCG.
 */
#pragma once

#include "hal.h"

/* NULL-terminated: what the worker threads call under qubesd's sandbox. */
extern const char *const hal_libvirt_syscalls[];

/* Tests: run hook(data) on the backend's worker thread, as if it were a
 * libvirt call (to hang the worker); done(userdata, 0) on the loop after. */
int hal_libvirt_run_on_worker(struct hal_backend *b, void (*hook)(void *data), void *data, hal_done_fn done,
                              void *userdata);
