#include "agent/agent.h"
#include "agent/access.h"
#include "agent/agent_config.h"
#include "agent/agent_yaml.h"
#include "agent/collect.h"
#include "agent/detector.h"
#include "agent/link.h"
#include "agent/responder.h"
#include "config.h"
#include "detect/alert.h"
#include "detect/sigma.h"
#include "lib/log.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct agent {
	const struct agent_run_options *o;
	struct event_base *base;
	struct agent_config cfg;
	struct link *link;
	struct collector *collector;
	struct agent_yaml yaml;
	struct detector *detector;
	struct responder *responder;
	struct access *access;
	uint64_t events_unspooled;
	struct event *ev_accessed, *ev_responded, *ev_detected, *ev_collected, *ev_inventory,
		*ev_synth, *ev_status, *ev_sigint, *ev_sigterm, *ev_alive;
	char *state_path;
	char *deferred_state; /* inventory state to save once pending records are spooled */
	/* collector status */
	int64_t last_collection, last_scan;
	size_t last_changed;
	uint64_t collections;
	char last_error[512];
	bool synth_done;
};

static const char *catalog_path(const struct agent *a)
{
	struct stat st;
	const char *dir = link_pushed_dir(a->link, PUSHED_CATALOG);
	if (dir)
		return dir;
	if (a->o->catalog)
		return a->o->catalog;
	return stat(IMMUNE_POLICY_DIR, &st) == 0 ? IMMUNE_POLICY_DIR : IMMUNE_SOURCE_POLICY_DIR;
}

/* The rules the server pushed, else the installed Linux rules, else the source tree's (a
 * build run in place), else none. */
static const char *rules_path(const struct agent *a)
{
	const char *dir = link_pushed_dir(a->link, PUSHED_RULES);
	return dir ? dir : sigma_shipped_rules_dir();
}

/* The playbooks: the configuration file's response.playbooks, else the set the server
 * pushed, else none. */
static const char *playbooks_path(const struct agent *a)
{
	if (a->yaml.response_playbooks)
		return a->yaml.response_playbooks;
	return link_pushed_dir(a->link, PUSHED_PLAYBOOKS);
}

static void request_collection(struct agent *a, bool force_scan)
{
	if (a->collector)
		collector_request(a->collector, catalog_path(a), force_scan);
}

static void save_state(struct agent *a, const char *dump)
{
	int r = collect_state_save(a->state_path, dump);
	if (r < 0)
		log_errno(r, "saving %s", a->state_path);
}

/* ---- collector -> link ---- */

static void collector_notify(void *arg)
{
	/* worker thread: wake the loop (the base was made thread-aware) */
	struct agent *a = arg;
	event_active(a->ev_collected, EV_READ, 0);
}

static void on_collected(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct collect_result *res;
	while ((res = collector_take(a->collector))) {
		a->collections++;
		a->last_collection = (int64_t)time(NULL);
		if (res->error) {
			snprintf(a->last_error, sizeof(a->last_error), "%s", res->message);
			log_error("collector: %s", res->message);
		} else {
			a->last_error[0] = '\0';
		}
		if (res->scanned)
			a->last_scan = (int64_t)time(NULL);
		for (size_t i = 0; res->scanned && a->access && i < res->records.n; i++)
			access_scan_record(a->access, &res->records.v[i]);
		a->last_changed = res->tables_changed;
		log_info("collector: %zu table(s) changed%s, %zu record(s) in %.0f ms",
			 res->tables_changed, res->scanned ? ", scanned" : "", res->records.n,
			 res->elapsed_ms);
		int pending = link_submit(a->link, &res->records);
		if (res->state_dump) {
			if (pending) {
				free(a->deferred_state);
				a->deferred_state = res->state_dump;
				res->state_dump = NULL;
			} else {
				save_state(a, res->state_dump);
			}
		}
		collect_result_free(res);
	}
}

static void on_drained(void *arg)
{
	struct agent *a = arg;
	if (a->deferred_state) {
		save_state(a, a->deferred_state);
		free(a->deferred_state);
		a->deferred_state = NULL;
	}
}

static void on_resync(void *arg)
{
	struct agent *a = arg;
	if (!a->collector)
		return;
	log_warn("sending the whole inventory again");
	collector_forget(a->collector);
	request_collection(a, true);
}

/* The server learns that an action will not run on this agent (its responder could not
 * start): a refused result of its own. With run --no-respond the command is only logged. */
static void refuse_without_responder(struct agent *a, const Immune__V1__Command *cmd)
{
	const char *kind = cmd->action ? action_kind_name(cmd->action->kind) : NULL;
	const char *op = action_op_name(cmd->op);
	int64_t now = agent_now_ns();
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I}", "uid", cmd->action_uid,
			  "kind", kind ? kind : "unknown", "op", op ? op : "unknown", "params",
			  cmd->action ? action_params_json(cmd->action) : json_object(), "status",
			  "refused", "message", "response is off on this agent", "origin", "server",
			  "requested_ns", (json_int_t)now, "finished_ns", (json_int_t)now);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return;
	struct agent_records recs = { 0 };
	agent_records_add(&recs, IMMUNE__V1__STREAM__STREAM_ALERTS,
			  IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT, now, s, strlen(s));
	free(s);
	link_submit(a->link, &recs);
	agent_records_free(&recs);
}

/* Command "action": checked here (the executor checks again), then queued. */
static void on_action_command(struct agent *a, const Immune__V1__Command *cmd)
{
	char err[512] = "";
	const char *uid = cmd->action_uid;
	if (!uid || !action_uid_ok(uid)) {
		log_warn("an action command without a valid action id ignored");
		return;
	}
	if (!a->responder) {
		log_warn("action %s ignored: response is not running", uid);
		if (!a->o->no_respond) /* it failed to start: say so */
			refuse_without_responder(a, cmd);
		return;
	}
	bool dry_run = false;
	for (size_t i = 0; i < cmd->n_args; i++)
		if (strcmp(cmd->args[i]->key, "dry_run") == 0)
			dry_run = strcmp(cmd->args[i]->value, "true") == 0;
	if (!cmd->action)
		snprintf(err, sizeof(err), "the command holds no action");
	else if (cmd->action->kind == IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX &&
		 cmd->op == IMMUNE__V1__ACTION_OP__OP_APPLY && !dry_run && a->o->root &&
		 strcmp(a->o->root, "/") != 0)
		/* the checks failed in that directory, and a fix would change this host */
		snprintf(err, sizeof(err),
			 "this agent scans %.256s, not this host: the fix is not applied here",
			 a->o->root);
	else if (cmd->op != IMMUNE__V1__ACTION_OP__OP_APPLY &&
		 cmd->op != IMMUNE__V1__ACTION_OP__OP_VERIFY &&
		 cmd->op != IMMUNE__V1__ACTION_OP__OP_ROLLBACK)
		snprintf(err, sizeof(err), "operation %d is not apply, verify or rollback",
			 (int)cmd->op);
	else
		action_check(cmd->action, err, sizeof(err));
	if (err[0]) {
		log_warn("action %s from the server refused: %s", uid, err);
		responder_refuse(a->responder, uid, cmd->op, cmd->action, "server", err);
		return;
	}
	responder_submit(a->responder, uid, cmd->op, cmd->action, "server", NULL, dry_run);
}

static void on_command(void *arg, const Immune__V1__Command *cmd)
{
	struct agent *a = arg;
	const char *name = cmd->name ? cmd->name : "";
	if (a->responder)
		responder_link_alive(a->responder);
	if (strcmp(name, "scan-now") == 0)
		request_collection(a, true);
	else if (strcmp(name, "inventory-now") == 0)
		request_collection(a, false);
	else if (strcmp(name, "action") == 0)
		on_action_command(a, cmd);
	else if (strcmp(name, "access-revoke") == 0) {
		if (!a->access || access_revoke(a->access, cmd->access_revoke) < 0)
			log_warn("access-revoke ignored: %s",
				 a->access ? "no identity in it" : "access is not running");
	} else
		log_warn("unknown command '%s' from the server ignored", name);
}

static void on_config(void *arg, uint32_t scan_interval_s, bool catalog_changed, bool rules_changed,
		      bool playbooks_changed, bool access_changed)
{
	struct agent *a = arg;
	if (scan_interval_s && a->collector) {
		collector_set_scan_interval(a->collector, scan_interval_s);
		link_set_scan_interval(a->link, scan_interval_s);
		log_info("scan interval is now %u s", scan_interval_s);
	}
	if (catalog_changed)
		request_collection(a, true);
	if (rules_changed) {
		log_info("new detection rules saved in %s", link_pushed_dir(a->link, PUSHED_RULES));
		if (a->detector)
			detector_set_rules(a->detector, rules_path(a));
	}
	if (access_changed && a->access) {
		log_info("new access bundle saved in %s", link_pushed_dir(a->link, PUSHED_ACCESS));
		access_bundle_changed(a->access);
	}
	if (playbooks_changed && a->responder && !a->yaml.response_playbooks) {
		log_info("new playbooks saved in %s", link_pushed_dir(a->link, PUSHED_PLAYBOOKS));
		responder_set_playbooks(a->responder, playbooks_path(a));
	}
}

/* ---- responder -> link ---- */

static void responder_notify(void *arg)
{
	struct agent *a = arg;
	event_active(a->ev_responded, EV_READ, 0);
}

static void on_responded(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct agent_records recs = { 0 };
	responder_take(a->responder, &recs);
	if (recs.n)
		link_submit(a->link, &recs);
	agent_records_free(&recs);
	if (responder_take_rescan(a->responder)) {
		log_info("a fix was applied: scanning again");
		request_collection(a, true);
	}
}

/* The detector's thread: every alert goes to edge response. */
static void on_alert(void *arg, const struct alert *al)
{
	struct agent *a = arg;
	if (a->access)
		access_alert(a->access, (int)al->level, agent_now_ns());
	if (a->responder)
		responder_alert(a->responder, al);
}

/* ---- access -> link ---- */

static void access_notify(void *arg)
{
	struct agent *a = arg;
	event_active(a->ev_accessed, EV_READ, 0);
}

static void on_accessed(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct agent_records recs = { 0 };
	access_take(a->access, &recs);
	if (recs.n)
		link_submit(a->link, &recs);
	agent_records_free(&recs);
}

/* A revocation's actions (end a session, lock an account) go to the executor. */
static void access_act(void *arg, const Action *act)
{
	struct agent *a = arg;
	if (!a->responder) {
		log_warn("access: %s not run: response is off", action_kind_name(act->kind));
		return;
	}
	responder_submit(a->responder, NULL, IMMUNE__V1__ACTION_OP__OP_APPLY, act, "server", NULL,
			 false);
}

/* ---- detector -> link ---- */

static void detector_notify(void *arg)
{
	/* the detector's thread (or a sensor's): wake the loop */
	struct agent *a = arg;
	event_active(a->ev_detected, EV_READ, 0);
}

static void on_detected(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct agent_records events = { 0 }, other = { 0 };
	detector_take(a->detector, &events, &other);
	for (size_t i = 0; i < events.n; i++) {
		int r = link_append_event(a->link, events.v[i].payload, events.v[i].len);
		if (r < 0 && a->events_unspooled++ % 1000 == 0)
			log_errno(r, "spooling an event (%llu not spooled so far)",
				  (unsigned long long)a->events_unspooled);
	}
	agent_records_free(&events);
	if (other.n)
		link_submit(a->link, &other);
	agent_records_free(&other);
}

static void on_inventory_timer(evutil_socket_t fd, short what, void *arg)
{
	request_collection(arg, false);
}

/* ---- synthetic load ---- */

static void on_synth(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	char payload[256];
	static const char pad[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"
				  "klmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
	for (unsigned i = 0; i < AGENT_SYNTHETIC_PER_TURN; i++) {
		uint64_t seq = link_events_next_seq(a->link);
		if (seq > a->o->synthetic) {
			if (!a->synth_done)
				log_info("synthetic: %llu events spooled",
					 (unsigned long long)a->o->synthetic);
			a->synth_done = true;
			return;
		}
		int n = snprintf(payload, sizeof(payload),
				 "{\"type\":\"synthetic\",\"n\":%llu,\"host\":\"%s\",\"time_ns\":"
				 "%lld,\"pad\":\"%s\"}",
				 (unsigned long long)seq, a->cfg.host_id, (long long)agent_now_ns(),
				 pad);
		int r = link_append_event(a->link, payload, (size_t)n);
		if (r < 0) {
			log_errno(r, "synthetic: spooling event %llu (retrying in 1 s)",
				  (unsigned long long)seq);
			struct timeval later = { 1, 0 };
			event_add(a->ev_synth, &later);
			return;
		}
	}
	/* a zero timeout lets the loop poll sockets between turns */
	struct timeval tv = { 0, 0 };
	event_add(a->ev_synth, &tv);
}

/* ---- status file ---- */

static void write_status(struct agent *a)
{
	json_t *coll = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s}", "enabled", a->collector != NULL,
				 "collections", (json_int_t)a->collections, "last_collection",
				 (json_int_t)a->last_collection, "last_scan",
				 (json_int_t)a->last_scan, "last_tables_changed",
				 (json_int_t)a->last_changed, "last_error", a->last_error);
	json_t *det = a->detector ? detector_status(a->detector) : json_null();
	json_t *resp = a->responder ? responder_status(a->responder) : json_null();
	json_t *acc = a->access ? access_status(a->access) : json_null();
	json_t *doc =
		json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "schema",
			  "immune.agent-status/v1", "pid", (int)getpid(), "updated",
			  (json_int_t)time(NULL), "version", IMMUNE_VERSION, "host_id",
			  a->cfg.host_id, "server", a->cfg.server, "link", link_status(a->link),
			  "collector", coll, "detector", det, "responder", resp);
	json_object_set_new(doc, "access", acc);
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(doc);
	if (!s)
		return;
	_cleanup_free_ char *path = agent_state_path(a->o->state_dir, "status.json");
	int r = file_write_atomic(path, s, strlen(s), 0600);
	free(s);
	if (r < 0)
		log_debug("writing %s: %s", path, strerror(-r));
}

static void on_status(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	if (a->responder && link_connected(a->link))
		responder_link_alive(a->responder);
	write_status(a);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(a->base, NULL);
}

/* ---- set-up ---- */

static int start_collector(struct agent *a)
{
	struct collector_options co = { .root = a->o->root,
					.state_path = a->state_path,
					.scan_interval_s = a->o->scan_interval_s };
	int r = collector_start(&co, collector_notify, a, &a->collector);
	if (r < 0)
		return log_errno(r, "starting the collector");
	struct timeval tv = { .tv_sec = a->o->inventory_interval_s };
	a->ev_inventory = event_new(a->base, -1, EV_PERSIST, on_inventory_timer, a);
	event_add(a->ev_inventory, &tv);
	request_collection(a, false);
	return 0;
}

static int start_detector(struct agent *a)
{
	char err[1024];
	struct detector_options d = { .state_dir = a->o->state_dir,
				      .root = a->o->root,
				      .cfg = &a->yaml,
				      .config_path = a->o->config,
				      .rules = rules_path(a),
				      .replay = a->o->replay,
				      .alert_hook = on_alert,
				      .alert_hook_arg = a };
	int r = detector_start(&d, detector_notify, a, &a->detector, err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	return r;
}

/* The access role: after the executor's fork, before the link connects. A role that cannot
 * start leaves the agent without access decisions (logins with certificates fail closed). */
static void start_access(struct agent *a)
{
	char err[1024];
	/* an agent watching another root (tests, simulations) leaves this host's sshd alone */
	bool other_root = a->o->root && strcmp(a->o->root, "/") != 0;
	struct access_options ao = { .state_dir = a->o->state_dir,
				     .cfg = &a->cfg,
				     .yaml = &a->yaml.access,
				     .no_files = other_root,
				     .act = access_act,
				     .act_arg = a };
	if (other_root)
		log_info("access: this agent watches %s, not this host: no files for sshd",
			 a->o->root);
	int r = access_start(&ao, access_notify, a, &a->access, err, sizeof(err));
	if (r < 0) {
		log_error("access is off: %s", err);
		access_free(a->access);
		a->access = NULL;
	}
}

/* The isolation's dead-man switch needs to hear of a live link well inside the lease. */
static void on_alive(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	if (a->responder && a->link && link_connected(a->link))
		responder_link_alive(a->responder);
}

/* The executor is forked here, before the collector's and detector's threads start and
 * before the link connects. A responder that cannot start leaves the agent monitoring. */
static void start_responder(struct agent *a)
{
	char err[1024];
	uint32_t lease = a->yaml.isolation_lease_s ? a->yaml.isolation_lease_s : RESPONDER_LEASE_S;
	struct responder_options ro = { .state_dir = a->o->state_dir,
					.cfg = &a->cfg,
					.playbooks = playbooks_path(a),
					.exec_fd = -1,
					.lease_s = lease };
	int r = responder_start(&ro, responder_notify, a, &a->responder, err, sizeof(err));
	if (r < 0) {
		log_error("response is off: %s", err);
		return;
	}
	/* the status timer reports a live link every AGENT_STATUS_INTERVAL_S; a short lease
	 * needs it more often: every quarter of the lease, like the refreshes */
	if ((int64_t)lease * 1000 / 4 < AGENT_STATUS_INTERVAL_S * 1000) {
		uint32_t ms = lease * 1000 / 4;
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
		a->ev_alive = event_new(a->base, -1, EV_PERSIST, on_alive, a);
		event_add(a->ev_alive, &tv);
	}
}

static int setup(struct agent *a)
{
	char err[1024];
	int r = agent_yaml_load(a->o->config, &a->yaml, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = agent_config_load(a->o->state_dir, &a->cfg, err, sizeof(err));
	if (r < 0) {
		log_error("%s%s", err, r == -ENOENT ? " (run 'immune-agent enroll' first)" : "");
		return r;
	}
	if (evthread_use_pthreads() < 0 || !(a->base = event_base_new())) {
		log_error("cannot create the event loop");
		return -ENOMEM;
	}
	struct link_options lo = { .state_dir = a->o->state_dir,
				   .spool_max = a->o->spool_max,
				   .cfg = &a->cfg,
				   .scan_interval_s = a->o->scan_interval_s };
	struct link_callbacks cb = {
		.command = on_command,
		.config = on_config,
		.drained = on_drained,
		.resync = on_resync,
		.arg = a,
	};
	r = link_new(a->base, &lo, &cb, &a->link, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	a->state_path = agent_state_path(a->o->state_dir, "inventory.state");
	a->ev_collected = event_new(a->base, -1, 0, on_collected, a);
	a->ev_detected = event_new(a->base, -1, 0, on_detected, a);
	a->ev_responded = event_new(a->base, -1, 0, on_responded, a);
	a->ev_accessed = event_new(a->base, -1, 0, on_accessed, a);
	a->ev_synth = evtimer_new(a->base, on_synth, a);
	a->ev_status = event_new(a->base, -1, EV_PERSIST, on_status, a);
	a->ev_sigint = evsignal_new(a->base, SIGINT, on_signal, a);
	a->ev_sigterm = evsignal_new(a->base, SIGTERM, on_signal, a);
	event_add(a->ev_sigint, NULL);
	event_add(a->ev_sigterm, NULL);
	struct timeval tv = { .tv_sec = AGENT_STATUS_INTERVAL_S };
	event_add(a->ev_status, &tv);
	if (!a->o->no_respond)
		start_responder(a);
	if (!a->o->no_access)
		start_access(a);
	if (!a->o->no_collect && (r = start_collector(a)) < 0)
		return r;
	if (!a->o->no_detect && (r = start_detector(a)) < 0)
		return r;
	if (a->o->synthetic) {
		struct timeval zero = { 0, 0 };
		event_add(a->ev_synth, &zero);
	}
	link_start(a->link);
	return 0;
}

static void teardown(struct agent *a)
{
	collector_stop(a->collector);
	if (a->detector) {
		detector_stop(a->detector);
		on_detected(-1, 0, a); /* spool what it left */
	}
	if (a->responder) {
		responder_stop(a->responder);
		on_responded(-1, 0, a);
	}
	if (a->access) {
		access_stop(a->access);
		on_accessed(-1, 0, a);
	}
	if (a->link) {
		write_status(a);
		link_free(a->link);
	}
	detector_free(a->detector);
	responder_free(a->responder);
	access_free(a->access);
	struct event *evs[] = { a->ev_accessed,	 a->ev_responded, a->ev_detected, a->ev_collected,
				a->ev_inventory, a->ev_synth,	  a->ev_status,	  a->ev_sigint,
				a->ev_sigterm,	 a->ev_alive };
	for (size_t i = 0; i < ARRAY_SIZE(evs); i++)
		if (evs[i])
			event_free(evs[i]);
	if (a->base)
		event_base_free(a->base);
	free(a->deferred_state);
	free(a->state_path);
	agent_config_free(&a->cfg);
	agent_yaml_free(&a->yaml);
}

int agent_run(const struct agent_run_options *o)
{
	struct agent a = { .o = o };
	signal(SIGPIPE, SIG_IGN);
	int r = setup(&a);
	if (r == 0) {
		log_info("immune-agent %s running for %s (state %s)", IMMUNE_VERSION, a.cfg.host_id,
			 o->state_dir);
		event_base_dispatch(a.base);
	}
	teardown(&a);
	return r;
}
