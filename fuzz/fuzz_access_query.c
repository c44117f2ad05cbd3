/* Fuzzes the access socket's message parser (STATE/access.sock, agent/access.h) and, for a
 * login message, the decision that follows it with no bundle: any bytes either parse into a
 * message of a known type with its fields checked, or are refused with a reason; a login
 * is never allowed without a bundle. */
#include "agent/access.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct access_query q;
	char err[256];
	err[0] = '\0';
	int r = access_query_parse(data, size, &q, err, sizeof(err));
	if (r < 0) {
		assert(r == -EBADMSG);
		assert(err[0] != '\0');
		return 0;
	}
	assert(q.root);
	if (q.type == ACCESS_MSG_LOGIN) {
		assert(q.account && q.cert);
		struct access_env env = { .now = 1700000000, .posture = -1 };
		struct access_outcome o;
		access_login_decide(&env, q.account, q.cert, q.connection, &o);
		assert(!o.allow);
		assert(o.reason[0] != '\0');
		json_decref(access_outcome_json(&o, q.account, env.now));
	} else if (q.type == ACCESS_MSG_SESSION) {
		assert(q.pid > 1 && q.identity && q.session_id);
	}
	access_query_free(&q);
	return 0;
}
