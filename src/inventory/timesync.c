/* The time_sync table: one row each for chrony, systemd-timesyncd and ntp.
 *
 * installed: the daemon's binary or its configuration file exists. enabled: its unit is
 * enabled (services.h). servers: server and pool lines (chrony, ntp) in file order, or
 * timesyncd's NTP= then FallbackNTP= lists (last assignment wins, as systemd reads them).
 * run_as: chrony's "user" directive, else "-u USER" in the daemon options of
 * /etc/sysconfig/chronyd (OPTIONS) or /etc/default/chrony (DAEMON_OPTS); ntp's "-u USER[:GROUP]"
 * in /etc/default/ntp, /etc/default/ntpsec (NTPD_OPTS) or /etc/sysconfig/ntpd (OPTIONS), else
 * RUNASUSER= of /etc/init.d/ntp. Compiled-in defaults are not guessed: run_as is then absent. */
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "inventory/services.h"
#include "lib/str.h"

#define TS_FILE_MAX (1024 * 1024)
#define TS_FILES_MAX 64 /* chrony files read (includes, confdir, sourcedir) */

static const char *const TABLE = "time_sync";

struct ts_conf {
	struct inv_ctx *ctx;
	strv servers;
	char *user;
	unsigned files;
	bool chrony;
};

static void ts_add_server(struct ts_conf *tc, const char *s)
{
	if (!strv_contains(tc->servers, s))
		strv_push(&tc->servers, s);
}

static void chrony_file(struct ts_conf *tc, const char *path, unsigned depth);

static void chrony_glob(struct ts_conf *tc, const char *pattern, unsigned depth)
{
	_cleanup_strv_ strv paths = NULL;
	int r = fsroot_glob(tc->ctx->root, pattern, &paths);
	if (r < 0) {
		inv_error(tc->ctx, TABLE, pattern, r, "listing %s", pattern);
		return;
	}
	for (size_t i = 0; paths[i]; i++)
		chrony_file(tc, paths[i], depth);
}

/* One directive line of chrony.conf or ntp.conf, split in words. */
static void ts_directive(struct ts_conf *tc, char **w, unsigned depth)
{
	if (!w[0])
		return;
	if ((!strcmp(w[0], "server") || !strcmp(w[0], "pool")) && w[1]) {
		ts_add_server(tc, w[1]);
	} else if (tc->chrony && !strcmp(w[0], "user") && w[1]) {
		free(tc->user);
		tc->user = xstrdup(w[1]);
	} else if (tc->chrony && depth < 4 && w[1] && !strcmp(w[0], "include")) {
		chrony_glob(tc, w[1], depth + 1);
	} else if (tc->chrony && depth < 4 &&
		   (!strcmp(w[0], "confdir") || !strcmp(w[0], "sourcedir"))) {
		const char *ext = w[0][0] == 'c' ? "conf" : "sources";
		for (size_t i = 1; w[i]; i++) {
			_cleanup_free_ char *pattern = xasprintf("%s/*.%s", w[i], ext);
			chrony_glob(tc, pattern, depth + 1);
		}
	}
}

static int ts_file(struct ts_conf *tc, const char *path, unsigned depth)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;

	if (tc->files >= TS_FILES_MAX) {
		inv_error(tc->ctx, TABLE, path, 0, "more than %d files", TS_FILES_MAX);
		return -E2BIG;
	}
	tc->files++;
	int r = cfg_read(tc->ctx, TABLE, path, TS_FILE_MAX, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (!cfg_line_is_text(line, len)) {
			inv_error(tc->ctx, TABLE, path, 0, "line %u is not text", lineno);
			continue;
		}
		_cleanup_free_ char *copy = xstrndup(line, len);
		copy[strcspn(copy, tc->chrony ? "#!;%" : "#")] = '\0';
		_cleanup_strv_ strv w = str_split(copy, " \t\r\f");
		ts_directive(tc, w, depth);
	}
	buf_free(&b);
	return 0;
}

static void chrony_file(struct ts_conf *tc, const char *path, unsigned depth)
{
	ts_file(tc, path, depth);
}

static char *join(char *const *v)
{
	struct buf b;
	buf_init(&b, 65536);
	for (size_t i = 0; v && v[i]; i++)
		if (buf_printf(&b, "%s%s", i ? "," : "", v[i]) < 0)
			break;
	if (!buf_len(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Returns the user of "-u USER[:GROUP]" in variable var of the file at path, or NULL. */
static char *user_option(struct inv_ctx *ctx, const char *path, const char *var)
{
	struct buf b;
	char *user = NULL;
	if (cfg_read(ctx, TABLE, path, TS_FILE_MAX, &b) == 0 &&
	    !memchr(buf_str(&b), 0, buf_len(&b))) {
		_cleanup_free_ char *opts = cfg_shell_var(buf_str(&b), buf_len(&b), var);
		if (opts)
			user = cfg_option_arg(opts, "-u");
		if (!user && !strcmp(var, "RUNASUSER"))
			user = opts ? xstrdup(opts) : NULL;
	}
	buf_free(&b);
	if (user)
		user[strcspn(user, ":")] = '\0';
	if (user && !*user) {
		free(user);
		user = NULL;
	}
	return user;
}

static json_t *ts_row(struct inv_ctx *ctx, const char *name, bool installed, bool enabled,
		      char *const *servers, const char *user)
{
	json_t *row = inv_row(ctx, TABLE);
	_cleanup_free_ char *list = join(servers);
	inv_set_str(row, "name", name);
	inv_set_bool(row, "installed", installed);
	inv_set_bool(row, "enabled", enabled);
	inv_set_str(row, "servers", list);
	inv_set_str(row, "run_as", user);
	return row;
}

static void collect_chrony(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/chronyd", "/sbin/chronyd", NULL };
	static const char *const confs[] = { "/etc/chrony/chrony.conf", "/etc/chrony.conf" };
	static const char *const units[] = { "chrony.service", "chronyd.service", NULL };
	struct ts_conf tc = { .ctx = ctx, .servers = xcalloc(1, sizeof(char *)), .chrony = true };
	bool conf = false;

	for (size_t i = 0; i < ARRAY_SIZE(confs) && !conf; i++)
		conf = ts_file(&tc, confs[i], 0) != -ENOENT;
	if (!tc.user)
		tc.user = user_option(ctx, "/etc/sysconfig/chronyd", "OPTIONS");
	if (!tc.user)
		tc.user = user_option(ctx, "/etc/default/chrony", "DAEMON_OPTS");
	ts_row(ctx, "chrony", conf || cfg_any_exists(ctx, bins), svc_any_enabled(svc, units),
	       tc.servers, tc.user);
	strv_free(tc.servers);
	free(tc.user);
}

/* Applies "NTP=a b" to list: an empty value resets it, later assignments replace it. */
static void timesyncd_file(struct inv_ctx *ctx, const char *path, strv *ntp, strv *fallback)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;

	if (cfg_read(ctx, TABLE, path, TS_FILE_MAX, &b) < 0) {
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (!cfg_line_is_text(line, len)) {
			inv_error(ctx, TABLE, path, 0, "line %u is not text", lineno);
			continue;
		}
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *s = str_trim(copy), *eq = strchr(s, '=');
		if (*s == '#' || *s == ';' || !eq)
			continue;
		*eq = '\0';
		char *key = str_trim(s);
		strv *list = !strcmp(key, "NTP")	   ? ntp
			     : !strcmp(key, "FallbackNTP") ? fallback
							   : NULL;
		if (!list)
			continue;
		strv_free(*list);
		*list = str_split(eq + 1, " \t\r\f");
	}
	buf_free(&b);
}

static void collect_timesyncd(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/lib/systemd/systemd-timesyncd",
					    "/lib/systemd/systemd-timesyncd",
					    "/etc/systemd/timesyncd.conf", NULL };
	_cleanup_strv_ strv files = cfg_systemd_files(ctx, TABLE, "timesyncd.conf");
	_cleanup_strv_ strv ntp = xcalloc(1, sizeof(char *));
	_cleanup_strv_ strv fallback = xcalloc(1, sizeof(char *));

	for (size_t i = 0; files[i]; i++)
		timesyncd_file(ctx, files[i], &ntp, &fallback);
	for (size_t i = 0; fallback[i]; i++)
		if (!strv_contains(ntp, fallback[i]))
			strv_push(&ntp, fallback[i]);
	ts_row(ctx, "systemd-timesyncd", cfg_any_exists(ctx, bins),
	       svc_enabled(svc, "systemd-timesyncd.service"), ntp, NULL);
}

static void collect_ntp(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/ntpd", "/sbin/ntpd", NULL };
	static const char *const confs[] = { "/etc/ntp.conf", "/etc/ntpsec/ntp.conf" };
	static const char *const units[] = { "ntp.service", "ntpd.service", "ntpsec.service",
					     NULL };
	static const struct {
		const char *path, *var;
	} opts[] = {
		{ "/etc/default/ntp", "NTPD_OPTS" },
		{ "/etc/default/ntpsec", "NTPD_OPTS" },
		{ "/etc/sysconfig/ntpd", "OPTIONS" },
		{ "/etc/init.d/ntp", "RUNASUSER" },
	};
	struct ts_conf tc = { .ctx = ctx, .servers = xcalloc(1, sizeof(char *)) };
	bool conf = false;

	for (size_t i = 0; i < ARRAY_SIZE(confs) && !conf; i++)
		conf = ts_file(&tc, confs[i], 0) != -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(opts) && !tc.user; i++)
		tc.user = user_option(ctx, opts[i].path, opts[i].var);
	ts_row(ctx, "ntp", conf || cfg_any_exists(ctx, bins), svc_any_enabled(svc, units),
	       tc.servers, tc.user);
	strv_free(tc.servers);
	free(tc.user);
}

void collect_time_sync(struct inv_ctx *ctx)
{
	_cleanup_(svc_set_freep) struct svc_set *svc = svc_scan(ctx, TABLE);
	collect_chrony(ctx, svc);
	collect_timesyncd(ctx, svc);
	collect_ntp(ctx, svc);
}
