/* A file set the server hands to agents (the compliance catalog, the detection rules, the
 * response playbooks): the *.yml files below a directory, loaded once, and their digest.
 *
 * Digest: SHA-256, lowercase hex, over the files in byte order of their names; for each
 * file its name, a NUL byte, its length as 8 bytes big-endian, then its content. An agent
 * sends back the digest it last received (Hello.catalog_digest, rules_digest, playbooks_digest) and
 * gets the set again only when it differs. */
#pragma once

#include "lib/common.h"

#define FILE_SET_DIGEST_HEX 64
#define FILE_SET_FILES_MAX 256
#define FILE_SET_FILE_MAX (1024u * 1024)
#define FILE_SET_TOTAL_MAX (3u * 1024 * 1024) /* must fit one frame with room to spare */

struct file_set_entry {
	char *name;
	unsigned char *content;
	size_t len;
};

struct file_set {
	struct file_set_entry *files;
	size_t n;
	char digest[FILE_SET_DIGEST_HEX + 1];
};

/* Loads the regular *.yml files of dir and of its subdirectories (up to 4 levels; symbolic
 * links are not followed), each under its file name: agents keep a set flat. Returns 0 and
 * *out, -ENOENT / -EACCES for a directory, -EEXIST when two files share a name, -ELOOP
 * past the depth, -EFBIG when a limit above is exceeded. */
int file_set_load(const char *dir, struct file_set **out);
/* Computes the digest of n files (already sorted by name) into hex. */
void file_set_digest(const struct file_set_entry *files, size_t n,
		     char hex[FILE_SET_DIGEST_HEX + 1]);
void file_set_free(struct file_set *c);
