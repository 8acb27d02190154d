/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the shim's two files: the module's init and exit attach and
 * detach the scheduler mechanism's tracepoint probes (milk_sched_shim.c).
 */
#ifndef MILK_SCHED_SHIM_H
#define MILK_SCHED_SHIM_H

/*
 * Finds and attaches the probes. Always 0: without them the module works,
 * it only refuses to create scheduler enclaves (EOPNOTSUPP) and says why.
 */
int milk_sched_shim_init(void);
/* Detaches the probes and waits until none runs anywhere. */
void milk_sched_shim_exit(void);

#endif /* MILK_SCHED_SHIM_H */
