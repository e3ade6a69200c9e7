// SPDX-License-Identifier: Apache-2.0
/* Putting kernel, initrd, command line and boot tables in guest RAM. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "layout.h"
#include "vireo/le.h"
#include "vireo/log.h"
#include "vireo/util.h"

#define KERNEL_MAX_BYTES (1ULL << 30)

const char *boot_protocol_name(enum boot_protocol p)
{
	switch (p) {
	case BOOT_PROTOCOL_LINUX64:
		return "linux64";
	case BOOT_PROTOCOL_PVH:
		return "pvh";
	default:
		return "auto";
	}
}

int boot_protocol_parse(const char *s, enum boot_protocol *out)
{
	static const enum boot_protocol all[] = { BOOT_PROTOCOL_AUTO, BOOT_PROTOCOL_LINUX64,
						  BOOT_PROTOCOL_PVH };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		if (strcmp(s, boot_protocol_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

int kernel_load(struct guest_memory *mem, const uint8_t *data, size_t len,
		enum boot_protocol want, struct kernel_image *out)
{
	memset(out, 0, sizeof(*out));
	if (len >= 4 && memcmp(data, "\177ELF", 4) == 0)
		return elf_load(mem, data, len, want, out);
	if (want == BOOT_PROTOCOL_PVH) {
		log_error("kernel: PVH boot needs an ELF kernel with the PVH note, not a bzImage");
		return -ENOEXEC;
	}
	return bzimage_load(mem, data, len, out);
}

/* Maps a whole file read-only. */
static int map_file(const char *what, const char *path, uint64_t max, const uint8_t **data,
		    size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0) {
		int err = -errno;
		log_error_errno(err, "%s %s", what, path);
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (uint64_t)st.st_size > max) {
		log_error("%s %s: not a regular file of 1 byte to %llu MiB", what, path,
			  (unsigned long long)(max >> 20));
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		int err = -errno;
		log_error_errno(err, "%s %s: mmap", what, path);
		return err;
	}
	*data = p;
	*len = (size_t)st.st_size;
	return 0;
}

/* Loads the initrd as high as the kernel allows in low RAM, above the kernel. */
static int initrd_load(struct guest_memory *mem, const struct kernel_image *k, const char *path,
		       uint64_t *addr, uint64_t *size)
{
	const uint8_t *data;
	size_t len;
	uint64_t top, at;
	int ret = map_file("initrd", path, mem->low_end, &data, &len);

	if (ret < 0)
		return ret;
	top = MIN((uint64_t)k->initrd_addr_max + 1, mem->low_end);
	at = top >= len ? ALIGN_DOWN(top - len, 4096) : 0;
	if (top < len || at < ALIGN_UP(k->load_end, 4096) || !guest_memory_ptr(mem, at, len)) {
		log_error("initrd %s: %zu MiB do not fit in guest RAM between the kernel and 0x%llx",
			  path, (len + (size_t)MIB - 1) >> 20, (unsigned long long)top);
		munmap((void *)data, len);
		return -ENOMEM;
	}
	memcpy(guest_memory_ptr(mem, at, len), data, len);
	munmap((void *)data, len);
	*addr = at;
	*size = len;
	return 0;
}

int boot_prepare(struct guest_memory *mem, const struct boot_config *cfg, struct boot_state *out)
{
	struct kernel_image k;
	const uint8_t *data;
	size_t len, cmdline_len;
	uint64_t initrd_addr = 0, initrd_size = 0;
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	int ret;

	ret = map_file("kernel", cfg->kernel_path, KERNEL_MAX_BYTES, &data, &len);
	if (ret < 0)
		return ret;
	ret = kernel_load(mem, data, len, cfg->protocol, &k);
	munmap((void *)data, len);
	if (ret < 0)
		return ret;

	cmdline_len = strlen(cmdline);
	if (cmdline_len > k.cmdline_max || cmdline_len >= LAYOUT_CMDLINE_MAX) {
		log_error("command line of %zu bytes is longer than the kernel accepts (%u)",
			  cmdline_len, k.cmdline_max);
		return -E2BIG;
	}
	ret = guest_memory_write(mem, LAYOUT_CMDLINE, cmdline, cmdline_len + 1);
	if (ret < 0)
		return ret;

	if (cfg->initrd_path) {
		ret = initrd_load(mem, &k, cfg->initrd_path, &initrd_addr, &initrd_size);
		if (ret < 0)
			return ret;
	}
	ret = mptable_write(mem, cfg->nr_cpus, cfg->cpu_signature, cfg->cpu_features);
	if (ret < 0)
		return ret;

	out->protocol = k.protocol;
	out->entry = k.entry;
	if (k.protocol == BOOT_PROTOCOL_PVH) {
		out->boot_info = LAYOUT_PVH_START_INFO;
		ret = pvh_start_info_write(mem, LAYOUT_CMDLINE, initrd_addr, initrd_size);
	} else {
		out->boot_info = LAYOUT_ZERO_PAGE;
		ret = bootparams_write(mem, &k, LAYOUT_CMDLINE, initrd_addr, initrd_size);
	}
	if (ret == 0)
		log_verbose("boot: %s kernel %s via %s entry 0x%llx, initrd %llu bytes at 0x%llx",
			    k.format == KERNEL_FORMAT_ELF ? "ELF" : "bzImage", cfg->kernel_path,
			    boot_protocol_name(k.protocol), (unsigned long long)k.entry,
			    (unsigned long long)initrd_size, (unsigned long long)initrd_addr);
	return ret;
}
