/* The catalog fixture harness, used by the catalog's authors.
 *
 * Every YAML file in tests/fixtures/expect/ names a fixture root and the status each listed check must
 * have there:
 *
 *     root: os/debian12-hardened        # relative to tests/fixtures
 *     setup:                               # optional: applied to a temporary copy
 *       chmod: { /etc/shadow: "0640" }     # (git keeps neither modes nor owners)
 *       chown: { /etc/shadow: "0:42" }     # numeric uid:gid
 *     expect: { ssh-permit-root-login: pass, ssh-max-auth-tries: fail }
 *
 * With a setup, the root is copied (cp -a) to a temporary directory, the owners are set, then
 * the modes (after chown, so set-id bits survive), and the copy is collected and removed.
 *
 * The harness collects the root's inventory, evaluates the shipped catalog (policies/) and
 * compares; every mismatch is printed with the check's message. Then coverage: every check of
 * the catalog must be expected to pass somewhere and to fail somewhere. */
#include "unit.h"

#include "lib/buf.h"
#include "lib/ytree.h"
#include "policy/catalog.h"
#include "policy/eval.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXPECT_FILE_MAX (1u << 20)

struct coverage {
	bool *pass, *fail;
};

static int read_all(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "re");
	char chunk[8192];
	size_t n;
	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) < 0) {
			fclose(f);
			return -EFBIG;
		}
	fclose(f);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted paths of the *.yml files of dir; none when dir does not exist. */
static strv list_expect_files(const char *dir)
{
	strv v = xcalloc(1, sizeof(char *));
	DIR *d = opendir(dir);
	if (!d) {
		assert_int_equal(errno, ENOENT);
		return v;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_has_suffix(de->d_name, ".yml"))
			strv_push_take(&v, xasprintf("%s/%s", dir, de->d_name));
	closedir(d);
	qsort(v, strv_len(v), sizeof(char *), cmp_str);
	return v;
}

/* Runs argv (no shell) and returns its exit status, or -1 when it did not exit normally. */
static int run_argv(char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void remove_tree(const char *dir)
{
	char *argv[] = { "rm", "-rf", "--", (char *)dir, NULL };
	if (dir)
		assert_int_equal(run_argv(argv), 0);
}

/* True when no component of rel (below copy) is a symbolic link, so that chmod and chown
 * cannot reach outside the copy. */
static bool no_symlinks(const char *copy, const char *rel)
{
	struct stat st;
	for (size_t i = 1; rel[i - 1]; i++) {
		if (rel[i] != '/' && rel[i] != '\0')
			continue;
		_cleanup_free_ char *prefix = xasprintf("%s%.*s", copy, (int)i, rel);
		if (lstat(prefix, &st) == 0 && S_ISLNK(st.st_mode))
			return false;
	}
	return true;
}

/* The path of a setup entry inside copy; NULL (printed) when it is not absolute, has "..", or
 * passes through a symbolic link. */
static char *setup_path(const char *copy, const char *file, const struct ynode *k)
{
	if (k->type != YNODE_SCALAR || k->scalar[0] != '/' || strstr(k->scalar, "..") ||
	    !no_symlinks(copy, k->scalar)) {
		printf("%s:%u:%u: setup paths are absolute, without '..' or symbolic links\n", file,
		       k->line, k->col);
		return NULL;
	}
	return xasprintf("%s%s", copy, k->scalar);
}

/* Applies one setup map (chown when owners, else chmod); returns the problems (printed). */
static size_t apply_setup_map(const char *copy, const char *file, const struct ynode *map,
			      bool owners)
{
	size_t problems = 0;
	if (!map)
		return 0;
	if (map->type != YNODE_MAP) {
		printf("%s:%u:%u: expected a mapping of paths\n", file, map->line, map->col);
		return 1;
	}
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i], *v = map->items[i];
		_cleanup_free_ char *p = setup_path(copy, file, k);
		if (!p) {
			problems++;
			continue;
		}
		const char *val = v->type == YNODE_SCALAR ? v->scalar : "";
		const char *colon = strchr(val, ':');
		unsigned mode;
		uint64_t uid, gid;
		int r = -EINVAL;
		if (owners && colon) {
			_cleanup_free_ char *u = xstrndup(val, (size_t)(colon - val));
			if (parse_u64(u, 10, UINT32_MAX - 1, &uid) == 0 &&
			    parse_u64(colon + 1, 10, UINT32_MAX - 1, &gid) == 0)
				r = lchown(p, (uid_t)uid, (gid_t)gid) < 0 ? -errno : 0;
		} else if (!owners && parse_mode(val, &mode) == 0) {
			r = chmod(p, mode) < 0 ? -errno : 0;
		}
		if (r < 0) {
			printf("%s:%u:%u: cannot %s %s to '%s': %s\n", file, v->line, v->col,
			       owners ? "chown" : "chmod", k->scalar, val, strerror(-r));
			problems++;
		}
	}
	return problems;
}

/* Copies root to a new temporary directory and applies setup there. Returns 0 with *copy set
 * (the caller removes it), or the number of problems (printed). */
static size_t apply_setup(const char *root, const char *file, const struct ynode *setup,
			  char **copy)
{
	static const char *const keys[] = { "chmod", "chown", NULL };
	struct yerror ye;
	if (ynode_check_keys(setup, keys, "a setup", &ye) < 0) {
		printf("%s:%u:%u: %s\n", file, ye.line, ye.col, ye.msg);
		return 1;
	}
	char tmpl[] = "/tmp/immune-fixture-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *dst = xasprintf("%s/root", tmpl);
	char *argv[] = { "cp", "-a", "--", (char *)root, dst, NULL };
	size_t problems = 0;
	if (run_argv(argv) != 0) {
		printf("%s: cannot copy %s\n", file, root);
		problems++;
	}
	if (!problems)
		problems += apply_setup_map(dst, file, ynode_get(setup, "chown"), true);
	if (!problems)
		problems += apply_setup_map(dst, file, ynode_get(setup, "chmod"), false);
	free(dst);
	*copy = xstrdup(tmpl);
	if (problems) {
		remove_tree(*copy);
		free(*copy);
		*copy = NULL;
	}
	return problems;
}

/* Checks one expect file; returns the number of problems (printed). */
static size_t run_expect_file(const struct catalog *cat, const char *fixtures, const char *path,
			      struct coverage *cov)
{
	struct buf b;
	buf_init(&b, EXPECT_FILE_MAX);
	assert_int_equal(read_all(path, &b), 0);
	struct ynode *doc;
	struct yerror ye;
	static const char *const keys[] = { "root", "setup", "expect", NULL };
	if (ytree_parse(buf_str(&b), buf_len(&b), &doc, &ye) < 0 ||
	    ynode_check_keys(doc, keys, "an expect file", &ye) < 0) {
		printf("%s:%u:%u: %s\n", path, ye.line, ye.col, ye.msg);
		buf_free(&b);
		return 1;
	}
	buf_free(&b);
	const char *root = ynode_as_str(ynode_get(doc, "root"), "root", &ye);
	const struct ynode *expect = ynode_get(doc, "expect");
	if (!root || !expect || expect->type != YNODE_MAP) {
		printf("%s: needs 'root: roots/NAME' and an 'expect' mapping\n", path);
		ytree_free(doc);
		return 1;
	}
	_cleanup_free_ char *dir = xasprintf("%s/%s", fixtures, root);
	_cleanup_free_ char *copy = NULL, *copy_root = NULL;
	const struct ynode *setup = ynode_get(doc, "setup");
	if (setup) {
		size_t n = apply_setup(dir, path, setup, &copy);
		if (n) {
			ytree_free(doc);
			return n;
		}
		copy_root = xasprintf("%s/root", copy);
	}
	struct inv_options opt = { .skip_walk = false };
	struct inventory *inv;
	int r = inventory_collect(copy_root ? copy_root : dir, &opt, &inv);
	if (r < 0) {
		printf("%s: cannot collect root %s: %s\n", path, dir, strerror(-r));
		remove_tree(copy);
		ytree_free(doc);
		return 1;
	}
	struct eval_ctx *ctx = eval_new(inv);
	size_t problems = 0;
	for (size_t i = 0; i < expect->n; i++) {
		const struct ynode *k = expect->keys[i], *v = expect->items[i];
		const struct check *c = catalog_find(cat, k->scalar);
		enum check_status want;
		if (!c) {
			printf("%s:%u:%u: unknown check '%s'\n", path, k->line, k->col, k->scalar);
			problems++;
			continue;
		}
		if (v->type != YNODE_SCALAR || check_status_parse(v->scalar, &want) < 0) {
			printf("%s:%u:%u: expected pass, fail, not_applicable or error\n", path,
			       v->line, v->col);
			problems++;
			continue;
		}
		size_t idx = 0;
		while (cat->checks[idx] != c)
			idx++;
		cov->pass[idx] |= want == CHECK_PASS;
		cov->fail[idx] |= want == CHECK_FAIL;
		struct check_result res;
		eval_check(ctx, c, &res);
		if (res.status != want) {
			printf("%s:%u:%u: %s on %s: got %s, expected %s: %s\n", path, k->line,
			       k->col, c->id, root, check_status_name(res.status),
			       check_status_name(want), res.message);
			problems++;
		}
		check_result_clear(&res);
	}
	eval_free(ctx);
	inventory_free(inv);
	remove_tree(copy);
	ytree_free(doc);
	return problems;
}

/* Runs the harness: returns the number of mismatches and uncovered checks (all printed). */
static size_t run_harness(const char *catalog_dir, const char *expect_dir, const char *fixtures)
{
	struct catalog *cat;
	struct catalog_error err;
	char msg[1024];
	if (catalog_load(catalog_dir, &cat, &err) < 0)
		fail_msg("catalog %s: %s", catalog_dir,
			 catalog_error_format(&err, msg, sizeof(msg)));
	struct coverage cov = { xcalloc(cat->n + 1, sizeof(bool)),
				xcalloc(cat->n + 1, sizeof(bool)) };
	_cleanup_strv_ strv files = list_expect_files(expect_dir);
	size_t problems = 0;
	for (size_t i = 0; files[i]; i++)
		problems += run_expect_file(cat, fixtures, files[i], &cov);
	size_t uncovered = 0;
	for (size_t i = 0; i < cat->n; i++) {
		if (cov.pass[i] && cov.fail[i])
			continue;
		if (!uncovered++)
			printf("checks not covered by %s (each needs a pass and a fail):\n",
			       expect_dir);
		printf("  %s: no %s%s%s\n", cat->checks[i]->id, cov.pass[i] ? "" : "pass",
		       !cov.pass[i] && !cov.fail[i] ? ", no " : "", cov.fail[i] ? "" : "fail");
	}
	printf("%s: %zu checks, %zu expect files, %zu mismatches, %zu uncovered\n", catalog_dir,
	       cat->n, strv_len(files), problems, uncovered);
	free(cov.pass);
	free(cov.fail);
	catalog_free(cat);
	return problems + uncovered;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v)
		fail_msg("%s is not set (run through meson test)", name);
	return v;
}

static void test_shipped_catalog_loads(void **state)
{
	_cleanup_free_ char *dir = xasprintf("%s/policies", env("IMMUNE_SOURCE_DIR"));
	struct catalog *cat;
	struct catalog_error err;
	char msg[1024];
	int r = catalog_load(dir, &cat, &err);
	if (r < 0)
		fail_msg("%s", catalog_error_format(&err, msg, sizeof(msg)));
	catalog_free(cat);
}

static void test_shipped_catalog_fixtures(void **state)
{
	const char *fx = env("IMMUNE_FIXTURES");
	_cleanup_free_ char *dir = xasprintf("%s/policies", env("IMMUNE_SOURCE_DIR"));
	_cleanup_free_ char *expect = xasprintf("%s/expect", fx);
	assert_int_equal(run_harness(dir, expect, fx), 0);
}

/* The harness itself, over the engine's sample catalog: it passes when the expectations hold
 * and every check is covered, and it reports wrong expectations and missing coverage. */
static void test_harness_self(void **state)
{
	const char *fx = env("IMMUNE_FIXTURES");
	_cleanup_free_ char *cat = xasprintf("%s/engine/catalog", fx);
	_cleanup_free_ char *good = xasprintf("%s/engine/expect", fx);
	_cleanup_free_ char *bad = xasprintf("%s/engine/expect-bad", fx);
	assert_int_equal(run_harness(cat, good, fx), 0);
	/* expect-bad: one wrong status, one unknown id, and only partial coverage of 3 checks */
	size_t n = run_harness(cat, bad, fx);
	assert_int_equal(n, 2 + 3);
	/* a missing catalog directory is a failure, not an empty catalog */
	struct catalog *c;
	struct catalog_error err;
	assert_int_equal(catalog_load("/nonexistent-immune-policies", &c, &err), -ENOENT);
}

/* Writes text to a new file dir/name; returns its path. */
static char *write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* A setup is applied to a copy (the expectations still hold) and a bad one is one problem:
 * a relative or ".." path, a mode or owner that does not parse, an unknown key, a missing file,
 * a path through a symbolic link (which could lead outside the copy). */
static void test_harness_setup(void **state)
{
	const char *fx = env("IMMUNE_FIXTURES");
	_cleanup_free_ char *catdir = xasprintf("%s/engine/catalog", fx);
	struct catalog *cat;
	struct catalog_error err;
	char msg[1024];
	if (catalog_load(catdir, &cat, &err) < 0)
		fail_msg("%s", catalog_error_format(&err, msg, sizeof(msg)));
	struct coverage cov = { xcalloc(cat->n + 1, sizeof(bool)),
				xcalloc(cat->n + 1, sizeof(bool)) };
	char tmpl[] = "/tmp/immune-setup-test-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	static const char head[] = "root: os/debian12-hardened\nsetup:\n";
	static const char tail[] = "expect:\n  engine-os-debian-family: pass\n";
	static const struct {
		const char *setup;
		size_t problems;
	} cases[] = {
		{ "  chmod: { /etc/hostname: \"0600\", /etc: \"1755\" }\n"
		  "  chown: { /etc/hostname: \"0:42\" }\n",
		  0 },
		{ "  chmod: { etc/hostname: \"0600\" }\n", 1 },
		{ "  chmod: { /etc/../../hostname: \"0600\" }\n", 1 },
		{ "  chmod: { /etc/hostname: \"rw\" }\n", 1 },
		{ "  chown: { /etc/hostname: \"root:root\" }\n", 1 },
		{ "  chown: { /etc/hostname: \"0\" }\n", 1 },
		{ "  chmod: { /etc/no-such-file: \"0600\" }\n", 1 },
		{ "  chmod: [ /etc/hostname ]\n", 1 },
		{ "  chgrp: { /etc/hostname: \"0\" }\n", 1 },
	};
	for (size_t i = 0; i <= ARRAY_SIZE(cases); i++) {
		/* last: access-debian12-minimal's /etc/localtime is an absolute symbolic link */
		_cleanup_free_ char *text =
			i < ARRAY_SIZE(cases)
				? xasprintf("%s%s%s", head, cases[i].setup, tail)
				: xstrdup("root: roots/access-debian12-minimal\n"
					  "setup: { chmod: { /etc/localtime: \"0600\" } }\n"
					  "expect: { engine-os-debian-family: pass }\n");
		_cleanup_free_ char *name = xasprintf("case%zu.yml", i);
		_cleanup_free_ char *path = write_file(tmpl, name, text);
		assert_int_equal(run_expect_file(cat, fx, path, &cov),
				 i < ARRAY_SIZE(cases) ? cases[i].problems : 1);
		assert_int_equal(unlink(path), 0);
	}
	/* the fixture itself is untouched: modes live only in the removed copies */
	_cleanup_free_ char *hostname = xasprintf("%s/os/debian12-hardened/etc/hostname", fx);
	struct stat st;
	assert_int_equal(stat(hostname, &st), 0);
	assert_int_not_equal(st.st_mode & 07777, 0600);
	assert_int_equal(rmdir(tmpl), 0);
	free(cov.pass);
	free(cov.fail);
	catalog_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_catalog_loads),
		cmocka_unit_test(test_shipped_catalog_fixtures),
		cmocka_unit_test(test_harness_self),
		cmocka_unit_test(test_harness_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
