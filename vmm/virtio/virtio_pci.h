/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout of a vireo virtio-pci device (virtio 1.x modern transport,
 * no legacy interface). Drivers find every region through the vendor
 * capabilities; the fixed layout below is what those capabilities say.
 *
 * BAR 0, 32-bit memory, 32 KiB (below 4 GiB, so a guest that maps only its
 * first 4 GiB reaches it), one page per region:
 *   0x0000  common configuration (struct virtio_pci_common_cfg, 0x3c bytes)
 *   0x1000  ISR status (1 byte; reading clears it)
 *   0x2000  device configuration (ops->config_size bytes)
 *   0x3000  notifications: queue N at 0x3000 + 4 * N (notify_off_multiplier 4,
 *           queue_notify_off = N); each address is a KVM ioeventfd
 *   0x4000  MSI-X table (16 bytes per vector: vector 0 is for configuration
 *           changes by convention of the driver, any may be used)
 *   0x5000  MSI-X pending-bit array
 * PCI: vendor 0x1af4, device 0x1040 + type, revision 1, subsystem vendor
 * 0x1af4, subsystem 0x40 + type, interrupt pin 0 (no INTx: MSI-X only).
 * Capabilities: common, notify, ISR, device (when config_size > 0),
 * PCI configuration access (VIRTIO_PCI_CAP_PCI_CFG), MSI-X.
 */
#ifndef VMM_VIRTIO_VIRTIO_PCI_H
#define VMM_VIRTIO_VIRTIO_PCI_H

#define VIRTIO_PCI_BAR            0
#define VIRTIO_PCI_BAR_SIZE       0x8000
#define VIRTIO_PCI_COMMON_OFFSET  0x0000
#define VIRTIO_PCI_ISR_OFFSET     0x1000
#define VIRTIO_PCI_DEVICE_OFFSET  0x2000
#define VIRTIO_PCI_NOTIFY_OFFSET  0x3000
#define VIRTIO_PCI_MSIX_TABLE     0x4000
#define VIRTIO_PCI_MSIX_PBA       0x5000
#define VIRTIO_PCI_REGION_SIZE    0x1000
#define VIRTIO_PCI_NOTIFY_MULT    4

#endif
