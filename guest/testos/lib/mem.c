// SPDX-License-Identifier: Apache-2.0
/*
 * Memory that devices reach by physical address: virtqueue rings and I/O
 * buffers. A bump allocator over the largest free RAM range below 4 GiB
 * (above the image, clear of the initrd), chosen at the first call. Memory
 * is never freed: a mode allocates what it needs once.
 */
#include "bootinfo.h"
#include "testos.h"

static uint64_t mem_next, mem_end;
static bool mem_ready;

/* Considers [start, end) as a candidate and keeps the largest. */
static void mem_consider(uint64_t start, uint64_t end, uint64_t *best_start, uint64_t *best_end)
{
	if (end > start && end - start > *best_end - *best_start) {
		*best_start = start;
		*best_end = end;
	}
}

static void mem_setup(void)
{
	uint64_t floor = (uintptr_t)_end, best_start = 0, best_end = 0;
	unsigned int i;

	for (i = 0; i < boot.nmem; i++) {
		const struct mem_range *r = &boot.mem[i];
		uint64_t start, end;

		if (r->type != E820_RAM)
			continue;
		start = r->addr > floor ? r->addr : floor;
		end = r->addr + r->size;
		if (end > (1ULL << 32))
			end = 1ULL << 32;
		if (start >= end)
			continue;
		if (boot.initrd_size > 0 && start < boot.initrd_addr + boot.initrd_size &&
		    end > boot.initrd_addr) {
			/* Split around the initrd. */
			mem_consider(start, boot.initrd_addr > start ? boot.initrd_addr : start,
				     &best_start, &best_end);
			start = boot.initrd_addr + boot.initrd_size;
		}
		mem_consider(start, end, &best_start, &best_end);
	}
	mem_next = best_start;
	mem_end = best_end;
	mem_ready = true;
}

void *mem_alloc(uint64_t len, uint64_t align)
{
	uint64_t addr;

	if (!mem_ready)
		mem_setup();
	if (align == 0 || (align & (align - 1)))
		return NULL;
	addr = (mem_next + align - 1) & ~(align - 1);
	if (addr < mem_next || addr > mem_end || len > mem_end - addr)
		return NULL;
	mem_next = addr + len;
	memset((void *)(uintptr_t)addr, 0, len);
	return (void *)(uintptr_t)addr;
}

uint64_t mem_free_bytes(void)
{
	if (!mem_ready)
		mem_setup();
	return mem_end - mem_next;
}
