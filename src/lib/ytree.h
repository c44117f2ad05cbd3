/* YAML documents as a small tree of nodes that remember where they were written.
 *
 * Scalars stay strings (with a flag telling whether they were quoted); consumers convert them
 * with the ynode_as_* helpers, which report errors at the scalar's line and column. Aliases
 * and anchors are refused, nesting and size are capped. */
#pragma once

#include "lib/common.h"

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_type type;
	unsigned line, col;   /* 1-based */
	char *scalar;	      /* YNODE_SCALAR: the text */
	bool quoted;	      /* YNODE_SCALAR: written in quotes or as a block */
	size_t n;	      /* YNODE_SEQ/YNODE_MAP: number of items (pairs for maps) */
	struct ynode **items; /* YNODE_SEQ: items; YNODE_MAP: values */
	struct ynode **keys;  /* YNODE_MAP: keys (scalars) */
};

/* A diagnostic with the position it refers to (line 0 when none). */
struct yerror {
	unsigned line, col;
	char msg[512];
};

/* Parses a stream of one or more documents. *docs is a new array of *ndocs trees, the
 * caller's (ytree_free_docs). Returns 0 or -EBADMSG with err filled. */
int ytree_parse_stream(const char *data, size_t len, struct ynode ***docs, size_t *ndocs,
		       struct yerror *err);
/* Parses a stream that must hold exactly one document. */
int ytree_parse(const char *data, size_t len, struct ynode **out, struct yerror *err);
/* Frees a tree; accepts NULL. */
void ytree_free(struct ynode *n);
void ytree_free_docs(struct ynode **docs, size_t ndocs);

/* Returns the value stored under key in a map, or NULL (also when n is not a map). */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* Sets err and returns -EBADMSG; formats msg at node's position. */
int yerror_at(struct yerror *err, const struct ynode *node, const char *fmt, ...) _printf_(3, 4);
/* Checks that every key of map is in allowed (NULL-terminated); errors name the first
 * unknown key and where it is. Errors also when map is not a map (what names the thing). */
int ynode_check_keys(const struct ynode *map, const char *const *allowed, const char *what,
		     struct yerror *err);
/* Returns the scalar text of n, or sets err ("expected a string for what") and returns NULL. */
const char *ynode_as_str(const struct ynode *n, const char *what, struct yerror *err);
/* Converts a boolean scalar (true/false/yes/no); returns 0 or -EBADMSG with err. */
int ynode_as_bool(const struct ynode *n, const char *what, bool *out, struct yerror *err);
/* Converts an integer scalar within [min, max]; returns 0 or -EBADMSG with err. */
int ynode_as_i64(const struct ynode *n, const char *what, int64_t min, int64_t max, int64_t *out,
		 struct yerror *err);
