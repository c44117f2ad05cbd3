/* The SSH wire encoding (RFC 4251 §5) shared by certificates and KRLs: big-endian integers
 * and length-prefixed strings, written to a buf and read from a bounded cursor. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

int ssh_put_u32(struct buf *b, uint32_t v);
int ssh_put_u64(struct buf *b, uint64_t v);
/* A string: uint32 length, then the bytes. -EMSGSIZE past 4 GiB. */
int ssh_put_string(struct buf *b, const void *p, size_t n);
int ssh_put_cstr(struct buf *b, const char *s);

/* Reads a string into *p and *n: -EBADMSG when the cursor is short, -E2BIG past max. */
int ssh_get_string(struct cursor *c, size_t max, const void **p, size_t *n);
/* Reads a string into a cursor of its own. */
int ssh_get_sub(struct cursor *c, size_t max, struct cursor *sub);
