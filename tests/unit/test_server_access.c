/* The server's access authority without its loop running: roles (api_caller_may), policy
 * files replaced or refused, and the access bundle built from the stored documents
 * (grants, disabled identities, revoked serials, a version that moves only on change). */
#include "unit.h"

#include "access/policy.h"
#include "server/access.h"
#include "server/access_grants.h"
#include "server/api_int.h"
#include "server/server.h"
#include "server/server_int.h"
#include "store/store.h"

#include <ftw.h>
#include <jansson.h>
#include <sys/stat.h>

struct fx {
	char dir[64];
	struct server *srv;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	char data[96];
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/immune-access-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(data, sizeof(data), "%s/data", fx->dir);
	struct server_options opt = {
		.data_dir = data,
		.listen_addr = "127.0.0.1:0",
		.api_addr = "127.0.0.1:0",
		.retention_s = -1,
	};
	assert_int_equal(server_new(&opt, &fx->srv), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	server_free(fx->srv);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void put(struct server *s, const char *kind, const char *id, const char *text)
{
	assert_int_equal(store_access_doc_put(s->store, kind, id, text, 1), 0);
}

/* access.json of the current bundle (new reference). */
static json_t *bundle_json(struct server *s)
{
	assert_non_null(s->access.bundle);
	for (size_t i = 0; i < s->access.bundle->n; i++) {
		const struct file_set_entry *e = &s->access.bundle->files[i];
		if (!strcmp(e->name, "access.json")) {
			json_t *j = json_loadb((const char *)e->content, e->len, 0, NULL);
			assert_non_null(j);
			return j;
		}
	}
	fail_msg("no access.json in the bundle");
	return NULL;
}

static void test_roles(void **state)
{
	(void)state;
	static const char *const roles[] = { "", "viewer", "auditor", "approver", "admin" };
	/* rows: roles; columns: SELF, READ, AUDIT, APPROVE, ADMIN */
	static const bool may[5][5] = {
		{ 1, 0, 0, 0, 0 }, { 1, 1, 0, 0, 0 }, { 1, 1, 1, 0, 0 },
		{ 1, 1, 0, 1, 0 }, { 1, 1, 1, 1, 1 },
	};
	for (size_t r = 0; r < 5; r++)
		for (int n = API_NEED_SELF; n <= API_NEED_ADMIN; n++) {
			struct api_caller c = { "x", roles[r] };
			assert_int_equal(api_caller_may(&c, (enum api_need)n), may[r][n]);
		}
	struct api_caller odd = { "x", "root" };
	assert_false(api_caller_may(&odd, API_NEED_READ));
	assert_true(api_caller_may(&odd, API_NEED_SELF));
}

static void test_first_admin(void **state)
{
	struct fx *fx = *state;
	json_t *admin = access_identity_get(fx->srv, "admin");
	assert_non_null(admin);
	assert_string_equal(json_string_value(json_object_get(admin, "role")), "admin");
	assert_string_equal(json_string_value(json_object_get(admin, "status")), "active");
	json_decref(admin);
	assert_null(access_identity_get(fx->srv, "nobody"));
}

static void test_policies(void **state)
{
	struct fx *fx = *state;
	struct server *s = fx->srv;
	char err[256];
	json_t *files = json_pack("[{s:s, s:s}]", "name", "ops.policy", "content",
				  "permit ops { principal: group ops\n action: login }\n");
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), 0);
	assert_int_equal(access_policy_count(s->access.policies), 1);
	json_decref(files);
	char *text = NULL;
	assert_int_equal(store_access_doc_get(s->store, ACCESS_DOC_POLICY, "ops.policy", &text), 0);
	free(text);
	const char *digest_before = s->access.bundle->digest;
	char saved[FILE_SET_DIGEST_HEX + 1];
	snprintf(saved, sizeof(saved), "%s", digest_before);

	/* a wrong file is refused with FILE:LINE:COL and nothing changes */
	files = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "a.policy", "content",
			  "permit a { }\n", "name", "bad.policy", "content",
			  "permit b {\n  action: fly\n}\n");
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad.policy:2:"));
	json_decref(files);
	assert_int_equal(access_policy_count(s->access.policies), 1);
	assert_int_equal(store_access_doc_get(s->store, ACCESS_DOC_POLICY, "a.policy", &text),
			 -ENOENT);
	assert_string_equal(s->access.bundle->digest, saved);

	/* bad names and duplicates */
	files = json_pack("[{s:s, s:s}]", "name", "../x.policy", "content", "");
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), -EINVAL);
	json_decref(files);
	files = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "a.policy", "content", "", "name",
			  "a.policy", "content", "");
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), -EINVAL);
	json_decref(files);

	/* too large for the bundle */
	char *big = xcalloc(ACCESS_POLICY_FILES_MAX + 2, 1);
	memset(big, ' ', ACCESS_POLICY_FILES_MAX + 1);
	files = json_pack("[{s:s, s:s}]", "name", "big.policy", "content", big);
	free(big);
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), -EFBIG);
	json_decref(files);

	/* a new set replaces the old files: ops.policy goes */
	files = json_pack("[{s:s, s:s}]", "name", "b.policy", "content", "forbid f { }\n");
	assert_int_equal(access_policies_replace(s, files, err, sizeof(err)), 0);
	json_decref(files);
	assert_int_equal(store_access_doc_get(s->store, ACCESS_DOC_POLICY, "ops.policy", &text),
			 -ENOENT);
	assert_string_not_equal(s->access.bundle->digest, saved);
	bool has_b = false, has_ops = false;
	for (size_t i = 0; i < s->access.bundle->n; i++) {
		has_b |= !strcmp(s->access.bundle->files[i].name, "b.policy");
		has_ops |= !strcmp(s->access.bundle->files[i].name, "ops.policy");
	}
	assert_true(has_b);
	assert_false(has_ops);
}

static void test_bundle(void **state)
{
	struct fx *fx = *state;
	struct server *s = fx->srv;
	assert_int_equal(access_bundle_refresh(s), 0);
	json_t *j = bundle_json(s);
	json_int_t v1 = json_integer_value(json_object_get(j, "version"));
	assert_true(v1 >= 1);
	assert_int_equal(json_array_size(json_object_get(j, "grants")), 0);
	/* sessions are recorded unless the settings say not, with the signing's command */
	assert_true(json_is_true(json_object_get(j, "record_sessions")));
	assert_string_equal(json_string_value(json_object_get(j, "session_command")),
			    access_session_command(s, NULL));
	json_decref(j);

	put(s, ACCESS_DOC_USER, "alice", "{\"name\":\"alice\",\"status\":\"active\"}");
	put(s, ACCESS_DOC_USER, "bob", "{\"name\":\"bob\",\"status\":\"disabled\"}");
	put(s, ACCESS_DOC_GRANT, "g1",
	    "{\"id\":\"g1\",\"identity\":\"alice\",\"hostname\":\"web-1\","
	    "\"expires\":\"2999-01-01T00:00:00Z\"}");
	put(s, ACCESS_DOC_GRANT, "g2",
	    "{\"id\":\"g2\",\"identity\":\"alice\",\"expires\":\"2000-01-01T00:00:00Z\"}");
	put(s, ACCESS_DOC_GRANT, "g3",
	    "{\"id\":\"g3\",\"identity\":\"alice\",\"revoked\":true,"
	    "\"expires\":\"2999-01-01T00:00:00Z\"}");
	put(s, ACCESS_DOC_GRANT, "g4",
	    "{\"id\":\"g4\",\"identity\":\"bob\",\"expires\":\"2999-01-01T00:00:00Z\"}");
	/* bob's live certificate, bob's expired one, alice's revoked one, alice's live one */
	put(s, ACCESS_DOC_CERT, "11",
	    "{\"serial\":\"11\",\"identity\":\"bob\",\"valid_before\":32503680000}");
	put(s, ACCESS_DOC_CERT, "12",
	    "{\"serial\":\"12\",\"identity\":\"bob\",\"valid_before\":1000}");
	put(s, ACCESS_DOC_CERT, "13",
	    "{\"serial\":13,\"identity\":\"alice\",\"revoked\":true,"
	    "\"valid_before\":\"2999-01-01T00:00:00Z\"}");
	put(s, ACCESS_DOC_CERT, "18446744073709551615",
	    "{\"serial\":\"18446744073709551615\",\"identity\":\"bob\","
	    "\"valid_before\":32503680000}");
	put(s, ACCESS_DOC_CERT, "14",
	    "{\"serial\":\"14\",\"identity\":\"alice\",\"valid_before\":\"2999-01-01T00:00:00Z\"}");
	assert_int_equal(access_bundle_refresh(s), 0);
	j = bundle_json(s);
	json_int_t v2 = json_integer_value(json_object_get(j, "version"));
	assert_int_equal(v2, v1 + 1);
	json_t *grants = json_object_get(j, "grants");
	assert_int_equal(json_array_size(grants), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(grants, 0), "id")),
			    "g1");
	/* only the fields agents know */
	assert_null(json_object_get(json_array_get(grants, 0), "hostname"));
	json_t *dis = json_object_get(j, "disabled");
	assert_int_equal(json_array_size(dis), 1);
	assert_string_equal(json_string_value(json_array_get(dis, 0)), "bob");
	json_t *serials = json_object_get(j, "revoked_serials");
	assert_int_equal(json_array_size(serials), 3);
	assert_int_equal(json_integer_value(json_array_get(serials, 0)), 11);
	assert_int_equal(json_integer_value(json_array_get(serials, 1)), 13);
	/* past 2^63: a decimal string */
	assert_string_equal(json_string_value(json_array_get(serials, 2)), "18446744073709551615");
	json_decref(j);

	/* nothing changed: same version, same digest */
	char digest[FILE_SET_DIGEST_HEX + 1];
	snprintf(digest, sizeof(digest), "%s", s->access.bundle->digest);
	assert_int_equal(access_bundle_refresh(s), 0);
	assert_string_equal(s->access.bundle->digest, digest);
	j = bundle_json(s);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), v2);
	json_decref(j);
}

/* The version survives a restart and moves on from there. */
static void test_bundle_version_kept(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(access_bundle_refresh(fx->srv), 0);
	json_t *j = bundle_json(fx->srv);
	json_int_t v = json_integer_value(json_object_get(j, "version"));
	json_decref(j);
	put(fx->srv, ACCESS_DOC_USER, "carol", "{\"name\":\"carol\",\"status\":\"disabled\"}");
	assert_int_equal(access_bundle_refresh(fx->srv), 0);
	char data[96];
	snprintf(data, sizeof(data), "%s/data", fx->dir);
	server_free(fx->srv);
	struct server_options opt = {
		.data_dir = data,
		.listen_addr = "127.0.0.1:0",
		.api_addr = "127.0.0.1:0",
		.retention_s = -1,
	};
	assert_int_equal(server_new(&opt, &fx->srv), 0);
	j = bundle_json(fx->srv);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), v + 1);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test_setup_teardown(test_first_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_version_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
