/* File sets the server pushes to the agent (ConfigUpdate): the compliance catalog, the
 * detection rules, the response playbooks and the access bundle. Each set is kept in the state directory: STATE/<set>/ holds its files,
 * STATE/<set>.digest the digest the server gave it (sent back in Hello). */
#pragma once

#include "lib/common.h"

enum pushed_set {
	PUSHED_CATALOG,	  /* STATE/catalog: checked by loading it as a catalog before use */
	PUSHED_RULES,	  /* STATE/rules: Sigma rules; rule errors are the detector's to report */
	PUSHED_PLAYBOOKS, /* STATE/playbooks: response playbooks; errors are the responder's */
	PUSHED_ACCESS,	  /* STATE/access: *.policy and access.json (docs/access.md) */
	PUSHED_SET_COUNT
};

struct pushed_file {
	const char *name; /* a base name ending in ".yml" (access: ".policy" or "access.json") */
	const void *data;
	size_t len;
};

/* The set's directory name below the state directory ("catalog", "rules", "playbooks",
 * "access"). */
const char *pushed_set_name(enum pushed_set set);

/* Replaces STATE/<set> with files (written to STATE/<set>.new, checked, then swapped in) and
 * writes digest to STATE/<set>.digest last. Returns 0, -EINVAL for a name that is not a
 * plain base name ending in ".yml" (access: "*.policy" or "access.json"), -EBADMSG when a catalog does not load, or a file error;
 * err (size errsize) says what. The previous set stays in place on any error. */
int pushed_files_save(const char *state_dir, enum pushed_set set, const struct pushed_file *files,
		      size_t n, const char *digest, char *err, size_t errsize);
/* Reads the digest of the saved set into digest (size bytes). Returns 0, or -ENOENT when
 * none was saved. */
int pushed_files_current(const char *state_dir, enum pushed_set set, char *digest, size_t size);
