// SPDX-License-Identifier: Apache-2.0
/* The verbs that change one image in place: create, snapshot, resize. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "img.h"

int cmd_create(int argc, char **argv)
{
	struct block_create_opts o = {0};
	const char *fmt = "raw", *bfile = NULL, *bfmt = NULL;
	char *optstr = NULL;
	int c, r;

	while ((c = getopt(argc, argv, "f:b:F:o:qu")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'b': bfile = optarg; break;
		case 'F': bfmt = optarg; break;
		case 'o': optstr = optarg; break;
		case 'q': img_quiet = true; break;
		case 'u': break;
		default: return 1;
		}
	}
	if (optstr && img_parse_opts(optstr, &o))
		return 1;
	if (bfile)
		o.backing_file = bfile;
	if (bfmt)
		o.backing_fmt = bfmt;
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "vireo-img create: expecting FILE [SIZE]\n");
		return 1;
	}
	if (argc - optind == 2 && img_parse_size(argv[optind + 1], &o.size)) {
		fprintf(stderr, "vireo-img create: invalid size '%s'\n", argv[optind + 1]);
		return 1;
	}
	if (argc - optind == 1 && !o.backing_file && !o.size) {
		fprintf(stderr, "vireo-img create: image size required\n");
		return 1;
	}
	if (o.size % 512) {
		o.size = (o.size + 511) & ~511ull;
	}
	if (!block_format_known(fmt, true)) {
		fprintf(stderr, "vireo-img create: unknown or read-only format '%s'\n", fmt);
		return 1;
	}
	o.allowed_dirs = img_allowed_dirs;
	if (!img_quiet)
		printf("Formatting '%s', fmt=%s size=%llu%s%s\n", argv[optind], fmt,
		       (unsigned long long)o.size, o.backing_file ? " backing_file=" : "",
		       o.backing_file ? o.backing_file : "");
	r = block_create(fmt, argv[optind], &o);
	if (r) {
		fprintf(stderr, "vireo-img create: %s: %s\n", argv[optind], strerror(-r));
		return 1;
	}
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	char action = 0;
	const char *name = NULL;
	struct blockdev *bd;
	int c, r;

	while ((c = getopt(argc, argv, "lc:a:d:qU")) != -1) {
		switch (c) {
		case 'l': case 'c': case 'a': case 'd':
			if (action) {
				fprintf(stderr, "vireo-img snapshot: give one of -l, -c, -a, -d\n");
				return 1;
			}
			action = (char)c;
			name = optarg;
			break;
		case 'q': img_quiet = true; break;
		case 'U': break;
		default: return 1;
		}
	}
	if (!action || optind != argc - 1) {
		fprintf(stderr, "vireo-img snapshot: expecting -l|-c|-a|-d and one image file name\n");
		return 1;
	}
	struct block_open_opts oo = { .read_only = action == 'l', .no_backing = true };
	r = block_open(argv[optind], &oo, &bd);
	if (r) {
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	switch (action) {
	case 'l': {
		struct block_snapshot *s;
		int n;
		r = block_snapshot_list(bd, &s, &n);
		if (r)
			break;
		printf("Snapshot list:\n");
		printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK",
		       "ICOUNT");
		for (int i = 0; i < n; i++) {
			char date[32], sz[32];
			time_t t = s[i].date_sec;
			struct tm tm;
			localtime_r(&t, &tm);
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
			uint64_t ms = s[i].vm_clock_nsec / 1000000;
			img_human_size(s[i].vm_state_size, sz, sizeof(sz));
			printf("%-9s %-17s%7s%20s %02llu:%02llu:%02llu.%03llu", s[i].id, s[i].name,
			       sz, date, (unsigned long long)(ms / 3600000),
			       (unsigned long long)(ms / 60000 % 60),
			       (unsigned long long)(ms / 1000 % 60), (unsigned long long)(ms % 1000));
			if (s[i].icount != UINT64_MAX)
				printf("%11llu", (unsigned long long)s[i].icount);
			printf("\n");
		}
		block_snapshots_free(s, n);
		break;
	}
	case 'c': r = block_snapshot_create(bd, name); break;
	case 'a': r = block_snapshot_apply(bd, name); break;
	case 'd': r = block_snapshot_delete(bd, name); break;
	}
	if (!r)
		r = block_flush(bd);
	block_close(bd);
	if (r) {
		fprintf(stderr, "vireo-img snapshot: %s\n", r == -ENOTSUP ?
			"this image format does not support snapshots" : strerror(-r));
		return 1;
	}
	return 0;
}

int cmd_resize(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "shrink", no_argument, NULL, 's' },
		{ "preallocation", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL, *prealloc = NULL;
	bool shrink = false;
	struct blockdev *bd;
	int c, r;

	while ((c = getopt_long(argc, argv, "f:q", lo, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'q': img_quiet = true; break;
		case 's': shrink = true; break;
		case 'P': prealloc = optarg; break;
		default: return 1;
		}
	}
	/* "-1G" looks like an option to getopt; qemu-img accepts it after the name. */
	if (optind != argc - 2) {
		fprintf(stderr, "vireo-img resize: expecting FILE and [+|-]SIZE\n");
		return 1;
	}
	const char *s = argv[optind + 1];
	int sign = 0;
	uint64_t v;
	if (*s == '+' || *s == '-')
		sign = *s++ == '+' ? 1 : -1;
	if (img_parse_size(s, &v)) {
		fprintf(stderr, "vireo-img resize: invalid size '%s'\n", argv[optind + 1]);
		return 1;
	}
	if (img_open(argv[optind], fmt, true, &bd))
		return 1;
	uint64_t cur = block_size(bd), want = v;
	if (sign > 0)
		want = cur + v;
	else if (sign < 0)
		want = v > cur ? 0 : cur - v;
	want = (want + 511) & ~511ull;
	if (want < cur && !shrink) {
		fprintf(stderr, "vireo-img resize: use the --shrink option to perform a shrink operation\n");
		block_close(bd);
		return 1;
	}
	r = block_resize(bd, want, prealloc);
	if (!r)
		r = block_flush(bd);
	block_close(bd);
	if (r) {
		fprintf(stderr, "vireo-img resize: %s\n", strerror(-r));
		return 1;
	}
	if (!img_quiet)
		printf("Image resized.\n");
	return 0;
}
