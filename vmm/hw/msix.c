// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../irq_routing.h"
#include "msix.h"
#include "vireo/log.h"

struct msix_vector {
	struct msix_entry e;
	bool pending;
	bool route_stale;  /* the entry changed since its route was committed */
	bool has_gsi;
	unsigned int gsi;
	int fd;
};

struct msix {
	pthread_mutex_t lock;
	struct irq_routing *routing;
	unsigned int nr;
	bool enabled, function_masked;
	uint64_t delivered, pended;
	struct log_ratelimit rl;
	struct msix_vector v[];
};

int msix_create(struct irq_routing *routing, unsigned int nr_vectors, struct msix **out)
{
	struct msix *m;
	int ret = 0;

	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS)
		return -EINVAL;
	m = calloc(1, sizeof(*m) + nr_vectors * sizeof(m->v[0]));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->routing = routing;
	m->nr = nr_vectors;
	for (unsigned int i = 0; i < nr_vectors; i++) {
		m->v[i].fd = -1;
		m->v[i].e.ctrl = MSIX_CTRL_MASKBIT;
	}
	for (unsigned int i = 0; i < nr_vectors && ret == 0; i++) {
		struct msix_vector *v = &m->v[i];
		v->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->fd < 0) {
			ret = -errno;
			break;
		}
		if (routing) {
			ret = irq_routing_add_msi(routing, v->fd, &v->gsi);
			v->has_gsi = ret == 0;
		}
	}
	if (ret < 0) {
		msix_destroy(m);
		return ret;
	}
	*out = m;
	return 0;
}

void msix_destroy(struct msix *m)
{
	if (!m)
		return;
	/* Closing an eventfd makes KVM drop its irqfd on its own (EPOLLHUP);
	 * KVM_IRQFD_FLAG_DEASSIGN would wait ~4 ms per vector for KVM's cleanup. */
	for (unsigned int i = 0; i < m->nr; i++)
		if (m->v[i].fd >= 0)
			close(m->v[i].fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

unsigned int msix_nr_vectors(const struct msix *m)
{
	return m->nr;
}

int msix_vector_fd(const struct msix *m, unsigned int vector)
{
	return vector < m->nr ? m->v[vector].fd : -1;
}

static bool deliverable(const struct msix *m, const struct msix_vector *v)
{
	return m->enabled && !m->function_masked && !(v->e.ctrl & MSIX_CTRL_MASKBIT);
}

/* Signals the vector's eventfd (lock held). */
static void msix_fire(struct msix *m, struct msix_vector *v)
{
	uint64_t one = 1;

	if (write(v->fd, &one, sizeof(one)) != sizeof(one))
		log_warn_ratelimited(&m->rl, "msix: cannot signal an interrupt eventfd");
	m->delivered++;
}

/* Brings the route up to date and delivers what is pending, if V can be
 * delivered now (lock held). */
static void msix_update(struct msix *m, struct msix_vector *v)
{
	if (!deliverable(m, v))
		return;
	if (v->route_stale && v->has_gsi) {
		uint64_t addr = (uint64_t)v->e.addr_hi << 32 | v->e.addr_lo;
		if (irq_routing_set_msi(m->routing, v->gsi, addr, v->e.data) < 0)
			log_warn_ratelimited(&m->rl, "msix: cannot route vector to 0x%llx/0x%x",
					     (unsigned long long)addr, v->e.data);
	}
	v->route_stale = false;
	if (v->pending) {
		v->pending = false;
		msix_fire(m, v);
	}
}

void msix_set_control(struct msix *m, bool enabled, bool function_masked)
{
	pthread_mutex_lock(&m->lock);
	m->enabled = enabled;
	m->function_masked = function_masked;
	for (unsigned int i = 0; i < m->nr; i++)
		msix_update(m, &m->v[i]);
	pthread_mutex_unlock(&m->lock);
}

static bool access_ok(uint64_t offset, unsigned int size, uint64_t limit)
{
	return (size == 4 || size == 8) && offset % size == 0 && offset < limit &&
	       size <= limit - offset;
}

static uint32_t *entry_word(struct msix_entry *e, unsigned int word)
{
	switch (word) {
	case 0:
		return &e->addr_lo;
	case 1:
		return &e->addr_hi;
	case 2:
		return &e->data;
	default:
		return &e->ctrl;
	}
}

void msix_table_read(struct msix *m, uint64_t offset, void *data, unsigned int size)
{
	uint32_t words[2] = { 0, 0 };

	if (access_ok(offset, size, MSIX_TABLE_BYTES(m->nr))) {
		pthread_mutex_lock(&m->lock);
		struct msix_entry *e = &m->v[offset / MSIX_ENTRY_SIZE].e;
		unsigned int w = (unsigned int)(offset % MSIX_ENTRY_SIZE) / 4;
		for (unsigned int i = 0; i < size / 4; i++)
			words[i] = *entry_word(e, w + i);
		pthread_mutex_unlock(&m->lock);
	}
	memcpy(data, words, size);
}

void msix_table_write(struct msix *m, uint64_t offset, const void *data, unsigned int size)
{
	uint32_t words[2];

	if (!access_ok(offset, size, MSIX_TABLE_BYTES(m->nr)))
		return;
	memcpy(words, data, size);
	pthread_mutex_lock(&m->lock);
	struct msix_vector *v = &m->v[offset / MSIX_ENTRY_SIZE];
	unsigned int w = (unsigned int)(offset % MSIX_ENTRY_SIZE) / 4;
	for (unsigned int i = 0; i < size / 4; i++, w++) {
		if (w == 3) {
			v->e.ctrl = words[i] & MSIX_CTRL_MASKBIT; /* the other bits are reserved */
		} else if (*entry_word(&v->e, w) != words[i]) {
			*entry_word(&v->e, w) = words[i];
			v->route_stale = true;
		}
	}
	msix_update(m, v);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t offset, void *data, unsigned int size)
{
	uint64_t bits = 0;

	if (access_ok(offset, size, MSIX_PBA_BYTES(m->nr))) {
		pthread_mutex_lock(&m->lock);
		unsigned int first = (unsigned int)offset * 8;
		for (unsigned int i = 0; i < size * 8 && first + i < m->nr; i++)
			if (m->v[first + i].pending)
				bits |= 1ULL << i;
		pthread_mutex_unlock(&m->lock);
	}
	memcpy(data, &bits, size); /* little-endian host: the low bytes first */
}

void msix_notify(struct msix *m, unsigned int vector)
{
	if (vector >= m->nr)
		return;
	pthread_mutex_lock(&m->lock);
	struct msix_vector *v = &m->v[vector];
	if (deliverable(m, v)) {
		msix_update(m, v);
		msix_fire(m, v);
	} else {
		v->pending = true;
		m->pended++;
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_clear_pending(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr; i++)
		m->v[i].pending = false;
	pthread_mutex_unlock(&m->lock);
}

void msix_counters(struct msix *m, uint64_t *delivered, uint64_t *pended)
{
	pthread_mutex_lock(&m->lock);
	*delivered = m->delivered;
	*pended = m->pended;
	pthread_mutex_unlock(&m->lock);
}

void msix_save(struct msix *m, struct msix_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr; i++) {
		s->table[i] = m->v[i].e;
		if (m->v[i].pending)
			s->pending[i / 64] |= 1ULL << (i % 64);
	}
	pthread_mutex_unlock(&m->lock);
}

int msix_check_state(const struct msix *m, const struct msix_state *s)
{
	for (unsigned int i = m->nr; i < MSIX_MAX_VECTORS; i++) {
		static const struct msix_entry zero;
		if (memcmp(&s->table[i], &zero, sizeof(zero)) != 0 ||
		    (s->pending[i / 64] >> (i % 64)) & 1)
			return -EINVAL;
	}
	for (unsigned int i = 0; i < m->nr; i++)
		if (s->table[i].ctrl & ~(uint32_t)MSIX_CTRL_MASKBIT)
			return -EINVAL;
	return 0;
}

int msix_restore(struct msix *m, const struct msix_state *s)
{
	if (msix_check_state(m, s) < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr; i++) {
		struct msix_vector *v = &m->v[i];
		v->e = s->table[i];
		v->pending = (s->pending[i / 64] >> (i % 64)) & 1;
		v->route_stale = true;
		msix_update(m, v);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}
