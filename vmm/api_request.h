/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests of the VMM control API. The protocol (docs/vireo-vmm.md): a client
 * connects to the unix socket given with --api-sock and writes one JSON object
 * per line, {"cmd": NAME} with an optional "id" echoed back; each request gets
 * one JSON line back, {"ok": true, ...} or {"ok": false, "error": MESSAGE}.
 */
#ifndef VMM_API_REQUEST_H
#define VMM_API_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#define API_MAX_LINE 4096

enum api_cmd {
	API_STATUS,
	API_PAUSE,
	API_RESUME,
	API_CTRL_ALT_DEL,
	API_STOP,
	API_STATS,
	API_CMD_COUNT
};

struct api_request {
	enum api_cmd cmd;
	json_t *id; /* owned; NULL when the request had none */
};

const char *api_cmd_name(enum api_cmd cmd);

/*
 * Parses one request line (without its newline). On success fills OUT (free
 * it with api_request_fini). On bad input returns -EINVAL, leaves a one-line
 * message in ERR, and sets OUT->id if the request had a usable one.
 */
int api_request_parse(const char *line, size_t len, struct api_request *out, char *err,
		      size_t errlen);
void api_request_fini(struct api_request *req);

#endif
