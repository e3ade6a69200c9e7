/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Numbers from the virtio 1.x specification ("Virtual I/O Device (VIRTIO)
 * Version 1.2"): device status bits, feature bits, split-ring layout and the
 * registers of the PCI transport. Written from the specification's text.
 */
#ifndef VMM_VIRTIO_SPEC_H
#define VMM_VIRTIO_SPEC_H

/* 2.1 Device status field. */
#define VIRTIO_STATUS_ACKNOWLEDGE        0x01
#define VIRTIO_STATUS_DRIVER             0x02
#define VIRTIO_STATUS_DRIVER_OK          0x04
#define VIRTIO_STATUS_FEATURES_OK        0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED             0x80
#define VIRTIO_STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |           \
				   VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |        \
				   VIRTIO_STATUS_FAILED)

/* 6 Reserved feature bits (transport and ring features). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_IN_ORDER           35
#define VIRTIO_F_RING_RESET         40
#define VIRTIO_BIT(n) (1ULL << (n))

/* 5 Device types. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5

/* 2.7 Split virtqueues. */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1
#define VIRTQ_DESC_SIZE       16 /* le64 addr, le32 len, le16 flags, le16 next */
#define VIRTQ_USED_ELEM_SIZE  8  /* le32 id, le32 len */
/* Ring sizes in bytes for a queue of N entries, with the event-index fields. */
#define VIRTQ_DESC_BYTES(n)  ((uint64_t)(n) * VIRTQ_DESC_SIZE)
#define VIRTQ_AVAIL_BYTES(n) (6 + 2 * (uint64_t)(n))  /* flags, idx, ring[n], used_event */
#define VIRTQ_USED_BYTES(n)  (6 + 8 * (uint64_t)(n))  /* flags, idx, ring[n], avail_event */
/* Alignment the driver must give each part (2.7, "Virtqueue Alignment"). */
#define VIRTQ_DESC_ALIGN  16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN  4

/* 4.1 Virtio over PCI. */
#define VIRTIO_PCI_VENDOR_ID       0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE  0x1040 /* + device type, for non-transitional devices */
#define VIRTIO_PCI_REVISION        1      /* modern-only devices have revision >= 1 */
#define VIRTIO_PCI_SUBSYSTEM_BASE  0x40   /* non-transitional: subsystem ID 0x40 or higher */

#define PCI_CAP_ID_VNDR  0x09
#define PCI_CAP_ID_MSIX  0x11

/* 4.1.4 virtio_pci_cap.cfg_type */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* struct virtio_pci_cap (16 bytes) and its extensions. */
#define VIRTIO_PCI_CAP_VNDR     0
#define VIRTIO_PCI_CAP_NEXT     1
#define VIRTIO_PCI_CAP_LEN      2
#define VIRTIO_PCI_CAP_CFG_TYPE 3
#define VIRTIO_PCI_CAP_BAR      4
#define VIRTIO_PCI_CAP_ID       5
#define VIRTIO_PCI_CAP_OFFSET   8
#define VIRTIO_PCI_CAP_LENGTH   12
#define VIRTIO_PCI_CAP_SIZE     16
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16 /* le32 notify_off_multiplier */
#define VIRTIO_PCI_NOTIFY_CAP_SIZE 20
#define VIRTIO_PCI_CFG_CAP_DATA    16 /* u8 pci_cfg_data[4] */
#define VIRTIO_PCI_CFG_CAP_SIZE    20

/* 4.1.4.3 struct virtio_pci_common_cfg */
#define VIRTIO_PCI_COMMON_DFSELECT      0x00 /* le32 device_feature_select */
#define VIRTIO_PCI_COMMON_DF            0x04 /* le32 device_feature (ro) */
#define VIRTIO_PCI_COMMON_GFSELECT      0x08 /* le32 driver_feature_select */
#define VIRTIO_PCI_COMMON_GF            0x0c /* le32 driver_feature */
#define VIRTIO_PCI_COMMON_MSIX          0x10 /* le16 config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ          0x12 /* le16 num_queues (ro) */
#define VIRTIO_PCI_COMMON_STATUS        0x14 /* u8 device_status */
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15 /* u8 config_generation (ro) */
#define VIRTIO_PCI_COMMON_Q_SELECT      0x16 /* le16 queue_select */
#define VIRTIO_PCI_COMMON_Q_SIZE        0x18 /* le16 queue_size */
#define VIRTIO_PCI_COMMON_Q_MSIX        0x1a /* le16 queue_msix_vector */
#define VIRTIO_PCI_COMMON_Q_ENABLE      0x1c /* le16 queue_enable */
#define VIRTIO_PCI_COMMON_Q_NOFF        0x1e /* le16 queue_notify_off (ro) */
#define VIRTIO_PCI_COMMON_Q_DESCLO      0x20 /* le64 queue_desc */
#define VIRTIO_PCI_COMMON_Q_DESCHI      0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO     0x28 /* le64 queue_driver */
#define VIRTIO_PCI_COMMON_Q_AVAILHI     0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO      0x30 /* le64 queue_device */
#define VIRTIO_PCI_COMMON_Q_USEDHI      0x34
#define VIRTIO_PCI_COMMON_Q_NDATA       0x38 /* le16 queue_notify_data (ro) */
#define VIRTIO_PCI_COMMON_Q_RESET       0x3a /* le16 queue_reset */
#define VIRTIO_PCI_COMMON_SIZE          0x3c

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* ISR status bits. */
#define VIRTIO_ISR_QUEUE  0x1
#define VIRTIO_ISR_CONFIG 0x2

#endif
