/* Sigma rules, natively (docs/sigma.md): loader, compiler and evaluator.
 *
 * Rules are loaded unchanged from YAML (a file of one or more documents, or every *.yml and
 * *.yaml below a directory). A rule that cannot be evaluated (bad YAML, unknown modifier,
 * a field our events do not carry for its logsource, a condition that does not parse) is
 * recorded as a struct sigma_error with file, line, rule id and reason and skipped; the
 * others load. Sigma field names are mapped to event fields (event.h) per logsource once, at
 * compile time; evaluation then works on field ids and precompiled matchers only.
 *
 * Correlation rules (event_count, value_count, temporal, temporal_ordered) are parsed here
 * and resolved to the rules they reference; correlate.h evaluates them.
 *
 * After sigma_ruleset_compile() a ruleset is read-only: any number of threads may call
 * sigma_match() concurrently, each with its own struct sigma_scratch. */
#pragma once

#include "detect/event.h"

enum sigma_level {
	SIGMA_LEVEL_INFORMATIONAL = 1,
	SIGMA_LEVEL_LOW,
	SIGMA_LEVEL_MEDIUM,
	SIGMA_LEVEL_HIGH,
	SIGMA_LEVEL_CRITICAL,
};

enum sigma_corr_type {
	SIGMA_CORR_NONE = 0, /* a detection rule */
	SIGMA_CORR_EVENT_COUNT,
	SIGMA_CORR_VALUE_COUNT,
	SIGMA_CORR_TEMPORAL,
	SIGMA_CORR_TEMPORAL_ORDERED,
};

struct sigma_correlation {
	enum sigma_corr_type type;
	size_t *refs; /* indexes (sigma_ruleset_rule) of the referenced rules, as listed */
	size_t n_refs;
	enum event_field *group_by;
	size_t n_group_by;
	int64_t timespan_ns;
	enum event_field value_field; /* value_count: the field whose distinct values count */
	/* condition: min <= count <= max (event_count, value_count); temporal kinds need every
	 * referenced rule to match within timespan (ordered: in the listed order) */
	int64_t min, max;
	bool generate; /* the referenced rules also alert on their own */
};

struct sigma_rule {
	char *id;   /* the rule's id (a UUID in public rules); never NULL */
	char *name; /* Sigma "name" (how correlations refer to rules), or NULL */
	char *title;
	char *description; /* or NULL */
	char *status;	   /* or NULL */
	enum sigma_level level;
	char **tags; /* NULL-terminated, as written ("attack.t1059.004") */
	char *file;  /* where it was loaded from, and the line of its document */
	unsigned line;
	const struct sigma_correlation *correlation; /* NULL for detection rules */
};

struct sigma_error {
	char *file;
	unsigned line; /* of the offending node when known, else of the document */
	char *rule_id; /* NULL when the document has none or did not parse that far */
	char *message;
};

struct sigma_ruleset;
struct sigma_scratch;

int sigma_ruleset_new(struct sigma_ruleset **out);
void sigma_ruleset_free(struct sigma_ruleset *rs);

/* Loads path (a file or a directory, recursively, in name order). Rule errors are recorded,
 * not returned. Returns 0, or a negative errno when path itself cannot be read. */
int sigma_ruleset_load(struct sigma_ruleset *rs, const char *path);
/* Same for YAML text in memory; name stands for the file in errors. */
int sigma_ruleset_load_text(struct sigma_ruleset *rs, const char *name, const char *text,
			    size_t len);
/* Resolves correlations and compiles every loaded rule. Rules that fail here are recorded
 * as errors and dropped. Returns 0, or -EALREADY when called twice. */
int sigma_ruleset_compile(struct sigma_ruleset *rs);

size_t sigma_ruleset_count(const struct sigma_ruleset *rs);
const struct sigma_rule *sigma_ruleset_rule(const struct sigma_ruleset *rs, size_t i);
/* The index of the rule with this id or name, or -ENOENT. */
ssize_t sigma_ruleset_find(const struct sigma_ruleset *rs, const char *id_or_name);
const struct sigma_error *sigma_ruleset_errors(const struct sigma_ruleset *rs, size_t *n);

struct sigma_scratch *sigma_scratch_new(void);
void sigma_scratch_free(struct sigma_scratch *sc);

typedef void (*sigma_match_fn)(size_t rule, void *arg);
/* Evaluates ev against every compiled detection rule whose logsource covers ev->kind and
 * calls fn (may be NULL) for each match, in increasing rule index. Returns the number of
 * matches. */
size_t sigma_match(const struct sigma_ruleset *rs, const struct host_event *ev,
		   struct sigma_scratch *sc, sigma_match_fn fn, void *arg);

const char *sigma_level_name(enum sigma_level l);
/* The shipped Linux rules: the installed directory, else the source tree's (a build run in
 * place); NULL when neither exists. */
const char *sigma_shipped_rules_dir(void); /* "informational" ... "critical" */
