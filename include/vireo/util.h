/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers every program uses. */
#ifndef VIREO_UTIL_H
#define VIREO_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define KIB (1024ULL)
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)

/* Returns true when [off, off + len) lies inside [0, size), without overflow. */
static inline int range_within(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Monotonic clock in nanoseconds. */
uint64_t time_now_ns(void);

/* Parses a decimal or 0x-prefixed unsigned number; returns 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *out);

/* Reads a whole small file (at most MAX bytes) into a NUL-terminated heap buffer.
 * Returns the length, or -errno (-EFBIG when the file is larger than MAX). */
long file_read_all(const char *path, size_t max, char **out);

#endif
