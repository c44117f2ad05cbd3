/* Internals of the access policy parser shared by its files: tokens (policy_lex.c),
 * conditions (policy_cond.c) and the rest (policy_parse.c). */
#pragma once

#include "access/policy_int.h"

#include <stdarg.h>

enum tok_type {
	T_EOF = 0,
	T_WORD,
	T_STRING,
	T_LBRACE,
	T_RBRACE,
	T_COLON,
	T_SEMI,
	T_COMMA,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
};

struct tok {
	enum tok_type t;
	unsigned line, col;
	size_t off, end; /* source span */
	char *s;	 /* T_WORD, T_STRING: the text (decoded) */
};

/* "'{'", "end of file", ...: a token type as errors name it. */
const char *policy_tok_name(enum tok_type t);

struct parser {
	struct access_policy_builder *b;
	const char *file; /* owned by b->files */
	const char *text;
	size_t len;
	struct tok *toks;
	size_t n, cap, pos;
	char *err;
	size_t err_len;
	unsigned depth;
};

static inline int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
	_printf_(4, 5);
static inline int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->err_len)
		snprintf(p->err, p->err_len, "%s:%u:%u: %s", p->file, line, col, msg);
	return -EINVAL;
}

static inline int terr(struct parser *p, const struct tok *t, const char *fmt, ...) _printf_(3, 4);
static inline int terr(struct parser *p, const struct tok *t, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr(p, t->line, t->col, "%s", msg);
}

/* ---- token helpers ---- */

static inline struct tok *peek(struct parser *p)
{
	return &p->toks[p->pos];
}

static inline struct tok *peek2(struct parser *p)
{
	return p->pos + 1 < p->n ? &p->toks[p->pos + 1] : &p->toks[p->n - 1];
}

static inline struct tok *next(struct parser *p)
{
	struct tok *t = &p->toks[p->pos];
	if (t->t != T_EOF)
		p->pos++;
	return t;
}

static inline bool is_word(const struct tok *t, const char *w)
{
	return t->t == T_WORD && strcmp(t->s, w) == 0;
}

static inline int expect(struct parser *p, enum tok_type type, const char *what, struct tok **out)
{
	struct tok *t = peek(p);
	if (t->t != type)
		return terr(p, t, "expected %s, found %s", what,
			    t->t == T_WORD || t->t == T_STRING ? t->s : policy_tok_name(t->t));
	next(p);
	if (out)
		*out = t;
	return 0;
}

static inline const char *tok_text(const struct tok *t)
{
	return t->t == T_WORD || t->t == T_STRING ? t->s : policy_tok_name(t->t);
}

/* Names of policies, users, groups, accounts, host groups: [A-Za-z0-9_.@-], at most 64. */
static inline int check_name(struct parser *p, const struct tok *t, const char *what)
{
	if (t->t != T_WORD && t->t != T_STRING)
		return terr(p, t, "expected %s, found %s", what, tok_text(t));
	size_t n = strlen(t->s);
	if (n == 0)
		return terr(p, t, "empty %s", what);
	if (n > ACCESS_NAME_MAX)
		return terr(p, t, "%s longer than %d characters", what, ACCESS_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = t->s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '@'))
			return terr(p, t, "invalid character '%c' in %s '%s'", c, what, t->s);
	}
	return 0;
}

static inline int take_name(struct parser *p, const char *what, char **out)
{
	struct tok *t = peek(p);
	int r = check_name(p, t, what);
	if (r < 0)
		return r;
	next(p);
	*out = xstrdup(t->s);
	return 0;
}

/* A clause starts with a word followed by ':'. */
static inline bool at_clause(struct parser *p)
{
	return peek(p)->t == T_WORD && peek2(p)->t == T_COLON;
}

/* Splits the text into tokens (p->toks, ending with T_EOF). Returns 0 or -EINVAL. */
int policy_lex(struct parser *p);
/* Parses a when/unless condition into c; stops before the next clause or '}'. */
int policy_parse_condition(struct parser *p, struct cond *c);
