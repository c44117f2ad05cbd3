/* The services table: which units the administrator enabled or masked, read from unit links.
 *
 * Enabled: a link in a NAME.wants/ or NAME.requires/ directory of /etc/systemd/system or
 * /run/systemd/system, with target = NAME. Vendor links under /usr/lib/systemd/system are static
 * dependencies, not enablement, and are not read. Masked: /etc/systemd/system/UNIT or
 * /run/systemd/system/UNIT is a link to /dev/null. An alias link in /etc/systemd/system
 * (sshd.service -> .../ssh.service) of an enabled unit is listed as enabled too. SysV links
 * /etc/rcN.d/SNNname (and /etc/rc.d/rcN.d) count as "name.service" enabled for
 * multi-user.target (N = 2, 3, 4) or graphical.target (N = 5), unless a native unit of that
 * name exists (systemd then ignores the script). Template instances keep their full name. */
#include "inventory/services.h"
#include "inventory/collectors.h"
#include "lib/str.h"

#include <ctype.h>

#define SVC_MAX 16384 /* units listed at most */

struct svc {
	char *name;
	bool enabled, masked;
	strv targets;
	char *target; /* joined targets, built at the end */
};

struct svc_set {
	struct svc *v;
	size_t n, alloc;
};

static const char *const unit_dirs[] = { "/etc/systemd/system", "/run/systemd/system" };
static const char *const native_dirs[] = { "/etc/systemd/system", "/run/systemd/system",
					   "/usr/lib/systemd/system", "/lib/systemd/system" };

static bool is_unit_name(const char *n)
{
	static const char *const suffixes[] = { ".service", ".socket", ".timer",     ".target",
						".mount",   ".path",   ".automount", ".swap",
						".slice",   ".scope",  ".device" };
	if (n[0] == '.' || strchr(n, '/'))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (str_has_suffix(n, suffixes[i]) && strlen(n) > strlen(suffixes[i]))
			return true;
	return false;
}

static struct svc *svc_find(const struct svc_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

static struct svc *svc_get_or_add(struct svc_set *s, const char *name)
{
	struct svc *u = svc_find(s, name);
	if (u || s->n >= SVC_MAX)
		return u;
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 64;
		s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
	}
	u = &s->v[s->n++];
	*u = (struct svc){ .name = xstrdup(name), .targets = xcalloc(1, sizeof(char *)) };
	return u;
}

static void add_enabled(struct svc_set *s, const char *name, const char *target)
{
	struct svc *u = svc_get_or_add(s, name);
	if (!u)
		return;
	u->enabled = true;
	if (!strv_contains(u->targets, target))
		strv_push(&u->targets, target);
}

/* Lists dir; a missing directory is an empty list, other failures are recorded. */
static strv list_dir(struct inv_ctx *ctx, const char *table, const char *dir)
{
	strv names = NULL;
	int r = fsroot_list(ctx->root, dir, &names);
	if (r == -ENOENT || r == -ENOTDIR)
		return xcalloc(1, sizeof(char *));
	if (r < 0) {
		inv_error(ctx, table, dir, r, "listing %s", dir);
		return xcalloc(1, sizeof(char *));
	}
	return names;
}

static void scan_wants(struct inv_ctx *ctx, const char *table, struct svc_set *s, const char *dir,
		       const char *entry)
{
	const char *suffix = str_has_suffix(entry, ".wants") ? ".wants" : ".requires";
	_cleanup_free_ char *target = xstrndup(entry, strlen(entry) - strlen(suffix));
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, entry);
	_cleanup_strv_ strv units = list_dir(ctx, table, path);

	if (!is_unit_name(target))
		return;
	for (size_t i = 0; units[i]; i++)
		if (is_unit_name(units[i]))
			add_enabled(s, units[i], target);
}

/* Reads the unit links of one directory: .wants/.requires, masks, and aliases (into aliases,
 * as "alias\0unit" pairs pushed one after the other). */
static void scan_unit_dir(struct inv_ctx *ctx, const char *table, struct svc_set *s,
			  const char *dir, strv *aliases)
{
	_cleanup_strv_ strv names = list_dir(ctx, table, dir);

	for (size_t i = 0; names[i]; i++) {
		const char *n = names[i];
		if (str_has_suffix(n, ".wants") || str_has_suffix(n, ".requires")) {
			scan_wants(ctx, table, s, dir, n);
			continue;
		}
		if (!is_unit_name(n))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, n);
		_cleanup_free_ char *link = NULL;
		if (fsroot_readlink(ctx->root, path, &link) < 0)
			continue;
		if (strcmp(link, "/dev/null") == 0) {
			struct svc *u = svc_get_or_add(s, n);
			if (u)
				u->masked = true;
			continue;
		}
		const char *slash = strrchr(link, '/');
		const char *base = slash ? slash + 1 : link;
		if (is_unit_name(base) && strcmp(base, n) != 0) {
			strv_push(aliases, n);
			strv_push(aliases, base);
		}
	}
}

static bool native_unit_exists(struct inv_ctx *ctx, const char *unit)
{
	struct stat st;
	for (size_t i = 0; i < ARRAY_SIZE(native_dirs); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", native_dirs[i], unit);
		if (fsroot_stat(ctx->root, p, false, &st) == 0)
			return true;
	}
	return false;
}

static void scan_sysv(struct inv_ctx *ctx, const char *table, struct svc_set *s)
{
	static const struct {
		const char *dir, *target;
	} rc[] = {
		{ "/etc/rc2.d", "multi-user.target" },
		{ "/etc/rc3.d", "multi-user.target" },
		{ "/etc/rc4.d", "multi-user.target" },
		{ "/etc/rc5.d", "graphical.target" },
		{ "/etc/rc.d/rc2.d", "multi-user.target" },
		{ "/etc/rc.d/rc3.d", "multi-user.target" },
		{ "/etc/rc.d/rc4.d", "multi-user.target" },
		{ "/etc/rc.d/rc5.d", "graphical.target" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rc); i++) {
		_cleanup_strv_ strv names = list_dir(ctx, table, rc[i].dir);
		for (size_t j = 0; names[j]; j++) {
			const char *n = names[j];
			if (n[0] != 'S' || !isdigit((unsigned char)n[1]) ||
			    !isdigit((unsigned char)n[2]) || !n[3] || strchr(n + 3, '/'))
				continue;
			_cleanup_free_ char *unit = xasprintf("%s.service", n + 3);
			if (!native_unit_exists(ctx, unit))
				add_enabled(s, unit, rc[i].target);
		}
	}
}

static int cmp_svc(const void *a, const void *b)
{
	return strcmp(((const struct svc *)a)->name, ((const struct svc *)b)->name);
}

static void finish(struct svc_set *s)
{
	sort_array(s->v, s->n, sizeof(*s->v), cmp_svc);
	for (size_t i = 0; i < s->n; i++) {
		struct svc *u = &s->v[i];
		struct buf b;
		if (!u->enabled)
			continue;
		buf_init(&b, 65536);
		for (size_t j = 0; u->targets[j]; j++)
			buf_printf(&b, "%s%s", j ? "," : "", u->targets[j]);
		u->target = buf_steal(&b);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct svc_set *svc_scan(struct inv_ctx *ctx, const char *table)
{
	struct svc_set *s = xcalloc(1, sizeof(*s));
	_cleanup_strv_ strv aliases = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ARRAY_SIZE(unit_dirs); i++)
		scan_unit_dir(ctx, table, s, unit_dirs[i], &aliases);
	scan_sysv(ctx, table, s);
	for (size_t i = 0; aliases[i] && aliases[i + 1]; i += 2) {
		struct svc *real = svc_find(s, aliases[i + 1]);
		if (!real || !real->enabled || svc_find(s, aliases[i]))
			continue;
		_cleanup_strv_ strv targets = xcalloc(1, sizeof(char *));
		for (size_t j = 0; real->targets[j]; j++)
			strv_push(&targets, real->targets[j]);
		for (size_t j = 0; targets[j]; j++)
			add_enabled(s, aliases[i], targets[j]);
	}
	for (size_t i = 0; i < s->n; i++)
		sort_array(s->v[i].targets, strv_len(s->v[i].targets), sizeof(char *), cmp_str);
	finish(s);
	return s;
}

void svc_set_free(struct svc_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		strv_free(s->v[i].targets);
		free(s->v[i].target);
	}
	free(s->v);
	free(s);
}

bool svc_enabled(const struct svc_set *s, const char *unit)
{
	const struct svc *u = svc_find(s, unit);
	return u && u->enabled && !u->masked;
}

bool svc_any_enabled(const struct svc_set *s, const char *const *units)
{
	for (size_t i = 0; units[i]; i++)
		if (svc_enabled(s, units[i]))
			return true;
	return false;
}

size_t svc_count(const struct svc_set *s)
{
	return s->n;
}

void svc_get(const struct svc_set *s, size_t i, const char **name, bool *enabled, bool *masked,
	     const char **target)
{
	*name = s->v[i].name;
	*enabled = s->v[i].enabled;
	*masked = s->v[i].masked;
	*target = s->v[i].target;
}

void collect_services(struct inv_ctx *ctx)
{
	_cleanup_(svc_set_freep) struct svc_set *s = svc_scan(ctx, "services");

	for (size_t i = 0; i < s->n; i++) {
		json_t *row = inv_row(ctx, "services");
		inv_set_str(row, "name", s->v[i].name);
		inv_set_bool(row, "enabled", s->v[i].enabled);
		inv_set_bool(row, "masked", s->v[i].masked);
		inv_set_str(row, "target", s->v[i].target);
	}
}
