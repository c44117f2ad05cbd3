#include "agent/detector.h"

#include "agent/agent_config.h"
#include "detect/alert.h"
#include "detect/baseline.h"
#include "detect/event_json.h"
#include "detect/output.h"
#include "detect/pipeline.h"
#include "detect/sensor.h"
#include "detect/sensor_mech.h"
#include "lib/log.h"
#include "proto/immune.pb-c.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define STREAM_EVENTS IMMUNE__V1__STREAM__STREAM_EVENTS
#define STREAM_STATE IMMUNE__V1__STREAM__STREAM_STATE
#define STREAM_ALERTS IMMUNE__V1__STREAM__STREAM_ALERTS
#define REPLAY_LINE_MAX (1u << 20)
#define EVENTS_FILE_BUFFER (64u * 1024) /* events.jsonl lines gather here ... */
#define EVENTS_FILE_FLUSH_MS 200	/* ... and are written at least this often */

/* index AGENT_SENSOR_COUNT: events whose sensor is not one of the four (replay) */
#define LOST_SLOTS (AGENT_SENSOR_COUNT + 1)

static const struct sensor_ops *const sensor_table[AGENT_SENSOR_COUNT] = {
	&sensor_process, &sensor_network, &sensor_auth, &sensor_fim
};

struct detector {
	const struct agent_yaml *cfg;
	struct sensor_config scfg;
	char *state_dir, *root, *config_path, *replay;
	char *baseline_path, *events_path;
	detector_notify_fn notify;
	void *notify_arg;
	void (*alert_hook)(void *arg, const struct alert *a);
	void *alert_hook_arg;

	struct event_base *base;
	struct event *ev_tick, *ev_flush, *ev_health, *ev_reload, *ev_replay, *ev_stop;
	pthread_t thread;
	bool thread_started;
	void *sensor_state[AGENT_SENSOR_COUNT];

	struct outputs *outputs;
	/* the pipeline: read-locked around each event, write-locked to swap it */
	pthread_rwlock_t plock;
	struct pipeline *pipeline;
	char *rules; /* detector thread (and start) only */
	size_t rules_loaded, rule_errors;
	struct pipeline_stats before; /* counts of the pipelines replaced (under plock) */

	/* the queue to the agent's loop */
	pthread_mutex_t qlock;
	pthread_cond_t qtaken; /* signalled by detector_take (replay waits for room) */
	struct agent_records events, other;
	bool notified;
	size_t queue_max;
	uint64_t lost[LOST_SLOTS];
	json_t *last_health;

	/* STATE/events.jsonl: lines gather in wbuf, written when it fills, on the flush timer
	 * and after an alert */
	pthread_mutex_t flock;
	int fd;
	uint64_t file_max;
	uint64_t fsize, file_errors; /* fsize counts what waits in wbuf too */
	char wbuf[EVENTS_FILE_BUFFER];
	size_t wlen;

	/* rules waiting to be loaded */
	pthread_mutex_t rlock;
	char *pending_rules;
	bool reload;

	char *last_baseline; /* the summary last queued (compact, sorted keys) */
	bool replay_lossy;
	atomic_bool stopping;
	uint64_t replayed, replay_bad;
};

/* ---- the queue ---- */

static void wake_loop(struct detector *d)
{
	/* under qlock: one wake-up per batch the loop takes */
	if (!d->notified) {
		d->notified = true;
		d->notify(d->notify_arg);
	}
}

static void push_raw(struct agent_records *l, uint32_t stream, uint32_t kind, int64_t time_ns,
		     const char *p, size_t len)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 64;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	unsigned char *copy = xmalloc(len ? len : 1);
	memcpy(copy, p, len);
	l->v[l->n++] = (struct agent_record){ .stream = stream,
					      .kind = kind,
					      .encoding = IMMUNE__V1__ENCODING__ENCODING_RAW,
					      .time_ns = time_ns,
					      .payload = copy,
					      .len = len };
}

void detector_take(struct detector *d, struct agent_records *events, struct agent_records *other)
{
	pthread_mutex_lock(&d->qlock);
	agent_records_move(events, &d->events);
	agent_records_move(other, &d->other);
	d->notified = false;
	pthread_cond_broadcast(&d->qtaken);
	pthread_mutex_unlock(&d->qlock);
}

static void queue_other(struct detector *d, uint32_t stream, uint32_t kind, int64_t time_ns,
			const char *p, size_t len)
{
	pthread_mutex_lock(&d->qlock);
	agent_records_add(&d->other, stream, kind, time_ns, p, len);
	wake_loop(d);
	pthread_mutex_unlock(&d->qlock);
}

/* The slot of the sensor that produced ev ("process/ebpf" -> process). */
static size_t sensor_slot(const struct host_event *ev)
{
	size_t len;
	const char *s = host_event_get(ev, EF_SENSOR, &len);
	for (size_t i = 0; s && i < AGENT_SENSOR_COUNT; i++) {
		size_t n = strlen(sensor_table[i]->name);
		if (len >= n && memcmp(s, sensor_table[i]->name, n) == 0 &&
		    (len == n || s[n] == '/'))
			return i;
	}
	return AGENT_SENSOR_COUNT;
}

/* ---- STATE/events.jsonl ---- */

static int events_file_open(struct detector *d)
{
	d->fd = open(d->events_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (d->fd < 0)
		return -errno;
	struct stat st;
	d->fsize = fstat(d->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* Writes what waits in wbuf. flock held. */
static void events_file_flush(struct detector *d)
{
	size_t done = 0;
	while (d->fd >= 0 && done < d->wlen) {
		ssize_t n = write(d->fd, d->wbuf + done, d->wlen - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (d->file_errors++ == 0)
				log_warn("writing %s: %s", d->events_path,
					 n < 0 ? strerror(errno) : "short write");
			break;
		}
		done += (size_t)n;
	}
	d->wlen = 0;
}

static void events_file_rotate(struct detector *d)
{
	_cleanup_free_ char *old = xasprintf("%s.1", d->events_path);
	events_file_flush(d);
	close(d->fd);
	d->fd = -1;
	if (rename(d->events_path, old) < 0)
		log_warn("rotating %s: %s", d->events_path, strerror(errno));
	int r = events_file_open(d);
	if (r < 0)
		log_errno(r, "opening %s", d->events_path);
}

static void events_file_write(struct detector *d, const char *json, size_t len, bool now)
{
	pthread_mutex_lock(&d->flock);
	if (d->fd >= 0 && d->fsize > 0 && d->fsize + len + 1 > d->file_max)
		events_file_rotate(d);
	if (d->wlen + len + 1 > sizeof(d->wbuf))
		events_file_flush(d);
	if (d->fd >= 0 && len + 1 > sizeof(d->wbuf)) {
		struct iovec iov[2] = { { (void *)json, len }, { (void *)"\n", 1 } };
		ssize_t n = writev(d->fd, iov, 2);
		if (n != (ssize_t)(len + 1) && d->file_errors++ == 0)
			log_warn("writing %s: %s", d->events_path,
				 n < 0 ? strerror(errno) : "short write");
	} else if (d->fd >= 0) {
		memcpy(d->wbuf + d->wlen, json, len);
		d->wbuf[d->wlen + len] = '\n';
		d->wlen += len + 1;
	}
	d->fsize += len + 1;
	if (now)
		events_file_flush(d);
	pthread_mutex_unlock(&d->flock);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct detector *d = arg;
	pthread_mutex_lock(&d->flock);
	events_file_flush(d);
	pthread_mutex_unlock(&d->flock);
}

/* ---- the pipeline's sink (any thread) ---- */

static void sink_event(const struct host_event *ev, const char *json, size_t len, void *arg)
{
	struct detector *d = arg;
	if (!json)
		return;
	events_file_write(d, json, len, false);
	pthread_mutex_lock(&d->qlock);
	if (d->events.n >= d->queue_max) {
		d->lost[sensor_slot(ev)]++;
	} else {
		push_raw(&d->events, STREAM_EVENTS, IMMUNE__V1__RECORD_KIND__RECORD_EVENT,
			 ev->time_ns, json, len);
		wake_loop(d);
	}
	pthread_mutex_unlock(&d->qlock);
}

static void sink_alert(const struct alert *a, void *arg)
{
	struct detector *d = arg;
	json_t *o = alert_to_json(a);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s) {
		log_error("alert %s (%s) could not be serialized", a->uid, a->rule_id);
		return;
	}
	size_t len = strlen(s);
	events_file_write(d, s, len, true);
	queue_other(d, STREAM_ALERTS, IMMUNE__V1__RECORD_KIND__RECORD_ALERT, a->time_ns, s, len);
	free(s);
	if (d->alert_hook)
		d->alert_hook(d->alert_hook_arg, a);
}

/* Sensors' emit: any thread. */
static void on_sensor_event(struct host_event *ev, void *arg)
{
	struct detector *d = arg;
	pthread_rwlock_rdlock(&d->plock);
	pipeline_event(d->pipeline, ev);
	pthread_rwlock_unlock(&d->plock);
}

/* ---- pipelines ---- */

static void log_rule_errors(const struct pipeline *p, const char *rules, size_t *loaded,
			    size_t *errors)
{
	const struct sigma_ruleset *rs = pipeline_rules(p);
	size_t n = 0;
	const struct sigma_error *e = rs ? sigma_ruleset_errors(rs, &n) : NULL;
	for (size_t i = 0; i < n; i++)
		log_warn("rule not loaded: %s:%u %s: %s", e[i].file ? e[i].file : "?", e[i].line,
			 e[i].rule_id ? e[i].rule_id : "(no id)", e[i].message);
	*loaded = rs ? sigma_ruleset_count(rs) : 0;
	*errors = n;
	log_info("detection rules: %zu loaded from %s%s", *loaded, rules ? rules : "(none)",
		 n ? ", some refused (see above)" : "");
}

static void add_stats(struct pipeline_stats *sum, const struct pipeline *p)
{
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	sum->events += st.events;
	sum->alerts += st.alerts;
	sum->rule_matches += st.rule_matches;
	sum->anomalies += st.anomalies;
	sum->output_errors += st.output_errors;
}

static int build_pipeline(struct detector *d, const char *rules, struct pipeline **out)
{
	struct pipeline_options po = {
		.rules = rules,
		.baseline_path = d->baseline_path,
		.baseline_learning_ns = d->cfg->baseline_learning_ns,
		.outputs = d->outputs,
		.sink = { .event = sink_event, .alert = sink_alert, .arg = d },
	};
	return pipeline_new(&po, out);
}

/* Detector thread: builds a pipeline with the new rules and swaps it in between events. */
static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	struct detector *d = arg;
	pthread_mutex_lock(&d->rlock);
	char *rules = d->pending_rules;
	bool reload = d->reload;
	d->pending_rules = NULL;
	d->reload = false;
	pthread_mutex_unlock(&d->rlock);
	if (!reload)
		return;
	/* the old pipeline saves what it learned, for the new one to load */
	pthread_rwlock_rdlock(&d->plock);
	pipeline_tick(d->pipeline, agent_now_ns());
	pthread_rwlock_unlock(&d->plock);
	struct pipeline *np = NULL;
	int r = build_pipeline(d, rules, &np);
	if (r < 0) {
		log_errno(r, "loading the detection rules %s (the previous rules stay)",
			  rules ? rules : "(none)");
		free(rules);
		return;
	}
	size_t loaded, errors;
	log_rule_errors(np, rules, &loaded, &errors);
	pthread_rwlock_wrlock(&d->plock);
	struct pipeline *old = d->pipeline;
	add_stats(&d->before, old);
	d->pipeline = np;
	d->rules_loaded = loaded;
	d->rule_errors = errors;
	pthread_rwlock_unlock(&d->plock);
	pipeline_free(old);
	free(d->rules);
	d->rules = rules;
}

void detector_set_rules(struct detector *d, const char *rules)
{
	pthread_mutex_lock(&d->rlock);
	free(d->pending_rules);
	d->pending_rules = rules ? xstrdup(rules) : NULL;
	d->reload = true;
	pthread_mutex_unlock(&d->rlock);
	event_active(d->ev_reload, EV_READ, 0);
}

/* ---- timers on the detector's thread ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct detector *d = arg;
	pthread_rwlock_rdlock(&d->plock);
	pipeline_tick(d->pipeline, agent_now_ns());
	pthread_rwlock_unlock(&d->plock);
}

static json_t *health_json(const struct sensor_health *h, uint64_t extra_lost)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:s}", "name", h->name, "mechanism",
			 h->mechanism ? h->mechanism : "none", "active", h->active, "events",
			 (json_int_t)h->events, "lost", (json_int_t)(h->lost + extra_lost),
			 "skipped", (json_int_t)h->skipped, "message", h->message);
}

static json_t *collect_health(struct detector *d)
{
	uint64_t lost[LOST_SLOTS];
	pthread_mutex_lock(&d->qlock);
	memcpy(lost, d->lost, sizeof(lost));
	pthread_mutex_unlock(&d->qlock);
	json_t *arr = json_array();
	for (size_t i = 0; i < AGENT_SENSOR_COUNT; i++) {
		struct sensor_health h = { .name = sensor_table[i]->name, .mechanism = "none" };
		if (d->sensor_state[i])
			sensor_table[i]->health(d->sensor_state[i], &h);
		else if (d->replay)
			snprintf(h.message, sizeof(h.message), "not started: replaying %s",
				 d->replay);
		else
			snprintf(h.message, sizeof(h.message), "off in the configuration");
		json_array_append_new(arr, health_json(&h, lost[i]));
	}
	if (d->replay || lost[AGENT_SENSOR_COUNT]) {
		struct sensor_health h = { .name = "replay",
					   .mechanism = "file",
					   .active = d->replay != NULL,
					   .events = d->replayed,
					   .skipped = d->replay_bad };
		json_array_append_new(arr, health_json(&h, lost[AGENT_SENSOR_COUNT]));
	}
	return arr;
}

/* The summary of the baselines as last saved (the pipeline saves them every tick). */
static char *baseline_summary_text(struct detector *d)
{
	struct baseline_options bo = { .state_path = d->baseline_path,
				       .learning_ns = d->cfg->baseline_learning_ns };
	struct baseline *b = NULL;
	int r = baseline_open(&bo, &b);
	if (r < 0 && r != -EBADMSG)
		return NULL;
	json_t *s = baseline_summary(b);
	baseline_free(b);
	char *text = s ? json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(s);
	return text;
}

static void on_health(evutil_socket_t fd, short what, void *arg)
{
	struct detector *d = arg;
	json_t *arr = collect_health(d);
	char *s = json_dumps(arr, JSON_COMPACT);
	if (s) {
		queue_other(d, STREAM_STATE, IMMUNE__V1__RECORD_KIND__RECORD_SENSOR_HEALTH,
			    agent_now_ns(), s, strlen(s));
		free(s);
	}
	pthread_mutex_lock(&d->qlock);
	json_decref(d->last_health);
	d->last_health = arr;
	pthread_mutex_unlock(&d->qlock);

	char *b = baseline_summary_text(d);
	if (b && (!d->last_baseline || strcmp(b, d->last_baseline) != 0)) {
		queue_other(d, STREAM_STATE, IMMUNE__V1__RECORD_KIND__RECORD_BASELINE,
			    agent_now_ns(), b, strlen(b));
		free(d->last_baseline);
		d->last_baseline = b;
	} else {
		free(b);
	}
}

/* ---- replay ---- */

/* A file is not a live source: it waits for room in the queue instead of losing events.
 * Returns false when the detector is stopping. */
static bool replay_wait_room(struct detector *d)
{
	if (d->replay_lossy)
		return !atomic_load(&d->stopping);
	pthread_mutex_lock(&d->qlock);
	while (d->events.n >= d->queue_max && !atomic_load(&d->stopping)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->qtaken, &d->qlock, &ts);
	}
	pthread_mutex_unlock(&d->qlock);
	return !atomic_load(&d->stopping);
}

static void on_replay(evutil_socket_t fd, short what, void *arg)
{
	struct detector *d = arg;
	_cleanup_fclose_ FILE *f = fopen(d->replay, "re");
	if (!f) {
		log_error("replay: opening %s: %s", d->replay, strerror(errno));
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct host_event ev;
	host_event_init(&ev);
	unsigned lineno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		if (!replay_wait_room(d))
			break;
		if ((size_t)n > REPLAY_LINE_MAX ||
		    host_event_from_json_text(line, (size_t)n, &ev) < 0) {
			if (d->replay_bad++ < 10)
				log_warn("replay: %s:%u is not an OCSF event; skipped", d->replay,
					 lineno);
			continue;
		}
		on_sensor_event(&ev, d);
		d->replayed++;
	}
	free(line);
	host_event_free(&ev);
	log_info("replay: %llu event(s) from %s, %llu line(s) skipped",
		 (unsigned long long)d->replayed, d->replay, (unsigned long long)d->replay_bad);
	on_health(-1, 0, d);
}

/* ---- life cycle ---- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void *detector_main(void *arg)
{
	struct detector *d = arg;
	event_base_dispatch(d->base);
	return NULL;
}

static int start_sensors(struct detector *d, char *err, size_t errlen)
{
	struct sensor_ctx ctx = {
		.base = d->base, .cfg = &d->scfg, .emit = on_sensor_event, .emit_arg = d
	};
	for (size_t i = 0; i < AGENT_SENSOR_COUNT; i++) {
		if (!d->cfg->enabled[i])
			continue;
		int r = sensor_table[i]->start(&ctx, &d->sensor_state[i]);
		if (r < 0) {
			d->sensor_state[i] = NULL;
			snprintf(err, errlen, "starting the %s sensor: %s", sensor_table[i]->name,
				 strerror(-r));
			return r;
		}
		struct sensor_health h = { 0 };
		sensor_table[i]->health(d->sensor_state[i], &h);
		log_info("sensor %s: %s%s%s%s", h.name, h.active ? "" : "inactive, ",
			 h.mechanism ? h.mechanism : "none", h.message[0] ? ": " : "", h.message);
	}
	return 0;
}

static int make_events(struct detector *d)
{
	/* other threads wake this base (new rules, stop): it must be made thread-aware */
	if (evthread_use_pthreads() < 0)
		return -ENOMEM;
	d->base = event_base_new();
	if (!d->base)
		return -ENOMEM;
	d->ev_tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	d->ev_flush = event_new(d->base, -1, EV_PERSIST, on_flush, d);
	d->ev_health = event_new(d->base, -1, EV_PERSIST, on_health, d);
	d->ev_reload = event_new(d->base, -1, 0, on_reload, d);
	d->ev_replay = event_new(d->base, -1, 0, on_replay, d);
	d->ev_stop = event_new(d->base, -1, 0, on_stop, d->base);
	if (!d->ev_tick || !d->ev_flush || !d->ev_health || !d->ev_reload || !d->ev_replay ||
	    !d->ev_stop)
		return -ENOMEM;
	struct timeval one = { 1, 0 }, health = { DETECTOR_HEALTH_INTERVAL_S, 0 };
	struct timeval flush = { 0, EVENTS_FILE_FLUSH_MS * 1000 };
	event_add(d->ev_tick, &one);
	event_add(d->ev_flush, &flush);
	event_add(d->ev_health, &health);
	return 0;
}

static struct detector *detector_alloc(const struct detector_options *o, detector_notify_fn notify,
				       void *arg)
{
	struct detector *d = xcalloc(1, sizeof(*d));
	d->cfg = o->cfg;
	d->state_dir = xstrdup(o->state_dir);
	d->root = xstrdup(o->root ? o->root : "/");
	d->config_path = o->config_path ? xstrdup(o->config_path) : NULL;
	d->replay = o->replay ? xstrdup(o->replay) : NULL;
	d->rules = o->rules ? xstrdup(o->rules) : NULL;
	d->baseline_path = agent_state_path(o->state_dir, DETECTOR_BASELINE_FILE);
	d->events_path = agent_state_path(o->state_dir, DETECTOR_EVENTS_FILE);
	d->scfg = o->cfg->sensors;
	d->scfg.root = d->root;
	d->scfg.state_dir = d->state_dir;
	d->notify = notify;
	d->notify_arg = arg;
	d->fd = -1;
	d->queue_max = o->queue_events ? o->queue_events : DETECTOR_QUEUE_EVENTS;
	d->file_max = o->events_file_max ? o->events_file_max : DETECTOR_EVENTS_FILE_MAX;
	/* a swap must not wait behind a steady stream of events from several threads */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->plock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&d->qlock, NULL);
	pthread_cond_init(&d->qtaken, NULL);
	d->replay_lossy = o->replay_lossy;
	d->alert_hook = o->alert_hook;
	d->alert_hook_arg = o->alert_hook_arg;
	pthread_mutex_init(&d->flock, NULL);
	pthread_mutex_init(&d->rlock, NULL);
	return d;
}

int detector_start(const struct detector_options *o, detector_notify_fn notify, void *arg,
		   struct detector **out, char *err, size_t errlen)
{
	struct detector *d = detector_alloc(o, notify, arg);
	int r = 0;
	if (d->config_path && (r = outputs_open(d->config_path, &d->outputs, err, errlen)) < 0)
		goto fail;
	if ((r = events_file_open(d)) < 0) {
		snprintf(err, errlen, "opening %s: %s", d->events_path, strerror(-r));
		goto fail;
	}
	if ((r = build_pipeline(d, d->rules, &d->pipeline)) < 0) {
		snprintf(err, errlen, "building the detection pipeline (rules %s): %s",
			 d->rules ? d->rules : "none", strerror(-r));
		goto fail;
	}
	log_rule_errors(d->pipeline, d->rules, &d->rules_loaded, &d->rule_errors);
	if ((r = make_events(d)) < 0) {
		snprintf(err, errlen, "creating the detector's event loop: %s", strerror(-r));
		goto fail;
	}
	if (d->replay)
		event_active(d->ev_replay, EV_READ, 0);
	else if ((r = start_sensors(d, err, errlen)) < 0)
		goto fail;
	event_active(d->ev_health, EV_TIMEOUT, 0);
	if ((r = -pthread_create(&d->thread, NULL, detector_main, d)) < 0) {
		snprintf(err, errlen, "starting the detector thread: %s", strerror(-r));
		goto fail;
	}
	d->thread_started = true;
	*out = d;
	return 0;
fail:
	detector_free(d);
	return r;
}

void detector_stop(struct detector *d)
{
	if (!d)
		return;
	atomic_store(&d->stopping, true);
	if (d->thread_started) {
		event_active(d->ev_stop, EV_READ, 0);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	for (size_t i = 0; i < AGENT_SENSOR_COUNT; i++) {
		if (d->sensor_state[i])
			sensor_table[i]->stop(d->sensor_state[i]);
		d->sensor_state[i] = NULL;
	}
	if (d->pipeline) {
		pipeline_tick(d->pipeline, agent_now_ns());
		pthread_rwlock_wrlock(&d->plock);
		struct pipeline *p = d->pipeline;
		add_stats(&d->before, p);
		d->pipeline = NULL;
		pthread_rwlock_unlock(&d->plock);
		pipeline_free(p);
	}
}

void detector_free(struct detector *d)
{
	if (!d)
		return;
	detector_stop(d);
	struct event *evs[] = { d->ev_tick,   d->ev_flush,  d->ev_health,
				d->ev_reload, d->ev_replay, d->ev_stop };
	for (size_t i = 0; i < ARRAY_SIZE(evs); i++)
		sensor_loop_event_free(evs[i]);
	if (d->base)
		event_base_free(d->base);
	outputs_free(d->outputs);
	events_file_flush(d);
	if (d->fd >= 0)
		close(d->fd);
	agent_records_free(&d->events);
	agent_records_free(&d->other);
	json_decref(d->last_health);
	pthread_rwlock_destroy(&d->plock);
	pthread_mutex_destroy(&d->qlock);
	pthread_cond_destroy(&d->qtaken);
	pthread_mutex_destroy(&d->flock);
	pthread_mutex_destroy(&d->rlock);
	free(d->pending_rules);
	free(d->last_baseline);
	free(d->rules);
	free(d->state_dir);
	free(d->root);
	free(d->config_path);
	free(d->replay);
	free(d->baseline_path);
	free(d->events_path);
	free(d);
}

json_t *detector_status(struct detector *d)
{
	pthread_rwlock_rdlock(&d->plock);
	struct pipeline_stats st = d->before;
	if (d->pipeline)
		add_stats(&st, d->pipeline);
	size_t loaded = d->rules_loaded, errors = d->rule_errors;
	pthread_rwlock_unlock(&d->plock);
	uint64_t lost = 0;
	pthread_mutex_lock(&d->qlock);
	for (size_t i = 0; i < LOST_SLOTS; i++)
		lost += d->lost[i];
	json_t *sensors = d->last_health ? json_deep_copy(d->last_health) : json_array();
	size_t waiting = d->events.n + d->other.n;
	pthread_mutex_unlock(&d->qlock);
	pthread_mutex_lock(&d->flock);
	uint64_t file_errors = d->file_errors;
	pthread_mutex_unlock(&d->flock);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "events_file_errors",
			 (json_int_t)file_errors, "rules_loaded", (json_int_t)loaded, "rule_errors",
			 (json_int_t)errors, "events", (json_int_t)st.events, "alerts",
			 (json_int_t)st.alerts, "anomalies", (json_int_t)st.anomalies, "queue_lost",
			 (json_int_t)lost, "queue_waiting", (json_int_t)waiting, "output_errors",
			 (json_int_t)st.output_errors, "sensors", sensors);
}
