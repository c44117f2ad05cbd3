/* Frames on the agent-server wire (docs/protocol.md).
 *
 * A frame is a 4-byte big-endian body length followed by a serialized Immune__V1__Frame.
 * Decoding is bounded three ways: the announced length against a cap (stricter before the
 * peer is authenticated), protobuf-c's allocations against a budget proportional to the
 * frame, and msg_check()'s limits on every field a peer controls. */
#pragma once

#include "lib/buf.h"
#include "proto/immune.pb-c.h"

struct evbuffer;

#define PROTO_VERSION 1
#define FRAME_HEADER_SIZE 4
#define FRAME_MAX_PREAUTH (16u * 1024) /* before the peer has a verified identity */
#define FRAME_MAX (4u * 1024 * 1024)   /* after */

/* Limits on fields (msg_check). */
#define MSG_MAX_ID 64	    /* host id, token id, labels' keys */
#define MSG_MAX_STRING 1024 /* hostname, label values, messages, versions */
#define MSG_MAX_TOKEN 256
#define MSG_MAX_LABELS 64
#define MSG_MAX_DER 8192 /* CSR and certificates */
#define MSG_MAX_BATCH_RECORDS 16384
#define MSG_MAX_RECORD_KIND 1023 /* record kinds 1..this are accepted, known or not */
#define MSG_MAX_PAYLOAD (1024u * 1024)
#define MSG_MAX_CATALOG_FILES 256

typedef Immune__V1__Frame Frame;

/* Reads the 4-byte header at p (n bytes available). Returns 1 with *body_len set when a
 * header is present, 0 when fewer than 4 bytes are available, -EMSGSIZE when the announced
 * body exceeds max or is empty. */
int frame_peek(const void *p, size_t n, size_t max, size_t *body_len);

/* A protobuf-c allocator for decoding n bytes from a peer: it refuses once the decoding
 * has allocated more than a budget proportional to n (exceeded is then set, telling -ENOMEM
 * from -EBADMSG). Unpack with &b->allocator; the blocks are plain malloc() ones, so the
 * message may be freed with the default allocator (free_unpacked(m, NULL)). */
struct msg_budget {
	ProtobufCAllocator allocator;
	size_t left;
	bool exceeded;
};
void msg_budget_init(struct msg_budget *b, size_t n);

/* Decodes one frame body of n bytes and checks it with msg_check(). Returns 0 and *out
 * (free with msg_free), -EBADMSG when the bytes are not a valid frame, -EPROTO when a
 * field breaks a limit, -ENOMEM when decoding would exceed the allocation budget. */
int msg_decode(const void *p, size_t n, bool authenticated, Frame **out);
/* Frees a frame returned by msg_decode() or msg_read(); accepts NULL. */
void msg_free(Frame *f);
/* Checks every field against the limits above and the message's own rules (records in
 * increasing seq, label keys non-empty, stream and kind values known...). Returns 0 or
 * -EPROTO. Before authentication only enroll_request and hello are acceptable. */
int msg_check(const Frame *f, bool authenticated);

/* Takes one complete frame from the front of in. Returns 1 with *out set (and the bytes
 * drained), 0 when the frame is not complete yet (nothing drained), or a negative errno
 * (-EMSGSIZE, -EBADMSG, -EPROTO, -ENOMEM): the connection must be dropped. */
int msg_read(struct evbuffer *in, size_t max, bool authenticated, Frame **out);

/* Sets f->version and serializes it with its length header: appended to out. Returns 0 or
 * -EMSGSIZE when it would exceed FRAME_MAX. */
int msg_write(Frame *f, struct evbuffer *out);
/* Same, appended to a buf (tests, fuzzing, fleetsim). */
int msg_encode(Frame *f, struct buf *out);
/* Returns a static name for a body case ("hello", "batch", ...), for logs and counters. */
const char *msg_body_name(const Frame *f);
