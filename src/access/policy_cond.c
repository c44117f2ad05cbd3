/* The access policy language's conditions: comparisons, ranges, lists, CIDRs, group
 * membership and attribute presence combined with and, or, not and parentheses, compiled
 * into node arrays with attributes resolved and literals parsed. */
#include "access/policy_lex.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <arpa/inet.h>

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

int policy_parse_condition(struct parser *p, struct cond *c)
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
