/* Unit tests for src/proto/msg: framing, limits, allocation budget, evbuffer reads. */
#include "unit.h"

#include "proto/msg.h"

#include <event2/buffer.h>

/* Encodes f (version set by msg_encode) and decodes it again; returns msg_decode's result. */
static int round_trip(Frame *f, bool auth, Frame **out)
{
	struct buf b;
	size_t body;
	int r;

	buf_init(&b, FRAME_MAX + FRAME_HEADER_SIZE);
	assert_int_equal(msg_encode(f, &b), 0);
	assert_int_equal(frame_peek(buf_str(&b), buf_len(&b), FRAME_MAX, &body), 1);
	assert_int_equal(body + FRAME_HEADER_SIZE, buf_len(&b));
	r = msg_decode(buf_str(&b) + FRAME_HEADER_SIZE, body, auth, out);
	buf_free(&b);
	return r;
}

/* Packs f as-is (keeping its version) into a malloc'd body; returns its length. */
static uint8_t *pack_raw(const Frame *f, size_t *n)
{
	*n = immune__v1__frame__get_packed_size(f);
	uint8_t *p = xmalloc(*n ? *n : 1);
	immune__v1__frame__pack(f, p);
	return p;
}

static void test_frame_peek(void **state)
{
	const unsigned char ok[] = { 0, 0, 1, 0, 9 };
	const unsigned char zero[] = { 0, 0, 0, 0 };
	const unsigned char big[] = { 0, 0x40, 0, 1 };
	const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff };
	size_t len = 12345;

	assert_int_equal(frame_peek(ok, 0, FRAME_MAX, &len), 0);
	assert_int_equal(frame_peek(ok, 3, FRAME_MAX, &len), 0);
	assert_int_equal(len, 12345);
	assert_int_equal(frame_peek(ok, 4, FRAME_MAX, &len), 1);
	assert_int_equal(len, 256);
	assert_int_equal(frame_peek(ok, 5, 256, &len), 1);
	assert_int_equal(frame_peek(ok, 5, 255, &len), -EMSGSIZE);
	assert_int_equal(frame_peek(zero, 4, FRAME_MAX, &len), -EMSGSIZE);
	assert_int_equal(frame_peek(big, 4, FRAME_MAX, &len), -EMSGSIZE);
	assert_int_equal(frame_peek(big, 4, FRAME_MAX + 1, &len), 1);
	assert_int_equal(len, FRAME_MAX + 1);
	assert_int_equal(frame_peek(huge, 4, FRAME_MAX, &len), -EMSGSIZE);
	assert_int_equal(frame_peek(huge, 4, FRAME_MAX_PREAUTH, &len), -EMSGSIZE);
}

static void test_round_trip_enroll(void **state)
{
	uint8_t csr[] = { 0x30, 0x82, 1, 2, 3 };
	Immune__V1__Label l1 = IMMUNE__V1__LABEL__INIT, l2 = IMMUNE__V1__LABEL__INIT;
	Immune__V1__Label *labels[] = { &l1, &l2 };
	Immune__V1__EnrollRequest er = IMMUNE__V1__ENROLL_REQUEST__INIT;
	Immune__V1__EnrollResponse ers = IMMUNE__V1__ENROLL_RESPONSE__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g;

	l1.key = "env";
	l1.value = "prod";
	l2.key = "role";
	l2.value = "";
	er.token = "imt1.abc";
	er.csr_der.data = csr;
	er.csr_der.len = sizeof(csr);
	er.hostname = "web-1";
	er.machine_id = "0123456789abcdef0123456789abcdef";
	er.labels = labels;
	er.n_labels = 2;
	er.agent_version = "0.1";
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST;
	f.enroll_request = &er;
	assert_int_equal(round_trip(&f, false, &g), 0);
	assert_int_equal(g->version, PROTO_VERSION);
	assert_string_equal(msg_body_name(g), "enroll_request");
	assert_string_equal(g->enroll_request->token, "imt1.abc");
	assert_memory_equal(g->enroll_request->csr_der.data, csr, sizeof(csr));
	assert_int_equal(g->enroll_request->n_labels, 2);
	assert_string_equal(g->enroll_request->labels[0]->key, "env");
	assert_string_equal(g->enroll_request->labels[0]->value, "prod");
	assert_string_equal(g->enroll_request->machine_id, er.machine_id);
	msg_free(g);

	ers.host_id = "h-1";
	ers.cert_der.data = csr;
	ers.cert_der.len = sizeof(csr);
	ers.ca_der.data = csr;
	ers.ca_der.len = 2;
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE;
	f.enroll_response = &ers;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "enroll_response");
	assert_string_equal(g->enroll_response->host_id, "h-1");
	assert_int_equal(g->enroll_response->ca_der.len, 2);
	msg_free(g);
	/* Server-only bodies are refused before authentication. */
	assert_int_equal(round_trip(&f, false, &g), -EPROTO);
}

static void test_round_trip_session(void **state)
{
	Immune__V1__StreamPosition sp = IMMUNE__V1__STREAM_POSITION__INIT;
	Immune__V1__StreamPosition *sps[] = { &sp };
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	Immune__V1__Ack a1 = IMMUNE__V1__ACK__INIT, a2 = IMMUNE__V1__ACK__INIT;
	Immune__V1__Ack *acks[] = { &a1, &a2 };
	Immune__V1__Welcome w = IMMUNE__V1__WELCOME__INIT;
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g;

	h.host_id = "h-1";
	h.agent_version = "0.1";
	h.hostname = "web-1";
	h.streams = sps;
	h.n_streams = 1;
	sp.stream = IMMUNE__V1__STREAM__STREAM_STATE;
	sp.first_seq = 5;
	sp.next_seq = 9;
	h.max_frame = FRAME_MAX;
	h.catalog_digest = "ab";
	h.scan_interval_seconds = 3600;
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	assert_int_equal(round_trip(&f, false, &g), 0);
	assert_string_equal(msg_body_name(g), "hello");
	assert_int_equal(g->hello->n_streams, 1);
	assert_int_equal(g->hello->streams[0]->stream, IMMUNE__V1__STREAM__STREAM_STATE);
	assert_int_equal(g->hello->streams[0]->next_seq, 9);
	assert_int_equal(g->hello->scan_interval_seconds, 3600);
	msg_free(g);

	a1.stream = IMMUNE__V1__STREAM__STREAM_EVENTS;
	a1.committed_seq = 10;
	a2.stream = IMMUNE__V1__STREAM__STREAM_ALERTS;
	a2.committed_seq = 3;
	w.committed = acks;
	w.n_committed = 2;
	w.heartbeat_seconds = 30;
	w.server_time_ns = -5;
	f.body_case = IMMUNE__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "welcome");
	assert_int_equal(g->welcome->n_committed, 2);
	assert_int_equal(g->welcome->committed[1]->committed_seq, 3);
	assert_int_equal(g->welcome->server_time_ns, -5);
	msg_free(g);
	/* Two acks for the same stream are refused. */
	a2.stream = a1.stream;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);

	hb.time_ns = 77;
	hb.spool_bytes = 1u << 20;
	hb.dropped_records = 2;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "heartbeat");
	assert_int_equal(g->heartbeat->spool_bytes, 1u << 20);
	msg_free(g);
	assert_int_equal(round_trip(&f, false, &g), -EPROTO);

	f.body_case = IMMUNE__V1__FRAME__BODY_ACK;
	f.ack = &a1;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "ack");
	assert_int_equal(g->ack->committed_seq, 10);
	msg_free(g);
}

static void test_round_trip_batch(void **state)
{
	Immune__V1__Record r[3] = { IMMUNE__V1__RECORD__INIT, IMMUNE__V1__RECORD__INIT,
				    IMMUNE__V1__RECORD__INIT };
	Immune__V1__Record *rs[] = { &r[0], &r[1], &r[2] };
	Immune__V1__RecordBatch b = IMMUNE__V1__RECORD_BATCH__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g;

	for (int i = 0; i < 3; i++) {
		r[i].seq = 1 + (uint64_t)i * 2;
		r[i].kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
		r[i].time_ns = 1000 + i;
		r[i].payload.data = (uint8_t *)"{\"a\":1}";
		r[i].payload.len = 7;
	}
	r[2].encoding = IMMUNE__V1__ENCODING__ENCODING_ZSTD;
	r[1].kind = IMMUNE__V1__RECORD_KIND__RECORD_GAP;
	b.stream = IMMUNE__V1__STREAM__STREAM_ALERTS;
	b.records = rs;
	b.n_records = 3;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &b;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "batch");
	assert_int_equal(g->batch->stream, IMMUNE__V1__STREAM__STREAM_ALERTS);
	assert_int_equal(g->batch->n_records, 3);
	assert_int_equal(g->batch->records[2]->seq, 5);
	assert_int_equal(g->batch->records[2]->encoding, IMMUNE__V1__ENCODING__ENCODING_ZSTD);
	assert_int_equal(g->batch->records[1]->kind, IMMUNE__V1__RECORD_KIND__RECORD_GAP);
	assert_memory_equal(g->batch->records[0]->payload.data, "{\"a\":1}", 7);
	msg_free(g);

	/* A batch before authentication is refused. */
	assert_int_equal(round_trip(&f, false, &g), -EPROTO);
	/* Decreasing or repeated seq, seq 0. */
	r[2].seq = 3;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[2].seq = 2;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[2].seq = 5;
	r[0].seq = 0;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[0].seq = 1;
	/* A kind from a newer sender passes (stored, not applied); out of range and
	 * unspecified kinds, unknown encoding, unknown stream are refused. */
	r[1].kind = 99;
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	r[1].kind = MSG_MAX_RECORD_KIND + 1;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[1].kind = IMMUNE__V1__RECORD_KIND__RECORD_UNSPECIFIED;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[1].kind = IMMUNE__V1__RECORD_KIND__RECORD_SCAN;
	r[1].encoding = 7;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	r[1].encoding = IMMUNE__V1__ENCODING__ENCODING_RAW;
	b.stream = 3;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	b.stream = IMMUNE__V1__STREAM__STREAM_EVENTS;
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
}

static void test_round_trip_other(void **state)
{
	uint8_t der[] = { 0x30, 3, 1, 2, 3 };
	Immune__V1__RenewRequest rq = IMMUNE__V1__RENEW_REQUEST__INIT;
	Immune__V1__RenewResponse rs = IMMUNE__V1__RENEW_RESPONSE__INIT;
	Immune__V1__CatalogFile c1 = IMMUNE__V1__CATALOG_FILE__INIT;
	Immune__V1__CatalogFile c2 = IMMUNE__V1__CATALOG_FILE__INIT;
	Immune__V1__CatalogFile *cs[] = { &c1, &c2 };
	Immune__V1__ConfigUpdate cu = IMMUNE__V1__CONFIG_UPDATE__INIT;
	Immune__V1__Label arg = IMMUNE__V1__LABEL__INIT;
	Immune__V1__Label *args[] = { &arg };
	Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
	Immune__V1__Refusal ref = IMMUNE__V1__REFUSAL__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g;

	rq.csr_der.data = der;
	rq.csr_der.len = sizeof(der);
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_REQUEST;
	f.renew_request = &rq;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "renew_request");
	assert_memory_equal(g->renew_request->csr_der.data, der, sizeof(der));
	msg_free(g);

	rs.cert_der.data = der;
	rs.cert_der.len = sizeof(der);
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE;
	f.renew_response = &rs;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "renew_response");
	assert_int_equal(g->renew_response->cert_der.len, sizeof(der));
	msg_free(g);

	c1.name = "10-os.yml";
	c1.content.data = (uint8_t *)"rules: []\n";
	c1.content.len = 10;
	c2.name = "20-ssh.yml";
	cu.scan_interval_seconds = 600;
	cu.catalog_digest = "0123";
	cu.catalog = cs;
	cu.n_catalog = 2;
	f.body_case = IMMUNE__V1__FRAME__BODY_CONFIG;
	f.config = &cu;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "config");
	assert_int_equal(g->config->n_catalog, 2);
	assert_string_equal(g->config->catalog[1]->name, "20-ssh.yml");
	assert_int_equal(g->config->catalog[0]->content.len, 10);
	msg_free(g);
	/* Bad catalog file names. */
	const char *bad_names[] = {
		"",	    ".yml",   ".hidden.yml", "a/b.yml",
		"../x.yml", "x.yaml", "x.yml/",	     "10-os.yml" /* duplicate of c1 */,
		"a\nb.yml"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		c2.name = (char *)bad_names[i];
		assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	}
	c2.name = "20-ssh.yml";

	arg.key = "table";
	arg.value = "users";
	cmd.id = 42;
	cmd.name = "inventory-now";
	cmd.args = args;
	cmd.n_args = 1;
	f.body_case = IMMUNE__V1__FRAME__BODY_COMMAND;
	f.command = &cmd;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "command");
	assert_int_equal(g->command->id, 42);
	assert_string_equal(g->command->args[0]->value, "users");
	msg_free(g);
	arg.key = "";
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);

	ref.reason = IMMUNE__V1__REFUSAL__REASON__REASON_TOKEN_EXPIRED;
	ref.message = "token expired";
	f.body_case = IMMUNE__V1__FRAME__BODY_REFUSAL;
	f.refusal = &ref;
	assert_int_equal(round_trip(&f, true, &g), 0);
	assert_string_equal(msg_body_name(g), "refusal");
	assert_int_equal(g->refusal->reason, IMMUNE__V1__REFUSAL__REASON__REASON_TOKEN_EXPIRED);
	assert_string_equal(g->refusal->message, "token expired");
	msg_free(g);
	ref.reason = 1000;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	assert_string_equal(msg_body_name(NULL), "none");
	msg_free(NULL);
}

static void test_limits(void **state)
{
	char *big = xmalloc(MSG_MAX_STRING + 2);
	Immune__V1__Label l = IMMUNE__V1__LABEL__INIT;
	Immune__V1__Label **many = xcalloc(MSG_MAX_LABELS + 1, sizeof(*many));
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	Immune__V1__Record rec = IMMUNE__V1__RECORD__INIT;
	Immune__V1__Record *recs[] = { &rec };
	Immune__V1__RecordBatch b = IMMUNE__V1__RECORD_BATCH__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g;

	memset(big, 'x', MSG_MAX_STRING + 1);
	big[MSG_MAX_STRING + 1] = '\0';
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	h.host_id = "h-1";
	assert_int_equal(round_trip(&f, false, &g), 0);
	msg_free(g);

	/* Strings one byte over their limit. */
	h.hostname = big;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	big[MSG_MAX_STRING] = '\0';
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	h.hostname = NULL;
	big[MSG_MAX_ID + 1] = '\0';
	h.host_id = big;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	big[MSG_MAX_ID] = '\0';
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	h.host_id = "h-1";

	/* Labels: count and empty key. */
	l.key = "k";
	l.value = "v";
	for (int i = 0; i <= MSG_MAX_LABELS; i++)
		many[i] = &l;
	h.labels = many;
	h.n_labels = MSG_MAX_LABELS;
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	h.n_labels = MSG_MAX_LABELS + 1;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	h.n_labels = 1;
	l.key = "";
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	h.n_labels = 0;

	/* A frame without a body, and version 0. */
	f.body_case = IMMUNE__V1__FRAME__BODY__NOT_SET;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	assert_int_equal(round_trip(&f, false, &g), -EPROTO);
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.version = 0;
	size_t n;
	_cleanup_free_ uint8_t *raw = pack_raw(&f, &n);
	assert_int_equal(msg_decode(raw, n, true, &g), -EPROTO);
	/* A newer version is accepted. */
	f.version = 7;
	_cleanup_free_ uint8_t *raw7 = pack_raw(&f, &n);
	assert_int_equal(msg_decode(raw7, n, true, &g), 0);
	assert_int_equal(g->version, 7);
	msg_free(g);

	/* Payload one byte over MSG_MAX_PAYLOAD. */
	uint8_t *payload = xcalloc(1, MSG_MAX_PAYLOAD + 1);
	rec.seq = 1;
	rec.kind = IMMUNE__V1__RECORD_KIND__RECORD_SCAN;
	rec.payload.data = payload;
	rec.payload.len = MSG_MAX_PAYLOAD;
	b.records = recs;
	b.n_records = 1;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &b;
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	rec.payload.len = MSG_MAX_PAYLOAD + 1;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	free(payload);

	/* Too many records. */
	Immune__V1__Record *rs = xcalloc(MSG_MAX_BATCH_RECORDS + 1, sizeof(*rs));
	Immune__V1__Record **rps = xcalloc(MSG_MAX_BATCH_RECORDS + 1, sizeof(*rps));
	for (size_t i = 0; i <= MSG_MAX_BATCH_RECORDS; i++) {
		immune__v1__record__init(&rs[i]);
		rs[i].seq = i + 1;
		rs[i].kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
		rs[i].payload.data = (uint8_t *)"0123456789012345678901234567890123456789";
		rs[i].payload.len = 40;
		rps[i] = &rs[i];
	}
	b.records = rps;
	b.n_records = MSG_MAX_BATCH_RECORDS;
	assert_int_equal(round_trip(&f, true, &g), 0);
	msg_free(g);
	b.n_records = MSG_MAX_BATCH_RECORDS + 1;
	assert_int_equal(round_trip(&f, true, &g), -EPROTO);
	free(rps);
	free(rs);

	/* Garbage is not a frame. */
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(msg_decode(junk, sizeof(junk), true, &g), -EBADMSG);
	assert_int_equal(msg_decode(junk, 0, true, &g), -EBADMSG);

	free(many);
	free(big);
}

static void test_alloc_budget(void **state)
{
	/* A batch of 100000 empty records: two bytes each on the wire, ~90 bytes each decoded. */
	size_t n = 100000;
	struct buf b;
	const uint8_t head[] = { 0x08, 0x01 }; /* version 1 */
	Frame *g = NULL;

	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_append(&b, head, sizeof(head)), 0);
	/* field 15 (batch), length-delimited: 0x7a, varint length 2n */
	uint8_t tag[] = { 0x7a, 0, 0, 0, 0 };
	size_t len = 2 * n, k = 1;
	while (len >= 0x80) {
		tag[k++] = (uint8_t)(len | 0x80);
		len >>= 7;
	}
	tag[k++] = (uint8_t)len;
	assert_int_equal(buf_append(&b, tag, k), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_append(&b, "\x12\x00", 2), 0); /* records: empty */
	int r = msg_decode(buf_str(&b), buf_len(&b), true, &g);
	assert_true(r == -ENOMEM || r == -EPROTO);
	assert_int_equal(r, -ENOMEM);
	assert_null(g);
	buf_free(&b);
}

static void test_msg_read_bytewise(void **state)
{
	struct evbuffer *wire = evbuffer_new(), *in = evbuffer_new();
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	Frame *g = NULL;
	unsigned char byte;
	int got = 0;

	hb.time_ns = 123;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	assert_int_equal(msg_write(&f, wire), 0);
	h.host_id = "h-9";
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	assert_int_equal(msg_write(&f, wire), 0);

	while (evbuffer_remove(wire, &byte, 1) == 1) {
		evbuffer_add(in, &byte, 1);
		size_t before = evbuffer_get_length(in);
		int r = msg_read(in, FRAME_MAX, true, &g);
		assert_true(r >= 0);
		if (r == 0) {
			assert_int_equal(evbuffer_get_length(in), before);
			continue;
		}
		assert_int_equal(evbuffer_get_length(in), 0);
		if (got == 0) {
			assert_string_equal(msg_body_name(g), "heartbeat");
			assert_int_equal(g->heartbeat->time_ns, 123);
		} else {
			assert_string_equal(msg_body_name(g), "hello");
			assert_string_equal(g->hello->host_id, "h-9");
		}
		msg_free(g);
		got++;
	}
	assert_int_equal(got, 2);

	/* An oversized header is refused at once, before the body arrives. */
	const unsigned char hdr[] = { 0, 0, 0x40, 1 };
	evbuffer_add(in, hdr, sizeof(hdr));
	assert_int_equal(msg_read(in, FRAME_MAX_PREAUTH, false, &g), -EMSGSIZE);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* Garbage of the announced length. */
	const unsigned char bad[] = { 0, 0, 0, 2, 0xff, 0xff };
	evbuffer_add(in, bad, sizeof(bad));
	assert_int_equal(msg_read(in, FRAME_MAX, true, &g), -EBADMSG);
	evbuffer_free(in);
	evbuffer_free(wire);
}

static void test_encode_cap(void **state)
{
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;
	struct buf b;

	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	hb.time_ns = 1;
	buf_init(&b, 5);
	assert_int_equal(msg_encode(&f, &b), -EMSGSIZE);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_peek),	   cmocka_unit_test(test_round_trip_enroll),
		cmocka_unit_test(test_round_trip_session), cmocka_unit_test(test_round_trip_batch),
		cmocka_unit_test(test_round_trip_other),   cmocka_unit_test(test_limits),
		cmocka_unit_test(test_alloc_budget),	   cmocka_unit_test(test_msg_read_bytewise),
		cmocka_unit_test(test_encode_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
