// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vireo/log.h"

static void test_level_names_round_trip(void **state)
{
	(void)state;
	for (int l = LOG_LEVEL_NONE; l <= LOG_LEVEL_TRIVIA; l++)
		assert_int_equal(log_level_parse(log_level_name(l)), l);
	assert_int_equal(log_level_parse("loud"), -EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_VERBOSE), "verbose");
}

static void test_ratelimit_allows_a_burst_then_stops(void **state)
{
	struct log_ratelimit rl = { 0 };
	int allowed = 0;
	(void)state;
	log_set_level(LOG_LEVEL_NONE); /* keep the "suppressed" line quiet */
	for (int i = 0; i < 100; i++)
		allowed += log_ratelimit_allow(&rl);
	assert_int_equal(allowed, LOG_RATELIMIT_BURST);
	assert_int_equal(rl.suppressed, 100 - LOG_RATELIMIT_BURST);
}

static int formatted_calls;
static const char *count_call(void)
{
	formatted_calls++;
	return "x";
}

static void test_disabled_level_does_not_format(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	formatted_calls = 0;
	log_info("%s", count_call());
	assert_int_equal(formatted_calls, 0);
	log_set_level(LOG_LEVEL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_names_round_trip),
		cmocka_unit_test(test_ratelimit_allows_a_burst_then_stops),
		cmocka_unit_test(test_disabled_level_does_not_format),
	};
	log_init("test_log", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
