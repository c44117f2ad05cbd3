/* The pam table: every rule line of every service file under /etc/pam.d.
 *
 * A rule is "type control module [arguments]"; a leading '-' on the type (skip silently when
 * the module is missing) is dropped; a control may be a bracketed list with spaces
 * ("[success=1 default=ignore]"); "@include service" (Debian) becomes type and control
 * "include" with the service as module. '#' starts a comment; a backslash at the end of a
 * line continues it. */
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>
#include <sys/stat.h>

#define PAM_FILE_MAX (256 * 1024)
#define PAM_DIR "/etc/pam.d"

/* Returns the next token of *s (a bracketed group counts as one), or NULL at the end. */
static char *next_token(char **s)
{
	char *p = *s;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return NULL;
	char *start = p;
	if (*p == '[') {
		char *close = strchr(p, ']');
		p = close ? close + 1 : p + strlen(p);
	}
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	*s = p;
	return start;
}

static void pam_rule(struct inv_ctx *ctx, const char *service, const char *path, unsigned lineno,
		     char *text)
{
	char *hash = strchr(text, '#');
	if (hash)
		*hash = '\0';
	char *s = text;
	char *type = next_token(&s);
	if (!type)
		return;
	char *control, *module;
	if (strcmp(type, "@include") == 0) {
		type = control = "include";
		module = next_token(&s);
	} else {
		if (*type == '-')
			type++;
		control = next_token(&s);
		module = control ? next_token(&s) : NULL;
	}
	if (!module || !*type) {
		inv_error(ctx, "pam", path, 0, "line %u: expected type, control and module",
			  lineno);
		return;
	}

	struct buf args;
	buf_init(&args, PAM_FILE_MAX);
	for (char *a; (a = next_token(&s));) {
		if (buf_len(&args))
			(void)buf_puts(&args, " ");
		(void)buf_puts(&args, a);
	}
	json_t *row = inv_row(ctx, "pam");
	inv_set_str(row, "service", service);
	inv_set_str(row, "type", type);
	inv_set_str(row, "control", control);
	inv_set_str(row, "module", module);
	inv_set_str(row, "arguments", buf_str(&args));
	inv_set_str(row, "file", path);
	inv_set_int(row, "line", lineno);
	buf_free(&args);
}

static void pam_file(struct inv_ctx *ctx, const char *service, const char *path)
{
	struct buf b;

	buf_init(&b, PAM_FILE_MAX);
	int r = fsroot_read(ctx->root, path, PAM_FILE_MAX, &b);
	if (r < 0) {
		if (r != -ENOENT)
			inv_error(ctx, "pam", path, r, "reading %s", path);
		buf_free(&b);
		return;
	}
	struct line_joiner j;
	line_joiner_init(&j, buf_str(&b), buf_len(&b), PAM_FILE_MAX);
	while ((r = line_joiner_next(&j)) != 0) {
		if (r < 0) {
			inv_error(ctx, "pam", path, 0, "line %u: not text", j.lineno);
			continue;
		}
		_cleanup_free_ char *text = xstrdup(buf_str(&j.text));
		pam_rule(ctx, service, path, j.first, text);
	}
	line_joiner_free(&j);
	buf_free(&b);
}

void collect_pam(struct inv_ctx *ctx)
{
	_cleanup_strv_ strv names = NULL;
	struct stat st;

	int r = fsroot_list(ctx->root, PAM_DIR, &names);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		inv_error(ctx, "pam", PAM_DIR, r, "listing %s", PAM_DIR);
		return;
	}
	for (size_t i = 0; names[i]; i++) {
		if (names[i][0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", PAM_DIR, names[i]);
		if (fsroot_stat(ctx->root, path, true, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		pam_file(ctx, names[i], path);
	}
}
