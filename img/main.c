// SPDX-License-Identifier: Apache-2.0
/*
 * vireo-img entry point: global options, the verb table, and the helpers the
 * verbs share (sizes, -o options, opening images, progress).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"
#include "vireo/log.h"

const char *const *img_allowed_dirs;
bool img_quiet;

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
} verbs[] = {
	{ "info", cmd_info, "info [-f FMT] [--output=human|json] [--backing-chain] FILE" },
	{ "create", cmd_create, "create -f FMT [-b BACKING [-F BACKING_FMT]] [-o OPTIONS] FILE [SIZE]" },
	{ "convert", cmd_convert, "convert [-f FMT] -O FMT [-o OPTIONS] [-c] [-p] [-q] [-S SIZE] [-t CACHE] SRC DST" },
	{ "check", cmd_check, "check [-f FMT] [-r leaks|all] [--output=human|json] FILE" },
	{ "snapshot", cmd_snapshot, "snapshot [-l | -c NAME | -a NAME | -d NAME] FILE" },
	{ "resize", cmd_resize, "resize [-f FMT] [--shrink] [--preallocation=MODE] FILE [+|-]SIZE" },
	{ "map", cmd_map, "map [-f FMT] [--output=human|json] FILE" },
	{ "compare", cmd_compare, "compare [-f FMT] [-F FMT] [-s] [-q] FILE1 FILE2" },
	{ "commit", cmd_commit, "commit [-f FMT] [-d] [-q] FILE" },
	{ "rebase", cmd_rebase, "rebase [-f FMT] [-u] -b BACKING [-F BACKING_FMT] FILE" },
	{ "measure", cmd_measure, "measure [--output=human|json] -O FMT [-o OPTIONS] (--size SIZE | [-f FMT] FILE)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vireo-img [--allow-dir DIR]... [-v] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %s\n", verbs[i].usage);
	fprintf(f, "\nBacking files must lie in an --allow-dir directory when any is given\n"
		   "(also VIREO_IMG_ALLOWED_DIRS, colon-separated).\n");
}

int img_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	if (!*s || *s == '-')
		return -EINVAL;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	double mul = 1;
	switch (*end) {
	case 0: break;
	case 'b': case 'B': end++; break;
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	case 'p': case 'P': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; end++; break;
	case 'e': case 'E': mul = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024; end++; break;
	default: return -EINVAL;
	}
	if (mul > 1 && (*end == 'B' || *end == 'b'))
		end++;
	if (*end)
		return -EINVAL;
	v *= mul;
	if (v >= 18446744073709551615.0 || (mul == 1 && v != floor(v)))
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

static bool parse_bool(const char *v)
{
	return !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1");
}

int img_parse_opts(char *s, struct block_create_opts *o)
{
	char *save = NULL;

	for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		uint64_t n;
		if (!v) {
			fprintf(stderr, "vireo-img: option '%s' needs a value\n", kv);
			return -EINVAL;
		}
		*v++ = 0;
		if (!strcmp(kv, "cluster_size")) {
			if (img_parse_size(v, &n) || n > UINT32_MAX)
				goto bad;
			o->cluster_size = (uint32_t)n;
		} else if (!strcmp(kv, "backing_file")) {
			o->backing_file = v;
		} else if (!strcmp(kv, "backing_fmt")) {
			o->backing_fmt = v;
		} else if (!strcmp(kv, "preallocation")) {
			o->preallocation = v;
		} else if (!strcmp(kv, "compression_type")) {
			o->compression_type = v;
		} else if (!strcmp(kv, "compat")) {
			o->compat = v;
		} else if (!strcmp(kv, "lazy_refcounts")) {
			o->lazy_refcounts = parse_bool(v);
		} else if (!strcmp(kv, "extended_l2")) {
			o->extended_l2 = parse_bool(v);
		} else if (!strcmp(kv, "refcount_bits")) {
			if (img_parse_size(v, &n) || n > 64)
				goto bad;
			o->refcount_bits = (int)n;
		} else if (!strcmp(kv, "static")) {
			if (parse_bool(v))
				o->subformat = "static";
		} else if (!strcmp(kv, "subformat")) {
			o->subformat = v;
		} else if (!strcmp(kv, "size")) {
			if (img_parse_size(v, &o->size))
				goto bad;
		} else {
			fprintf(stderr, "vireo-img: unknown option '%s'\n", kv);
			return -EINVAL;
		}
		continue;
bad:
		fprintf(stderr, "vireo-img: invalid value '%s' for option '%s'\n", v, kv);
		return -EINVAL;
	}
	return 0;
}

int img_open(const char *file, const char *fmt, bool rw, struct blockdev **out)
{
	struct block_open_opts o = {
		.format = fmt, .read_only = !rw, .allowed_dirs = img_allowed_dirs,
	};
	int r = block_open(file, &o, out);

	if (r)
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", file, strerror(-r));
	return r;
}

const char *img_human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, len, "%.3g %s", d, units[u]);
	return buf;
}

void img_progress(double done, double total)
{
	printf("    (%.2f/100%%)\r", total > 0 ? done * 100.0 / total : 100.0);
	fflush(stdout);
}

static char **split_dirs(const char *s, int *n)
{
	char *copy = strdup(s), *save = NULL;
	char **v = calloc(strlen(s) + 2, sizeof(char *));
	int k = 0;

	if (!copy || !v)
		return NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		v[k++] = d;
	*n = k;
	return v;
}

int main(int argc, char **argv)
{
	static const char *dirs[256];
	int ndirs = 0, i = 1;
	const char *env = getenv("VIREO_IMG_ALLOWED_DIRS");

	log_init("vireo-img", NULL);
	log_set_level(LOG_LEVEL_WARNING);
	if (env && *env) {
		int n = 0;
		char **v = split_dirs(env, &n);
		for (int k = 0; v && k < n && ndirs < 255; k++)
			dirs[ndirs++] = v[k];
		img_allowed_dirs = dirs;
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--allow-dir") && i + 1 < argc && ndirs < 255) {
			dirs[ndirs++] = argv[++i];
			img_allowed_dirs = dirs;
		} else if (!strncmp(argv[i], "--allow-dir=", 12) && ndirs < 255) {
			dirs[ndirs++] = argv[i] + 12;
			img_allowed_dirs = dirs;
		} else if (!strcmp(argv[i], "-v")) {
			log_set_level(LOG_LEVEL_VERBOSE);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (!strcmp(argv[i], verbs[k].name)) {
			optind = 1;
			return verbs[k].fn(argc - i, argv + i);
		}
	}
	fprintf(stderr, "vireo-img: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 1;
}
