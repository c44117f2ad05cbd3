/* Test driver for the action implementations (respond/act.h) without the executor: builds an
 * action from key=value words, runs one operation and prints the result as one JSON line.
 *
 *   act_host_driver [--root DIR] [--state DIR] [--uid ID] [--protect USER]... [--dry-run]
 *              [--undo FILE] KIND OP [key=value...]
 *
 * OP is apply, verify or rollback. apply writes its undo record to --undo FILE; rollback
 * reads it from there. --root is the passwd_root, --state the state directory (default: a
 * directory the test gives), --uid the action id (default: a new one). Exit status: 0 for
 * verified, rolled_back and dry_run; 1 failed; 3 refused; 2 usage or a bad action. */
#include "lib/common.h"

#include "lib/fileio.h"
#include "respond/act.h"

static const char *status_name(enum act_status s)
{
	switch (s) {
	case ACT_VERIFIED: return "verified";
	case ACT_FAILED: return "failed";
	case ACT_REFUSED: return "refused";
	case ACT_ROLLED_BACK: return "rolled_back";
	case ACT_DRY_RUN: return "dry_run";
	}
	return "?";
}

static int usage(void)
{
	fprintf(stderr,
		"usage: act_host_driver [--root DIR] [--state DIR] [--uid ID] [--protect USER] "
		"[--dry-run] [--undo FILE] KIND OP [key=value...]\n");
	return 2;
}

static int load_undo(const char *path, json_t **out)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	int r = file_read_capped(path, 1 << 20, &b);
	*out = r == 0 ? json_loadb(buf_str(&b), buf_len(&b), 0, NULL) : NULL;
	buf_free(&b);
	return *out ? 0 : -EBADMSG;
}

int main(int argc, char **argv)
{
	struct act_ctx ctx = { .state_dir = "." };
	const char *protect[17] = { NULL };
	size_t nprotect = 0;
	const char *undo_path = NULL;
	char uid[ACTION_UID_LEN + 1], err[256];
	int i;

	action_new_uid(uid);
	ctx.uid = uid;
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		bool more = i + 1 < argc;
		if (!strcmp(argv[i], "--dry-run"))
			ctx.dry_run = true;
		else if (!strcmp(argv[i], "--root") && more)
			ctx.passwd_root = argv[++i];
		else if (!strcmp(argv[i], "--state") && more)
			ctx.state_dir = argv[++i];
		else if (!strcmp(argv[i], "--uid") && more)
			ctx.uid = argv[++i];
		else if (!strcmp(argv[i], "--undo") && more)
			undo_path = argv[++i];
		else if (!strcmp(argv[i], "--protect") && more && nprotect < 16)
			protect[nprotect++] = argv[++i];
		else
			return usage();
	}
	ctx.protected_users = protect;
	if (argc - i < 2)
		return usage();
	int kind = action_kind_by_name(argv[i]);
	int op = action_op_by_name(argv[i + 1]);
	const struct act_ops *ops = kind < 0 ? NULL : act_lookup((Immune__V1__ActionKind)kind);
	if (!ops || op < 0) {
		fprintf(stderr, "act_host_driver: unknown or unimplemented kind %s or op %s\n",
			argv[i], argv[i + 1]);
		return 2;
	}
	json_t *params = NULL;
	Action *a = NULL;
	if (action_params_from_args(argc - i - 2, argv + i + 2, &params, err, sizeof(err)) < 0 ||
	    action_from_json((Immune__V1__ActionKind)kind, params, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "act_host_driver: %s\n", err);
		json_decref(params);
		return 2;
	}
	json_decref(params);

	struct act_result res = { 0 };
	json_t *undo = NULL;
	enum act_status s;
	if (op == IMMUNE__V1__ACTION_OP__OP_APPLY) {
		s = ops->apply(&ctx, a, &undo, &res);
		if (undo && undo_path && json_dump_file(undo, undo_path, JSON_COMPACT) < 0) {
			fprintf(stderr, "act_host_driver: writing %s\n", undo_path);
			return 2;
		}
	} else if (op == IMMUNE__V1__ACTION_OP__OP_VERIFY) {
		s = ops->verify(&ctx, a, &res);
	} else {
		if (!undo_path || load_undo(undo_path, &undo) < 0) {
			fprintf(stderr, "act_host_driver: rollback needs --undo FILE from apply\n");
			return 2;
		}
		s = ops->rollback(&ctx, a, undo, &res);
	}
	json_t *out = json_pack("{s:s, s:s, s:O?, s:O?}", "status", status_name(s), "message",
				res.message, "detail", res.detail, "undo", undo);
	char *line = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	puts(line ? line : "{}");
	free(line);
	json_decref(out);
	json_decref(res.detail);
	json_decref(undo);
	action_free(a);
	return s == ACT_FAILED ? 1 : s == ACT_REFUSED ? 3 : 0;
}
