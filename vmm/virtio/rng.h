/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.x, 5.4): one request queue; every device-writable
 * buffer the driver offers comes back filled from getrandom(2), up to
 * VIRTIO_RNG_MAX_REQUEST bytes per chain (the rest of a larger buffer is
 * left alone and the used length says how much was filled).
 * Counters: requests, bytes.
 */
#ifndef VMM_VIRTIO_RNG_H
#define VMM_VIRTIO_RNG_H

#include "virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE  256
#define VIRTIO_RNG_MAX_REQUEST (64 * 1024)

int virtio_rng_create(const struct virtio_host *host, const char *name, struct virtio_dev **out);

#endif
