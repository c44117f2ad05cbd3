/* Response orchestration at the server (docs/response.md): sending typed actions to
 * agents, and running the server steps of the playbooks on newly stored alerts and on
 * checks a scan found newly failing.
 *
 * The store's writer hands each batch's newly stored alerts (at most STORE_BATCH_NEW_ALERTS)
 * and newly failing checks with a fix (at most STORE_BATCH_NEW_FAILING) to the loop after
 * commit (ingest.c); here each is matched against the playbooks with server_only (local
 * steps ran on the agent already and come back as results). A step then becomes one stored
 * action:
 *   auto      sent now when the circuit breaker allows and the host is connected; over the
 *             breaker's limit it waits for approval; a host that is not connected makes it
 *             failed ("host not connected"): the alert came over that connection moments
 *             ago, and an action sent much later could act on a changed host;
 *   approve   pending_approval, until an operator approves or rejects it;
 *   notify    notified (nothing is sent);
 *   dry_run   sent with dry_run=true: the agent checks it and describes what it would do,
 *             changing nothing (its result is dry_run); recorded as dry_run when the
 *             host is not connected.
 * An action left pending approval for 24 hours expires. */
#include "server/server_int.h"

#include "detect/alert.h"
#include "lib/log.h"
#include "lib/str.h"
#include "respond/action.h"
#include "respond/playbook.h"
#include "store/store.h"

#include <event2/event.h>
#include <jansson.h>

int respond_send(struct server *s, const char *host_id, const char *uid,
		 const Immune__V1__Action *a, Immune__V1__ActionOp op, bool dry_run)
{
	Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
	Immune__V1__Label arg = IMMUNE__V1__LABEL__INIT;
	Immune__V1__Label *args[] = { &arg };
	int r;

	cmd.name = "action";
	if (dry_run) {
		arg.key = "dry_run";
		arg.value = "true";
		cmd.args = args;
		cmd.n_args = 1;
	}
	cmd.action = (Immune__V1__Action *)a;
	cmd.op = op;
	cmd.action_uid = (char *)uid;
	r = command_send(s, host_id, &cmd);
	if (r == 0)
		log_info("sent action %s (%s %s%s) to host %s", uid, action_kind_name(a->kind),
			 action_op_name(op), dry_run ? ", dry run" : "", host_id);
	return r;
}

/* Pending approval longer than this, an action expires: the situation it answered is old. */
#define APPROVAL_TTL_NS (24LL * 3600 * 1000000000)
#define EXPIRE_EVERY_S 60

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int64_t now = server_now_ns();
	int64_t n = store_actions_expire(s->store, now - APPROVAL_TTL_NS, now);

	if (n > 0)
		log_info("%lld actions expired after waiting 24 h for approval", (long long)n);
	else if (n < 0)
		log_errno((int)n, "expiring actions pending approval");
}

int respond_init(struct server *s)
{
	_cleanup_strv_ strv errors = NULL;
	struct timeval every = { .tv_sec = EXPIRE_EVERY_S };
	int r;

	s->respond_ev = event_new(s->base, -1, EV_PERSIST, on_expire, s);
	if (!s->respond_ev || event_add(s->respond_ev, &every) < 0)
		return log_errno(-ENOMEM, "setting up the expiry of pending actions");

	if (!s->opt.playbooks_dir) {
		log_info("response playbooks: none");
		return 0;
	}
	r = playbook_load(s->opt.playbooks_dir, &s->playbooks, &errors);
	for (size_t i = 0; errors && errors[i]; i++)
		log_warn("playbook not loaded: %s", errors[i]);
	if (r < 0)
		return log_errno(r, "loading the playbooks from %s", s->opt.playbooks_dir);
	log_info("response playbooks: %zu from %s", playbook_set_count(s->playbooks),
		 s->opt.playbooks_dir);
	return 0;
}

void respond_fini(struct server *s)
{
	if (s->respond_ev)
		event_free(s->respond_ev);
	s->respond_ev = NULL;
	playbook_set_free(s->playbooks);
	s->playbooks = NULL;
}

/* ---- steps ---- */

/* The state and message a step's action starts in; *send when it goes to the host now. */
static const char *step_state(struct server *s, const struct playbook_step *st, const char *host_id,
			      const char **msg, bool *send)
{
	*send = false;
	*msg = NULL;
	if (st->dry_run) {
		if (hostmap_get(&s->hosts, host_id)) { /* the agent checks and describes it */
			*send = true;
			return "sent";
		}
		*msg = "dry run: the playbook would have asked for this action (the host is not "
		       "connected to check it)";
		return "dry_run";
	}
	if (st->mode == PLAYBOOK_NOTIFY) {
		*msg = "the playbook asks to notify; nothing was sent";
		return "notified";
	}
	if (st->mode == PLAYBOOK_APPROVE)
		return "pending_approval";
	if (!playbook_rate_allow(s->playbooks, st->action->kind, host_id, server_now_ns())) {
		*msg = "the rate limit of this action across the fleet was reached: waiting for "
		       "approval";
		return "pending_approval";
	}
	if (!hostmap_get(&s->hosts, host_id)) {
		*msg = "host not connected: not sent";
		return "failed";
	}
	*send = true;
	return "sent";
}

/* Stores (and sends, when its state says so) the action of step st for host_id. tj is what
 * triggered it ({alert_uid, rule_id} or {check_id}; taken), completed here with the playbook
 * and step; what names the trigger in the log ("alert UID", "check ID"). */
static void run_step(struct server *s, const char *host_id, json_t *tj, const char *what,
		     const struct playbook_step *st)
{
	char uid[ACTION_UID_LEN + 1];
	const char *msg, *state;
	bool send;
	json_t *pj = action_params_json(st->action);
	_cleanup_free_ char *params = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	_cleanup_free_ char *trigger = NULL;
	_cleanup_free_ char *by = xasprintf("playbook %s", st->playbook_id);
	int r;

	json_decref(pj);
	if (tj && json_object_set_new(tj, "playbook", json_string(st->playbook_id)) == 0 &&
	    json_object_set_new(tj, "step", json_integer((json_int_t)st->step)) == 0)
		trigger = json_dumps(tj, JSON_COMPACT);
	json_decref(tj);
	action_new_uid(uid);
	state = step_state(s, st, host_id, &msg, &send);
	struct store_action_new n = {
		.uid = uid,
		.host_id = host_id,
		.kind = action_kind_name(st->action->kind),
		.op = "apply",
		.params_json = params,
		.mode = playbook_mode_name(st->mode),
		.state = state,
		.origin = "server",
		.trigger_json = trigger,
		.requested_by = by,
		.message = msg,
		.created_ns = server_now_ns(),
	};
	r = store_action_add(s->store, &n);
	if (r < 0) {
		log_errno(r, "storing the action of playbook %s step %zu for host %s",
			  st->playbook_id, st->step, host_id);
		return;
	}
	log_info("playbook %s step %zu on %s: action %s (%s) on host %s is %s", st->playbook_id,
		 st->step, what, uid, n.kind, host_id, state);
	if (!send)
		return;
	r = respond_send(s, host_id, uid, st->action, IMMUNE__V1__ACTION_OP__OP_APPLY, st->dry_run);
	if (r < 0) {
		static const char *const sent[] = { "sent", NULL };
		store_action_update(s->store, uid, sent, "failed", NULL,
				    "the connection to the host failed while sending",
				    server_now_ns());
	}
}

/* The host's labels and hostname as the playbooks see them (arrays owned by the caller). */
static void host_input(const struct store_host *h, struct playbook_input *in, const char ***keys,
		       const char ***values)
{
	*keys = xcalloc(h->n_labels + 1, sizeof(**keys));
	*values = xcalloc(h->n_labels + 1, sizeof(**values));
	for (size_t i = 0; i < h->n_labels; i++) {
		(*keys)[i] = h->labels[i].key;
		(*values)[i] = h->labels[i].value;
	}
	in->label_keys = *keys;
	in->label_values = *values;
	in->n_labels = h->n_labels;
	if (h->hostname) /* the name the server holds for the host (protected_hosts) */
		in->hostname = h->hostname;
}

static void respond_alert(struct server *s, const struct store_host *h,
			  const struct alert_summary *a)
{
	struct playbook_steps steps = { 0 };
	struct playbook_alert pa;
	_cleanup_free_ const char **keys = NULL;
	_cleanup_free_ const char **values = NULL;

	if (playbook_input_from_alert_summary(a, &pa) < 0) {
		log_warn("alert %s on host %s: its evidence cannot be read; no playbook runs",
			 a->uid, h->id);
		return;
	}
	host_input(h, &pa.in, &keys, &values);
	if (playbook_match(s->playbooks, &pa.in, false, true, server_now_ns(), &steps) == 0) {
		for (size_t i = 0; i < steps.n_skipped; i++)
			log_info("alert %s on host %s: %s", a->uid, h->id, steps.skipped[i]);
		_cleanup_free_ char *what = xasprintf("alert %s", a->uid);

		for (size_t i = 0; i < steps.n; i++)
			run_step(
				s, h->id,
				json_pack("{s:s, s:s}", "alert_uid", a->uid, "rule_id", a->rule_id),
				what, &steps.v[i]);
	}
	playbook_steps_free(&steps);
	playbook_alert_free(&pa);
}

void respond_alerts(struct server *s, const char *host_id, char *const *alerts, size_t n)
{
	struct store_host h;

	if (!s->playbooks || playbook_set_count(s->playbooks) == 0 || n == 0)
		return;
	if (store_host_get(s->store, host_id, &h) < 0)
		return;
	for (size_t i = 0; i < n && alerts[i]; i++) {
		struct alert_summary a;

		if (alert_parse(alerts[i], strlen(alerts[i]), &a) < 0)
			continue; /* stored, so it parsed once: not expected */
		respond_alert(s, &h, &a);
		alert_summary_free(&a);
	}
	store_host_free(&h);
}

static void respond_failing_check(struct server *s, const struct store_host *h,
				  const struct store_failing_check *c)
{
	struct playbook_steps steps = { 0 };
	struct playbook_input in = {
		.source = "check",
		.rule_id = c->check_id,
		.level = playbook_check_level(c->severity),
		.fix_json = c->fix_json,
	};
	_cleanup_free_ const char **keys = NULL;
	_cleanup_free_ const char **values = NULL;
	_cleanup_free_ char *what = xasprintf("check %s", c->check_id);

	host_input(h, &in, &keys, &values);
	if (playbook_match(s->playbooks, &in, false, true, server_now_ns(), &steps) == 0) {
		for (size_t i = 0; i < steps.n_skipped; i++)
			log_info("check %s failing on host %s: %s", c->check_id, h->id,
				 steps.skipped[i]);
		for (size_t i = 0; i < steps.n; i++)
			run_step(s, h->id, json_pack("{s:s}", "check_id", c->check_id), what,
				 &steps.v[i]);
	}
	playbook_steps_free(&steps);
}

/* Each check is handed over once, when a scan finds it newly failing: one that stays failing
 * does not trigger again. Actions still pending or sent for the same host and check are not
 * looked for (a check that passes and fails again triggers anew). */
void respond_failing_checks(struct server *s, const char *host_id,
			    const struct store_failing_check *checks, size_t n)
{
	struct store_host h;

	if (!s->playbooks || playbook_set_count(s->playbooks) == 0 || n == 0)
		return;
	if (store_host_get(s->store, host_id, &h) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		respond_failing_check(s, &h, &checks[i]);
	store_host_free(&h);
}
