/* RPM package headers as the rpm database stores them (the header image without its 8-byte
 * magic): il (be32 index entry count), dl (be32 data length), il entries of four be32
 * {tag, type, offset, count}, then dl bytes of data. Every entry is checked against dl. */
#pragma once

#include "lib/common.h"

#define RPMHEADER_TAGS_MAX 0xffff
#define RPMHEADER_DATA_MAX 0x0fffffff

struct rpm_pkg {
	char *name;
	char *version;
	char *release;
	char *arch;    /* NULL when the header has none (gpg-pubkey) */
	int64_t epoch; /* -1 when the header has none */
};

/* Parses a header blob of len bytes. Returns 0 with *out filled (the caller's: rpm_pkg_clear),
 * or -EBADMSG when the blob is malformed or lacks a name, version or release. */
int rpmheader_parse(const void *blob, size_t len, struct rpm_pkg *out);
/* Frees the strings of a package and zeroes it; accepts a zeroed package. */
void rpm_pkg_clear(struct rpm_pkg *p);
