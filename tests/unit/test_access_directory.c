/* Unit tests for the directory importer: YAML, JSON and CSV into identity and group
 * documents, format detection, and each error with its line. */
#include "unit.h"

#include "access/directory.h"

static struct directory *parse_ok(const char *file, const char *text)
{
	char err[512] = "";
	struct directory *d = NULL;
	int r = directory_parse(file, text, strlen(text), DIRECTORY_AUTO, &d, err, sizeof(err));
	if (r < 0) {
		print_error("unexpected error: %s\n", err);
		fail();
	}
	return d;
}

#define assert_dir_err(file, text, expected)                                                       \
	do {                                                                                       \
		char err_[512] = "";                                                               \
		struct directory *d_ = NULL;                                                       \
		int r_ = directory_parse(file, text, strlen(text), DIRECTORY_AUTO, &d_, err_,      \
					 sizeof(err_));                                            \
		assert_int_equal(r_, -EINVAL);                                                     \
		assert_null(d_);                                                                   \
		if (strcmp(err_, expected) != 0) {                                                 \
			print_error("error was: %s\nexpected:  %s\n", err_, expected);             \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static const char *str_at(json_t *arr, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static void check_alice(json_t *ids)
{
	json_t *a = json_array_get(ids, 0);
	assert_string_equal(json_string_value(json_object_get(a, "name")), "alice");
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "person");
	assert_string_equal(json_string_value(json_object_get(a, "status")), "active");
	assert_string_equal(json_string_value(json_object_get(a, "role")), "approver");
	json_t *g = json_object_get(a, "groups");
	assert_int_equal(json_array_size(g), 2);
	assert_string_equal(json_string_value(json_array_get(g, 0)), "ops");
	assert_string_equal(json_string_value(json_array_get(g, 1)), "leads");
	json_t *at = json_object_get(a, "attributes");
	assert_string_equal(json_string_value(json_object_get(at, "team")), "sre");
	assert_string_equal(json_string_value(json_object_get(at, "location")), "de");
	json_t *acc = json_object_get(a, "accounts");
	assert_int_equal(json_array_size(acc), 1);
	assert_string_equal(json_string_value(json_array_get(acc, 0)), "alice");
}

static void test_yaml(void **state)
{
	(void)state;
	struct directory *d = parse_ok("people.yaml", "groups:\n"
						      "  - name: ops\n"
						      "    description: Operations\n"
						      "    attributes: {oncall: yes}\n"
						      "identities:\n"
						      "  - name: alice\n"
						      "    groups: [ops, leads]\n"
						      "    attributes: {team: sre, location: de}\n"
						      "    role: approver\n"
						      "    accounts: [alice]\n"
						      "  - name: ci-deployer\n"
						      "    kind: machine\n"
						      "    status: disabled\n"
						      "    role: null\n");
	assert_int_equal(json_array_size(d->identities), 2);
	check_alice(d->identities);
	json_t *ci = json_array_get(d->identities, 1);
	assert_string_equal(json_string_value(json_object_get(ci, "kind")), "machine");
	assert_string_equal(json_string_value(json_object_get(ci, "status")), "disabled");
	assert_true(json_is_null(json_object_get(ci, "role")));
	assert_int_equal(json_array_size(json_object_get(ci, "groups")), 0);
	/* groups: the defined one, then the one only named */
	assert_int_equal(json_array_size(d->groups), 2);
	assert_string_equal(str_at(d->groups, 0, "name"), "ops");
	assert_string_equal(str_at(d->groups, 0, "description"), "Operations");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(d->groups, 0), "attributes"), "oncall")),
		"yes");
	assert_string_equal(str_at(d->groups, 1, "name"), "leads");
	assert_string_equal(str_at(d->groups, 1, "description"), "");
	directory_free(d);
}

static void test_json(void **state)
{
	(void)state;
	/* detected by its first byte */
	struct directory *d =
		parse_ok("people", "{\"identities\": [\n"
				   " {\"name\": \"alice\", \"groups\": [\"ops\", \"leads\"],\n"
				   "  \"attributes\": {\"team\": \"sre\", \"location\": \"de\"},\n"
				   "  \"role\": \"approver\", \"accounts\": [\"alice\"]}],\n"
				   " \"groups\": [{\"name\": \"ops\"}]}\n");
	check_alice(d->identities);
	assert_int_equal(json_array_size(d->groups), 2);
	directory_free(d);
}

static void test_csv(void **state)
{
	(void)state;
	struct directory *d = parse_ok(
		"people.csv", "# exported from HR\r\n"
			      "name,kind,groups,role,accounts,team,location,status\r\n"
			      "alice,person,ops;leads,approver,alice,sre,de,\r\n"
			      "\r\n"
			      "\"bob\",,\"dev; ops\",,,\"data, \"\"science\"\"\",,disabled\n"
			      "ci,machine,,,,,,\n");
	assert_int_equal(json_array_size(d->identities), 3);
	check_alice(d->identities);
	json_t *bob = json_array_get(d->identities, 1);
	assert_string_equal(json_string_value(json_object_get(bob, "kind")), "person");
	assert_true(json_is_null(json_object_get(bob, "role")));
	assert_string_equal(json_string_value(json_object_get(bob, "status")), "disabled");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(bob, "attributes"), "team")),
		"data, \"science\"");
	assert_null(json_object_get(json_object_get(bob, "attributes"), "location"));
	json_t *g = json_object_get(bob, "groups");
	assert_int_equal(json_array_size(g), 2);
	assert_string_equal(json_string_value(json_array_get(g, 0)), "dev");
	assert_string_equal(str_at(d->identities, 2, "kind"), "machine");
	/* groups in order of first mention */
	assert_int_equal(json_array_size(d->groups), 3);
	assert_string_equal(str_at(d->groups, 0, "name"), "ops");
	assert_string_equal(str_at(d->groups, 1, "name"), "leads");
	assert_string_equal(str_at(d->groups, 2, "name"), "dev");
	directory_free(d);
	/* detected by its header without an extension */
	d = parse_ok("export", "name,kind,groups,role,accounts\nx,,,,\n");
	assert_int_equal(json_array_size(d->identities), 1);
	directory_free(d);

	enum directory_format f;
	assert_int_equal(directory_format_from_name("csv", &f), 0);
	assert_int_equal(f, DIRECTORY_CSV);
	assert_int_equal(directory_format_from_name("xml", &f), -EINVAL);
}

static void test_errors(void **state)
{
	(void)state;
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nalice,person,,,\nalice,,,,\n",
		       "d.csv:3: duplicate identity 'alice' (first on line 2)");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nalice,robot,,,\n",
		       "d.csv:2: identity 'alice': kind must be person or machine, not 'robot'");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nalice,,,root,\n",
		       "d.csv:2: identity 'alice': role must be admin, approver, auditor or "
		       "viewer, not 'root'");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\n\nalice,,,\n",
		       "d.csv:3: expected 5 fields as in the header, found 4");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nal ice,,,,\n",
		       "d.csv:2: invalid identity name 'al ice' (1 to 64 of A-Z a-z 0-9 _ . @ -)");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nalice,,o/ps,,\n",
		       "d.csv:2: identity 'alice': invalid group name 'o/ps'");
	assert_dir_err(
		"d.csv", "name,kind,groups,role,accounts\nalice,,,,Alice\n",
		"d.csv:2: identity 'alice': invalid account name 'Alice' ([a-z_][a-z0-9_-]*, "
		"at most 32)");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\n\"alice,,,,\n",
		       "d.csv:2: bad quoting at column 1");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\nalice,\"x\"y,,,\n",
		       "d.csv:2: bad quoting at column 10");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts\n,,,,\n",
		       "d.csv:2: identity without a name");
	assert_dir_err("d.csv", "name,kind,role,groups,accounts\n",
		       "d.csv:1: column 3 of the header must be 'groups', found 'role' (the header "
		       "starts name,kind,groups,role,accounts)");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts,te am\n",
		       "d.csv:1: invalid attribute column 'te am'");
	assert_dir_err("d.csv", "# nothing\n",
		       "d.csv:1: no header row (name,kind,groups,role,accounts,ATTR...)");
	assert_dir_err("d.csv", "name,kind,groups,role,accounts,status\na,,,,,gone\n",
		       "d.csv:2: identity 'a': status must be active or disabled, not 'gone'");
	assert_dir_err("d.yaml", "identities:\n  - name: a\n    colour: red\n",
		       "d.yaml:3: unknown key 'colour' in an identity");
	assert_dir_err("d.yaml", "people: []\n",
		       "d.yaml:1: unknown key 'people' in a directory file");
	assert_dir_err("d.yaml", "identities:\n  - name: a\n    groups: ops\n",
		       "d.yaml:3: groups must be a list");
	assert_dir_err("d.yaml", "identities:\n  - name: a\n  - name: a\n",
		       "d.yaml:3: duplicate identity 'a' (first on line 2)");
	assert_dir_err("d.yaml", "groups:\n  - name: g\n  - name: g\n",
		       "d.yaml:3: group 'g' defined twice");
	assert_dir_err("d.yaml", "groups:\n  - description: x\n", "d.yaml:2: group without a name");
	assert_dir_err("d.yaml", "identities:\n  - name: a\n    attributes: [x]\n",
		       "d.yaml:3: attributes must be a map");
	assert_dir_err(
		"d.json", "{\"identities\": [{\"name\": \"a\", \"role\": 5}]}",
		"d.json:1: identity 'a': role must be admin, approver, auditor or viewer, not "
		"'5'");

	/* a line over the limit */
	size_t n = DIRECTORY_LINE_MAX + 64;
	char *big = xmalloc(n + 64);
	int k = snprintf(big, n, "name,kind,groups,role,accounts\n");
	memset(big + k, 'a', n - (size_t)k);
	big[n] = '\0';
	assert_dir_err("d.csv", big, "d.csv:2: line longer than 65536 bytes");
	free(big);
	/* a missing file */
	char err[256];
	struct directory *d = NULL;
	assert_int_equal(
		directory_load("/nonexistent/dir.csv", DIRECTORY_AUTO, &d, err, sizeof(err)),
		-ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
