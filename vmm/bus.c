// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "vireo/log.h"

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_fini(struct bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose end is above ADDR (caller holds the lock). */
static unsigned int bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->nr;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name)
{
	int ret = 0;

	if (len == 0 || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	unsigned int i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base < base + len) {
		log_warn("%s bus: %s at 0x%llx+0x%llx overlaps %s", bus->name, name,
			 (unsigned long long)base, (unsigned long long)len, bus->ranges[i].name);
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *nr = realloc(bus->ranges, cap * sizeof(*nr));
		if (!nr) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = nr;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	unsigned int i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(*bus->ranges));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

/* The range holding all of [addr, addr + size), copied out under the lock. */
static bool bus_find(struct bus *bus, uint64_t addr, unsigned int size, struct bus_range *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	unsigned int i = bus_lower_bound(bus, addr);
	if (i < bus->nr) {
		const struct bus_range *r = &bus->ranges[i];
		if (addr >= r->base && addr + size <= r->base + r->len) {
			*out = *r;
			found = true;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return found;
}

bool bus_read(struct bus *bus, uint64_t addr, void *data, unsigned int size)
{
	struct bus_range r;

	if (bus_find(bus, addr, size, &r) && r.ops->read) {
		r.ops->read(r.opaque, addr - r.base, data, size);
		return true;
	}
	memset(data, 0xff, size);
	__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
	return false;
}

bool bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned int size)
{
	struct bus_range r;

	if (bus_find(bus, addr, size, &r)) {
		if (r.ops->write)
			r.ops->write(r.opaque, addr - r.base, data, size);
		return true;
	}
	__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
	return false;
}
