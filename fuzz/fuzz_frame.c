/* Fuzzes the frame reader: header, bounded decoding in both connection states, limits, and
 * re-encoding of every frame accepted. */
#include "proto/msg.h"

#include <event2/buffer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when m or a message inside it kept unknown fields: protobuf-c re-emits them as they
 * came, and accepts on input some it refuses when re-reading (a field number 0 whose tag is
 * an over-long varint), so such frames may not survive a round trip. */
static bool has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields > 0)
		return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m;
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + fd->quantifier_offset);
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(base + fd->offset);
			for (size_t k = 0; k < n; k++)
				if (v[k] && has_unknown(v[k]))
					return true;
			continue;
		}
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
			continue;
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + fd->offset);
		if (sub && has_unknown(sub))
			return true;
	}
	return false;
}

static void reencode(Frame *f)
{
	struct buf b;
	Frame *g;
	size_t body;
	int r;

	buf_init(&b, FRAME_MAX + FRAME_HEADER_SIZE);
	if (msg_encode(f, &b) < 0)
		abort(); /* a decoded frame always fits again */
	if (frame_peek(buf_str(&b), buf_len(&b), FRAME_MAX, &body) != 1 ||
	    body + FRAME_HEADER_SIZE != buf_len(&b))
		abort();
	/* Re-encoding may shrink the frame (minimal varints), hence its allocation budget. */
	r = msg_decode(buf_str(&b) + FRAME_HEADER_SIZE, body, true, &g);
	if (r == 0) {
		if (g->body_case != f->body_case)
			abort();
		msg_free(g);
	} else if (r != -ENOMEM && !has_unknown(&f->base)) {
		abort();
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in;
	size_t body;
	Frame *f;

	if (frame_peek(data, size, FRAME_MAX, &body) == 1) {
		size_t n = size - FRAME_HEADER_SIZE < body ? size - FRAME_HEADER_SIZE : body;
		for (int auth = 0; auth <= 1; auth++) {
			if (msg_decode(data + FRAME_HEADER_SIZE, n, auth, &f) == 0) {
				if (msg_check(f, auth) != 0 || !msg_body_name(f))
					abort();
				reencode(f);
				msg_free(f);
			}
		}
	}

	/* The same bytes as a stream of frames. */
	in = evbuffer_new();
	if (!in)
		return 0;
	evbuffer_add(in, data, size);
	while (msg_read(in, FRAME_MAX_PREAUTH, false, &f) == 1)
		msg_free(f);
	evbuffer_free(in);
	return 0;
}
