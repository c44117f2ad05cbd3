/* Process-wide logger: level filter, optional colour, messages to stderr.
 * Library code does not log; callers log once, with context. */
#pragma once

#include "lib/common.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the maximum level printed (default LOG_LEVEL_WARN). */
void log_set_level(enum log_level level);
/* Returns true when messages at level would be printed. */
bool log_enabled(enum log_level level);
/* Prints one message at level; never fails. */
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* Logs "fmt: strerror(-err)" at error level and returns err (a negative errno). */
int log_errno(int err, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
