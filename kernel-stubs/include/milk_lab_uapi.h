/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * /dev/milk-lab and the "milk_lab" generic netlink family: the kernel side of
 * every kernel <-> user messaging mechanism Linux offers, each answering a
 * 64-byte request as cheaply as the mechanism allows, so that milk's own
 * channels can be measured among them in one boot (tests/vm/bench/
 * messaging_bench.cpp, docs/kernel-user-messaging.md). They are baselines,
 * not milk's: no contract, no validation beyond bounds.
 *
 * Every mechanism gives the same answer, so one check serves all: the reply
 * is the request with its first u64 word plus one.
 *
 *   ioctl        MILK_LAB_IOC_ECHO: struct milk_lab_message in, answer out
 *   read/write   write() 64 bytes stores a request in the file; read() of 64
 *                bytes returns its answer (ENODATA if none is stored)
 *   uring_cmd    IORING_OP_URING_CMD, cmd_op MILK_LAB_URING_ECHO, the SQE's
 *                command area holding a u64 user address of a message,
 *                answered in place; the CQE's res is 64
 *   eventfd      MILK_LAB_IOC_EVENTFD binds an eventfd and starts a kernel
 *                thread; mmap(offset 0, MILK_LAB_SHARED_BYTES) maps struct
 *                milk_lab_shared; MILK_LAB_IOC_KICK wakes the thread, which
 *                answers every request in the shared page and then signals
 *                the eventfd (eventfd_signal) once
 *   netlink      family "milk_lab", command MILK_LAB_CMD_ECHO, attribute
 *                MILK_LAB_ATTR_MESSAGE (64 bytes); the reply carries the
 *                answer in the same attribute
 */
#ifndef MILK_LAB_UAPI_H
#define MILK_LAB_UAPI_H

#include "milk_uapi.h"

#define MILK_LAB_DEVICE_NAME "milk-lab"
#define MILK_LAB_MESSAGE_BYTES 64

struct milk_lab_message {
	milk_u64 words[MILK_LAB_MESSAGE_BYTES / 8];
};

/* The shared page of the eventfd mechanism: up to MILK_LAB_BATCH_MAX
 * requests per kick, answered into `replies` in order. */
#define MILK_LAB_BATCH_MAX 32
struct milk_lab_shared {
	milk_u32 requests;  /* in: how many of `request` to answer (the kernel clamps it) */
	milk_u32 answered;  /* out: how many it answered, written before the signal */
	milk_u32 pad[14];
	struct milk_lab_message request[MILK_LAB_BATCH_MAX];
	struct milk_lab_message reply[MILK_LAB_BATCH_MAX];
};
#define MILK_LAB_SHARED_BYTES 8192

#define MILK_LAB_IOC_MAGIC 0xb8
#define MILK_LAB_IOC_ECHO _IOWR(MILK_LAB_IOC_MAGIC, 0x01, struct milk_lab_message)
/* Argument: the eventfd's file descriptor (an int, by value). */
#define MILK_LAB_IOC_EVENTFD _IO(MILK_LAB_IOC_MAGIC, 0x02)
#define MILK_LAB_IOC_KICK _IO(MILK_LAB_IOC_MAGIC, 0x03)

#define MILK_LAB_URING_ECHO 1u

#define MILK_LAB_GENL_NAME "milk_lab"
#define MILK_LAB_GENL_VERSION 1
enum {
	MILK_LAB_CMD_UNSPEC,
	MILK_LAB_CMD_ECHO,
};
enum {
	MILK_LAB_ATTR_UNSPEC,
	MILK_LAB_ATTR_MESSAGE,
	MILK_LAB_ATTR_MAX = MILK_LAB_ATTR_MESSAGE,
};

#endif /* MILK_LAB_UAPI_H */
