/* The journal source of the authentication sensor (sensor_auth.c, docs/sensor-auth.md):
 * records of sshd, sudo, su and the account tools read from the systemd journal through
 * sd-journal, each handed on as the syslog line the same record makes in a log file
 * ("<time> IDENT[PID]: MESSAGE"), so that one decoder (authlog.h) serves both sources.
 *
 * The position (the journal's cursor of the last record handled) is kept in
 * <state_dir>/auth-journal-cursor so that a restart continues after it. Without libsystemd
 * at build time, auth_journal_open() always fails with a message saying so. */
#pragma once

#include "lib/common.h"

#define AUTH_JOURNAL_CURSOR_FILE "auth-journal-cursor"

struct auth_journal;

/* One record as a syslog line (not NUL-terminated in general) and its time in the journal
 * (CLOCK_REALTIME ns). */
typedef void (*auth_journal_line_fn)(void *arg, const char *line, size_t len, int64_t time_ns);

/* Opens the journal in dir (tests: a directory of journal files) or, when dir is NULL, the
 * system journal of root ("/" or NULL: this host) when /run/systemd/journal or
 * /var/log/journal exists there. state_path: the cursor file, NULL to keep none. Returns
 * NULL with the reason in msg when the journal is not read. */
struct auth_journal *auth_journal_open(const char *root, const char *dir, const char *state_path,
				       char *msg, size_t msg_len);
/* Hands each record appended since the last call to fn (at most a bounded number per call).
 * Returns the number of records read (>= 0) or a negative errno from the journal. */
int auth_journal_read(struct auth_journal *j, auth_journal_line_fn fn, void *arg);
/* Writes the cursor when it moved since the last write (atomically). */
void auth_journal_save(struct auth_journal *j);
/* Closes without saving (auth_journal_save first to keep the position). NULL is accepted. */
void auth_journal_close(struct auth_journal *j);
