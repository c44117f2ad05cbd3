/* Writes the seed corpora of fuzz_frame, fuzz_token and fuzz_csr under the directory given
 * (fuzz/corpus): one valid frame per message type, a few refused ones, tokens and CSRs.
 * Run by hand when the schema changes: build/fuzz/gen_corpus fuzz/corpus */
#include "proto/msg.h"
#include "trust/pki.h"
#include "trust/token.h"

#include <openssl/x509.h>

static void put(const char *root, const char *sub, const char *name, const void *p, size_t n)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/%s", root, sub, name);
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void put_frame(const char *root, const char *name, Frame *f)
{
	struct buf b;

	buf_init(&b, FRAME_MAX + FRAME_HEADER_SIZE);
	if (msg_encode(f, &b) < 0)
		exit(1);
	put(root, "frame", name, buf_str(&b), buf_len(&b));
	buf_free(&b);
}

static void frames(const char *root)
{
	uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	Immune__V1__Label l = IMMUNE__V1__LABEL__INIT;
	Immune__V1__Label *ls[] = { &l };
	Immune__V1__EnrollRequest er = IMMUNE__V1__ENROLL_REQUEST__INIT;
	Immune__V1__EnrollResponse ers = IMMUNE__V1__ENROLL_RESPONSE__INIT;
	Immune__V1__StreamPosition sp = IMMUNE__V1__STREAM_POSITION__INIT;
	Immune__V1__StreamPosition *sps[] = { &sp };
	Immune__V1__Hello h = IMMUNE__V1__HELLO__INIT;
	Immune__V1__Ack a = IMMUNE__V1__ACK__INIT;
	Immune__V1__Ack *as[] = { &a };
	Immune__V1__Welcome w = IMMUNE__V1__WELCOME__INIT;
	Immune__V1__Heartbeat hb = IMMUNE__V1__HEARTBEAT__INIT;
	Immune__V1__Record r1 = IMMUNE__V1__RECORD__INIT, r2 = IMMUNE__V1__RECORD__INIT;
	Immune__V1__Record *rs[] = { &r1, &r2 };
	Immune__V1__RecordBatch bt = IMMUNE__V1__RECORD_BATCH__INIT;
	Immune__V1__RenewRequest rq = IMMUNE__V1__RENEW_REQUEST__INIT;
	Immune__V1__RenewResponse rr = IMMUNE__V1__RENEW_RESPONSE__INIT;
	Immune__V1__CatalogFile cf = IMMUNE__V1__CATALOG_FILE__INIT;
	Immune__V1__CatalogFile *cfs[] = { &cf };
	Immune__V1__ConfigUpdate cu = IMMUNE__V1__CONFIG_UPDATE__INIT;
	Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
	Immune__V1__Refusal ref = IMMUNE__V1__REFUSAL__INIT;
	Frame f = IMMUNE__V1__FRAME__INIT;

	l.key = "env";
	l.value = "prod";
	er.token = "imt1.0123456789abcdef.x.y";
	er.csr_der.data = der;
	er.csr_der.len = sizeof(der);
	er.hostname = "web-1";
	er.machine_id = "0123456789abcdef0123456789abcdef";
	er.labels = ls;
	er.n_labels = 1;
	er.agent_version = "0.1";
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_REQUEST;
	f.enroll_request = &er;
	put_frame(root, "enroll_request", &f);

	ers.host_id = "h-1";
	ers.cert_der.data = der;
	ers.cert_der.len = sizeof(der);
	ers.ca_der = ers.cert_der;
	f.body_case = IMMUNE__V1__FRAME__BODY_ENROLL_RESPONSE;
	f.enroll_response = &ers;
	put_frame(root, "enroll_response", &f);

	sp.stream = IMMUNE__V1__STREAM__STREAM_STATE;
	sp.first_seq = 3;
	sp.next_seq = 7;
	h.host_id = "h-1";
	h.agent_version = "0.1";
	h.hostname = "web-1";
	h.labels = ls;
	h.n_labels = 1;
	h.streams = sps;
	h.n_streams = 1;
	h.max_frame = FRAME_MAX;
	h.catalog_digest = "00ff";
	h.scan_interval_seconds = 3600;
	f.body_case = IMMUNE__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	put_frame(root, "hello", &f);

	a.stream = IMMUNE__V1__STREAM__STREAM_ALERTS;
	a.committed_seq = 12;
	w.committed = as;
	w.n_committed = 1;
	w.heartbeat_seconds = 30;
	w.max_frame = FRAME_MAX;
	w.max_batch_records = 1000;
	w.server_time_ns = 1700000000000000000;
	f.body_case = IMMUNE__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	put_frame(root, "welcome", &f);

	hb.time_ns = 1700000000000000000;
	hb.spool_bytes = 4096;
	hb.dropped_records = 1;
	f.body_case = IMMUNE__V1__FRAME__BODY_HEARTBEAT;
	f.heartbeat = &hb;
	put_frame(root, "heartbeat", &f);

	r1.seq = 1;
	r1.kind = IMMUNE__V1__RECORD_KIND__RECORD_EVENT;
	r1.time_ns = 5;
	r1.payload.data = (uint8_t *)"{\"k\":1}";
	r1.payload.len = 7;
	r2 = r1;
	r2.seq = 2;
	r2.kind = IMMUNE__V1__RECORD_KIND__RECORD_GAP;
	r2.encoding = IMMUNE__V1__ENCODING__ENCODING_ZSTD;
	bt.stream = IMMUNE__V1__STREAM__STREAM_EVENTS;
	bt.records = rs;
	bt.n_records = 2;
	f.body_case = IMMUNE__V1__FRAME__BODY_BATCH;
	f.batch = &bt;
	put_frame(root, "batch", &f);
	r2.seq = 1; /* not increasing: refused */
	put_frame(root, "batch-bad-seq", &f);
	r2.seq = 2;

	f.body_case = IMMUNE__V1__FRAME__BODY_ACK;
	f.ack = &a;
	put_frame(root, "ack", &f);

	rq.csr_der.data = der;
	rq.csr_der.len = sizeof(der);
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_REQUEST;
	f.renew_request = &rq;
	put_frame(root, "renew_request", &f);

	rr.cert_der = rq.csr_der;
	f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE;
	f.renew_response = &rr;
	put_frame(root, "renew_response", &f);

	cf.name = "10-os.yml";
	cf.content.data = (uint8_t *)"rules: []\n";
	cf.content.len = 10;
	cu.scan_interval_seconds = 600;
	cu.heartbeat_seconds = 30;
	cu.catalog_digest = "abcd";
	cu.catalog = cfs;
	cu.n_catalog = 1;
	f.body_case = IMMUNE__V1__FRAME__BODY_CONFIG;
	f.config = &cu;
	put_frame(root, "config", &f);

	cmd.id = 9;
	cmd.name = "scan-now";
	cmd.args = ls;
	cmd.n_args = 1;
	f.body_case = IMMUNE__V1__FRAME__BODY_COMMAND;
	f.command = &cmd;
	put_frame(root, "command", &f);

	ref.reason = IMMUNE__V1__REFUSAL__REASON__REASON_BAD_TOKEN;
	ref.message = "unknown token";
	f.body_case = IMMUNE__V1__FRAME__BODY_REFUSAL;
	f.refusal = &ref;
	put_frame(root, "refusal", &f);

	/* A body-less frame, and a batch of empty records (over the allocation budget). */
	const uint8_t empty[] = { 0, 0, 0, 2, 0x08, 0x01 };
	put(root, "frame", "no-body", empty, sizeof(empty));
	size_t n = 20000;
	struct buf b;
	buf_init(&b, SIZE_MAX);
	uint8_t head[] = { 0, 0, 0, 0, 0x08, 0x01, 0x7a, 0, 0, 0 };
	size_t len = 2 * n, body = 2 + 1 + 3 + len;
	head[0] = (uint8_t)(body >> 24);
	head[1] = (uint8_t)(body >> 16);
	head[2] = (uint8_t)(body >> 8);
	head[3] = (uint8_t)body;
	head[7] = (uint8_t)(len | 0x80);
	head[8] = (uint8_t)((len >> 7) | 0x80);
	head[9] = (uint8_t)(len >> 14);
	buf_append(&b, head, sizeof(head));
	for (size_t i = 0; i < n; i++)
		buf_append(&b, "\x12\x00", 2);
	put(root, "frame", "empty-records", buf_str(&b), buf_len(&b));
	buf_free(&b);
}

static void tokens_and_csrs(const char *root)
{
	char tmpl[] = "/tmp/immune-gen-XXXXXX";
	struct pki_ca *ca;
	struct join_token t;
	char text[TOKEN_TEXT_MAX];
	EVP_PKEY *key;
	unsigned char *der;
	size_t len;

	if (!mkdtemp(tmpl) || pki_ca_open(tmpl, NULL, &ca) < 0 ||
	    token_generate(pki_ca_pin(ca), &t) < 0)
		exit(1);
	token_format(&t, text);
	put(root, "token", "valid", text, strlen(text));
	text[10] = 'G';
	put(root, "token", "bad-id", text, strlen(text));
	put(root, "token", "prefix-only", "imt1.", 5);

	if (pki_key_generate(&key) < 0 || pki_csr_create(key, "h-seed", &der, &len) < 0)
		exit(1);
	put(root, "csr", "ed25519", der, len);
	der[len - 1] ^= 1;
	put(root, "csr", "bad-signature", der, len);
	free(der);
	EVP_PKEY_free(key);

	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();
	unsigned char *ecder = NULL;
	X509_REQ_set_pubkey(req, ec);
	X509_REQ_sign(req, ec, EVP_sha256());
	int n = i2d_X509_REQ(req, &ecder);
	if (n <= 0)
		exit(1);
	put(root, "csr", "ec-p256", ecder, (size_t)n);
	OPENSSL_free(ecder);
	X509_REQ_free(req);
	EVP_PKEY_free(ec);
	put(root, "csr", "garbage", "\x30\x03\x02\x01\x01", 5);

	pki_ca_free(ca);
	const char *names[] = { "ca.key", "ca.crt", "server.key", "server.crt" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", tmpl, names[i]);
		remove(p);
	}
	remove(tmpl);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: gen_corpus DIR\n", stderr);
		return 2;
	}
	frames(argv[1]);
	tokens_and_csrs(argv[1]);
	return 0;
}
