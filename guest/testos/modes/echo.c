// SPDX-License-Identifier: Apache-2.0
/*
 * echo: reads lines from the serial port and prints each back as
 * "echo: <line>", until a line "quit" (then passes). Checks the UART's
 * receive path and the host's console end to end.
 */
#include "io.h"
#include "mode.h"
#include "testos.h"

#define LINE_MAX 128

static void echo_run(void)
{
	char line[LINE_MAX];
	size_t len = 0;

	con_printf("echo: ready\n");
	for (;;) {
		int c = serial_read_byte();

		if (c < 0) {
			cpu_relax();
			continue;
		}
		if (c == '\r' || c == '\n') {
			line[len] = '\0';
			if (len == 0)
				continue;
			con_printf("echo: %s\n", line);
			if (strcmp(line, "quit") == 0)
				return;
			len = 0;
		} else if (len < LINE_MAX - 1) {
			line[len++] = (char)c;
		}
	}
}

static const struct mode echo_mode = {
	.name = "echo",
	.run = echo_run,
	.usage = "print each line read from the serial port as 'echo: LINE'; 'quit' ends",
	.default_exit = EXIT_METHOD_DEBUG,
};
MODE_REGISTER(echo_mode);
