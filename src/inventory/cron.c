/* The cron table: /etc/crontab and the files in /etc/cron.d (with a user field), and the user
 * crontabs in /var/spool/cron/crontabs (Debian) and /var/spool/cron (RHEL), where the user is
 * the file name. Comments, blank lines and environment assignments (NAME=value) are skipped.
 * In cron.d, hidden files, editor backups (~) and package manager leftovers (.dpkg-old,
 * .rpmsave, ...) are skipped, as cron itself ignores them. */
#include "inventory/collectors.h"
#include "lib/str.h"

#define CRONTAB_MAX (1024 * 1024)

static const char *const blanks = " \t";

/* Returns true for environment lines "NAME=value" or "NAME = value" (an entry starts with a
 * digit, '*' or '@', never with a letter). */
static bool is_assignment(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' || *s == '"'))
		return false;
	s += strcspn(s, "= \t");
	s += strspn(s, blanks);
	return *s == '=';
}

/* Cuts the next blank-separated field off *s; returns it, or NULL when none is left. */
static char *next_field(char **s)
{
	char *p = *s + strspn(*s, blanks);
	if (!*p)
		return NULL;
	size_t n = strcspn(p, blanks);
	if (p[n]) {
		p[n] = '\0';
		*s = p + n + 1;
	} else
		*s = p + n;
	return p;
}

/* Parses one non-comment line; returns 0 or -EBADMSG when fields are missing. */
static int parse_entry(struct inv_ctx *ctx, const char *file, unsigned lineno, char *s,
		       const char *user)
{
	struct buf sched;
	char *f;
	int r = -EBADMSG;

	buf_init(&sched, 1024);
	if (*s == '@') {
		f = next_field(&s);
		buf_puts(&sched, f);
	} else {
		for (int i = 0; i < 5; i++) {
			f = next_field(&s);
			if (!f || buf_puts(&sched, i ? " " : "") < 0 || buf_puts(&sched, f) < 0)
				goto out;
		}
	}
	if (!user) {
		user = next_field(&s);
		if (!user)
			goto out;
	}
	char *cmd = str_trim(s);
	if (!*cmd)
		goto out;
	json_t *row = inv_row(ctx, "cron");
	inv_set_str(row, "user", user);
	inv_set_str(row, "schedule", buf_str(&sched));
	inv_set_str(row, "command", cmd);
	inv_set_str(row, "file", file);
	inv_set_int(row, "line", lineno);
	r = 0;
out:
	buf_free(&sched);
	return r;
}

void inv_parse_crontab(struct inv_ctx *ctx, const char *file, const char *user, const char *text,
		       size_t len)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;

	cursor_init(&c, text, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		lineno++;
		if (!str_is_text(line, n)) {
			inv_error(ctx, "cron", file, 0, "line %u is not text", lineno);
			continue;
		}
		_cleanup_free_ char *copy = xstrndup(line, n);
		char *s = str_trim(copy);
		if (!*s || *s == '#' || is_assignment(s))
			continue;
		if (parse_entry(ctx, file, lineno, s, user) < 0)
			inv_error(ctx, "cron", file, 0, "line %u: incomplete cron entry", lineno);
	}
}

/* Reads one crontab; user is NULL for system crontabs (user field present). Directories are
 * skipped silently (/var/spool/cron holds the crontabs directory on Debian). */
static void read_crontab(struct inv_ctx *ctx, const char *path, const char *user)
{
	struct buf b;

	buf_init(&b, CRONTAB_MAX);
	int r = fsroot_read(ctx->root, path, CRONTAB_MAX, &b);
	if (r == 0)
		inv_parse_crontab(ctx, path, user, buf_str(&b), buf_len(&b));
	else if (r != -ENOENT && r != -EISDIR)
		inv_error(ctx, "cron", path, r, "reading %s", path);
	buf_free(&b);
}

static bool ignored_name(const char *name)
{
	static const char *const suffixes[] = {
		"~",	    ".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp",
		".rpmsave", ".rpmnew",	 ".rpmorig",   ".swp",
	};
	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (str_has_suffix(name, suffixes[i]))
			return true;
	return false;
}

static void read_dir(struct inv_ctx *ctx, const char *dir, bool user_crontabs)
{
	_cleanup_strv_ strv names = NULL;
	int r = fsroot_list(ctx->root, dir, &names);
	if (r == -ENOENT || r == -ENOTDIR)
		return;
	if (r < 0) {
		inv_error(ctx, "cron", dir, r, "listing %s", dir);
		return;
	}
	for (size_t i = 0; names[i]; i++) {
		if (ignored_name(names[i]))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
		read_crontab(ctx, path, user_crontabs ? names[i] : NULL);
	}
}

void collect_cron(struct inv_ctx *ctx)
{
	read_crontab(ctx, "/etc/crontab", NULL);
	read_dir(ctx, "/etc/cron.d", false);
	read_dir(ctx, "/var/spool/cron/crontabs", true);
	read_dir(ctx, "/var/spool/cron", true);
}
