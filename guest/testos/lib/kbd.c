// SPDX-License-Identifier: Apache-2.0
/*
 * The PS/2 keyboard behind the i8042, polled (interrupts stay off). Tracks
 * ctrl and alt in scancode set 1, which the controller delivers while it
 * translates (its default). Without a controller (port 0x64 reads 0xff, as
 * on QEMU microvm) nothing is ever typed.
 */
#include "io.h"
#include "testos.h"

#define I8042_DATA	0x60
#define I8042_STATUS	0x64
#define STS_OBF		0x01
#define STS_AUX		0x20

#define SC_CTRL		0x1d
#define SC_ALT		0x38
#define SC_DEL		0x53
#define SC_EXTENDED	0xe0
#define SC_BREAK	0x80

static bool ctrl_down, alt_down, extended;

bool kbd_ctrl_alt_del(void)
{
	uint8_t status = inb(I8042_STATUS);

	while (status != 0xff && (status & STS_OBF)) {
		uint8_t sc = inb(I8042_DATA);
		bool down = !(sc & SC_BREAK);
		uint8_t key = sc & (uint8_t)~SC_BREAK;

		if (status & STS_AUX) {
			/* a mouse byte: not ours */
		} else if (sc == SC_EXTENDED) {
			extended = true;
		} else {
			if (key == SC_CTRL)
				ctrl_down = down;
			else if (key == SC_ALT)
				alt_down = down;
			else if (key == SC_DEL && extended && down && ctrl_down && alt_down)
				return true;
			extended = false;
		}
		status = inb(I8042_STATUS);
	}
	return false;
}
