/* Small helpers shared by the services, firewall, time_sync, audit and logging collectors. */
#pragma once

#include "inventory/inventory.h"

/* Reads the text file at path (at most cap bytes) into out (initialised here; the caller frees
 * it with buf_free in every case). Returns 0, -ENOENT silently when missing, or another negative
 * errno after recording it with inv_error() against table. */
int cfg_read(struct inv_ctx *ctx, const char *table, const char *path, size_t cap, struct buf *out);
/* Returns true when any of the NULL-terminated paths exists below the root (symlinks followed
 * inside the root). */
bool cfg_any_exists(struct inv_ctx *ctx, const char *const *paths);
/* Returns the value of the last "KEY=value" assignment of shell-style text (optional "export ",
 * one level of quotes removed), as a new string, or NULL when key is not assigned. */
char *cfg_shell_var(const char *text, size_t len, const char *key);
/* Returns the argument of option opt ("-u") in a white-space separated option string, as a
 * new string ("-u x", "-ux"), or NULL. */
char *cfg_option_arg(const char *opts, const char *opt);
/* Returns the files matching pattern ("*.conf") in drop-in directories dirs, highest priority
 * first: a file name in an earlier directory hides the same name in later ones; the result is
 * ordered by file name, whatever the directory. Directories that cannot be listed are recorded
 * against table. */
strv cfg_dropin_files(struct inv_ctx *ctx, const char *table, const char *const *dirs, size_t ndirs,
		      const char *pattern);
/* Returns the files systemd reads for configuration NAME ("journald.conf"): /etc/systemd/NAME
 * (or /usr/lib/systemd/NAME when that is missing), then the NAME.d/ *.conf drop-ins of /etc,
 * /run, /usr/local/lib and /usr/lib sorted by file name, a name in an earlier directory hiding
 * the same name in a later one. Directories that cannot be listed are recorded against table. */
strv cfg_systemd_files(struct inv_ctx *ctx, const char *table, const char *name);
/* Returns true when the bytes hold no NUL and no control byte but tab, CR and form feed
 * (lines are split beforehand). */
bool cfg_line_is_text(const char *s, size_t len);
