/* The catalog fixture harness, used by the catalog's authors.
 *
 * Every YAML file in tests/fixtures/expect/ names a fixture root and the status each listed check must
 * have there:
 *
 *     root: roots/debian12-hardened        # relative to tests/fixtures
 *     expect: { ssh-permit-root-login: pass, ssh-max-auth-tries: fail }
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

/* Checks one expect file; returns the number of problems (printed). */
static size_t run_expect_file(const struct catalog *cat, const char *fixtures, const char *path,
			      struct coverage *cov)
{
	struct buf b;
	buf_init(&b, EXPECT_FILE_MAX);
	assert_int_equal(read_all(path, &b), 0);
	struct ynode *doc;
	struct yerror ye;
	static const char *const keys[] = { "root", "expect", NULL };
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
	struct inv_options opt = { .skip_walk = false };
	struct inventory *inv;
	int r = inventory_collect(dir, &opt, &inv);
	if (r < 0) {
		printf("%s: cannot collect root %s: %s\n", path, dir, strerror(-r));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_catalog_loads),
		cmocka_unit_test(test_shipped_catalog_fixtures),
		cmocka_unit_test(test_harness_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
