/* The firewall table: one row each for nftables, iptables, ufw and firewalld.
 *
 * installed: the front end's binary exists below the root (not the package database, so this
 * collector does not depend on another). enabled: its unit is enabled (services.h); for ufw
 * also ENABLED=yes in /etc/ufw/ufw.conf. Policies are those the saved configuration loads at
 * boot: nftables base filter chains of /etc/nftables.conf (or /etc/sysconfig/nftables.conf)
 * and the files it includes; iptables-save files; ufw's DEFAULT_*_POLICY; firewalld's default
 * zone target (input only). For nftables, a hook's policy is drop when any base filter chain
 * of the ip, ip6 or inet family on it drops, and accept when the configuration parsed but no
 * chain drops (no chain at all filters nothing); include loops, files past the include depth
 * and missing includes are recorded as errors. */
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "inventory/nftconf.h"
#include "inventory/services.h"
#include "lib/str.h"

#define FW_FILE_MAX (1024 * 1024)
#define NFT_FILES_MAX 64 /* files read for one nftables configuration */

static const char *const TABLE = "firewall";

static json_t *fw_row(struct inv_ctx *ctx, const char *name, const char *const *bins)
{
	json_t *row = inv_row(ctx, TABLE);
	inv_set_str(row, "name", name);
	inv_set_bool(row, "installed", cfg_any_exists(ctx, bins));
	return row;
}

/* ---- nftables ---- */

struct nft_walk {
	struct inv_ctx *ctx;
	strv stack; /* files being parsed, outermost first */
	unsigned files;
};

static void nft_read_file(struct nft_parser *p, struct nft_walk *w, const char *path)
{
	struct buf b;
	if (strv_contains(w->stack, path)) {
		inv_error(w->ctx, TABLE, path, -ELOOP, "nftables include loop");
		return;
	}
	if (w->files >= NFT_FILES_MAX) {
		inv_error(w->ctx, TABLE, path, 0, "more than %d nftables files included",
			  NFT_FILES_MAX);
		return;
	}
	w->files++;
	int r = cfg_read(w->ctx, TABLE, path, NFT_CONF_MAX, &b);
	if (r == -ENOENT)
		inv_error(w->ctx, TABLE, path, r, "nftables include");
	if (r < 0) {
		buf_free(&b);
		return;
	}
	strv_push(&w->stack, path);
	r = nft_parse_text(p, buf_str(&b), buf_len(&b));
	free(w->stack[strv_len(w->stack) - 1]);
	w->stack[strv_len(w->stack) - 1] = NULL;
	if (r == -ELOOP)
		inv_error(w->ctx, TABLE, path, r, "nftables includes nested deeper than %d",
			  NFT_INCLUDE_DEPTH);
	else if (r < 0)
		inv_error(w->ctx, TABLE, path, r, "parsing nftables configuration");
	buf_free(&b);
}

static void nft_include(struct nft_parser *p, const char *pattern, void *userdata)
{
	struct nft_walk *w = userdata;
	_cleanup_free_ char *full = NULL;
	_cleanup_strv_ strv paths = NULL;

	if (!*pattern)
		return;
	if (pattern[0] == '/') {
		full = xstrdup(pattern);
	} else {
		/* Relative: beside the including file when it is there, else under /etc. */
		const char *cur = w->stack[strv_len(w->stack) - 1];
		const char *slash = strrchr(cur, '/');
		full = xasprintf("%.*s/%s", (int)(slash - cur), cur, pattern);
		struct stat st;
		if (!strpbrk(pattern, "*?[") && fsroot_stat(w->ctx->root, full, true, &st) < 0) {
			free(full);
			full = xasprintf("/etc/%s", pattern);
		}
	}
	int r = fsroot_glob(w->ctx->root, full, &paths);
	if (r < 0) {
		inv_error(w->ctx, TABLE, full, r, "listing nftables include %s", full);
		return;
	}
	if (!paths[0] && !strpbrk(full, "*?["))
		inv_error(w->ctx, TABLE, full, -ENOENT, "nftables include");
	for (size_t i = 0; paths[i]; i++)
		nft_read_file(p, w, paths[i]);
}

static const char *nft_policy_name(enum nft_policy p)
{
	return p == NFT_POLICY_DROP ? "drop" : "accept";
}

static void collect_nftables(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/nft", "/sbin/nft", NULL };
	static const char *const confs[] = { "/etc/nftables.conf", "/etc/sysconfig/nftables.conf" };
	static const char *const cols[] = { "input_policy", "forward_policy", "output_policy" };
	json_t *row = fw_row(ctx, "nftables", bins);
	inv_set_bool(row, "enabled", svc_enabled(svc, "nftables.service"));

	for (size_t i = 0; i < ARRAY_SIZE(confs); i++) {
		struct buf b;
		int r = cfg_read(ctx, TABLE, confs[i], NFT_CONF_MAX, &b);
		if (r == -ENOENT) {
			buf_free(&b);
			continue;
		}
		inv_set_str(row, "config_file", confs[i]);
		if (r < 0) {
			buf_free(&b);
			return;
		}
		struct nft_walk w = { .ctx = ctx, .stack = xcalloc(1, sizeof(char *)) };
		_cleanup_(nft_parser_freep) struct nft_parser *p = nft_parser_new(nft_include, &w);
		strv_push(&w.stack, confs[i]);
		r = nft_parse_text(p, buf_str(&b), buf_len(&b));
		buf_free(&b);
		strv_free(w.stack);
		if (r < 0) {
			inv_error(ctx, TABLE, confs[i], r, "parsing nftables configuration");
			return;
		}
		for (size_t h = 0; h < NFT_HOOK_COUNT; h++)
			inv_set_str(row, cols[h], nft_policy_name(nft_policy(p, (enum nft_hook)h)));
		return;
	}
}

/* ---- iptables ---- */

/* Reads ":INPUT DROP [0:0]" lines of the *filter table of an iptables-save file. */
static void parse_iptables_save(struct inv_ctx *ctx, json_t *row, const char *path,
				const struct buf *b)
{
	static const struct {
		const char *chain, *column;
	} chains[] = {
		{ "INPUT", "input_policy" },
		{ "FORWARD", "forward_policy" },
		{ "OUTPUT", "output_policy" },
	};
	struct cursor c;
	const char *line;
	size_t len;
	unsigned lineno = 0;
	bool filter = false;

	cursor_init(&c, buf_str(b), buf_len(b));
	while (cursor_get_line(&c, &line, &len) > 0) {
		lineno++;
		if (!str_is_text(line, len)) {
			inv_error(ctx, TABLE, path, 0, "line %u is not text", lineno);
			return;
		}
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *s = str_trim(copy);
		if (*s == '*') {
			filter = strcmp(s, "*filter") == 0;
			continue;
		}
		if (!filter || *s != ':')
			continue;
		_cleanup_strv_ strv w = str_split(s + 1, " \t");
		if (!w[0] || !w[1])
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
			if (strcmp(w[0], chains[i].chain) == 0 && strcmp(w[1], "-") != 0)
				inv_set_str(row, chains[i].column, str_lower(w[1]));
	}
}

static void collect_iptables(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/iptables",
					    "/sbin/iptables",
					    "/usr/sbin/iptables-legacy",
					    "/sbin/iptables-legacy",
					    "/usr/sbin/iptables-nft",
					    "/sbin/iptables-nft",
					    NULL };
	static const char *const units[] = { "netfilter-persistent.service", "iptables.service",
					     NULL };
	static const char *const confs[] = { "/etc/iptables/rules.v4", "/etc/sysconfig/iptables" };
	json_t *row = fw_row(ctx, "iptables", bins);
	inv_set_bool(row, "enabled", svc_any_enabled(svc, units));

	for (size_t i = 0; i < ARRAY_SIZE(confs); i++) {
		struct buf b;
		int r = cfg_read(ctx, TABLE, confs[i], FW_FILE_MAX, &b);
		if (r != -ENOENT) {
			inv_set_str(row, "config_file", confs[i]);
			if (r == 0)
				parse_iptables_save(ctx, row, confs[i], &b);
			buf_free(&b);
			return;
		}
		buf_free(&b);
	}
}

/* ---- ufw ---- */

/* Reads a shell-style variable file: returns 0 with its text in b (the caller's), -ENOENT, or
 * another negative errno (recorded). */
static int read_vars(struct inv_ctx *ctx, const char *path, struct buf *b)
{
	int r = cfg_read(ctx, TABLE, path, FW_FILE_MAX, b);
	if (r == 0 && memchr(buf_str(b), 0, buf_len(b))) {
		inv_error(ctx, TABLE, path, 0, "not a text file");
		r = -EBADMSG;
	}
	return r;
}

static void set_policy_word(json_t *row, const char *column, const char *v)
{
	if (!v)
		return;
	_cleanup_free_ char *lower = str_lower(xstrdup(v));
	if (!strcmp(lower, "drop") || !strcmp(lower, "reject") || !strcmp(lower, "accept"))
		inv_set_str(row, column, lower);
}

static void collect_ufw(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/ufw", "/sbin/ufw", NULL };
	static const struct {
		const char *var, *column;
	} vars[] = {
		{ "DEFAULT_INPUT_POLICY", "input_policy" },
		{ "DEFAULT_FORWARD_POLICY", "forward_policy" },
		{ "DEFAULT_OUTPUT_POLICY", "output_policy" },
	};
	json_t *row = fw_row(ctx, "ufw", bins);
	struct buf b;
	bool on = false;

	if (read_vars(ctx, "/etc/ufw/ufw.conf", &b) == 0) {
		_cleanup_free_ char *v = cfg_shell_var(buf_str(&b), buf_len(&b), "ENABLED");
		on = v && str_case_eq(v, "yes");
	}
	buf_free(&b);
	inv_set_bool(row, "enabled", on && svc_enabled(svc, "ufw.service"));

	int r = read_vars(ctx, "/etc/default/ufw", &b);
	if (r != -ENOENT)
		inv_set_str(row, "config_file", "/etc/default/ufw");
	for (size_t i = 0; i < ARRAY_SIZE(vars) && r == 0; i++) {
		_cleanup_free_ char *v = cfg_shell_var(buf_str(&b), buf_len(&b), vars[i].var);
		set_policy_word(row, vars[i].column, v);
	}
	buf_free(&b);
}

/* ---- firewalld ---- */

/* Returns the target attribute of the <zone> element of a zone file, or NULL. */
static char *zone_target(const char *xml)
{
	const char *z = strstr(xml, "<zone");
	if (!z)
		return NULL;
	const char *end = strchr(z, '>');
	const char *t = strstr(z, "target=");
	if (!t || (end && t > end))
		return NULL;
	t += 7;
	char q = *t;
	if (q != '"' && q != '\'')
		return NULL;
	const char *close = strchr(t + 1, q);
	return close ? xstrndup(t + 1, (size_t)(close - t - 1)) : NULL;
}

static const char *builtin_zone_target(const char *zone)
{
	static const struct {
		const char *zone, *target;
	} zones[] = {
		{ "drop", "DROP" },	   { "block", "%%REJECT%%" }, { "trusted", "ACCEPT" },
		{ "public", "default" },   { "external", "default" }, { "dmz", "default" },
		{ "work", "default" },	   { "home", "default" },     { "internal", "default" },
		{ "nm-shared", "ACCEPT" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++)
		if (strcmp(zones[i].zone, zone) == 0)
			return zones[i].target;
	return NULL;
}

static void set_zone_policy(struct inv_ctx *ctx, json_t *row, const char *zone)
{
	static const char *const dirs[] = { "/etc/firewalld/zones", "/usr/lib/firewalld/zones" };
	_cleanup_free_ char *target = NULL;

	if (!*zone || strchr(zone, '/'))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !target; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s.xml", dirs[i], zone);
		struct buf b;
		if (cfg_read(ctx, TABLE, path, FW_FILE_MAX, &b) == 0) {
			target = zone_target(buf_str(&b));
			if (!target)
				target = xstrdup("default");
		}
		buf_free(&b);
	}
	const char *t = target ? target : builtin_zone_target(zone);
	if (!t)
		return;
	if (!strcmp(t, "ACCEPT"))
		inv_set_str(row, "input_policy", "accept");
	else if (!strcmp(t, "DROP"))
		inv_set_str(row, "input_policy", "drop");
	else /* REJECT, %%REJECT%% and default reject what no service allows */
		inv_set_str(row, "input_policy", "reject");
}

static void collect_firewalld(struct inv_ctx *ctx, const struct svc_set *svc)
{
	static const char *const bins[] = { "/usr/sbin/firewalld", "/sbin/firewalld", NULL };
	static const char *const conf = "/etc/firewalld/firewalld.conf";
	json_t *row = fw_row(ctx, "firewalld", bins);
	inv_set_bool(row, "enabled", svc_enabled(svc, "firewalld.service"));

	struct buf b;
	_cleanup_free_ char *zone = NULL;
	int r = read_vars(ctx, conf, &b);
	if (r == 0)
		zone = cfg_shell_var(buf_str(&b), buf_len(&b), "DefaultZone");
	buf_free(&b);
	if (r != -ENOENT)
		inv_set_str(row, "config_file", conf);
	if (r == 0 || (r == -ENOENT && json_is_true(json_object_get(row, "installed"))))
		set_zone_policy(ctx, row, zone && *zone ? zone : "public");
}

void collect_firewall(struct inv_ctx *ctx)
{
	_cleanup_(svc_set_freep) struct svc_set *svc = svc_scan(ctx, TABLE);
	collect_nftables(ctx, svc);
	collect_iptables(ctx, svc);
	collect_ufw(ctx, svc);
	collect_firewalld(ctx, svc);
}
