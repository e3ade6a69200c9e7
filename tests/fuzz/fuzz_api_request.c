// SPDX-License-Identifier: Apache-2.0
/* Control-socket request lines from a hostile client. */
#include <stdint.h>
#include <string.h>

#include "api_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_request req;
	char err[256];

	if (api_request_parse((const char *)data, size, &req, err, sizeof(err)) == 0 &&
	    req.cmd >= API_CMD_COUNT)
		__builtin_trap();
	api_request_fini(&req);
	return 0;
}
