// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "rng.h"
#include "vireo/util.h"

enum { RNG_REQUESTS, RNG_BYTES, RNG_NR_COUNTERS };
static const char *const rng_counter_names[RNG_NR_COUNTERS] = { "requests", "bytes" };

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_elem elem; /* used under the device lock only */
};

/* Fills ELEM's writable part with up to LIMIT random bytes; returns how many. */
static size_t rng_fill(struct virtio_rng *rng, const struct virtq_elem *elem, size_t limit)
{
	size_t done = 0;

	for (unsigned int i = elem->out_num; i < elem->out_num + elem->in_num && done < limit; i++) {
		uint8_t *p = elem->iov[i].iov_base;
		size_t want = MIN(elem->iov[i].iov_len, limit - done), got = 0;
		while (got < want) {
			ssize_t n = getrandom(p + got, want - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				log_warn_ratelimited(&rng->vdev.rl, "virtio %s: getrandom failed",
						     rng->vdev.name);
				return done + got;
			}
			got += (size_t)n;
		}
		done += got;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *dev, struct virtq *vq)
{
	struct virtio_rng *rng = (struct virtio_rng *)dev;

	while (virtio_pop(dev, vq, &rng->elem) > 0) {
		size_t n = rng_fill(rng, &rng->elem, VIRTIO_RNG_MAX_REQUEST);
		virtio_push(dev, vq, &rng->elem, (uint32_t)n);
		virtio_count(dev, RNG_REQUESTS, 1);
		virtio_count(dev, RNG_BYTES, n);
	}
	virtio_notify(dev, vq);
}

static void rng_destroy(struct virtio_dev *dev)
{
	free(dev);
}

static const struct virtio_dev_ops rng_ops = {
	.type_name = "rng",
	.device_type = VIRTIO_ID_RNG,
	.pci_class = 0xff0000, /* unclassified device */
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
	.counter_names = rng_counter_names,
	.nr_counters = RNG_NR_COUNTERS,
};

int virtio_rng_create(const struct virtio_host *host, const char *name, struct virtio_dev **out)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	if (!rng)
		return -ENOMEM;
	_Static_assert(offsetof(struct virtio_rng, vdev) == 0, "vdev first");
	ret = virtio_dev_init(&rng->vdev, &rng_ops, host, name, 1, VIRTIO_RNG_QUEUE_SIZE);
	if (ret < 0) {
		virtio_dev_destroy(&rng->vdev);
		return ret;
	}
	*out = &rng->vdev;
	return 0;
}
