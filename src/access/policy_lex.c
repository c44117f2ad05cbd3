/* The access policy language's tokens: words, quoted strings and punctuation, each with its
 * line and column. '#' starts a comment; newlines only separate tokens. */
#include "access/policy_lex.h"
#include "lib/buf.h"

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

const char *policy_tok_name(enum tok_type t)
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

int policy_lex(struct parser *p)
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
