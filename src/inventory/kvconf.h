/* Reading key/value configuration files into inventory tables with the kv columns
 * (key, value, file, line): login.defs, pwquality.conf, auditd.conf, journald.conf, ... */
#pragma once

#include "inventory/inventory.h"

enum kv_style {
	KV_EQUALS, /* "key = value" (white space around '=' optional); "[section]" lines skipped */
	KV_SPACE,  /* "KEY value" separated by white space */
};

#define KV_FILE_MAX (1024 * 1024)

/* Adds a row to table for every setting in the file at path. A missing file adds nothing; an
 * unreadable or oversized file, or a line that is not text, is recorded with inv_error() (so
 * checks over table report an error rather than pass). Comments start with '#'. */
void inv_kv_file(struct inv_ctx *ctx, const char *table, const char *path, enum kv_style style);
/* Same for every file matching pattern (see fsroot_glob), in name order. */
void inv_kv_glob(struct inv_ctx *ctx, const char *table, const char *pattern, enum kv_style style);
