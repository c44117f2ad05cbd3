/* The catalog the server hands to agents: the *.yml files of a directory, loaded once, and
 * their digest.
 *
 * Digest: SHA-256, lowercase hex, over the files in byte order of their names; for each
 * file its name, a NUL byte, its length as 8 bytes big-endian, then its content. An agent
 * compares it with ConfigUpdate.catalog_digest it last received (Hello.catalog_digest). */
#pragma once

#include "lib/common.h"

#define CATALOG_DIGEST_HEX 64
#define CATALOG_FILES_MAX 256
#define CATALOG_FILE_MAX (1024u * 1024)
#define CATALOG_TOTAL_MAX (3u * 1024 * 1024) /* must fit one frame with room to spare */

struct catalog_file {
	char *name;
	unsigned char *content;
	size_t len;
};

struct catalog_files {
	struct catalog_file *files;
	size_t n;
	char digest[CATALOG_DIGEST_HEX + 1];
};

/* Loads dir's regular *.yml files. Returns 0 and *out, -ENOENT / -EACCES for the
 * directory, -EFBIG when a limit above is exceeded. */
int catalog_files_load(const char *dir, struct catalog_files **out);
/* Computes the digest of n files (already sorted by name) into hex. */
void catalog_files_digest(const struct catalog_file *files, size_t n,
			  char hex[CATALOG_DIGEST_HEX + 1]);
void catalog_files_free(struct catalog_files *c);
