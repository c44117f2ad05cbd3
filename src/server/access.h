/* The server's access authority (docs/access.md): identities and roles, policy files,
 * requests and grants, the SSH CA, the access bundle pushed to agents, offboarding.
 *
 * State lives in the store as access documents (store_access_doc_*), kinds below; the
 * compiled policy set and the bundle are kept in struct server_access on the loop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* The identity document of the operator "admin" (role admin) unless one exists: at first
 * start, and for a data directory from before identities. */
int access_identity_first_admin(struct server *s);
void access_fini(struct server *s);
/* Rebuilds the bundle from the stored documents; when its digest changed, sends it to
 * every connected agent. Call after any change to policies, grants, identities' status or
 * revoked certificates. */
int access_bundle_refresh(struct server *s);
/* The same on the loop's next turn (after what is queued now, e.g. access-revoke commands,
 * has gone out). */
int access_bundle_refresh_later(struct server *s);
/* The policy files' total size: the bundle (FILE_SET_TOTAL_MAX) keeps room for access.json. */
#define ACCESS_POLICY_FILES_MAX (FILE_SET_TOTAL_MAX - 512u * 1024)
/* Replaces the policy files (validated first: -EINVAL with err "FILE:LINE:COL: ...";
 * -EFBIG past ACCESS_POLICY_FILES_MAX or FILE_SET_FILES_MAX - 1 files). */
int access_policies_replace(struct server *s, json_t *files, char *err, size_t err_len);
/* The identity's document (new reference), or NULL when unknown. */
json_t *access_identity_get(struct server *s, const char *name);

/* A stored document as a JSON object (new reference), or NULL (unknown or unreadable). */
json_t *access_doc_load(struct server *s, const char *kind, const char *id);
/* Stores doc under (kind, id): 0 or a negative errno. */
int access_doc_save(struct server *s, const char *kind, const char *id, const json_t *doc);
/* A document's time (RFC 3339 text or Unix seconds) as Unix seconds; 0 when absent or bad. */
int64_t access_json_time(const json_t *v);
/* A certificate serial (decimal text or integer): 0 or -EINVAL. */
int access_json_serial(const json_t *v, uint64_t *out);
/* Whether name is a policy file name: 1-57 of [a-z0-9._-] (first a letter or digit) then
 * ".policy". */
bool access_policy_file_name_ok(const char *name);
/* Sends Command{access-revoke} for identity to every connected agent; returns how many it
 * was sent to. */
size_t access_revoke_send(struct server *s, const char *identity, const uint64_t *serials,
			  size_t n_serials, char **accounts, size_t n_accounts);
