/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the shim's files: the memory mechanism's mappings
 * (milk_mem_shim.c). A region's file gets an address space of its own, so
 * that an eviction can unmap one page from every mapping of the region and
 * nothing else.
 */
#ifndef MILK_MEM_SHIM_H
#define MILK_MEM_SHIM_H

struct address_space;
struct file;
struct vm_area_struct;

/* A fresh address space for a region of `file`; NULL when out of memory. */
struct address_space *milk_mem_mapping_create(struct file *file);
/* Frees it, when no mapping of the region is left (the file's release). */
void milk_mem_mapping_destroy(struct address_space *mapping);
/* mmap() of a region: shared, whole, from offset 0; 0 or -errno. */
int milk_mem_mmap(struct vm_area_struct *vma, void *region, unsigned long long bytes);

#endif /* MILK_MEM_SHIM_H */
