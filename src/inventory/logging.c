/* The journald_conf table (key = value settings of journald.conf and its drop-ins, in the order
 * systemd reads them; sections skipped) and the rsyslog_conf table (directives of
 * /etc/rsyslog.conf and /etc/rsyslog.d/ *.conf).
 *
 * rsyslog rows: a legacy "$Directive value" line gives key "$Directive"; a RainerScript object
 * "module(load="imtcp")" gives key "module" and the text between its parentheses (possibly over
 * several lines) as value; any other line ("*.* @@remote:514", "if ... then ...") gives its
 * first word (the selector) as key and the rest (the action) as value. White space runs are
 * folded to one space; comments ('#' and '/ *' at a word start outside quotes, up to '* /') are
 * dropped; lines that are only braces are skipped. */
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "inventory/kvconf.h"
#include "lib/str.h"

#include <ctype.h>

#define RSYSLOG_FILE_MAX (1024 * 1024)
#define RSYSLOG_STMT_MAX (64 * 1024) /* bytes of one statement spanning lines */

static const char *const RSYSLOG = "rsyslog_conf";

/* Appends line to b with comments removed, tracking quotes and parenthesis depth. */
static void append_clean(struct buf *b, const char *line, size_t len, int *depth,
			 bool *in_block_comment)
{
	char quote = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = line[i];
		if (*in_block_comment) {
			if (ch == '*' && i + 1 < len && line[i + 1] == '/') {
				*in_block_comment = false;
				i++;
			}
			continue;
		}
		if (quote) {
			if (ch == '\\' && i + 1 < len) {
				char two[2] = { ch, line[i + 1] };
				buf_append(b, two, 2);
				i++;
				continue;
			}
			if (ch == quote)
				quote = 0;
		} else if (ch == '"' || ch == '\'') {
			quote = ch;
		} else if (ch == '#' && (i == 0 || isspace((unsigned char)line[i - 1]))) {
			break;
		} else if (ch == '/' && i + 1 < len && line[i + 1] == '*' &&
			   (i == 0 || isspace((unsigned char)line[i - 1]))) {
			*in_block_comment = true;
			i++;
			continue;
		} else if (ch == '(') {
			(*depth)++;
		} else if (ch == ')' && *depth > 0) {
			(*depth)--;
		}
		buf_append(b, &ch, 1);
	}
	buf_append(b, " ", 1);
}

/* Folds white space runs to one space, in place. */
static char *fold(char *s)
{
	char *w = s;
	bool space = false;
	for (char *r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			space = true;
			continue;
		}
		if (space && w != s)
			*w++ = ' ';
		space = false;
		*w++ = *r;
	}
	*w = '\0';
	return s;
}

/* Returns the index of the ')' closing the '(' at open, or 0 when it is not closed. */
static size_t closing_paren(const char *s, size_t open)
{
	int depth = 0;
	char quote = 0;
	for (size_t i = open; s[i]; i++) {
		if (quote) {
			if (s[i] == '\\' && s[i + 1])
				i++;
			else if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'')
			quote = s[i];
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i;
	}
	return 0;
}

static void rsyslog_row(struct inv_ctx *ctx, const char *path, unsigned lineno, char *stmt)
{
	char *s = fold(str_trim(stmt));
	if (!*s || strspn(s, "{} ") == strlen(s))
		return;
	size_t word = strcspn(s, " (");
	const char *key, *value;
	_cleanup_free_ char *k = NULL, *v = NULL;

	if (s[0] != '$' && s[word] == '(' && word > 0 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.") == word) {
		size_t close = closing_paren(s, word);
		k = xstrndup(s, word);
		v = close ? xstrndup(s + word + 1, close - word - 1) : xstrdup(s + word + 1);
		key = k;
		value = str_trim(v);
	} else {
		word = strcspn(s, " ");
		k = xstrndup(s, word);
		key = k;
		value = str_trim(s + word);
	}
	json_t *row = inv_row(ctx, RSYSLOG);
	inv_set_str(row, "key", key);
	inv_set_str(row, "value", value);
	inv_set_str(row, "file", path);
	inv_set_int(row, "line", lineno);
}

static void rsyslog_file(struct inv_ctx *ctx, const char *path)
{
	struct buf b, stmt;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0, start = 0;
	int depth = 0;
	bool comment = false;

	if (cfg_read(ctx, RSYSLOG, path, RSYSLOG_FILE_MAX, &b) < 0) {
		buf_free(&b);
		return;
	}
	buf_init(&stmt, RSYSLOG_STMT_MAX);
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (!cfg_line_is_text(line, len)) {
			inv_error(ctx, RSYSLOG, path, 0, "line %u is not text", lineno);
			buf_reset(&stmt);
			depth = 0;
			continue;
		}
		if (!buf_len(&stmt))
			start = lineno;
		append_clean(&stmt, line, len, &depth, &comment);
		if (buf_len(&stmt) >= RSYSLOG_STMT_MAX - 1024) {
			inv_error(ctx, RSYSLOG, path, -EMSGSIZE, "statement at line %u", start);
			buf_reset(&stmt);
			depth = 0;
			continue;
		}
		if (depth > 0)
			continue;
		_cleanup_free_ char *s = xstrndup(buf_str(&stmt), buf_len(&stmt));
		rsyslog_row(ctx, path, start, s);
		buf_reset(&stmt);
	}
	if (buf_len(&stmt)) {
		_cleanup_free_ char *s = xstrndup(buf_str(&stmt), buf_len(&stmt));
		rsyslog_row(ctx, path, start, s);
	}
	buf_free(&stmt);
	buf_free(&b);
}

void collect_logging(struct inv_ctx *ctx)
{
	_cleanup_strv_ strv files = cfg_systemd_files(ctx, "journald_conf", "journald.conf");
	for (size_t i = 0; files[i]; i++)
		inv_kv_file(ctx, "journald_conf", files[i], KV_EQUALS);

	rsyslog_file(ctx, "/etc/rsyslog.conf");
	_cleanup_strv_ strv paths = NULL;
	int r = fsroot_glob(ctx->root, "/etc/rsyslog.d/*.conf", &paths);
	if (r < 0)
		inv_error(ctx, RSYSLOG, "/etc/rsyslog.d", r, "listing /etc/rsyslog.d");
	for (size_t i = 0; paths && paths[i]; i++)
		rsyslog_file(ctx, paths[i]);
}
