/* Response playbooks (docs/playbooks.md): when an alert or a failing check calls for an
 * action, which action, with which parameters, and under which guardrails.
 *
 * A playbook file (YAML, a .yml file under rules/playbooks) holds one or more documents:
 *
 *   id: ssh-brute-force-block          # unique
 *   title: Block the source of an SSH brute force
 *   trigger:                           # any of these; every listed key must match
 *     rule: 5f0b...                    # a Sigma rule id (or list)
 *     tag: attack.t1110                # a rule tag, prefix match (or list)
 *     min_level: high                  # informational..critical
 *     anomaly: new_listener            # baseline anomaly kind (rule id "baseline.<kind>")
 *     check: ssh-permit-root-login     # a failing compliance check (or list); checks
 *                                      # match only playbooks with a check trigger
 *   when:                              # conditions on host labels (all must hold)
 *     labels: {env: prod}
 *     not_labels: {role: bastion}
 *     hostnames: [web-1]               # optional: only these hosts
 *   steps:
 *     - action: block-address
 *       params: {address: "{{src_ip}}", duration: 1h}
 *       mode: auto                     # auto | approve | notify (default approve)
 *       local: true                    # run on the agent the moment its rule fires
 *   expires: 2027-06-30                # optional: the playbook stops matching after it
 *   dry_run: false                     # optional: steps are described, never applied
 *
 * and one optional guardrails document (any file; at most one in the set):
 *
 *   guardrails:
 *     protected_users: [root, ops]     # never locked; remove-key refused for them
 *     protected_hosts: {labels: {tier: core}, names: [db-1]}   # never isolated or locked
 *     rate_limits: {isolate-host: 5, lock-user: 20}   # per action, hosts per minute,
 *                                      # fleet-wide; beyond it auto steps need approval
 *
 * Parameters may name a field of the alert's newest evidence event as "{{field}}" (the
 * event field names of docs/events.md: src_ip, user, pid, target_filename, ...) or
 * "{{check_id}}" / "{{fix}}" for a check trigger. A step whose field is missing is skipped
 * with a reason; a step whose built action fails action_check() is skipped likewise. */
#pragma once

#include "lib/common.h"
#include "lib/str.h"
#include "respond/action.h"

#include <jansson.h>

enum playbook_mode {
	PLAYBOOK_AUTO = 1,
	PLAYBOOK_APPROVE,
	PLAYBOOK_NOTIFY,
};

/* What a trigger is matched against: an alert (agent: struct alert; server: the parsed
 * alert summary) or a failing check, seen through one shape. */
struct playbook_input {
	const char *source;	 /* "rule", "correlation", "anomaly" or "check" */
	const char *rule_id;	 /* Sigma id, "baseline.<kind>", or the check id */
	int level;		 /* 1..5 (enum sigma_level); checks: their severity */
	const char *const *tags; /* n_tags strings, "attack.t1110.001" */
	size_t n_tags;
	const char *hostname;
	const char *const *label_keys; /* n_labels host labels */
	const char *const *label_values;
	size_t n_labels;
	const char *fix_json; /* check triggers: the check's fix object; NULL otherwise */
	/* The value of an evidence field by its event field name, or NULL. */
	const char *(*field)(void *arg, const char *name);
	void *field_arg;
};

/* One step a playbook asks for, with its parameters filled in. */
struct playbook_step {
	const char *playbook_id; /* borrowed from the set */
	size_t step;		 /* index in the playbook's steps */
	enum playbook_mode mode;
	bool local;
	bool dry_run;
	Action *action; /* owned; checked (action_check) */
};

struct playbook_steps {
	struct playbook_step *v;
	size_t n;
	char **skipped; /* n_skipped "playbook-id step N: reason" lines */
	size_t n_skipped;
};

struct playbook_set;

/* Loads a file or a directory (recursively, *.yml and *.yaml). Every problem is appended to
 * errors as "file:line: id: reason"; the other playbooks still load. Returns 0 with *out
 * (even when some failed), or a negative errno when nothing could be read. */
int playbook_load(const char *path, struct playbook_set **out, strv *errors);
/* The same from a buffer (fuzz target, tests); name is used in errors. */
int playbook_load_buffer(const char *name, const char *data, size_t len, struct playbook_set **out,
			 strv *errors);
void playbook_set_free(struct playbook_set *s);
size_t playbook_set_count(const struct playbook_set *s);

/* Appends to out the steps of every playbook whose trigger and conditions match in: only
 * local steps when local_only, only the others when server_only (both false: all). Steps
 * that guardrails forbid (a protected user or host) are not appended but listed in
 * out->skipped. now_ns decides expiry. Returns 0 or -ENOMEM. */
int playbook_match(const struct playbook_set *s, const struct playbook_input *in, bool local_only,
		   bool server_only, int64_t now_ns, struct playbook_steps *out);
void playbook_steps_free(struct playbook_steps *st);

/* Guardrails of the set. */
bool playbook_user_protected(const struct playbook_set *s, const char *user);
/* The set's protected users as a NULL-terminated array (borrowed; "root" always included). */
const char *const *playbook_protected_users(const struct playbook_set *s);

/* The circuit breaker: a fleet-wide limit per action kind of distinct hosts per minute. Call
 * for each auto step before it is sent; returns true when it may go now, false when the
 * limit for that kind is reached (the step then waits for approval). Thread-unsafe; the
 * server calls it from its loop. */
bool playbook_rate_allow(struct playbook_set *s, Immune__V1__ActionKind kind, const char *host_id,
			 int64_t now_ns);

/* An alert as the server and `immune playbooks test` receive it (detect/alert.h), seen as
 * a playbook input: source, rule id, level, tags rebuilt from its ATT&CK techniques and
 * tactic ("attack.t1110.001", "attack.credential_access"), the device's hostname, and the
 * fields of its newest evidence event. Host labels are left empty: the caller sets
 * in.label_keys, in.label_values and in.n_labels. The strings in `in` are borrowed from the
 * summary, which must outlive it. */
struct alert_summary;
struct host_event;
struct playbook_alert {
	struct playbook_input in;
	char **tags;		  /* private: owned tags */
	struct host_event *event; /* private: the newest evidence event, or NULL */
};
/* Fills *out from s. Returns 0 (free with playbook_alert_free), or -EBADMSG when the newest
 * evidence event cannot be read. */
int playbook_input_from_alert_summary(const struct alert_summary *s, struct playbook_alert *out);
/* The same from an alert as the agent's detection produces it (edge response): its own tags,
 * hostname and newest evidence event, all borrowed from al except the tag vector. Returns 0
 * (free with playbook_alert_free). */
struct alert;
int playbook_input_from_alert(const struct alert *al, struct playbook_alert *out);
void playbook_alert_free(struct playbook_alert *a);

/* The level a failing check's severity gives its playbook input: "low" 2, "medium" 3,
 * "high" 4, "critical" 5 (as alert levels); anything else (NULL, unknown) 3. */
int playbook_check_level(const char *severity);

/* "auto", "approve", "notify". */
const char *playbook_mode_name(enum playbook_mode m);
