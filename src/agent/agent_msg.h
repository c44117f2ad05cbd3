/* Typed messages between the agent's roles (docs/agent.md, "Roles").
 *
 * The collector hands the link lists of records to spool; the link hands the collector
 * requests (collect now, scan now, new catalog, new interval) through collect.h. Nothing
 * else crosses between them, so the roles can move into separate processes by serializing
 * these structures. */
#pragma once

#include "lib/common.h"

/* Payloads above this size are compressed with zstd (ENCODING_ZSTD). */
#define AGENT_COMPRESS_ABOVE 1024

struct agent_record {
	uint32_t stream; /* Immune__V1__Stream */
	uint32_t kind;	 /* Immune__V1__RecordKind */
	uint32_t encoding;
	int64_t time_ns;
	unsigned char *payload; /* owned */
	size_t len;
};

struct agent_records {
	struct agent_record *v;
	size_t n, alloc;
};

/* Appends a record holding a copy of payload, compressed with zstd when it is larger than
 * AGENT_COMPRESS_ABOVE and compression makes it smaller. */
void agent_records_add(struct agent_records *l, uint32_t stream, uint32_t kind, int64_t time_ns,
		       const void *payload, size_t len);
/* Removes the first n records (freeing them). */
void agent_records_drop_front(struct agent_records *l, size_t n);
/* Moves every record of src to the end of dst; src ends empty. */
void agent_records_move(struct agent_records *dst, struct agent_records *src);
void agent_records_free(struct agent_records *l);

/* Returns CLOCK_REALTIME in nanoseconds. */
int64_t agent_now_ns(void);
