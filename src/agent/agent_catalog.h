/* The catalog the server sent, kept in the state directory: STATE/catalog/ holds its files,
 * STATE/catalog.digest the digest the server gave it (sent back in Hello). */
#pragma once

#include "lib/common.h"

struct agent_catalog_file {
	const char *name; /* a base name ending in ".yml" */
	const void *data;
	size_t len;
};

/* Replaces STATE/catalog with files (written to STATE/catalog.new, checked by loading them
 * as a catalog, then swapped in) and writes digest to STATE/catalog.digest last. Returns 0,
 * -EINVAL for a name that is not a plain base name ending in ".yml", -EBADMSG when the
 * files do not load as a catalog, or a file error; err (size errsize) says what. The
 * previous catalog stays in place on any error. */
int agent_catalog_save(const char *state_dir, const struct agent_catalog_file *files, size_t n,
		       const char *digest, char *err, size_t errsize);
/* Reads the digest of the saved catalog into digest (size bytes). Returns 0, or -ENOENT
 * when no catalog was saved. */
int agent_catalog_current(const char *state_dir, char *digest, size_t size);
