/* Unit tests for the account actions (respond/act_user.c) and the authorized_keys editing
 * they use (respond/authkeys.h), on a temporary passwd_root: fingerprints equal those of
 * ssh-keygen -lf; lock-user edits exactly the account's shadow fields and keeps the file's
 * mode, rollback restores the file byte for byte, root, uid 0, protected and unknown accounts
 * are refused; remove-authorized-key removes every line of the key (options, CRLF), keeps
 * the rest and the owner and mode, quarantines the lines (0600) and restores them, and
 * refuses symlinks on the way and protected accounts. A temporary root never touches the
 * host's processes (lock-user ends sessions only on the real root). */
#include "unit.h"

#include "lib/fileio.h"
#include "lib/str.h"
#include "respond/act.h"
#include "respond/authkeys.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALICE_UID 4242017 /* an id no process of the test machine runs as */

/* Keys made once for the whole run (ssh-keygen makes RSA keys slowly). */
static struct keys {
	char *dir;
	char *pub[3];
	char *fp[3];
	bool ok;
} keys;

struct fixture {
	char *root, *state;
	char *pub[3];	/* key lines: ed25519, rsa, ecdsa */
	char *fp[3];	/* their fingerprints as ssh-keygen -lf prints them */
	bool have_keys; /* ssh-keygen was found */
	const char *protect[3];
	struct act_ctx ctx;
	char uid[ACTION_UID_LEN + 1];
};

static const char passwd_text[] = "root:x:0:0:root:/root:/bin/bash\n"
				  "toor:x:0:0:second root:/root:/bin/sh\n"
				  "alice:x:4242017:4242017:Alice:/home/alice:/bin/bash\n"
				  "bob:x:4242018:4242018:Bob:/home/bob:/bin/bash\n"
				  "carol:x:4242019:4242019:Carol:/home/carol:/bin/bash\n"
				  "dan:x:4242020:4242020:Dan:/home/dan:/bin/bash\n";
static const char shadow_text[] = "root:$6$r$rootHASH:19000:0:99999:7:::\n"
				  "toor:*:19000:0:99999:7:::\n"
				  "alice:$6$salt$aliceHASH:19500:0:99999:7:::\n"
				  "bob:!$6$s$bobHASH:19500:0:99999:7::20000:\n"
				  "carol:$y$j9T$carolHASH:19500:0:99999:7:::\n"
				  "dan:*:19500:0:99999:7:::\n";

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	assert_int_equal(file_write_atomic(path, text, strlen(text), mode), 0);
}

static char *get(const char *root, const char *rel)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	struct buf b;
	buf_init(&b, 1 << 20);
	if (file_read_capped(path, 1 << 20, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static mode_t mode_of(const char *root, const char *rel)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void mkdirs(const char *root, const char *rel)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

/* Runs a shell command line of the test (never product code); returns its first output line. */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char line[8192];
	if (!p)
		return NULL;
	char *out = fgets(line, sizeof(line), p) ? xstrdup(str_trim(line)) : NULL;
	return pclose(p) == 0 ? out : (free(out), NULL);
}

static int make_keys(void **state)
{
	static const char *const types[] = { "ed25519", "rsa", "ecdsa" };
	char t[] = "/tmp/test_act_keys.XXXXXX";
	(void)state;
	assert_non_null(mkdtemp(t));
	keys.dir = xstrdup(t);
	keys.ok = true;
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *gen =
			xasprintf("ssh-keygen -q -t %s -N '' -C key%zu@test -f %s/key%zu "
				  "</dev/null >/dev/null 2>&1 && cat %s/key%zu.pub",
				  types[i], i, keys.dir, i, keys.dir, i);
		keys.pub[i] = run(gen);
		_cleanup_free_ char *fp = xasprintf("ssh-keygen -lf %s/key%zu.pub", keys.dir, i);
		char *line = run(fp);
		if (!keys.pub[i] || !line) {
			keys.ok = false;
			free(line);
			return 0;
		}
		/* "256 SHA256:... comment (ED25519)" */
		strv w = str_split(line, " ");
		assert_true(strv_len(w) >= 2);
		keys.fp[i] = xstrdup(w[1]);
		strv_free(w);
		free(line);
	}
	return 0;
}

static int free_keys(void **state)
{
	(void)state;
	nftw(keys.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(keys.dir);
	for (size_t i = 0; i < 3; i++) {
		free(keys.pub[i]);
		free(keys.fp[i]);
	}
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char t1[] = "/tmp/test_act_user.XXXXXX", t2[] = "/tmp/test_act_state.XXXXXX";
	assert_non_null(mkdtemp(t1));
	assert_non_null(mkdtemp(t2));
	f->root = xstrdup(t1);
	f->state = xstrdup(t2);
	mkdirs(f->root, "etc");
	mkdirs(f->root, "home");
	mkdirs(f->root, "home/alice");
	mkdirs(f->root, "home/alice/.ssh");
	mkdirs(f->root, "home/bob");
	put(f->root, "etc/passwd", passwd_text, 0644);
	put(f->root, "etc/shadow", shadow_text, 0640);
	for (size_t i = 0; i < 3; i++) {
		f->pub[i] = keys.pub[i];
		f->fp[i] = keys.fp[i];
	}
	f->have_keys = keys.ok;
	f->protect[0] = "carol";
	action_new_uid(f->uid);
	f->ctx = (struct act_ctx){ .state_dir = f->state,
				   .uid = f->uid,
				   .protected_users = f->protect,
				   .passwd_root = f->root };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(f->state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->root);
	free(f->state);
	free(f);
	return 0;
}

static Action *make(Immune__V1__ActionKind kind, const char *json)
{
	Action *a = NULL;
	char err[256];
	json_t *p = json_loads(json, 0, NULL);
	assert_non_null(p);
	if (action_from_json(kind, p, &a, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	json_decref(p);
	return a;
}

static Action *lock_action(const char *user)
{
	_cleanup_free_ char *j = xasprintf("{\"user\": \"%s\"}", user);
	return make(IMMUNE__V1__ACTION_KIND__ACTION_LOCK_USER, j);
}

static Action *key_action(const char *user, const char *fp)
{
	_cleanup_free_ char *j = xasprintf("{\"user\": \"%s\", \"fingerprint\": \"%s\"}", user, fp);
	return make(IMMUNE__V1__ACTION_KIND__ACTION_REMOVE_AUTHORIZED_KEY, j);
}

static void result_clear(struct act_result *r)
{
	json_decref(r->detail);
	*r = (struct act_result){ 0 };
}

/* ---- authkeys ---------------------------------------------------------------------------- */

static void test_fingerprints_match_ssh_keygen(void **state)
{
	struct fixture *f = *state;
	char fp[AUTHKEYS_FP_LEN + 1];
	if (!f->have_keys)
		skip();
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(authkeys_line_fingerprint(f->pub[i], strlen(f->pub[i]), fp), 0);
		assert_string_equal(fp, f->fp[i]);
		/* with options in front, quoted spaces included */
		_cleanup_free_ char *opt =
			xasprintf("from=\"10.0.0.1\",command=\"echo a b\" %s", f->pub[i]);
		assert_int_equal(authkeys_line_fingerprint(opt, strlen(opt), fp), 0);
		assert_string_equal(fp, f->fp[i]);
	}
	assert_int_equal(authkeys_line_fingerprint("# comment", 9, fp), 1);
	assert_int_equal(authkeys_line_fingerprint("", 0, fp), 1);
	assert_int_equal(authkeys_line_fingerprint("ssh-ed25519 AAAA", 16, fp), -EBADMSG);
	assert_int_equal(authkeys_line_fingerprint("garbage here", 12, fp), -EBADMSG);
}

static void test_authkeys_remove_append(void **state)
{
	struct fixture *f = *state;
	struct buf kept, back;
	if (!f->have_keys)
		skip();
	_cleanup_free_ char *text = xasprintf("# keys\n%s\nno-pty %s\r\nbroken line\n%s\n%s",
					      f->pub[0], f->pub[1], f->pub[2], f->pub[1]);
	size_t len = strlen(text);
	assert_int_equal(authkeys_count(text, len, f->fp[1]), 2);
	assert_int_equal(authkeys_count(text, len, f->fp[0]), 1);

	json_t *removed = json_array();
	buf_init(&kept, AUTHKEYS_FILE_MAX);
	assert_int_equal(authkeys_remove(text, len, f->fp[1], &kept, removed), 2);
	_cleanup_free_ char *want =
		xasprintf("# keys\n%s\nbroken line\n%s\n", f->pub[0], f->pub[2]);
	assert_string_equal(buf_str(&kept), want);
	assert_int_equal(json_array_size(removed), 2);
	_cleanup_free_ char *l0 = xasprintf("no-pty %s", f->pub[1]);
	assert_string_equal(json_string_value(json_array_get(removed, 0)), l0); /* no '\r' */
	assert_string_equal(json_string_value(json_array_get(removed, 1)), f->pub[1]);

	/* appended back once; appending again adds nothing */
	buf_init(&back, 2 * AUTHKEYS_FILE_MAX);
	assert_int_equal(authkeys_append(buf_str(&kept), buf_len(&kept), removed, &back), 2);
	assert_int_equal(authkeys_count(buf_str(&back), buf_len(&back), f->fp[1]), 2);
	_cleanup_free_ char *again = xstrdup(buf_str(&back));
	buf_reset(&back);
	assert_int_equal(authkeys_append(again, strlen(again), removed, &back), 0);
	assert_string_equal(buf_str(&back), again);

	/* a file without a final newline gets one before the appended line */
	buf_reset(&back);
	assert_int_equal(authkeys_append("# x", 3, removed, &back), 2);
	assert_true(str_has_prefix(buf_str(&back), "# x\nno-pty "));
	/* lines that are not one line of text are refused */
	json_t *bad = json_pack("[s]", "a\nb");
	buf_reset(&back);
	assert_int_equal(authkeys_append("", 0, bad, &back), -EINVAL);
	json_decref(bad);
	json_decref(removed);
	buf_free(&kept);
	buf_free(&back);
}

/* The keys a change of authorized_keys added (the FIM sensor's key_fingerprint). */
static void test_authkeys_added(void **state)
{
	struct fixture *f = *state;
	char fps[2][AUTHKEYS_FP_LEN + 1];
	if (!f->have_keys)
		skip();
	_cleanup_free_ char *old = xasprintf("# keys\n%s\n", f->pub[0]);
	/* key 2 then key 1 appended, key 0 with options and twice, key 2 again, a broken line */
	_cleanup_free_ char *cur = xasprintf("# keys\nno-pty %s\n%s\nbroken\n%s\n%s\n%s", f->pub[0],
					     f->pub[2], f->pub[1], f->pub[0], f->pub[2]);
	assert_int_equal(authkeys_added(old, strlen(old), cur, strlen(cur), fps, 2), 2);
	assert_string_equal(fps[0], f->fp[2]); /* in the order of the file */
	assert_string_equal(fps[1], f->fp[1]);
	/* more added than room: counted, the first written */
	memset(fps, 0, sizeof(fps));
	assert_int_equal(authkeys_added(NULL, 0, cur, strlen(cur), fps, 1), 3);
	assert_string_equal(fps[0], f->fp[0]);
	assert_int_equal(fps[1][0], '\0');
	/* a new file: every key; nothing added by removing or reordering */
	assert_int_equal(authkeys_added(NULL, 0, old, strlen(old), fps, 2), 1);
	assert_string_equal(fps[0], f->fp[0]);
	assert_int_equal(authkeys_added(cur, strlen(cur), old, strlen(old), fps, 2), 0);
	assert_int_equal(authkeys_added(cur, strlen(cur), cur, strlen(cur), fps, 2), 0);
	assert_int_equal(authkeys_added("", 0, "# none\nbroken\n", 14, fps, 2), 0);
	assert_int_equal(authkeys_added(NULL, AUTHKEYS_FILE_MAX + 1, "", 0, fps, 2), 0);
	assert_int_equal(authkeys_added("", 0, cur, AUTHKEYS_FILE_MAX + 1, fps, 2), -EFBIG);
}

/* ---- lock-user ----------------------------------------------------------------------------- */

static void test_lock_unlock(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL, *undo2 = NULL;
	_cleanup_(action_freep) Action *a = lock_action("alice");

	assert_int_equal(act_lock_user_ops.verify(&f->ctx, a, &res), ACT_FAILED);
	result_clear(&res);

	/* dry run: nothing changes */
	f->ctx.dry_run = true;
	assert_int_equal(act_lock_user_ops.apply(&f->ctx, a, &undo, &res), ACT_DRY_RUN);
	f->ctx.dry_run = false;
	assert_null(undo);
	result_clear(&res);
	_cleanup_free_ char *same = get(f->root, "etc/shadow");
	assert_string_equal(same, shadow_text);

	assert_int_equal(act_lock_user_ops.apply(&f->ctx, a, &undo, &res), ACT_VERIFIED);
	assert_non_null(undo);
	assert_false(json_is_true(json_object_get(res.detail, "was_locked")));
	result_clear(&res);
	_cleanup_free_ char *locked = get(f->root, "etc/shadow");
	_cleanup_free_ char *want =
		xasprintf("%.*salice:!$6$salt$aliceHASH:19500:0:99999:7::1:\n%s",
			  (int)(strstr(shadow_text, "alice:") - shadow_text), shadow_text,
			  strstr(shadow_text, "bob:"));
	assert_string_equal(locked, want);
	assert_int_equal(mode_of(f->root, "etc/shadow"), 0640);
	/* no secret in the undo record */
	_cleanup_free_ char *u = json_dumps(undo, 0);
	assert_null(strstr(u, "HASH"));

	assert_int_equal(act_lock_user_ops.verify(&f->ctx, a, &res), ACT_VERIFIED);
	result_clear(&res);

	/* again: idempotent, and its undo says the account was locked already */
	assert_int_equal(act_lock_user_ops.apply(&f->ctx, a, &undo2, &res), ACT_VERIFIED);
	assert_true(json_is_true(json_object_get(res.detail, "was_locked")));
	result_clear(&res);
	_cleanup_free_ char *locked2 = get(f->root, "etc/shadow");
	assert_string_equal(locked2, want);

	/* rollback restores the file byte for byte; twice is harmless */
	assert_int_equal(act_lock_user_ops.rollback(&f->ctx, a, undo, &res), ACT_ROLLED_BACK);
	result_clear(&res);
	_cleanup_free_ char *back = get(f->root, "etc/shadow");
	assert_string_equal(back, shadow_text);
	assert_int_equal(mode_of(f->root, "etc/shadow"), 0640);
	assert_int_equal(act_lock_user_ops.rollback(&f->ctx, a, undo, &res), ACT_ROLLED_BACK);
	result_clear(&res);
	_cleanup_free_ char *back2 = get(f->root, "etc/shadow");
	assert_string_equal(back2, shadow_text);

	/* a damaged undo record is refused, not guessed at */
	json_t *bad = json_pack("{s:s, s:b, s:s}", "user", "bob", "prefixed", 1, "expire_was", "");
	assert_int_equal(act_lock_user_ops.rollback(&f->ctx, a, bad, &res), ACT_FAILED);
	result_clear(&res);
	json_decref(bad);
	json_decref(undo);
	json_decref(undo2);
}

static void test_lock_already_locked(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	_cleanup_(action_freep) Action *a = lock_action("bob");

	/* bob's password is locked already and his account expires on day 20000 */
	assert_int_equal(act_lock_user_ops.apply(&f->ctx, a, &undo, &res), ACT_VERIFIED);
	result_clear(&res);
	_cleanup_free_ char *locked = get(f->root, "etc/shadow");
	assert_non_null(strstr(locked, "bob:!$6$s$bobHASH:19500:0:99999:7::1:\n"));
	/* rollback puts the expiry back and leaves the lock that was there before */
	assert_int_equal(act_lock_user_ops.rollback(&f->ctx, a, undo, &res), ACT_ROLLED_BACK);
	result_clear(&res);
	_cleanup_free_ char *back = get(f->root, "etc/shadow");
	assert_string_equal(back, shadow_text);
	json_decref(undo);
}

static void test_lock_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const users[] = { "root", "toor", "carol", "nobodyhere" };
	for (size_t i = 0; i < ARRAY_SIZE(users); i++) {
		struct act_result res = { 0 };
		json_t *undo = NULL;
		_cleanup_(action_freep) Action *a = lock_action(users[i]);
		assert_int_equal(act_lock_user_ops.apply(&f->ctx, a, &undo, &res), ACT_REFUSED);
		assert_null(undo);
		assert_true(strlen(res.message) > 0);
		result_clear(&res);
	}
	_cleanup_free_ char *same = get(f->root, "etc/shadow");
	assert_string_equal(same, shadow_text);
}

/* ---- remove-authorized-key --------------------------------------------------------------- */

#define AK "home/alice/.ssh/authorized_keys"

static void test_remove_key(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	if (!f->have_keys)
		skip();
	_cleanup_free_ char *text = xasprintf("# alice\n%s\nfrom=\"10.1.1.1\" %s\n%s\n", f->pub[0],
					      f->pub[1], f->pub[1]);
	put(f->root, AK, text, 0640);
	bool root = geteuid() == 0;
	_cleanup_free_ char *akpath = xasprintf("%s/%s", f->root, AK);
	if (root)
		assert_int_equal(chown(akpath, ALICE_UID, ALICE_UID), 0);
	_cleanup_(action_freep) Action *a = key_action("alice", f->fp[1]);

	assert_int_equal(act_remove_authorized_key_ops.verify(&f->ctx, a, &res), ACT_FAILED);
	result_clear(&res);
	f->ctx.dry_run = true;
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, a, &undo, &res), ACT_DRY_RUN);
	f->ctx.dry_run = false;
	result_clear(&res);
	_cleanup_free_ char *same = get(f->root, AK);
	assert_string_equal(same, text);

	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, a, &undo, &res),
			 ACT_VERIFIED);
	assert_int_equal(json_integer_value(json_object_get(res.detail, "removed")), 2);
	result_clear(&res);
	_cleanup_free_ char *after = get(f->root, AK);
	_cleanup_free_ char *want = xasprintf("# alice\n%s\n", f->pub[0]);
	assert_string_equal(after, want);
	assert_int_equal(mode_of(f->root, AK), 0640);
	struct stat st;
	assert_int_equal(stat(akpath, &st), 0);
	if (root)
		assert_int_equal(st.st_uid, ALICE_UID);

	/* the removed lines are kept in quarantine, readable by root only */
	_cleanup_free_ char *qrel = xasprintf("quarantine/keys/%s.json", f->uid);
	assert_int_equal(mode_of(f->state, qrel), 0600);
	_cleanup_free_ char *q = get(f->state, qrel);
	json_t *qj = json_loads(q, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(qj, "lines")), 2);
	assert_string_equal(json_string_value(json_object_get(qj, "fingerprint")), f->fp[1]);
	json_decref(qj);

	assert_int_equal(act_remove_authorized_key_ops.verify(&f->ctx, a, &res), ACT_VERIFIED);
	result_clear(&res);
	/* again: nothing left to remove */
	json_t *undo2 = NULL;
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, a, &undo2, &res),
			 ACT_VERIFIED);
	result_clear(&res);
	json_decref(undo2);

	assert_int_equal(act_remove_authorized_key_ops.rollback(&f->ctx, a, undo, &res),
			 ACT_ROLLED_BACK);
	result_clear(&res);
	_cleanup_free_ char *restored = get(f->root, AK);
	assert_int_equal(authkeys_count(restored, strlen(restored), f->fp[1]), 2);
	assert_int_equal(authkeys_count(restored, strlen(restored), f->fp[0]), 1);
	assert_int_equal(mode_of(f->root, AK), 0640);
	assert_int_equal(act_remove_authorized_key_ops.verify(&f->ctx, a, &res), ACT_FAILED);
	result_clear(&res);
	_cleanup_free_ char *gone = get(f->state, qrel);
	assert_null(gone);
	/* a second rollback has nothing to restore */
	assert_int_equal(act_remove_authorized_key_ops.rollback(&f->ctx, a, undo, &res),
			 ACT_ROLLED_BACK);
	result_clear(&res);
	json_decref(undo);
}

static void test_remove_key_symlinks_refused(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	if (!f->have_keys)
		skip();
	/* authorized_keys is a symlink to a file the attacker wants rewritten */
	_cleanup_free_ char *victim = xasprintf("%s\n", f->pub[1]);
	put(f->root, "etc/precious", victim, 0600);
	_cleanup_free_ char *target = xasprintf("%s/etc/precious", f->root);
	_cleanup_free_ char *link = xasprintf("%s/%s", f->root, AK);
	assert_int_equal(symlink(target, link), 0);
	_cleanup_(action_freep) Action *a = key_action("alice", f->fp[1]);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, a, &undo, &res), ACT_REFUSED);
	assert_null(undo);
	result_clear(&res);
	_cleanup_free_ char *same = get(f->root, "etc/precious");
	assert_string_equal(same, victim);

	/* .ssh itself is a symlink */
	_cleanup_(action_freep) Action *b = key_action("bob", f->fp[1]);
	mkdirs(f->root, "home/bob/real");
	put(f->root, "home/bob/real/authorized_keys", victim, 0600);
	_cleanup_free_ char *real = xasprintf("%s/home/bob/real", f->root);
	_cleanup_free_ char *ssh = xasprintf("%s/home/bob/.ssh", f->root);
	assert_int_equal(symlink(real, ssh), 0);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, b, &undo, &res), ACT_REFUSED);
	result_clear(&res);
	_cleanup_free_ char *same2 = get(f->root, "home/bob/real/authorized_keys");
	assert_string_equal(same2, victim);

	/* the home itself is a symlink (to another account's home) */
	_cleanup_(action_freep) Action *d = key_action("dan", f->fp[1]);
	_cleanup_free_ char *dan = xasprintf("%s/home/dan", f->root);
	assert_int_equal(symlink("alice", dan), 0);
	put(f->root, "home/bob/real/authorized_keys", victim, 0600);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, d, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "symlink"));
	result_clear(&res);
}

/* A key left in authorized_keys2, which the action does not edit, is not "verified". */
static void test_remove_key_left_in_keys2(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	if (!f->have_keys)
		skip();
	_cleanup_free_ char *one = xasprintf("%s\n", f->pub[0]);
	_cleanup_free_ char *two = xasprintf("%s\n", f->pub[1]);
	put(f->root, AK, one, 0600);
	put(f->root, AK "2", two, 0600);
	_cleanup_(action_freep) Action *a = key_action("alice", f->fp[1]);

	/* apply finds nothing to remove in authorized_keys; the verify after it (as the executor
	 * runs them) fails, naming the file the key is still in */
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, a, &undo, &res),
			 ACT_VERIFIED);
	result_clear(&res);
	assert_int_equal(act_remove_authorized_key_ops.verify(&f->ctx, a, &res), ACT_FAILED);
	assert_non_null(strstr(res.message, "authorized_keys2"));
	result_clear(&res);
	_cleanup_free_ char *kept = get(f->root, AK "2");
	assert_string_equal(kept, two);
	json_decref(undo);
	_cleanup_free_ char *k2 = xasprintf("%s/%s2", f->root, AK);
	assert_int_equal(unlink(k2), 0);
}

static void test_remove_key_refused_and_absent(void **state)
{
	struct fixture *f = *state;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	const char *fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

	_cleanup_(action_freep) Action *c = key_action("carol", fp);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, c, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "protected"));
	result_clear(&res);
	_cleanup_(action_freep) Action *n = key_action("nobodyhere", fp);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, n, &undo, &res), ACT_REFUSED);
	result_clear(&res);

	/* bob has no .ssh: nothing to remove is success, and its rollback restores nothing */
	_cleanup_(action_freep) Action *b = key_action("bob", fp);
	assert_int_equal(act_remove_authorized_key_ops.apply(&f->ctx, b, &undo, &res),
			 ACT_VERIFIED);
	result_clear(&res);
	assert_non_null(undo);
	assert_int_equal(act_remove_authorized_key_ops.verify(&f->ctx, b, &res), ACT_VERIFIED);
	result_clear(&res);
	assert_int_equal(act_remove_authorized_key_ops.rollback(&f->ctx, b, undo, &res),
			 ACT_ROLLED_BACK);
	result_clear(&res);
	json_decref(undo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fingerprints_match_ssh_keygen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_authkeys_remove_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authkeys_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_unlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_already_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_key_symlinks_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_key_left_in_keys2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_key_refused_and_absent, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, make_keys, free_keys);
}
