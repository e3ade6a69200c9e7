// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vireo/log.h"
#include "vireo/util.h"
#include "memory.h"
#include "x86/layout.h"

/* Memory and swap of the host, in bytes, from /proc/meminfo; 0 if unknown. */
static uint64_t host_backable_bytes(void)
{
	char *text;
	uint64_t total = 0;
	long n = file_read_all("/proc/meminfo", 1 << 16, &text);

	if (n < 0)
		return 0;
	static const char *const keys[] = { "MemTotal:", "SwapTotal:" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char *p = strstr(text, keys[i]);
		unsigned long long kib;
		if (p && sscanf(p + strlen(keys[i]), "%llu", &kib) == 1)
			total += kib * 1024;
	}
	free(text);
	return total;
}

static void add_region(struct guest_memory *mem, uint64_t gpa, uint64_t size, uint64_t offset)
{
	struct guest_region *r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->offset = offset;
}

int guest_memory_create(uint64_t ram_bytes, unsigned int phys_bits,
			struct guest_memory **out)
{
	struct guest_memory *mem;
	uint64_t limit, backable;

	if (ram_bytes < GUEST_MEMORY_MIN_BYTES || ram_bytes % 4096) {
		log_error("guest memory of %llu bytes: at least %llu MiB in whole pages is needed",
			  (unsigned long long)ram_bytes, GUEST_MEMORY_MIN_BYTES >> 20);
		return -EINVAL;
	}
	limit = phys_bits >= 63 ? UINT64_MAX : (1ULL << phys_bits);
	if (ram_bytes > limit - (LAYOUT_4GIB - LAYOUT_PCI_HOLE_START)) {
		log_error("guest memory of %llu MiB does not fit in the %u-bit physical address space",
			  (unsigned long long)(ram_bytes >> 20), phys_bits);
		return -EINVAL;
	}
	backable = host_backable_bytes();
	if (backable && ram_bytes > backable) {
		log_error("guest memory of %llu MiB cannot be had: this host has %llu MiB of memory and swap",
			  (unsigned long long)(ram_bytes >> 20), (unsigned long long)(backable >> 20));
		return -ENOMEM;
	}

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->memfd = memfd_create("vireo-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mem->memfd < 0) {
		int err = -errno;
		log_error_errno(err, "memfd_create for guest RAM");
		free(mem);
		return err;
	}
	if (ftruncate(mem->memfd, (off_t)ram_bytes) < 0) {
		int err = -errno;
		log_error_errno(err, "cannot size guest RAM to %llu MiB",
				(unsigned long long)(ram_bytes >> 20));
		goto err_close;
	}
	/* The size is part of the VM's identity: nobody may shrink it under KVM. */
	fcntl(mem->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	mem->host = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (mem->host == MAP_FAILED) {
		int err = -errno;
		log_error_errno(err, "cannot map %llu MiB of guest RAM",
				(unsigned long long)(ram_bytes >> 20));
		goto err_close;
	}
	madvise(mem->host, ram_bytes, MADV_DONTDUMP);
	mem->ram_bytes = ram_bytes;

	uint64_t low = MIN(ram_bytes, LAYOUT_PCI_HOLE_START);
	add_region(mem, 0, LAYOUT_VGA_START, 0);
	add_region(mem, LAYOUT_VGA_END, low - LAYOUT_VGA_END, LAYOUT_VGA_END);
	mem->low_end = low;
	mem->high_end = LAYOUT_4GIB;
	if (ram_bytes > low) {
		add_region(mem, LAYOUT_4GIB, ram_bytes - low, low);
		mem->high_end = LAYOUT_4GIB + (ram_bytes - low);
	}
	*out = mem;
	return 0;

err_close:
	close(mem->memfd);
	free(mem);
	return -ENOMEM;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (!mem)
		return;
	if (mem->host && mem->host != MAP_FAILED)
		munmap(mem->host, mem->ram_bytes);
	if (mem->memfd >= 0)
		close(mem->memfd);
	free(mem);
}

int guest_memory_register(struct guest_memory *mem, int vm_fd)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct guest_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)(mem->host + r->offset),
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			int err = -errno;
			log_error_errno(err, "KVM_SET_USER_MEMORY_REGION slot %u (%llu MiB at 0x%llx)",
					i, (unsigned long long)(r->size >> 20),
					(unsigned long long)r->gpa);
			return err;
		}
	}
	return 0;
}

void *guest_memory_ptr(struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		if (gpa >= r->gpa && range_within(gpa - r->gpa, len, r->size))
			return mem->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_memory_is_ram(struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	return guest_memory_ptr(mem, gpa, len) != NULL;
}

int guest_memory_read(struct guest_memory *mem, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = guest_memory_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_memory_write(struct guest_memory *mem, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = guest_memory_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}
