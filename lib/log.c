// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "vireo/log.h"

enum log_level log_current_level = LOG_LEVEL_INFO;

static char log_process[32] = "vireo";
static char log_object[96];
static bool log_to_syslog;

static const char *const level_names[] = {
	[LOG_LEVEL_NONE] = "none",
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_VERBOSE] = "verbose",
	[LOG_LEVEL_TRIVIA] = "trivia",
};

void log_init(const char *process, const char *object)
{
	/* glibc reads /etc/localtime on the first time conversion: do it now,
	 * before a sandbox hides the filesystem. */
	tzset();
	snprintf(log_process, sizeof(log_process), "%s", process ? process : "vireo");
	snprintf(log_object, sizeof(log_object), "%s", object ? object : "");
}

void log_set_level(enum log_level level)
{
	if (level <= LOG_LEVEL_TRIVIA)
		log_current_level = level;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_LEVEL_TRIVIA ? level_names[level] : "?";
}

void log_use_syslog(bool on)
{
	log_to_syslog = on;
	if (on)
		openlog(log_process, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_write(enum log_level level, int errnum, const char *fmt, ...)
{
	static const int syslog_prio[] = {
		LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG,
	};
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (errnum && (size_t)n < sizeof(msg)) {
		char ebuf[128];
		const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", es);
	}
	if (log_to_syslog) {
		syslog(syslog_prio[level], "%s%s%s", log_object,
		       log_object[0] ? ": " : "", msg);
		return;
	}
	/* One write(2) per line so lines from threads and processes do not mix. */
	char line[1280];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%d] %s%s%s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		     level_names[level], log_process, (int)getpid(), log_object,
		     log_object[0] ? ": " : "", msg);
	if (n > (int)sizeof(line) - 1) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	int saved = errno;
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
	errno = saved;
}

bool log_ratelimit_allow(struct log_ratelimit *rl)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	uint64_t now;
	bool allow;
	unsigned int missed = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	pthread_mutex_lock(&lock);
	if (rl->window_start_ms == 0 ||
	    now - rl->window_start_ms >= LOG_RATELIMIT_INTERVAL_MS) {
		missed = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	allow = rl->printed < LOG_RATELIMIT_BURST;
	if (allow)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&lock);
	if (missed)
		log_write(LOG_LEVEL_WARNING, 0, "%u similar messages suppressed", missed);
	return allow;
}
