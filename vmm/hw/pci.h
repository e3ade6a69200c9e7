/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI bus 0 behind a host bridge, reached with configuration mechanism #1
 * (address at port 0xCF8, data at 0xCFC-0xCFF), plus the reset control
 * register at 0xCF9. Devices get 256 bytes of configuration space, whose
 * writable bits are described by masks, and BARs that the bus maps on the
 * port or MMIO bus while the guest enables decoding. BAR addresses are
 * assigned when a device is added, as firmware would.
 */
#ifndef VMM_HW_PCI_H
#define VMM_HW_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT    0xcfc
#define PCI_MAX_SLOTS           32
#define PCI_NR_BARS             6
#define PCI_CONFIG_SIZE         256

/* Standard configuration header offsets. */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID   0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_IO     0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_type type;
	uint64_t size;             /* a power of two */
	uint64_t mapped_at;        /* where it is on the bus, if mapped */
	bool mapped;
	const struct bus_ops *ops; /* offsets are relative to the BAR */
	void *opaque;
};

struct pci;

struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* bits cleared by writing 1 */
	struct pci_bar bars[PCI_NR_BARS];
	uint8_t next_cap;                 /* where the next capability goes */
	const char *name;
	unsigned int slot;
	struct pci *pci;
	/* Called after a configuration write landed (with the PCI lock held). */
	void (*config_written)(struct pci_device *dev, unsigned int offset, unsigned int size);
	/* Optional: called for each configuration read (PCI lock held) with the
	 * stored VALUE; returns what the guest reads (registers with side effects). */
	uint32_t (*config_read)(struct pci_device *dev, unsigned int offset, unsigned int size,
				uint32_t value);
	void *opaque;
};

/* Fills the header of a type-0 function; the device may refine masks after. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsystem_vendor, uint16_t subsystem);

/* Declares BAR INDEX (a 64-bit BAR also uses INDEX + 1) of SIZE bytes. */
int pci_device_set_bar(struct pci_device *dev, unsigned int index, enum pci_bar_type type,
		       uint64_t size, const struct bus_ops *ops, void *opaque);

/* Appends a capability (LEN bytes, first byte its ID; the next pointer is
 * filled in) to the list. Returns its offset in config space, or -ENOSPC. */
int pci_device_add_capability(struct pci_device *dev, const void *cap, unsigned int len);

/*
 * PIO and MMIO are the buses BARs are mapped on; MMIO32_BASE/END the window
 * for 32-bit BARs, MMIO64_BASE the start of the one for 64-bit BARs.
 * RESET is called when the guest writes a reset to port 0xCF9.
 */
int pci_create(struct bus *pio, struct bus *mmio, uint64_t mmio32_base,
	       uint64_t mmio32_end, uint64_t mmio64_base,
	       void (*reset)(void *opaque), void *opaque, struct pci **out);
void pci_destroy(struct pci *pci);

/* Puts DEV (not owned) in the first free slot and assigns its BARs. */
int pci_add_device(struct pci *pci, struct pci_device *dev);

/* Copies DEV's configuration space out (PCI lock taken), for saving. */
void pci_device_save_config(struct pci_device *dev, uint8_t config[PCI_CONFIG_SIZE]);
/*
 * Loads a saved configuration space into DEV (added to a bus): the bits the
 * guest can write (and the write-1-to-clear ones) are taken from CONFIG,
 * BARs are mapped as it says, and config_written is called for the whole
 * space. -EINVAL (nothing changed) if CONFIG differs from DEV in a
 * read-only bit, i.e. it was saved from another kind of device.
 */
int pci_device_restore_config(struct pci_device *dev, const uint8_t config[PCI_CONFIG_SIZE]);

/* The ports the bus answers on; register them with pci_bus_ops. */
#define PCI_PORTS_BASE 0xcf8
#define PCI_PORTS_LEN  8
extern const struct bus_ops pci_bus_ops;

/*
 * The bus's own state and every device's configuration space (BAR values,
 * command register, capabilities as the guest left them). Devices keep the
 * rest of their state themselves.
 */
struct pci_state {
	uint32_t config_address;
	uint32_t present;                          /* bit n: a device in slot n */
	uint8_t config[PCI_MAX_SLOTS][PCI_CONFIG_SIZE];
};

void pci_save(struct pci *pci, struct pci_state *state);
/* Restores onto a bus with the same devices in the same slots (else -EINVAL,
 * nothing changed) and maps BARs as the restored registers say. */
int pci_restore(struct pci *pci, const struct pci_state *state);

/* Configuration access as the guest does it (for tests and the bus ops). */
uint32_t pci_config_read(struct pci *pci, unsigned int slot, unsigned int offset,
			 unsigned int size);
void pci_config_write(struct pci *pci, unsigned int slot, unsigned int offset,
		      unsigned int size, uint32_t value);

#endif
