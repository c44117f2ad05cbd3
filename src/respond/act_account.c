/* create-account (docs/actions-host.md): a local account for certificate logins, with its
 * supplementary groups and a sudoers drop-in.
 *
 * apply     useradd -m -s /bin/bash [-G groups] USER when the account is missing (UID_MIN and
 *           the rest of login.defs untouched; accounts are never deleted, so UIDs are never
 *           reused), then the password field becomes "*" (usable by certificates, never by a
 *           password) unless the account already had a password; groups are added to an
 *           existing account; /etc/sudoers.d/immune-USER holds "USER ALL=(ALL) NOPASSWD:
 *           commands", checked with visudo -cf before it is renamed into place (no
 *           commands: no drop-in). Applying twice changes nothing the second time.
 *   verify    the account exists and is not locked, is in every group, and the drop-in
 *           holds exactly what apply writes (or is absent without commands).
 *   rollback  locks the account apply created (usermod -L -e 1; never deleted) and puts
 *           back the drop-in that was there before (or removes it).
 * Works on the host only (act_ctx.passwd_root unset or "/"). */
#include "respond/act.h"
#include "respond/act_edit.h"

#include "lib/fileio.h"
#include "lib/str.h"

#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/stat.h>
#include <unistd.h>

#define KN "create-account"
#define USERADD "/usr/sbin/useradd"
#define USERMOD "/usr/sbin/usermod"
#define VISUDO "/usr/sbin/visudo"
#define SUDOERS_DIR "/etc/sudoers.d"
#define RUN_MS 10000

static bool on_host(const struct act_ctx *ctx)
{
	return !ctx->passwd_root || !strcmp(ctx->passwd_root, "/");
}

/* /etc/sudoers.d/immune-USER; sudo skips names holding '.', so '.' becomes '_'. */
static char *sudoers_path(const char *user)
{
	char *p = xasprintf(SUDOERS_DIR "/immune-%s", user);
	for (char *c = p + strlen(SUDOERS_DIR "/"); *c; c++)
		if (*c == '.')
			*c = '_';
	return p;
}

static char *sudoers_text(const Action *a)
{
	if (!a->n_sudo_commands)
		return NULL;
	struct buf b = { 0 };
	buf_init(&b, 16384);
	buf_printf(&b,
		   "# Written by Immune's create-account action; removed by its rollback.\n"
		   "%s ALL=(ALL) NOPASSWD: ",
		   a->user);
	for (size_t i = 0; i < a->n_sudo_commands; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", a->sudo_commands[i]);
	buf_puts(&b, "\n");
	return buf_steal(&b);
}

static bool in_group(const char *user, const char *group)
{
	struct group *g = getgrnam(group);
	if (!g)
		return false;
	struct passwd *pw = getpwnam(user);
	if (pw && pw->pw_gid == g->gr_gid)
		return true;
	for (char **m = g->gr_mem; m && *m; m++)
		if (!strcmp(*m, user))
			return true;
	return false;
}

/* The password field: "*" is ours; "!"-prefixed or empty fields are not usable for a
 * certificate login or are unsafe, so apply replaces them; anything else is a password
 * that apply keeps. */
static bool password_needs_star(const char *pw)
{
	return !pw || !*pw || pw[0] == '!';
}

static enum act_status host_checks(const struct act_ctx *ctx, const Action *a,
				   struct act_result *res)
{
	if (!on_host(ctx))
		return act_set(res, ACT_REFUSED, KN ": works on this host only");
	if (access(USERADD, X_OK) < 0 || access(USERMOD, X_OK) < 0)
		return act_set(res, ACT_REFUSED, KN ": useradd or usermod is missing");
	if (a->n_sudo_commands && access(VISUDO, X_OK) < 0)
		return act_set(res, ACT_REFUSED,
			       KN ": sudo commands given but sudo is not installed (no %s)",
			       VISUDO);
	for (size_t i = 0; i < a->n_groups; i++)
		if (!getgrnam(a->groups[i]))
			return act_set(res, ACT_REFUSED, KN ": group %s does not exist",
				       a->groups[i]);
	return 0;
}

static enum act_status run(const char *const *argv, struct act_result *res)
{
	char out[512] = "";
	int r = act_run(argv, RUN_MS, out, sizeof(out));
	if (r == 0)
		return 0;
	out[strcspn(out, "\r\n")] = '\0';
	return act_set(res, ACT_FAILED, KN ": %s failed (%d): %.300s", argv[0], r, out);
}

/* Writes the drop-in: a temporary file sudo ignores, visudo -cf, then rename. */
static enum act_status sudoers_write(const Action *a, const char *path, const char *text,
				     struct act_result *res)
{
	_cleanup_free_ char *tmp = xasprintf("%s.immune-new", path);
	if (mkdir(SUDOERS_DIR, 0750) < 0 && errno != EEXIST)
		return act_set(res, ACT_FAILED, KN ": cannot create " SUDOERS_DIR ": %s",
			       strerror(errno));
	int r = file_write_atomic(tmp, text, strlen(text), 0440);
	if (r < 0)
		return act_set(res, ACT_FAILED, KN ": writing %s: %s", tmp, strerror(-r));
	char out[512] = "";
	const char *argv[] = { VISUDO, "-cf", tmp, NULL };
	r = act_run(argv, RUN_MS, out, sizeof(out));
	if (r != 0) {
		unlink(tmp);
		out[strcspn(out, "\r\n")] = '\0';
		return act_set(res, ACT_REFUSED, KN ": visudo refuses the drop-in: %.300s", out);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return act_set(res, ACT_FAILED, KN ": renaming %s: %s", tmp, strerror(errno));
	}
	return 0;
}

static int read_text(const char *path, char **out)
{
	struct buf b = { 0 };
	buf_init(&b, 1u << 20);
	int r = file_read_capped(path, 1u << 20, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*out = buf_steal(&b);
	return 0;
}

static enum act_status account_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				     struct act_result *res)
{
	enum act_status st = host_checks(ctx, a, res);
	if (st)
		return st;
	_cleanup_free_ char *groups = NULL;
	for (size_t i = 0; i < a->n_groups; i++) {
		char *g =
			xasprintf("%s%s%s", groups ? groups : "", groups ? "," : "", a->groups[i]);
		free(groups);
		groups = g;
	}
	bool exists = getpwnam(a->user) != NULL;
	/* an account an earlier apply created and its rollback locked ("!*", expired on day
	 * 1) counts as created by this apply: its rollback locks it again */
	struct spwd *old = exists ? getspnam(a->user) : NULL;
	bool ours = !exists ||
		    (old && old->sp_pwdp && !strcmp(old->sp_pwdp, "!*") && old->sp_expire == 1);
	_cleanup_free_ char *path = sudoers_path(a->user);
	_cleanup_free_ char *want = sudoers_text(a);
	_cleanup_free_ char *had = NULL;
	read_text(path, &had);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN, KN ": would %s account %s%s%s%s",
			       exists ? "keep" : "create", a->user, groups ? " in groups " : "",
			       groups ? groups : "", want ? " with a sudoers drop-in" : "");
	if (!exists) {
		const char *argv[] = {
			USERADD, "-m", "-s", "/bin/bash", "-G", groups, a->user, NULL
		};
		if (!groups) {
			argv[4] = a->user;
			argv[5] = NULL;
		}
		if ((st = run(argv, res)))
			return st;
	} else if (groups) {
		const char *argv[] = { USERMOD, "-a", "-G", groups, a->user, NULL };
		if ((st = run(argv, res)))
			return st;
	}
	/* created now, or an account apply created and rollback locked: usable again */
	struct spwd *sp = getspnam(a->user);
	if (!exists || (sp && password_needs_star(sp->sp_pwdp))) {
		const char *argv[] = { USERMOD, "-p", "*", "-e", "", a->user, NULL };
		if ((st = run(argv, res)))
			return st;
	}
	if (want && (!had || strcmp(had, want) != 0) && (st = sudoers_write(a, path, want, res)))
		return st;
	if (!want && had && unlink(path) < 0)
		return act_set(res, ACT_FAILED, KN ": removing %s: %s", path, strerror(errno));
	*undo = json_pack("{s:b}", "created", ours);
	if (had)
		json_object_set_new(*undo, "sudoers", json_string(had));
	struct passwd *pw = getpwnam(a->user);
	res->detail = json_pack("{s:s, s:b, s:I, s:b}", "user", a->user, "created", !exists, "uid",
				(json_int_t)(pw ? pw->pw_uid : 0), "sudoers", want != NULL);
	return act_set(res, ACT_VERIFIED, KN ": account %s %s (uid %u)%s", a->user,
		       exists ? "already there" : "created", pw ? (unsigned)pw->pw_uid : 0,
		       want ? ", sudoers drop-in in place" : "");
}

static enum act_status account_verify(const struct act_ctx *ctx, const Action *a,
				      struct act_result *res)
{
	if (!on_host(ctx))
		return act_set(res, ACT_REFUSED, KN ": works on this host only");
	if (!getpwnam(a->user))
		return act_set(res, ACT_FAILED, KN ": account %s does not exist", a->user);
	struct spwd *sp = getspnam(a->user);
	if (sp && sp->sp_pwdp && sp->sp_pwdp[0] == '!')
		return act_set(res, ACT_FAILED, KN ": account %s is locked", a->user);
	for (size_t i = 0; i < a->n_groups; i++)
		if (!in_group(a->user, a->groups[i]))
			return act_set(res, ACT_FAILED, KN ": %s is not in group %s", a->user,
				       a->groups[i]);
	_cleanup_free_ char *path = sudoers_path(a->user);
	_cleanup_free_ char *want = sudoers_text(a);
	_cleanup_free_ char *have = NULL;
	read_text(path, &have);
	if (want && (!have || strcmp(have, want) != 0))
		return act_set(res, ACT_FAILED, KN ": %s does not hold the sudo commands", path);
	if (!want && have)
		return act_set(res, ACT_FAILED, KN ": %s is there without sudo commands", path);
	return act_set(res, ACT_VERIFIED, KN ": account %s is in place", a->user);
}

static enum act_status account_rollback(const struct act_ctx *ctx, const Action *a,
					const json_t *undo, struct act_result *res)
{
	if (!on_host(ctx))
		return act_set(res, ACT_REFUSED, KN ": works on this host only");
	enum act_status st;
	_cleanup_free_ char *path = sudoers_path(a->user);
	const char *had = json_string_value(json_object_get(undo, "sudoers"));
	if (had) {
		if ((st = sudoers_write(a, path, had, res)))
			return st;
	} else if (unlink(path) < 0 && errno != ENOENT) {
		return act_set(res, ACT_FAILED, KN ": removing %s: %s", path, strerror(errno));
	}
	bool created = json_is_true(json_object_get(undo, "created"));
	if (created && getpwnam(a->user)) {
		const char *argv[] = { USERMOD, "-L", "-e", "1", a->user, NULL };
		if ((st = run(argv, res)))
			return st;
		struct spwd *sp = getspnam(a->user);
		if (!sp || !sp->sp_pwdp || sp->sp_pwdp[0] != '!')
			return act_set(res, ACT_FAILED, KN ": account %s is not locked", a->user);
	}
	return act_set(res, ACT_ROLLED_BACK, KN ": %s%s",
		       created ? "account locked (kept: UIDs are never reused)"
			       : "account kept (it was there before)",
		       had ? ", previous sudoers drop-in restored" : ", sudoers drop-in removed");
}

const struct act_ops act_create_account_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_CREATE_ACCOUNT,
	.apply = account_apply,
	.verify = account_verify,
	.rollback = account_rollback,
};
