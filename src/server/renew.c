/* Established connections' housekeeping: heartbeats and certificate renewal. */
#include "server/server_int.h"
#include "lib/log.h"
#include "store/store.h"
#include "trust/pki.h"

#define R(x) IMMUNE__V1__REFUSAL__REASON__REASON_##x
#define TOUCH_INTERVAL_S 30 /* last_seen is coalesced to one write per host per interval */

/* Heartbeats keep the idle timeout away; nothing is sent back (docs/protocol.md: the agent
 * sends them). */
void heartbeat_handle(struct conn *c, const Immune__V1__Heartbeat *hb)
{
	struct server *s = c->srv;
	int64_t now = server_now_s();
	if (now - c->touched_s >= TOUCH_INTERVAL_S) {
		int r = store_host_touch(s->store, c->host_id, now);
		if (r < 0)
			log_errno(r, "recording that host %s was seen", c->host_id);
		c->touched_s = now;
	}
}

static int renew_cert(struct server *s, const char *host_id, const Immune__V1__RenewRequest *req,
		      X509 **out)
{
	X509 *cert = NULL;
	int r = pki_ca_issue_host(s->ca, req->csr_der.data, req->csr_der.len, host_id,
				  s->opt.cert_lifetime_s, &cert);
	if (r < 0)
		return r;
	_cleanup_free_ char *serial = pki_cert_serial_hex(cert);
	int64_t not_after = 0;
	if (!serial || pki_cert_not_after(cert, &not_after) < 0)
		r = -EIO;
	else
		r = store_host_set_cert(s->store, host_id, serial, not_after);
	if (r < 0) {
		X509_free(cert);
		return r;
	}
	*out = cert;
	return 0;
}

static bool host_revoked(struct server *s, const char *host_id)
{
	struct store_host h = { 0 };
	if (store_host_get(s->store, host_id, &h) < 0)
		return true;
	bool revoked = h.revoked;
	store_host_free(&h);
	return revoked;
}

void renew_handle(struct conn *c, const Immune__V1__RenewRequest *req)
{
	struct server *s = c->srv;
	if (host_revoked(s, c->host_id)) {
		server_count(s, CTR_RENEW_REFUSED);
		conn_refuse(c, R(HOST_REVOKED), "this host was removed from the fleet");
		return;
	}
	X509 *cert = NULL;
	int r = renew_cert(s, c->host_id, req, &cert);
	if (r < 0) {
		server_count(s, CTR_RENEW_REFUSED);
		if (r == -EBADMSG)
			conn_refuse(c, R(BAD_CSR), "unusable certificate request");
		else
			conn_refuse(c, R(UNSPECIFIED), "server error");
		return;
	}
	_cleanup_free_ unsigned char *der = NULL;
	size_t len = 0;
	if (pki_cert_to_der(cert, &der, &len) == 0) {
		Immune__V1__RenewResponse resp = IMMUNE__V1__RENEW_RESPONSE__INIT;
		resp.cert_der = (ProtobufCBinaryData){ .len = len, .data = der };
		Frame f = IMMUNE__V1__FRAME__INIT;
		f.body_case = IMMUNE__V1__FRAME__BODY_RENEW_RESPONSE;
		f.renew_response = &resp;
		conn_send(c, &f);
		server_count(s, CTR_RENEW_OK);
	}
	X509_free(cert);
}
