/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo-img: the disk image tool. Same verbs and flags as qemu-img where they
 * overlap. Each verb is one function `int cmd_<verb>(int argc, char **argv)`
 * returning the process exit status.
 */
#ifndef VIREO_IMG_H
#define VIREO_IMG_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"

/* Backing-file directories allowed (--allow-dir, VIREO_IMG_ALLOWED_DIRS); NULL = any. */
extern const char *const *img_allowed_dirs;
extern bool img_quiet;

/* Parses "10G", "512k", "1.5M", "4096" (bytes; suffixes are powers of 1024). */
int img_parse_size(const char *s, uint64_t *out);
/* Parses "-o key=val,key=val" into OPTS (strings point into a copy kept by the caller). */
int img_parse_opts(char *s, struct block_create_opts *opts);
/* Opens FILE with format FMT (NULL probes); prints the error. */
int img_open(const char *file, const char *fmt, bool rw, struct blockdev **out);
/* "10 MiB" style size into BUF. */
const char *img_human_size(uint64_t v, char *buf, size_t len);
void img_progress(double done, double total);

int cmd_info(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_rebase(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_resize(int argc, char **argv);

#endif
