// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel command line: space-separated words and key=value pairs
 * ("..." quotes a value with spaces). Unknown keys are left alone, so a
 * VMM may add its own (console=ttyS0 and the like).
 */
#ifndef TESTOS_CMDLINE_H
#define TESTOS_CMDLINE_H

#include <stdint.h>

#define CMDLINE_MAX	2048	/* bytes kept, NUL included */
#define CMDLINE_TOKENS	64

/* Splits s (copied). Returns 0, or -E2BIG when tokens past
 * CMDLINE_TOKENS were dropped. */
int cmdline_parse(const char *s);
/* The value of the last key=value for key, "" for a bare "key", else NULL. */
const char *cmdline_get(const char *key);
/* Number value of key (decimal or 0x hex): 0 with *out set (def when the
 * key is absent), or -EINVAL after printing which key is wrong. */
int cmdline_get_u64(const char *key, uint64_t def, uint64_t *out);
/* The n-th bare word (no '='), or NULL. */
const char *cmdline_word(unsigned int n);

#endif
