// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "debug_exit.h"

static void debug_exit_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0xff, size);
}

static void debug_exit_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	const struct debug_exit *d = opaque;
	uint32_t value = 0;

	(void)offset;
	memcpy(&value, data, size > sizeof(value) ? sizeof(value) : size);
	d->exit(d->opaque, value);
}

const struct bus_ops debug_exit_bus_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};
