/* Unit tests for the file and fix actions (act_file.c, act_fix.c, act_edit.c, act_run.c):
 * the key/value and cron editors on buffers, act_run (output, exit status, timeout, clean
 * environment, closed descriptors), quarantine-file and restore-file round trips with their
 * hashes, refusals (symlinks, protected and virtual paths, cron paths, manual fixes, no
 * systemd), apply-fix config_set / file_mode with rollback, and sysctl_set inside a new
 * network namespace when root. Every target lives in a mkdtemp directory under /tmp. */
#include "unit.h"

#include "detect/vault.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "respond/act_edit.h"

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

struct fixture {
	char *dir;   /* the temporary directory */
	char *state; /* dir/state/respond */
	char uid[ACTION_UID_LEN + 1];
	struct act_ctx ctx;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test_act_file.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	_cleanup_free_ char *s = xasprintf("%s/state", f->dir);
	assert_int_equal(mkdir(s, 0700), 0);
	f->state = xasprintf("%s/respond", s);
	assert_int_equal(mkdir(f->state, 0700), 0);
	action_new_uid(f->uid);
	f->ctx = (struct act_ctx){ .state_dir = f->state, .uid = f->uid };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f->state);
	free(f);
	return 0;
}

static char *path_in(struct fixture *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(file_write_atomic(path, text, strlen(text), mode), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *get_file(const char *path)
{
	_cleanup_(buf_free) struct buf b = { 0 };
	buf_init(&b, ACT_FILE_MAX);
	assert_int_equal(file_read_capped(path, ACT_FILE_MAX, &b), 0);
	return buf_steal(&b);
}

static void free_result(struct act_result *res)
{
	json_decref(res->detail);
	res->detail = NULL;
}

/* ---- the key/value editor ---- */

static char *kv_set(const char *text, const struct act_kv *kv, int want_r)
{
	_cleanup_(buf_free) struct buf out = { 0 };
	assert_int_equal(act_kv_set(text, strlen(text), kv, &out), want_r);
	return buf_steal(&out);
}

static void test_kv_replace_keeps_the_rest(void **state)
{
	const char *in = "# comment PermitRootLogin yes\n"
			 "Port 22\n"
			 "  permitrootlogin   yes\n"
			 "#PermitRootLogin no\n"
			 "Match User bob\n"
			 "\tPermitRootLogin yes\n";
	struct act_kv kv = { .key = "PermitRootLogin", .value = "no" };
	_cleanup_free_ char *out = kv_set(in, &kv, 1);
	assert_string_equal(out, "# comment PermitRootLogin yes\n"
				 "Port 22\n"
				 "  PermitRootLogin no\n"
				 "#PermitRootLogin no\n"
				 "Match User bob\n"
				 "\tPermitRootLogin yes\n");
	/* already in place: nothing changes */
	_cleanup_free_ char *again = kv_set(out, &kv, 0);
	assert_string_equal(again, out);
	char val[64];
	assert_int_equal(act_kv_get(out, strlen(out), &kv, val, sizeof(val)), 1);
	assert_string_equal(val, "no");
}

static void test_kv_add_before_match(void **state)
{
	struct act_kv kv = { .key = "MaxAuthTries", .value = "4" };
	_cleanup_free_ char *out = kv_set("Port 22\nMatch all\n  X11Forwarding no\n", &kv, 1);
	assert_string_equal(out, "Port 22\nMaxAuthTries 4\nMatch all\n  X11Forwarding no\n");
	/* at the end, adding the missing final newline first */
	_cleanup_free_ char *end = kv_set("Port 22", &kv, 1);
	assert_string_equal(end, "Port 22\nMaxAuthTries 4\n");
	_cleanup_free_ char *empty = kv_set("", &kv, 1);
	assert_string_equal(empty, "MaxAuthTries 4\n");
	char val[8];
	assert_int_equal(act_kv_get("Port 22\n", 8, &kv, val, sizeof(val)), 0);
}

static void test_kv_separators_and_sections(void **state)
{
	struct act_kv kv = { .key = "net.ipv4.ip_forward", .value = "0", .sep = " = " };
	_cleanup_free_ char *a = kv_set("net.ipv4.ip_forward=1\r\nkernel.x = 2\n", &kv, 1);
	assert_string_equal(a, "net.ipv4.ip_forward = 0\r\nkernel.x = 2\n");
	char val[8];
	assert_int_equal(
		act_kv_get("k:  v w  \n", 10, &(struct act_kv){ .key = "k" }, val, sizeof(val)), 1);
	assert_string_equal(val, "v w");

	struct act_kv s = { .key = "enabled", .value = "false", .sep = "=", .section = "main" };
	_cleanup_free_ char *b = kv_set("top=1\n[main]\nx=1\n[other]\nenabled=true\n", &s, 1);
	assert_string_equal(b, "top=1\n[main]\nx=1\nenabled=false\n[other]\nenabled=true\n");
	_cleanup_free_ char *c = kv_set("[other]\nenabled=true\n", &s, 1);
	assert_string_equal(c, "[other]\nenabled=true\n\n[main]\nenabled=false\n");
	_cleanup_free_ char *d = kv_set("[main]\n enabled = true\n", &s, 1);
	assert_string_equal(d, "[main]\n enabled=false\n");
}

static void test_kv_refusals(void **state)
{
	_cleanup_(buf_free) struct buf out = { 0 };
	struct act_kv kv = { .key = "A", .value = "b" };
	char err[128];
	assert_int_equal(act_kv_set("x\0y\n", 4, &kv, &out), -EMEDIUMTYPE);
	kv.value = "two\nlines";
	assert_int_equal(act_kv_check(&kv, err, sizeof(err)), -EINVAL);
	assert_int_equal(act_kv_set("", 0, &kv, &out), -EINVAL);
	kv = (struct act_kv){ .key = "A B", .value = "c" };
	assert_int_equal(act_kv_check(&kv, err, sizeof(err)), -EINVAL);
	kv = (struct act_kv){ .key = "A", .value = "c", .sep = "->" };
	assert_int_equal(act_kv_check(&kv, err, sizeof(err)), -EINVAL);
	kv = (struct act_kv){ .key = "A", .value = "c", .section = "a]b" };
	assert_int_equal(act_kv_check(&kv, err, sizeof(err)), -EINVAL);
	kv = (struct act_kv){ .key = "A", .value = "c" };
	_cleanup_free_ char *big = xmalloc(ACT_FILE_MAX + 2);
	memset(big, 'a', ACT_FILE_MAX + 1);
	big[ACT_FILE_MAX + 1] = '\0';
	assert_int_equal(act_kv_set(big, ACT_FILE_MAX + 1, &kv, &out), -EFBIG);
}

/* ---- the cron editor ---- */

static void test_cron_edit(void **state)
{
	const char *uid = "0123456789abcdef0123456789abcdef";
	const char *entry = "* * * * * root /tmp/x";
	const char *in = "SHELL=/bin/sh\n* * * * * root /tmp/x  \n#* * * * * root /tmp/x\n"
			 "5 * * * * root /tmp/x --other";
	_cleanup_(buf_free) struct buf out = { 0 };
	_cleanup_(buf_free) struct buf back = { 0 };

	assert_int_equal(act_cron_active(in, strlen(in), entry), 1);
	assert_int_equal(act_cron_disable(in, strlen(in), entry, uid, &out), 1);
	assert_string_equal(buf_str(&out),
			    "SHELL=/bin/sh\n#immune-disabled:0123456789abcdef0123456789abcdef "
			    "* * * * * root /tmp/x  \n#* * * * * root /tmp/x\n"
			    "5 * * * * root /tmp/x --other");
	assert_int_equal(act_cron_active(buf_str(&out), buf_len(&out), entry), 0);
	/* another action's mark is left alone */
	assert_int_equal(act_cron_enable(buf_str(&out), buf_len(&out),
					 "ffffffffffffffffffffffffffffffff", &back),
			 0);
	assert_int_equal(act_cron_enable(buf_str(&out), buf_len(&out), uid, &back), 1);
	assert_string_equal(buf_str(&back), in);

	assert_true(act_cron_path_ok("/etc/crontab"));
	assert_true(act_cron_path_ok("/etc/cron.d/job"));
	assert_true(act_cron_path_ok("/var/spool/cron/crontabs/root"));
	assert_false(act_cron_path_ok("/etc/cron.d/"));
	assert_false(act_cron_path_ok("/etc/cron.d/.hidden"));
	assert_false(act_cron_path_ok("/etc/cron.d/a/b"));
	assert_false(act_cron_path_ok("/etc/crontab2"));
	assert_false(act_cron_path_ok("/tmp/crontab"));
}

static void test_cron_action_path_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "crontab");
	put_file(p, "* * * * * root /tmp/x\n", 0644);
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON;
	a.path = p;
	a.entry = "* * * * * root /tmp/x";
	struct act_result res = { 0 };
	json_t *undo = NULL;
	const struct act_ops *ops = act_lookup(a.kind);
	assert_non_null(ops);
	assert_int_equal(ops->apply(&f->ctx, &a, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "/etc/cron.d/"));
	json_decref(undo);
	_cleanup_free_ char *after = get_file(p);
	assert_string_equal(after, "* * * * * root /tmp/x\n");
}

/* ---- act_run ---- */

static void test_run(void **state)
{
	char out[256];
	const char *echo[] = { "/bin/echo", "hello", "world", NULL };
	assert_int_equal(act_run(echo, 5000, out, sizeof(out)), 0);
	assert_string_equal(out, "hello world\n");
	const char *no[] = { "/bin/false", NULL };
	assert_int_equal(act_run(no, 5000, NULL, 0), 1);
	const char *env[] = { "/usr/bin/env", NULL };
	assert_int_equal(act_run(env, 5000, out, sizeof(out)), 0);
	assert_string_equal(out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	const char *slow[] = { "/bin/sleep", "30", NULL };
	assert_int_equal(act_run(slow, 200, out, sizeof(out)), -ETIMEDOUT);
	const char *rel[] = { "echo", NULL };
	assert_int_equal(act_run(rel, 1000, out, sizeof(out)), -EINVAL);
	const char *missing[] = { "/nonexistent/prog", NULL };
	assert_true(act_run(missing, 1000, out, sizeof(out)) < 0);
	/* stdin is /dev/null; the output is capped at the caller's buffer */
	const char *cat[] = { "/bin/cat", NULL };
	assert_int_equal(act_run(cat, 5000, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	char small[4];
	assert_int_equal(act_run(echo, 5000, small, sizeof(small)), 0);
	assert_string_equal(small, "hel");
	/* a descriptor of ours without close-on-exec does not reach the child */
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd > 2);
	_cleanup_free_ char *fdp = xasprintf("/proc/self/fd/%d", fd);
	const char *test[] = { "/usr/bin/test", "-e", fdp, NULL };
	assert_int_equal(act_run(test, 5000, NULL, 0), 1);
	close(fd);
}

/* ---- quarantine-file ---- */

static enum act_status run_apply(struct fixture *f, const Action *a, json_t **undo,
				 struct act_result *res)
{
	const struct act_ops *ops = act_lookup(a->kind);
	assert_non_null(ops);
	*res = (struct act_result){ 0 };
	*undo = NULL;
	return ops->apply(&f->ctx, a, undo, res);
}

static void test_quarantine_round_trip(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "evil");
	put_file(p, "#!/bin/sh\necho owned\n", 04755);
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE;
	a.path = p;
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	char want[ACT_SHA_HEX];
	struct stat st;

	assert_int_equal(act_sha256_mem("#!/bin/sh\necho owned\n", 21, want), 0);
	/* dry run changes nothing */
	f->ctx.dry_run = true;
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_DRY_RUN);
	assert_int_equal(access(p, F_OK), 0);
	f->ctx.dry_run = false;

	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	assert_non_null(undo);
	assert_string_equal(json_string_value(json_object_get(undo, "sha256")), want);
	assert_int_equal(json_integer_value(json_object_get(undo, "mode")), 04755);
	assert_int_equal(access(p, F_OK), -1);
	_cleanup_free_ char *q = xasprintf("%s/quarantine/files/%s", f->state, f->uid);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_VERIFIED);
	/* applying again finds it already in quarantine */
	json_t *undo2 = NULL;
	assert_int_equal(run_apply(f, &a, &undo2, &res), ACT_VERIFIED);
	json_decref(undo2);

	assert_int_equal(ops->rollback(&f->ctx, &a, undo, &res), ACT_ROLLED_BACK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	_cleanup_free_ char *back = get_file(p);
	assert_string_equal(back, "#!/bin/sh\necho owned\n");
	assert_int_equal(access(q, F_OK), -1);
	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_FAILED);
	json_decref(undo);
}

static void test_quarantine_rollback_never_overwrites(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "dropper");
	put_file(p, "one", 0755);
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE;
	a.path = p;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	put_file(p, "two", 0755); /* recreated meanwhile */
	assert_int_equal(act_lookup(a.kind)->verify(&f->ctx, &a, &res), ACT_FAILED);
	assert_int_equal(act_lookup(a.kind)->rollback(&f->ctx, &a, undo, &res), ACT_REFUSED);
	_cleanup_free_ char *now = get_file(p);
	assert_string_equal(now, "two");
	json_decref(undo);
}

/* The quarantine on another file system (tmpfs): the file is copied, then unlinked. */
static void test_quarantine_across_file_systems(void **state)
{
	struct fixture *f = *state;
	char tmpl[] = "/dev/shm/test_act_file.XXXXXX";
	struct stat a_st, b_st;
	if (!mkdtemp(tmpl))
		skip();
	_cleanup_free_ char *shm_state = xasprintf("%s/respond", tmpl);
	_cleanup_free_ char *p = path_in(f, "payload");
	put_file(p, "binary\001data", 0700);
	if (stat(tmpl, &a_st) < 0 || stat(f->dir, &b_st) < 0 || a_st.st_dev == b_st.st_dev) {
		rmdir(tmpl);
		skip();
	}
	f->ctx.state_dir = shm_state;
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE;
	a.path = p;
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	enum act_status applied = run_apply(f, &a, &undo, &res);
	bool copied = json_is_true(json_object_get(undo, "copied"));
	bool gone = access(p, F_OK) < 0;
	enum act_status verified = ops->verify(&f->ctx, &a, &res);
	enum act_status rolled = ops->rollback(&f->ctx, &a, undo, &res);
	free_result(&res);
	json_decref(undo);
	f->ctx.state_dir = f->state;
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(applied, ACT_VERIFIED);
	assert_true(copied);
	assert_true(gone);
	assert_int_equal(verified, ACT_VERIFIED);
	assert_int_equal(rolled, ACT_ROLLED_BACK);
	_cleanup_free_ char *back = get_file(p);
	assert_string_equal(back, "binary\001data");
	assert_int_equal(stat(p, &b_st), 0);
	assert_int_equal(b_st.st_mode & 07777, 0700);
}

static void expect_refused(struct fixture *f, const char *path, const char *why)
{
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_QUARANTINE_FILE;
	a.path = (char *)path;
	struct act_result res = { 0 };
	json_t *undo = NULL;
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_REFUSED);
	if (!strstr(res.message, why))
		fail_msg("%s: '%s' lacks '%s'", path, res.message, why);
	json_decref(undo);
	free_result(&res);
}

static void test_quarantine_refusals(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *target = path_in(f, "target");
	_cleanup_free_ char *slink = path_in(f, "link");
	_cleanup_free_ char *dir = path_in(f, "dir");
	_cleanup_free_ char *dlink = path_in(f, "dlink");
	_cleanup_free_ char *through = path_in(f, "dlink/inner");
	_cleanup_free_ char *inner = path_in(f, "dir/inner");

	put_file(target, "x", 0644);
	assert_int_equal(symlink(target, slink), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	put_file(inner, "y", 0644);
	assert_int_equal(symlink(dir, dlink), 0);

	expect_refused(f, slink, "symlink");
	expect_refused(f, through, "symlink");
	expect_refused(f, dir, "not a regular file");
	_cleanup_free_ char *fifo = path_in(f, "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_refused(f, fifo, "not a regular file"); /* and never opened: no hang */
	expect_refused(f, "/etc/passwd", "protected");
	expect_refused(f, "/etc/shadow", "protected");
	expect_refused(f, "/etc/sudoers.d/x", "protected");
	expect_refused(f, "/bin/sh", "protected");
	expect_refused(f, "/lib/x86_64-linux-gnu/libc.so.6", "protected");
	expect_refused(f, "/proc/self/status", "/proc");
	expect_refused(f, "/dev/null", "/proc");
	_cleanup_free_ char *agent = xasprintf("%s/state/agent.db", f->dir);
	put_file(agent, "z", 0600);
	expect_refused(f, agent, "state directory");
	/* a hard link to a protected file is the protected file */
	_cleanup_free_ char *hl = path_in(f, "passwd-link");
	if (link("/etc/passwd", hl) == 0) {
		expect_refused(f, hl, "protected");
		unlink(hl);
	}
	assert_int_equal(access(target, F_OK), 0);
	assert_int_equal(access(inner, F_OK), 0);
}

/* ---- restore-file ---- */

static void restore_round_trip(struct fixture *f, bool own_vault)
{
	_cleanup_free_ char *p = path_in(f, "motd");
	_cleanup_free_ char *agent = xasprintf("%s/state", f->dir);
	struct vault *v = NULL;
	uint8_t sha[FIM_SHA256_LEN];
	char hex[ACT_SHA_HEX];
	const char *good = "welcome\n";

	assert_int_equal(vault_open(agent, 0, 0, &v), 0);
	assert_int_equal(vault_put(v, good, strlen(good), sha), 0);
	fim_sha256_hex(sha, hex);
	if (!own_vault) {
		vault_free(v);
		v = NULL;
	}
	f->ctx.vault = v;
	put_file(p, "tampered\n", 0640);

	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_RESTORE_FILE;
	a.path = p;
	a.sha256 = hex;
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	struct stat st;

	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_FAILED);
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	_cleanup_free_ char *now = get_file(p);
	assert_string_equal(now, good);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_VERIFIED);
	assert_int_equal(ops->rollback(&f->ctx, &a, undo, &res), ACT_ROLLED_BACK);
	_cleanup_free_ char *back = get_file(p);
	assert_string_equal(back, "tampered\n");
	json_decref(undo);

	/* a snapshot the vault does not hold */
	a.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_REFUSED);
	json_decref(undo);
	vault_free(v);
	f->ctx.vault = NULL;
}

static void test_restore_round_trip(void **state)
{
	restore_round_trip(*state, true);
}

static void test_restore_opens_the_agent_vault(void **state)
{
	restore_round_trip(*state, false);
}

/* ---- apply-fix ---- */

static Action fix_action(const char *json)
{
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_APPLY_FIX;
	a.fix_json = (char *)json;
	return a;
}

static void test_fix_parse(void **state)
{
	json_t *fix = NULL;
	char err[256];
	assert_int_equal(act_fix_parse("{\"type\":\"config_set\",\"file\":\"/a\",\"key\":\"k\","
				       "\"value\":\"v\"}",
				       &fix, err, sizeof(err)),
			 0);
	json_decref(fix);
	assert_int_equal(act_fix_parse("{\"type\":\"config_set\",\"file\":\"/a\",\"key\":\"k\"}",
				       &fix, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "'value' is required"));
	assert_int_equal(act_fix_parse("{\"type\":\"sysctl_set\",\"key\":\"a\",\"value\":\"1\","
				       "\"extra\":\"x\"}",
				       &fix, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown field 'extra'"));
	assert_int_equal(
		act_fix_parse("{\"type\":\"file_mode\",\"path\":1}", &fix, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(act_fix_parse("{\"type\":\"x\"}", &fix, err, sizeof(err)), -EINVAL);
	assert_int_equal(act_fix_parse("[1]", &fix, err, sizeof(err)), -EINVAL);
	assert_int_equal(act_fix_parse("{\"type\":\"file_mode\",\"type\":\"file_mode\"}", &fix, err,
				       sizeof(err)),
			 -EINVAL);
}

static void test_fix_manual_refused(void **state)
{
	struct fixture *f = *state;
	const char *fixes[] = {
		"{\"type\":\"package_remove\",\"package\":\"telnetd\"}",
		"{\"type\":\"mount_option\",\"mount_point\":\"/tmp\",\"option\":\"noexec\"}",
		"{\"type\":\"account_lock\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixes); i++) {
		Action a = fix_action(fixes[i]);
		struct act_result res = { 0 };
		json_t *undo = NULL;
		assert_int_equal(run_apply(f, &a, &undo, &res), ACT_REFUSED);
		assert_non_null(strstr(res.message, "not applied automatically"));
		json_decref(undo);
	}
}

static void test_fix_config_set(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "daemon.conf");
	const char *orig = "# settings\nPort 22\nPermitRootLogin yes\n";
	put_file(p, orig, 0640);
	_cleanup_free_ char *json = xasprintf("{\"type\":\"config_set\",\"file\":\"%s\","
					      "\"key\":\"PermitRootLogin\",\"value\":\"no\"}",
					      p);
	Action a = fix_action(json);
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	struct stat st;

	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_FAILED);
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	_cleanup_free_ char *now = get_file(p);
	assert_string_equal(now, "# settings\nPort 22\nPermitRootLogin no\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_VERIFIED);
	assert_int_equal(ops->rollback(&f->ctx, &a, undo, &res), ACT_ROLLED_BACK);
	_cleanup_free_ char *back = get_file(p);
	assert_string_equal(back, orig);
	json_decref(undo);

	/* a file changed after the fix is not rolled back over */
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	put_file(p, "edited by hand\n", 0640);
	assert_int_equal(ops->rollback(&f->ctx, &a, undo, &res), ACT_REFUSED);
	_cleanup_free_ char *kept = get_file(p);
	assert_string_equal(kept, "edited by hand\n");
	json_decref(undo);

	/* a file created by the fix is removed by its rollback */
	_cleanup_free_ char *newf = path_in(f, "new.conf");
	_cleanup_free_ char *json2 = xasprintf("{\"type\":\"config_set\",\"file\":\"%s\","
					       "\"key\":\"a\",\"value\":\"1\",\"separator\":\"=\"}",
					       newf);
	Action b = fix_action(json2);
	assert_int_equal(run_apply(f, &b, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	_cleanup_free_ char *created = get_file(newf);
	assert_string_equal(created, "a=1\n");
	assert_int_equal(ops->rollback(&f->ctx, &b, undo, &res), ACT_ROLLED_BACK);
	assert_int_equal(access(newf, F_OK), -1);
	json_decref(undo);

	/* refusals: protected files, symlinks, files over 1 MiB */
	Action c = fix_action("{\"type\":\"config_set\",\"file\":\"/etc/shadow\",\"key\":\"a\","
			      "\"value\":\"1\"}");
	assert_int_equal(run_apply(f, &c, &undo, &res), ACT_REFUSED);
	json_decref(undo);
	_cleanup_free_ char *lnk = path_in(f, "link.conf");
	assert_int_equal(symlink(p, lnk), 0);
	_cleanup_free_ char *json3 = xasprintf("{\"type\":\"config_set\",\"file\":\"%s\","
					       "\"key\":\"a\",\"value\":\"1\"}",
					       lnk);
	Action d = fix_action(json3);
	assert_int_equal(run_apply(f, &d, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "symlink"));
	json_decref(undo);
	_cleanup_free_ char *big = path_in(f, "big.conf");
	_cleanup_free_ char *blob = xmalloc(ACT_FILE_MAX + 1);
	memset(blob, 'a', ACT_FILE_MAX + 1);
	assert_int_equal(file_write_atomic(big, blob, ACT_FILE_MAX + 1, 0644), 0);
	_cleanup_free_ char *json4 = xasprintf("{\"type\":\"config_set\",\"file\":\"%s\","
					       "\"key\":\"a\",\"value\":\"1\"}",
					       big);
	Action e = fix_action(json4);
	assert_int_equal(run_apply(f, &e, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "larger than"));
	json_decref(undo);
}

static void test_fix_file_mode(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = path_in(f, "secret");
	put_file(p, "s", 04777);
	_cleanup_free_ char *json =
		xasprintf("{\"type\":\"file_mode\",\"path\":\"%s\",\"mode\":\"0640\"}", p);
	Action a = fix_action(json);
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	struct stat st;

	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_VERIFIED);
	free_result(&res);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ops->verify(&f->ctx, &a, &res), ACT_VERIFIED);
	assert_int_equal(ops->rollback(&f->ctx, &a, undo, &res), ACT_ROLLED_BACK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04777);
	json_decref(undo);
	/* the owner of a protected file is never changed */
	Action b = fix_action("{\"type\":\"file_mode\",\"path\":\"/etc/shadow\",\"owner\":\"1\"}");
	assert_int_equal(run_apply(f, &b, &undo, &res), ACT_REFUSED);
	json_decref(undo);
}

static void test_service_without_systemd(void **state)
{
	struct fixture *f = *state;
	if (access("/run/systemd/system", F_OK) == 0)
		skip();
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_SERVICE;
	a.unit = "cups.service";
	struct act_result res = { 0 };
	json_t *undo = NULL;
	assert_int_equal(run_apply(f, &a, &undo, &res), ACT_REFUSED);
	assert_non_null(strstr(res.message, "systemd"));
	json_decref(undo);
	Action b = fix_action("{\"type\":\"service_enable\",\"service\":\"auditd\"}");
	assert_int_equal(run_apply(f, &b, &undo, &res), ACT_REFUSED);
	json_decref(undo);
}

/* In a new network namespace (root only): set net.ipv4.ip_forward, persist it in a temporary
 * file, verify, roll back. Runs in a child so the test process keeps its namespace. */
static int sysctl_child(struct fixture *f)
{
	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	_cleanup_free_ char *conf = path_in(f, "60-test.conf");
	put_file(conf, "# kept\nkernel.other = 1\n", 0644);
	char before[16] = "";
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY);
	if (fd < 0 || read(fd, before, sizeof(before) - 1) <= 0)
		return 10;
	close(fd);
	const char *want = before[0] == '1' ? "0" : "1";
	_cleanup_free_ char *json = xasprintf("{\"type\":\"sysctl_set\",\"key\":"
					      "\"net.ipv4.ip_forward\",\"value\":\"%s\","
					      "\"file\":\"%s\"}",
					      want, conf);
	Action a = fix_action(json);
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	if (ops->apply(&f->ctx, &a, &undo, &res) != ACT_VERIFIED)
		return 11;
	if (ops->verify(&f->ctx, &a, &res) != ACT_VERIFIED)
		return 12;
	_cleanup_free_ char *persisted = get_file(conf);
	_cleanup_free_ char *line = xasprintf("kernel.other = 1\nnet.ipv4.ip_forward = %s\n", want);
	if (!strstr(persisted, line))
		return 13;
	if (ops->rollback(&f->ctx, &a, undo, &res) != ACT_ROLLED_BACK)
		return 14;
	if (ops->verify(&f->ctx, &a, &res) != ACT_FAILED)
		return 15;
	_cleanup_free_ char *back = get_file(conf);
	if (strcmp(back, "# kept\nkernel.other = 1\n"))
		return 16;
	json_decref(undo);
	/* a parameter that does not exist is refused */
	Action b = fix_action("{\"type\":\"sysctl_set\",\"key\":\"net.nope\",\"value\":\"1\"}");
	undo = NULL;
	if (ops->apply(&f->ctx, &b, &undo, &res) != ACT_REFUSED)
		return 17;
	json_decref(undo);
	return 0;
}

static void test_fix_sysctl_in_netns(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(sysctl_child(f));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* In a private mount namespace (root only), a temporary directory is bind-mounted over
 * /etc/cron.d and another over /etc/modprobe.d: disable-cron and module_disable then run on
 * their real paths without touching the host's files. */
static int bind_over(struct fixture *f, const char *name, const char *target)
{
	_cleanup_free_ char *d = path_in(f, name);
	if (mkdir(d, 0755) < 0)
		return -1;
	return mount(d, target, NULL, MS_BIND, NULL);
}

static int cron_child(struct fixture *f)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	if (access("/etc/cron.d", F_OK) < 0 && mkdir("/etc/cron.d", 0755) < 0)
		return 77;
	if (bind_over(f, "cron.d", "/etc/cron.d") < 0)
		return 77;
	const char *text =
		"# job\nSHELL=/bin/sh\n*/5 * * * * root /tmp/.x/run\n0 1 * * * root true\n";
	put_file("/etc/cron.d/job", text, 0640);
	if (chown("/etc/cron.d/job", 0, 42) < 0)
		return 10;
	Action a = IMMUNE__V1__ACTION__INIT;
	a.kind = IMMUNE__V1__ACTION_KIND__ACTION_DISABLE_CRON;
	a.path = "/etc/cron.d/job";
	a.entry = "*/5 * * * * root /tmp/.x/run";
	const struct act_ops *ops = act_lookup(a.kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	struct stat st;
	if (ops->verify(&f->ctx, &a, &res) != ACT_FAILED)
		return 11;
	if (ops->apply(&f->ctx, &a, &undo, &res) != ACT_VERIFIED)
		return 12;
	json_decref(res.detail);
	_cleanup_free_ char *now = get_file("/etc/cron.d/job");
	_cleanup_free_ char *want =
		xasprintf("# job\nSHELL=/bin/sh\n#immune-disabled:%s */5 * * * * "
			  "root /tmp/.x/run\n0 1 * * * root true\n",
			  f->uid);
	if (strcmp(now, want))
		return 13;
	if (stat("/etc/cron.d/job", &st) < 0 || (st.st_mode & 07777) != 0640 || st.st_gid != 42)
		return 14;
	if (ops->verify(&f->ctx, &a, &res) != ACT_VERIFIED)
		return 15;
	json_t *again = NULL;
	if (ops->apply(&f->ctx, &a, &again, &res) != ACT_VERIFIED ||
	    !strstr(res.message, "already"))
		return 16;
	json_decref(again);
	if (ops->rollback(&f->ctx, &a, undo, &res) != ACT_ROLLED_BACK)
		return 17;
	_cleanup_free_ char *back = get_file("/etc/cron.d/job");
	if (strcmp(back, text))
		return 18;
	json_decref(undo);
	/* a symlink in the cron directory is refused */
	if (symlink("/etc/cron.d/job", "/etc/cron.d/link") < 0)
		return 19;
	a.path = "/etc/cron.d/link";
	undo = NULL;
	if (ops->apply(&f->ctx, &a, &undo, &res) != ACT_REFUSED)
		return 20;
	json_decref(undo);

	/* module_disable writes its drop-in, rollback removes it */
	if (access("/etc/modprobe.d", F_OK) < 0 && mkdir("/etc/modprobe.d", 0755) < 0)
		return 77;
	if (bind_over(f, "modprobe.d", "/etc/modprobe.d") < 0)
		return 77;
	Action m = fix_action("{\"type\":\"module_disable\",\"module\":\"usb-storage\"}");
	undo = NULL;
	if (ops = act_lookup(m.kind), ops->apply(&f->ctx, &m, &undo, &res) != ACT_VERIFIED)
		return 21;
	json_decref(res.detail);
	_cleanup_free_ char *drop = get_file("/etc/modprobe.d/60-immune-usb-storage.conf");
	if (!strstr(drop, "\nblacklist usb-storage\ninstall usb-storage /bin/false\n"))
		return 22;
	if (ops->verify(&f->ctx, &m, &res) != ACT_VERIFIED)
		return 23;
	if (ops->rollback(&f->ctx, &m, undo, &res) != ACT_ROLLED_BACK)
		return 24;
	if (access("/etc/modprobe.d/60-immune-usb-storage.conf", F_OK) == 0)
		return 25;
	json_decref(undo);
	return 0;
}

static void test_cron_and_module_in_mount_ns(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(cron_child(f));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_replace_keeps_the_rest),
		cmocka_unit_test(test_kv_add_before_match),
		cmocka_unit_test(test_kv_separators_and_sections),
		cmocka_unit_test(test_kv_refusals),
		cmocka_unit_test(test_cron_edit),
		cmocka_unit_test_setup_teardown(test_cron_action_path_refused, setup, teardown),
		cmocka_unit_test(test_run),
		cmocka_unit_test_setup_teardown(test_quarantine_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_rollback_never_overwrites, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_across_file_systems, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_opens_the_agent_vault, setup,
						teardown),
		cmocka_unit_test(test_fix_parse),
		cmocka_unit_test_setup_teardown(test_fix_manual_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fix_config_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fix_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_without_systemd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fix_sysctl_in_netns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cron_and_module_in_mount_ns, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
