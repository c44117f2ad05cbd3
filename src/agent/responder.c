/* The responder: edge response, the server's actions and their results (responder.h). */
#include "agent/responder.h"

#include "detect/alert.h"
#include "lib/log.h"
#include "respond/executor.h"
#include "respond/playbook.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STREAM_ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define RECORD_ACTION_RESULT IMMUNE__V1__RECORD_KIND__RECORD_ACTION_RESULT
#define RECORD_ALERT IMMUNE__V1__RECORD_KIND__RECORD_ALERT
#define OP_APPLY IMMUNE__V1__ACTION_OP__OP_APPLY
#define OP_ROLLBACK IMMUNE__V1__ACTION_OP__OP_ROLLBACK
#define OP_REFRESH IMMUNE__V1__ACTION_OP__OP_REFRESH
#define NS_PER_S 1000000000LL
#define STATUS_SLOTS 6 /* ExecStatus 0..5 */

struct job {
	struct job *next;
	char uid[ACTION_UID_LEN + 1];
	Immune__V1__ActionOp op;
	Action *action;
	char origin[8];
	bool has_trigger;
	char *alert_uid, *rule_id, *playbook;
	size_t step;
	bool dry_run;
	int64_t requested_ns;
};

struct responder {
	char *state_dir, *events_path, *hostname, *nft_table;
	char server_host[256];
	char **label_keys, **label_values;
	size_t n_labels;
	responder_notify_fn notify;
	void *notify_arg;

	/* the executor (responder thread only, and start/stop) */
	int exec_fd;
	pid_t exec_pid;
	bool exec_given; /* tests: fd handed over, never respawned */

	/* the playbooks: read-locked to match, write-locked to swap */
	pthread_rwlock_t plock;
	struct playbook_set *playbooks;

	/* jobs and results */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t queued, queue_max;
	int64_t refresh_ns;
	uint32_t lease_s;
	bool stopping, thread_started, notified;
	char *pending_playbooks;
	bool reload;
	bool rescan; /* an apply-fix was verified: the posture changed (responder_take_rescan) */
	struct agent_records out;
	int64_t link_alive_ns;
	uint64_t jobs, by_status[STATUS_SLOTS], queue_full, respawns, refreshes, edge_matches;
	bool isolated;		/* status copy of the thread's flags */
	bool isolation_unknown; /* the first refresh after start has not answered yet */
	pthread_t thread;

	/* isolation (responder thread only) */
	char isolate_uid[ACTION_UID_LEN + 1];
	int64_t isolate_expiry_ns, next_refresh_ns;
	bool isolate_on;    /* refreshes wanted */
	bool isolate_known; /* an apply or a refresh confirmed the isolation (else: probing) */
	bool refresh_skipped_logged;
};

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	if (!j)
		return;
	action_free(j->action);
	free(j->alert_uid);
	free(j->rule_id);
	free(j->playbook);
	free(j);
}

static int64_t now_ns(void)
{
	return agent_now_ns();
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- results ---- */

/* message as a JSON string: bytes that are not UTF-8 become '?' (a result is never lost to
 * a process name it quotes). */
static json_t *message_json(const char *message)
{
	json_t *v = json_string(message);
	if (v)
		return v;
	char *copy = xstrdup(message);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	v = json_string(copy);
	free(copy);
	return v ? v : json_string("");
}

static json_t *result_json(const struct job *j, Immune__V1__ExecStatus status, const char *message,
			   json_t *detail, int64_t finished_ns)
{
	const char *kind = action_kind_name(j->action->kind);
	const char *op = action_op_name(j->op);
	const char *st = exec_status_name(status);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:I, s:I}", "uid", j->uid,
			      "kind", kind ? kind : "unknown", "op", op ? op : "unknown", "params",
			      action_params_json(j->action), "status", st ? st : "failed",
			      "message", message_json(message), "origin", j->origin, "requested_ns",
			      (json_int_t)j->requested_ns, "finished_ns", (json_int_t)finished_ns);
	if (!o) {
		json_decref(detail);
		return NULL;
	}
	if (json_is_object(detail))
		json_object_set_new(o, "detail", detail);
	else
		json_decref(detail);
	if (j->has_trigger) {
		json_t *t =
			json_pack("{s:s?, s:s?, s:s?, s:I}", "alert_uid", j->alert_uid, "rule_id",
				  j->rule_id, "playbook", j->playbook, "step", (json_int_t)j->step);
		if (t)
			json_object_set_new(o, "trigger", t);
	}
	return o;
}

static void events_file_append(struct responder *r, const char *line, size_t len)
{
	int fd = open(r->events_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	/* one write: the detector's writes of whole lines interleave at line boundaries */
	char *copy = xmalloc(len + 1);
	memcpy(copy, line, len);
	copy[len] = '\n';
	ssize_t n = write(fd, copy, len + 1);
	if (n != (ssize_t)(len + 1))
		log_debug("responder: writing %s: short write", r->events_path);
	free(copy);
	close(fd);
}

/* Under lock: queues a record for the loop. */
static void queue_record(struct responder *r, uint32_t kind, int64_t time_ns, const char *s,
			 size_t len)
{
	agent_records_add(&r->out, STREAM_ALERTS, kind, time_ns, s, len);
	if (!r->notified) {
		r->notified = true;
		r->notify(r->notify_arg);
	}
}

static void failure_alert(struct responder *r, const struct job *j, const char *message, int64_t t)
{
	struct alert al = { 0 };
	alert_new_uid(&al);
	al.source = ALERT_RULE;
	al.rule_id = xstrdup("response.action_failed");
	const char *kind = action_kind_name(j->action->kind);
	al.title = xasprintf("Response action %s failed", kind ? kind : "?");
	al.level = SIGMA_LEVEL_HIGH;
	al.explanation = xasprintf("%s (action %s)", message, j->uid);
	al.time_ns = t;
	al.hostname = xstrdup(r->hostname);
	json_t *o = alert_to_json(&al);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	alert_clear(&al);
	if (!s)
		return;
	events_file_append(r, s, strlen(s));
	pthread_mutex_lock(&r->lock);
	queue_record(r, RECORD_ALERT, t, s, strlen(s));
	pthread_mutex_unlock(&r->lock);
	free(s);
}

/* Records the result of j: a RECORD_ACTION_RESULT for the loop, a line in events.jsonl and,
 * for a failure, an alert. Takes detail. locked: the caller holds r->lock. */
static void record_result(struct responder *r, const struct job *j, Immune__V1__ExecStatus status,
			  const char *message, json_t *detail, bool locked)
{
	int64_t t = now_ns();
	json_t *o = result_json(j, status, message, detail, t);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_t *line =
		o ? json_pack("{s:I, s:o}", "time", (json_int_t)(t / 1000000), "action_result", o)
		  : NULL;
	char *ls = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (!s) {
		log_error("responder: the result of action %s could not be serialized", j->uid);
		free(ls);
		return;
	}
	if (ls)
		events_file_append(r, ls, strlen(ls));
	free(ls);
	if (!locked)
		pthread_mutex_lock(&r->lock);
	queue_record(r, RECORD_ACTION_RESULT, t, s, strlen(s));
	r->jobs++;
	if ((unsigned)status < STATUS_SLOTS)
		r->by_status[status]++;
	if (!locked)
		pthread_mutex_unlock(&r->lock);
	free(s);
	const char *kind = action_kind_name(j->action->kind);
	const char *st = exec_status_name(status);
	log_info("responder: %s %s %s (%s): %s",
		 action_op_name(j->op) ? action_op_name(j->op) : "?", kind ? kind : "?",
		 st ? st : "?", j->uid, message);
	if (status == IMMUNE__V1__EXEC_STATUS__EXEC_FAILED && !locked)
		failure_alert(r, j, message, t);
}

/* ---- the executor ---- */

static void executor_stop(struct responder *r)
{
	if (r->exec_fd >= 0)
		close(r->exec_fd);
	r->exec_fd = -1;
	if (r->exec_pid > 0) {
		/* it exits when its socket closes; a stuck one is killed after 2 s */
		int status;
		pid_t p = 0;
		for (int i = 0; i < 200 && (p = waitpid(r->exec_pid, &status, WNOHANG)) == 0; i++)
			usleep(10000);
		if (p == 0) {
			kill(r->exec_pid, SIGKILL);
			waitpid(r->exec_pid, &status, 0);
		}
	}
	r->exec_pid = 0;
}

static int executor_ensure(struct responder *r)
{
	if (r->exec_fd >= 0)
		return 0;
	if (r->exec_given)
		return -EPIPE;
	pthread_rwlock_rdlock(&r->plock);
	struct executor_options eo = {
		.state_dir = r->state_dir,
		.protected_users = r->playbooks ? playbook_protected_users(r->playbooks) : NULL,
		.nft_table = r->nft_table,
		.isolation_lease_s = r->lease_s,
	};
	int fd = -1;
	pid_t pid = 0;
	int e = executor_spawn(&eo, &fd, &pid);
	pthread_rwlock_unlock(&r->plock);
	if (e < 0)
		return log_errno(e, "responder: starting the executor");
	r->exec_fd = fd;
	r->exec_pid = pid;
	log_info("responder: executor started (pid %d)", (int)pid);
	return 0;
}

/* One request; the executor is restarted (and the request sent again) when it is gone:
 * apply, verify and rollback are idempotent. */
static int call_executor(struct responder *r, const ExecRequest *req, ExecReply **reply)
{
	int e = -EPIPE;
	for (int attempt = 0; attempt < RESPONDER_RESPAWN_MAX; attempt++) {
		if ((e = executor_ensure(r)) < 0)
			return e;
		e = exec_call(r->exec_fd, req, EXEC_TIMEOUT_MS, reply);
		if (e == 0)
			return 0;
		log_warn("responder: the executor did not answer: %s; restarting it", strerror(-e));
		executor_stop(r);
		pthread_mutex_lock(&r->lock);
		r->respawns++;
		pthread_mutex_unlock(&r->lock);
		if (e != -EPIPE)
			return e; /* a timeout or a bad reply: the request may be the cause */
	}
	return e;
}

/* ---- the server's address stays reachable from an isolated host ---- */

static bool allow_has(const Action *a, const char *addr)
{
	for (size_t i = 0; i < a->n_allow; i++)
		if (strcmp(a->allow[i], addr) == 0)
			return true;
	return false;
}

static void allow_add(Action *a, const char *addr)
{
	if (allow_has(a, addr) || a->n_allow >= ACTION_MAX_ALLOW)
		return;
	a->allow = xrealloc(a->allow, (a->n_allow + 1) * sizeof(*a->allow));
	a->allow[a->n_allow++] = xstrdup(addr);
}

static void add_server_address(struct responder *r, Action *a)
{
	unsigned char tmp[16];
	if (!r->server_host[0])
		return;
	if (inet_pton(AF_INET, r->server_host, tmp) == 1 ||
	    inet_pton(AF_INET6, r->server_host, tmp) == 1) {
		allow_add(a, r->server_host);
		return;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(r->server_host, NULL, &hints, &res) != 0) {
		log_warn("responder: cannot resolve the server %s to keep it reachable",
			 r->server_host);
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char s[INET6_ADDRSTRLEN];
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, s, sizeof(s), NULL, 0,
				NI_NUMERICHOST) == 0)
			allow_add(a, s);
	}
	freeaddrinfo(res);
}

/* ---- running jobs (responder thread) ---- */

static void track_isolation(struct responder *r, const struct job *j, Immune__V1__ExecStatus st)
{
	if (j->action->kind != IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST || j->dry_run)
		return;
	if (j->op == OP_APPLY && st == IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED) {
		uint32_t d = j->action->duration_seconds ? j->action->duration_seconds
							 : ACTION_ISOLATE_DEFAULT_S;
		r->isolate_on = true;
		r->isolate_known = true;
		memcpy(r->isolate_uid, j->uid, sizeof(r->isolate_uid));
		r->isolate_expiry_ns = now_ns() + (int64_t)d * NS_PER_S;
		r->refresh_skipped_logged = false;
		r->next_refresh_ns = mono_ns() + r->refresh_ns;
	} else if (j->op == OP_ROLLBACK && st == IMMUNE__V1__EXEC_STATUS__EXEC_ROLLED_BACK) {
		r->isolate_on = false;
	}
	pthread_mutex_lock(&r->lock);
	r->isolated = r->isolate_on && r->isolate_known;
	r->isolation_unknown = r->isolate_on && !r->isolate_known;
	pthread_mutex_unlock(&r->lock);
}

static void run_job(struct responder *r, struct job *j)
{
	Action *a = action_dup(j->action);
	if (!a) {
		record_result(r, j, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED, "out of memory", NULL,
			      false);
		return;
	}
	if (a->kind == IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST && j->op == OP_APPLY)
		add_server_address(r, a);
	ExecRequest req = IMMUNE__V1__EXEC_REQUEST__INIT;
	req.uid = j->uid;
	req.op = j->op;
	req.action = a;
	req.dry_run = j->dry_run;
	ExecReply *reply = NULL;
	int e = call_executor(r, &req, &reply);
	action_free(a);
	if (e < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "the executor did not answer: %s", strerror(-e));
		record_result(r, j, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED, msg, NULL, false);
		return;
	}
	json_t *detail = NULL;
	if (reply->detail_json && *reply->detail_json)
		detail = json_loads(reply->detail_json, 0, NULL);
	Immune__V1__ExecStatus st = reply->status;
	if (!exec_status_name(st))
		st = IMMUNE__V1__EXEC_STATUS__EXEC_FAILED;
	if (j->action->kind == IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX && j->op == OP_APPLY &&
	    !j->dry_run && st == IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED) {
		pthread_mutex_lock(&r->lock); /* set before the result is queued and notified */
		r->rescan = true;
		pthread_mutex_unlock(&r->lock);
	}
	record_result(r, j, st, reply->message ? reply->message : "", detail, false);
	track_isolation(r, j, st);
	exec_reply_free(reply);
}

/* The isolation's dead-man switch: refreshed only while the server was reachable lately. */
static void maybe_refresh(struct responder *r)
{
	int64_t mono = mono_ns();
	if (!r->isolate_on || mono < r->next_refresh_ns)
		return;
	r->next_refresh_ns = mono + r->refresh_ns;
	int64_t now = now_ns();
	if (now >= r->isolate_expiry_ns) {
		log_info("responder: the isolation %s reached its end", r->isolate_uid);
		r->isolate_on = false;
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	int64_t alive = r->link_alive_ns;
	pthread_mutex_unlock(&r->lock);
	if (!alive || now - alive > (int64_t)r->lease_s * NS_PER_S) {
		if (!r->refresh_skipped_logged && r->isolate_known)
			log_warn("responder: the server is unreachable: the isolation is not "
				 "refreshed and lifts within %u s",
				 r->lease_s);
		r->refresh_skipped_logged = true;
		goto out;
	}
	r->refresh_skipped_logged = false;
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST;
	a.duration_seconds = r->lease_s;
	ExecRequest req = IMMUNE__V1__EXEC_REQUEST__INIT;
	req.uid = r->isolate_uid;
	req.op = OP_REFRESH;
	req.action = &a;
	ExecReply *reply = NULL;
	int e = call_executor(r, &req, &reply);
	if (e < 0) {
		log_warn("responder: refreshing the isolation: %s", strerror(-e));
		goto out;
	}
	if (reply->status == IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED) {
		if (!r->isolate_known)
			log_info("responder: the host is isolated since before this start: "
				 "refreshing the isolation while the server is reachable");
		r->isolate_known = true;
		pthread_mutex_lock(&r->lock);
		r->refreshes++;
		pthread_mutex_unlock(&r->lock);
	} else if (reply->status == IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED) {
		if (r->isolate_known)
			log_info("responder: the host is no longer isolated (%s)", reply->message);
		r->isolate_on = false;
	} else {
		log_warn("responder: refreshing the isolation failed: %s", reply->message);
	}
	exec_reply_free(reply);
out:
	pthread_mutex_lock(&r->lock);
	r->isolated = r->isolate_on && r->isolate_known;
	r->isolation_unknown = r->isolate_on && !r->isolate_known;
	pthread_mutex_unlock(&r->lock);
}

static bool same_users(const char *const *a, const char *const *b)
{
	size_t i = 0;
	for (; a && b && a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return (!a || !a[i]) && (!b || !b[i]);
}

static void do_reload(struct responder *r, char *path)
{
	struct playbook_set *set = NULL;
	if (path) {
		strv errors = NULL;
		int e = playbook_load(path, &set, &errors);
		for (size_t i = 0; errors && errors[i]; i++)
			log_warn("playbook not loaded: %s", errors[i]);
		strv_free(errors);
		if (e < 0)
			log_errno(e, "responder: loading the playbooks from %s", path);
		else
			log_info("responder: %zu playbooks loaded from %s", playbook_set_count(set),
				 path);
	}
	pthread_rwlock_wrlock(&r->plock);
	struct playbook_set *old = r->playbooks;
	bool same = same_users(old ? playbook_protected_users(old) : NULL,
			       set ? playbook_protected_users(set) : NULL);
	r->playbooks = set;
	pthread_rwlock_unlock(&r->plock);
	playbook_set_free(old);
	if (!same && !r->exec_given && r->exec_fd >= 0) {
		/* the executor learns the protected users when it starts */
		log_info("responder: the protected users changed: restarting the executor");
		executor_stop(r);
		executor_ensure(r);
	}
}

static void *responder_thread(void *arg)
{
	struct responder *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (r->reload) {
			char *path = r->pending_playbooks;
			r->pending_playbooks = NULL;
			r->reload = false;
			pthread_mutex_unlock(&r->lock);
			do_reload(r, path);
			free(path);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		if (r->stopping)
			break;
		struct job *j = r->head;
		if (j) {
			r->head = j->next;
			if (!r->head)
				r->tail = NULL;
			r->queued--;
			pthread_mutex_unlock(&r->lock);
			run_job(r, j);
			job_free(j);
			maybe_refresh(r);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		pthread_mutex_unlock(&r->lock);
		maybe_refresh(r);
		pthread_mutex_lock(&r->lock);
		if (r->stopping || r->head || r->reload)
			continue;
		/* wakes for refreshes; jobs signal at once */
		int64_t wait_ns = r->refresh_ns < NS_PER_S ? r->refresh_ns / 2 : NS_PER_S;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec + wait_ns;
		ts.tv_sec = t / NS_PER_S;
		ts.tv_nsec = t % NS_PER_S;
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- queueing ---- */

int responder_submit(struct responder *r, const char *uid, Immune__V1__ActionOp op, const Action *a,
		     const char *origin, const struct responder_trigger *trigger, bool dry_run)
{
	if ((uid && !action_uid_ok(uid)) || !action_op_name(op) || !a)
		return -EINVAL;
	struct job *j = xcalloc(1, sizeof(*j));
	if (uid)
		memcpy(j->uid, uid, ACTION_UID_LEN + 1);
	else
		action_new_uid(j->uid);
	j->op = op;
	j->action = action_dup(a);
	snprintf(j->origin, sizeof(j->origin), "%s", origin ? origin : "edge");
	j->dry_run = dry_run;
	j->requested_ns = now_ns();
	if (trigger) {
		j->has_trigger = true;
		j->alert_uid = trigger->alert_uid ? xstrdup(trigger->alert_uid) : NULL;
		j->rule_id = trigger->rule_id ? xstrdup(trigger->rule_id) : NULL;
		j->playbook = trigger->playbook ? xstrdup(trigger->playbook) : NULL;
		j->step = trigger->step;
	}
	if (!j->action) {
		job_free(j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&r->lock);
	if (r->queued >= r->queue_max || r->stopping) {
		r->queue_full++;
		record_result(r, j, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
			      r->stopping ? "the agent is stopping" : "queue full", NULL, true);
		pthread_mutex_unlock(&r->lock);
		job_free(j);
		return -ENOSPC;
	}
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	r->queued++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void responder_refuse(struct responder *r, const char *uid, Immune__V1__ActionOp op,
		      const Action *a, const char *origin, const char *reason)
{
	Action empty = IMMUNE__V1__ACTION__INIT;
	struct job j = { .op = op, .requested_ns = now_ns() };
	if (!uid || !action_uid_ok(uid))
		return;
	memcpy(j.uid, uid, sizeof(j.uid));
	snprintf(j.origin, sizeof(j.origin), "%s", origin ? origin : "server");
	j.action = (Action *)(a ? a : &empty);
	pthread_mutex_lock(&r->lock);
	record_result(r, &j, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, reason, NULL, true);
	pthread_mutex_unlock(&r->lock);
}

/* ---- edge response ---- */

static const char *alert_field(void *arg, const char *name)
{
	const struct alert *a = arg;
	if (!a->n_evidence)
		return NULL;
	int f = event_field_by_name(name);
	if (f < 0)
		return NULL;
	return host_event_get(&a->evidence[a->n_evidence - 1], (enum event_field)f, NULL);
}

void responder_alert(struct responder *r, const struct alert *a)
{
	size_t n_tags = 0;
	while (a->tags && a->tags[n_tags])
		n_tags++;
	struct playbook_input in = {
		.source = alert_source_name(a->source),
		.rule_id = a->rule_id,
		.level = (int)a->level,
		.tags = (const char *const *)a->tags,
		.n_tags = n_tags,
		.hostname = a->hostname ? a->hostname : r->hostname,
		.label_keys = (const char *const *)r->label_keys,
		.label_values = (const char *const *)r->label_values,
		.n_labels = r->n_labels,
		.field = alert_field,
		.field_arg = (void *)a,
	};
	struct playbook_steps st = { 0 };
	pthread_rwlock_rdlock(&r->plock);
	if (!r->playbooks || playbook_match(r->playbooks, &in, true, false, now_ns(), &st) < 0) {
		pthread_rwlock_unlock(&r->plock);
		playbook_steps_free(&st);
		return;
	}
	for (size_t i = 0; i < st.n_skipped; i++)
		log_info("responder: alert %s (%s): %s", a->uid, a->rule_id, st.skipped[i]);
	for (size_t i = 0; i < st.n; i++) {
		const struct playbook_step *s = &st.v[i];
		if (s->mode != PLAYBOOK_AUTO) {
			log_debug("responder: %s step %zu is %s: the server decides it",
				  s->playbook_id, s->step, playbook_mode_name(s->mode));
			continue;
		}
		struct responder_trigger t = { .alert_uid = a->uid,
					       .rule_id = a->rule_id,
					       .playbook = s->playbook_id,
					       .step = s->step };
		pthread_mutex_lock(&r->lock);
		r->edge_matches++;
		pthread_mutex_unlock(&r->lock);
		responder_submit(r, NULL, OP_APPLY, s->action, "edge", &t, s->dry_run);
	}
	pthread_rwlock_unlock(&r->plock);
	playbook_steps_free(&st);
}

/* ---- the loop's side ---- */

void responder_set_playbooks(struct responder *r, const char *path)
{
	pthread_mutex_lock(&r->lock);
	free(r->pending_playbooks);
	r->pending_playbooks = path ? xstrdup(path) : NULL;
	r->reload = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void responder_link_alive(struct responder *r)
{
	pthread_mutex_lock(&r->lock);
	r->link_alive_ns = now_ns();
	pthread_mutex_unlock(&r->lock);
}

void responder_take(struct responder *r, struct agent_records *out)
{
	pthread_mutex_lock(&r->lock);
	agent_records_move(out, &r->out);
	r->notified = false;
	pthread_mutex_unlock(&r->lock);
}

bool responder_take_rescan(struct responder *r)
{
	pthread_mutex_lock(&r->lock);
	bool v = r->rescan;
	r->rescan = false;
	pthread_mutex_unlock(&r->lock);
	return v;
}

json_t *responder_status(struct responder *r)
{
	pthread_rwlock_rdlock(&r->plock);
	size_t n = r->playbooks ? playbook_set_count(r->playbooks) : 0;
	pthread_rwlock_unlock(&r->plock);
	pthread_mutex_lock(&r->lock);
	json_t *by = json_object();
	for (unsigned s = 1; s < STATUS_SLOTS; s++)
		json_object_set_new(by, exec_status_name((Immune__V1__ExecStatus)s),
				    json_integer((json_int_t)r->by_status[s]));
	json_t *o = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:b, s:o}", "playbooks",
		(json_int_t)n, "queued", (json_int_t)r->queued, "results", (json_int_t)r->jobs,
		"queue_full", (json_int_t)r->queue_full, "executor_restarts",
		(json_int_t)r->respawns, "isolation_refreshes", (json_int_t)r->refreshes,
		"edge_steps", (json_int_t)r->edge_matches, "isolated", r->isolated, "isolation",
		r->isolated	       ? "isolated"
		: r->isolation_unknown ? "unknown"
				       : "none",
		"executor", r->exec_fd >= 0, "by_status", by);
	pthread_mutex_unlock(&r->lock);
	return o;
}

/* ---- life cycle ---- */

static void copy_labels(struct responder *r, const struct agent_config *cfg)
{
	if (!cfg || !cfg->n_labels)
		return;
	r->n_labels = cfg->n_labels;
	r->label_keys = xcalloc(cfg->n_labels, sizeof(char *));
	r->label_values = xcalloc(cfg->n_labels, sizeof(char *));
	for (size_t i = 0; i < cfg->n_labels; i++) {
		r->label_keys[i] = xstrdup(cfg->labels[i].key);
		r->label_values[i] = xstrdup(cfg->labels[i].value);
	}
}

int responder_start(const struct responder_options *o, responder_notify_fn notify, void *arg,
		    struct responder **out, char *err, size_t errlen)
{
	struct responder *r = xcalloc(1, sizeof(*r));
	char host[256] = "";
	r->state_dir = xstrdup(o->state_dir);
	r->events_path = agent_state_path(o->state_dir, "events.jsonl");
	if (o->hostname)
		snprintf(host, sizeof(host), "%s", o->hostname);
	else
		gethostname(host, sizeof(host) - 1);
	r->hostname = xstrdup(host);
	r->nft_table = o->nft_table ? xstrdup(o->nft_table) : NULL;
	uint16_t port;
	if (o->cfg && o->cfg->server &&
	    agent_split_server(o->cfg->server, r->server_host, sizeof(r->server_host), &port) < 0)
		r->server_host[0] = '\0';
	copy_labels(r, o->cfg);
	r->notify = notify;
	r->notify_arg = arg;
	r->queue_max = o->queue_max ? o->queue_max : RESPONDER_QUEUE_MAX;
	r->lease_s = o->lease_s ? o->lease_s : RESPONDER_LEASE_S;
	r->refresh_ns = o->refresh_ms ? (int64_t)o->refresh_ms * 1000000
				      : (int64_t)r->lease_s * NS_PER_S / 4;
	r->exec_fd = o->exec_fd;
	r->exec_given = o->exec_fd >= 0;
	/* an isolation applied before this start (the executor keeps its state): the first
	 * refresh, once the link is up, finds it or learns there is none */
	r->isolate_on = true;
	r->isolate_expiry_ns = INT64_MAX;
	r->isolation_unknown = true;
	action_new_uid(r->isolate_uid);
	pthread_rwlock_init(&r->plock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (o->playbooks)
		do_reload(r, (char *)o->playbooks);
	int e = executor_ensure(r);
	if (e < 0) {
		snprintf(err, errlen, "cannot start the executor: %s", strerror(-e));
		responder_free(r);
		return e;
	}
	e = -pthread_create(&r->thread, NULL, responder_thread, r);
	if (e < 0) {
		snprintf(err, errlen, "cannot start the responder thread: %s", strerror(-e));
		responder_free(r);
		return e;
	}
	r->thread_started = true;
	*out = r;
	return 0;
}

void responder_stop(struct responder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	bool was = r->stopping;
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->thread_started) {
		pthread_join(r->thread, NULL);
		r->thread_started = false;
	}
	if (was)
		return;
	/* what still waits is recorded, not lost */
	pthread_mutex_lock(&r->lock);
	struct job *j = r->head;
	r->head = r->tail = NULL;
	r->queued = 0;
	while (j) {
		struct job *next = j->next;
		record_result(r, j, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
			      "the agent stopped before the action ran", NULL, true);
		job_free(j);
		j = next;
	}
	pthread_mutex_unlock(&r->lock);
	executor_stop(r);
}

void responder_free(struct responder *r)
{
	if (!r)
		return;
	responder_stop(r);
	playbook_set_free(r->playbooks);
	agent_records_free(&r->out);
	for (size_t i = 0; i < r->n_labels; i++) {
		free(r->label_keys[i]);
		free(r->label_values[i]);
	}
	free(r->label_keys);
	free(r->label_values);
	free(r->pending_playbooks);
	free(r->state_dir);
	free(r->events_path);
	free(r->hostname);
	free(r->nft_table);
	pthread_rwlock_destroy(&r->plock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
