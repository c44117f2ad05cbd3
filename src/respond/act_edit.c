/* Text edits of the fix actions on buffers (act_edit.h): key/value settings and cron lines.
 * They parse outside data (configuration files on the host): every line is read through a
 * cursor, sizes are capped, and a file that is not text is refused, never half edited. */
#include "respond/act_edit.h"

#include "lib/str.h"

#include <ctype.h>

#define KV_KEY_MAX 128
#define KV_VALUE_MAX 1024
#define KV_SECTION_MAX 128

static const char *const kv_seps[] = { " ", "\t", "=", " = ", ":", ": " };

static int edit_fail(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

int act_kv_check(const struct act_kv *kv, char *err, size_t errlen)
{
	size_t n = kv->key ? strlen(kv->key) : 0;
	if (n == 0 || n > KV_KEY_MAX)
		return edit_fail(err, errlen, "the key must be 1 to 128 characters");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)kv->key[i]) && !strchr("_.-/", kv->key[i]))
			return edit_fail(err, errlen,
					 "the key may hold letters, digits, '_', '.', '-', '/'");
	n = kv->value ? strlen(kv->value) : 0;
	if (n == 0 || n > KV_VALUE_MAX || !str_is_text(kv->value, n))
		return edit_fail(err, errlen, "the value must be one line of 1 to 1024 characters");
	if (isspace((unsigned char)kv->value[0]) || isspace((unsigned char)kv->value[n - 1]) ||
	    kv->value[0] == '=' || kv->value[0] == ':')
		return edit_fail(err, errlen,
				 "the value must not start or end with white space, nor start "
				 "with '=' or ':'");
	if (!strcasecmp(kv->key, "Match"))
		return edit_fail(err, errlen, "Match blocks are not set by a key/value fix");
	bool sep_ok = !kv->sep;
	for (size_t i = 0; kv->sep && i < ARRAY_SIZE(kv_seps); i++)
		sep_ok |= !strcmp(kv->sep, kv_seps[i]);
	if (!sep_ok)
		return edit_fail(
			err, errlen,
			"the separator must be \" \", \"\\t\", \"=\", \" = \", \":\" or \": \"");
	if (kv->section) {
		n = strlen(kv->section);
		if (n == 0 || n > KV_SECTION_MAX || !str_is_text(kv->section, n) ||
		    strchr(kv->section, ']') || strchr(kv->section, '['))
			return edit_fail(err, errlen,
					 "the section must be a name without brackets");
	}
	return 0;
}

static int text_ok(const char *text, size_t len)
{
	if (len > ACT_FILE_MAX)
		return -EFBIG;
	if (len && memchr(text, '\0', len))
		return -EMEDIUMTYPE;
	return 0;
}

enum kv_line {
	KL_OTHER,  /* comment, blank, another key */
	KL_HEADER, /* [section] */
	KL_MATCH,  /* an sshd Match block starts */
	KL_KEY,	   /* the setting's key */
};

struct kv_parsed {
	enum kv_line kind;
	bool blank; /* empty, white space or a comment */
	size_t indent;
	const char *name; /* KL_HEADER: the section name; KL_KEY: the value */
	size_t name_len;
};

static size_t skip_blank(const char *l, size_t n, size_t i)
{
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return i;
}

static size_t trim_end(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return n;
}

static void kv_parse(const char *l, size_t n, const char *key, struct kv_parsed *p)
{
	size_t i = skip_blank(l, n, 0);

	*p = (struct kv_parsed){ .kind = KL_OTHER, .indent = i };
	n = trim_end(l, n);
	if (i >= n || l[i] == '#' || l[i] == ';') {
		p->blank = true;
		return;
	}
	if (l[i] == '[') {
		const char *close = memchr(l + i, ']', n - i);
		if (!close)
			return;
		size_t s = skip_blank(l, n, i + 1);
		size_t e = (size_t)(close - l);
		while (e > s && (l[e - 1] == ' ' || l[e - 1] == '\t'))
			e--;
		p->kind = KL_HEADER;
		p->name = l + s;
		p->name_len = e > s ? e - s : 0;
		return;
	}
	size_t k = i;
	while (k < n && !strchr(" \t=:", l[k]))
		k++;
	size_t klen = k - i;
	if (klen == 5 && !strncasecmp(l + i, "Match", 5) && k < n &&
	    (l[k] == ' ' || l[k] == '\t')) {
		p->kind = KL_MATCH;
		return;
	}
	if (klen != strlen(key) || strncasecmp(l + i, key, klen))
		return;
	size_t v = skip_blank(l, n, k);
	if (v < n && (l[v] == '=' || l[v] == ':'))
		v = skip_blank(l, n, v + 1);
	p->kind = KL_KEY;
	p->name = l + v;
	p->name_len = n - v;
}

/* Tracks which lines are in the setting's scope. */
struct kv_scope {
	const struct act_kv *kv;
	bool in;
	bool seen; /* the section was found */
};

static void scope_step(struct kv_scope *s, const struct kv_parsed *p)
{
	if (!s->kv->section) {
		if (p->kind == KL_HEADER || p->kind == KL_MATCH)
			s->in = false;
		return;
	}
	if (p->kind == KL_HEADER) {
		s->in = p->name_len == strlen(s->kv->section) &&
			!strncasecmp(p->name, s->kv->section, p->name_len);
		s->seen |= s->in;
	}
}

struct kv_plan {
	bool found;	/* a key line in scope */
	bool differs;	/* some key line in scope holds another value or spelling */
	long insert_at; /* the line before which a new line goes; -1: the end; -2: a new
			 * section at the end */
	bool ends_nl;	/* the text ends with '\n' (or is empty) */
};

static void kv_plan(const char *text, size_t len, const struct act_kv *kv, const char *want,
		    struct kv_plan *plan)
{
	struct cursor c;
	const char *l;
	size_t n;
	long idx = 0;
	bool ended = false;
	struct kv_scope s = { .kv = kv, .in = !kv->section };

	*plan = (struct kv_plan){ .insert_at = -1, .ends_nl = len == 0 || text[len - 1] == '\n' };
	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &l, &n) == 1) {
		struct kv_parsed p;
		kv_parse(l, n, kv->key, &p);
		bool was_in = s.in;
		scope_step(&s, &p);
		if (was_in && !s.in && !ended) {
			ended = true;
			plan->insert_at = idx;
		}
		if (s.in && p.kind == KL_KEY) {
			plan->found = true;
			size_t wl = strlen(want);
			if (trim_end(l, n) != p.indent + wl || memcmp(l + p.indent, want, wl))
				plan->differs = true;
		}
		idx++;
	}
	if (kv->section && !s.seen)
		plan->insert_at = -2;
}

static int put(struct buf *out, const void *p, size_t n)
{
	return buf_append(out, p, n) < 0 ? -EFBIG : 0;
}

int act_kv_set(const char *text, size_t len, const struct act_kv *kv, struct buf *out)
{
	_cleanup_free_ char *want = NULL;
	struct kv_plan plan;
	struct cursor c;
	const char *l;
	size_t n;
	long idx = 0;
	int r;

	if (act_kv_check(kv, NULL, 0) < 0)
		return -EINVAL;
	r = text_ok(text, len);
	if (r < 0)
		return r;
	want = xasprintf("%s%s%s", kv->key, kv->sep ? kv->sep : " ", kv->value);
	kv_plan(text, len, kv, want, &plan);
	buf_free(out);
	buf_init(out, ACT_FILE_MAX);
	if (plan.found && !plan.differs) {
		r = put(out, text, len);
		return r < 0 ? r : 0;
	}
	struct kv_scope s = { .kv = kv, .in = !kv->section };
	cursor_init(&c, text, len);
	while (r == 0 && cursor_get_line(&c, &l, &n) == 1) {
		struct kv_parsed p;
		bool last = cursor_done(&c);
		kv_parse(l, n, kv->key, &p);
		scope_step(&s, &p);
		if (!plan.found && idx == plan.insert_at) {
			r = put(out, want, strlen(want));
			if (r == 0)
				r = put(out, "\n", 1);
		}
		if (r == 0 && s.in && p.kind == KL_KEY) {
			r = put(out, l, p.indent);
			if (r == 0)
				r = put(out, want, strlen(want));
			/* keep a '\r' line ending as it was */
			if (r == 0 && n && l[n - 1] == '\r')
				r = put(out, "\r", 1);
		} else if (r == 0) {
			r = put(out, l, n);
		}
		if (r == 0 && (!last || plan.ends_nl))
			r = put(out, "\n", 1);
		idx++;
	}
	if (r == 0 && !plan.found && plan.insert_at < 0) {
		if (!plan.ends_nl)
			r = put(out, "\n", 1);
		if (r == 0 && plan.insert_at == -2)
			r = buf_printf(out, "%s[%s]\n", len ? "\n" : "", kv->section) < 0 ? -EFBIG
											  : 0;
		if (r == 0)
			r = put(out, want, strlen(want));
		if (r == 0)
			r = put(out, "\n", 1);
	}
	return r < 0 ? r : 1;
}

int act_kv_get(const char *text, size_t len, const struct act_kv *kv, char *value, size_t valuelen)
{
	struct cursor c;
	const char *l;
	size_t n;
	int r;

	if (!kv->key || !kv->key[0])
		return -EINVAL;
	r = text_ok(text, len);
	if (r < 0)
		return r;
	struct kv_scope s = { .kv = kv, .in = !kv->section };
	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &l, &n) == 1) {
		struct kv_parsed p;
		kv_parse(l, n, kv->key, &p);
		scope_step(&s, &p);
		if (s.in && p.kind == KL_KEY) {
			if (valuelen)
				snprintf(value, valuelen, "%.*s", (int)p.name_len, p.name);
			return 1;
		}
	}
	return 0;
}

/* ---- cron ---- */

static const char *const cron_dirs[] = { "/etc/cron.d/", "/var/spool/cron/crontabs/" };

bool act_cron_path_ok(const char *path)
{
	if (!strcmp(path, "/etc/crontab"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(cron_dirs); i++) {
		if (!str_has_prefix(path, cron_dirs[i]))
			continue;
		const char *name = path + strlen(cron_dirs[i]);
		return name[0] && name[0] != '.' && !strchr(name, '/');
	}
	return false;
}

static bool line_is(const char *l, size_t n, const char *entry)
{
	size_t en = trim_end(entry, strlen(entry));
	n = trim_end(l, n);
	return en > 0 && n == en && !memcmp(l, entry, n);
}

unsigned act_cron_active(const char *text, size_t len, const char *entry)
{
	struct cursor c;
	const char *l;
	size_t n;
	unsigned count = 0;

	if (text_ok(text, len) < 0 || entry[0] == '#')
		return 0;
	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &l, &n) == 1)
		count += line_is(l, n, entry);
	return count;
}

static int cron_rewrite(const char *text, size_t len, const char *entry, const char *uid,
			struct buf *out)
{
	_cleanup_free_ char *mark = xasprintf("%s%s ", ACT_CRON_MARK, uid);
	size_t ml = strlen(mark);
	bool ends_nl = len == 0 || text[len - 1] == '\n';
	struct cursor c;
	const char *l;
	size_t n;
	int count = 0, r;

	r = text_ok(text, len);
	if (r < 0)
		return r;
	buf_free(out);
	buf_init(out, ACT_FILE_MAX);
	cursor_init(&c, text, len);
	while (r == 0 && cursor_get_line(&c, &l, &n) == 1) {
		bool last = cursor_done(&c);
		if (entry && entry[0] != '#' && line_is(l, n, entry)) {
			r = put(out, mark, ml);
			count++;
		} else if (!entry && n >= ml && !memcmp(l, mark, ml)) {
			l += ml;
			n -= ml;
			count++;
		}
		if (r == 0)
			r = put(out, l, n);
		if (r == 0 && (!last || ends_nl))
			r = put(out, "\n", 1);
	}
	return r < 0 ? r : count;
}

int act_cron_disable(const char *text, size_t len, const char *entry, const char *uid,
		     struct buf *out)
{
	return cron_rewrite(text, len, entry, uid, out);
}

int act_cron_enable(const char *text, size_t len, const char *uid, struct buf *out)
{
	return cron_rewrite(text, len, NULL, uid, out);
}
