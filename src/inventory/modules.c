/* The kernel_modules table: modules loaded (/proc/modules), blacklisted or given an install
 * command in modprobe.d, and whether a module file exists for the running kernel. Rows are
 * the union of those, plus the modules CIS asks about even when nothing mentions them. */
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "inventory/parsers.h"
#include "lib/str.h"

#include <sys/utsname.h>

#define T "kernel_modules"
#define MODULES_FILE_MAX (1024 * 1024)
#define MODPROBE_FILE_MAX (1024 * 1024)
#define MODULES_MAX 20000  /* rows */
#define KO_WALK_MAX 200000 /* entries looked at under /lib/modules/<release>/kernel */
#define KO_DEPTH_MAX 12

/* Modules named by CIS Debian 12 v1.1.0 (1.1.1.x file systems and usb-storage, 3.2.x network
 * protocols) and the other unused file systems its 1.1.1.10 lists. */
static const char *const cis_modules[] = {
	"cramfs", "freevxfs",	 "hfs",	  "hfsplus", "jffs2", "overlay", "squashfs",
	"udf",	  "usb_storage", "dccp",  "tipc",    "rds",   "sctp",	 "afs",
	"ceph",	  "cifs",	 "exfat", "fat",     "vfat",  "gfs2",	 "nfs",
	"nfsv3",  "nfsv4",	 "ubifs", "zonefs",
};

struct module {
	char *name;
	bool loaded, blacklisted;
	char *install;
};

struct modules {
	struct inv_ctx *ctx;
	struct module *v;
	size_t n, alloc;
	bool overflow;
};

static void normalise(char *name)
{
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
}

static struct module *module_get(struct modules *m, const char *raw, const char *path)
{
	_cleanup_free_ char *name = xstrdup(raw);
	normalise(name);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0)
			return &m->v[i];
	if (m->n == MODULES_MAX) {
		if (!m->overflow)
			inv_error(m->ctx, T, path, -E2BIG, "more than %u modules", MODULES_MAX);
		m->overflow = true;
		return NULL;
	}
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 64;
		m->v = xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	m->v[m->n] = (struct module){ .name = name };
	name = NULL;
	return &m->v[m->n++];
}

static void modules_free(struct modules *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].install);
	}
	free(m->v);
}

/* One logical modprobe.d line (continuations joined). */
static void modprobe_line(struct modules *m, const char *path, unsigned lineno, char *text)
{
	_cleanup_strv_ strv w = str_split(text, " \t\r");
	if (!w[0] || w[0][0] == '#' || !w[1])
		return;
	if (strcmp(w[0], "blacklist") == 0) {
		struct module *mod = module_get(m, w[1], path);
		if (mod)
			mod->blacklisted = true;
	} else if (strcmp(w[0], "install") == 0 && w[2]) {
		struct module *mod = module_get(m, w[1], path);
		if (!mod || mod->install) /* the first install line wins, as in kmod */
			return;
		struct buf cmd;
		buf_init(&cmd, MODPROBE_FILE_MAX);
		for (size_t i = 2; w[i]; i++)
			(void)buf_printf(&cmd, "%s%s", i > 2 ? " " : "", w[i]);
		mod->install = buf_steal(&cmd);
	}
}

static void modprobe_text(struct modules *m, const char *path, const char *data, size_t len)
{
	struct line_joiner j;
	int r;

	line_joiner_init(&j, data, len, MODPROBE_FILE_MAX);
	while ((r = line_joiner_next(&j)) > 0) {
		_cleanup_free_ char *text = xstrdup(buf_str(&j.text));
		modprobe_line(m, path, j.first, text);
	}
	if (r < 0) /* a binary file: the rest of it is not read */
		inv_error(m->ctx, T, path, -EBADMSG, "%s:%u: line is not text", path, j.lineno);
	line_joiner_free(&j);
}

/* modprobe.d directories, highest priority first: a file name in an earlier directory hides
 * the same name in later ones; files are then read in name order. */
static void read_modprobe_d(struct modules *m)
{
	static const char *const dirs[] = { "/etc/modprobe.d", "/run/modprobe.d",
					    "/usr/local/lib/modprobe.d", "/lib/modprobe.d",
					    "/usr/lib/modprobe.d" };
	_cleanup_strv_ strv paths = cfg_dropin_files(m->ctx, T, dirs, ARRAY_SIZE(dirs), "*.conf");

	for (size_t i = 0; paths[i]; i++) {
		struct stat st;
		if (fsroot_stat(m->ctx->root, paths[i], true, &st) == 0 && S_ISCHR(st.st_mode))
			continue; /* masked: a link to /dev/null */
		struct buf b;
		buf_init(&b, MODPROBE_FILE_MAX);
		int r = fsroot_read(m->ctx->root, paths[i], MODPROBE_FILE_MAX, &b);
		if (r == 0)
			modprobe_text(m, paths[i], buf_str(&b), buf_len(&b));
		else if (r != -ENOENT)
			inv_error(m->ctx, T, paths[i], r, "reading %s", paths[i]);
		buf_free(&b);
	}
}

static void read_proc_modules(struct modules *m)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t n;

	buf_init(&b, MODULES_FILE_MAX);
	int r = fsroot_read(m->ctx->root, "/proc/modules", MODULES_FILE_MAX, &b);
	if (r < 0) {
		if (r != -ENOENT)
			inv_error(m->ctx, T, "/proc/modules", r, "reading /proc/modules");
		buf_free(&b);
		return;
	}
	cursor_init(&c, buf_str(&b), buf_len(&b));
	while (cursor_get_line(&c, &line, &n) > 0) {
		size_t w = 0;
		while (w < n && line[w] != ' ' && line[w] != '\t')
			w++;
		if (!w)
			continue;
		_cleanup_free_ char *name = xstrndup(line, w);
		if (!str_is_text(name, w)) {
			inv_error(m->ctx, T, "/proc/modules", -EBADMSG, "a line is not text");
			break;
		}
		struct module *mod = module_get(m, name, "/proc/modules");
		if (mod)
			mod->loaded = true;
	}
	buf_free(&b);
}

/* The kernel release whose modules count: the running one on the host; for another root, the
 * only directory under /lib/modules when there is exactly one. */
static char *kernel_release(struct inv_ctx *ctx)
{
	struct utsname u;
	if (fsroot_is_host(ctx->root))
		return uname(&u) == 0 ? xstrdup(u.release) : NULL;
	_cleanup_strv_ strv list = NULL;
	if (fsroot_list(ctx->root, "/lib/modules", &list) < 0 || strv_len(list) != 1)
		return NULL;
	return xstrdup(list[0]);
}

struct ko_walk {
	struct inv_ctx *ctx;
	strv names; /* module names found, normalised */
	unsigned entries;
	bool truncated;
};

static void ko_add(struct ko_walk *w, const char *file)
{
	const char *ko = strstr(file, ".ko");
	if (!ko || ko == file || (ko[3] && ko[3] != '.'))
		return;
	_cleanup_free_ char *name = xstrndup(file, (size_t)(ko - file));
	normalise(name);
	strv_push(&w->names, name);
}

static void ko_walk_dir(struct ko_walk *w, const char *dir, unsigned depth)
{
	DIR *d;
	struct dirent *e;

	if (depth > KO_DEPTH_MAX || fsroot_opendir(w->ctx->root, dir, &d) < 0)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (++w->entries > KO_WALK_MAX) {
			w->truncated = true;
			break;
		}
		if (e->d_type == DT_DIR) {
			_cleanup_free_ char *sub = xasprintf("%s/%s", dir, e->d_name);
			ko_walk_dir(w, sub, depth + 1);
		} else if (e->d_type == DT_REG || e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
			ko_add(w, e->d_name);
		}
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the sorted set of module names available for the kernel (empty on the host when the
 * running kernel has no module directory), or NULL when unknown (another root without exactly
 * one kernel under /lib/modules). */
static strv available_modules(struct inv_ctx *ctx)
{
	_cleanup_free_ char *release = kernel_release(ctx);
	if (!release || strchr(release, '/'))
		return NULL;
	_cleanup_free_ char *dir = xasprintf("/lib/modules/%s/kernel", release);
	struct stat st;
	if (fsroot_stat(ctx->root, dir, true, &st) < 0 || !S_ISDIR(st.st_mode))
		/* the running kernel has no module tree here: nothing can be loaded from it */
		return fsroot_is_host(ctx->root) ? xcalloc(1, sizeof(char *)) : NULL;
	struct ko_walk w = { .ctx = ctx, .names = xcalloc(1, sizeof(char *)) };
	ko_walk_dir(&w, dir, 0);
	if (w.truncated)
		inv_error(ctx, T, dir, -E2BIG, "more than %u entries under %s", KO_WALK_MAX, dir);
	sort_array(w.names, strv_len(w.names), sizeof(char *), cmp_str);
	return w.names;
}

static void emit(struct modules *m, strv avail)
{
	size_t navail = strv_len(avail);
	for (size_t i = 0; i < m->n; i++) {
		const struct module *mod = &m->v[i];
		json_t *row = inv_row(m->ctx, T);
		inv_set_str(row, "name", mod->name);
		inv_set_bool(row, "loaded", mod->loaded);
		inv_set_bool(row, "blacklisted", mod->blacklisted);
		inv_set_str(row, "install_command", mod->install);
		bool disabled = false;
		if (mod->install) {
			size_t w = strcspn(mod->install, " \t");
			static const char *const stops[] = { "/bin/false", "/bin/true",
							     "/usr/bin/false", "/usr/bin/true" };
			for (size_t k = 0; k < ARRAY_SIZE(stops); k++)
				if (strlen(stops[k]) == w && memcmp(mod->install, stops[k], w) == 0)
					disabled = true;
		}
		inv_set_bool(row, "disabled", disabled);
		if (avail)
			inv_set_bool(row, "available",
				     bsearch(&mod->name, avail, navail, sizeof(char *), cmp_str));
	}
}

void modprobe_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len)
{
	struct modules m = { .ctx = ctx };
	modprobe_text(&m, path, data, len);
	emit(&m, NULL);
	modules_free(&m);
}

void collect_kernel_modules(struct inv_ctx *ctx)
{
	struct modules m = { .ctx = ctx };
	_cleanup_strv_ strv avail = NULL;

	read_proc_modules(&m);
	read_modprobe_d(&m);
	for (size_t i = 0; i < ARRAY_SIZE(cis_modules); i++)
		(void)module_get(&m, cis_modules[i], "");
	avail = available_modules(ctx);
	emit(&m, avail);
	modules_free(&m);
}
