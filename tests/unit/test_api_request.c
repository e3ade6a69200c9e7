// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "api_request.h"

static int parse(const char *s, struct api_request *req, char *err)
{
	return api_request_parse(s, strlen(s), req, err, 256);
}

static void test_valid_requests(void **state)
{
	struct api_request req;
	char err[256];
	(void)state;

	for (int i = 0; i < API_CMD_COUNT; i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"cmd\": \"%s\"}", api_cmd_name((enum api_cmd)i));
		assert_int_equal(parse(line, &req, err), 0);
		assert_int_equal(req.cmd, i);
		assert_null(req.id);
		api_request_fini(&req);
	}
	assert_int_equal(parse("{\"id\": 7, \"cmd\": \"pause\"}", &req, err), 0);
	assert_int_equal(json_integer_value(req.id), 7);
	api_request_fini(&req);
}

static void test_rejected_requests(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "\"status\"", "{\"cmd\": 1}", "{\"cmd\": \"reboot\"}",
		"{\"cmd\": \"status\", \"extra\": true}", "{\"cmd\": \"status\", \"cmd\": \"stop\"}",
		"{\"cmd\": \"status\", \"id\": {}}", "{\"cmd\": \"status\"} trailing",
		"{\"cmd\": \"st\\u0000atus\"}",
	};
	struct api_request req;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse(bad[i], &req, err), -EINVAL);
		assert_true(strlen(err) > 0);
		api_request_fini(&req);
	}
	/* The id of a bad request is still echoed. */
	assert_int_equal(parse("{\"id\": \"x\", \"cmd\": \"nope\"}", &req, err), -EINVAL);
	assert_string_equal(json_string_value(req.id), "x");
	api_request_fini(&req);
}

static void test_oversized_request(void **state)
{
	static char big[API_MAX_LINE + 2];
	struct api_request req;
	char err[256];
	(void)state;

	memset(big, ' ', sizeof(big) - 1);
	assert_int_equal(api_request_parse(big, sizeof(big) - 1, &req, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests),
		cmocka_unit_test(test_rejected_requests),
		cmocka_unit_test(test_oversized_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
