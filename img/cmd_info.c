// SPDX-License-Identifier: Apache-2.0
/*
 * The read-only verbs: info, map, check (which may repair), measure. JSON
 * output uses qemu-img's key names so scripts written for it work.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "img.h"

enum { OPT_OUTPUT = 256, OPT_CHAIN, OPT_SIZE, OPT_SHRINK, OPT_PREALLOC };

static int parse_output(const char *v, bool *json)
{
	if (!strcmp(v, "json"))
		*json = true;
	else if (!strcmp(v, "human"))
		*json = false;
	else {
		fprintf(stderr, "vireo-img: --output must be human or json\n");
		return -EINVAL;
	}
	return 0;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);

	if (s) {
		printf("%s\n", s);
		free(s);
	}
}

static json_t *snapshots_json(const struct block_info *in)
{
	json_t *a = json_array();

	for (int i = 0; i < in->nb_snapshots; i++) {
		const struct block_snapshot *s = &in->snapshots[i];
		json_t *o = json_object();
		if (s->icount != UINT64_MAX)
			json_object_set_new(o, "icount", json_integer((json_int_t)s->icount));
		json_object_set_new(o, "vm-clock-nsec", json_integer((json_int_t)(s->vm_clock_nsec % 1000000000)));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "date-sec", json_integer(s->date_sec));
		json_object_set_new(o, "date-nsec", json_integer(s->date_nsec));
		json_object_set_new(o, "vm-clock-sec", json_integer((json_int_t)(s->vm_clock_nsec / 1000000000)));
		json_object_set_new(o, "id", json_string(s->id));
		json_object_set_new(o, "vm-state-size", json_integer((json_int_t)s->vm_state_size));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *info_json(struct blockdev *bd, const struct block_info *in)
{
	json_t *o = json_object();

	if (in->nb_snapshots)
		json_object_set_new(o, "snapshots", snapshots_json(in));
	if (in->backing_fmt)
		json_object_set_new(o, "backing-filename-format", json_string(in->backing_fmt));
	json_object_set_new(o, "virtual-size", json_integer((json_int_t)in->virtual_size));
	json_object_set_new(o, "filename", json_string(block_filename(bd)));
	if (in->cluster_size)
		json_object_set_new(o, "cluster-size", json_integer(in->cluster_size));
	json_object_set_new(o, "format", json_string(in->format));
	json_object_set_new(o, "actual-size", json_integer((json_int_t)in->actual_size));
	if (in->compat) {
		json_t *d = json_object(), *fs = json_object();
		bool v3 = strcmp(in->compat, "0.10");
		json_object_set_new(d, "compat", json_string(in->compat));
		json_object_set_new(d, "compression-type", json_string(in->compression_type));
		if (v3)
			json_object_set_new(d, "lazy-refcounts", json_boolean(in->lazy_refcounts));
		json_object_set_new(d, "refcount-bits", json_integer(in->refcount_bits));
		if (v3) {
			json_object_set_new(d, "corrupt", json_boolean(in->corrupt));
			json_object_set_new(d, "extended-l2", json_boolean(in->extended_l2));
		}
		json_object_set_new(fs, "type", json_string(in->format));
		json_object_set_new(fs, "data", d);
		json_object_set_new(o, "format-specific", fs);
	} else if (in->subformat) {
		json_t *d = json_object(), *fs = json_object();
		json_object_set_new(d, "create-type", json_string(in->subformat));
		json_object_set_new(fs, "type", json_string(in->format));
		json_object_set_new(fs, "data", d);
		json_object_set_new(o, "format-specific", fs);
	}
	if (in->backing_file) {
		json_object_set_new(o, "full-backing-filename", json_string(in->full_backing));
		json_object_set_new(o, "backing-filename", json_string(in->backing_file));
	}
	if (strcmp(in->format, "raw"))
		json_object_set_new(o, "dirty-flag", json_boolean(in->dirty));
	return o;
}

static void print_snapshots(const struct block_info *in)
{
	printf("Snapshot list:\n");
	printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
	for (int i = 0; i < in->nb_snapshots; i++) {
		const struct block_snapshot *s = &in->snapshots[i];
		char date[32], sz[32], clk[32];
		time_t t = s->date_sec;
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		uint64_t ms = s->vm_clock_nsec / 1000000;
		snprintf(clk, sizeof(clk), "%02llu:%02llu:%02llu.%03llu",
			 (unsigned long long)(ms / 3600000), (unsigned long long)(ms / 60000 % 60),
			 (unsigned long long)(ms / 1000 % 60), (unsigned long long)(ms % 1000));
		img_human_size(s->vm_state_size, sz, sizeof(sz));
		printf("%-9s %-17s%7s%20s%13s", s->id, s->name, sz, date, clk);
		if (s->icount != UINT64_MAX)
			printf("%11llu", (unsigned long long)s->icount);
		printf("\n");
	}
}

static void info_human(struct blockdev *bd, const struct block_info *in)
{
	char a[32], b[32];

	printf("image: %s\n", block_filename(bd));
	printf("file format: %s\n", in->format);
	printf("virtual size: %s (%llu bytes)\n", img_human_size(in->virtual_size, a, sizeof(a)),
	       (unsigned long long)in->virtual_size);
	printf("disk size: %s\n", img_human_size(in->actual_size, b, sizeof(b)));
	if (in->cluster_size)
		printf("cluster_size: %u\n", in->cluster_size);
	if (in->backing_file) {
		printf("backing file: %s", in->backing_file);
		if (strcmp(in->backing_file, in->full_backing))
			printf(" (actual path: %s)", in->full_backing);
		printf("\n");
	}
	if (in->backing_fmt)
		printf("backing file format: %s\n", in->backing_fmt);
	if (in->dirty)
		printf("cleanly shut down: no\n");
	if (in->nb_snapshots)
		print_snapshots(in);
	if (in->compat) {
		printf("Format specific information:\n");
		bool v3 = strcmp(in->compat, "0.10");
		printf("    compat: %s\n", in->compat);
		printf("    compression type: %s\n", in->compression_type);
		if (v3)
			printf("    lazy refcounts: %s\n", in->lazy_refcounts ? "true" : "false");
		printf("    refcount bits: %d\n", in->refcount_bits);
		if (v3) {
			printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
			printf("    extended l2: %s\n", in->extended_l2 ? "true" : "false");
		}
	} else if (in->subformat) {
		printf("Format specific information:\n    create type: %s\n", in->subformat);
	}
}

int cmd_info(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "backing-chain", no_argument, NULL, OPT_CHAIN },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool json = false, chain = false;
	struct blockdev *bd;
	int c;

	while ((c = getopt_long(argc, argv, "f:U", lo, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'U': break;
		case OPT_OUTPUT: if (parse_output(optarg, &json)) return 1; break;
		case OPT_CHAIN: chain = true; break;
		default: return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vireo-img info: expecting one image file name\n");
		return 1;
	}
	struct block_open_opts oo = { .format = fmt, .read_only = true,
				      .allowed_dirs = img_allowed_dirs, .no_backing = !chain };
	int r = block_open(argv[optind], &oo, &bd);
	if (r) {
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	json_t *arr = json_array();
	int status = 0;
	for (struct blockdev *b = bd; b; b = chain ? block_backing(b) : NULL) {
		struct block_info in;
		r = block_get_info(b, &in);
		if (r) {
			fprintf(stderr, "vireo-img: %s: %s\n", block_filename(b), strerror(-r));
			status = 1;
			break;
		}
		if (json)
			json_array_append_new(arr, info_json(b, &in));
		else {
			if (b != bd)
				printf("\n");
			info_human(b, &in);
		}
		block_info_free(&in);
	}
	if (json && !status) {
		if (chain)
			print_json(arr);
		else
			print_json(json_array_get(arr, 0));
	}
	json_decref(arr);
	block_close(bd);
	return status;
}

struct map_ent {
	uint64_t start, len, offset;
	int depth;
	bool present, zero, data, has_off;
	const char *file;
};

static bool map_mergeable(const struct map_ent *a, const struct map_ent *b)
{
	if (a->depth != b->depth || a->present != b->present || a->zero != b->zero ||
	    a->data != b->data || a->has_off != b->has_off || a->file != b->file)
		return false;
	return !a->has_off || a->offset + a->len == b->offset;
}

static void map_print(const struct map_ent *e, bool json, bool first)
{
	if (json) {
		printf("%s{ \"start\": %llu, \"length\": %llu, \"depth\": %d, \"present\": %s, "
		       "\"zero\": %s, \"data\": %s",
		       first ? "[" : ",\n", (unsigned long long)e->start, (unsigned long long)e->len,
		       e->depth, e->present ? "true" : "false", e->zero ? "true" : "false",
		       e->data ? "true" : "false");
		if (e->has_off)
			printf(", \"offset\": %llu", (unsigned long long)e->offset);
		printf("}");
	} else if (e->data && e->has_off) {
		printf("%#-16llx%#-16llx%#-16llx%s\n", (unsigned long long)e->start,
		       (unsigned long long)e->len, (unsigned long long)e->offset, e->file);
	}
}

int cmd_map(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool json = false, first = true;
	struct blockdev *bd;
	int c;

	while ((c = getopt_long(argc, argv, "f:", lo, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case OPT_OUTPUT: if (parse_output(optarg, &json)) return 1; break;
		default: return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vireo-img map: expecting one image file name\n");
		return 1;
	}
	if (img_open(argv[optind], fmt, false, &bd))
		return 1;
	if (!json)
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
	uint64_t size = block_size(bd), off = 0;
	struct map_ent cur = {0};
	bool have = false;
	int status = 0;
	while (off < size) {
		uint64_t pnum, host = 0;
		unsigned fl;
		int depth;
		int r = block_status_chain(bd, off, size - off, &pnum, &host, &fl, &depth);
		if (r) {
			fprintf(stderr, "vireo-img: map: %s\n", strerror(-r));
			status = 1;
			break;
		}
		struct blockdev *layer = bd;
		for (int d = 0; d < depth && block_backing(layer); d++)
			layer = block_backing(layer);
		struct map_ent e = {
			.start = off, .len = pnum, .depth = depth,
			.present = fl & BLOCK_STATUS_ALLOCATED, .zero = fl & BLOCK_STATUS_ZERO,
			.data = fl & BLOCK_STATUS_DATA, .has_off = fl & BLOCK_STATUS_OFFSET,
			.offset = host, .file = block_filename(layer),
		};
		if (have && map_mergeable(&cur, &e)) {
			cur.len += e.len;
		} else {
			if (have) {
				map_print(&cur, json, first);
				first = false;
			}
			cur = e;
			have = true;
		}
		off += pnum;
	}
	if (have && !status)
		map_print(&cur, json, first);
	if (json && !status)
		printf("]\n");
	block_close(bd);
	return status;
}

int cmd_check(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "repair", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool json = false;
	unsigned fix = 0;
	struct blockdev *bd;
	int c;

	while ((c = getopt_long(argc, argv, "f:r:qU", lo, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'q': img_quiet = true; break;
		case 'U': break;
		case 'r':
			if (!strcmp(optarg, "leaks"))
				fix = BLOCK_FIX_LEAKS;
			else if (!strcmp(optarg, "all"))
				fix = BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS;
			else {
				fprintf(stderr, "vireo-img check: -r takes leaks or all\n");
				return 1;
			}
			break;
		case OPT_OUTPUT: if (parse_output(optarg, &json)) return 1; break;
		default: return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vireo-img check: expecting one image file name\n");
		return 1;
	}
	struct block_open_opts oo = { .format = fmt, .read_only = !fix, .no_backing = true };
	int r = block_open(argv[optind], &oo, &bd);
	if (r) {
		fprintf(stderr, "vireo-img: could not open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	struct block_check res;
	r = block_check(bd, &res, fix);
	if (r == -ENOTSUP) {
		fprintf(stderr, "vireo-img: This image format does not support checks\n");
		block_close(bd);
		return 63;
	}
	if (r) {
		fprintf(stderr, "vireo-img: check failed: %s\n", strerror(-r));
		block_close(bd);
		return 1;
	}
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "image-end-offset", json_integer((json_int_t)res.image_end_offset));
		json_object_set_new(o, "total-clusters", json_integer((json_int_t)res.total_clusters));
		json_object_set_new(o, "check-errors", json_integer((json_int_t)res.check_errors));
		if (res.leaks)
			json_object_set_new(o, "leaks", json_integer((json_int_t)res.leaks));
		if (res.corruptions)
			json_object_set_new(o, "corruptions", json_integer((json_int_t)res.corruptions));
		if (res.leaks_fixed)
			json_object_set_new(o, "leaks-fixed", json_integer((json_int_t)res.leaks_fixed));
		if (res.corruptions_fixed)
			json_object_set_new(o, "corruptions-fixed", json_integer((json_int_t)res.corruptions_fixed));
		json_object_set_new(o, "allocated-clusters", json_integer((json_int_t)res.allocated_clusters));
		if (res.fragmented_clusters)
			json_object_set_new(o, "fragmented-clusters", json_integer((json_int_t)res.fragmented_clusters));
		if (res.compressed_clusters)
			json_object_set_new(o, "compressed-clusters", json_integer((json_int_t)res.compressed_clusters));
		json_object_set_new(o, "filename", json_string(argv[optind]));
		json_object_set_new(o, "format", json_string(block_format(bd)));
		print_json(o);
		json_decref(o);
	} else if (!img_quiet) {
		if (res.leaks_fixed || res.corruptions_fixed)
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %llu leaked clusters\n    %llu corruptions\n\n"
			       "Double checking the fixed image now...\n",
			       (unsigned long long)res.leaks_fixed,
			       (unsigned long long)res.corruptions_fixed);
		if (!res.corruptions && !res.leaks && !res.check_errors)
			printf("No errors were found on the image.\n");
		if (res.corruptions)
			printf("\n%llu errors were found on the image.\n"
			       "Data may be corrupted, or further writes to the image may corrupt it.\n",
			       (unsigned long long)res.corruptions);
		if (res.leaks)
			printf("\n%llu leaked clusters were found on the image.\n"
			       "This means waste of disk space, but no harm to data.\n",
			       (unsigned long long)res.leaks);
		if (res.check_errors)
			printf("\n%llu internal errors have occurred during the check.\n",
			       (unsigned long long)res.check_errors);
		if (res.total_clusters) {
			double t = (double)res.total_clusters, a = (double)res.allocated_clusters;
			printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% compressed clusters\n",
			       (unsigned long long)res.allocated_clusters,
			       (unsigned long long)res.total_clusters, a * 100 / t,
			       a ? (double)res.fragmented_clusters * 100 / a : 0.0,
			       a ? (double)res.compressed_clusters * 100 / a : 0.0);
		}
		printf("Image end offset: %llu\n", (unsigned long long)res.image_end_offset);
	}
	block_close(bd);
	if (res.check_errors)
		return 1;
	if (res.corruptions)
		return 2;
	if (res.leaks)
		return 3;
	return 0;
}

int cmd_measure(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ NULL, 0, NULL, 0 },
	};
	struct block_create_opts o = {0};
	const char *fmt = NULL, *ofmt = "raw";
	char *optstr = NULL;
	bool json = false, have_size = false;
	struct blockdev *bd = NULL;
	int c, status = 1;

	while ((c = getopt_long(argc, argv, "f:O:o:", lo, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'O': ofmt = optarg; break;
		case 'o': optstr = optarg; break;
		case OPT_OUTPUT: if (parse_output(optarg, &json)) return 1; break;
		case OPT_SIZE:
			if (img_parse_size(optarg, &o.size)) {
				fprintf(stderr, "vireo-img measure: invalid size '%s'\n", optarg);
				return 1;
			}
			have_size = true;
			break;
		default: return 1;
		}
	}
	if (optstr && img_parse_opts(optstr, &o))
		return 1;
	if (have_size == (optind < argc)) {
		fprintf(stderr, "vireo-img measure: give either --size or one image file\n");
		return 1;
	}
	if (!have_size && img_open(argv[optind], fmt, false, &bd))
		return 1;
	struct block_measure m;
	int r = block_measure(ofmt, &o, bd, &m);
	if (r) {
		fprintf(stderr, "vireo-img measure: %s\n", strerror(-r));
		goto out;
	}
	if (json) {
		json_t *j = json_object();
		if (!strcmp(ofmt, "qcow2") && bd)
			json_object_set_new(j, "bitmaps", json_integer(0));
		json_object_set_new(j, "required", json_integer((json_int_t)m.required));
		json_object_set_new(j, "fully-allocated", json_integer((json_int_t)m.fully_allocated));
		print_json(j);
		json_decref(j);
	} else {
		printf("required size: %llu\nfully allocated size: %llu\n",
		       (unsigned long long)m.required, (unsigned long long)m.fully_allocated);
		if (!strcmp(ofmt, "qcow2") && bd)
			printf("bitmaps size: 0\n");
	}
	status = 0;
out:
	if (bd)
		block_close(bd);
	return status;
}
