/* The directory importer (docs/access-directory.md): identities and groups from a YAML,
 * JSON or CSV file, as the jansson documents of docs/access.md ("Identities and roles"). */
#pragma once

#include "lib/common.h"

#include <jansson.h>

#define DIRECTORY_IDENTITIES_MAX 1000000u
#define DIRECTORY_LINE_MAX 65536u	/* bytes per CSV line */
#define DIRECTORY_FILE_MAX (512u << 20) /* bytes per directory file */
#define DIRECTORY_VALUE_MAX 1024u	/* attribute values, descriptions */

enum directory_format { DIRECTORY_AUTO = 0, DIRECTORY_YAML, DIRECTORY_JSON, DIRECTORY_CSV };

struct directory {
	/* [{name, kind, groups, attributes, status, role, accounts}], in file order */
	json_t *identities;
	/* [{name, description, attributes}]: the groups the file defines, then those only
	 * named by identities (description ""), in order of first mention */
	json_t *groups;
};

/* "yaml", "json", "csv" (and "auto") to the enum; -EINVAL for others. */
int directory_format_from_name(const char *name, enum directory_format *out);

/* Parses a directory file's text; file names it in errors. DIRECTORY_AUTO picks the format
 * from file's extension (.yaml/.yml, .json, .csv), else from the text (a first '{' or '['
 * is JSON, a first line naming the CSV columns is CSV, anything else YAML). Returns 0 with
 * *out (directory_free), or -EINVAL with err set to "FILE:LINE: what is wrong". */
int directory_parse(const char *file, const char *text, size_t len, enum directory_format fmt,
		    struct directory **out, char *err, size_t err_len);
/* Reads path (at most DIRECTORY_FILE_MAX bytes) and parses it. Returns as directory_parse,
 * or a negative errno when the file cannot be read (err says so). */
int directory_load(const char *path, enum directory_format fmt, struct directory **out, char *err,
		   size_t err_len);
void directory_free(struct directory *d);
