/* The agent's durable spool: what leaves the host is written here first and deleted only
 * after the server acknowledged committing it (docs/protocol.md, "Delivery").
 *
 * Layout under DIR: one directory per stream (events, state, alerts), each holding segment
 * files named by their first sequence number (20 decimal digits). The active segment
 * (".open") is appended record by record with write(2), so a killed agent loses nothing it
 * had accepted; each record carries a CRC-32C and a torn tail is cut on open. A segment is
 * sealed when it reaches the segment size: compressed with zstd into ".zst" (fsync, rename)
 * and its raw file removed. "acked" in each stream directory holds the highest sequence
 * number the server acknowledged (written atomically).
 *
 * Bounded: the total on-disk size stays under max_bytes. When an append would exceed it, the
 * oldest segments of the events stream are deleted and a gap record (RECORD_GAP payload: the
 * serialized Immune__V1__Gap) is appended to the events stream in their place; alerts and
 * state are never dropped: an append that cannot fit without dropping them fails with
 * -ENOSPC and the caller keeps the record and retries.
 *
 * Not thread-safe: one owner (the agent's link loop). */
#pragma once

#include "lib/common.h"

#define SPOOL_STREAMS 3
#define SPOOL_DEFAULT_MAX_BYTES (256ull * 1024 * 1024)
#define SPOOL_DEFAULT_SEGMENT_BYTES (4u * 1024 * 1024)
#define SPOOL_MAX_RECORD (1024u * 1024)

struct spool;

struct spool_options {
	uint64_t max_bytes;	/* 0: SPOOL_DEFAULT_MAX_BYTES */
	uint32_t segment_bytes; /* 0: SPOOL_DEFAULT_SEGMENT_BYTES */
	bool fsync_each;	/* fsync after every append (default: on seal and spool_sync()) */
};

struct spool_record {
	uint64_t seq;
	uint32_t kind;
	int64_t time_ns;
	uint32_t encoding;
	const void *payload; /* valid until the next call on the spool */
	size_t len;
};

/* Opens or creates the spool in dir, recovering segments (a torn or corrupt tail of the
 * open segment is cut; corrupt sealed segments are set aside as ".bad"; the numbers lost to
 * corruption are accounted by a gap record on the stream that held them). */
int spool_open(const char *dir, const struct spool_options *opt, struct spool **out);
void spool_close(struct spool *sp);

/* Appends one record to stream and returns its sequence number in *seq. -EMSGSIZE above
 * SPOOL_MAX_RECORD; -ENOSPC as described above; -EIO on a write error. */
int spool_append(struct spool *sp, uint32_t stream, uint32_t kind, int64_t time_ns,
		 uint32_t encoding, const void *payload, size_t len, uint64_t *seq);
/* fsyncs the open segments. */
int spool_sync(struct spool *sp);

/* Sending: each stream has a send position, initially just after the acknowledged number.
 * spool_next() returns 1 with *rec set to the record at the send position and advances it,
 * 0 when everything spooled was handed out. */
int spool_next(struct spool *sp, uint32_t stream, struct spool_record *rec);
/* Moves the send position back to just after the acknowledged number (after reconnecting,
 * or when the server's Welcome says it committed more or less than we thought). */
void spool_rewind(struct spool *sp, uint32_t stream);
/* Records the server's acknowledgement: segments wholly at or below committed_seq are
 * deleted; the send position moves forward if it was behind. */
int spool_ack(struct spool *sp, uint32_t stream, uint64_t committed_seq);

struct spool_stats {
	uint64_t bytes;			  /* on disk, all streams */
	uint64_t records;		  /* not yet acknowledged, all streams */
	uint64_t dropped;		  /* telemetry records dropped since open */
	uint64_t gaps;			  /* gap records written since open */
	uint64_t next_seq[SPOOL_STREAMS]; /* number the next append gets */
	uint64_t acked[SPOOL_STREAMS];
};
void spool_get_stats(const struct spool *sp, struct spool_stats *out);
