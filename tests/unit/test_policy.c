/* Unit tests for the compliance engine: catalog validation (with exact positions), matcher
 * semantics, evidence, applicability, errors and scoring, over small in-memory inventories. */
#include "unit.h"

#include "lib/buf.h"
#include "policy/catalog.h"
#include "policy/eval.h"
#include "policy/report.h"
#include "policy/scan.h"

/* ---- helpers ---- */

/* A one-check catalog: lines 1-9 are fixed, the condition starts on line 11. */
#define CHECK_HEAD(id, section) "checks:\n" CHECK_ITEM(id, section)
#define CHECK_ITEM(id, section)                                                                    \
	"  - id: " id "\n"                                                                         \
	"    title: T\n"                                                                           \
	"    section: " section "\n"                                                               \
	"    severity: high\n"                                                                     \
	"    description: D\n"                                                                     \
	"    rationale: R\n"                                                                       \
	"    remediation: M\n"                                                                     \
	"    mappings: { cis: [\"1.2.3\"], soc2: [CC6.1] }\n"                                      \
	"    condition:\n"

static struct catalog_error load_fail(const char *yaml)
{
	struct catalog *cat = NULL;
	struct catalog_error err;
	int r = catalog_load_buffer("t.yml", yaml, strlen(yaml), &cat, &err);
	if (r == 0) {
		catalog_free(cat);
		fail_msg("catalog loaded but an error was expected:\n%s", yaml);
	}
	assert_int_equal(r, -EBADMSG);
	return err;
}

static void assert_err(const char *yaml, unsigned line, unsigned col, const char *id,
		       const char *msg_part)
{
	struct catalog_error e = load_fail(yaml);
	char buf[1024];
	catalog_error_format(&e, buf, sizeof(buf));
	if (e.line != line || e.col != col || strcmp(e.id, id) != 0 || !strstr(e.msg, msg_part))
		fail_msg("got '%s', expected %u:%u check '%s' containing '%s'", buf, line, col, id,
			 msg_part);
	assert_string_equal(e.file, "t.yml");
}

static struct catalog *load_ok(const char *yaml)
{
	struct catalog *cat = NULL;
	struct catalog_error err;
	char buf[1024];
	if (catalog_load_buffer("t.yml", yaml, strlen(yaml), &cat, &err) < 0)
		fail_msg("%s", catalog_error_format(&err, buf, sizeof(buf)));
	return cat;
}

/* Builds an inventory from {"table": [rows], ...}; tables not given are empty. */
static struct inventory *inv_from(const char *json)
{
	json_error_t je;
	json_t *given = json_loads(json, 0, &je);
	if (!given)
		fail_msg("bad test JSON: %s", je.text);
	struct inventory *inv = xcalloc(1, sizeof(*inv));
	inv->tables = json_object();
	size_t n;
	const struct inv_table *t = inv_schema_tables(&n);
	for (size_t i = 0; i < n; i++) {
		json_t *rows = json_object_get(given, t[i].name);
		json_object_set(inv->tables, t[i].name, rows ? rows : json_array());
		if (!rows)
			json_decref(json_object_get(inv->tables, t[i].name));
	}
	json_decref(given);
	char msg[256];
	if (inventory_validate(inv, msg, sizeof(msg)) < 0)
		fail_msg("test inventory does not fit the schema: %s", msg);
	return inv;
}

/* Evaluates the only check of a catalog whose condition is cond (indented 6). */
static enum check_status eval_cond(struct inventory *inv, const char *cond,
				   struct check_result *res)
{
	_cleanup_free_ char *yaml = xasprintf("%s%s", CHECK_HEAD("c1", "ssh"), cond);
	struct catalog *cat = load_ok(yaml);
	struct eval_ctx *ctx = eval_new(inv);
	struct check_result r;
	eval_check(ctx, cat->checks[0], &r);
	enum check_status s = r.status;
	if (res)
		*res = r;
	else
		check_result_clear(&r);
	eval_free(ctx);
	catalog_free(cat);
	return s;
}

static void expect_status(struct inventory *inv, const char *cond, enum check_status want)
{
	struct check_result r;
	enum check_status got = eval_cond(inv, cond, &r);
	if (got != want)
		fail_msg("condition:\n%sgave %s (%s), expected %s", cond, check_status_name(got),
			 r.message, check_status_name(want));
	check_result_clear(&r);
}

#define PASS(inv, cond) expect_status(inv, cond, CHECK_PASS)
#define FAIL(inv, cond) expect_status(inv, cond, CHECK_FAIL)

/* ---- catalog loading errors, with exact positions ---- */

static void test_load_errors(void **state)
{
	/* unknown key in a check */
	assert_err("checks:\n"
		   "  - id: c1\n"
		   "    colour: red\n",
		   3, 5, "c1", "unknown key 'colour' in a check");
	/* bad section */
	assert_err(CHECK_HEAD("c1", "nosuch") "      table: os\n", 4, 14, "c1",
		   "unknown section 'nosuch'");
	/* operator not valid for the column type: regex on an integer, lt on a boolean */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: users\n"
					   "      expect: { uid: { regex: x } }\n",
		   12, 24, "c1", "operator 'regex' does not apply to column 'uid', a integer");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: users\n"
					   "      expect: { interactive: { lt: 1 } }\n",
		   12, 32, "c1", "operator 'lt' does not apply");
	/* unknown operator */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: users\n"
					   "      expect: { name: { like: x } }\n",
		   12, 25, "c1", "unknown operator 'like'");
	/* unknown table, unknown column */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: nosuch\n", 11, 14, "c1",
		   "unknown table 'nosuch'");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: sshd_config\n"
					   "      where: { key: x }\n"
					   "      expect: { nosuch: 1 }\n",
		   13, 17, "c1", "unknown column 'nosuch' in table 'sshd_config'");
	/* bad regex: its position in the pattern is named */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: sshd_config\n"
					   "      expect: { value: { regex: \"a(b\" } }\n",
		   12, 33, "c1", "bad regex for column 'value' at character 4");
	/* duplicate id: both places */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n" CHECK_ITEM(
			   "c2", "ssh") "      table: os\n" CHECK_ITEM("c1",
								       "ssh") "      table: os\n",
		   22, 9, "c1", "duplicate id 'c1' (first defined at t.yml:2:9)");
	/* missing required key: at the check */
	assert_err("checks:\n"
		   "  - id: c1\n"
		   "    section: ssh\n",
		   2, 5, "c1", "missing required key 'title'");
	/* errors before the id is known carry no id */
	assert_err("checks:\n"
		   "  - title: x\n",
		   2, 5, "", "missing required key 'id'");
	assert_err("checks:\n"
		   "  - id: Bad_Id\n",
		   2, 9, "", "invalid check id 'Bad_Id'");
	/* bad severity, framework, control ids, applies key, fix fields */
	assert_err("checks:\n  - id: c1\n    title: T\n    section: ssh\n    severity: severe\n"
		   "    description: D\n    rationale: R\n    remediation: M\n    mappings: {}\n"
		   "    condition: { table: os }\n",
		   5, 15, "c1", "unknown severity 'severe'");
	assert_err("checks:\n  - id: c1\n    title: T\n    section: ssh\n    severity: low\n"
		   "    description: D\n    rationale: R\n    remediation: M\n"
		   "    mappings: { hipaa: [x] }\n    condition: { table: os }\n",
		   9, 17, "c1", "unknown framework 'hipaa'");
	assert_err("checks:\n  - id: c1\n    title: T\n    section: ssh\n    severity: low\n"
		   "    description: D\n    rationale: R\n    remediation: M\n"
		   "    mappings: { sox_itgc: [payroll] }\n    condition: { table: os }\n",
		   9, 28, "c1", "'payroll' is not a valid sox_itgc control id");
	assert_err("checks:\n  - id: c1\n    title: T\n    section: ssh\n    severity: low\n"
		   "    description: D\n    rationale: R\n    remediation: M\n"
		   "    mappings: { cis: [\"1.1\", \"1.1\"] }\n    condition: { table: os }\n",
		   9, 30, "c1", "control '1.1' listed twice");
	assert_err("checks:\n  - id: c1\n    title: T\n    section: ssh\n    severity: low\n"
		   "    description: D\n    rationale: R\n    remediation: M\n"
		   "    mappings: { mitre: [T10] }\n    condition: { table: os }\n",
		   9, 25, "c1", "'T10' is not a valid mitre control id");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n"
					   "    applies: { distro: [debian] }\n",
		   12, 16, "c1", "unknown key 'distro' in applies");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n"
					   "    fix: { type: sysctl_set, key: a }\n",
		   12, 10, "c1", "fix type sysctl_set needs 'value'");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n"
					   "    fix: { type: account_lock, user: x }\n",
		   12, 32, "c1", "unknown key 'user' in fix type account_lock");
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n"
					   "    fix: { type: file_mode, path: /etc/x, mode: rw }\n",
		   12, 49, "c1", "fix mode must be an octal mode");
	/* predicate shape: count with expect, empty with rows none, two forms at once */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: os\n"
					   "      count: { ge: 1 }\n"
					   "      expect: { id: x }\n",
		   13, 15, "c1", "count cannot be combined");
	assert_err(CHECK_HEAD("c1", "ssh") "      all: []\n", 11, 12, "c1",
		   "'all' needs a non-empty list");
	assert_err(CHECK_HEAD("c1", "ssh") "      not: { table: os }\n"
					   "      table: os\n",
		   12, 7, "c1", "unknown key 'table' in a predicate with 'not'");
	/* leading-zero integers are refused: 0644 would silently be decimal */
	assert_err(CHECK_HEAD("c1", "ssh") "      table: file_permissions\n"
					   "      expect: { mode: { le: 0644 } }\n",
		   12, 29, "c1", "use mode_max");
	/* a YAML syntax error keeps its position */
	struct catalog_error e = load_fail("checks:\n  - id: [\n");
	assert_true(e.line >= 2);
}

static void test_load_limits(void **state)
{
	/* predicate nesting is capped */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, CHECK_HEAD("c1", "ssh") "      ");
	for (int i = 0; i < CATALOG_MAX_DEPTH + 2; i++)
		buf_puts(&b, "{not: ");
	buf_puts(&b, "{table: os}");
	for (int i = 0; i < CATALOG_MAX_DEPTH + 2; i++)
		buf_puts(&b, "}");
	buf_puts(&b, "\n");
	/* the condition itself is a mapping, so unwrap one level: "condition: {not: ...}" */
	struct catalog_error e = load_fail(buf_str(&b));
	assert_non_null(strstr(e.msg, "nested too deeply"));
	buf_free(&b);

	/* at most CATALOG_MAX_CHECKS checks */
	buf_init(&b, CATALOG_MAX_FILE_SIZE);
	buf_puts(&b, "checks:\n");
	for (int i = 0; i <= CATALOG_MAX_CHECKS; i++)
		buf_printf(&b,
			   "- {id: c%d, title: t, section: ssh, severity: low, description: d,"
			   " rationale: r, remediation: m, mappings: {}, condition: {table: os}}\n",
			   i);
	e = load_fail(buf_str(&b));
	assert_int_equal(e.line, CATALOG_MAX_CHECKS + 2);
	assert_non_null(strstr(e.msg, "too many checks (at most 10000)"));
	buf_free(&b);

	/* file size cap */
	size_t big = CATALOG_MAX_FILE_SIZE + 1;
	char *data = xmalloc(big);
	memset(data, ' ', big);
	struct catalog *cat;
	assert_int_equal(catalog_load_buffer("big.yml", data, big, &cat, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "larger than"));
	free(data);

	/* missing path */
	assert_int_equal(catalog_load("/nonexistent-immune-catalog", &cat, &e), -ENOENT);
	assert_string_equal(e.file, "/nonexistent-immune-catalog");
}

static void test_load_ok(void **state)
{
	struct catalog *cat = load_ok(
		CHECK_HEAD("c1", "ssh") "      table: sshd_config\n"
					"      where: { key: permitrootlogin }\n"
					"      expect: { value: \"no\" }\n"
					"    fix: { type: config_set, file: /etc/ssh/sshd_config,"
					" key: PermitRootLogin, value: \"no\" }\n");
	assert_int_equal(cat->n, 1);
	const struct check *c = catalog_find(cat, "c1");
	assert_non_null(c);
	assert_string_equal(c->title, "T");
	assert_int_equal(c->severity, SEV_HIGH);
	assert_string_equal(catalog_sections(&(size_t){ 0 })[c->section].key, "ssh");
	assert_string_equal(json_string_value(json_object_get(c->fix, "type")), "config_set");
	assert_int_equal(json_array_size(json_object_get(c->mappings, "cis")), 1);
	_cleanup_free_ char *text = check_condition_text(c);
	assert_non_null(strstr(text, "sshd_config where key eq permitrootlogin: every row has "
				     "value eq no"));
	json_t *src = check_condition_json(c);
	assert_string_equal(json_string_value(json_object_get(src, "table")), "sshd_config");
	json_decref(src);
	catalog_free(cat);

	/* the engine's own fixture catalog loads from a directory, in name order */
	_cleanup_free_ char *dir = xasprintf("%s/engine/catalog", getenv("IMMUNE_FIXTURES"));
	struct catalog_error err;
	assert_int_equal(catalog_load(dir, &cat, &err), 0);
	assert_int_equal(cat->n, 3);
	assert_string_equal(cat->checks[2]->id, "engine-rhel-only");
	assert_int_equal(strv_len(cat->files), 2);
	catalog_free(cat);
}

/* ---- matchers, one by one ---- */

static void test_matchers(void **state)
{
	struct inventory *inv = inv_from(
		"{\"sshd_config\": [{\"key\": \"permitrootlogin\", \"value\": \"No\", \"file\":"
		" \"/etc/ssh/sshd_config\", \"line\": 32},"
		" {\"key\": \"maxauthtries\", \"value\": \"6\"},"
		" {\"key\": \"ciphers\", \"value\": \"aes256-ctr,aes128-ctr chacha20\"}],"
		" \"users\": [{\"name\": \"root\", \"uid\": 0, \"interactive\": true}],"
		" \"file_permissions\": [{\"path\": \"/etc/shadow\", \"mode\": 416}],"
		" \"login_defs\": [{\"key\": \"UMASK\", \"value\": \"022\"}]}");
	const char *root = "      table: users\n      where: { name: root }\n";
	_cleanup_free_ char *c = NULL;
#define U(expect) (free(c), c = xasprintf("%s      expect: %s\n", root, expect))
#define S(key, expect)                                                                             \
	(free(c), c = xasprintf("      table: sshd_config\n      where: { key: %s }\n"             \
				"      expect: %s\n",                                              \
				key, expect))
	/* eq: strings ignore case; integers and booleans compare as such */
	PASS(inv, S("permitrootlogin", "{ value: \"no\" }"));
	PASS(inv, S("PermitRootLogin", "{ value: NO }"));
	FAIL(inv, S("permitrootlogin", "{ value: \"yes\" }"));
	PASS(inv, U("{ uid: 0 }"));
	FAIL(inv, U("{ uid: 1 }"));
	PASS(inv, U("{ interactive: true }"));
	FAIL(inv, U("{ interactive: no }"));
	/* ne, in, not_in */
	PASS(inv, U("{ uid: { ne: 1 } }"));
	FAIL(inv, U("{ uid: { ne: 0 } }"));
	PASS(inv, U("{ name: { in: [daemon, ROOT] } }"));
	FAIL(inv, U("{ name: { not_in: [daemon, root] } }"));
	/* a missing column never matches, except ne, not_in and exists: false */
	FAIL(inv, U("{ gecos: x }"));
	PASS(inv, U("{ gecos: { ne: x } }"));
	PASS(inv, U("{ gecos: { not_in: [x] } }"));
	PASS(inv, U("{ gecos: { exists: false } }"));
	FAIL(inv, U("{ gecos: { exists: true } }"));
	FAIL(inv, U("{ gecos: { regex: \".*\" } }"));
	FAIL(inv, U("{ gecos: { lacks: x } }"));
	PASS(inv, U("{ uid: { exists: true } }"));
	/* comparisons: integers, and strings read as integers */
	PASS(inv, U("{ uid: { le: 0, ge: 0, lt: 1, gt: -1 } }"));
	FAIL(inv, U("{ uid: { gt: 0 } }"));
	FAIL(inv, S("maxauthtries", "{ value: { le: 4 } }"));
	PASS(inv, S("maxauthtries", "{ value: { le: 6, gt: 5 } }"));
	FAIL(inv, S("permitrootlogin", "{ value: { ge: 0 } }")); /* not a number */
	/* regex is case-sensitive unless (?i) */
	PASS(inv, S("permitrootlogin", "{ value: { regex: \"^No$\" } }"));
	FAIL(inv, S("permitrootlogin", "{ value: { regex: \"^no$\" } }"));
	PASS(inv, S("permitrootlogin", "{ value: { regex: \"(?i)^no$\" } }"));
	/* contains ignores case */
	PASS(inv, S("ciphers", "{ value: { contains: AES128 } }"));
	FAIL(inv, S("ciphers", "{ value: { contains: des } }"));
	/* has / lacks: items of a comma or space separated list */
	PASS(inv, S("ciphers", "{ value: { has: aes128-ctr } }"));
	PASS(inv, S("ciphers", "{ value: { has: CHACHA20 } }"));
	FAIL(inv, S("ciphers", "{ value: { has: aes128 } }"));
	PASS(inv, S("ciphers", "{ value: { lacks: aes128 } }"));
	FAIL(inv, S("ciphers", "{ value: { lacks: chacha20 } }"));
	/* mode_max on integer modes and octal strings */
#define FP(m) "      table: file_permissions\n      expect: { mode: { mode_max: " m " } }\n"
	const char *m1 = FP("\"0640\""), *m2 = FP("\"0600\""), *m3 = FP("0644");
#undef FP
	PASS(inv, m1); /* 0640 */
	FAIL(inv, m2);
	PASS(inv, m3);
	PASS(inv, "      table: login_defs\n      where: { key: umask }\n"
		  "      expect: { value: { mode_max: \"0027\" } }\n");
	FAIL(inv, "      table: login_defs\n      where: { key: umask }\n"
		  "      expect: { value: { mode_max: \"0007\" } }\n");
	inventory_free(inv);
#undef U
#undef S
}

static void test_rows_and_logic(void **state)
{
	struct inventory *inv =
		inv_from("{\"users\": ["
			 "{\"name\": \"root\", \"uid\": 0, \"shell\": \"/bin/bash\"},"
			 "{\"name\": \"bin\", \"uid\": 2, \"shell\": \"/usr/sbin/nologin\"},"
			 "{\"name\": \"alice\", \"uid\": 1000, \"shell\": \"/bin/bash\"}]}");
	/* rows all (default), any, none */
	FAIL(inv, "      table: users\n      expect: { shell: /bin/bash }\n");
	PASS(inv, "      table: users\n      rows: any\n      expect: { shell: /bin/bash }\n");
	FAIL(inv, "      table: users\n      rows: none\n      expect: { shell: /bin/bash }\n");
	PASS(inv, "      table: users\n      rows: none\n      expect: { shell: /bin/zsh }\n");
	PASS(inv, "      table: users\n      where: { uid: { lt: 1000 } }\n"
		  "      rows: none\n      expect: { name: alice }\n");
	/* none without expect: holds when nothing is selected */
	PASS(inv, "      table: users\n      where: { name: eve }\n      rows: none\n");
	FAIL(inv, "      table: users\n      where: { name: bin }\n      rows: none\n");
	/* an empty selection fails by default, passes with empty: pass */
	FAIL(inv, "      table: users\n      where: { name: eve }\n      expect: { uid: 0 }\n");
	PASS(inv, "      table: users\n      where: { name: eve }\n      expect: { uid: 0 }\n"
		  "      empty: pass\n");
	FAIL(inv, "      table: users\n      where: { name: eve }\n      rows: any\n"
		  "      expect: { uid: 0 }\n");
	FAIL(inv, "      table: shadow\n");
	PASS(inv, "      table: users\n      where: { name: root }\n");
	/* count */
	PASS(inv, "      table: users\n      where: { uid: 0 }\n      count: 1\n");
	PASS(inv, "      table: users\n      count: { ge: 3, le: 3 }\n");
	FAIL(inv,
	     "      table: users\n      where: { shell: /bin/bash }\n      count: { lt: 2 }\n");
	PASS(inv, "      table: shadow\n      count: 0\n");
	/* all, any, not */
	PASS(inv, "      all:\n        - { table: users, where: { name: root } }\n"
		  "        - not: { table: users, where: { name: eve } }\n");
	FAIL(inv, "      all:\n        - { table: users, where: { name: root } }\n"
		  "        - { table: users, where: { name: eve } }\n");
	PASS(inv, "      any:\n        - { table: users, where: { name: eve } }\n"
		  "        - { table: users, where: { name: bin } }\n");
	FAIL(inv, "      any:\n        - { table: users, where: { name: eve } }\n"
		  "        - not: { table: users, where: { name: bin } }\n");
	inventory_free(inv);
}

/* Tables of 16 rows or more are looked up through equality indexes: same results. */
static void test_indexed(void **state)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"sysctl\": [");
	for (int i = 0; i < 40; i++)
		buf_printf(&b, "%s{\"key\": \"net.ipv4.K%d\", \"runtime_value\": \"%d\"}",
			   i ? "," : "", i, i % 3);
	buf_puts(&b, "], \"users\": [");
	for (int i = 0; i < 40; i++)
		buf_printf(&b, "%s{\"name\": \"u%d\", \"uid\": %d, \"system\": %s}", i ? "," : "",
			   i, i % 20, i < 10 ? "true" : "false");
	buf_puts(&b, "]}");
	struct inventory *inv = inv_from(buf_str(&b));
	buf_free(&b);
	/* eq through the index ignores case like the scan does */
	PASS(inv, "      table: sysctl\n      where: { key: NET.IPV4.k7 }\n"
		  "      expect: { runtime_value: \"1\" }\n");
	FAIL(inv, "      table: sysctl\n      where: { key: net.ipv4.k8 }\n"
		  "      expect: { runtime_value: \"1\" }\n");
	FAIL(inv, "      table: sysctl\n      where: { key: net.ipv4.k99 }\n"
		  "      expect: { runtime_value: \"1\" }\n");
	PASS(inv, "      table: sysctl\n      where: { key: { in: [net.ipv4.k3, net.ipv4.k6] } }\n"
		  "      count: 2\n");
	/* integers and booleans */
	PASS(inv, "      table: users\n      where: { uid: 0 }\n      count: 2\n");
	PASS(inv, "      table: users\n      where: { uid: { in: [1, 2, 99] } }\n      count: 4\n");
	PASS(inv, "      table: users\n      where: { system: true }\n      count: 10\n");
	/* rows none / any use an index on expect */
	FAIL(inv,
	     "      table: users\n      rows: none\n      expect: { name: { in: [u5, x] } }\n");
	PASS(inv, "      table: users\n      rows: none\n      expect: { name: { in: [x, y] } }\n");
	PASS(inv, "      table: users\n      rows: any\n      expect: { name: U39 }\n");
	FAIL(inv, "      table: users\n      rows: any\n      expect: { name: u40 }\n");
	FAIL(inv, "      table: users\n      where: { system: true }\n      rows: any\n"
		  "      expect: { name: u39 }\n");
	/* an empty selection found through an index */
	PASS(inv, "      table: users\n      where: { name: nobody }\n      rows: any\n"
		  "      expect: { uid: 0 }\n      empty: pass\n");
	struct check_result r;
	assert_int_equal(eval_cond(inv,
				   "      table: users\n      rows: none\n"
				   "      expect: { name: { in: [u5, u6] } }\n",
				   &r),
			 CHECK_FAIL);
	assert_int_equal(json_array_size(r.evidence), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(r.evidence, 1), "row"), "name")),
			    "u6");
	check_result_clear(&r);
	inventory_free(inv);
}

/* ---- evidence ---- */

static void test_evidence(void **state)
{
	struct inventory *inv = inv_from(
		"{\"sshd_config\": [{\"key\": \"maxauthtries\", \"value\": \"6\", \"source\":"
		" \"file\", \"file\": \"/etc/ssh/sshd_config\", \"line\": 12}]}");
	struct check_result r;
	assert_int_equal(eval_cond(inv,
				   "      table: sshd_config\n      where: { key: maxauthtries }\n"
				   "      expect: { value: { le: 4 } }\n",
				   &r),
			 CHECK_FAIL);
	assert_int_equal(json_array_size(r.evidence), 1);
	json_t *e = json_array_get(r.evidence, 0);
	assert_string_equal(json_string_value(json_object_get(e, "table")), "sshd_config");
	assert_string_equal(json_string_value(json_object_get(e, "file")), "/etc/ssh/sshd_config");
	assert_int_equal(json_integer_value(json_object_get(e, "line")), 12);
	assert_string_equal(json_string_value(json_object_get(e, "column")), "value");
	assert_string_equal(json_string_value(json_object_get(e, "value")), "6");
	assert_string_equal(json_string_value(json_object_get(e, "expected")), "le 4");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "row"), "source")),
			    "file");
	assert_string_equal(r.message,
			    "sshd_config (/etc/ssh/sshd_config:12): value is '6', expected le 4");
	check_result_clear(&r);

	/* an empty selection: one entry with the table and what was expected */
	assert_int_equal(eval_cond(inv,
				   "      table: sshd_config\n      where: { key: banner }\n"
				   "      expect: { value: { ne: none } }\n",
				   &r),
			 CHECK_FAIL);
	assert_int_equal(json_array_size(r.evidence), 1);
	e = json_array_get(r.evidence, 0);
	assert_string_equal(json_string_value(json_object_get(e, "expected")),
			    "at least one row where key eq banner");
	assert_null(json_object_get(e, "row"));
	assert_string_equal(r.message, "sshd_config: no row where key eq banner");
	check_result_clear(&r);
	inventory_free(inv);

	/* at most EVAL_MAX_EVIDENCE rows, and the message counts the others */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"users\": [");
	for (int i = 0; i < 30; i++)
		buf_printf(&b, "%s{\"name\": \"u%d\", \"uid\": %d}", i ? "," : "", i, 1000 + i);
	buf_puts(&b, "]}");
	inv = inv_from(buf_str(&b));
	buf_free(&b);
	assert_int_equal(
		eval_cond(inv, "      table: users\n      expect: { uid: { lt: 1000 } }\n", &r),
		CHECK_FAIL);
	assert_int_equal(json_array_size(r.evidence), EVAL_MAX_EVIDENCE);
	assert_non_null(strstr(r.message, "(and 29 more)"));
	check_result_clear(&r);
	/* a pass lists the rows that satisfied it */
	assert_int_equal(eval_cond(inv,
				   "      table: users\n      rows: any\n"
				   "      expect: { name: u7 }\n",
				   &r),
			 CHECK_PASS);
	assert_int_equal(json_array_size(r.evidence), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(r.evidence, 0), "row"), "name")),
			    "u7");
	check_result_clear(&r);
	inventory_free(inv);
}

/* ---- inventory errors and applicability ---- */

static void test_errors(void **state)
{
	struct inventory *inv = inv_from(
		"{\"sshd_config\": [{\"key\": \"x\", \"value\": \"y\"}],"
		" \"errors\": [{\"table\": \"sshd_config\", \"path\": \"/etc/ssh/sshd_config\","
		" \"error\": \"File too large\"}]}");
	struct check_result r;
	/* a check over a table with an error is in error, never pass, even inside not/any */
	assert_int_equal(
		eval_cond(inv, "      not: { table: sshd_config, where: { key: z } }\n", &r),
		CHECK_ERROR);
	json_t *e = json_array_get(r.evidence, 0);
	assert_string_equal(json_string_value(json_object_get(e, "path")), "/etc/ssh/sshd_config");
	assert_string_equal(json_string_value(json_object_get(e, "error")), "File too large");
	assert_non_null(strstr(r.message, "cannot read /etc/ssh/sshd_config"));
	check_result_clear(&r);
	/* other tables are unaffected */
	PASS(inv, "      table: users\n      count: 0\n");
	inventory_free(inv);
}

static enum check_status eval_applies(struct inventory *inv, const char *applies)
{
	_cleanup_free_ char *yaml =
		xasprintf("%s      table: users\n      count: 0\n    applies: %s\n",
			  CHECK_HEAD("c1", "ssh"), applies);
	struct catalog *cat = load_ok(yaml);
	struct eval_ctx *ctx = eval_new(inv);
	struct check_result r;
	eval_check(ctx, cat->checks[0], &r);
	enum check_status s = r.status;
	if (s == CHECK_NOT_APPLICABLE)
		assert_non_null(strstr(r.message, "not applicable"));
	check_result_clear(&r);
	eval_free(ctx);
	catalog_free(cat);
	return s;
}

static void test_applies(void **state)
{
	struct inventory *inv = inv_from(
		"{\"os\": [{\"id\": \"rhel\", \"version_id\": \"9.4\", \"version_major\": 9,"
		" \"family\": \"rhel\"}], \"packages\": [{\"name\": \"openssh-server\"}]}");
	inv->root = xasprintf("%s/os/debian12-hardened", getenv("IMMUNE_FIXTURES"));
	assert_int_equal(eval_applies(inv, "{ family: [rhel] }"), CHECK_PASS);
	assert_int_equal(eval_applies(inv, "{ family: [debian, suse] }"), CHECK_NOT_APPLICABLE);
	assert_int_equal(eval_applies(inv, "{ os: [rhel-9] }"), CHECK_PASS);
	assert_int_equal(eval_applies(inv, "{ os: [debian-12, rhel-9.4] }"), CHECK_PASS);
	assert_int_equal(eval_applies(inv, "{ os: [rhel-8] }"), CHECK_NOT_APPLICABLE);
	assert_int_equal(eval_applies(inv, "{ packages: [openssh, openssh-server] }"), CHECK_PASS);
	assert_int_equal(eval_applies(inv, "{ packages: [telnetd] }"), CHECK_NOT_APPLICABLE);
	assert_int_equal(eval_applies(inv, "{ files: [/etc/os-release] }"), CHECK_PASS);
	assert_int_equal(eval_applies(inv, "{ files: [/etc/nosuch] }"), CHECK_NOT_APPLICABLE);
	/* every key must hold */
	assert_int_equal(eval_applies(inv, "{ family: [rhel], packages: [telnetd] }"),
			 CHECK_NOT_APPLICABLE);
	inventory_free(inv);

	/* an error in a table applies reads makes the check an error */
	inv = inv_from("{\"errors\": [{\"table\": \"packages\", \"path\": \"/var/lib/dpkg/status\","
		       " \"error\": \"File too large\"}]}");
	assert_int_equal(eval_applies(inv, "{ packages: [openssh-server] }"), CHECK_ERROR);
	assert_int_equal(eval_applies(inv, "{ family: [debian] }"), CHECK_NOT_APPLICABLE);
	inventory_free(inv);
}

/* ---- scoring ---- */

static void test_scoring(void **state)
{
	json_t *s = scan_score(2, 1, 0);
	assert_true(json_real_value(s) == 66.7);
	json_decref(s);
	s = scan_score(1, 1, 1);
	assert_true(json_real_value(s) == 33.3);
	json_decref(s);
	s = scan_score(0, 0, 0);
	assert_true(json_is_null(s));
	json_decref(s);

	const char *yaml =
		"checks:\n"
		"  - { id: p1, title: P1, section: ssh, severity: low, description: d, rationale: "
		"r,"
		" remediation: m, mappings: { cis: [\"1.1\"], soc2: [CC6.1] },"
		" condition: { table: users, count: 1 } }\n"
		"  - { id: p2, title: P2, section: ssh, severity: low, description: d, rationale: "
		"r,"
		" remediation: m, mappings: { cis: [\"1.10\"] }, condition: { table: users, count: "
		"1 } }\n"
		"  - { id: f1, title: F1, section: pam, severity: high, description: d, rationale: "
		"r,"
		" remediation: m, mappings: { cis: [\"1.1\"], mitre: [T1078] },"
		" condition: { table: users, count: 0 } }\n"
		"  - { id: n1, title: N1, section: pam, severity: high, description: d, rationale: "
		"r,"
		" remediation: m, mappings: { cis: [\"1.2\"] }, applies: { family: [suse] },"
		" condition: { table: users, count: 0 } }\n"
		"  - { id: e1, title: E1, section: audit, severity: low, description: d,"
		" rationale: r, remediation: m, mappings: { pci_dss: [\"10.2\"] },"
		" condition: { table: auditd_conf, count: 0 } }\n";
	struct catalog *cat = load_ok(yaml);
	struct inventory *inv = inv_from(
		"{\"os\": [{\"family\": \"debian\"}], \"users\": [{\"name\": \"root\"}],"
		" \"errors\": [{\"table\": \"auditd_conf\", \"path\": \"/etc/audit/auditd.conf\","
		" \"error\": \"Is a directory\"}]}");
	inv->root = xstrdup("/x");
	struct scan_options opt = { 0 };
	json_t *doc;
	assert_int_equal(scan_run(cat, inv, &opt, &doc), 0);
	json_t *sum = json_object_get(doc, "summary");
	assert_int_equal(json_integer_value(json_object_get(sum, "checks")), 5);
	assert_int_equal(json_integer_value(json_object_get(sum, "pass")), 2);
	assert_int_equal(json_integer_value(json_object_get(sum, "fail")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "error")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "not_applicable")), 1);
	assert_true(json_real_value(json_object_get(sum, "score")) == 50.0);
	assert_string_equal(json_string_value(json_object_get(doc, "schema")), "immune.scan/v1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "host"), "root")), "/x");
	/* frameworks: cis counts p1, p2, f1, n1; its controls sort as versions */
	json_t *cis = json_array_get(json_object_get(doc, "frameworks"), 0);
	assert_string_equal(json_string_value(json_object_get(cis, "key")), "cis");
	assert_int_equal(json_integer_value(json_object_get(cis, "checks")), 4);
	assert_true(json_real_value(json_object_get(cis, "score")) == 66.7);
	json_t *ctls = json_object_get(cis, "controls");
	assert_int_equal(json_array_size(ctls), 3);
	json_t *c0 = json_array_get(ctls, 0), *c1 = json_array_get(ctls, 1),
	       *c2 = json_array_get(ctls, 2);
	assert_string_equal(json_string_value(json_object_get(c0, "id")), "1.1");
	assert_string_equal(json_string_value(json_object_get(c0, "status")), "fail"); /* worst */
	assert_int_equal(json_array_size(json_object_get(c0, "checks")), 2);
	assert_string_equal(json_string_value(json_object_get(c1, "id")), "1.2");
	assert_string_equal(json_string_value(json_object_get(c1, "status")), "not_applicable");
	assert_string_equal(json_string_value(json_object_get(c2, "id")), "1.10");
	/* mitre is listed but not scored */
	json_t *mitre = json_array_get(json_object_get(doc, "frameworks"), 7);
	assert_string_equal(json_string_value(json_object_get(mitre, "key")), "mitre");
	assert_true(json_is_null(json_object_get(mitre, "score")));
	/* sections: only those with checks, in catalog.md order */
	json_t *secs = json_object_get(doc, "sections");
	assert_int_equal(json_array_size(secs), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(secs, 0), "key")),
			    "audit");
	json_t *pam = json_array_get(secs, 2);
	assert_true(json_real_value(json_object_get(pam, "score")) == 0.0);
	/* results carry only the mapped keys and a null fix */
	json_t *r0 = json_array_get(json_object_get(doc, "results"), 0);
	assert_int_equal(json_object_size(json_object_get(r0, "mappings")), 2);
	assert_true(json_is_null(json_object_get(r0, "fix")));
	json_t *e1 = json_array_get(json_object_get(doc, "results"), 4);
	assert_string_equal(json_string_value(json_object_get(e1, "status")), "error");

	/* the writers render it */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct report_options ro = { .verbose = false };
	assert_int_equal(report_write_text(doc, f, &ro), 0);
	fclose(f);
	assert_non_null(strstr(text, "FAIL"));
	assert_non_null(strstr(text, "f1"));
	assert_null(strstr(text, "  PASS")); /* passing checks only with --verbose */
	assert_non_null(strstr(text, "5 checks: 2 pass, 1 fail, 1 error, 1 not applicable; score "
				     "50.0%"));
	free(text);
	f = open_memstream(&text, &len);
	ro.verbose = true;
	assert_int_equal(report_write_text(doc, f, &ro), 0);
	fclose(f);
	assert_non_null(strstr(text, "  PASS"));
	free(text);
	f = open_memstream(&text, &len);
	assert_int_equal(report_write_json(doc, f, &ro), 0);
	fclose(f);
	json_t *back = json_loads(text, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, doc));
	assert_non_null(strstr(text, "\"score\": 66.7,"));
	json_decref(back);
	free(text);
	json_decref(doc);

	/* filters */
	opt.framework = "pci_dss";
	assert_int_equal(scan_run(cat, inv, &opt, &doc), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "results")), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "frameworks")), 1);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "filter"), "framework")),
		"pci_dss");
	json_decref(doc);
	opt.framework = NULL;
	opt.check = "p2";
	assert_int_equal(scan_run(cat, inv, &opt, &doc), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "results")), 1);
	json_decref(doc);
	opt.check = "nosuch";
	assert_int_equal(scan_run(cat, inv, &opt, &doc), -ENOENT);
	opt.check = NULL;
	opt.framework = "hipaa";
	assert_int_equal(scan_run(cat, inv, &opt, &doc), -ENOENT);
	inventory_free(inv);
	catalog_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),    cmocka_unit_test(test_load_limits),
		cmocka_unit_test(test_load_ok),	       cmocka_unit_test(test_matchers),
		cmocka_unit_test(test_rows_and_logic), cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_indexed),	       cmocka_unit_test(test_errors),
		cmocka_unit_test(test_applies),	       cmocka_unit_test(test_scoring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
