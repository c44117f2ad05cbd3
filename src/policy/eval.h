/* Evaluates catalog checks against an inventory (docs/catalog.md semantics), producing a
 * status, a one-line message and evidence rows (docs/scan-json.md). */
#pragma once

#include "inventory/inventory.h"
#include "policy/catalog.h"

#define EVAL_MAX_EVIDENCE 20

enum check_status { CHECK_PASS, CHECK_FAIL, CHECK_NOT_APPLICABLE, CHECK_ERROR };

struct check_result {
	enum check_status status;
	char *message;	  /* one line, owned */
	json_t *evidence; /* array of evidence objects, owned (json_decref) */
};

struct eval_ctx;

/* Prepares evaluation over inv (which must outlive the context): indexes tables and errors.
 * Returns a new context, the caller's (eval_free). */
struct eval_ctx *eval_new(const struct inventory *inv);
/* Frees a context; accepts NULL. */
void eval_free(struct eval_ctx *ctx);
static inline void eval_freep(struct eval_ctx **c)
{
	eval_free(*c);
}
/* Evaluates one check; *out is filled (clear it with check_result_clear). Never fails. */
void eval_check(struct eval_ctx *ctx, const struct check *c, struct check_result *out);
/* Frees what a result holds and zeroes it. */
void check_result_clear(struct check_result *r);
/* Returns "pass", "fail", "not_applicable" or "error". */
const char *check_status_name(enum check_status s);
/* Parses a status name; returns 0 or -EINVAL. */
int check_status_parse(const char *s, enum check_status *out);
