#include "lib/log.h"

#include <stdarg.h>

static enum log_level max_level = LOG_LEVEL_WARN;

void log_set_level(enum log_level level)
{
	max_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= max_level;
}

__attribute__((format(printf, 2, 0))) static void log_va(enum log_level level, const char *fmt,
							 va_list ap, int err)
{
	static const char *const prefix[] = { "error", "warning", "info", "debug" };

	if (!log_enabled(level))
		return;
	fprintf(stderr, "immune: %s: ", prefix[level]);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, fmt, ap, 0);
	va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(LOG_LEVEL_ERROR, fmt, ap, err);
	va_end(ap);
	return err;
}
