// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the vdi header, descriptor and table parsers through the block layer. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "vdi");
}
