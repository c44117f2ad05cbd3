/* The server's parser of action-result records (RECORD_ACTION_RESULT, ingest_action.c), and
 * what the API later does with a stored result's kind and parameters (action_from_json on
 * approve and rollback). */
#include "respond/action.h"
#include "store/ingest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_action a;
	Action *act = NULL;
	char err[256];
	int kind;

	if (size > 2 * INGEST_MAX_ACTION_JSON)
		return 0;
	if (ingest_parse_action_result(data, size, &a) < 0)
		return 0;
	kind = action_kind_by_name(a.kind);
	if (!action_uid_ok(a.uid) || kind < 0 || !a.op || !a.status || !a.origin ||
	    !json_is_object(a.params) || (a.detail && !json_is_object(a.detail)) ||
	    (a.trigger && !json_is_object(a.trigger)) || a.requested_ns < 0 || a.finished_ns < 0 ||
	    (a.message && strlen(a.message) > INGEST_MAX_ACTION_MESSAGE))
		__builtin_trap();
	if (action_from_json((Immune__V1__ActionKind)kind, a.params, &act, err, sizeof(err)) == 0) {
		json_t *back = action_params_json(act);
		if (!json_is_object(back) || action_check(act, err, sizeof(err)) < 0)
			__builtin_trap();
		json_decref(back);
		action_free(act);
	}
	ingest_action_free(&a);
	return 0;
}
