// SPDX-License-Identifier: Apache-2.0
/* Fuzzes format probing and whichever parser the probe picks. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, NULL);
}
