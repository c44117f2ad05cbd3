/* Hello: the first frame of a mutual-TLS connection. The certificate's CN is the host id;
 * the host must exist, not be revoked, and present the one certificate serial it holds. */
#include "server/server_int.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "store/store.h"
#include "trust/pki.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#define R(x) IMMUNE__V1__REFUSAL__REASON__REASON_##x

static void mismatch(struct conn *c, const char *message)
{
	server_count(c->srv, CTR_CONNECT_IDENTITY_MISMATCH);
	conn_refuse(c, R(IDENTITY_MISMATCH), message);
}

/* Checks the peer against the store; returns true when it may go on (else refused). */
static bool identity_ok(struct conn *c, const Immune__V1__Hello *hello, const char *cn)
{
	struct server *s = c->srv;
	if (strcmp(hello->host_id, cn) != 0) {
		mismatch(c, "Hello.host_id differs from the certificate's host id");
		return false;
	}
	struct store_host h = { 0 };
	int r = store_host_get(s->store, cn, &h);
	if (r == -ENOENT) {
		server_count(s, CTR_CONNECT_UNKNOWN_HOST);
		conn_refuse(c, R(IDENTITY_MISMATCH), "unknown host (enroll again)");
		return false;
	}
	if (r < 0) {
		log_errno(r, "looking up host %s", cn);
		conn_refuse(c, R(OVERLOADED), "server error");
		return false;
	}
	bool ok = false;
	X509 *cert = tls_peer_cert(bufferevent_openssl_get_ssl(c->bev));
	_cleanup_free_ char *serial = cert ? pki_cert_serial_hex(cert) : NULL;
	if (h.revoked) {
		server_count(s, CTR_CONNECT_REVOKED);
		conn_refuse(c, R(HOST_REVOKED), "this host was removed from the fleet");
	} else if (!serial || !h.cert_serial || strcmp(serial, h.cert_serial) != 0) {
		mismatch(c, "this certificate was replaced (renewed or re-enrolled)");
	} else {
		ok = true;
	}
	store_host_free(&h);
	return ok;
}

static void send_welcome(struct conn *c)
{
	struct server *s = c->srv;
	struct store_stream st[3];
	memset(st, 0, sizeof(st));
	int r = store_host_streams(s->store, c->host_id, st);
	if (r < 0 && r != -ENOENT)
		log_errno(r, "reading the streams of host %s", c->host_id);
	Immune__V1__Ack acks[3];
	Immune__V1__Ack *ackp[3];
	for (size_t i = 0; i < 3; i++) {
		immune__v1__ack__init(&acks[i]);
		acks[i].stream = (Immune__V1__Stream)i;
		acks[i].committed_seq = r == 0 ? st[i].committed_seq : 0;
		ackp[i] = &acks[i];
	}
	Immune__V1__Welcome w = IMMUNE__V1__WELCOME__INIT;
	w.n_committed = 3;
	w.committed = ackp;
	w.heartbeat_seconds = s->opt.heartbeat_s;
	w.max_frame = FRAME_MAX;
	w.max_batch_records = MSG_MAX_BATCH_RECORDS;
	w.server_time_ns = server_now_ns();
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	conn_send(c, &f);
}

enum pushed_kind { PUSH_CATALOG, PUSH_RULES, PUSH_PLAYBOOKS, PUSH_ACCESS };

/* Sends set (the catalog, the rules or the playbooks) in a ConfigUpdate of its own when the
 * agent's digest differs. */
static void send_file_set(struct conn *c, const struct file_set *set, enum pushed_kind kind,
			  const char *agent_digest, uint32_t agent_max_frame)
{
	static const char *const names[] = { "catalog", "rules", "playbooks", "access bundle" };
	if (!set || strcmp(set->digest, agent_digest ? agent_digest : "") == 0)
		return;
	Immune__V1__CatalogFile *files = xcalloc(set->n ? set->n : 1, sizeof(*files));
	Immune__V1__CatalogFile **ptrs = xcalloc(set->n ? set->n : 1, sizeof(*ptrs));
	for (size_t i = 0; i < set->n; i++) {
		immune__v1__catalog_file__init(&files[i]);
		files[i].name = set->files[i].name;
		files[i].content = (ProtobufCBinaryData){ .len = set->files[i].len,
							  .data = set->files[i].content };
		ptrs[i] = &files[i];
	}
	Immune__V1__ConfigUpdate u = IMMUNE__V1__CONFIG_UPDATE__INIT;
	if (kind == PUSH_RULES) {
		u.rules_digest = (char *)set->digest;
		u.n_rules = set->n;
		u.rules = ptrs;
	} else if (kind == PUSH_ACCESS) {
		u.access_digest = (char *)set->digest;
		u.n_access = set->n;
		u.access = ptrs;
	} else if (kind == PUSH_PLAYBOOKS) {
		u.playbooks_digest = (char *)set->digest;
		u.n_playbooks = set->n;
		u.playbooks = ptrs;
	} else {
		u.catalog_digest = (char *)set->digest;
		u.n_catalog = set->n;
		u.catalog = ptrs;
	}
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_CONFIG;
	f.config = &u;
	size_t size = protobuf_c_message_get_packed_size(&f.base) + FRAME_HEADER_SIZE;
	if (agent_max_frame && size > agent_max_frame)
		log_warn("host %s accepts frames of %u bytes, the %s need %zu: not sent",
			 c->host_id, agent_max_frame, names[kind], size);
	else
		conn_send(c, &f);
	free(ptrs);
	free(files);
}

/* One connection per host: the newest wins. */
static void take_over(struct conn *c)
{
	struct server *s = c->srv;
	struct conn *old = hostmap_put(&s->hosts, c);
	if (old && old != c) {
		old->host_id[0] = '\0'; /* no longer in the map */
		server_count(s, CTR_REPLACED);
		conn_free(old);
	}
}

static void record_hello(struct conn *c, const Immune__V1__Hello *hello)
{
	struct store_label *labels = xcalloc(hello->n_labels + 1, sizeof(*labels));
	for (size_t i = 0; i < hello->n_labels; i++)
		labels[i] = (struct store_label){ hello->labels[i]->key, hello->labels[i]->value };
	int r = store_host_hello(c->srv->store, c->host_id, hello->hostname, hello->agent_version,
				 labels, hello->n_labels, server_now_s());
	if (r < 0)
		log_errno(r, "recording the Hello of host %s", c->host_id);
	free(labels);
	c->touched_s = server_now_s();
}

void hello_handle(struct conn *c, const Immune__V1__Hello *hello)
{
	struct server *s = c->srv;
	X509 *cert = tls_peer_cert(bufferevent_openssl_get_ssl(c->bev));
	char cn[PKI_HOST_ID_MAX + 1];
	if (!cert || pki_cert_cn(cert, cn, sizeof(cn)) < 0 || strlen(cn) >= sizeof(c->host_id)) {
		mismatch(c, "the certificate names no host");
		return;
	}
	if (!identity_ok(c, hello, cn))
		return;
	memcpy(c->host_id, cn, strlen(cn) + 1);
	conn_list_move(s, c, LIST_NONE);
	c->state = CONN_ESTABLISHED;
	take_over(c);
	record_hello(c, hello);
	struct timeval idle = { .tv_sec = 3 * (time_t)s->opt.heartbeat_s };
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	server_count(s, CTR_CONNECT_OK);
	send_welcome(c);
	send_file_set(c, c->srv->catalog, PUSH_CATALOG, hello->catalog_digest, hello->max_frame);
	send_file_set(c, c->srv->rules, PUSH_RULES, hello->rules_digest, hello->max_frame);
	send_file_set(c, c->srv->playbook_files, PUSH_PLAYBOOKS, hello->playbooks_digest,
		      hello->max_frame);
	hello_send_access(c, hello->access_digest, hello->max_frame);
}

void hello_send_access(struct conn *c, const char *agent_digest, uint32_t agent_max_frame)
{
	send_file_set(c, c->srv->access.bundle, PUSH_ACCESS, agent_digest, agent_max_frame);
}
