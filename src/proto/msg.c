/* Frames on the agent-server wire: length header, bounded protobuf-c decoding, limits. */
#include "proto/msg.h"

#include <event2/buffer.h>

/* Decoding may allocate at most this many bytes for a body of n bytes. Legitimate frames need
 * a few times their size (one struct per message plus copies of strings and bytes); frames
 * made of many tiny sub-messages are the ones that blow up, and they are refused. */
#define MSG_ALLOC_FACTOR 16
#define MSG_ALLOC_SLACK (64u * 1024)

static void *budget_alloc(void *data, size_t size)
{
	struct msg_budget *b = data;

	if (size > b->left) {
		b->exceeded = true;
		return NULL;
	}
	void *p = malloc(size ? size : 1);
	if (!p) {
		b->exceeded = true;
		return NULL;
	}
	b->left -= size;
	return p;
}

static void budget_free(void *data _unused_, void *p)
{
	/* Allocations are plain malloc() blocks, so msg_free() may release them with the
	 * default allocator once the budget no longer matters. */
	free(p);
}

void msg_budget_init(struct msg_budget *b, size_t n)
{
	b->left = n > (SIZE_MAX - MSG_ALLOC_SLACK) / MSG_ALLOC_FACTOR
			  ? SIZE_MAX
			  : n * MSG_ALLOC_FACTOR + MSG_ALLOC_SLACK;
	b->exceeded = false;
	b->allocator = (ProtobufCAllocator){ .alloc = budget_alloc,
					     .free = budget_free,
					     .allocator_data = b };
}

int frame_peek(const void *p, size_t n, size_t max, size_t *body_len)
{
	struct cursor c;
	uint32_t len;

	if (n < FRAME_HEADER_SIZE)
		return 0;
	cursor_init(&c, p, FRAME_HEADER_SIZE);
	if (cursor_get_u32be(&c, &len) < 0)
		return -EBADMSG;
	if (len == 0 || len > max)
		return -EMSGSIZE;
	*body_len = len;
	return 1;
}

void msg_free(Frame *f)
{
	if (f)
		immune__v1__frame__free_unpacked(f, NULL);
}

int msg_decode(const void *p, size_t n, bool authenticated, Frame **out)
{
	struct msg_budget b;
	Frame *f;
	int r;

	if (n == 0)
		return -EBADMSG;
	msg_budget_init(&b, n);
	f = immune__v1__frame__unpack(&b.allocator, n, p);
	if (!f)
		return b.exceeded ? -ENOMEM : -EBADMSG;
	r = msg_check(f, authenticated);
	if (r < 0) {
		msg_free(f);
		return r;
	}
	*out = f;
	return 0;
}

/* --- limits --- */

static bool str_ok(const char *s, size_t max)
{
	/* protobuf-c gives NULL or "" for an absent string. */
	return !s || strnlen(s, max + 1) <= max;
}

static bool bytes_ok(const ProtobufCBinaryData *d, size_t max)
{
	return d->len <= max && (d->len == 0 || d->data);
}

static bool stream_ok(Immune__V1__Stream s)
{
	switch (s) {
	case IMMUNE__V1__STREAM__STREAM_EVENTS:
	case IMMUNE__V1__STREAM__STREAM_STATE:
	case IMMUNE__V1__STREAM__STREAM_ALERTS: return true;
	default: return false;
	}
}

/* Any kind but RECORD_UNSPECIFIED: a kind from a newer agent is stored without being
 * applied (store_sqlite.c), so a mixed fleet never stalls a stream over it. */
static bool kind_ok(Immune__V1__RecordKind k)
{
	return k > IMMUNE__V1__RECORD_KIND__RECORD_UNSPECIFIED && k <= MSG_MAX_RECORD_KIND;
}

static bool encoding_ok(Immune__V1__Encoding e)
{
	return e == IMMUNE__V1__ENCODING__ENCODING_RAW || e == IMMUNE__V1__ENCODING__ENCODING_ZSTD;
}

static bool reason_ok(Immune__V1__Refusal__Reason r)
{
	return r >= IMMUNE__V1__REFUSAL__REASON__REASON_UNSPECIFIED &&
	       r <= IMMUNE__V1__REFUSAL__REASON__REASON_BAD_CSR;
}

static int check_labels(Immune__V1__Label *const *labels, size_t n)
{
	if (n > MSG_MAX_LABELS)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		const Immune__V1__Label *l = labels[i];
		if (!l || !l->key || !l->key[0] || !str_ok(l->key, MSG_MAX_ID) ||
		    !str_ok(l->value, MSG_MAX_STRING))
			return -EPROTO;
	}
	return 0;
}

static bool catalog_name_ok(const char *name)
{
	size_t len;

	if (!name || !str_ok(name, MSG_MAX_ID * 4))
		return false;
	len = strlen(name);
	if (len <= 4 || name[0] == '.' || strcmp(name + len - 4, ".yml") != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static int check_enroll_request(const Immune__V1__EnrollRequest *m)
{
	if (!str_ok(m->token, MSG_MAX_TOKEN) || !bytes_ok(&m->csr_der, MSG_MAX_DER) ||
	    !str_ok(m->hostname, MSG_MAX_STRING) || !str_ok(m->machine_id, MSG_MAX_ID) ||
	    !str_ok(m->agent_version, MSG_MAX_STRING))
		return -EPROTO;
	return check_labels(m->labels, m->n_labels);
}

static int check_enroll_response(const Immune__V1__EnrollResponse *m)
{
	if (!str_ok(m->host_id, MSG_MAX_ID) || !bytes_ok(&m->cert_der, MSG_MAX_DER) ||
	    !bytes_ok(&m->ca_der, MSG_MAX_DER))
		return -EPROTO;
	return 0;
}

static int check_hello(const Immune__V1__Hello *m)
{
	unsigned seen = 0;

	if (!str_ok(m->host_id, MSG_MAX_ID) || !str_ok(m->agent_version, MSG_MAX_STRING) ||
	    !str_ok(m->hostname, MSG_MAX_STRING) || !str_ok(m->catalog_digest, MSG_MAX_ID) ||
	    !str_ok(m->rules_digest, MSG_MAX_ID))
		return -EPROTO;
	/* At most one position per known stream. */
	for (size_t i = 0; i < m->n_streams; i++) {
		const Immune__V1__StreamPosition *s = m->streams[i];
		if (!s || !stream_ok(s->stream) || (seen & (1u << s->stream)) ||
		    s->first_seq > s->next_seq)
			return -EPROTO;
		seen |= 1u << s->stream;
	}
	return check_labels(m->labels, m->n_labels);
}

static int check_acks(Immune__V1__Ack *const *acks, size_t n)
{
	unsigned seen = 0;

	for (size_t i = 0; i < n; i++) {
		if (!acks[i] || !stream_ok(acks[i]->stream) || (seen & (1u << acks[i]->stream)))
			return -EPROTO;
		seen |= 1u << acks[i]->stream;
	}
	return 0;
}

static int check_batch(const Immune__V1__RecordBatch *m)
{
	uint64_t last = 0;

	if (!stream_ok(m->stream) || m->n_records > MSG_MAX_BATCH_RECORDS)
		return -EPROTO;
	for (size_t i = 0; i < m->n_records; i++) {
		const Immune__V1__Record *rec = m->records[i];
		if (!rec || rec->seq <= last || !kind_ok(rec->kind) ||
		    !encoding_ok(rec->encoding) || !bytes_ok(&rec->payload, MSG_MAX_PAYLOAD))
			return -EPROTO;
		last = rec->seq;
	}
	return 0;
}

/* A pushed file set: plain unique .yml names, bounded sizes. */
static int check_files(Immune__V1__CatalogFile *const *files, size_t n)
{
	if (n > MSG_MAX_CATALOG_FILES)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		const Immune__V1__CatalogFile *cf = files[i];
		if (!cf || !catalog_name_ok(cf->name) || !bytes_ok(&cf->content, MSG_MAX_PAYLOAD))
			return -EPROTO;
		for (size_t j = 0; j < i; j++)
			if (strcmp(files[j]->name, cf->name) == 0)
				return -EPROTO;
	}
	return 0;
}

static int check_config(const Immune__V1__ConfigUpdate *m)
{
	if (!str_ok(m->catalog_digest, MSG_MAX_ID) || !str_ok(m->rules_digest, MSG_MAX_ID))
		return -EPROTO;
	int r = check_files(m->catalog, m->n_catalog);
	return r < 0 ? r : check_files(m->rules, m->n_rules);
}

static int check_command(const Immune__V1__Command *m)
{
	if (!m->name || !m->name[0] || !str_ok(m->name, MSG_MAX_ID))
		return -EPROTO;
	return check_labels(m->args, m->n_args);
}

static int check_body(const Frame *f)
{
	switch (f->body_case) {
	case IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST: return check_enroll_request(f->enroll_request);
	case IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE:
		return check_enroll_response(f->enroll_response);
	case IMMUNE__V1__FRAME__BODY_HELLO: return check_hello(f->hello);
	case IMMUNE__V1__FRAME__BODY_WELCOME:
		return check_acks(f->welcome->committed, f->welcome->n_committed);
	case IMMUNE__V1__FRAME__BODY_HEARTBEAT: return 0;
	case IMMUNE__V1__FRAME__BODY_BATCH: return check_batch(f->batch);
	case IMMUNE__V1__FRAME__BODY_ACK: return check_acks(&f->ack, 1);
	case IMMUNE__V1__FRAME__BODY_RENEW_REQUEST:
		return bytes_ok(&f->renew_request->csr_der, MSG_MAX_DER) ? 0 : -EPROTO;
	case IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE:
		return bytes_ok(&f->renew_response->cert_der, MSG_MAX_DER) ? 0 : -EPROTO;
	case IMMUNE__V1__FRAME__BODY_CONFIG: return check_config(f->config);
	case IMMUNE__V1__FRAME__BODY_COMMAND: return check_command(f->command);
	case IMMUNE__V1__FRAME__BODY_REFUSAL:
		return reason_ok(f->refusal->reason) && str_ok(f->refusal->message, MSG_MAX_STRING)
			       ? 0
			       : -EPROTO;
	default: return -EPROTO;
	}
}

int msg_check(const Frame *f, bool authenticated)
{
	if (!f || f->version < 1)
		return -EPROTO;
	if (!authenticated && f->body_case != IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST &&
	    f->body_case != IMMUNE__V1__FRAME__BODY_HELLO)
		return -EPROTO;
	/* The oneof pointer is NULL only in frames built by hand; decoded ones always have it. */
	if (f->body_case != IMMUNE__V1__FRAME__BODY__NOT_SET && !f->enroll_request)
		return -EPROTO;
	return check_body(f);
}

/* --- evbuffer and buf I/O --- */

int msg_read(struct evbuffer *in, size_t max, bool authenticated, Frame **out)
{
	unsigned char hdr[FRAME_HEADER_SIZE];
	size_t avail = evbuffer_get_length(in), body;
	unsigned char *p;
	Frame *f;
	int r;

	if (avail < FRAME_HEADER_SIZE)
		return 0;
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		return -EBADMSG;
	r = frame_peek(hdr, sizeof(hdr), max, &body);
	if (r <= 0)
		return r;
	if (avail - FRAME_HEADER_SIZE < body)
		return 0;
	p = evbuffer_pullup(in, (ssize_t)(FRAME_HEADER_SIZE + body));
	if (!p)
		return -ENOMEM;
	r = msg_decode(p + FRAME_HEADER_SIZE, body, authenticated, &f);
	if (r < 0)
		return r;
	evbuffer_drain(in, FRAME_HEADER_SIZE + body);
	*out = f;
	return 1;
}

static void put_u32be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int frame_size(Frame *f, size_t *size)
{
	size_t n;

	f->version = PROTO_VERSION;
	n = immune__v1__frame__get_packed_size(f);
	if (n == 0 || n > FRAME_MAX)
		return -EMSGSIZE;
	*size = n;
	return 0;
}

int msg_write(Frame *f, struct evbuffer *out)
{
	struct evbuffer_iovec v;
	size_t n;
	int r;

	r = frame_size(f, &n);
	if (r < 0)
		return r;
	if (evbuffer_reserve_space(out, (ev_ssize_t)(FRAME_HEADER_SIZE + n), &v, 1) < 1 ||
	    v.iov_len < FRAME_HEADER_SIZE + n)
		return -ENOMEM;
	put_u32be(v.iov_base, (uint32_t)n);
	immune__v1__frame__pack(f, (uint8_t *)v.iov_base + FRAME_HEADER_SIZE);
	v.iov_len = FRAME_HEADER_SIZE + n;
	if (evbuffer_commit_space(out, &v, 1) < 0)
		return -ENOMEM;
	return 0;
}

int msg_encode(Frame *f, struct buf *out)
{
	unsigned char hdr[FRAME_HEADER_SIZE];
	_cleanup_free_ uint8_t *tmp = NULL;
	size_t n, old = buf_len(out);
	int r;

	r = frame_size(f, &n);
	if (r < 0)
		return r;
	tmp = xmalloc(n);
	immune__v1__frame__pack(f, tmp);
	put_u32be(hdr, (uint32_t)n);
	r = buf_append(out, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	r = buf_append(out, tmp, n);
	if (r < 0) {
		out->len = old; /* leave the buffer as it was */
		out->data[old] = '\0';
		return r;
	}
	return 0;
}

const char *msg_body_name(const Frame *f)
{
	if (!f)
		return "none";
	switch (f->body_case) {
	case IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST: return "enroll_request";
	case IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE: return "enroll_response";
	case IMMUNE__V1__FRAME__BODY_HELLO: return "hello";
	case IMMUNE__V1__FRAME__BODY_WELCOME: return "welcome";
	case IMMUNE__V1__FRAME__BODY_HEARTBEAT: return "heartbeat";
	case IMMUNE__V1__FRAME__BODY_BATCH: return "batch";
	case IMMUNE__V1__FRAME__BODY_ACK: return "ack";
	case IMMUNE__V1__FRAME__BODY_RENEW_REQUEST: return "renew_request";
	case IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE: return "renew_response";
	case IMMUNE__V1__FRAME__BODY_CONFIG: return "config";
	case IMMUNE__V1__FRAME__BODY_COMMAND: return "command";
	case IMMUNE__V1__FRAME__BODY_REFUSAL: return "refusal";
	default: return "none";
	}
}
