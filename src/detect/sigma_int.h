/* Internals of the Sigma engine (sigma_*.c); nothing outside src/detect/sigma*.c includes this.
 *
 * Loading (sigma_load.c) turns each YAML document into a struct srule holding the metadata and
 * the document tree. Compiling (sigma_compile.c) maps logsource and field names, builds the
 * matchers (struct smatch), parses the condition (sigma_cond.c) into a small tree (struct
 * scond) and derives the prefilter literals (sigma_prefilter.c). Evaluation is sigma_match.c. */
#pragma once

#include "detect/sigma.h"
#include "lib/ytree.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Virtual fields beyond the event's own: computed from the event per match. */
enum {
	SF_AUDIT_TYPE = EF_COUNT, /* auditd "type": a set of kinds, see smatch.kinds */
	SF_ARG0,		  /* auditd a0..a15: the command line split at spaces */
	SF_ARG_LAST = SF_ARG0 + 15,
	SF_KEYWORDS, /* keyword selections: the message or the command line */
	SF_TARGET,   /* TargetFilename: the new path of a rename, else target_filename */
	SF_COUNT,
};

enum smatch_op {
	SM_EQ,
	SM_CONTAINS,
	SM_STARTS,
	SM_ENDS,
	SM_GLOB,   /* pattern with * and ? (pat, escapes resolved into segments) */
	SM_ANY,	   /* a lone "*": any present value */
	SM_NULL,   /* absent or empty */
	SM_EXISTS, /* present (neg: absent) */
	SM_RE,
	SM_CIDR,
	SM_NUM,	  /* gt/gte/lt/lte */
	SM_KINDS, /* SF_AUDIT_TYPE */
};

enum snum_cmp { SN_GT, SN_GTE, SN_LT, SN_LTE };

/* One value of a field matcher. Literals are lower-cased. A glob keeps its text in lit with a
 * parallel array wild that marks which bytes are the wildcards * and ? (escaped ones are
 * literal bytes). */
struct svalue {
	enum smatch_op op;
	char *lit; /* lower-cased literal (EQ/CONTAINS/STARTS/ENDS), or glob text */
	char *src; /* SM_RE: the pattern as written */
	size_t len;
	uint8_t *wild; /* SM_GLOB: per byte of lit, 0 literal, '*' or '?' */
	pcre2_code *re;
	struct {
		int family; /* AF_INET or AF_INET6 */
		uint8_t addr[16];
		unsigned prefix;
	} cidr;
	enum snum_cmp cmp;
	int64_t num;
	bool neg;	/* SM_EXISTS false */
	uint32_t kinds; /* SM_KINDS: bit per event kind */
	int ref;	/* fieldref: the field whose value is the literal (-1: none) */
};

/* A field with its values: OR of values (AND with |all). */
struct sfield {
	int field; /* enum event_field or SF_* */
	bool all;
	size_t n;
	struct svalue *v;
};

/* A selection: OR over alternatives, each an AND of fields. */
struct salt {
	size_t n;
	struct sfield *f;
};
struct ssel {
	char *name;
	size_t n;
	struct salt *alt;
};

enum scond_type { SC_SEL, SC_AND, SC_OR, SC_NOT, SC_ONE_OF, SC_ALL_OF, SC_TRUE };

/* The condition tree. SC_SEL: sel is the selection's index. SC_AND/SC_OR/SC_NOT: kids.
 * SC_ONE_OF/SC_ALL_OF: sels lists the selection indexes the pattern covers. */
struct scond {
	enum scond_type type;
	size_t sel;
	size_t n;
	struct scond **kid;
	size_t n_sels;
	size_t *sels;
};

/* A compiled detection: selections, condition, the kinds it covers and an implicit service. */
struct sdetect {
	size_t n_sel;
	struct ssel *sel;
	struct scond *cond;
	uint32_t kinds; /* bit per event kind */
	char *service;	/* lower-cased EF_SERVICE the event must have (sshd, sudo, su), or NULL */
};

struct srule {
	struct sigma_rule pub;
	struct sigma_correlation corr;
	struct ynode **docs; /* the document's tree (owned), freed once compiled */
	size_t n_docs;
	struct ynode *doc;
	unsigned line_base;	/* added to node lines: where the document starts in its file */
	char **corr_refs;	/* correlation: rule ids or names as written */
	char **corr_group_by;	/* correlation: field names as written */
	char *corr_value_field; /* value_count field as written */
	unsigned corr_line;
	struct sdetect det;
	bool compiled;
	bool dropped;
};

/* Prefilter: per field, 4-byte grams of lower-cased literals a rule needs. */
struct sgram_post {
	uint32_t gram;
	uint16_t field;	       /* index into the prefilter's field list */
	uint32_t first, count; /* slice of postings (rule slots) */
};

struct sprefilter {
	size_t n_fields;
	int fields[SF_COUNT];	 /* the fields with grams */
	uint32_t anch[SF_COUNT]; /* per field: bit anchor * 4 + len of its short anchored keys */
	uint64_t *bloom;	 /* per field, PF_BLOOM_BITS bits */
	struct sgram_post *tab;	 /* open-addressing table, PF size power of two */
	size_t tab_mask;
	uint32_t *posts; /* rule slots */
	size_t n_posts;
};

#define PF_BLOOM_BITS (1u << 14)

struct sigma_ruleset {
	struct srule **rules;
	size_t n_rules, cap_rules;
	struct sigma_error *errors;
	size_t n_errors;
	bool compiled;
	/* after compile: detection rules per kind (rule indexes, ascending) */
	size_t *by_kind[EVENT_KIND_COUNT];
	size_t n_by_kind[EVENT_KIND_COUNT];
	/* per kind, bitmap words over the kind's slots: rules that need no gram */
	uint64_t *always[EVENT_KIND_COUNT];
	struct sprefilter pf[EVENT_KIND_COUNT];
	size_t max_words;
};

struct sigma_scratch {
	/* per event: lower-cased values, computed lazily */
	const struct host_event *ev;
	uint64_t lower_done[(SF_COUNT + 63) / 64];
	const char *lp[SF_COUNT];
	uint32_t llen[SF_COUNT];
	const char *rp[SF_COUNT]; /* raw value of virtual fields */
	uint32_t rlen[SF_COUNT];
	char *buf;
	size_t used, cap;
	uint64_t *cand;
	size_t cand_words;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	bool args_done;
};

/* sigma.c */
void sigma_error_add(struct sigma_ruleset *rs, const char *file, unsigned line, const char *id,
		     const char *fmt, ...) _printf_(5, 6);

/* sigma_load.c: parses the documents of one file's text into rules (or records errors). */
void sigma_load_stream(struct sigma_ruleset *rs, const char *file, const char *text, size_t len);
void srule_free(struct srule *r);

/* sigma_cond.c: parses text into a condition over sel (names of n selections). Returns 0, or
 * -EBADMSG with a message in err (errlen bytes). */
int scond_parse(const char *text, const struct ssel *sel, size_t n, struct scond **out, char *err,
		size_t errlen);
void scond_free(struct scond *c);

/* sigma_compile.c */
int sigma_compile_rule(struct sigma_ruleset *rs, struct srule *r);
int sigma_compile_correlation(struct sigma_ruleset *rs, struct srule *r);
void sdetect_free(struct sdetect *d);
/* Maps a Sigma field name (Image, CommandLine, ...) to an event field id or SF_*; -ENOENT. */
int sigma_field_by_name(const char *name);

/* sigma_prefilter.c */
void sprefilter_build(struct sigma_ruleset *rs, enum event_kind k);
void sprefilter_free(struct sprefilter *pf);
void sprefilter_scan(const struct sigma_ruleset *rs, enum event_kind k, struct sigma_scratch *sc,
		     uint64_t *cand);

/* sigma_match.c */
bool sdetect_eval(const struct sdetect *d, const struct host_event *ev, struct sigma_scratch *sc);
/* Starts work on ev: forgets the previous event's cached values. */
void sscratch_begin(struct sigma_scratch *sc, const struct host_event *ev);
/* The lower-cased value of f (event field or SF_*) for the event in sc (NULL when absent). */
const char *sscratch_lower(struct sigma_scratch *sc, int f, size_t *len);
/* The value as the event holds it (NULL when absent). */
const char *sscratch_raw(struct sigma_scratch *sc, int f, size_t *len);
