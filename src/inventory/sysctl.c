/* The sysctl table: kernel parameters at run time (/proc/sys below the root) and as configured
 * in sysctl.conf and sysctl.d, one row per key in the union.
 *
 * Run time: net/ipv4, net/ipv6, kernel, fs and vm are walked; per-interface directories keep
 * only "all" and "default". Write-only parameters (EACCES, EPERM, EIO on read) are skipped
 * silently. Configuration: systemd-sysctl's directories, a file name in an earlier directory
 * hiding the same name in later ones, files applied in name order and /etc/sysctl.conf last
 * (as `sysctl --system` does); the last setting of a key wins and gives file and line. */
#include "inventory/cfgread.h"
#include "inventory/collectors.h"
#include "lib/str.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#define T "sysctl"
#define PROC_SYS "/proc/sys"
#define VALUE_MAX (16 * 1024)
#define CONF_MAX (1024 * 1024)
#define WALK_MAX 50000
#define DEPTH_MAX 8
#define CONF_KEYS_MAX 20000

struct configured {
	char *key, *value, *file;
	unsigned line;
};

struct sysctl_state {
	struct inv_ctx *ctx;
	json_t *index; /* key -> row (borrowed) */
	unsigned entries, unreadable;
	char *value; /* VALUE_MAX + 1 bytes */
	bool truncated;
	struct configured *conf;
	size_t nconf, aconf;
};

/* Folds runs of white space into one space and trims, in place. */
static char *fold(char *s)
{
	char *w = s;
	bool space = false;
	for (char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
			space = w != s;
			continue;
		}
		if (space)
			*w++ = ' ';
		space = false;
		*w++ = *r;
	}
	*w = '\0';
	return s;
}

static bool is_per_interface(const char *rel)
{
	static const char *const dirs[] = { "net/ipv4/conf", "net/ipv6/conf", "net/ipv4/neigh",
					    "net/ipv6/neigh" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (strcmp(rel, dirs[i]) == 0)
			return true;
	return false;
}

/* Opens name (one path component) below the directory dirfd without following symlinks or
 * leaving the directory's mount: with a directory descriptor obtained through fsroot, the walk
 * stays confined below the root while costing one open per entry (fsroot_read resolves the
 * whole path from the root each time, several times slower over a thousand entries). */
static int open_beneath(int dirfd, const char *name, int flags, int *fd)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	long r = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (r < 0)
		return -errno;
	*fd = (int)r;
	return 0;
}

/* Reads a value of at most VALUE_MAX bytes into buf (NUL-terminated); returns its length. */
static ssize_t read_value(int fd, char *buf)
{
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, VALUE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		/* A sysctl value is one read ending in a newline: a short read that ends so is
		 * the whole value, which saves a read per parameter. */
		if (len < VALUE_MAX && buf[len - 1] == '\n')
			break;
		if (len == VALUE_MAX) {
			char extra;
			n = read(fd, &extra, 1);
			if (n != 0)
				return n < 0 ? -errno : -EFBIG;
			break;
		}
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void value_error(struct sysctl_state *s, const char *rel, int err, const char *what)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", PROC_SYS, rel);
	inv_error(s->ctx, T, path, err, "%s %s", what, path);
}

static void runtime_value(struct sysctl_state *s, int dirfd, const char *rel, const char *name,
			  unsigned char type)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t len;

	int r = open_beneath(dirfd, name, O_RDONLY, &fd);
	if (r == 0 && type != DT_REG && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
		r = -EINVAL;
	len = r < 0 ? r : read_value(fd, s->value);
	if (len == -EACCES || len == -EPERM || len == -EIO) {
		s->unreadable++; /* write-only parameters */
		return;
	}
	if (len == -ENOENT) /* gone since listed */
		return;
	if (len < 0) {
		value_error(s, rel, (int)len, "reading");
		return;
	}
	for (ssize_t i = 0; i < len; i++)
		if (s->value[i] == '\n')
			s->value[i] = ' ';
	if (!str_is_text(s->value, (size_t)len)) {
		value_error(s, rel, -EBADMSG, "not text:");
		return;
	}
	_cleanup_free_ char *key = xstrdup(rel);
	for (char *p = key; *p; p++)
		if (*p == '/')
			*p = '.';
	json_t *row = inv_row(s->ctx, T);
	inv_set_str(row, "key", key);
	inv_set_str(row, "runtime_value", fold(s->value));
	json_object_set(s->index, key, row);
}

static int cmp_entry(const void *a, const void *b)
{
	/* entries are "<d_type byte><name>" */
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/* Walks the directory open at fd0 (whose path below /proc/sys is rel); takes fd0. */
static void walk(struct sysctl_state *s, int fd0, const char *rel, unsigned depth)
{
	_cleanup_strv_ strv entries = xcalloc(1, sizeof(char *));
	bool per_if = is_per_interface(rel);
	DIR *d = fdopendir(fd0);
	struct dirent *e;

	if (!d) {
		close(fd0);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (per_if && strcmp(e->d_name, "all") && strcmp(e->d_name, "default"))
			continue;
		if (++s->entries > WALK_MAX) {
			if (!s->truncated)
				inv_error(s->ctx, T, PROC_SYS, -E2BIG, "more than %u entries",
					  WALK_MAX);
			s->truncated = true;
			break;
		}
		strv_push_take(&entries, xasprintf("%c%s", (char)e->d_type, e->d_name));
	}
	sort_array(entries, strv_len(entries), sizeof(char *), cmp_entry);
	for (size_t i = 0; entries[i]; i++) {
		unsigned char type = (unsigned char)entries[i][0];
		const char *name = entries[i] + 1;
		_cleanup_free_ char *sub = xasprintf("%s/%s", rel, name);
		int fd = -1;
		if (type == DT_DIR || type == DT_UNKNOWN) {
			if (depth < DEPTH_MAX &&
			    open_beneath(dirfd(d), name, O_RDONLY | O_DIRECTORY, &fd) == 0) {
				walk(s, fd, sub, depth + 1);
				continue;
			}
			if (type == DT_DIR)
				continue;
		}
		if (type == DT_REG || type == DT_UNKNOWN)
			runtime_value(s, dirfd(d), sub, name, type);
		else
			value_error(s, sub, -EINVAL, "not a regular file:");
	}
	closedir(d);
}

/* systemd: a key whose first separator is '/' uses '/' between components and may hold dots
 * in them (interface names): swap the two. */
static void normalise_key(char *key)
{
	char *sep = strpbrk(key, "./");
	if (!sep || *sep == '.')
		return;
	for (char *p = key; *p; p++)
		*p = *p == '/' ? '.' : *p == '.' ? '/' : *p;
}

static void conf_set(struct sysctl_state *s, const char *key, const char *value, const char *file,
		     unsigned line)
{
	struct configured *c = NULL;
	for (size_t i = 0; i < s->nconf && !c; i++)
		if (strcmp(s->conf[i].key, key) == 0)
			c = &s->conf[i];
	if (!c) {
		if (s->nconf == CONF_KEYS_MAX)
			return;
		if (s->nconf == s->aconf) {
			s->aconf = s->aconf ? s->aconf * 2 : 64;
			s->conf = xrealloc(s->conf, s->aconf * sizeof(*s->conf));
		}
		c = &s->conf[s->nconf++];
		*c = (struct configured){ .key = xstrdup(key) };
	}
	free(c->value);
	free(c->file);
	c->value = xstrdup(value);
	c->file = xstrdup(file);
	c->line = line;
}

static void parse_conf(struct sysctl_state *s, const char *path, const char *data, size_t len)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0) {
		lineno++;
		if (!str_is_text(line, n)) {
			inv_error(s->ctx, T, path, -EBADMSG, "%s:%u: line is not text", path,
				  lineno);
			return;
		}
		_cleanup_free_ char *copy = xstrndup(line, n);
		char *t = str_trim(copy);
		char *eq = strchr(t, '=');
		if (!*t || *t == '#' || *t == ';' || !eq)
			continue;
		*eq = '\0';
		char *key = str_trim(t);
		if (*key == '-')
			key = str_trim(key + 1);
		if (!*key)
			continue;
		normalise_key(key);
		conf_set(s, key, fold(eq + 1), path, lineno);
	}
}

static bool seen_file(struct stat *seen, size_t *nseen, size_t max, const struct stat *st)
{
	for (size_t i = 0; i < *nseen; i++)
		if (seen[i].st_dev == st->st_dev && seen[i].st_ino == st->st_ino)
			return true;
	if (*nseen < max)
		seen[(*nseen)++] = *st;
	return false;
}

static void read_conf_file(struct sysctl_state *s, const char *path)
{
	struct buf b;
	buf_init(&b, CONF_MAX);
	int r = fsroot_read(s->ctx->root, path, CONF_MAX, &b);
	if (r == 0)
		parse_conf(s, path, buf_str(&b), buf_len(&b));
	else if (r != -ENOENT)
		inv_error(s->ctx, T, path, r, "reading %s", path);
	buf_free(&b);
}

static void read_configuration(struct sysctl_state *s)
{
	static const char *const dirs[] = { "/etc/sysctl.d", "/run/sysctl.d",
					    "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
					    "/lib/sysctl.d" };
	_cleanup_strv_ strv paths = cfg_dropin_files(s->ctx, T, dirs, ARRAY_SIZE(dirs), "*.conf");
	struct stat seen[256], st;
	size_t nseen = 0;

	for (size_t i = 0; paths[i]; i++) {
		if (fsroot_stat(s->ctx->root, paths[i], true, &st) == 0 &&
		    (S_ISCHR(st.st_mode) || seen_file(seen, &nseen, ARRAY_SIZE(seen), &st)))
			continue; /* masked (a link to /dev/null) or already read */
		read_conf_file(s, paths[i]);
	}
	/* /etc/sysctl.conf last, unless a sysctl.d link (Debian's 99-sysctl.conf) read it */
	if (fsroot_stat(s->ctx->root, "/etc/sysctl.conf", true, &st) == 0 &&
	    seen_file(seen, &nseen, ARRAY_SIZE(seen), &st))
		return;
	read_conf_file(s, "/etc/sysctl.conf");
}

static void merge(struct sysctl_state *s)
{
	for (size_t i = 0; i < s->nconf; i++) {
		const struct configured *c = &s->conf[i];
		json_t *row = json_object_get(s->index, c->key);
		if (!row) {
			row = inv_row(s->ctx, T);
			inv_set_str(row, "key", c->key);
		}
		inv_set_str(row, "configured_value", c->value);
		inv_set_str(row, "file", c->file);
		inv_set_int(row, "line", c->line);
	}
}

void collect_sysctl(struct inv_ctx *ctx)
{
	static const char *const bases[] = { "net/ipv4", "net/ipv6", "kernel", "fs", "vm" };
	struct sysctl_state s = { .ctx = ctx, .index = json_object() };

	s.value = xmalloc(VALUE_MAX + 1);
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", PROC_SYS, bases[i]);
		int fd;
		int r = fsroot_openat(ctx->root, path, O_RDONLY | O_DIRECTORY, &fd);
		if (r == 0)
			walk(&s, fd, bases[i], 0);
		else if (r != -ENOENT && r != -ENOTDIR)
			inv_error(ctx, T, path, r, "opening %s", path);
	}
	free(s.value);
	read_configuration(&s);
	merge(&s);
	for (size_t i = 0; i < s.nconf; i++) {
		free(s.conf[i].key);
		free(s.conf[i].value);
		free(s.conf[i].file);
	}
	free(s.conf);
	json_decref(s.index);
}
