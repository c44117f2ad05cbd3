/* The detection pipeline (pipeline.h, docs/detection.md).
 *
 * Threads: the ruleset is read-only after compilation, so sigma_match runs without a lock,
 * each call with a scratch taken from a small pool. The correlator and the baselines are
 * not thread-safe and sit behind one mutex (state). The sink is called under a second
 * mutex (sink) so that an event's line is followed directly by its alerts and sinks need no
 * locking of their own. Outputs are thread-safe and are called without a lock. */
#include "detect/pipeline.h"

#include "detect/correlate.h"
#include "detect/event_json.h"
#include "lib/str.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <unistd.h>

struct pipeline {
	struct sigma_ruleset *rs;
	struct correlator *corr;
	struct baseline *bl;
	struct outputs *outputs;
	struct pipeline_sink sink;
	char hostname[256];
	bool *alone; /* per rule: alerts on its own (Sigma's generate semantics) */
	size_t n_rules;

	pthread_mutex_t state; /* corr, bl */
	pthread_mutex_t sink_lock;
	pthread_mutex_t pool_lock;
	struct sigma_scratch **pool; /* idle scratches */
	size_t n_pool, cap_pool;

	atomic_uint_fast64_t next_id;
	atomic_uint_fast64_t events, alerts, rule_matches, anomalies, output_errors;
};

/* What one pipeline_event call collects. */
struct call {
	struct pipeline *p;
	const struct host_event *ev;
	size_t *matches;
	size_t n_matches, cap_matches;
	struct alert *alerts;
	size_t n_alerts, cap_alerts;
};

/* --- setup ------------------------------------------------------------------------------- */

/* A rule alerts on its own unless every correlation referencing it has generate: false. */
static void compute_alone(struct pipeline *p)
{
	size_t n = p->n_rules;
	bool *referenced = xcalloc(n ? n : 1, sizeof(bool));
	bool *generated = xcalloc(n ? n : 1, sizeof(bool));

	for (size_t i = 0; i < n; i++) {
		const struct sigma_correlation *c = sigma_ruleset_rule(p->rs, i)->correlation;
		if (!c)
			continue;
		for (size_t j = 0; j < c->n_refs; j++) {
			if (c->refs[j] >= n)
				continue;
			referenced[c->refs[j]] = true;
			if (c->generate)
				generated[c->refs[j]] = true;
		}
	}
	p->alone = xcalloc(n ? n : 1, sizeof(bool));
	for (size_t i = 0; i < n; i++)
		p->alone[i] = !referenced[i] || generated[i];
	free(referenced);
	free(generated);
}

static int load_rules(struct pipeline *p, const char *path)
{
	int r = sigma_ruleset_new(&p->rs);
	if (r < 0)
		return r;
	if (path) {
		r = sigma_ruleset_load(p->rs, path);
		if (r < 0)
			return r;
	}
	r = sigma_ruleset_compile(p->rs);
	if (r < 0)
		return r;
	p->n_rules = sigma_ruleset_count(p->rs);
	compute_alone(p);
	return correlator_new(p->rs, &p->corr);
}

int pipeline_new(const struct pipeline_options *o, struct pipeline **out)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	int r;

	pthread_mutex_init(&p->state, NULL);
	pthread_mutex_init(&p->sink_lock, NULL);
	pthread_mutex_init(&p->pool_lock, NULL);
	p->sink = o->sink;
	p->outputs = o->outputs;
	/* Event ids count up from the creation time in ns: a pipeline built after another (a
	 * restart, new rules) never reuses an id, since no pipeline emits an event per ns. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_init(&p->next_id, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	if (o->hostname)
		snprintf(p->hostname, sizeof(p->hostname), "%s", o->hostname);
	else if (gethostname(p->hostname, sizeof(p->hostname) - 1) < 0)
		snprintf(p->hostname, sizeof(p->hostname), "localhost");
	p->hostname[sizeof(p->hostname) - 1] = '\0';

	r = load_rules(p, o->rules);
	if (r < 0)
		goto fail;
	if (o->baseline_path) {
		struct baseline_options bo = { .state_path = o->baseline_path,
					       .learning_ns = o->baseline_learning_ns };
		r = baseline_open(&bo, &p->bl);
		/* a damaged state file was set aside and learning restarts: not fatal */
		if (r < 0 && r != -EBADMSG)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	pipeline_free(p);
	return r;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	if (p->bl)
		baseline_save(p->bl);
	baseline_free(p->bl);
	correlator_free(p->corr);
	sigma_ruleset_free(p->rs);
	for (size_t i = 0; i < p->n_pool; i++)
		sigma_scratch_free(p->pool[i]);
	free(p->pool);
	free(p->alone);
	pthread_mutex_destroy(&p->state);
	pthread_mutex_destroy(&p->sink_lock);
	pthread_mutex_destroy(&p->pool_lock);
	free(p);
}

const struct sigma_ruleset *pipeline_rules(const struct pipeline *p)
{
	return p->rs;
}

/* --- scratch pool ------------------------------------------------------------------------ */

static struct sigma_scratch *scratch_get(struct pipeline *p)
{
	struct sigma_scratch *sc = NULL;

	pthread_mutex_lock(&p->pool_lock);
	if (p->n_pool)
		sc = p->pool[--p->n_pool];
	pthread_mutex_unlock(&p->pool_lock);
	return sc ? sc : sigma_scratch_new();
}

static void scratch_put(struct pipeline *p, struct sigma_scratch *sc)
{
	if (!sc)
		return;
	pthread_mutex_lock(&p->pool_lock);
	if (p->n_pool == p->cap_pool) {
		p->cap_pool = p->cap_pool ? 2 * p->cap_pool : 4;
		p->pool = xrealloc(p->pool, p->cap_pool * sizeof(p->pool[0]));
	}
	p->pool[p->n_pool++] = sc;
	pthread_mutex_unlock(&p->pool_lock);
}

/* --- building alerts --------------------------------------------------------------------- */

static struct alert *call_new_alert(struct call *c, enum alert_source src)
{
	if (c->n_alerts == c->cap_alerts) {
		c->cap_alerts = c->cap_alerts ? 2 * c->cap_alerts : 4;
		c->alerts = xrealloc(c->alerts, c->cap_alerts * sizeof(c->alerts[0]));
	}
	struct alert *a = &c->alerts[c->n_alerts++];
	memset(a, 0, sizeof(*a));
	alert_new_uid(a);
	a->source = src;
	a->hostname = xstrdup(c->p->hostname);
	return a;
}

static void alert_set_rule(struct alert *a, const struct sigma_rule *r)
{
	a->rule_id = xstrdup(r->id);
	a->title = xstrdup(r->title ? r->title : r->id);
	a->level = r->level ? r->level : SIGMA_LEVEL_MEDIUM;
	for (char **t = r->tags; t && *t; t++)
		strv_push(&a->tags, *t);
}

static void on_match(size_t rule, void *arg)
{
	struct call *c = arg;
	if (c->n_matches == c->cap_matches) {
		c->cap_matches = c->cap_matches ? 2 * c->cap_matches : 8;
		c->matches = xrealloc(c->matches, c->cap_matches * sizeof(c->matches[0]));
	}
	c->matches[c->n_matches++] = rule;
}

/* "90s", "5m", "2h", "1d"; 0: "any time" */
static void format_span(int64_t ns, char *out, size_t len)
{
	int64_t s = ns / INT64_C(1000000000);
	if (s <= 0)
		snprintf(out, len, "any time");
	else if (s % 86400 == 0)
		snprintf(out, len, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, len, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, len, "%" PRId64 "m", s / 60);
	else
		snprintf(out, len, "%" PRId64 "s", s);
}

/* One sentence: what the correlation saw, for which group. */
static char *corr_explanation(const struct pipeline *p, const struct sigma_correlation *k,
			      const char *group_key, size_t n_evidence)
{
	char *refs = xstrdup(""), *group = xstrdup(""), *s;
	char span[32];

	for (size_t i = 0; i < k->n_refs; i++) {
		const struct sigma_rule *r = sigma_ruleset_rule(p->rs, k->refs[i]);
		const char *name = r ? (r->name ? r->name : r->id) : "?";
		s = xasprintf("%s%s%s", refs, i ? ", " : "", name);
		free(refs);
		refs = s;
	}
	for (size_t i = 0; i < k->n_group_by; i++) {
		s = xasprintf("%s%s%s", group, i ? "|" : " for ", event_field_name(k->group_by[i]));
		free(group);
		group = s;
	}
	if (k->n_group_by) {
		s = xasprintf("%s %s", group, group_key);
		free(group);
		group = s;
	}
	format_span(k->timespan_ns, span, sizeof(span));
	char *out;
	switch (k->type) {
	case SIGMA_CORR_EVENT_COUNT:
		out = xasprintf("%s matched %s%" PRId64 " times within %s%s", refs,
				k->min > 0 ? "at least " : "",
				k->min > 0 ? k->min : (int64_t)n_evidence, span, group);
		break;
	case SIGMA_CORR_VALUE_COUNT:
		out = xasprintf("%s matched with %s%" PRId64 " distinct %s values within %s%s",
				refs, k->min > 0 ? "at least " : "",
				k->min > 0 ? k->min : (int64_t)n_evidence,
				event_field_name(k->value_field), span, group);
		break;
	case SIGMA_CORR_TEMPORAL:
		out = xasprintf("%s all matched within %s%s", refs, span, group);
		break;
	case SIGMA_CORR_TEMPORAL_ORDERED:
		out = xasprintf("%s matched in that order within %s%s", refs, span, group);
		break;
	default: out = xasprintf("%s matched%s", refs, group); break;
	}
	free(refs);
	free(group);
	return out;
}

static void on_fire(size_t rule, const char *group_key, const struct host_event *const *evidence,
		    size_t n_evidence, void *arg)
{
	struct call *c = arg;
	const struct sigma_rule *r = sigma_ruleset_rule(c->p->rs, rule);

	if (!r || !r->correlation || rule >= c->p->n_rules || !c->p->alone[rule])
		return;
	struct alert *a = call_new_alert(c, ALERT_CORRELATION);
	alert_set_rule(a, r);
	a->group_key = xstrdup(group_key ? group_key : "");
	a->explanation = corr_explanation(c->p, r->correlation, a->group_key, n_evidence);
	a->time_ns = n_evidence ? evidence[0]->time_ns : c->ev->time_ns;
	for (size_t i = 0; i < n_evidence; i++) {
		alert_add_evidence(a, evidence[i]);
		if (evidence[i]->time_ns > a->time_ns)
			a->time_ns = evidence[i]->time_ns;
	}
}

static const struct {
	const char *title;
	enum sigma_level level;
	const char *tags[3];
} anomaly_kinds[] = {
	[BASELINE_NEW_EXECUTABLE] = { "New executable run on the host",
				      SIGMA_LEVEL_LOW,
				      { "attack.execution", NULL } },
	[BASELINE_NEW_PARENT_CHILD] = { "New parent and child process pair",
					SIGMA_LEVEL_LOW,
					{ "attack.execution", NULL } },
	[BASELINE_LOGIN_NEW_NETWORK] = { "Login from a network never seen for the user",
					 SIGMA_LEVEL_MEDIUM,
					 { "attack.initial_access", "attack.t1078", NULL } },
	[BASELINE_LOGIN_UNUSUAL_HOUR] = { "Login at an unusual hour for the user",
					  SIGMA_LEVEL_LOW,
					  { "attack.initial_access", "attack.t1078", NULL } },
	[BASELINE_NEW_LISTEN_PORT] = { "New listening port on the host",
				       SIGMA_LEVEL_MEDIUM,
				       { "attack.persistence", NULL } },
	[BASELINE_NEW_OUTBOUND] = { "New outbound destination for a program",
				    SIGMA_LEVEL_LOW,
				    { "attack.command_and_control", NULL } },
};

static void add_anomaly(struct call *c, const struct baseline_anomaly *an)
{
	struct alert *a = call_new_alert(c, ALERT_ANOMALY);
	const char *kind = baseline_kind_name(an->kind);
	bool known = an->kind > 0 && (size_t)an->kind < ARRAY_SIZE(anomaly_kinds) &&
		     anomaly_kinds[an->kind].title;

	a->rule_id = xasprintf("baseline.%s", kind ? kind : "unknown");
	a->title = xstrdup(known ? anomaly_kinds[an->kind].title : "Baseline anomaly");
	a->level = known ? anomaly_kinds[an->kind].level : SIGMA_LEVEL_LOW;
	for (size_t i = 0; known && anomaly_kinds[an->kind].tags[i]; i++)
		strv_push(&a->tags, anomaly_kinds[an->kind].tags[i]);
	a->explanation = xstrdup(an->explanation);
	a->group_key = xstrdup(an->subject);
	a->score = an->score;
	a->time_ns = c->ev->time_ns;
	alert_add_evidence(a, c->ev);
}

/* --- per event --------------------------------------------------------------------------- */

static void stamp(struct pipeline *p, struct host_event *ev)
{
	if (!ev->id)
		ev->id = atomic_fetch_add_explicit(&p->next_id, 1, memory_order_relaxed) + 1;
	if (!host_event_has(ev, EF_HOSTNAME))
		host_event_set_str(ev, EF_HOSTNAME, p->hostname);
}

/* Correlation and baselines: the part that needs the state lock. */
static void stateful(struct pipeline *p, struct call *c)
{
	struct baseline_anomaly an[2];
	size_t n_an = 0;

	if (!c->n_matches && !p->bl)
		return;
	pthread_mutex_lock(&p->state);
	for (size_t i = 0; i < c->n_matches; i++)
		correlator_feed(p->corr, c->matches[i], c->ev, on_fire, c);
	if (p->bl && baseline_observe(p->bl, c->ev, an, &n_an) == 1) {
		for (size_t i = 0; i < n_an && i < 2; i++)
			add_anomaly(c, &an[i]);
		atomic_fetch_add_explicit(&p->anomalies, n_an, memory_order_relaxed);
	}
	pthread_mutex_unlock(&p->state);
}

static void deliver(struct pipeline *p, struct call *c)
{
	bool want_event = p->sink.event || p->outputs;
	char *line = want_event ? host_event_to_json_line(c->ev) : NULL;
	char **alert_json = xcalloc(c->n_alerts + 1, sizeof(char *));

	if (want_event && !line)
		atomic_fetch_add_explicit(&p->output_errors, 1, memory_order_relaxed);
	if (p->outputs) {
		for (size_t i = 0; i < c->n_alerts; i++) {
			json_t *j = alert_to_json(&c->alerts[i]);
			alert_json[i] = j ? json_dumps(j, JSON_COMPACT) : NULL;
			json_decref(j);
			if (!alert_json[i])
				atomic_fetch_add_explicit(&p->output_errors, 1,
							  memory_order_relaxed);
		}
	}
	if (p->sink.event || p->sink.alert) {
		pthread_mutex_lock(&p->sink_lock);
		if (p->sink.event && line)
			p->sink.event(c->ev, line, strlen(line), p->sink.arg);
		for (size_t i = 0; p->sink.alert && i < c->n_alerts; i++)
			p->sink.alert(&c->alerts[i], p->sink.arg);
		pthread_mutex_unlock(&p->sink_lock);
	}
	if (p->outputs) {
		if (line)
			outputs_event(p->outputs, line, strlen(line));
		for (size_t i = 0; i < c->n_alerts; i++)
			if (alert_json[i])
				outputs_alert(p->outputs, alert_json[i], strlen(alert_json[i]));
	}
	for (size_t i = 0; i < c->n_alerts; i++)
		free(alert_json[i]);
	free(alert_json);
	free(line);
}

void pipeline_event(struct pipeline *p, struct host_event *ev)
{
	struct call c = { .p = p, .ev = ev };

	stamp(p, ev);
	atomic_fetch_add_explicit(&p->events, 1, memory_order_relaxed);

	struct sigma_scratch *sc = scratch_get(p);
	if (sc)
		sigma_match(p->rs, ev, sc, on_match, &c);
	scratch_put(p, sc);
	atomic_fetch_add_explicit(&p->rule_matches, c.n_matches, memory_order_relaxed);

	for (size_t i = 0; i < c.n_matches; i++) {
		size_t ri = c.matches[i];
		if (ri >= p->n_rules || !p->alone[ri])
			continue;
		struct alert *a = call_new_alert(&c, ALERT_RULE);
		const struct sigma_rule *r = sigma_ruleset_rule(p->rs, ri);
		alert_set_rule(a, r);
		if (r->description)
			a->explanation = xstrdup(r->description);
		a->time_ns = ev->time_ns;
		alert_add_evidence(a, ev);
	}
	stateful(p, &c);
	atomic_fetch_add_explicit(&p->alerts, c.n_alerts, memory_order_relaxed);
	deliver(p, &c);

	for (size_t i = 0; i < c.n_alerts; i++)
		alert_clear(&c.alerts[i]);
	free(c.alerts);
	free(c.matches);
}

void pipeline_tick(struct pipeline *p, int64_t now_ns)
{
	pthread_mutex_lock(&p->state);
	correlator_expire(p->corr, now_ns);
	if (p->bl)
		baseline_save(p->bl);
	pthread_mutex_unlock(&p->state);
}

void pipeline_stats(const struct pipeline *p, struct pipeline_stats *out)
{
	const struct pipeline *q = p;
	out->events = atomic_load_explicit(&q->events, memory_order_relaxed);
	out->alerts = atomic_load_explicit(&q->alerts, memory_order_relaxed);
	out->rule_matches = atomic_load_explicit(&q->rule_matches, memory_order_relaxed);
	out->anomalies = atomic_load_explicit(&q->anomalies, memory_order_relaxed);
	out->output_errors = atomic_load_explicit(&q->output_errors, memory_order_relaxed);
}
