/* File sets pushed by the server (pushed_files.h). */
#include "agent/pushed_files.h"
#include "agent/agent_config.h"
#include "policy/catalog.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static bool file_name_ok(enum pushed_set set, const char *name)
{
	size_t n = strlen(name);
	if (n <= 4 || n > 255 || name[0] == '.' || strchr(name, '/') || !str_is_text(name, n))
		return false;
	if (set == PUSHED_ACCESS)
		return strcmp(name, "access.json") == 0 ||
		       (n > 7 && str_has_suffix(name, ".policy"));
	return str_has_suffix(name, ".yml");
}

static int empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && r == 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

static int remove_dir(const char *dir)
{
	int r = empty_dir(dir);
	if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

const char *pushed_set_name(enum pushed_set set)
{
	static const char *const names[PUSHED_SET_COUNT] = { "catalog", "rules", "playbooks",
							     "access" };
	return (unsigned)set < PUSHED_SET_COUNT ? names[set] : "catalog";
}

/* Loads dir as a catalog: what the collector will do with it. */
static int check_catalog(const char *dir, char *err, size_t errsize)
{
	struct catalog *cat = NULL;
	struct catalog_error ce;
	int r = catalog_load(dir, &cat, &ce);
	catalog_free(cat);
	if (r < 0) {
		char msg[1024];
		snprintf(err, errsize, "%s", catalog_error_format(&ce, msg, sizeof(msg)));
		return -EBADMSG;
	}
	return 0;
}

int pushed_files_save(const char *state_dir, enum pushed_set set, const struct pushed_file *files,
		      size_t n, const char *digest, char *err, size_t errsize)
{
	const char *name = pushed_set_name(set);
	_cleanup_free_ char *dir = agent_state_path(state_dir, name);
	_cleanup_free_ char *tmp_name = xasprintf("%s.new", name);
	_cleanup_free_ char *digest_name = xasprintf("%s.digest", name);
	_cleanup_free_ char *tmp = agent_state_path(state_dir, tmp_name);
	_cleanup_free_ char *dp = agent_state_path(state_dir, digest_name);
	for (size_t i = 0; i < n; i++)
		if (!file_name_ok(set, files[i].name)) {
			snprintf(err, errsize, "invalid %s file name", name);
			return -EINVAL;
		}
	int r = remove_dir(tmp);
	if (r < 0 || (mkdir(tmp, 0700) < 0 && (r = -errno) < 0)) {
		snprintf(err, errsize, "cannot create %s: %s", tmp, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *p = agent_state_path(tmp, files[i].name);
		r = file_write_atomic(p, files[i].data, files[i].len, 0600);
		if (r < 0)
			snprintf(err, errsize, "cannot write %s: %s", p, strerror(-r));
	}
	if (r == 0 && set == PUSHED_CATALOG)
		r = check_catalog(tmp, err, errsize);
	if (r < 0) {
		remove_dir(tmp);
		return r;
	}
	/* the old set's digest goes first, so a crash never pairs it with new files */
	unlink(dp);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0)
		remove_dir(tmp);
	else if (rename(tmp, dir) < 0) {
		r = -errno;
		snprintf(err, errsize, "cannot move %s to %s: %s", tmp, dir, strerror(-r));
		return r;
	}
	_cleanup_free_ char *line = xasprintf("%s\n", digest);
	r = file_write_atomic(dp, line, strlen(line), 0600);
	if (r < 0)
		snprintf(err, errsize, "cannot write %s: %s", dp, strerror(-r));
	return r;
}

int pushed_files_current(const char *state_dir, enum pushed_set set, char *digest, size_t size)
{
	const char *name = pushed_set_name(set);
	_cleanup_free_ char *digest_name = xasprintf("%s.digest", name);
	_cleanup_free_ char *dir = agent_state_path(state_dir, name);
	_cleanup_free_ char *dp = agent_state_path(state_dir, digest_name);
	struct buf b = { 0 };
	struct stat st;
	int r = file_read_capped(dp, 256, &b);
	if (r < 0)
		return r;
	_cleanup_free_ char *s = buf_steal(&b);
	char *t = str_trim(s);
	if (!*t || strlen(t) >= size)
		return -EBADMSG;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	snprintf(digest, size, "%s", t);
	return 0;
}
