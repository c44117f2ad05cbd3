/* Fuzzes the access bundle's access.json parser (agent/access.h), which also reads
 * STATE/access-local.json: any text either parses, with every grant carrying its id,
 * identity and account and the local dump parsing back, or is refused with a reason. */
#include "agent/access.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct access_bundle b;
	char err[256];
	err[0] = '\0';
	int r = access_bundle_parse((const char *)data, size, &b, err, sizeof(err));
	if (r < 0) {
		assert(r == -EINVAL || r == -E2BIG);
		assert(err[0] != '\0');
		return 0;
	}
	for (size_t i = 0; i < b.n_grants; i++)
		assert(b.grants[i].id && b.grants[i].identity && b.grants[i].account);
	assert(!b.has_ca || b.ca_line);
	/* what the agent saves of it reads back the same */
	char *dump = access_local_dump(&b);
	struct access_bundle again;
	assert(access_bundle_parse(dump, strlen(dump), &again, err, sizeof(err)) == 0);
	assert(again.n_serials == b.n_serials);
	assert(strv_len(again.disabled) == strv_len(b.disabled));
	access_bundle_free(&again);
	free(dump);
	access_bundle_free(&b);
	return 0;
}
