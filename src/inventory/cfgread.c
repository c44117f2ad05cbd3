#include "inventory/cfgread.h"
#include "lib/str.h"

int cfg_read(struct inv_ctx *ctx, const char *table, const char *path, size_t cap, struct buf *out)
{
	buf_init(out, cap);
	int r = fsroot_read(ctx->root, path, cap, out);
	if (r < 0 && r != -ENOENT)
		inv_error(ctx, table, path, r, "reading %s", path);
	return r;
}

bool cfg_any_exists(struct inv_ctx *ctx, const char *const *paths)
{
	struct stat st;
	for (size_t i = 0; paths[i]; i++)
		if (fsroot_stat(ctx->root, paths[i], true, &st) == 0)
			return true;
	return false;
}

static char *unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

char *cfg_shell_var(const char *text, size_t len, const char *key)
{
	struct cursor c;
	const char *line;
	size_t n;
	char *found = NULL;

	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		_cleanup_free_ char *copy = xstrndup(line, n);
		char *s = str_trim(copy);
		if (str_has_prefix(s, "export "))
			s = str_trim(s + 7);
		char *eq = strchr(s, '=');
		if (*s == '#' || !eq)
			continue;
		*eq = '\0';
		if (strcmp(s, key) != 0)
			continue;
		char *v = eq + 1;
		char *hash = strstr(v, " #");
		if (hash && v[0] != '"' && v[0] != '\'')
			*hash = '\0';
		free(found);
		found = xstrdup(unquote(str_trim(v)));
	}
	return found;
}

char *cfg_option_arg(const char *opts, const char *opt)
{
	_cleanup_strv_ strv w = str_split(opts, " \t");
	size_t n = strlen(opt);
	for (size_t i = 0; w[i]; i++) {
		if (strcmp(w[i], opt) == 0 && w[i + 1])
			return xstrdup(w[i + 1]);
		if (strncmp(w[i], opt, n) == 0 && w[i][n])
			return xstrdup(w[i] + n);
	}
	return NULL;
}

static int cmp_base(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');
	return strcmp(x ? x + 1 : *(char *const *)a, y ? y + 1 : *(char *const *)b);
}

strv cfg_dropin_files(struct inv_ctx *ctx, const char *table, const char *const *dirs, size_t ndirs,
		      const char *pattern)
{
	strv out = xcalloc(1, sizeof(char *));
	_cleanup_strv_ strv seen = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ndirs; i++) {
		_cleanup_free_ char *glob = xasprintf("%s/%s", dirs[i], pattern);
		_cleanup_strv_ strv paths = NULL;
		int r = fsroot_glob(ctx->root, glob, &paths);
		if (r < 0) {
			inv_error(ctx, table, dirs[i], r, "listing %s", dirs[i]);
			continue;
		}
		for (size_t j = 0; paths[j]; j++) {
			const char *base = strrchr(paths[j], '/') + 1;
			if (strv_contains(seen, base))
				continue;
			strv_push(&seen, base);
			strv_push(&out, paths[j]);
		}
	}
	sort_array(out, strv_len(out), sizeof(char *), cmp_base);
	return out;
}

strv cfg_systemd_files(struct inv_ctx *ctx, const char *table, const char *name)
{
	_cleanup_free_ char *etc = xasprintf("/etc/systemd/%s", name);
	_cleanup_free_ char *usr = xasprintf("/usr/lib/systemd/%s", name);
	_cleanup_free_ char *d0 = xasprintf("/etc/systemd/%s.d", name);
	_cleanup_free_ char *d1 = xasprintf("/run/systemd/%s.d", name);
	_cleanup_free_ char *d2 = xasprintf("/usr/local/lib/systemd/%s.d", name);
	_cleanup_free_ char *d3 = xasprintf("/usr/lib/systemd/%s.d", name);
	const char *const dirs[] = { d0, d1, d2, d3 };
	strv out = xcalloc(1, sizeof(char *));
	struct stat st;

	if (fsroot_stat(ctx->root, etc, true, &st) == 0)
		strv_push(&out, etc);
	else if (fsroot_stat(ctx->root, usr, true, &st) == 0)
		strv_push(&out, usr);
	_cleanup_strv_ strv drop = cfg_dropin_files(ctx, table, dirs, ARRAY_SIZE(dirs), "*.conf");
	for (size_t i = 0; drop[i]; i++)
		strv_push(&out, drop[i]);
	return out;
}

bool cfg_line_is_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\f') || ch == 0x7f)
			return false;
	}
	return true;
}
