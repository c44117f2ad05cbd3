/* The authentication log decoder (docs/sensor-auth.md): one log line of sshd, sudo, su or
 * the shadow account tools -> one normalized event.
 *
 * A line is a syslog line (RFC 3164 "Nov 23 18:40:01 host prog[pid]: msg", RFC 5424, or the
 * ISO-8601 form rsyslog writes by default on Debian), or a bare sshd message as `sshd -E
 * FILE` writes it. The decoder keeps no state between lines and does not log. */
#pragma once

#include "detect/event.h"

/* Lines longer than this are cut by the sensor (and by the decoder). */
#define AUTHLOG_LINE_MAX 8192

enum authlog_format {
	AUTHLOG_AUTO,	/* syslog lines; bare lines only when they read as known sshd messages */
	AUTHLOG_SYSLOG, /* syslog lines only */
	AUTHLOG_SSHD,	/* the file is sshd's own (-E FILE): bare lines are sshd's */
};

struct authlog_opts {
	enum authlog_format format;
	int64_t now_ns; /* the time for lines without one, and to infer RFC 3164's year */
};

/* Decodes one line (without its newline; a trailing '\r' is ignored) into ev (reset first).
 * Returns 1 with ev filled, 0 when the line is readable but from a program this decoder
 * does not follow (ev unspecified), or -EBADMSG when the line cannot be read at all. */
int authlog_decode(const char *line, size_t len, const struct authlog_opts *opts,
		   struct host_event *ev);

/* Parses a syslog timestamp at the start of s: RFC 3164 "Mmm dd hh:mm:ss" (local time, year
 * inferred from now_ns: the latest year that does not put the line more than a month ahead)
 * or ISO-8601 / RFC 3339 with fraction and offset. Returns the bytes consumed (> 0) with
 * *time_ns set, or -EINVAL. */
int authlog_parse_time(const char *s, size_t len, int64_t now_ns, int64_t *time_ns);
