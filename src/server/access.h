/* The server's access authority (docs/access.md): identities and roles, policy files,
 * requests and grants, the SSH CA, the access bundle pushed to agents, offboarding.
 *
 * State lives in the store as access documents (store_access_doc_*), kinds below; the
 * compiled policy set and the bundle are kept in struct server_access on the loop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "server/file_set.h"

struct server;
struct access_policy_set;

/* Document kinds (store_access_doc_*); each document is a JSON object, docs/access.md. */
#define ACCESS_DOC_USER "user"	       /* id: identity name */
#define ACCESS_DOC_GROUP "group"       /* id: group name */
#define ACCESS_DOC_POLICY "policy"     /* id: file name "x.policy"; {"name", "content"} */
#define ACCESS_DOC_REQUEST "request"   /* id: 32 hex */
#define ACCESS_DOC_GRANT "grant"       /* id: 32 hex */
#define ACCESS_DOC_CERT "cert"	       /* id: serial in decimal */
#define ACCESS_DOC_SETTINGS "settings" /* id "access": {"record_sessions", "bundle_version"} */

struct server_access {
	struct access_policy_set *policies; /* compiled from the stored policy files */
	void *ssh_ca;			    /* sshcert_ca_load_or_create(DATA/ssh-ca.pem) */
	struct file_set *bundle;	    /* what agents get (ConfigUpdate.access) */
	struct event *tick_ev;		    /* expires grants and requests, unused-grant review */
};

/* access.c: loads the CA, the policies and builds the bundle at server start. */
int access_init(struct server *s);
/* Loads the SSH CA into s->access.ssh_ca (the grants' file; called by access_init). */
int access_ssh_init(struct server *s);
void access_fini(struct server *s);
/* Rebuilds the bundle from the stored documents; when its digest changed, sends it to
 * every connected agent. Call after any change to policies, grants, identities' status or
 * revoked certificates. */
int access_bundle_refresh(struct server *s);
/* Replaces the policy files (validated first: -EINVAL with err "FILE:LINE:COL: ..."). */
int access_policies_replace(struct server *s, json_t *files, char *err, size_t err_len);
/* The identity's document (new reference), or NULL when unknown. */
json_t *access_identity_get(struct server *s, const char *name);
