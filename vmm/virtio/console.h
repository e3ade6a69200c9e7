/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console (virtio 1.x, 5.3) with one port, hvc0 in a Linux guest; no
 * multiport. What the guest sends on the transmit queue (1) is written to
 * OUT_FD; host input handed to virtio_console_receive() is copied into the
 * buffers the guest offers on the receive queue (0). The emergency-write
 * register (VIRTIO_CONSOLE_F_EMERG_WRITE, offered) writes one byte straight
 * to OUT_FD, before the driver is even ready.
 *
 * Output is written on the I/O thread as it comes; when OUT_FD cannot take
 * it (a full non-blocking pipe, an error) the bytes are dropped and counted.
 * Counters: rx_bytes, tx_bytes, tx_dropped, emerg_bytes.
 */
#ifndef VMM_VIRTIO_CONSOLE_H
#define VMM_VIRTIO_CONSOLE_H

#include "virtio.h"

#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2
#define VIRTIO_CONSOLE_QUEUE_SIZE    256

/* OUT_FD (not owned; -1 discards output) receives what the guest writes. */
int virtio_console_create(const struct virtio_host *host, const char *name, int out_fd,
			  struct virtio_dev **out);

/*
 * Gives up to LEN bytes of host input to the guest (any thread). Returns how
 * many went: 0 while the driver is not ready or has no receive buffer, so
 * the caller keeps the rest and tries again later.
 */
size_t virtio_console_receive(struct virtio_dev *dev, const uint8_t *buf, size_t len);

#endif
