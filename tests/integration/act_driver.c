/* Runs one action implementation (act.h) directly, for integration tests of the actions
 * against real programs (tests/integration/respond_fix.sh):
 *
 *   act_driver STATE_DIR UID apply|verify|rollback KIND PARAMS_JSON UNDO_FILE
 *
 * apply writes the undo record to UNDO_FILE, rollback reads it. Prints the status name and
 * the message on one line; exits 0 when the status is verified or rolled_back, 1 otherwise,
 * 2 on usage errors. */
#include "respond/act.h"

#include "lib/fileio.h"

static const char *status_name(enum act_status s)
{
	switch (s) {
	case ACT_VERIFIED: return "verified";
	case ACT_FAILED: return "failed";
	case ACT_REFUSED: return "refused";
	case ACT_ROLLED_BACK: return "rolled_back";
	case ACT_DRY_RUN: return "dry_run";
	}
	return "unknown";
}

int main(int argc, char **argv)
{
	char err[256];
	Action *a = NULL;
	json_t *undo = NULL;

	if (argc != 7 || !action_uid_ok(argv[2])) {
		fprintf(stderr, "usage: act_driver STATE_DIR UID apply|verify|rollback KIND "
				"PARAMS_JSON UNDO_FILE\n");
		return 2;
	}
	int kind = action_kind_by_name(argv[4]);
	json_t *params = json_loads(argv[5], 0, NULL);
	if (kind < 0 || !params ||
	    action_from_json((Immune__V1__ActionKind)kind, params, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "act_driver: bad action: %s\n", kind < 0 ? "unknown kind" : err);
		return 2;
	}
	json_decref(params);
	const struct act_ops *ops = act_lookup(a->kind);
	if (!ops) {
		fprintf(stderr, "act_driver: no implementation of %s\n", argv[4]);
		return 2;
	}
	struct act_ctx ctx = { .state_dir = argv[1], .uid = argv[2] };
	struct act_result res = { 0 };
	enum act_status s;
	if (!strcmp(argv[3], "apply")) {
		s = ops->apply(&ctx, a, &undo, &res);
		if (undo && json_dump_file(undo, argv[6], JSON_COMPACT) < 0)
			fprintf(stderr, "act_driver: cannot write %s\n", argv[6]);
	} else if (!strcmp(argv[3], "verify")) {
		s = ops->verify(&ctx, a, &res);
	} else if (!strcmp(argv[3], "rollback")) {
		undo = json_load_file(argv[6], 0, NULL);
		if (!undo) {
			fprintf(stderr, "act_driver: cannot read %s\n", argv[6]);
			return 2;
		}
		s = ops->rollback(&ctx, a, undo, &res);
	} else {
		fprintf(stderr, "act_driver: unknown operation %s\n", argv[3]);
		return 2;
	}
	printf("%s %s\n", status_name(s), res.message);
	json_decref(undo);
	json_decref(res.detail);
	action_free(a);
	return s == ACT_VERIFIED || s == ACT_ROLLED_BACK ? 0 : 1;
}
