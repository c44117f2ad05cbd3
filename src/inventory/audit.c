/* The audit_rules table (every rule line of /etc/audit/rules.d/ *.rules, then
 * /etc/audit/audit.rules, each row naming its file and line; "-e 2" and "-D" are rules too) and
 * the auditd_conf table (key = value settings of /etc/audit/auditd.conf). */
#include "inventory/audit.h"
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "inventory/kvconf.h"
#include "lib/str.h"

static const char *const TABLE = "audit_rules";

static char *unquote_dup(const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0])
		return xstrndup(s + 1, n - 2);
	return xstrdup(s);
}

int audit_rule_parse(const char *line, size_t len, char **rule, char **key)
{
	if (!cfg_line_is_text(line, len))
		return -EBADMSG;
	_cleanup_free_ char *copy = xstrndup(line, len);
	char *s = str_trim(copy);
	if (!*s || *s == '#')
		return 0;

	_cleanup_strv_ strv w = str_split(s, " \t\r\f");
	struct buf text, keys;
	buf_init(&text, len + 1);
	buf_init(&keys, len + 1);
	for (size_t i = 0; w[i]; i++) {
		buf_printf(&text, "%s%s", i ? " " : "", w[i]);
		const char *k = NULL;
		if (!strcmp(w[i], "-k") && w[i + 1])
			k = w[i + 1];
		else if (!strcmp(w[i], "-F") && w[i + 1] && str_has_prefix(w[i + 1], "key="))
			k = w[i + 1] + 4;
		else if (str_has_prefix(w[i], "-Fkey="))
			k = w[i] + 6;
		if (k) {
			_cleanup_free_ char *u = unquote_dup(k);
			buf_printf(&keys, "%s%s", buf_len(&keys) ? "," : "", u);
		}
	}
	*rule = buf_steal(&text);
	if (buf_len(&keys))
		*key = buf_steal(&keys);
	else {
		*key = NULL;
		buf_free(&keys);
	}
	return 1;
}

static void rules_file(struct inv_ctx *ctx, const char *path)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0, bad = 0;

	if (cfg_read(ctx, TABLE, path, AUDIT_RULES_MAX, &b) < 0) {
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		char *rule, *key;
		lineno++;
		int r = audit_rule_parse(line, len, &rule, &key);
		if (r < 0 && bad++ == 0)
			inv_error(ctx, TABLE, path, 0, "line %u is not text", lineno);
		if (r <= 0)
			continue;
		json_t *row = inv_row(ctx, TABLE);
		inv_set_str(row, "rule", rule);
		inv_set_str(row, "key", key);
		inv_set_str(row, "file", path);
		inv_set_int(row, "line", lineno);
		free(rule);
		free(key);
	}
	buf_free(&b);
}

void collect_audit(struct inv_ctx *ctx)
{
	_cleanup_strv_ strv paths = NULL;
	int r = fsroot_glob(ctx->root, "/etc/audit/rules.d/*.rules", &paths);
	if (r < 0)
		inv_error(ctx, TABLE, "/etc/audit/rules.d", r, "listing /etc/audit/rules.d");
	for (size_t i = 0; paths && paths[i]; i++)
		rules_file(ctx, paths[i]);
	rules_file(ctx, "/etc/audit/audit.rules");
	inv_kv_file(ctx, "auditd_conf", "/etc/audit/auditd.conf", KV_EQUALS);
}
