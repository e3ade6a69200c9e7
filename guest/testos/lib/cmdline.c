// SPDX-License-Identifier: Apache-2.0
#include "cmdline.h"
#include "testos.h"

static char cmdline_buf[CMDLINE_MAX];
static const char *cmdline_keys[CMDLINE_TOKENS];
static const char *cmdline_vals[CMDLINE_TOKENS];	/* NULL for bare words */
static unsigned int cmdline_ntok;

int cmdline_parse(const char *s)
{
	size_t n = strnlen(s, CMDLINE_MAX - 1);
	char *p = cmdline_buf;
	int ret = 0;

	memcpy(cmdline_buf, s, n);
	cmdline_buf[n] = '\0';
	cmdline_ntok = 0;
	for (;;) {
		char *key, *out;
		bool quoted = false;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		if (cmdline_ntok == CMDLINE_TOKENS) {
			ret = -E2BIG;
			break;
		}
		key = out = p;
		cmdline_vals[cmdline_ntok] = NULL;
		/* Copy in place, dropping quotes, until unquoted white space. */
		for (; *p; p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (!quoted && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
				break;
			if (*p == '=' && !cmdline_vals[cmdline_ntok]) {
				*out++ = '\0';
				cmdline_vals[cmdline_ntok] = out;
				continue;
			}
			*out++ = *p;
		}
		if (*p)
			p++;
		*out = '\0';
		cmdline_keys[cmdline_ntok++] = key;
	}
	return ret;
}

const char *cmdline_get(const char *key)
{
	unsigned int i = cmdline_ntok;

	while (i-- > 0) {
		if (strcmp(cmdline_keys[i], key) == 0)
			return cmdline_vals[i] ? cmdline_vals[i] : "";
	}
	return NULL;
}

int cmdline_get_u64(const char *key, uint64_t def, uint64_t *out)
{
	const char *v = cmdline_get(key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (str_to_u64(v, out) < 0) {
		con_printf("testos: bad number %s=%s\n", key, v);
		return -EINVAL;
	}
	return 0;
}

const char *cmdline_word(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < cmdline_ntok; i++) {
		if (!cmdline_vals[i] && n-- == 0)
			return cmdline_keys[i];
	}
	return NULL;
}
