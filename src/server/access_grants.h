/* Signing, just-in-time requests and grants, break-glass and least-privilege review at the
 * server (docs/access.md): the parts shared by access_ssh.c, access_grants.c and
 * api_access.c. Everything runs on the server's loop. */
#pragma once

#include "access/policy.h"
#include "lib/common.h"

#include <jansson.h>
#include <sys/socket.h>

struct server;
struct store_host;
struct evhttp_request;
struct api_caller;

#define ACCESS_REQUEST_TTL_S (24 * 3600)     /* a pending request expires after this */
#define ACCESS_BREAK_GLASS_MAX_S 3600	     /* a break-glass grant lasts at most this */
#define ACCESS_GRANT_MAX_S (7 * 24 * 3600)   /* no grant lasts longer, whatever policy says */
#define ACCESS_GRANT_DEFAULT_S 3600	     /* a request without "for" */
#define ACCESS_UNUSED_DEFAULT_S (30 * 86400) /* --access-unused */
#define ACCESS_CERT_DEFAULT_S 300	     /* certificate lifetime without "lifetime" */
#define ACCESS_CERT_MAX_S 3600
#define ACCESS_TICK_S 10
#define ACCESS_REASON_MAX 1024
#define ACCESS_SESSION_COMMAND_DEFAULT "/usr/libexec/immune/immune-agent session"

/* What an access_request points into: the identity's groups and attributes, the host's
 * labels, all owned here. Fill with access_subject_init, free with access_subject_fini. */
struct access_subject {
	struct access_request req;
	json_t *identity; /* the identity document (owned reference) */
	char *host_id, *hostname;
	const char **groups;
	struct access_attr *attrs, *labels;
	char **label_store; /* "k", "v" pairs the labels point into */
	size_t n_label_store;
};

/* Builds the request of identity (its document) for action as account on host h, with the
 * context of the moment: now, source (may be NULL), the host's posture and open alerts.
 * grant is left false. Returns 0 or -ENOMEM/-EIO. */
int access_subject_init(struct server *s, struct access_subject *sub, json_t *identity,
			const struct store_host *h, enum access_action action, const char *account,
			const struct sockaddr_storage *source, int64_t now);
void access_subject_fini(struct access_subject *sub);

/* Pure: whether grant (a grant document) covers identity logging in as account on the host
 * (id and labels) at now: not revoked, starts <= now < expires, the host id equal or its
 * label "k=v" among the labels, the account equal. */
bool access_grant_covers(const json_t *grant, const char *identity, const char *host_id,
			 const struct access_attr *labels, size_t n_labels, const char *account,
			 int64_t now);
/* The first active grant of identity covering (host, account) (new reference), or NULL. */
json_t *access_grant_find(struct server *s, const char *identity, const struct store_host *h,
			  const char *account, int64_t now);

/* "for" of a request: a whole number of seconds or a duration text ("90m", "2h", "1d") in
 * [1, ACCESS_GRANT_MAX_S]. Returns 0, -EINVAL or -ERANGE. */
int access_for_parse(const json_t *v, int64_t *out);
/* RFC 3339 member key of a document as Unix seconds; 0 when absent, null or malformed. */
int64_t access_doc_time(const json_t *doc, const char *key);
/* The identity's document when it exists and is active (new reference), else NULL. */
json_t *access_active_identity(struct server *s, const char *name);
/* The host named by id or hostname into *out (free with store_host_free). 0, -ENOENT, or
 * -EEXIST when two hosts share the hostname. */
int access_host_lookup(struct server *s, const char *name, struct store_host *out);

/* Whether caller (an identity name) is named by approvers ("user:x", "group:y"); groups
 * come from its identity document (may be NULL). Pure. */
bool access_is_approver(const json_t *approvers, const char *caller, const json_t *caller_doc);

/* Raises a server alert (OCSF Detection Finding) for rule_id at level (enum sigma_level)
 * on host_id (NULL: fleet-wide). Returns 0 or a negative errno. */
int access_alert_raise(struct server *s, const char *host_id, const char *rule_id,
		       const char *title, int level, const char *explanation);

/* The grant tick (expiry, unused-grant revocation) and its set-up; init also loads the SSH
 * CA (access_ssh_init) when it is not loaded yet; fini frees both. */
int access_grants_init(struct server *s);
void access_grants_fini(struct server *s);
/* One pass of the tick at now: expires requests and grants, revokes unused grants. Returns
 * the number of documents changed (the bundle was refreshed when > 0). */
int access_grants_tick(struct server *s, int64_t now);

/* ---- access_ssh.c: the SSH CA and signing ---- */

/* Frees the SSH CA (access_ssh_init in access.h loads it); s->access.ssh_ca is NULL after. */
void access_ssh_fini(struct server *s);

/* A POST /v1/ssh/certificates body (strings borrowed from it). */
struct sign_args_pub {
	const char *host, *account, *public_key;
	int64_t lifetime; /* seconds, 1..ACCESS_CERT_MAX_S */
	bool port_forward;
};
/* Checks body into a (account defaults to identity). Returns NULL, or what is wrong. */
const char *access_sign_args_parse(json_t *body, const char *identity, struct sign_args_pub *a);
/* Parses a textual address (IPv4, IPv6, IPv4-mapped IPv6) into out and cidr ("a/32",
 * "b/128"). Returns 0, -EINVAL or -ENAMETOOLONG. */
int access_address_parse(const char *addr, struct sockaddr_storage *out, char *cidr,
			 size_t cidr_len);
/* The address the API request came from (access_address_parse of the peer). */
int access_peer_address(struct evhttp_request *req, struct sockaddr_storage *out, char *cidr,
			size_t cidr_len);
/* The force-command of certificates: the settings' session_command, else the server's
 * --session-command, else ACCESS_SESSION_COMMAND_DEFAULT (borrowed). */
const char *access_session_command(struct server *s, json_t *settings_doc);
void access_api_ssh_ca(struct server *s, struct evhttp_request *req);
void access_api_ssh_sign(struct server *s, struct evhttp_request *req, const struct api_caller *c);

/* ---- api_access.c: requests, grants, review ---- */
/* Pure: a request document's "for" capped by max_s (0: no cap) and the break-glass limit. */
int64_t access_grant_duration(int64_t asked_s, int64_t policy_max_s, bool break_glass);
