/* The access policy language's parser: text into policies and host groups
 * (docs/access-policy.md). Tokens first, then a recursive descent that reports
 * FILE:LINE:COLUMN for every error. Newlines are insignificant: lists are comma-separated
 * and a clause starts with "keyword:". */
#include "access/policy_int.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <arpa/inet.h>
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

static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...) _printf_(4, 5);
static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
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

static int terr(struct parser *p, const struct tok *t, const char *fmt, ...) _printf_(3, 4);
static int terr(struct parser *p, const struct tok *t, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr(p, t->line, t->col, "%s", msg);
}

/* ---- lexer ---- */

static bool word_char(const char *s, size_t i, size_t len)
{
	unsigned char c = (unsigned char)s[i];
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '=') /* label k=v, but never "==" */
		return !(i + 1 < len && s[i + 1] == '=') && !(i > 0 && s[i - 1] == '=');
	return c == '_' || c == '-' || c == '.' || c == '/' || c == '$' || c == '*' || c == '@' ||
	       c == '+';
}

static const char *tok_name(enum tok_type t)
{
	static const char *const names[] = {
		"end of file", "word", "string", "'{'",	 "'}'",	 "':'", "';'",	"','", "'('",
		"')'",	       "'['",  "']'",	 "'=='", "'!='", "'<'", "'<='", "'>'", "'>='"
	};
	return names[t];
}

static void push_tok(struct parser *p, const struct tok *t)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->toks = xrealloc(p->toks, p->cap * sizeof(*p->toks));
	}
	p->toks[p->n++] = *t;
}

static int lex_string(struct parser *p, size_t *i, unsigned line, unsigned *col, struct tok *t)
{
	struct buf b;
	buf_init(&b, POLICY_STRING_MAX + 1);
	size_t j = *i + 1;
	for (;;) {
		if (j >= p->len || p->text[j] == '\n') {
			buf_free(&b);
			return perr(p, line, *col, "unterminated string");
		}
		char c = p->text[j];
		if (c == '"')
			break;
		if (c == '\\') {
			if (j + 1 >= p->len) {
				buf_free(&b);
				return perr(p, line, *col, "unterminated string");
			}
			char e = p->text[++j];
			c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
			if (e != 'n' && e != 't' && e != '"' && e != '\\') {
				buf_free(&b);
				return perr(p, line, *col + (unsigned)(j - *i),
					    "unknown escape '\\%c' in a string", e);
			}
		} else if ((unsigned char)c < 0x20 && c != '\t') {
			buf_free(&b);
			return perr(p, line, *col + (unsigned)(j - *i),
				    "control character in a string");
		}
		if (buf_append(&b, &c, 1) < 0) {
			buf_free(&b);
			return perr(p, line, *col, "string longer than %u bytes",
				    POLICY_STRING_MAX);
		}
		j++;
	}
	t->t = T_STRING;
	t->end = j + 1;
	t->s = buf_steal(&b);
	if (!t->s)
		t->s = xstrdup("");
	*col += (unsigned)(j + 1 - *i);
	*i = j + 1;
	return 0;
}

static int lex(struct parser *p)
{
	unsigned line = 1, col = 1;
	size_t i = 0;
	while (i < p->len) {
		char c = p->text[i];
		if (c == '\n') {
			line++, col = 1, i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			col++, i++;
			continue;
		}
		if (c == '#') {
			while (i < p->len && p->text[i] != '\n')
				i++;
			continue;
		}
		if (c == '\0')
			return perr(p, line, col, "NUL byte in a policy file");
		struct tok t = { .line = line, .col = col, .off = i, .end = i + 1 };
		if (c == '"') {
			int r = lex_string(p, &i, line, &col, &t);
			if (r < 0)
				return r;
			push_tok(p, &t);
			continue;
		}
		if (word_char(p->text, i, p->len) && c != '=') {
			size_t j = i;
			while (j < p->len && word_char(p->text, j, p->len))
				j++;
			if (j - i > POLICY_STRING_MAX)
				return perr(p, line, col, "word longer than %u bytes",
					    POLICY_STRING_MAX);
			t.t = T_WORD;
			t.end = j;
			t.s = xstrndup(p->text + i, j - i);
			col += (unsigned)(j - i);
			i = j;
			push_tok(p, &t);
			continue;
		}
		char n = i + 1 < p->len ? p->text[i + 1] : '\0';
		size_t w = 1;
		switch (c) {
		case '{': t.t = T_LBRACE; break;
		case '}': t.t = T_RBRACE; break;
		case ':': t.t = T_COLON; break;
		case ';': t.t = T_SEMI; break;
		case ',': t.t = T_COMMA; break;
		case '(': t.t = T_LPAREN; break;
		case ')': t.t = T_RPAREN; break;
		case '[': t.t = T_LBRACK; break;
		case ']': t.t = T_RBRACK; break;
		case '=':
			if (n != '=')
				return perr(p, line, col, "'=' alone: compare with '=='");
			t.t = T_EQ, w = 2;
			break;
		case '!':
			if (n != '=')
				return perr(p, line, col, "'!' alone: use 'not' or '!='");
			t.t = T_NE, w = 2;
			break;
		case '<': t.t = n == '=' ? T_LE : T_LT, w = n == '=' ? 2 : 1; break;
		case '>': t.t = n == '=' ? T_GE : T_GT, w = n == '=' ? 2 : 1; break;
		default:
			if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
				return perr(p, line, col, "unexpected byte 0x%02x",
					    (unsigned char)c);
			return perr(p, line, col, "unexpected character '%c'", c);
		}
		t.end = i + w;
		i += w, col += (unsigned)w;
		push_tok(p, &t);
	}
	struct tok e = { .t = T_EOF, .line = line, .col = col, .off = p->len, .end = p->len };
	push_tok(p, &e);
	return 0;
}

/* ---- token helpers ---- */

static struct tok *peek(struct parser *p)
{
	return &p->toks[p->pos];
}

static struct tok *peek2(struct parser *p)
{
	return p->pos + 1 < p->n ? &p->toks[p->pos + 1] : &p->toks[p->n - 1];
}

static struct tok *next(struct parser *p)
{
	struct tok *t = &p->toks[p->pos];
	if (t->t != T_EOF)
		p->pos++;
	return t;
}

static bool is_word(const struct tok *t, const char *w)
{
	return t->t == T_WORD && strcmp(t->s, w) == 0;
}

static int expect(struct parser *p, enum tok_type type, const char *what, struct tok **out)
{
	struct tok *t = peek(p);
	if (t->t != type)
		return terr(p, t, "expected %s, found %s", what,
			    t->t == T_WORD || t->t == T_STRING ? t->s : tok_name(t->t));
	next(p);
	if (out)
		*out = t;
	return 0;
}

static const char *tok_text(const struct tok *t)
{
	return t->t == T_WORD || t->t == T_STRING ? t->s : tok_name(t->t);
}

/* Names of policies, users, groups, accounts, host groups: [A-Za-z0-9_.@-], at most 64. */
static int check_name(struct parser *p, const struct tok *t, const char *what)
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

static int take_name(struct parser *p, const char *what, char **out)
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
static bool at_clause(struct parser *p)
{
	return peek(p)->t == T_WORD && peek2(p)->t == T_COLON;
}

/* ---- hosts ---- */

static int parse_label(struct parser *p, struct tok *t, struct pol_host *h)
{
	const char *eq = t->t == T_WORD || t->t == T_STRING ? strchr(t->s, '=') : NULL;
	if (!eq || eq == t->s || !eq[1])
		return terr(p, t, "expected a label as key=value, found %s", tok_text(t));
	size_t klen = (size_t)(eq - t->s);
	if (klen > ACCESS_NAME_MAX)
		return terr(p, t, "label key longer than %d characters", ACCESS_NAME_MAX);
	if (strlen(eq + 1) > POLICY_VALUE_MAX)
		return terr(p, t, "label value longer than %u characters", POLICY_VALUE_MAX);
	h->kind = HOST_LABEL;
	h->key = xstrndup(t->s, klen);
	h->value = xstrdup(eq + 1);
	return 0;
}

static void hosts_free(struct pol_host *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].key);
		free(h[i].value);
	}
	free(h);
}

/* host-item (',' host-item)*: host NAME | label K=V | hostgroup NAME (when allowed). */
static int parse_hosts(struct parser *p, bool allow_groups, struct pol_host **out, size_t *n_out)
{
	struct pol_host *hs = NULL;
	size_t n = 0;
	int r = 0;
	for (;;) {
		struct tok *kw = next(p);
		struct pol_host h = { .line = kw->line, .col = kw->col };
		if (is_word(kw, "host")) {
			struct tok *t = peek(p);
			if (t->t != T_WORD && t->t != T_STRING) {
				r = terr(p, t, "expected a hostname or host id after 'host'");
				goto fail;
			}
			if (strlen(t->s) == 0 || strlen(t->s) > 253) {
				r = terr(p, t, "hostname must be 1 to 253 characters");
				goto fail;
			}
			next(p);
			h.kind = HOST_NAME;
			h.value = xstrdup(t->s);
		} else if (is_word(kw, "label")) {
			r = parse_label(p, next(p), &h);
			if (r < 0)
				goto fail;
		} else if (is_word(kw, "hostgroup")) {
			if (!allow_groups) {
				r = terr(p, kw, "a host group cannot include another host group");
				goto fail;
			}
			h.kind = HOST_GROUP;
			r = take_name(p, "host group name", &h.key);
			if (r < 0)
				goto fail;
		} else {
			r = terr(p, kw, "expected 'host', 'label' or 'hostgroup', found %s",
				 tok_text(kw));
			goto fail;
		}
		hs = xrealloc(hs, (n + 1) * sizeof(*hs));
		hs[n++] = h;
		if (peek(p)->t != T_COMMA)
			break;
		next(p);
	}
	*out = hs;
	*n_out = n;
	return 0;
fail:
	hosts_free(hs, n);
	return r;
}

static int parse_hostgroup(struct parser *p, struct tok *kw)
{
	struct hostgroup g = { .file = p->file, .line = kw->line, .col = kw->col };
	int r = take_name(p, "host group name", &g.name);
	if (r < 0)
		return r;
	r = expect(p, T_COLON, "':' after the host group's name", NULL);
	if (r >= 0)
		r = parse_hosts(p, false, &g.items, &g.n_items);
	if (r < 0) {
		free(g.name);
		return r;
	}
	struct access_policy_builder *b = p->b;
	if (b->n_groups == b->cap_groups) {
		b->cap_groups = b->cap_groups ? b->cap_groups * 2 : 16;
		b->groups = xrealloc(b->groups, b->cap_groups * sizeof(*b->groups));
	}
	b->groups[b->n_groups++] = g;
	return 0;
}

/* ---- principals and actions ---- */

static int parse_principals(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		bool group;
		if (is_word(kw, "group"))
			group = true;
		else if (is_word(kw, "user"))
			group = false;
		else
			return terr(p, kw, "expected 'group' or 'user', found %s", tok_text(kw));
		char *name;
		int r = take_name(p, group ? "group name" : "user name", &name);
		if (r < 0)
			return r;
		pol->principals = xrealloc(pol->principals,
					   (pol->n_principals + 1) * sizeof(*pol->principals));
		pol->principals[pol->n_principals++] = (struct pol_principal){ group, name };
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

/* Optional "as ACCOUNT" / "as $principal". */
static int parse_as(struct parser *p, struct pol_action *a)
{
	if (!is_word(peek(p), "as"))
		return 0;
	next(p);
	struct tok *t = peek(p);
	if (is_word(t, "$principal")) {
		next(p);
		a->acct = ACCT_SELF;
		return 0;
	}
	int r = take_name(p, "account name", &a->account);
	if (r < 0)
		return r;
	a->acct = ACCT_NAMED;
	return 0;
}

static int parse_actions(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		struct pol_action a = { 0 };
		int r;
		if (kw->t != T_WORD) {
			return terr(p, kw, "expected an action, found %s", tok_text(kw));
		} else if (strcmp(kw->s, "login") == 0) {
			a.action = ACCESS_LOGIN;
		} else if (strcmp(kw->s, "sudo") == 0) {
			a.action = ACCESS_SUDO;
		} else if (strcmp(kw->s, "port-forward") == 0) {
			a.action = ACCESS_PORT_FORWARD;
		} else if (strcmp(kw->s, "sudo-command") == 0) {
			a.action = ACCESS_SUDO_COMMAND;
			struct tok *c = peek(p);
			if (c->t != T_STRING)
				return terr(p, c,
					    "expected the command as a quoted string after "
					    "'sudo-command'");
			if (c->s[0] == '\0')
				return terr(p, c, "empty command");
			next(p);
			a.command = xstrdup(c->s);
		} else {
			return terr(p, kw,
				    "unknown action '%s' (login, sudo, sudo-command, port-forward)",
				    kw->s);
		}
		r = parse_as(p, &a);
		if (r < 0) {
			free(a.command);
			return r;
		}
		pol->actions = xrealloc(pol->actions, (pol->n_actions + 1) * sizeof(*pol->actions));
		pol->actions[pol->n_actions++] = a;
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

/* ---- conditions ---- */

static uint32_t cond_add(struct cond *c, const struct cond_node *n)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->nodes = xrealloc(c->nodes, c->cap * sizeof(*c->nodes));
	}
	c->nodes[c->n] = *n;
	return (uint32_t)c->n++;
}

static uint32_t val_add(struct cond *c, const struct cond_val *v)
{
	if (c->n_vals == c->cap_vals) {
		c->cap_vals = c->cap_vals ? c->cap_vals * 2 : 8;
		c->vals = xrealloc(c->vals, c->cap_vals * sizeof(*c->vals));
	}
	c->vals[c->n_vals] = *v;
	return (uint32_t)c->n_vals++;
}

/* The source text from token a to the token before b, spaces collapsed. */
static char *span_text(struct parser *p, size_t a, size_t b)
{
	if (b <= a)
		return xstrdup("");
	size_t from = p->toks[a].off, to = p->toks[b - 1].end;
	struct buf out;
	buf_init(&out, POLICY_STRING_MAX * 2);
	bool space = false;
	for (size_t i = from; i < to; i++) {
		char c = p->text[i];
		if (c == '#') { /* a comment inside a multi-line condition */
			while (i < to && p->text[i] != '\n')
				i++;
			space = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = true;
			continue;
		}
		if (space && buf_len(&out))
			(void)buf_append(&out, " ", 1);
		space = false;
		(void)buf_append(&out, &c, 1);
	}
	char *s = buf_steal(&out);
	return s ? s : xstrdup("");
}

static bool parse_int_text(const char *s, int64_t *out)
{
	return parse_i64(s, INT64_MIN / 2, INT64_MAX / 2, out) == 0;
}

static int weekday_of(const char *s)
{
	static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	for (int i = 0; i < 7; i++)
		if (str_case_eq(s, days[i]))
			return i;
	return -1;
}

static int parse_cidr(const char *s, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	struct cidr c = { 0 };
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = 4;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = 6;
	else
		return -EINVAL;
	int64_t max = c.family == 4 ? 32 : 128, prefix = max;
	if (slash && parse_i64(slash + 1, 0, max, &prefix) < 0)
		return -EINVAL;
	c.prefix = (uint8_t)prefix;
	/* Host bits must be zero: 10.0.0.1/8 is a typo more often than not. */
	for (int bit = c.prefix; bit < max; bit++)
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*out = c;
	return 0;
}

struct attr_ref {
	uint8_t id;
	uint8_t vtype;
	char *key;
};

/* Resolves a dotted attribute path (principal.team, host.label.env, context.hour). */
static int resolve_attr(struct parser *p, const struct tok *t, struct attr_ref *out)
{
	const char *s = t->s;
	out->key = NULL;
	if (str_has_prefix(s, "principal.")) {
		const char *k = s + strlen("principal.");
		if (strcmp(k, "name") == 0) {
			out->id = ATTR_P_NAME, out->vtype = VT_STR;
			return 0;
		}
		if (!*k || strlen(k) > ACCESS_NAME_MAX || strchr(k, '.'))
			return terr(p, t, "invalid principal attribute '%s'", s);
		out->id = ATTR_P_ATTR, out->vtype = VT_STR, out->key = xstrdup(k);
		return 0;
	}
	if (str_has_prefix(s, "host.")) {
		const char *k = s + strlen("host.");
		if (strcmp(k, "name") == 0) {
			out->id = ATTR_H_NAME, out->vtype = VT_STR;
			return 0;
		}
		if (strcmp(k, "id") == 0) {
			out->id = ATTR_H_ID, out->vtype = VT_STR;
			return 0;
		}
		if (str_has_prefix(k, "label.") && k[6] && strlen(k + 6) <= ACCESS_NAME_MAX) {
			out->id = ATTR_H_LABEL, out->vtype = VT_STR, out->key = xstrdup(k + 6);
			return 0;
		}
		return terr(p, t, "unknown attribute '%s' (host.name, host.id, host.label.KEY)", s);
	}
	if (str_has_prefix(s, "context.")) {
		static const struct {
			const char *name;
			uint8_t id, vtype;
		} ctx[] = {
			{ "hour", ATTR_C_HOUR, VT_INT },
			{ "weekday", ATTR_C_WEEKDAY, VT_WEEKDAY },
			{ "source", ATTR_C_SOURCE, VT_ADDR },
			{ "posture", ATTR_C_POSTURE, VT_INT },
			{ "attestation", ATTR_C_ATTEST, VT_ATTEST },
			{ "alerts.critical", ATTR_C_ALERT_CRITICAL, VT_INT },
			{ "alerts.high", ATTR_C_ALERT_HIGH, VT_INT },
			{ "alerts.medium", ATTR_C_ALERT_MEDIUM, VT_INT },
			{ "alerts.low", ATTR_C_ALERT_LOW, VT_INT },
			{ "ticket", ATTR_C_TICKET, VT_STR },
			{ "grant", ATTR_C_GRANT, VT_BOOL },
		};
		const char *k = s + strlen("context.");
		for (size_t i = 0; i < ARRAY_SIZE(ctx); i++)
			if (strcmp(k, ctx[i].name) == 0) {
				out->id = ctx[i].id, out->vtype = ctx[i].vtype;
				return 0;
			}
		return terr(p, t, "unknown attribute '%s'", s);
	}
	const char *dot = strchr(s, '.');
	int len = dot ? (int)(dot - s) : (int)strlen(s);
	return terr(p, t, "unknown attribute root '%.*s' (principal, host, context)", len, s);
}

static bool looks_like_attr(const char *s)
{
	return str_has_prefix(s, "principal.") || str_has_prefix(s, "host.") ||
	       str_has_prefix(s, "context.");
}

/* A literal for an attribute of type vt. */
static int parse_literal(struct parser *p, struct tok *t, uint8_t vt, bool for_in,
			 struct cond_val *v)
{
	memset(v, 0, sizeof(*v));
	if (t->t != T_WORD && t->t != T_STRING)
		return terr(p, t, "expected a value, found %s", tok_text(t));
	if (t->t == T_WORD && looks_like_attr(t->s))
		return terr(p, t, "the right side must be a value, not the attribute '%s'", t->s);
	if (strlen(t->s) > POLICY_VALUE_MAX)
		return terr(p, t, "value longer than %u characters", POLICY_VALUE_MAX);
	switch (vt) {
	case VT_STR: v->is_int = t->t == T_WORD && parse_int_text(t->s, &v->i); break;
	case VT_INT:
		if (t->t != T_WORD || !parse_int_text(t->s, &v->i))
			return terr(p, t, "expected a number, found %s", t->s);
		v->is_int = true;
		break;
	case VT_WEEKDAY: {
		int d = weekday_of(t->s);
		if (d < 0)
			return terr(p, t, "expected a weekday (mon..sun), found %s", t->s);
		v->i = d, v->is_int = true;
		break;
	}
	case VT_ATTEST:
		if (strcmp(t->s, "trusted") == 0)
			v->i = ACCESS_ATTEST_TRUSTED;
		else if (strcmp(t->s, "failed") == 0)
			v->i = ACCESS_ATTEST_FAILED;
		else
			return terr(p, t, "attestation is \"trusted\" or \"failed\", found %s",
				    t->s);
		break;
	case VT_BOOL:
		if (strcmp(t->s, "true") == 0)
			v->i = 1;
		else if (strcmp(t->s, "false") == 0)
			v->i = 0;
		else
			return terr(p, t, "expected true or false, found %s", t->s);
		break;
	case VT_ADDR:
		if (parse_cidr(t->s, &v->cidr) < 0)
			return terr(p, t, "bad %s '%s'", for_in ? "CIDR" : "address", t->s);
		if (!for_in && v->cidr.prefix != (v->cidr.family == 4 ? 32 : 128))
			return terr(p, t, "compare an address with 'in' for a CIDR: '%s'", t->s);
		break;
	}
	v->s = xstrdup(t->s);
	return 0;
}

static int parse_or(struct parser *p, struct cond *c, uint32_t *out);

static int parse_in(struct parser *p, struct cond *c, struct attr_ref *a, struct cond_node *n)
{
	struct tok *t = peek(p);
	if (t->t == T_LBRACK) {
		next(p);
		n->type = a->vtype == VT_ADDR ? N_IN_CIDR : N_IN_LIST;
		n->a = (uint32_t)c->n_vals;
		for (;;) {
			struct cond_val v;
			int r = parse_literal(p, next(p), a->vtype, true, &v);
			if (r < 0)
				return r;
			val_add(c, &v);
			n->b++;
			struct tok *s = next(p);
			if (s->t == T_RBRACK)
				return 0;
			if (s->t != T_COMMA)
				return terr(p, s, "expected ',' or ']' in a list, found %s",
					    tok_text(s));
		}
	}
	if (t->t != T_WORD && t->t != T_STRING)
		return terr(p, t, "expected a range, a list, a CIDR or group after 'in'");
	next(p);
	if (a->vtype == VT_ADDR) {
		struct cond_val v;
		int r = parse_literal(p, t, VT_ADDR, true, &v);
		if (r < 0)
			return r;
		n->type = N_IN_CIDR, n->a = val_add(c, &v), n->b = 1;
		return 0;
	}
	const char *dots = t->t == T_WORD ? strstr(t->s, "..") : NULL;
	if (!dots)
		return terr(p, t, "expected a range a..b or a list [..] after 'in', found %s",
			    t->s);
	char *lo_s = xstrndup(t->s, (size_t)(dots - t->s));
	const char *hi_s = dots + 2;
	int64_t lo, hi;
	bool ok;
	if (a->vtype == VT_WEEKDAY) {
		int l = weekday_of(lo_s), h = weekday_of(hi_s);
		ok = l >= 0 && h >= 0;
		lo = l, hi = h;
	} else if (a->vtype == VT_INT || a->vtype == VT_STR) {
		ok = parse_int_text(lo_s, &lo) && parse_int_text(hi_s, &hi);
	} else {
		ok = false;
	}
	free(lo_s);
	if (!ok)
		return terr(p, t, "bad range '%s' for this attribute", t->s);
	if (lo > hi)
		return terr(p, t, "empty range '%s'", t->s);
	n->type = N_IN_RANGE, n->lo = lo, n->hi = hi;
	return 0;
}

static int cmp_op_of(enum tok_type t)
{
	switch (t) {
	case T_EQ: return OP_EQ;
	case T_NE: return OP_NE;
	case T_LT: return OP_LT;
	case T_LE: return OP_LE;
	case T_GT: return OP_GT;
	case T_GE: return OP_GE;
	default: return -1;
	}
}

static int parse_predicate(struct parser *p, struct cond *c, uint32_t *out)
{
	size_t start = p->pos;
	struct tok *t = next(p);
	struct cond_node n = { 0 };
	int r;
	if (t->t != T_WORD)
		return terr(p, t, "expected a condition, found %s", tok_text(t));
	if (strcmp(t->s, "true") == 0 || strcmp(t->s, "false") == 0) {
		n.type = N_BOOL, n.lo = t->s[0] == 't';
		goto done;
	}
	/* principal in group "x", principal has team, host.label has env */
	if (strcmp(t->s, "principal") == 0 || strcmp(t->s, "host.label") == 0) {
		bool principal = t->s[0] == 'p';
		struct tok *op = next(p);
		if (principal && is_word(op, "in")) {
			struct tok *g = next(p);
			if (!is_word(g, "group"))
				return terr(p, g, "expected 'group' after 'principal in'");
			struct tok *name = peek(p);
			r = check_name(p, name, "group name");
			if (r < 0)
				return r;
			next(p);
			n.type = N_IN_GROUP, n.key = xstrdup(name->s);
			goto done;
		}
		if (is_word(op, "has")) {
			struct tok *name = next(p);
			if ((name->t != T_WORD && name->t != T_STRING) || !name->s[0] ||
			    strlen(name->s) > ACCESS_NAME_MAX)
				return terr(p, name, "expected an attribute name after 'has'");
			n.type = N_HAS, n.attr = principal ? ATTR_P_ATTR : ATTR_H_LABEL;
			n.key = xstrdup(name->s);
			goto done;
		}
		return terr(p, op,
			    principal ? "expected 'in group' or 'has' after 'principal'"
				      : "expected 'has' after 'host.label'");
	}
	struct attr_ref a = { 0 };
	r = resolve_attr(p, t, &a);
	if (r < 0)
		return r;
	n.attr = a.id, n.vtype = a.vtype, n.key = a.key;
	struct tok *op = peek(p);
	int cop = cmp_op_of(op->t);
	if (cop >= 0) {
		next(p);
		if ((cop != OP_EQ && cop != OP_NE) &&
		    (a.vtype == VT_ADDR || a.vtype == VT_ATTEST || a.vtype == VT_BOOL)) {
			free(n.key);
			return terr(p, op, "'%s' cannot be ordered: use == or !=", t->s);
		}
		n.type = N_CMP, n.op = (uint8_t)cop;
		struct tok *lit = next(p);
		r = parse_literal(p, lit, a.vtype, false, &n.val);
		if (r < 0) {
			free(n.key);
			return r;
		}
		if (cop > OP_NE && a.vtype == VT_STR && !n.val.is_int) {
			free(n.key);
			free(n.val.s);
			return terr(p, lit, "ordering compares numbers: '%s' is not one", lit->s);
		}
	} else if (is_word(op, "in")) {
		next(p);
		r = parse_in(p, c, &a, &n);
		if (r < 0) {
			free(n.key);
			return r;
		}
	} else if (a.vtype == VT_BOOL) {
		n.type = N_ATTR;
	} else {
		free(n.key);
		return terr(p, op, "expected a comparison after '%s', found %s", t->s,
			    tok_text(op));
	}
done:
	n.text = span_text(p, start, p->pos);
	*out = cond_add(c, &n);
	return 0;
}

static int parse_unary(struct parser *p, struct cond *c, uint32_t *out)
{
	struct tok *t = peek(p);
	if (++p->depth > POLICY_DEPTH_MAX)
		return terr(p, t, "condition nested deeper than %u", POLICY_DEPTH_MAX);
	int r;
	size_t start = p->pos;
	if (is_word(t, "not")) {
		next(p);
		uint32_t child;
		r = parse_unary(p, c, &child);
		if (r < 0)
			return r;
		struct cond_node n = { .type = N_NOT, .a = child };
		n.text = span_text(p, start, p->pos);
		*out = cond_add(c, &n);
	} else if (t->t == T_LPAREN) {
		next(p);
		r = parse_or(p, c, out);
		if (r < 0)
			return r;
		r = expect(p, T_RPAREN, "')'", NULL);
		if (r < 0)
			return r;
		free(c->nodes[*out].text);
		c->nodes[*out].text = span_text(p, start, p->pos);
	} else {
		r = parse_predicate(p, c, out);
		if (r < 0)
			return r;
	}
	p->depth--;
	return 0;
}

static int parse_binary(struct parser *p, struct cond *c, uint32_t *out, bool is_or)
{
	size_t start = p->pos;
	uint32_t left;
	int r = is_or ? parse_binary(p, c, &left, false) : parse_unary(p, c, &left);
	if (r < 0)
		return r;
	const char *kw = is_or ? "or" : "and";
	while (is_word(peek(p), kw)) {
		next(p);
		uint32_t right;
		r = is_or ? parse_binary(p, c, &right, false) : parse_unary(p, c, &right);
		if (r < 0)
			return r;
		struct cond_node n = { .type = is_or ? N_OR : N_AND, .a = left, .b = right };
		n.text = span_text(p, start, p->pos);
		left = cond_add(c, &n);
	}
	*out = left;
	return 0;
}

static int parse_or(struct parser *p, struct cond *c, uint32_t *out)
{
	return parse_binary(p, c, out, true);
}

static int parse_condition(struct parser *p, struct cond *c)
{
	p->depth = 0;
	int r = parse_or(p, c, &c->root);
	if (r < 0)
		return r;
	c->present = true;
	struct tok *t = peek(p);
	if (t->t != T_RBRACE && t->t != T_SEMI && !at_clause(p))
		return terr(p, t, "unexpected %s in a condition (and, or, not, parentheses)",
			    tok_text(t));
	return 0;
}

/* ---- grant, approvers, max, create ---- */

static int parse_duration(struct parser *p, struct tok *t, int64_t *out)
{
	if (t->t != T_WORD)
		return terr(p, t, "expected a duration such as 30m, 4h or 1d");
	size_t n = strlen(t->s);
	int64_t unit;
	switch (n ? t->s[n - 1] : 0) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return terr(p, t, "expected a duration such as 30m, 4h or 1d, found %s", t->s);
	}
	char *num = xstrndup(t->s, n - 1);
	int64_t v;
	int r = parse_i64(num, 1, 366 * 86400, &v);
	free(num);
	if (r < 0 || v * unit > 366 * 86400)
		return terr(p, t, "duration '%s' out of range (1s to 366d)", t->s);
	*out = v * unit;
	return 0;
}

static int parse_approvers(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		const char *kind;
		if (is_word(kw, "group"))
			kind = "group";
		else if (is_word(kw, "user"))
			kind = "user";
		else
			return terr(p, kw, "expected 'group' or 'user', found %s", tok_text(kw));
		char *name;
		int r = take_name(p, "approver", &name);
		if (r < 0)
			return r;
		char *s = xasprintf("%s:%s", kind, name);
		free(name);
		if (strv_contains(pol->approvers, s))
			free(s);
		else
			strv_push_take(&pol->approvers, s);
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

static int parse_create(struct parser *p, struct policy *pol)
{
	pol->info.create = true;
	for (;;) {
		struct tok *t = peek(p);
		if (t->t == T_RBRACE || at_clause(p))
			return 0;
		next(p);
		if (t->t == T_SEMI)
			continue;
		if (is_word(t, "sudo")) {
			pol->info.create_sudo = true;
		} else if (is_word(t, "groups")) {
			for (;;) {
				char *g;
				int r = take_name(p, "group name", &g);
				if (r < 0)
					return r;
				if (strv_contains(pol->create_groups, g))
					free(g);
				else
					strv_push_take(&pol->create_groups, g);
				if (peek(p)->t != T_COMMA)
					break;
				next(p);
			}
		} else if (is_word(t, "account")) {
			/* "create: account" alone: provision with defaults */
		} else {
			return terr(p, t,
				    "expected 'groups NAME,...', 'sudo' or 'account' in "
				    "'create', found %s",
				    tok_text(t));
		}
	}
}

/* ---- policies ---- */

enum clause {
	CL_PRINCIPAL,
	CL_ACTION,
	CL_HOST,
	CL_WHEN,
	CL_UNLESS,
	CL_GRANT,
	CL_APPROVERS,
	CL_MAX,
	CL_CREATE,
	CL_COUNT
};
static const char *const clause_names[CL_COUNT] = { "principal", "action", "host",
						    "when",	 "unless", "grant",
						    "approvers", "max",	   "create" };

static int parse_clause(struct parser *p, struct policy *pol, struct tok *kw, int cl)
{
	switch (cl) {
	case CL_PRINCIPAL: return parse_principals(p, pol);
	case CL_ACTION: return parse_actions(p, pol);
	case CL_HOST: return parse_hosts(p, true, &pol->hosts, &pol->n_hosts);
	case CL_WHEN: return parse_condition(p, &pol->when);
	case CL_UNLESS: return parse_condition(p, &pol->unless);
	case CL_GRANT: {
		struct tok *t = next(p);
		if (is_word(t, "required"))
			pol->grant_required = true;
		else if (!is_word(t, "none"))
			return terr(p, t, "expected 'required' or 'none' after 'grant:'");
		return 0;
	}
	case CL_APPROVERS: return parse_approvers(p, pol);
	case CL_MAX: return parse_duration(p, next(p), &pol->info.max_grant_s);
	case CL_CREATE:
		if (pol->info.forbid)
			return terr(p, kw, "'create' belongs in a permit policy");
		return parse_create(p, pol);
	}
	return 0;
}

static int parse_body(struct parser *p, struct policy *pol)
{
	struct tok *clause_tok[CL_COUNT] = { 0 };
	for (;;) {
		struct tok *t = peek(p);
		if (t->t == T_RBRACE) {
			next(p);
			break;
		}
		if (t->t == T_SEMI) {
			next(p);
			continue;
		}
		if (t->t == T_EOF)
			return terr(p, t, "missing '}' at the end of policy '%s' (line %u)",
				    pol->info.name, pol->info.line);
		if (!at_clause(p))
			return terr(p, t, "expected a clause such as 'when:' or '}', found %s",
				    tok_text(t));
		int cl = -1;
		for (int i = 0; i < CL_COUNT; i++)
			if (strcmp(t->s, clause_names[i]) == 0)
				cl = i;
		if (cl < 0)
			return terr(p, t,
				    "unknown clause '%s' (principal, action, host, when, unless, "
				    "grant, approvers, max, create)",
				    t->s);
		if (clause_tok[cl])
			return terr(p, t, "duplicate clause '%s' (first on line %u)", t->s,
				    clause_tok[cl]->line);
		clause_tok[cl] = t;
		next(p);
		next(p); /* ':' */
		int r = parse_clause(p, pol, t, cl);
		if (r < 0)
			return r;
		struct tok *after = peek(p);
		if (after->t == T_EOF)
			return terr(p, after, "missing '}' at the end of policy '%s' (line %u)",
				    pol->info.name, pol->info.line);
		if (after->t != T_RBRACE && after->t != T_SEMI && !at_clause(p))
			return terr(p, after, "unexpected %s after the '%s' clause",
				    tok_text(after), t->s);
	}
	if (pol->info.forbid &&
	    (clause_tok[CL_GRANT] || clause_tok[CL_APPROVERS] || clause_tok[CL_MAX])) {
		struct tok *t = clause_tok[CL_GRANT]	   ? clause_tok[CL_GRANT]
				: clause_tok[CL_APPROVERS] ? clause_tok[CL_APPROVERS]
							   : clause_tok[CL_MAX];
		return terr(p, t, "'%s' belongs in a permit policy", t->s);
	}
	if (!pol->grant_required && (clause_tok[CL_APPROVERS] || clause_tok[CL_MAX])) {
		struct tok *t =
			clause_tok[CL_APPROVERS] ? clause_tok[CL_APPROVERS] : clause_tok[CL_MAX];
		return terr(p, t, "'%s' needs 'grant: required'", t->s);
	}
	return 0;
}

static int parse_policy(struct parser *p, struct tok *kw)
{
	struct access_policy_builder *b = p->b;
	if (b->n_policies >= POLICY_COUNT_MAX)
		return terr(p, kw, "more than %u policies", POLICY_COUNT_MAX);
	struct policy *pol = xcalloc(1, sizeof(*pol));
	pol->info.forbid = kw->s[0] == 'f';
	pol->info.file = p->file;
	pol->info.line = kw->line;
	pol->col = kw->col;
	char *name = NULL;
	int r = take_name(p, "policy name", &name);
	if (r < 0)
		goto fail;
	pol->info.name = name;
	r = expect(p, T_LBRACE, "'{' after the policy's name", NULL);
	if (r < 0)
		goto fail;
	r = parse_body(p, pol);
	if (r < 0)
		goto fail;
	pol->info.approvers = (const char *const *)pol->approvers;
	pol->info.n_approvers = strv_len(pol->approvers);
	pol->info.grant_required = pol->grant_required;
	pol->info.create_groups = (const char *const *)pol->create_groups;
	pol->info.n_create_groups = strv_len(pol->create_groups);
	if (b->n_policies == b->cap_policies) {
		b->cap_policies = b->cap_policies ? b->cap_policies * 2 : 64;
		b->policies = xrealloc(b->policies, b->cap_policies * sizeof(*b->policies));
	}
	b->policies[b->n_policies++] = pol;
	return 0;
fail:
	policy_free(pol);
	return r;
}

int policy_parse(struct access_policy_builder *b, const char *file, const char *text, size_t len,
		 char *err, size_t err_len)
{
	strv_push(&b->files, file ? file : "<policy>");
	struct parser p = { .b = b,
			    .file = b->files[strv_len(b->files) - 1],
			    .text = text,
			    .len = len,
			    .err = err,
			    .err_len = err_len };
	int r;
	if (len > POLICY_FILE_MAX) {
		r = perr(&p, 1, 1, "file larger than %u bytes", POLICY_FILE_MAX);
		goto out;
	}
	r = lex(&p);
	if (r < 0)
		goto out;
	for (;;) {
		struct tok *t = next(&p);
		if (t->t == T_EOF)
			break;
		if (is_word(t, "permit") || is_word(t, "forbid"))
			r = parse_policy(&p, t);
		else if (is_word(t, "hostgroup"))
			r = parse_hostgroup(&p, t);
		else if (t->t == T_RBRACE)
			r = terr(&p, t, "'}' without a policy to close");
		else
			r = terr(&p, t, "expected 'permit', 'forbid' or 'hostgroup', found %s",
				 tok_text(t));
		if (r < 0)
			break;
	}
out:
	for (size_t i = 0; i < p.n; i++)
		free(p.toks[i].s);
	free(p.toks);
	return r;
}

void cond_clear(struct cond *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->nodes[i].key);
		free(c->nodes[i].val.s);
		free(c->nodes[i].text);
	}
	for (size_t i = 0; i < c->n_vals; i++)
		free(c->vals[i].s);
	free(c->nodes);
	free(c->vals);
	memset(c, 0, sizeof(*c));
}

void policy_free(struct policy *pol)
{
	if (!pol)
		return;
	free((char *)pol->info.name);
	for (size_t i = 0; i < pol->n_principals; i++)
		free(pol->principals[i].name);
	free(pol->principals);
	for (size_t i = 0; i < pol->n_actions; i++) {
		free(pol->actions[i].account);
		free(pol->actions[i].command);
	}
	free(pol->actions);
	hosts_free(pol->hosts, pol->n_hosts);
	cond_clear(&pol->when);
	cond_clear(&pol->unless);
	strv_free(pol->approvers);
	strv_free(pol->create_groups);
	free(pol);
}

void hostgroup_clear(struct hostgroup *g)
{
	free(g->name);
	hosts_free(g->items, g->n_items);
	memset(g, 0, sizeof(*g));
}
