/* The Sigma ruleset: loading files and directories, errors, compiling, lookups. */
#include "detect/sigma_int.h"

#include "config.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>

#define SIGMA_MAX_FILE (4u << 20)
#define SIGMA_MAX_DEPTH 16

int sigma_ruleset_new(struct sigma_ruleset **out)
{
	*out = xcalloc(1, sizeof(**out));
	return 0;
}

void sigma_ruleset_free(struct sigma_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_rules; i++)
		srule_free(rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->n_errors; i++) {
		free(rs->errors[i].file);
		free(rs->errors[i].rule_id);
		free(rs->errors[i].message);
	}
	free(rs->errors);
	for (size_t k = 0; k < EVENT_KIND_COUNT; k++) {
		free(rs->by_kind[k]);
		free(rs->always[k]);
		sprefilter_free(&rs->pf[k]);
	}
	free(rs);
}

void sigma_error_add(struct sigma_ruleset *rs, const char *file, unsigned line, const char *id,
		     const char *fmt, ...)
{
	struct sigma_error *e;
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rs->errors = xrealloc(rs->errors, (rs->n_errors + 1) * sizeof(*rs->errors));
	e = &rs->errors[rs->n_errors++];
	e->file = xstrdup(file ? file : "");
	e->line = line;
	e->rule_id = id ? xstrdup(id) : NULL;
	e->message = xstrdup(msg);
}

int sigma_ruleset_load_text(struct sigma_ruleset *rs, const char *name, const char *text,
			    size_t len)
{
	if (rs->compiled)
		return -EALREADY;
	sigma_load_stream(rs, name, text, len);
	return 0;
}

static bool is_rule_file(const char *name)
{
	return name[0] != '.' && (str_has_suffix(name, ".yml") || str_has_suffix(name, ".yaml"));
}

static int load_path(struct sigma_ruleset *rs, const char *path, unsigned depth, bool top)
{
	struct stat st;
	struct buf b;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int n;

		if (depth >= SIGMA_MAX_DEPTH)
			return 0;
		n = scandir(path, &ents, NULL, alphasort);
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			const char *nm = ents[i]->d_name;
			if (strcmp(nm, ".") && strcmp(nm, "..") && nm[0] != '.') {
				_cleanup_free_ char *sub = xasprintf("%s/%s", path, nm);
				struct stat sst;
				if (stat(sub, &sst) == 0 &&
				    (S_ISDIR(sst.st_mode) || is_rule_file(nm))) {
					r = load_path(rs, sub, depth + 1, false);
					if (r < 0)
						sigma_error_add(rs, sub, 0, NULL, "cannot read: %s",
								strerror(-r));
				}
			}
			free(ents[i]);
		}
		free(ents);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return top ? -EINVAL : 0;
	buf_init(&b, SIGMA_MAX_FILE);
	r = file_read_capped(path, SIGMA_MAX_FILE, &b);
	if (r == 0)
		sigma_load_stream(rs, path, buf_str(&b), buf_len(&b));
	buf_free(&b);
	return r;
}

int sigma_ruleset_load(struct sigma_ruleset *rs, const char *path)
{
	if (rs->compiled)
		return -EALREADY;
	return load_path(rs, path, 0, true);
}

/* Removes dropped rules, keeping the order. */
static void compact(struct sigma_ruleset *rs)
{
	size_t j = 0;
	for (size_t i = 0; i < rs->n_rules; i++) {
		if (rs->rules[i]->dropped)
			srule_free(rs->rules[i]);
		else
			rs->rules[j++] = rs->rules[i];
	}
	rs->n_rules = j;
}

static void drop_duplicates(struct sigma_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_rules; i++) {
		struct srule *r = rs->rules[i];
		for (size_t j = 0; j < i; j++) {
			struct srule *o = rs->rules[j];
			if (o->dropped)
				continue;
			if (!strcmp(o->pub.id, r->pub.id) ||
			    (r->pub.name && o->pub.name && !strcmp(o->pub.name, r->pub.name))) {
				sigma_error_add(rs, r->pub.file, r->pub.line, r->pub.id,
						"duplicate rule id or name (first in %s:%u)",
						o->pub.file, o->pub.line);
				r->dropped = true;
				break;
			}
		}
	}
}

static void build_kinds(struct sigma_ruleset *rs)
{
	for (size_t k = 1; k < EVENT_KIND_COUNT; k++) {
		size_t n = 0;
		for (size_t i = 0; i < rs->n_rules; i++)
			if (!rs->rules[i]->pub.correlation && (rs->rules[i]->det.kinds >> k & 1))
				n++;
		rs->by_kind[k] = xcalloc(n ? n : 1, sizeof(size_t));
		n = 0;
		for (size_t i = 0; i < rs->n_rules; i++)
			if (!rs->rules[i]->pub.correlation && (rs->rules[i]->det.kinds >> k & 1))
				rs->by_kind[k][n++] = i;
		rs->n_by_kind[k] = n;
		if ((n + 63) / 64 > rs->max_words)
			rs->max_words = (n + 63) / 64;
		sprefilter_build(rs, k);
	}
}

int sigma_ruleset_compile(struct sigma_ruleset *rs)
{
	if (rs->compiled)
		return -EALREADY;
	drop_duplicates(rs);
	for (size_t i = 0; i < rs->n_rules; i++) {
		struct srule *r = rs->rules[i];
		if (!r->dropped && !r->pub.correlation && sigma_compile_rule(rs, r) < 0)
			r->dropped = true;
	}
	compact(rs);
	/* Correlations refer to rules by index, so dropping one means resolving again; since a
	 * correlation may refer to another correlation, a drop can cascade: repeat until a
	 * pass drops nothing (each pass that repeats drops at least one rule). */
	for (;;) {
		bool any = false;
		for (size_t i = 0; i < rs->n_rules; i++) {
			struct srule *r = rs->rules[i];
			if (!r->pub.correlation)
				continue;
			free(r->corr.refs);
			free(r->corr.group_by);
			r->corr.refs = NULL;
			r->corr.group_by = NULL;
			if (sigma_compile_correlation(rs, r) < 0) {
				r->dropped = true;
				any = true;
			}
		}
		if (!any)
			break;
		compact(rs);
	}
	for (size_t i = 0; i < rs->n_rules; i++) {
		ytree_free_docs(rs->rules[i]->docs, rs->rules[i]->n_docs);
		rs->rules[i]->docs = NULL;
		rs->rules[i]->n_docs = 0;
		rs->rules[i]->doc = NULL;
	}
	build_kinds(rs);
	rs->compiled = true;
	return 0;
}

size_t sigma_ruleset_count(const struct sigma_ruleset *rs)
{
	return rs->n_rules;
}

const struct sigma_rule *sigma_ruleset_rule(const struct sigma_ruleset *rs, size_t i)
{
	return i < rs->n_rules ? &rs->rules[i]->pub : NULL;
}

ssize_t sigma_ruleset_find(const struct sigma_ruleset *rs, const char *id_or_name)
{
	for (size_t i = 0; i < rs->n_rules; i++)
		if (!strcmp(rs->rules[i]->pub.id, id_or_name))
			return (ssize_t)i;
	for (size_t i = 0; i < rs->n_rules; i++)
		if (rs->rules[i]->pub.name && !strcmp(rs->rules[i]->pub.name, id_or_name))
			return (ssize_t)i;
	return -ENOENT;
}

const struct sigma_error *sigma_ruleset_errors(const struct sigma_ruleset *rs, size_t *n)
{
	*n = rs->n_errors;
	return rs->errors;
}

struct sigma_scratch *sigma_scratch_new(void)
{
	struct sigma_scratch *sc = xcalloc(1, sizeof(*sc));
	sc->md = pcre2_match_data_create(1, NULL);
	sc->mctx = pcre2_match_context_create(NULL);
	if (!sc->md || !sc->mctx)
		abort();
	/* bounds backtracking of hostile patterns on hostile input */
	pcre2_set_match_limit(sc->mctx, 200000);
	pcre2_set_depth_limit(sc->mctx, 10000);
	return sc;
}

void sigma_scratch_free(struct sigma_scratch *sc)
{
	if (!sc)
		return;
	pcre2_match_data_free(sc->md);
	free(sc->buf);
	free(sc->cand);
	pcre2_match_context_free(sc->mctx);
	free(sc);
}

const char *sigma_level_name(enum sigma_level l)
{
	switch (l) {
	case SIGMA_LEVEL_INFORMATIONAL: return "informational";
	case SIGMA_LEVEL_LOW: return "low";
	case SIGMA_LEVEL_MEDIUM: return "medium";
	case SIGMA_LEVEL_HIGH: return "high";
	case SIGMA_LEVEL_CRITICAL: return "critical";
	}
	return "unknown";
}

const char *sigma_shipped_rules_dir(void)
{
	struct stat st;
	if (stat(IMMUNE_RULES_DIR "/linux", &st) == 0)
		return IMMUNE_RULES_DIR "/linux";
	if (stat(IMMUNE_SOURCE_RULES_DIR "/linux", &st) == 0)
		return IMMUNE_SOURCE_RULES_DIR "/linux";
	return NULL;
}
