/* Fix actions (docs/actions-files.md): apply-fix (the typed fixes of docs/catalog.md),
 * disable-service and disable-cron.
 *
 * Every file they rewrite is read capped (ACT_FILE_MAX), edited on a buffer (act_edit.c),
 * and replaced atomically with its mode and owner; the previous content is kept under the
 * quarantine directory so that rollback puts it back. Programs (sshd -t, systemctl) run
 * through act_run: no shell, a clean environment, a timeout. */
#include "respond/act_edit.h"

#include "lib/fileio.h"
#include "lib/str.h"

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#define FIX_FIELD_MAX 1024
#define SYSCTL_DEFAULT_FILE "/etc/sysctl.d/60-immune.conf"
#define SSHD "/usr/sbin/sshd"
#define RUN_TIMEOUT_MS 3000
#define SYSTEMCTL_TIMEOUT_MS 8000 /* within the executor client's wait (EXEC_TIMEOUT_MS) */

/* ---- parsing a fix ---- */

enum { REQ = 1 };

static const struct fix_type {
	const char *type;
	const char *fields[5];
	unsigned required; /* bit i: fields[i] must be present */
	bool manual;	   /* never applied automatically */
} fix_types[] = {
	{ "config_set", { "file", "key", "value", "separator", "section" }, 0x7, false },
	{ "sysctl_set", { "key", "value", "file" }, 0x3, false },
	{ "file_mode", { "path", "mode", "owner", "group" }, 0x1, false },
	{ "module_disable", { "module" }, 0x1, false },
	{ "service_disable", { "service" }, 0x1, false },
	{ "service_enable", { "service" }, 0x1, false },
	{ "package_remove", { "package" }, 0x1, true },
	{ "mount_option", { "mount_point", "option" }, 0x3, true },
	{ "account_lock", { NULL }, 0, true },
};

static const struct fix_type *fix_type(const char *type)
{
	for (size_t i = 0; type && i < ARRAY_SIZE(fix_types); i++)
		if (!strcmp(fix_types[i].type, type))
			return &fix_types[i];
	return NULL;
}

static int fix_err(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static int fix_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fix_fields_ok(const json_t *fix, const struct fix_type *t, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)fix, k, v) {
		if (!strcmp(k, "type"))
			continue;
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(t->fields) && t->fields[i]; i++)
			known |= !strcmp(k, t->fields[i]);
		if (!known)
			return fix_err(err, errlen, "%s: unknown field '%.64s'", t->type, k);
		const char *s = json_string_value(v);
		if (!s || strlen(s) > FIX_FIELD_MAX || !str_is_text(s, strlen(s)))
			return fix_err(err, errlen,
				       "%s: field '%s' must be one line of at most %u bytes",
				       t->type, k, FIX_FIELD_MAX);
	}
	for (size_t i = 0; i < ARRAY_SIZE(t->fields) && t->fields[i]; i++)
		if ((t->required & (1u << i)) && !json_object_get(fix, t->fields[i]))
			return fix_err(err, errlen, "%s: field '%s' is required", t->type,
				       t->fields[i]);
	return 0;
}

int act_fix_parse(const char *json, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	size_t n = json ? strnlen(json, ACTION_MAX_FIX + 1) : 0;

	if (n == 0 || n > ACTION_MAX_FIX)
		return fix_err(err, errlen, "the fix must be 1 to %u bytes of JSON",
			       ACTION_MAX_FIX);
	json_t *fix = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(fix)) {
		json_decref(fix);
		return fix_err(err, errlen, "the fix is not a JSON object");
	}
	const struct fix_type *t = fix_type(json_string_value(json_object_get(fix, "type")));
	int r = t ? fix_fields_ok(fix, t, err, errlen)
		  : fix_err(err, errlen, "the fix has no known \"type\"");
	if (r < 0) {
		json_decref(fix);
		return r;
	}
	*out = fix;
	return 0;
}

static const char *fs(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- shared steps ---- */

static bool sshd_file(const char *f)
{
	return !strcmp(f, "/etc/ssh/sshd_config") || str_has_prefix(f, "/etc/ssh/sshd_config.d/");
}

/* Refuses a file a fix may not rewrite. Returns 0 when it may. */
static enum act_status file_refused(const char *kn, const char *f, const struct act_ctx *ctx,
				    struct act_result *res)
{
	if (!act_path_normal(f))
		return act_set(res, ACT_REFUSED, "%s: '%.128s' is not an absolute normalized path",
			       kn, f);
	if (act_path_virtual(f))
		return act_set(res, ACT_REFUSED, "%s: %s is under /proc, /sys, /dev or /run", kn,
			       f);
	const char *why = act_path_protected(f, ctx->state_dir);
	if (why)
		return act_set(res, ACT_REFUSED, "%s: %s is protected (%s)", kn, f, why);
	return 0;
}

/* Reads f for an edit: a missing file reads as empty, owned by root, 0644. */
static enum act_status read_for_edit(const char *kn, const char *f, struct buf *cur,
				     struct stat *st, bool *existed, struct act_result *res)
{
	int r = act_file_read(f, cur, st);
	*existed = r == 0;
	if (r == -ENOENT) {
		buf_free(cur);
		buf_init(cur, 1);
		*st = (struct stat){ .st_mode = S_IFREG | 0644 };
		return 0;
	}
	if (r == -ELOOP)
		return act_set(res, ACT_REFUSED, "%s: %s is reached through a symlink", kn, f);
	if (r == -EINVAL)
		return act_set(res, ACT_REFUSED, "%s: %s is not a regular file", kn, f);
	if (r == -EFBIG)
		return act_set(res, ACT_REFUSED, "%s: %s is larger than %u bytes", kn, f,
			       ACT_FILE_MAX);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: reading %s: %s", kn, f, strerror(-r));
	return 0;
}

/* Keeps the current f, writes out over it and records the new hash in undo. */
static enum act_status replace_kept(const struct act_ctx *ctx, const char *kn, const char *f,
				    const struct buf *cur, const struct stat *st, bool existed,
				    const struct buf *out, json_t *undo, struct act_result *res)
{
	char hex[ACT_SHA_HEX];
	int r = act_keep_before(ctx, f, cur, st, existed, undo);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: keeping the current %s: %s", kn, f,
			       strerror(-r));
	act_sha256_mem(buf_str(out), buf_len(out), hex);
	json_object_set_new(undo, "after_sha256", json_string(hex));
	r = act_file_replace(f, buf_str(out), buf_len(out), st->st_mode & 07777, st->st_uid,
			     st->st_gid);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: writing %s: %s", kn, f, strerror(-r));
	return 0;
}

static void first_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

/* ---- sshd ---- */

/* Checks content as an sshd configuration (sshd -t -f). Returns 0 when sshd accepts it. */
static int sshd_check(const struct act_ctx *ctx, const struct buf *content, char *out,
		      size_t outlen)
{
	if (access(SSHD, X_OK) < 0) {
		snprintf(out, outlen, "%s is missing", SSHD);
		return -ENOENT;
	}
	if (mkdir(ctx->state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_free_ char *tmp = xasprintf("%s/sshd-check-%s.conf", ctx->state_dir, ctx->uid);
	int r = act_file_replace(tmp, buf_str(content), buf_len(content), 0600, 0, 0);
	if (r < 0)
		return r;
	const char *argv[] = { SSHD, "-t", "-f", tmp, NULL };
	r = act_run(argv, RUN_TIMEOUT_MS, out, outlen);
	unlink(tmp);
	first_line(out);
	return r == 0 ? 0 : -EINVAL;
}

/* Checks a drop-in's new content with the whole configuration before it is put in place
 * (a drop-in holds no host keys, so it cannot be checked alone): a copy of the main file
 * that first includes the candidate goes through sshd -t. Checking it in place instead
 * would leave a window in which an sshd re-executing from an earlier reload reads a bad
 * file and exits. Returns 0 when sshd accepts it. */
int act_sshd_check_dropin(const struct act_ctx *ctx, const char *main_config,
			  const struct buf *content, char *out, size_t outlen)
{
	_cleanup_(buf_free) struct buf main_conf = { 0 };
	_cleanup_(buf_free) struct buf combined = { 0 };
	int r;

	buf_init(&main_conf, ACT_FILE_MAX);
	buf_init(&combined, 2 * ACT_FILE_MAX + PATH_MAX);
	if ((r = act_file_read(main_config, &main_conf, NULL)) < 0) {
		snprintf(out, outlen, "reading %s: %s", main_config, strerror(-r));
		return r;
	}
	if (mkdir(ctx->state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_free_ char *cand = xasprintf("%s/sshd-check-%s.d.conf", ctx->state_dir, ctx->uid);
	if ((r = act_file_replace(cand, buf_str(content), buf_len(content), 0600, 0, 0)) < 0)
		return r;
	if (buf_printf(&combined, "Include %s\n", cand) < 0 ||
	    buf_append(&combined, buf_str(&main_conf), buf_len(&main_conf)) < 0) {
		unlink(cand);
		return -EFBIG;
	}
	r = sshd_check(ctx, &combined, out, outlen);
	unlink(cand);
	return r;
}

static const char *systemctl_path(void)
{
	return access("/usr/bin/systemctl", X_OK) == 0 ? "/usr/bin/systemctl" : "/bin/systemctl";
}

static bool have_systemd(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

/* True when process pid handles SIGHUP now (SigCgt in /proc/PID/status). */
static bool sighup_handled(pid_t pid)
{
	_cleanup_(buf_free) struct buf st = { 0 };
	_cleanup_free_ char *path = xasprintf("/proc/%d/status", (int)pid);
	uint64_t mask;

	buf_init(&st, 4096);
	if (file_read_capped(path, 4096, &st) < 0)
		return false;
	const char *c = strstr(buf_str(&st), "\nSigCgt:");
	if (!c)
		return false;
	c += strlen("\nSigCgt:");
	c += strspn(c, " \t");
	char hex[17];
	size_t n = strspn(c, "0123456789abcdef");
	if (n == 0 || n >= sizeof(hex))
		return false;
	memcpy(hex, c, n);
	hex[n] = '\0';
	return parse_u64(hex, 16, UINT64_MAX, &mask) == 0 && (mask >> (SIGHUP - 1)) & 1;
}

/* sshd re-executes itself on SIGHUP, and until the new image installs its handler a second
 * SIGHUP would end it: waits (at most SSHD_READY_MS) until it handles SIGHUP again. */
#define SSHD_READY_MS 3000
static bool sshd_ready_for_sighup(pid_t pid)
{
	for (int waited = 0; waited < SSHD_READY_MS; waited += 10) {
		if (sighup_handled(pid))
			return true;
		if (kill(pid, 0) < 0)
			return false;
		usleep(10000);
	}
	return false;
}

/* Asks sshd to reread its configuration: SIGHUP to the pid in /run/sshd.pid when it is an
 * sshd that handles SIGHUP (never one that is still re-executing from a previous reload,
 * which the signal would end), else systemctl reload. Writes what was done to how. */
int act_sshd_reload(const char *pid_file, char *how, size_t howlen)
{
	_cleanup_(buf_free) struct buf pidf = { 0 };
	_cleanup_(buf_free) struct buf comm = { 0 };
	int64_t pid;

	buf_init(&pidf, 32);
	buf_init(&comm, 64);
	if (file_read_capped(pid_file, 32, &pidf) == 0) {
		_cleanup_free_ char *s = xstrdup(buf_str(&pidf));
		if (parse_i64(str_trim(s), 2, INT32_MAX, &pid) == 0) {
			_cleanup_free_ char *cp = xasprintf("/proc/%lld/comm", (long long)pid);
			if (file_read_capped(cp, 64, &comm) == 0 &&
			    str_has_prefix(buf_str(&comm), "sshd") &&
			    sshd_ready_for_sighup((pid_t)pid) && kill((pid_t)pid, SIGHUP) == 0) {
				snprintf(how, howlen, "SIGHUP to sshd %lld", (long long)pid);
				return 0;
			}
		}
	}
	if (!have_systemd() || strcmp(pid_file, ACT_SSHD_PID_FILE) != 0) {
		/* systemd's unit is the host's sshd, not the one of another pid file */
		snprintf(how, howlen, "no running sshd found to reload");
		return -ESRCH;
	}
	static const char *const units[] = { "ssh.service", "sshd.service" };
	char out[256];
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		const char *argv[] = { systemctl_path(), "reload", units[i], NULL };
		if (act_run(argv, SYSTEMCTL_TIMEOUT_MS, out, sizeof(out)) == 0) {
			snprintf(how, howlen, "systemctl reload %s", units[i]);
			return 0;
		}
	}
	first_line(out);
	snprintf(how, howlen, "reload failed: %.200s", out);
	return -EIO;
}

/* ---- config_set ---- */

static void fix_kv(const json_t *fix, struct act_kv *kv, const char *default_sep)
{
	*kv = (struct act_kv){ .key = fs(fix, "key"),
			       .value = fs(fix, "value"),
			       .sep = fs(fix, "separator") ? fs(fix, "separator") : default_sep,
			       .section = fs(fix, "section") };
}

static enum act_status config_apply(const struct act_ctx *ctx, const json_t *fix, json_t *undo,
				    struct act_result *res)
{
	const char *kn = "apply-fix config_set", *f = fs(fix, "file");
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf out = { 0 };
	struct act_kv kv;
	struct stat st;
	bool existed;
	char err[256], run[512];
	int r;

	if (file_refused(kn, f, ctx, res))
		return res->status;
	fix_kv(fix, &kv, " ");
	if (act_kv_check(&kv, err, sizeof(err)) < 0)
		return act_set(res, ACT_REFUSED, "%s: %s", kn, err);
	if (read_for_edit(kn, f, &cur, &st, &existed, res))
		return res->status;
	r = act_kv_set(buf_str(&cur), buf_len(&cur), &kv, &out);
	if (r < 0)
		return act_set(res, ACT_REFUSED, "%s: %s cannot be edited: %s", kn, f,
			       r == -EMEDIUMTYPE ? "it is not text" : strerror(-r));
	if (r == 0) {
		json_object_set_new(undo, "unchanged", json_true());
		return act_set(res, ACT_VERIFIED, "%s: %s already sets %s", kn, f, kv.key);
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would set %s to '%.128s' in %s", kn, kv.key,
			       kv.value, f);
	/* The new content is checked before it replaces the file: the main file as a copy, a
	 * drop-in with a copy of the main file that includes it (sshd_check_dropin). */
	bool sshd = sshd_file(f), dropin = sshd && strcmp(f, "/etc/ssh/sshd_config");
	if (sshd && access(SSHD, X_OK) < 0)
		return act_set(res, ACT_REFUSED, "%s: %s cannot be checked: %s is missing", kn, f,
			       SSHD);
	if (sshd &&
	    (dropin ? act_sshd_check_dropin(ctx, "/etc/ssh/sshd_config", &out, run, sizeof(run))
		    : sshd_check(ctx, &out, run, sizeof(run))) < 0)
		return act_set(res, ACT_REFUSED, "%s: sshd refuses the new %s: %.200s", kn, f, run);
	if (replace_kept(ctx, kn, f, &cur, &st, existed, &out, undo, res))
		return res->status;
	res->detail = json_pack("{s:s, s:s, s:s}", "file", f, "key", kv.key, "value", kv.value);
	if (!sshd)
		return act_set(res, ACT_VERIFIED, "%s: %s set to '%.128s' in %s", kn, kv.key,
			       kv.value, f);
	r = act_sshd_reload(ACT_SSHD_PID_FILE, run, sizeof(run));
	json_object_set_new(res->detail, "reload", json_string(run));
	return act_set(res, ACT_VERIFIED, "%s: %s set to '%.128s' in %s; %s", kn, kv.key, kv.value,
		       f, run);
}

static enum act_status config_verify(const json_t *fix, struct act_result *res)
{
	const char *kn = "apply-fix config_set", *f = fs(fix, "file");
	_cleanup_(buf_free) struct buf cur = { 0 };
	struct act_kv kv;
	char val[FIX_FIELD_MAX + 1];

	fix_kv(fix, &kv, " ");
	int r = act_file_read(f, &cur, NULL);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: reading %s: %s", kn, f, strerror(-r));
	r = act_kv_get(buf_str(&cur), buf_len(&cur), &kv, val, sizeof(val));
	if (r <= 0)
		return act_set(res, ACT_FAILED, "%s: %s does not set %s", kn, f, kv.key);
	if (strcmp(val, kv.value))
		return act_set(res, ACT_FAILED, "%s: %s sets %s to '%.128s'", kn, f, kv.key, val);
	return act_set(res, ACT_VERIFIED, "%s: %s sets %s to '%.128s'", kn, f, kv.key, val);
}

/* ---- sysctl_set ---- */

static bool sysctl_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 128 || k[0] == '.' || k[0] == '/' || strstr(k, "..") || strstr(k, "//"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && !strchr("_.-/", k[i]))
			return false;
	return true;
}

static char *sysctl_proc_path(const char *key)
{
	char *p = xasprintf("/proc/sys/%s", key);
	if (!strchr(key, '/'))
		for (char *c = p + strlen("/proc/sys/"); *c; c++)
			if (*c == '.')
				*c = '/';
	return p;
}

/* Collapses runs of white space to one space and drops it at both ends, in place. */
static char *collapse(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			if (w != s && w[-1] != ' ')
				*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	if (w != s && w[-1] == ' ')
		w--;
	*w = '\0';
	return s;
}

static int sysctl_read(const char *proc, char *val, size_t len)
{
	_cleanup_close_ int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, val, len - 1);
	if (n < 0)
		return -errno;
	val[n] = '\0';
	collapse(val);
	return 0;
}

static int sysctl_write(const char *proc, const char *val)
{
	_cleanup_close_ int fd = open(proc, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t n = strlen(val);
	ssize_t w = write(fd, val, n);
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

static const char *sysctl_file(const json_t *fix)
{
	return fs(fix, "file") ? fs(fix, "file") : SYSCTL_DEFAULT_FILE;
}

static enum act_status sysctl_apply(const struct act_ctx *ctx, const json_t *fix, json_t *undo,
				    struct act_result *res)
{
	const char *kn = "apply-fix sysctl_set", *key = fs(fix, "key"), *f = sysctl_file(fix);
	_cleanup_free_ char *proc = NULL;
	_cleanup_free_ char *want = NULL;
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf out = { 0 };
	struct act_kv kv = { .key = key, .value = fs(fix, "value"), .sep = " = " };
	char err[256], now[4096];
	struct stat st;
	bool existed;
	int r;

	if (!sysctl_key_ok(key))
		return act_set(res, ACT_REFUSED, "%s: '%.128s' is not a kernel parameter name", kn,
			       key);
	if (act_kv_check(&kv, err, sizeof(err)) < 0)
		return act_set(res, ACT_REFUSED, "%s: %s", kn, err);
	if (!str_has_suffix(f, ".conf"))
		return act_set(res, ACT_REFUSED, "%s: the file %.128s must end in .conf", kn, f);
	if (file_refused(kn, f, ctx, res))
		return res->status;
	proc = sysctl_proc_path(key);
	r = sysctl_read(proc, now, sizeof(now));
	if (r < 0)
		return act_set(res, r == -ENOENT ? ACT_REFUSED : ACT_FAILED, "%s: %s: %s", kn, proc,
			       r == -ENOENT ? "no such kernel parameter" : strerror(-r));
	if (read_for_edit(kn, f, &cur, &st, &existed, res))
		return res->status;
	r = act_kv_set(buf_str(&cur), buf_len(&cur), &kv, &out);
	if (r < 0)
		return act_set(res, ACT_REFUSED, "%s: %s cannot be edited: %s", kn, f,
			       strerror(-r));
	want = collapse(xstrdup(kv.value));
	json_object_set_new(undo, "key", json_string(key));
	json_object_set_new(undo, "previous", json_string(now));
	if (r == 0 && !strcmp(now, want)) {
		json_object_set_new(undo, "unchanged", json_true());
		return act_set(res, ACT_VERIFIED, "%s: %s is already %s and persisted in %s", kn,
			       key, now, f);
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN,
			       "%s: would set %s from %s to %s and persist it in %s", kn, key, now,
			       kv.value, f);
	r = sysctl_write(proc, kv.value);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: writing %s: %s", kn, proc, strerror(-r));
	if (replace_kept(ctx, kn, f, &cur, &st, existed, &out, undo, res)) {
		sysctl_write(proc, now);
		return res->status;
	}
	res->detail = json_pack("{s:s, s:s, s:s, s:s}", "key", key, "value", kv.value, "previous",
				now, "file", f);
	return act_set(res, ACT_VERIFIED, "%s: %s set from %s to %s and persisted in %s", kn, key,
		       now, kv.value, f);
}

static enum act_status sysctl_verify(const json_t *fix, struct act_result *res)
{
	const char *kn = "apply-fix sysctl_set", *key = fs(fix, "key"), *f = sysctl_file(fix);
	_cleanup_free_ char *proc = sysctl_proc_path(key);
	_cleanup_free_ char *want = collapse(xstrdup(fs(fix, "value")));
	_cleanup_(buf_free) struct buf cur = { 0 };
	struct act_kv kv = { .key = key, .sep = " = " };
	char now[4096], val[FIX_FIELD_MAX + 1];

	int r = sysctl_read(proc, now, sizeof(now));
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: reading %s: %s", kn, proc, strerror(-r));
	if (strcmp(now, want))
		return act_set(res, ACT_FAILED, "%s: %s is %s, not %s", kn, key, now, want);
	r = act_file_read(f, &cur, NULL);
	if (r < 0 || act_kv_get(buf_str(&cur), buf_len(&cur), &kv, val, sizeof(val)) <= 0 ||
	    strcmp(collapse(val), want))
		return act_set(res, ACT_FAILED, "%s: %s is %s but %s does not persist it", kn, key,
			       now, f);
	return act_set(res, ACT_VERIFIED, "%s: %s is %s and persisted in %s", kn, key, now, f);
}

static enum act_status sysctl_rollback(const struct act_ctx *ctx, const json_t *fix,
				       const json_t *undo, struct act_result *res)
{
	const char *kn = "apply-fix sysctl_set", *prev = fs(undo, "previous");
	_cleanup_free_ char *proc = sysctl_proc_path(fs(fix, "key"));
	char err[256] = "", now[4096];

	if (!prev)
		return act_set(res, ACT_REFUSED, "%s: the undo record has no previous value", kn);
	int r = sysctl_write(proc, prev);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: writing %s: %s", kn, proc, strerror(-r));
	int pr = act_put_back(ctx, undo, err, sizeof(err));
	_cleanup_free_ char *want = collapse(xstrdup(prev));
	if (sysctl_read(proc, now, sizeof(now)) < 0 || strcmp(now, want))
		return act_set(res, ACT_FAILED, "%s: %s did not return to %s", kn, proc, prev);
	if (pr < 0)
		return act_set(res, ACT_FAILED, "%s: %s is %s again, but its file: %s", kn,
			       fs(fix, "key"), prev, err);
	return act_set(res, ACT_ROLLED_BACK, "%s: %s is %s again and its file as before", kn,
		       fs(fix, "key"), prev);
}

/* ---- file_mode ---- */

static int owner_id(const char *s, bool group, unsigned *id)
{
	uint64_t v;
	char sbuf[4096];
	if (parse_u64(s, 10, UINT32_MAX - 1, &v) == 0) {
		*id = (unsigned)v;
		return 0;
	}
	if (group) {
		struct group g, *gp = NULL;
		if (getgrnam_r(s, &g, sbuf, sizeof(sbuf), &gp) != 0 || !gp)
			return -ENOENT;
		*id = gp->gr_gid;
	} else {
		struct passwd p, *pp = NULL;
		if (getpwnam_r(s, &p, sbuf, sizeof(sbuf), &pp) != 0 || !pp)
			return -ENOENT;
		*id = pp->pw_uid;
	}
	return 0;
}

struct mode_want {
	bool has_mode, has_uid, has_gid;
	unsigned max, uid, gid;
};

static enum act_status mode_want(const char *kn, const json_t *fix, struct mode_want *w,
				 struct act_result *res)
{
	*w = (struct mode_want){ 0 };
	if (fs(fix, "mode")) {
		if (parse_mode(fs(fix, "mode"), &w->max) < 0)
			return act_set(res, ACT_REFUSED, "%s: mode '%.16s' is not an octal mode",
				       kn, fs(fix, "mode"));
		w->has_mode = true;
	}
	if (fs(fix, "owner")) {
		if (owner_id(fs(fix, "owner"), false, &w->uid) < 0)
			return act_set(res, ACT_REFUSED, "%s: no user '%.64s'", kn,
				       fs(fix, "owner"));
		w->has_uid = true;
	}
	if (fs(fix, "group")) {
		if (owner_id(fs(fix, "group"), true, &w->gid) < 0)
			return act_set(res, ACT_REFUSED, "%s: no group '%.64s'", kn,
				       fs(fix, "group"));
		w->has_gid = true;
	}
	if (!w->has_mode && !w->has_uid && !w->has_gid)
		return act_set(res, ACT_REFUSED, "%s: give a mode, an owner or a group", kn);
	return 0;
}

static bool mode_in_place(const struct stat *st, const struct mode_want *w)
{
	return (!w->has_mode || !(st->st_mode & 07777 & ~w->max)) &&
	       (!w->has_uid || st->st_uid == w->uid) && (!w->has_gid || st->st_gid == w->gid);
}

static int open_for_mode(const char *path, struct stat *st)
{
	return act_open_file(path, true, st);
}

static enum act_status mode_apply(const struct act_ctx *ctx, const json_t *fix, json_t *undo,
				  struct act_result *res)
{
	const char *kn = "apply-fix file_mode", *path = fs(fix, "path");
	struct mode_want w;
	struct stat st;

	if (!act_path_normal(path) || act_path_virtual(path))
		return act_set(res, ACT_REFUSED, "%s: '%.128s' is not a path a fix may change", kn,
			       path);
	if (mode_want(kn, fix, &w, res))
		return res->status;
	const char *why = act_path_protected(path, ctx->state_dir);
	if (why && (w.has_uid || w.has_gid))
		return act_set(res, ACT_REFUSED, "%s: the owner of %s (%s) is not changed", kn,
			       path, why);
	_cleanup_close_ int fd = open_for_mode(path, &st);
	if (fd < 0)
		return act_set(res, ACT_REFUSED, "%s: %s: %s", kn, path,
			       fd == -ELOOP    ? "reached through a symlink"
			       : fd == -EINVAL ? "not a regular file or directory"
					       : strerror(-fd));
	json_object_set_new(undo, "path", json_string(path));
	json_object_set_new(undo, "mode", json_integer(st.st_mode & 07777));
	json_object_set_new(undo, "uid", json_integer(st.st_uid));
	json_object_set_new(undo, "gid", json_integer(st.st_gid));
	if (mode_in_place(&st, &w)) {
		json_object_set_new(undo, "unchanged", json_true());
		return act_set(res, ACT_VERIFIED, "%s: %s already has mode %04o and its owner", kn,
			       path, (unsigned)(st.st_mode & 07777));
	}
	mode_t mode = w.has_mode ? (st.st_mode & 07777 & w.max) : (st.st_mode & 07777);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would set %s to mode %04o", kn, path,
			       (unsigned)mode);
	/* owner first: chown clears set-id bits, the mode then is exactly what we set */
	if ((w.has_uid || w.has_gid) &&
	    fchown(fd, w.has_uid ? w.uid : (uid_t)-1, w.has_gid ? w.gid : (gid_t)-1) < 0)
		return act_set(res, ACT_FAILED, "%s: chown %s: %s", kn, path, strerror(errno));
	if (fchmod(fd, mode) < 0)
		return act_set(res, ACT_FAILED, "%s: chmod %s: %s", kn, path, strerror(errno));
	res->detail = json_pack("{s:s, s:i, s:i}", "path", path, "previous_mode",
				(int)(st.st_mode & 07777), "mode", (int)mode);
	return act_set(res, ACT_VERIFIED, "%s: %s mode %04o -> %04o", kn, path,
		       (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static enum act_status mode_verify(const json_t *fix, struct act_result *res)
{
	const char *kn = "apply-fix file_mode", *path = fs(fix, "path");
	struct mode_want w;
	struct stat st;

	if (mode_want(kn, fix, &w, res))
		return ACT_FAILED;
	_cleanup_close_ int fd = open_for_mode(path, &st);
	if (fd < 0)
		return act_set(res, ACT_FAILED, "%s: %s: %s", kn, path, strerror(-fd));
	if (!mode_in_place(&st, &w))
		return act_set(res, ACT_FAILED, "%s: %s has mode %04o, owner %u:%u", kn, path,
			       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			       (unsigned)st.st_gid);
	return act_set(res, ACT_VERIFIED, "%s: %s has mode %04o and the wanted owner", kn, path,
		       (unsigned)(st.st_mode & 07777));
}

static enum act_status mode_rollback(const json_t *undo, struct act_result *res)
{
	const char *kn = "apply-fix file_mode", *path = fs(undo, "path");
	struct stat st;

	if (!path)
		return act_set(res, ACT_REFUSED, "%s: the undo record names no path", kn);
	_cleanup_close_ int fd = open_for_mode(path, &st);
	if (fd < 0)
		return act_set(res, ACT_FAILED, "%s: %s: %s", kn, path, strerror(-fd));
	uid_t uid = (uid_t)json_integer_value(json_object_get(undo, "uid"));
	gid_t gid = (gid_t)json_integer_value(json_object_get(undo, "gid"));
	mode_t mode = (mode_t)json_integer_value(json_object_get(undo, "mode")) & 07777;
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
		return act_set(res, ACT_FAILED, "%s: chown %s: %s", kn, path, strerror(errno));
	if (fchmod(fd, mode) < 0 || fstat(fd, &st) < 0)
		return act_set(res, ACT_FAILED, "%s: chmod %s: %s", kn, path, strerror(errno));
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid)
		return act_set(res, ACT_FAILED, "%s: %s did not return to %04o", kn, path,
			       (unsigned)mode);
	return act_set(res, ACT_ROLLED_BACK, "%s: %s has mode %04o and owner %u:%u again", kn, path,
		       (unsigned)mode, (unsigned)uid, (unsigned)gid);
}

/* ---- services ---- */

static bool unit_ok(const char *u)
{
	size_t n = u ? strlen(u) : 0;
	if (n == 0 || n > 256 || u[0] == '-' || u[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)u[i]) && !strchr(":_.@-\\", u[i]))
			return false;
	return true;
}

static bool enabled_like(const char *s)
{
	return !strcmp(s, "enabled") || !strcmp(s, "enabled-runtime");
}

static bool active_like(const char *s)
{
	return !strcmp(s, "active") || !strcmp(s, "activating") || !strcmp(s, "reloading");
}

/* systemctl VERB UNIT: returns its exit status; the first line of its output in out. */
static int systemctl(const char *verb, const char *unit, const char *opt, char *out, size_t len)
{
	const char *argv[5] = { systemctl_path(), verb };
	size_t i = 2;
	if (opt)
		argv[i++] = opt;
	argv[i++] = unit;
	argv[i] = NULL;
	int r = act_run(argv, SYSTEMCTL_TIMEOUT_MS, out, len);
	first_line(out);
	return r;
}

static void svc_state(const char *unit, char en[64], char ac[64])
{
	systemctl("is-enabled", unit, NULL, en, 64);
	systemctl("is-active", unit, NULL, ac, 64);
	if (!en[0])
		snprintf(en, 64, "unknown");
	if (!ac[0])
		snprintf(ac, 64, "unknown");
}

static enum act_status svc_refused(const char *kn, const char *unit, struct act_result *res)
{
	if (!unit_ok(unit))
		return act_set(res, ACT_REFUSED, "%s: '%.64s' is not a unit name", kn, unit);
	if (!have_systemd())
		return act_set(res, ACT_REFUSED,
			       "%s: this host does not run systemd (no /run/systemd/system)", kn);
	return 0;
}

/* Disables (on=false) or enables (on=true) unit and stops or starts it. */
static enum act_status svc_apply(const struct act_ctx *ctx, const char *kn, const char *unit,
				 bool on, json_t *undo, struct act_result *res)
{
	char en[64], ac[64], out[512];

	if (svc_refused(kn, unit, res))
		return res->status;
	svc_state(unit, en, ac);
	if (!strcmp(en, "not-found") || str_has_prefix(en, "Failed"))
		return act_set(res, ACT_REFUSED, "%s: no unit %s", kn, unit);
	json_object_set_new(undo, "unit", json_string(unit));
	json_object_set_new(undo, "was_enabled", json_string(en));
	json_object_set_new(undo, "was_active", json_string(ac));
	if (on ? enabled_like(en) && active_like(ac) : !enabled_like(en) && !active_like(ac)) {
		json_object_set_new(undo, "unchanged", json_true());
		return act_set(res, ACT_VERIFIED, "%s: %s is already %s (%s)", kn, unit, en, ac);
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would %s %s (now %s, %s)", kn,
			       on ? "enable and start" : "disable and stop", unit, en, ac);
	int r = systemctl(on ? "enable" : "disable", unit, "--now", out, sizeof(out));
	if (r != 0)
		return act_set(res, ACT_FAILED, "%s: systemctl %s --now %s: %s", kn,
			       on ? "enable" : "disable", unit,
			       r < 0	? strerror(-r)
			       : out[0] ? out
					: "failed");
	res->detail =
		json_pack("{s:s, s:s, s:s}", "unit", unit, "was_enabled", en, "was_active", ac);
	return act_set(res, ACT_VERIFIED, "%s: %s %s (was %s, %s)", kn, unit,
		       on ? "enabled and started" : "disabled and stopped", en, ac);
}

static enum act_status svc_verify(const char *kn, const char *unit, bool on, struct act_result *res)
{
	char en[64], ac[64];
	if (svc_refused(kn, unit, res))
		return ACT_FAILED;
	svc_state(unit, en, ac);
	bool ok = on ? enabled_like(en) && active_like(ac) : !enabled_like(en) && !active_like(ac);
	return act_set(res, ok ? ACT_VERIFIED : ACT_FAILED, "%s: %s is %s and %s", kn, unit, en,
		       ac);
}

static enum act_status svc_rollback(const struct act_ctx *ctx, const char *kn, bool on,
				    const json_t *undo, struct act_result *res)
{
	const char *unit = fs(undo, "unit"), *was_en = fs(undo, "was_enabled"),
		   *was_ac = fs(undo, "was_active");
	char en[64], ac[64], out[512];

	if (svc_refused(kn, unit, res))
		return res->status;
	if (!was_en || !was_ac)
		return act_set(res, ACT_REFUSED, "%s: the undo record has no previous state", kn);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would return %s to %s, %s", kn, unit, was_en,
			       was_ac);
	/* undo only what apply changed */
	if (enabled_like(was_en) != on)
		systemctl(enabled_like(was_en) ? "enable" : "disable", unit, NULL, out,
			  sizeof(out));
	if (active_like(was_ac) != on)
		systemctl(active_like(was_ac) ? "start" : "stop", unit, NULL, out, sizeof(out));
	svc_state(unit, en, ac);
	if (enabled_like(en) != enabled_like(was_en) || active_like(ac) != active_like(was_ac))
		return act_set(res, ACT_FAILED, "%s: %s is %s, %s; it was %s, %s", kn, unit, en, ac,
			       was_en, was_ac);
	return act_set(res, ACT_ROLLED_BACK, "%s: %s is %s, %s again", kn, unit, en, ac);
}

/* ---- module_disable ---- */

static bool module_ok(const char *m)
{
	size_t n = m ? strlen(m) : 0;
	if (n == 0 || n > 64 || m[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)m[i]) && m[i] != '_' && m[i] != '-')
			return false;
	return true;
}

static char *module_file(const char *m)
{
	return xasprintf("/etc/modprobe.d/60-immune-%s.conf", m);
}

static char *module_text(const char *m)
{
	return xasprintf("# Written by Immune (apply-fix module_disable)\n"
			 "blacklist %s\ninstall %s /bin/false\n",
			 m, m);
}

static enum act_status module_apply(const struct act_ctx *ctx, const json_t *fix, json_t *undo,
				    struct act_result *res)
{
	const char *kn = "apply-fix module_disable", *m = fs(fix, "module");
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf out = { 0 };
	struct stat st;
	bool existed;

	if (!module_ok(m))
		return act_set(res, ACT_REFUSED, "%s: '%.64s' is not a module name", kn, m);
	_cleanup_free_ char *f = module_file(m);
	_cleanup_free_ char *text = module_text(m);
	if (read_for_edit(kn, f, &cur, &st, &existed, res))
		return res->status;
	if (existed && !strcmp(buf_str(&cur), text)) {
		json_object_set_new(undo, "unchanged", json_true());
		return act_set(res, ACT_VERIFIED, "%s: %s already blacklists %s", kn, f, m);
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would write %s", kn, f);
	buf_init(&out, ACT_FILE_MAX);
	buf_puts(&out, text);
	st = (struct stat){ .st_mode = S_IFREG | 0644 };
	if (replace_kept(ctx, kn, f, &cur, &st, existed, &out, undo, res))
		return res->status;
	res->detail = json_pack("{s:s, s:s}", "module", m, "file", f);
	return act_set(res, ACT_VERIFIED, "%s: %s blacklisted and its install made /bin/false (%s)",
		       kn, m, f);
}

static enum act_status module_verify(const json_t *fix, struct act_result *res)
{
	const char *kn = "apply-fix module_disable", *m = fs(fix, "module");
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_free_ char *f = module_file(m);
	_cleanup_free_ char *text = module_text(m);
	int r = act_file_read(f, &cur, NULL);
	if (r < 0 || strcmp(buf_str(&cur), text))
		return act_set(res, ACT_FAILED, "%s: %s does not hold the blacklist of %s", kn, f,
			       m);
	return act_set(res, ACT_VERIFIED, "%s: %s blacklists %s", kn, f, m);
}

/* ---- apply-fix ---- */

static enum act_status fix_load(const char *kn, const Action *a, json_t **fix,
				struct act_result *res)
{
	char err[256];
	if (act_fix_parse(a->fix_json, fix, err, sizeof(err)) < 0)
		return act_set(res, ACT_REFUSED, "%s: %s", kn, err);
	return 0;
}

static enum act_status fix_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				 struct act_result *res)
{
	json_t *fix = NULL;
	enum act_status s;

	if (!action_uid_ok(ctx->uid))
		return act_set(res, ACT_REFUSED, "apply-fix: no valid action id");
	if (fix_load("apply-fix", a, &fix, res))
		return res->status;
	const char *type = fs(fix, "type");
	const struct fix_type *t = fix_type(type);
	*undo = json_pack("{s:s}", "type", type);
	if (t->manual)
		s = act_set(res, ACT_REFUSED,
			    "apply-fix: %s is not applied automatically; an operator applies it",
			    type);
	else if (!strcmp(type, "config_set"))
		s = config_apply(ctx, fix, *undo, res);
	else if (!strcmp(type, "sysctl_set"))
		s = sysctl_apply(ctx, fix, *undo, res);
	else if (!strcmp(type, "file_mode"))
		s = mode_apply(ctx, fix, *undo, res);
	else if (!strcmp(type, "module_disable"))
		s = module_apply(ctx, fix, *undo, res);
	else
		s = svc_apply(ctx, type, fs(fix, "service"), !strcmp(type, "service_enable"), *undo,
			      res);
	json_decref(fix);
	if (s == ACT_REFUSED || s == ACT_DRY_RUN) {
		/* nothing was changed: no undo record */
		json_decref(*undo);
		*undo = NULL;
	}
	return s;
}

static enum act_status fix_verify(const struct act_ctx *ctx, const Action *a,
				  struct act_result *res)
{
	json_t *fix = NULL;
	enum act_status s;
	(void)ctx;

	if (fix_load("apply-fix", a, &fix, res))
		return ACT_FAILED;
	const char *type = fs(fix, "type");
	if (fix_type(type)->manual)
		s = act_set(res, ACT_FAILED, "apply-fix: %s is not applied automatically", type);
	else if (!strcmp(type, "config_set"))
		s = config_verify(fix, res);
	else if (!strcmp(type, "sysctl_set"))
		s = sysctl_verify(fix, res);
	else if (!strcmp(type, "file_mode"))
		s = mode_verify(fix, res);
	else if (!strcmp(type, "module_disable"))
		s = module_verify(fix, res);
	else
		s = svc_verify(type, fs(fix, "service"), !strcmp(type, "service_enable"), res);
	json_decref(fix);
	return s;
}

static enum act_status fix_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				    struct act_result *res)
{
	json_t *fix = NULL;
	enum act_status s;
	char err[256];

	if (fix_load("apply-fix", a, &fix, res))
		return res->status;
	const char *type = fs(fix, "type");
	if (json_is_true(json_object_get(undo, "unchanged")))
		s = act_set(res, ACT_ROLLED_BACK, "apply-fix %s: nothing was changed", type);
	else if (fix_type(type)->manual)
		s = act_set(res, ACT_REFUSED, "apply-fix: %s was not applied", type);
	else if (ctx->dry_run)
		s = act_set(res, ACT_DRY_RUN, "apply-fix %s: would undo the fix", type);
	else if (!strcmp(type, "sysctl_set"))
		s = sysctl_rollback(ctx, fix, undo, res);
	else if (!strcmp(type, "file_mode"))
		s = mode_rollback(undo, res);
	else if (!strcmp(type, "service_disable") || !strcmp(type, "service_enable"))
		s = svc_rollback(ctx, type, !strcmp(type, "service_enable"), undo, res);
	else {
		int r = act_put_back(ctx, undo, err, sizeof(err));
		const char *f = fs(undo, "file");
		if (r == 0 && !strcmp(type, "config_set") && f && sshd_file(f)) {
			char how[256];
			act_sshd_reload(ACT_SSHD_PID_FILE, how, sizeof(how));
		}
		s = r == 0 ? act_set(res, ACT_ROLLED_BACK, "apply-fix %s: %s is as before", type,
				     f ? f : "the file")
		    : r == -ESTALE ? act_set(res, ACT_REFUSED, "apply-fix %s: %s", type, err)
				   : act_set(res, ACT_FAILED, "apply-fix %s: %s", type, err);
	}
	json_decref(fix);
	return s;
}

const struct act_ops act_apply_fix_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX,
	.apply = fix_apply,
	.verify = fix_verify,
	.rollback = fix_rollback,
};

/* ---- disable-service ---- */

static enum act_status dsvc_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				  struct act_result *res)
{
	*undo = json_object();
	enum act_status s = svc_apply(ctx, "disable-service", a->unit, false, *undo, res);
	if (s == ACT_REFUSED || s == ACT_DRY_RUN) {
		json_decref(*undo);
		*undo = NULL;
	}
	return s;
}

static enum act_status dsvc_verify(const struct act_ctx *ctx, const Action *a,
				   struct act_result *res)
{
	(void)ctx;
	return svc_verify("disable-service", a->unit, false, res);
}

static enum act_status dsvc_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				     struct act_result *res)
{
	(void)a;
	if (json_is_true(json_object_get(undo, "unchanged")))
		return act_set(res, ACT_ROLLED_BACK, "disable-service: nothing was changed");
	return svc_rollback(ctx, "disable-service", false, undo, res);
}

const struct act_ops act_disable_service_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE,
	.apply = dsvc_apply,
	.verify = dsvc_verify,
	.rollback = dsvc_rollback,
};

/* ---- disable-cron ---- */

static enum act_status cron_refused(const char *path, const char *entry, struct act_result *res)
{
	if (!act_path_normal(path) || !act_cron_path_ok(path))
		return act_set(res, ACT_REFUSED,
			       "disable-cron: %.128s is not /etc/crontab or a file in /etc/cron.d/ "
			       "or /var/spool/cron/crontabs/",
			       path);
	if (!entry || !entry[0] || entry[0] == '#')
		return act_set(res, ACT_REFUSED, "disable-cron: the entry must be an active line");
	return 0;
}

static enum act_status cron_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				  struct act_result *res)
{
	const char *kn = "disable-cron";
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf out = { 0 };
	_cleanup_free_ char *mark = xasprintf("%s%s ", ACT_CRON_MARK, ctx->uid);
	char hex[ACT_SHA_HEX];
	struct stat st;

	if (!action_uid_ok(ctx->uid))
		return act_set(res, ACT_REFUSED, "%s: no valid action id", kn);
	if (cron_refused(a->path, a->entry, res))
		return res->status;
	int r = act_file_read(a->path, &cur, &st);
	if (r < 0)
		return act_set(res, ACT_REFUSED, "%s: %s: %s", kn, a->path,
			       r == -ELOOP ? "reached through a symlink" : strerror(-r));
	unsigned active = act_cron_active(buf_str(&cur), buf_len(&cur), a->entry);
	if (active == 0) {
		if (strstr(buf_str(&cur), mark)) {
			*undo = json_pack("{s:s, s:s}", "path", a->path, "uid", ctx->uid);
			return act_set(res, ACT_VERIFIED, "%s: the entry is already disabled in %s",
				       kn, a->path);
		}
		return act_set(res, ACT_REFUSED, "%s: %s has no active line equal to the entry", kn,
			       a->path);
	}
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would comment out %u line(s) of %s", kn,
			       active, a->path);
	r = act_cron_disable(buf_str(&cur), buf_len(&cur), a->entry, ctx->uid, &out);
	if (r < 0)
		return act_set(res, ACT_REFUSED, "%s: %s cannot be edited: %s", kn, a->path,
			       strerror(-r));
	r = act_file_replace(a->path, buf_str(&out), buf_len(&out), st.st_mode & 07777, st.st_uid,
			     st.st_gid);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: writing %s: %s", kn, a->path, strerror(-r));
	act_sha256_mem(buf_str(&out), buf_len(&out), hex);
	*undo = json_pack("{s:s, s:s, s:s}", "path", a->path, "uid", ctx->uid, "after_sha256", hex);
	res->detail = json_pack("{s:s, s:i}", "path", a->path, "lines", (int)active);
	return act_set(res, ACT_VERIFIED, "%s: %u line(s) of %s commented out", kn, active,
		       a->path);
}

static enum act_status cron_verify(const struct act_ctx *ctx, const Action *a,
				   struct act_result *res)
{
	_cleanup_(buf_free) struct buf cur = { 0 };
	(void)ctx;
	int r = act_file_read(a->path, &cur, NULL);
	if (r == -ENOENT)
		return act_set(res, ACT_VERIFIED, "disable-cron: %s is gone", a->path);
	if (r < 0)
		return act_set(res, ACT_FAILED, "disable-cron: %s: %s", a->path, strerror(-r));
	unsigned n = act_cron_active(buf_str(&cur), buf_len(&cur), a->entry);
	return act_set(res, n ? ACT_FAILED : ACT_VERIFIED,
		       "disable-cron: %s has %u active line(s) "
		       "equal to the entry",
		       a->path, n);
}

static enum act_status cron_rollback(const struct act_ctx *ctx, const Action *a, const json_t *undo,
				     struct act_result *res)
{
	const char *kn = "disable-cron";
	const char *uid = fs(undo, "uid") ? fs(undo, "uid") : ctx->uid;
	_cleanup_(buf_free) struct buf cur = { 0 };
	_cleanup_(buf_free) struct buf out = { 0 };
	struct stat st;

	if (cron_refused(a->path, a->entry, res))
		return res->status;
	if (!action_uid_ok(uid))
		return act_set(res, ACT_REFUSED, "%s: the undo record has no action id", kn);
	int r = act_file_read(a->path, &cur, &st);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: %s: %s", kn, a->path, strerror(-r));
	r = act_cron_enable(buf_str(&cur), buf_len(&cur), uid, &out);
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: %s cannot be edited: %s", kn, a->path,
			       strerror(-r));
	if (r == 0 && act_cron_active(buf_str(&cur), buf_len(&cur), a->entry))
		return act_set(res, ACT_ROLLED_BACK, "%s: the entry is already active in %s", kn,
			       a->path);
	if (r == 0)
		return act_set(res, ACT_FAILED, "%s: %s holds no line this action disabled", kn,
			       a->path);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, "%s: would restore %d line(s) of %s", kn, r,
			       a->path);
	int w = act_file_replace(a->path, buf_str(&out), buf_len(&out), st.st_mode & 07777,
				 st.st_uid, st.st_gid);
	if (w < 0)
		return act_set(res, ACT_FAILED, "%s: writing %s: %s", kn, a->path, strerror(-w));
	if (!act_cron_active(buf_str(&out), buf_len(&out), a->entry))
		return act_set(res, ACT_FAILED, "%s: the entry is not active after the undoing",
			       kn);
	return act_set(res, ACT_ROLLED_BACK, "%s: %d line(s) of %s active again", kn, r, a->path);
}

const struct act_ops act_disable_cron_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON,
	.apply = cron_apply,
	.verify = cron_verify,
	.rollback = cron_rollback,
};
