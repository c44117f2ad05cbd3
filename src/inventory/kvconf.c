#include "inventory/kvconf.h"
#include "lib/str.h"

#include <ctype.h>

/* Splits one line into key and value; returns false for blank lines, comments, sections. */
static bool split_line(char *line, enum kv_style style, char **key, char **value)
{
	char *s = str_trim(line);
	if (!*s || *s == '#' || (style == KV_EQUALS && *s == '['))
		return false;
	char *sep = style == KV_EQUALS ? strchr(s, '=') : s + strcspn(s, " \t");
	if (style == KV_EQUALS && !sep)
		return false;
	if (*sep) {
		*sep = '\0';
		*value = str_trim(sep + 1);
	} else
		*value = sep;
	*key = str_trim(s);
	return **key != '\0';
}

void inv_kv_file(struct inv_ctx *ctx, const char *table, const char *path, enum kv_style style)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;

	buf_init(&b, KV_FILE_MAX);
	int r = fsroot_read(ctx->root, path, KV_FILE_MAX, &b);
	if (r == -ENOENT) {
		buf_free(&b);
		return;
	}
	if (r < 0) {
		inv_error(ctx, table, path, r, "reading %s", path);
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (!str_is_text(line, len)) {
			inv_error(ctx, table, path, 0, "line %u is not text", lineno);
			continue;
		}
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *key, *value;
		if (!split_line(copy, style, &key, &value))
			continue;
		json_t *row = inv_row(ctx, table);
		inv_set_str(row, "key", key);
		inv_set_str(row, "value", value);
		inv_set_str(row, "file", path);
		inv_set_int(row, "line", lineno);
	}
	buf_free(&b);
}

void inv_kv_glob(struct inv_ctx *ctx, const char *table, const char *pattern, enum kv_style style)
{
	_cleanup_strv_ strv paths = NULL;
	int r = fsroot_glob(ctx->root, pattern, &paths);
	if (r < 0) {
		inv_error(ctx, table, pattern, r, "listing %s", pattern);
		return;
	}
	for (size_t i = 0; paths[i]; i++)
		inv_kv_file(ctx, table, paths[i], style);
}
