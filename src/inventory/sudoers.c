/* The sudoers and sudoers_defaults tables: /etc/sudoers and the files it includes.
 *
 * Reading happens in two passes. The first reads /etc/sudoers and its includes (@include,
 * #include, @includedir, #includedir; relative paths from the including file's directory;
 * nesting at most SUDO_INCLUDE_DEPTH deep; a file already on the include chain is a loop) into
 * a list of logical lines, continuations joined and comments removed. The second defines every
 * alias, then turns Defaults lines into sudoers_defaults rows and user specifications into one
 * sudoers row per (user, host, command), aliases expanded, run-as and tags carried forward
 * along a command list as sudo does. */
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>
#include <sys/stat.h>

#define SUDO_FILE_MAX (1024 * 1024)
#define SUDO_INCLUDE_DEPTH 8
#define SUDO_MAX_FILES 256
#define SUDO_MAX_INCLUDES 1024		  /* include directives followed, in all files */
#define SUDO_TOTAL_MAX (16 * 1024 * 1024) /* bytes read, in all files */
#define SUDO_ALIAS_DEPTH 16
#define SUDO_EXPAND_MAX 4096
#define SUDO_ROWS_MAX 100000

enum alias_kind { ALIAS_USER, ALIAS_RUNAS, ALIAS_HOST, ALIAS_CMND, ALIAS_KINDS };

struct stmt {
	char *text;
	const char *file; /* owned by sudo_state.files */
	unsigned line;
};

struct sudo_state {
	struct inv_ctx *ctx;
	struct stmt *stmts;
	size_t n, alloc;
	strv files;
	size_t includes, bytes;
	struct stat chain[SUDO_INCLUDE_DEPTH + 1];
	size_t depth;
	json_t *aliases[ALIAS_KINDS]; /* name -> array of item strings */
	size_t rows;
};

struct item {
	char *text;
	bool neg;
};

struct items {
	struct item *v;
	size_t n;
};

static void items_free(struct items *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
	*l = (struct items){ 0 };
}

static void items_push(struct items *l, const char *text, bool neg)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = (struct item){ xstrdup(text), neg };
}

/* An error while reading files: both tables are incomplete. */
static void both_error(struct sudo_state *st, const char *path, int err, const char *msg,
		       unsigned line)
{
	static const char *const tables[] = { "sudoers", "sudoers_defaults" };
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		if (line)
			inv_error(st->ctx, tables[i], path, err, "line %u: %s", line, msg);
		else
			inv_error(st->ctx, tables[i], path, err, "%s", msg);
	}
}

/* --- pass 1: files, includes, logical lines --- */

static void sudo_file(struct sudo_state *st, const char *path, unsigned from_line,
		      const char *from);

/* Cuts a comment: '#' at the start of a word, unless a digit follows ("#1000" is a uid). */
static void strip_comment(char *s)
{
	bool quote = false;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
			continue;
		}
		if (s[i] == '"')
			quote = !quote;
		else if (s[i] == '#' && !quote && (i == 0 || isspace((unsigned char)s[i - 1])) &&
			 !isdigit((unsigned char)s[i + 1])) {
			s[i] = '\0';
			return;
		}
	}
}

/* Reads the path argument of an include line ("path", or path with "\ " escapes). */
static char *include_arg(const char *s)
{
	struct buf b;
	buf_init(&b, SUDO_FILE_MAX);
	while (isspace((unsigned char)*s))
		s++;
	bool quoted = *s == '"';
	if (quoted)
		s++;
	for (; *s; s++) {
		if (quoted ? *s == '"' : isspace((unsigned char)*s))
			break;
		if (*s == '\\' && s[1])
			s++;
		(void)buf_append(&b, s, 1);
	}
	if (!buf_len(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static char *resolve(const char *from, const char *arg)
{
	if (arg[0] == '/')
		return xstrdup(arg);
	const char *slash = strrchr(from, '/');
	if (!slash)
		return xstrdup(arg);
	return xasprintf("%.*s/%s", (int)(slash - from), from, arg);
}

static void sudo_includedir(struct sudo_state *st, const char *dir, unsigned line, const char *from)
{
	_cleanup_strv_ strv names = NULL;
	struct stat sb;

	int r = fsroot_list(st->ctx->root, dir, &names);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		both_error(st, from, r, "includedir", line);
		return;
	}
	for (size_t i = 0; names[i]; i++) {
		if (str_has_suffix(names[i], "~") || strchr(names[i], '.'))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
		if (fsroot_stat(st->ctx->root, path, true, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		sudo_file(st, path, line, from);
	}
}

/* Handles an include directive; returns false when line is not one. */
static bool include_line(struct sudo_state *st, const char *text, const char *path, unsigned line)
{
	bool dir;
	if (text[0] != '@' && text[0] != '#')
		return false;
	if (str_has_prefix(text + 1, "includedir") && isspace((unsigned char)text[11]))
		dir = true;
	else if (str_has_prefix(text + 1, "include") && isspace((unsigned char)text[8]))
		dir = false;
	else
		return false;

	if (st->includes++ == SUDO_MAX_INCLUDES)
		both_error(st, path, 0, "too many include directives; rest ignored", line);
	if (st->includes > SUDO_MAX_INCLUDES)
		return true;
	_cleanup_free_ char *arg = include_arg(text + (dir ? 11 : 8));
	if (!arg) {
		both_error(st, path, 0, "include without a path", line);
		return true;
	}
	_cleanup_free_ char *target = resolve(path, arg);
	if (dir)
		sudo_includedir(st, target, line, path);
	else
		sudo_file(st, target, line, path);
	return true;
}

static void logical_line(struct sudo_state *st, char *text, const char *path, unsigned line)
{
	char *s = str_trim(text);
	if (include_line(st, s, path, line))
		return;
	strip_comment(s);
	s = str_trim(s);
	if (!*s)
		return;
	if (st->n == st->alloc) {
		st->alloc = st->alloc ? st->alloc * 2 : 64;
		st->stmts = xrealloc(st->stmts, st->alloc * sizeof(*st->stmts));
	}
	st->stmts[st->n++] = (struct stmt){ xstrdup(s), path, line };
}

static void sudo_lines(struct sudo_state *st, const struct buf *b, const char *path)
{
	struct line_joiner j;
	int r;

	line_joiner_init(&j, buf_str(b), buf_len(b), SUDO_FILE_MAX);
	while ((r = line_joiner_next(&j)) != 0) {
		if (r < 0) {
			both_error(st, path, 0, "not text", j.lineno);
			continue;
		}
		_cleanup_free_ char *text = xstrdup(buf_str(&j.text));
		logical_line(st, text, path, j.first);
	}
	line_joiner_free(&j);
}

/* Reads path (included from line of from, or the top file when from is NULL). */
static void sudo_file(struct sudo_state *st, const char *path, unsigned from_line, const char *from)
{
	const char *where = from ? from : path;
	struct stat sb;
	char msg[256];

	int r = fsroot_stat(st->ctx->root, path, true, &sb);
	if (r == -ENOENT && !from)
		return;
	if (r < 0) {
		snprintf(msg, sizeof(msg), "including %s: %s", path, strerror(-r));
		both_error(st, where, 0, msg, from_line);
		return;
	}
	for (size_t i = 0; i < st->depth; i++)
		if (st->chain[i].st_dev == sb.st_dev && st->chain[i].st_ino == sb.st_ino) {
			snprintf(msg, sizeof(msg), "include loop: %s", path);
			both_error(st, where, 0, msg, from_line);
			return;
		}
	if (st->depth > SUDO_INCLUDE_DEPTH) {
		snprintf(msg, sizeof(msg), "includes nested deeper than %d: %s", SUDO_INCLUDE_DEPTH,
			 path);
		both_error(st, where, 0, msg, from_line);
		return;
	}
	if (strv_len(st->files) >= SUDO_MAX_FILES) {
		snprintf(msg, sizeof(msg), "more than %d files included: %s", SUDO_MAX_FILES, path);
		both_error(st, where, 0, msg, from_line);
		return;
	}

	struct buf b;
	buf_init(&b, SUDO_FILE_MAX);
	r = fsroot_read(st->ctx->root, path, SUDO_FILE_MAX, &b);
	if (r < 0) {
		both_error(st, path, r, "reading", 0);
		buf_free(&b);
		return;
	}
	if (buf_len(&b) > SUDO_TOTAL_MAX - st->bytes) {
		both_error(st, path, -EFBIG, "sudoers files too large in total", 0);
		buf_free(&b);
		return;
	}
	st->bytes += buf_len(&b);
	strv_push(&st->files, path);
	const char *owned = st->files[strv_len(st->files) - 1];
	st->chain[st->depth++] = sb;
	sudo_lines(st, &b, owned);
	st->depth--;
	buf_free(&b);
}

/* --- pass 2: aliases, Defaults, user specifications --- */

struct scan {
	char *p; /* into a NUL-terminated copy owned by the caller */
};

static void skip_ws(struct scan *s)
{
	while (isspace((unsigned char)*s->p))
		s->p++;
}

/* Reads one word: up to white space, ',' or a byte in stops; "\x" escapes, "..." quotes. */
static char *word(struct scan *s, const char *stops)
{
	struct buf b;
	bool quote = false;

	buf_init(&b, SUDO_FILE_MAX);
	for (; *s->p; s->p++) {
		char ch = *s->p;
		if (ch == '"') {
			quote = !quote;
			continue;
		}
		if (!quote && (isspace((unsigned char)ch) || ch == ',' || strchr(stops, ch)))
			break;
		if (ch == '\\' && s->p[1])
			ch = *++s->p;
		(void)buf_append(&b, &ch, 1);
	}
	return buf_steal(&b);
}

/* Reads "a, b ,c": words separated by commas. Returns 0 or -EINVAL on an empty item. */
static int word_list(struct scan *s, const char *stops, strv *out)
{
	for (;;) {
		skip_ws(s);
		char *w = word(s, stops);
		if (!*w) {
			free(w);
			return -EINVAL;
		}
		strv_push_take(out, w);
		skip_ws(s);
		if (*s->p != ',')
			return 0;
		s->p++;
	}
}

/* Reads one command: up to an unescaped ',' or ':' (sudo's escapes removed), trimmed. */
static char *command(struct scan *s)
{
	struct buf b;
	buf_init(&b, SUDO_FILE_MAX);
	for (; *s->p && *s->p != ',' && *s->p != ':'; s->p++) {
		char ch = *s->p;
		if (ch == '\\' && s->p[1] && strchr(",:=\\", s->p[1]))
			ch = *++s->p;
		(void)buf_append(&b, &ch, 1);
	}
	_cleanup_free_ char *raw = buf_steal(&b);
	return xstrdup(str_trim(raw));
}

static bool alias_name(const char *w)
{
	if (!isupper((unsigned char)*w) || strcmp(w, "ALL") == 0)
		return false;
	for (; *w; w++)
		if (!isupper((unsigned char)*w) && !isdigit((unsigned char)*w) && *w != '_')
			return false;
	return true;
}

/* Expands one list item through the aliases of kind into out. Returns 0, -ELOOP when aliases
 * nest too deep (or refer to themselves) or -E2BIG when the expansion grows too large. */
static int expand(struct sudo_state *st, enum alias_kind kind, const char *w, bool neg,
		  unsigned depth, struct items *out)
{
	while (*w == '!' || isspace((unsigned char)*w)) {
		neg ^= *w == '!';
		w++;
	}
	json_t *def = alias_name(w) ? json_object_get(st->aliases[kind], w) : NULL;
	if (def) {
		if (depth >= SUDO_ALIAS_DEPTH)
			return -ELOOP;
		size_t i;
		json_t *v;
		json_array_foreach(def, i, v) {
			int r = expand(st, kind, json_string_value(v), neg, depth + 1, out);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (out->n >= SUDO_EXPAND_MAX)
		return -E2BIG;
	items_push(out, w, neg);
	return 0;
}

static int expand_list(struct sudo_state *st, enum alias_kind kind, char *const *words,
		       struct items *out)
{
	for (size_t i = 0; words && words[i]; i++) {
		int r = expand(st, kind, words[i], false, 0, out);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Joins expanded user/host items, negated ones with their '!'. */
static char *item_text(const struct item *it)
{
	return it->neg ? xasprintf("!%s", it->text) : xstrdup(it->text);
}

static void spec_error(struct sudo_state *st, const char *table, const struct stmt *sm,
		       const char *what, int err)
{
	if (err == -ELOOP)
		what = "aliases nested too deep or circular";
	else if (err == -E2BIG)
		what = "aliases expand to too many items";
	inv_error(st->ctx, table, sm->file, 0, "line %u: %s", sm->line, what);
}

static const char *const alias_keywords[] = {
	[ALIAS_USER] = "User_Alias",
	[ALIAS_RUNAS] = "Runas_Alias",
	[ALIAS_HOST] = "Host_Alias",
	[ALIAS_CMND] = "Cmnd_Alias",
};

/* Returns the alias kind a statement defines, or -1. */
static int alias_kind_of(const char *text, size_t *skip)
{
	for (size_t k = 0; k < ALIAS_KINDS; k++) {
		size_t n = strlen(alias_keywords[k]);
		if (strncmp(text, alias_keywords[k], n) == 0 && isspace((unsigned char)text[n])) {
			*skip = n;
			return (int)k;
		}
	}
	if (str_has_prefix(text, "Cmd_Alias") && isspace((unsigned char)text[9])) {
		*skip = 9;
		return ALIAS_CMND;
	}
	return -1;
}

/* "Kind_Alias NAME = item, ... : NAME2 = ..." */
static void alias_stmt(struct sudo_state *st, const struct stmt *sm, int kind, size_t skip)
{
	_cleanup_free_ char *copy = xstrdup(sm->text + skip);
	struct scan s = { copy };

	for (;;) {
		skip_ws(&s);
		_cleanup_free_ char *name = word(&s, "=:");
		skip_ws(&s);
		if (!alias_name(name) || *s.p != '=') {
			spec_error(st, "sudoers", sm, "malformed alias definition", 0);
			return;
		}
		s.p++;
		json_t *items = json_array();
		for (;;) {
			_cleanup_free_ char *it = kind == ALIAS_CMND ? command(&s) : NULL;
			if (!it) {
				skip_ws(&s);
				it = word(&s, ":");
				skip_ws(&s);
			}
			if (!*it) {
				json_decref(items);
				spec_error(st, "sudoers", sm, "empty alias item", 0);
				return;
			}
			json_array_append_new(items, json_string(it));
			if (*s.p != ',')
				break;
			s.p++;
		}
		json_object_set_new(st->aliases[kind], name, items);
		if (*s.p != ':')
			break;
		s.p++;
	}
	if (*s.p)
		spec_error(st, "sudoers", sm, "trailing text after alias definition", 0);
}

/* --- Defaults --- */

static bool defaults_stmt(struct sudo_state *st, const struct stmt *sm)
{
	const char *t = sm->text;
	if (!str_has_prefix(t, "Defaults") || !(t[8] == '\0' || strchr(" \t@:>!", t[8])))
		return false;
	_cleanup_free_ char *copy = xstrdup(t + 8);
	struct scan s = { copy };
	_cleanup_free_ char *scope = NULL;

	if (*s.p && !isspace((unsigned char)*s.p)) {
		char kind = *s.p++;
		_cleanup_strv_ strv binding = NULL;
		if (word_list(&s, "", &binding) < 0) {
			spec_error(st, "sudoers_defaults", sm, "malformed Defaults binding", 0);
			return true;
		}
		struct buf b;
		buf_init(&b, SUDO_FILE_MAX);
		(void)buf_append(&b, &kind, 1);
		for (size_t i = 0; binding[i]; i++)
			(void)buf_printf(&b, "%s%s", i ? "," : "", binding[i]);
		scope = buf_steal(&b);
	}
	for (;;) {
		skip_ws(&s);
		if (!*s.p)
			break;
		bool neg = false;
		while (*s.p == '!' || isspace((unsigned char)*s.p))
			neg ^= *s.p++ == '!';
		size_t n = strspn(s.p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_");
		if (!n) {
			spec_error(st, "sudoers_defaults", sm, "malformed Defaults entry", 0);
			return true;
		}
		_cleanup_free_ char *name = xstrndup(s.p, n);
		s.p += n;
		skip_ws(&s);
		_cleanup_free_ char *value = NULL;
		if (*s.p == '=' || ((*s.p == '+' || *s.p == '-') && s.p[1] == '=')) {
			s.p += *s.p == '=' ? 1 : 2;
			skip_ws(&s);
			value = word(&s, "");
		}
		json_t *row = inv_row(st->ctx, "sudoers_defaults");
		inv_set_str(row, "name", name);
		inv_set_str(row, "value", value && !neg ? value : neg ? "false" : "true");
		inv_set_str(row, "scope", scope ? scope : "");
		inv_set_str(row, "file", sm->file);
		inv_set_int(row, "line", sm->line);
		skip_ws(&s);
		if (*s.p == ',')
			s.p++;
	}
	return true;
}

/* --- user specifications --- */

struct cmnd_state {
	char *runas;
	bool nopasswd;
};

static const char *const tag_words[] = {
	"NOPASSWD",  "PASSWD",	    "NOEXEC",	  "EXEC",	  "SETENV", "NOSETENV",
	"LOG_INPUT", "NOLOG_INPUT", "LOG_OUTPUT", "NOLOG_OUTPUT", "MAIL",   "NOMAIL",
	"FOLLOW",    "NOFOLLOW",    "INTERCEPT",  "NOINTERCEPT",
};
static const char *const option_words[] = {
	"ROLE",	    "TYPE",    "CHROOT",	   "CWD",   "NOTBEFORE",
	"NOTAFTER", "TIMEOUT", "APPARMOR_PROFILE", "PRIVS", "LIMITPRIVS",
};

static bool in_words(const char *w, size_t n, const char *const *words, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(words[i]) == n && strncmp(w, words[i], n) == 0)
			return true;
	return false;
}

/* "(users[:groups])" at s->p: the run-as list, aliases expanded. */
static int runas_spec(struct sudo_state *st, struct scan *s, char **out)
{
	char *close = strchr(s->p, ')');
	if (!close)
		return -EINVAL;
	*close = '\0';
	char *inside = s->p + 1;
	s->p = close + 1;

	struct buf b;
	buf_init(&b, SUDO_FILE_MAX);
	char *colon = strchr(inside, ':');
	if (colon)
		*colon = '\0';
	for (int part = 0; part < (colon ? 2 : 1); part++) {
		struct scan ps = { part ? colon + 1 : inside };
		_cleanup_strv_ strv words = NULL;
		struct items list = { 0 };
		skip_ws(&ps);
		int r = *ps.p ? word_list(&ps, "", &words) : 0;
		skip_ws(&ps);
		if (r == 0 && *ps.p)
			r = -EINVAL;
		if (r == 0)
			r = expand_list(st, ALIAS_RUNAS, words, &list);
		if (r < 0) {
			items_free(&list);
			buf_free(&b);
			return r;
		}
		if (part)
			(void)buf_puts(&b, ":");
		for (size_t i = 0; i < list.n; i++) {
			_cleanup_free_ char *t = item_text(&list.v[i]);
			(void)buf_printf(&b, "%s%s", i ? "," : "", t);
		}
		items_free(&list);
	}
	free(*out);
	*out = buf_steal(&b);
	return 0;
}

/* Skips options (ROLE=x), tags (NOPASSWD:) and a digest (sha256:...) before a command. */
static void tags_and_options(struct scan *s, struct cmnd_state *cs)
{
	for (;;) {
		skip_ws(s);
		size_t n = strspn(s->p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		if (n && s->p[n] == ':' && in_words(s->p, n, tag_words, ARRAY_SIZE(tag_words))) {
			if (n == 8 && str_has_prefix(s->p, "NOPASSWD"))
				cs->nopasswd = true;
			else if (n == 6 && str_has_prefix(s->p, "PASSWD"))
				cs->nopasswd = false;
			s->p += n + 1;
			continue;
		}
		if (n && s->p[n] == '=' &&
		    in_words(s->p, n, option_words, ARRAY_SIZE(option_words))) {
			s->p += n + 1;
			free(word(s, ""));
			continue;
		}
		size_t d = strspn(s->p, "sha0123456789");
		if (d >= 6 && s->p[d] == ':' && str_has_prefix(s->p, "sha")) {
			s->p += d + 1;
			while (*s->p && !isspace((unsigned char)*s->p))
				s->p++;
			continue;
		}
		return;
	}
}

static void emit_rows(struct sudo_state *st, const struct stmt *sm, const struct items *users,
		      const struct items *hosts, const struct cmnd_state *cs,
		      const struct items *cmds)
{
	for (size_t u = 0; u < users->n; u++)
		for (size_t h = 0; h < hosts->n; h++)
			for (size_t c = 0; c < cmds->n; c++) {
				if (st->rows++ == SUDO_ROWS_MAX)
					inv_error(st->ctx, "sudoers", sm->file, 0,
						  "line %u: more than %d rules; rest skipped",
						  sm->line, SUDO_ROWS_MAX);
				if (st->rows > SUDO_ROWS_MAX)
					return;
				_cleanup_free_ char *user = item_text(&users->v[u]);
				_cleanup_free_ char *host = item_text(&hosts->v[h]);
				json_t *row = inv_row(st->ctx, "sudoers");
				inv_set_str(row, "user", user);
				inv_set_str(row, "host", host);
				inv_set_str(row, "runas", cs->runas);
				inv_set_str(row, "command", cmds->v[c].text);
				inv_set_bool(row, "nopasswd", cs->nopasswd);
				inv_set_bool(row, "negated", cmds->v[c].neg);
				inv_set_str(row, "file", sm->file);
				inv_set_int(row, "line", sm->line);
			}
}

/* "host_list = cmnd_spec, ..." at s; returns 0, or a negative errno (-EINVAL malformed). */
static int host_spec(struct sudo_state *st, const struct stmt *sm, struct scan *s,
		     const struct items *users)
{
	_cleanup_strv_ strv host_words = NULL;
	struct items hosts = { 0 };
	struct cmnd_state cs = { xstrdup("root"), false };
	int r = word_list(s, "=", &host_words);
	if (r == 0)
		r = expand_list(st, ALIAS_HOST, host_words, &hosts);
	skip_ws(s);
	if (r == 0 && *s->p != '=')
		r = -EINVAL;
	if (r == 0)
		s->p++;
	while (r == 0) {
		skip_ws(s);
		if (*s->p == '(')
			r = runas_spec(st, s, &cs.runas);
		if (r < 0)
			break;
		tags_and_options(s, &cs);
		_cleanup_free_ char *cmd = command(s);
		struct items cmds = { 0 };
		r = *cmd ? expand(st, ALIAS_CMND, cmd, false, 0, &cmds) : -EINVAL;
		if (r == 0)
			emit_rows(st, sm, users, &hosts, &cs, &cmds);
		items_free(&cmds);
		if (r < 0 || *s->p != ',')
			break;
		s->p++;
	}
	items_free(&hosts);
	free(cs.runas);
	return r;
}

static void user_spec(struct sudo_state *st, const struct stmt *sm)
{
	_cleanup_free_ char *copy = xstrdup(sm->text);
	_cleanup_strv_ strv user_words = NULL;
	struct scan s = { copy };
	struct items users = { 0 };

	int r = word_list(&s, "=", &user_words);
	if (r == 0)
		r = expand_list(st, ALIAS_USER, user_words, &users);
	while (r == 0) {
		skip_ws(&s);
		r = host_spec(st, sm, &s, &users);
		if (r < 0 || *s.p != ':')
			break;
		s.p++;
	}
	if (r == 0 && *s.p)
		r = -EINVAL;
	if (r < 0)
		spec_error(st, "sudoers", sm, "malformed user specification", r);
	items_free(&users);
}

void collect_sudoers(struct inv_ctx *ctx)
{
	struct sudo_state st = { .ctx = ctx };
	size_t skip;

	for (size_t k = 0; k < ALIAS_KINDS; k++)
		st.aliases[k] = json_object();
	sudo_file(&st, "/etc/sudoers", 0, NULL);

	for (size_t i = 0; i < st.n; i++) {
		int kind = alias_kind_of(st.stmts[i].text, &skip);
		if (kind >= 0)
			alias_stmt(&st, &st.stmts[i], kind, skip);
	}
	for (size_t i = 0; i < st.n; i++)
		if (alias_kind_of(st.stmts[i].text, &skip) < 0 && !defaults_stmt(&st, &st.stmts[i]))
			user_spec(&st, &st.stmts[i]);

	for (size_t i = 0; i < st.n; i++)
		free(st.stmts[i].text);
	free(st.stmts);
	strv_free(st.files);
	for (size_t k = 0; k < ALIAS_KINDS; k++)
		json_decref(st.aliases[k]);
}
