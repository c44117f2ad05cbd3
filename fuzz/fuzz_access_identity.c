/* The identity checks of POST /v1/users and PATCH /v1/users/NAME: any bytes as a JSON body;
 * what is accepted has the documented shape. */
#include "server/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const json_t *v)
{
	size_t i;
	json_t *e;
	if (!v)
		return;
	if (!json_is_array(v) || json_array_size(v) > 64)
		__builtin_trap();
	json_array_foreach(v, i, e) {
		const char *n = json_string_value(e);
		if (!n || !*n || strlen(n) > 64)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size > 65536)
		return 0;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	for (int create = 0; json_is_object(body) && create < 2; create++) {
		json_t *doc = json_object();
		if (!api_identity_apply(doc, body, create, err, sizeof(err))) {
			const char *role = json_string_value(json_object_get(doc, "role"));
			if (role && strcmp(role, "admin") && strcmp(role, "approver") &&
			    strcmp(role, "auditor") && strcmp(role, "viewer"))
				__builtin_trap();
			check_names(json_object_get(doc, "groups"));
			check_names(json_object_get(doc, "accounts"));
			json_t *a = json_object_get(doc, "attributes");
			if (a && !json_is_object(a))
				__builtin_trap();
			if (!create && json_object_get(doc, "name"))
				__builtin_trap();
		}
		json_decref(doc);
	}
	json_decref(body);
	return 0;
}
