/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the shim's files: the module's init and exit register and remove
 * the messaging lab (/dev/milk-lab and the milk_lab netlink family,
 * milk_lab.c).
 */
#ifndef MILK_LAB_H
#define MILK_LAB_H

int milk_lab_init(void);
void milk_lab_exit(void);

#endif /* MILK_LAB_H */
