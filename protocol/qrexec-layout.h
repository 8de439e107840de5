/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Byte layout of the qrexec payload structs (shared/reference/qrexec.md
 * §2.3), shared by the encoder and the decoder of protocol/qrexec-*.c.
 * Private to the codec: everyone else uses protocol/qrexec.h.
 */
#pragma once

#include "qrexec.h"

/* peer_info: u32 version */
#define QREXEC_HELLO_SIZE               4u

/* exec_params: u32 connect_domain, u32 connect_port, then cmdline[] */
#define QREXEC_EXEC_PARAMS_SIZE         8u
#define QREXEC_EXEC_DOMAIN_OFFSET       0u
#define QREXEC_EXEC_PORT_OFFSET         4u

/* SERVICE_CONNECT: exec_params + service_params (ident[32]) */
#define QREXEC_SERVICE_CONNECT_SIZE     (QREXEC_EXEC_PARAMS_SIZE + QREXEC_IDENT_SIZE)

/* trigger_service_params (protocol 2): service_name[64], target_domain[32], request_id[32] */
#define QREXEC_TRIGGER2_SERVICE_OFFSET  0u
#define QREXEC_TRIGGER2_TARGET_OFFSET   64u
#define QREXEC_TRIGGER2_IDENT_OFFSET    96u
#define QREXEC_TRIGGER2_SIZE            128u

/* trigger_service_params3: target_domain[64], request_id[32], service_name[] */
#define QREXEC_TRIGGER3_TARGET_OFFSET   0u
#define QREXEC_TRIGGER3_IDENT_OFFSET    64u
#define QREXEC_TRIGGER3_FIXED_SIZE      96u

/* trigger_service_params4: source_domain[64], target_domain[64], request_id[32], service_name[] */
#define QREXEC_TRIGGER4_SOURCE_OFFSET   0u
#define QREXEC_TRIGGER4_TARGET_OFFSET   64u
#define QREXEC_TRIGGER4_IDENT_OFFSET    128u
#define QREXEC_TRIGGER4_FIXED_SIZE      160u

/* DATA_EXIT_CODE: one int */
#define QREXEC_EXIT_CODE_SIZE           4u

/* Data ports a daemon hands out: VCHAN_BASE_PORT+1 .. VCHAN_BASE_PORT+MAX_FDS. */
#define QREXEC_FIRST_DATA_PORT          (QREXEC_VCHAN_BASE_PORT + 1u)
#define QREXEC_END_DATA_PORT            (QREXEC_FIRST_DATA_PORT + QREXEC_MAX_FDS)
