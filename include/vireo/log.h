/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one logging API of every Vireo program.
 *
 * Levels are the vSphere ones users know: none, error, warning, info, verbose,
 * trivia. Each line is tagged "process[pid] object: message" (object is e.g.
 * "vm/web01"), written to stderr or to syslog. The level is checked before
 * the message is formatted, so a disabled log call costs one comparison.
 */
#ifndef VIREO_LOG_H
#define VIREO_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_NONE = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_VERBOSE,
	LOG_LEVEL_TRIVIA,
};

extern enum log_level log_current_level;

/* Sets the process name and the object tag. Both strings are copied. */
void log_init(const char *process, const char *object);
void log_set_level(enum log_level level);
/* Returns the level named NAME ("warning", ...), or -EINVAL. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);
/* Sends lines to syslog(3) instead of stderr when ON. */
void log_use_syslog(bool on);

/* Formats and writes one line; ERRNUM (a positive errno or 0) appends strerror. */
void log_write(enum log_level level, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define LOG_AT(level, errnum, ...)                                \
	do {                                                      \
		if (log_current_level >= (level))                 \
			log_write((level), (errnum), __VA_ARGS__); \
	} while (0)

#define log_error(...)   LOG_AT(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn(...)    LOG_AT(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_info(...)    LOG_AT(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_verbose(...) LOG_AT(LOG_LEVEL_VERBOSE, 0, __VA_ARGS__)
#define log_trivia(...)  LOG_AT(LOG_LEVEL_TRIVIA, 0, __VA_ARGS__)
/* Variants that append strerror(ERR); ERR may be an errno or a -errno. */
#define log_error_errno(err, ...) LOG_AT(LOG_LEVEL_ERROR, (err) < 0 ? -(err) : (err), __VA_ARGS__)
#define log_warn_errno(err, ...)  LOG_AT(LOG_LEVEL_WARNING, (err) < 0 ? -(err) : (err), __VA_ARGS__)

/*
 * A limit on how often one source (a guest-triggered condition, say) may log:
 * at most LOG_RATELIMIT_BURST lines per LOG_RATELIMIT_INTERVAL_MS. Embed one
 * zero-initialised struct per source.
 */
#define LOG_RATELIMIT_BURST       10
#define LOG_RATELIMIT_INTERVAL_MS 5000
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned int printed;
	unsigned int suppressed;
};

/* Returns true if a line may be logged now; counts the ones that may not. */
bool log_ratelimit_allow(struct log_ratelimit *rl);

#define log_warn_ratelimited(rl, ...)                                      \
	do {                                                               \
		if (log_current_level >= LOG_LEVEL_WARNING &&              \
		    log_ratelimit_allow(rl))                               \
			log_write(LOG_LEVEL_WARNING, 0, __VA_ARGS__);      \
	} while (0)

#endif
