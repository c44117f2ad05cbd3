/* The access policy language (docs/access-policy.md): permit and forbid policies over a
 * principal (user, group), an action (login as an account, sudo, sudo of a command, port
 * forwarding) and a resource (host, host group, label selector), with conditions over the
 * principal's and the host's attributes and the request's context. Forbid overrides permit;
 * no matching permit means deny.
 *
 * A policy set is compiled once (access_policy_build) and is then immutable: any number of
 * threads may call access_decide on it at once. Decisions allocate nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ACCESS_NAME_MAX 64 /* policy, user, group, host group and account names */

enum access_action {
	ACCESS_LOGIN = 0,    /* log in as request.account */
	ACCESS_SUDO,	     /* run anything as request.account (root when NULL) */
	ACCESS_SUDO_COMMAND, /* run request.command as request.account */
	ACCESS_PORT_FORWARD, /* forward ports in a session as request.account */
	ACCESS_ACTION_COUNT
};

/* "login", "sudo", "sudo-command", "port-forward" and back (-EINVAL for others). */
const char *access_action_name(enum access_action a);
int access_action_from_name(const char *name, enum access_action *out);

struct access_attr {
	const char *key;
	const char *value;
};

struct access_principal {
	const char *name; /* the identity: "alice", or a machine identity "ci-deployer" */
	const char *const *groups;
	size_t n_groups;
	const struct access_attr *attrs; /* team, location, status, ...: directory attributes */
	size_t n_attrs;
};

struct access_host {
	const char *id;	  /* the host id (32 hex characters), or NULL */
	const char *name; /* the hostname */
	const struct access_attr *labels;
	size_t n_labels;
};

enum access_attestation { ACCESS_ATTEST_UNKNOWN = 0, ACCESS_ATTEST_TRUSTED, ACCESS_ATTEST_FAILED };

enum access_severity {
	ACCESS_SEV_LOW = 0,
	ACCESS_SEV_MEDIUM,
	ACCESS_SEV_HIGH,
	ACCESS_SEV_CRITICAL
};

struct access_context {
	int64_t now;			/* Unix seconds (context.hour, context.weekday in UTC) */
	struct sockaddr_storage source; /* the client's address; ss_family 0: unknown */
	int posture;			/* the host's posture score 0..100; -1: unknown */
	enum access_attestation attestation;
	uint32_t open_alerts[4]; /* open alerts on the host by enum access_severity */
	const char *ticket;	 /* the ticket reference given with the request, or NULL */
	bool grant;		 /* an active just-in-time grant covers this request */
};

struct access_request {
	struct access_principal principal;
	enum access_action action;
	const char *account; /* the local account (login, sudo: the target account) */
	const char *command; /* ACCESS_SUDO_COMMAND: the command line */
	struct access_host host;
	struct access_context context;
};

struct access_policy_set;
struct access_policy_builder;

/* One policy as the set holds it (for listings and explanations). */
struct access_policy_info {
	const char *name;
	bool forbid;
	const char *file;
	unsigned line;
	const char *const
		*approvers; /* principals who may approve grants it needs: "group:x", "user:y" */
	size_t n_approvers;
	int64_t max_grant_s; /* longest grant it allows; 0: no limit given */
	bool grant_required; /* permits only with an active just-in-time grant */
	bool create;	     /* "create:": the account may be provisioned on the host */
	bool create_sudo;
	const char *const *create_groups; /* supplementary groups of a provisioned account */
	size_t n_create_groups;
};

struct access_policy_builder *access_policy_builder_new(void);
void access_policy_builder_free(struct access_policy_builder *b);
/* Parses one policy file's text (file names it in errors). Returns 0, or -EINVAL with err
 * set to "FILE:LINE:COLUMN: what is wrong". Several files may be added. */
int access_policy_add(struct access_policy_builder *b, const char *file, const char *text,
		      size_t len, char *err, size_t err_len);
/* Cross-file checks (duplicate policy names, unknown host groups) and compilation into an
 * indexed set. Consumes b in every case. Returns 0 or -EINVAL with err as above. */
int access_policy_build(struct access_policy_builder *b, struct access_policy_set **out, char *err,
			size_t err_len);
void access_policy_set_free(struct access_policy_set *set);
size_t access_policy_count(const struct access_policy_set *set);
const struct access_policy_info *access_policy_get(const struct access_policy_set *set, size_t i);

/* Loads every *.policy file of dir (sorted by name) into a set. -ENOENT for a missing dir;
 * -EINVAL with err as above. An empty directory gives an empty set (which denies all). */
int access_policy_load_dir(const char *dir, struct access_policy_set **out, char *err,
			   size_t err_len);

struct access_decision {
	bool allow;
	const struct access_policy_info *decided_by; /* the forbid that matched, or the first
						      * permit; NULL: no policy matched (deny) */
};

/* Decides req against set. Never fails: anything unknown about the request makes
 * conditions that depend on it false (so a permit needing it does not apply, and a
 * forbid needing it does not apply either). */
void access_decide(const struct access_policy_set *set, const struct access_request *req,
		   struct access_decision *out);

/* The same decision, explained: a JSON array text (caller frees) of every policy whose
 * principal, action and resource matched, each {policy, effect, file, line, matched (bool),
 * reason: the first condition that failed, as source text, or null}. */
char *access_explain(const struct access_policy_set *set, const struct access_request *req,
		     struct access_decision *out);

/* The approvers of a grant for req: the union over the permit policies that would allow req
 * with context.grant set (and do not allow it without). Returns the number written to
 * out (borrowed strings "group:x" / "user:y"), and *max_grant_s the smallest limit among
 * them (0: none). */
size_t access_grant_approvers(const struct access_policy_set *set, const struct access_request *req,
			      const char **out, size_t max, int64_t *max_grant_s);
