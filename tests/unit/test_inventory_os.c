/* Unit tests for the inventory core and the os collector, over fixture roots. */
#include "unit.h"

#include "inventory/inventory.h"

static struct inventory *collect(const char *fixture)
{
	_cleanup_free_ char *root = xasprintf("%s/os/%s", getenv("IMMUNE_FIXTURES"), fixture);
	struct inv_options opt = { .only_table = "os" };
	struct inventory *inv;
	assert_int_equal(inventory_collect(root, &opt, &inv), 0);
	char msg[256];
	assert_int_equal(inventory_validate(inv, msg, sizeof(msg)), 0);
	return inv;
}

static const char *os_field(struct inventory *inv, const char *col)
{
	json_t *row = json_array_get(inventory_rows(inv, "os"), 0);
	return json_string_value(json_object_get(row, col));
}

static void test_os_families(void **state)
{
	struct inventory *inv = collect("debian12-hardened");
	assert_string_equal(os_field(inv, "id"), "debian");
	assert_string_equal(os_field(inv, "family"), "debian");
	assert_string_equal(os_field(inv, "version_id"), "12");
	assert_string_equal(os_field(inv, "hostname"), "web-1");
	assert_null(os_field(inv, "kernel_release")); /* not the host: no live kernel */
	inventory_free(inv);

	inv = collect("ubuntu2204-stock");
	assert_string_equal(os_field(inv, "family"), "debian");
	inventory_free(inv);

	inv = collect("rhel9-hardened");
	assert_string_equal(os_field(inv, "family"), "rhel");
	json_t *row = json_array_get(inventory_rows(inv, "os"), 0);
	assert_int_equal(json_integer_value(json_object_get(row, "version_major")), 9);
	inventory_free(inv);
}

static void test_missing_root(void **state)
{
	struct inventory *inv;
	assert_int_equal(inventory_collect("/nonexistent-immune-root", NULL, &inv), -ENOENT);
	assert_int_equal(inventory_collect("/etc/hostname", NULL, &inv), -ENOTDIR);
}

static void test_host_inventory_valid(void **state)
{
	struct inv_options opt = { .skip_walk = true };
	struct inventory *inv;
	char msg[256] = "";
	assert_int_equal(inventory_collect("/", &opt, &inv), 0);
	int r = inventory_validate(inv, msg, sizeof(msg));
	if (r)
		fail_msg("%s", msg);
	assert_non_null(os_field(inv, "kernel_release"));
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_families),
		cmocka_unit_test(test_missing_root),
		cmocka_unit_test(test_host_inventory_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
