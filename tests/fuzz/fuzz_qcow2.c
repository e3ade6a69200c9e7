// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the qcow2 header, extension, L1/L2, refcount and snapshot parsers. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "qcow2");
}
