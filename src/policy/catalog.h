/* The compliance catalog (docs/catalog.md): checks loaded from YAML, validated as a whole
 * against the inventory schema, with their conditions compiled into predicate trees.
 *
 * A catalog with any error is refused: catalog_load() returns the first error with its
 * file, line, column and (once known) check id. */
#pragma once

#include "inventory/schema.h"
#include "lib/str.h"

#include <jansson.h>

#define CATALOG_MAX_FILE_SIZE (4u << 20)
#define CATALOG_MAX_CHECKS 10000
#define CATALOG_MAX_DEPTH 32
#define CATALOG_MAX_FILES 1000

enum severity { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

struct catalog_section {
	const char *key;
	const char *title;
};

struct catalog_framework {
	const char *key;
	const char *name;
	bool scored; /* mitre is informative only */
};

/* Where a check applies; an empty vector means "no constraint". */
struct check_applies {
	strv family;
	strv os;
	strv packages;
	strv files;
};

struct pred; /* compiled condition, opaque */

struct check {
	char *id, *title, *description, *rationale, *remediation;
	size_t section; /* index into catalog_sections() */
	enum severity severity;
	const char *file;   /* file the check was read from (owned by the catalog) */
	unsigned line, col; /* position of the check's mapping */
	struct check_applies applies;
	struct pred *condition;
	json_t *condition_src; /* the condition as written (for display) */
	uint64_t cond_tables;  /* bit i: the condition reads schema table i */
	uint64_t apply_tables; /* bit i: applies reads schema table i */
	json_t *fix;	       /* object {type, ...} or NULL */
	json_t *mappings;      /* object: framework key -> array of control ids (non-empty) */
};

struct catalog {
	struct check **checks; /* in load order */
	size_t n;
	strv files; /* files loaded, in order */
};

/* A load error: "file:line:col: check ID: msg" (line 0 when unknown, id "" when unknown). */
struct catalog_error {
	char file[256];
	unsigned line, col;
	char id[128];
	char msg[512];
};

/* Loads a directory of *.yml / *.yaml files (name order) or a single file. Returns 0 with *out
 * the caller's (catalog_free), or a negative errno with err filled (-EBADMSG for content,
 * -ENOENT, -EFBIG, -E2BIG, ... for files). */
int catalog_load(const char *path, struct catalog **out, struct catalog_error *err);
/* Loads one catalog file held in memory; name is used in error messages. Same contract. */
int catalog_load_buffer(const char *name, const char *data, size_t len, struct catalog **out,
			struct catalog_error *err);
/* Frees a catalog; accepts NULL. */
void catalog_free(struct catalog *cat);
static inline void catalog_freep(struct catalog **c)
{
	catalog_free(*c);
}
/* Formats err as "FILE:LINE:COL: check ID: message" into buf; returns buf. */
const char *catalog_error_format(const struct catalog_error *err, char *buf, size_t size);

/* Returns the check with this id, or NULL. */
const struct check *catalog_find(const struct catalog *cat, const char *id);
/* Returns the fixed section and framework lists (docs/catalog.md) and their lengths. */
const struct catalog_section *catalog_sections(size_t *n);
const struct catalog_framework *catalog_frameworks(size_t *n);
/* Returns the index of a section / framework key, or -1. */
int catalog_section_index(const char *key);
int catalog_framework_index(const char *key);
/* Returns "low", "medium", "high" or "critical". */
const char *severity_name(enum severity s);

/* Returns the condition rendered as readable indented text (a new string, the caller's). */
char *check_condition_text(const struct check *c);
/* Returns the condition as a JSON value equivalent to its YAML (a new reference). */
json_t *check_condition_json(const struct check *c);
