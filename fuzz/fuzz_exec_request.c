/* Fuzzes the executor's parser of what the link sends (exec_request_decode): bounded
 * decoding, the request's rules and action_check. Every request accepted must pass the
 * checks again, survive re-encoding, and its action must come back the same through its
 * JSON parameters (action_params_json, action_from_json). */
#include "respond/executor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const ExecRequest *r)
{
	char err[256];
	Action *back = NULL;
	json_t *params = action_params_json(r->action);
	if (action_from_json(r->action->kind, params, &back, err, sizeof(err)) < 0)
		abort(); /* an accepted action has a JSON form that is accepted too */
	json_t *again = action_params_json(back);
	if (!json_equal(params, again) || back->kind != r->action->kind)
		abort();
	json_decref(again);
	json_decref(params);
	action_free(back);
}

static void reencode(const ExecRequest *r)
{
	char err[256];
	size_t n = immune__v1__exec_request__get_packed_size(r);
	uint8_t *p = malloc(n ? n : 1);
	ExecRequest *g = NULL;
	if (!p)
		return;
	immune__v1__exec_request__pack(r, p);
	/* Unknown fields are re-emitted as they came, which may not read back the same. */
	int ret = exec_request_decode(p, n, &g, err, sizeof(err));
	if (ret == 0) {
		if (g->op != r->op || g->action->kind != r->action->kind || strcmp(g->uid, r->uid))
			abort();
		exec_request_free(g);
	} else if (ret != -ENOMEM && r->base.n_unknown_fields == 0 &&
		   r->action->base.n_unknown_fields == 0) {
		abort();
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	ExecRequest *r = NULL;

	if (size > EXEC_FRAME_MAX)
		return 0;
	int ret = exec_request_decode(data, size, &r, err, sizeof(err));
	if (ret < 0) {
		if (r || (ret != -EBADMSG && ret != -ENOMEM && ret != -EINVAL) || !err[0])
			abort(); /* a refusal always says why and leaves nothing behind */
		return 0;
	}
	if (!action_uid_ok(r->uid) || !action_op_name(r->op) || !r->action ||
	    action_check(r->action, err, sizeof(err)) != 0)
		abort();
	roundtrip(r);
	reencode(r);
	exec_request_free(r);
	return 0;
}
