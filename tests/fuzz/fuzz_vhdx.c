// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the VHDX header, region table, metadata and BAT parsers. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "vhdx");
}
