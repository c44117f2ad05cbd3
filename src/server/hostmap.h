/* Host id -> connection: an open-addressing table (linear probing, backward-shift deletion)
 * so that revocation and reconnection find a host's live connection at once. */
#pragma once

#include "lib/common.h"

struct conn;

struct hostmap {
	struct conn **slots; /* NULL: empty */
	size_t cap;	     /* a power of two, or 0 */
	size_t n;
};

/* The connection for host_id, or NULL. */
struct conn *hostmap_get(const struct hostmap *m, const char *host_id);
/* Sets host_id's connection (c->host_id is the key); returns the one it replaced, or NULL. */
struct conn *hostmap_put(struct hostmap *m, struct conn *c);
/* Removes c if it is host_id's current connection. */
void hostmap_remove(struct hostmap *m, struct conn *c);
void hostmap_free(struct hostmap *m);
