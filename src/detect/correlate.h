/* Sigma correlation rules over the stream of base-rule matches (docs/correlation.md; their
 * syntax in docs/sigma.md, "Correlation").
 *
 * The correlator keeps, per correlation rule and group-by value, only what its condition
 * needs within the timespan (match times, distinct values, which referenced rules matched
 * and in which order) plus the latest evidence events (at most CORR_MAX_EVIDENCE per group).
 * State is bounded: at most CORR_MAX_GROUPS groups per rule; beyond that the least recently
 * used group is evicted and counted. Time is the events' time, so replays of recorded events
 * give the same alerts as live traffic. Not thread-safe: one correlator per pipeline. */
#pragma once

#include "detect/sigma.h"

#define CORR_MAX_EVIDENCE 16
#define CORR_MAX_GROUPS 65536

struct correlator;

int correlator_new(const struct sigma_ruleset *rs, struct correlator **out);
/* The same over rule definitions given directly: defs[i] is rule i's correlation, or NULL for
 * a detection rule (n rules in all); the definitions must outlive the correlator. Returns 0,
 * or -EINVAL when a correlation references a rule index >= n. */
int correlator_new_defs(const struct sigma_correlation *const *defs, size_t n,
			struct correlator **out);
void correlator_free(struct correlator *c);

/* A correlation rule fired for one group: group_key is the group-by values joined by '|'
 * (empty without group-by); evidence holds the events that made it, oldest first. The
 * group's state is reset after firing, so a continuing attack fires again only after the
 * condition is met again. */
typedef void (*corr_fire_fn)(size_t corr_rule, const char *group_key,
			     const struct host_event *const *evidence, size_t n_evidence,
			     void *arg);

/* Feeds one match of detection rule `rule` on ev (the same event may be fed for several
 * rules). Correlations that reference `rule` update and fire through fn. */
void correlator_feed(struct correlator *c, size_t rule, const struct host_event *ev,
		     corr_fire_fn fn, void *arg);
/* Drops state older than each rule's timespan relative to now_ns. */
void correlator_expire(struct correlator *c, int64_t now_ns);

struct correlator_stats {
	size_t groups;	  /* live groups, all rules */
	uint64_t evicted; /* groups evicted at CORR_MAX_GROUPS */
	uint64_t fired;
};
void correlator_stats(const struct correlator *c, struct correlator_stats *out);
