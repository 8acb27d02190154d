/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the shim's files: the block device's major number, registered
 * with the module (milk_blk_shim.c).
 */
#ifndef MILK_BLK_SHIM_H
#define MILK_BLK_SHIM_H

/* 0 or -errno. */
int milk_blk_shim_init(void);
void milk_blk_shim_exit(void);

#endif /* MILK_BLK_SHIM_H */
