// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_request.h"

static const char *const cmd_names[API_CMD_COUNT] = {
	[API_STATUS] = "status",
	[API_PAUSE] = "pause",
	[API_RESUME] = "resume",
	[API_CTRL_ALT_DEL] = "ctrl-alt-del",
	[API_STOP] = "stop",
	[API_STATS] = "stats",
};

const char *api_cmd_name(enum api_cmd cmd)
{
	return cmd < API_CMD_COUNT ? cmd_names[cmd] : "?";
}

int api_request_parse(const char *line, size_t len, struct api_request *out, char *err,
		      size_t errlen)
{
	json_error_t jerr;
	json_t *root, *cmd, *id;
	const char *key;
	json_t *value;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > API_MAX_LINE) {
		snprintf(err, errlen, "request longer than %d bytes", API_MAX_LINE);
		return -EINVAL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "malformed JSON at column %d: %s", jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a request is a JSON object");
		goto out;
	}
	id = json_object_get(root, "id");
	if (id) {
		if (json_is_object(id) || json_is_array(id)) {
			snprintf(err, errlen, "\"id\" must be a string, number, boolean or null");
			goto out;
		}
		out->id = json_incref(id);
	}
	json_object_foreach(root, key, value) {
		if (strcmp(key, "cmd") != 0 && strcmp(key, "id") != 0) {
			snprintf(err, errlen, "unknown member \"%.64s\"", key);
			goto out;
		}
	}
	cmd = json_object_get(root, "cmd");
	if (!json_is_string(cmd)) {
		snprintf(err, errlen, "\"cmd\" (a string) is missing");
		goto out;
	}
	for (int i = 0; i < API_CMD_COUNT; i++) {
		if (strcmp(json_string_value(cmd), cmd_names[i]) == 0) {
			out->cmd = (enum api_cmd)i;
			ret = 0;
			goto out;
		}
	}
	snprintf(err, errlen, "unknown command \"%.64s\"", json_string_value(cmd));
out:
	json_decref(root);
	return ret;
}

void api_request_fini(struct api_request *req)
{
	json_decref(req->id);
	req->id = NULL;
}
