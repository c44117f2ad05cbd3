/* The Sigma condition language: and, or, not, parentheses, selection names,
 * "1 of pattern", "all of pattern", "1 of them", "all of them" ("any of" is "1 of").
 * Precedence, loosest first: or, and, not. Recursive descent with a depth cap. */
#include "detect/sigma_int.h"
#include "lib/str.h"

#include <ctype.h>
#include <stdarg.h>

#define COND_MAX_DEPTH 64
#define COND_MAX_LEN 8192

enum tok { T_END, T_IDENT, T_LP, T_RP, T_AND, T_OR, T_NOT, T_OF, T_PIPE, T_BAD };

struct cparser {
	const char *s, *p;
	enum tok t;
	const char *tp; /* current token text */
	size_t tlen;
	const struct ssel *sel;
	size_t n_sel;
	char *err;
	size_t errlen;
	unsigned depth;
};

static int fail(struct cparser *c, const char *fmt, ...) _printf_(2, 3);
static int fail(struct cparser *c, const char *fmt, ...)
{
	va_list ap;
	int off;

	if (c->err[0])
		return -EBADMSG;
	off = snprintf(c->err, c->errlen, "condition at column %zu: ", (size_t)(c->tp - c->s) + 1);
	if (off < 0 || (size_t)off >= c->errlen)
		return -EBADMSG;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static bool ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '*' || ch == '-' || ch == '.';
}

static bool word_is(const struct cparser *c, const char *w)
{
	return strlen(w) == c->tlen && !strncasecmp(c->tp, w, c->tlen);
}

static void next(struct cparser *c)
{
	while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
		c->p++;
	c->tp = c->p;
	c->tlen = 1;
	switch (*c->p) {
	case '\0':
		c->t = T_END;
		c->tlen = 0;
		return;
	case '(':
		c->t = T_LP;
		c->p++;
		return;
	case ')':
		c->t = T_RP;
		c->p++;
		return;
	case '|':
		c->t = T_PIPE;
		c->p++;
		return;
	default: break;
	}
	if (!ident_char(*c->p)) {
		c->t = T_BAD;
		return;
	}
	while (ident_char(*c->p))
		c->p++;
	c->tlen = (size_t)(c->p - c->tp);
	if (word_is(c, "and"))
		c->t = T_AND;
	else if (word_is(c, "or"))
		c->t = T_OR;
	else if (word_is(c, "not"))
		c->t = T_NOT;
	else if (word_is(c, "of"))
		c->t = T_OF;
	else
		c->t = T_IDENT;
}

static struct scond *node(enum scond_type t)
{
	struct scond *n = xcalloc(1, sizeof(*n));
	n->type = t;
	return n;
}

static void add_kid(struct scond *n, struct scond *k)
{
	n->kid = xrealloc(n->kid, (n->n + 1) * sizeof(*n->kid));
	n->kid[n->n++] = k;
}

void scond_free(struct scond *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		scond_free(c->kid[i]);
	free(c->kid);
	free(c->sels);
	free(c);
}

/* Glob with '*' only, over a name of len bytes (case-sensitive, like selection names). */
static bool star_match(const char *pat, size_t plen, const char *s)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0, slen = strlen(s);

	while (si < slen) {
		if (pi < plen && pat[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < plen && pat[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else
			return false;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

static int parse_or(struct cparser *c, struct scond **out);

static int parse_quant(struct cparser *c, bool all, struct scond **out)
{
	struct scond *n;
	bool them;

	next(c); /* past the quantifier */
	if (c->t != T_OF)
		return fail(c, "expected 'of'");
	next(c);
	if (c->t != T_IDENT)
		return fail(c, "expected a selection pattern or 'them' after 'of'");
	them = word_is(c, "them");
	n = node(all ? SC_ALL_OF : SC_ONE_OF);
	for (size_t i = 0; i < c->n_sel; i++) {
		const char *nm = c->sel[i].name;
		if (them ? nm[0] != '_' : star_match(c->tp, c->tlen, nm)) {
			n->sels = xrealloc(n->sels, (n->n_sels + 1) * sizeof(size_t));
			n->sels[n->n_sels++] = i;
		}
	}
	if (!n->n_sels) {
		scond_free(n);
		return fail(c, "'%.*s' matches no selection", (int)c->tlen, c->tp);
	}
	next(c);
	*out = n;
	return 0;
}

static int parse_primary(struct cparser *c, struct scond **out)
{
	int r;

	switch (c->t) {
	case T_LP:
		next(c);
		r = parse_or(c, out);
		if (r < 0)
			return r;
		if (c->t != T_RP) {
			scond_free(*out);
			return fail(c, "expected ')'");
		}
		next(c);
		return 0;
	case T_IDENT:
		if (word_is(c, "1") || word_is(c, "any"))
			return parse_quant(c, false, out);
		if (word_is(c, "all"))
			return parse_quant(c, true, out);
		if (memchr(c->tp, '*', c->tlen))
			return fail(c, "a pattern needs '1 of' or 'all of'");
		for (size_t i = 0; i < c->n_sel; i++)
			if (strlen(c->sel[i].name) == c->tlen &&
			    !memcmp(c->sel[i].name, c->tp, c->tlen)) {
				struct scond *n = node(SC_SEL);
				n->sel = i;
				next(c);
				*out = n;
				return 0;
			}
		return fail(c, "undefined selection '%.*s'", (int)c->tlen, c->tp);
	case T_PIPE: return fail(c, "aggregations ('|') are not supported; use a correlation rule");
	case T_END: return fail(c, "unexpected end");
	default: return fail(c, "unexpected '%.*s'", (int)c->tlen, c->tp);
	}
}

static int parse_not(struct cparser *c, struct scond **out)
{
	int r;

	if (++c->depth > COND_MAX_DEPTH)
		return fail(c, "nested too deeply");
	if (c->t == T_NOT) {
		struct scond *k;
		next(c);
		r = parse_not(c, &k);
		if (r == 0) {
			*out = node(SC_NOT);
			add_kid(*out, k);
		}
	} else
		r = parse_primary(c, out);
	c->depth--;
	return r;
}

static int parse_binary(struct cparser *c, enum tok op, struct scond **out)
{
	struct scond *l, *n = NULL;
	int r;

	if (++c->depth > COND_MAX_DEPTH)
		return fail(c, "nested too deeply");
	r = op == T_OR ? parse_binary(c, T_AND, &l) : parse_not(c, &l);
	if (r < 0)
		return r;
	while (c->t == op) {
		struct scond *k;
		next(c);
		r = op == T_OR ? parse_binary(c, T_AND, &k) : parse_not(c, &k);
		if (r < 0) {
			scond_free(n ? n : l);
			return r;
		}
		if (!n) {
			n = node(op == T_OR ? SC_OR : SC_AND);
			add_kid(n, l);
		}
		add_kid(n, k);
	}
	c->depth--;
	*out = n ? n : l;
	return 0;
}

static int parse_or(struct cparser *c, struct scond **out)
{
	return parse_binary(c, T_OR, out);
}

int scond_parse(const char *text, const struct ssel *sel, size_t n, struct scond **out, char *err,
		size_t errlen)
{
	struct cparser c = {
		.s = text, .p = text, .sel = sel, .n_sel = n, .err = err, .errlen = errlen
	};
	struct scond *res;
	int r;

	err[0] = '\0';
	c.tp = text;
	if (strlen(text) > COND_MAX_LEN)
		return fail(&c, "longer than %u bytes", COND_MAX_LEN);
	next(&c);
	r = parse_or(&c, &res);
	if (r < 0)
		return r;
	if (c.t != T_END) {
		scond_free(res);
		if (c.t == T_PIPE)
			return fail(&c,
				    "aggregations ('|') are not supported; use a correlation rule");
		return fail(&c, "unexpected '%.*s'", (int)c.tlen, c.tp);
	}
	*out = res;
	return 0;
}
