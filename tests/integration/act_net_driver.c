/* act_net_driver STATE OP [--dry-run] [KIND key=value...]: runs one network action step in
 * this process's network namespace, as the executor would, and exits (a test tool for
 * tests/integration/respond_net.sh).
 *   OP apply|verify|rollback KIND key=value...: the undo record is kept in STATE/undo.json
 *   OP refresh SECONDS: act_isolate_refresh
 * Prints "STATUS: message"; exits 0 on verified, rolled back or dry run, 1 otherwise, 2 on
 * usage errors. The table is "immune" unless IMMUNE_NFT_TABLE says otherwise. */
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"
#include "respond/act.h"

static int usage(void)
{
	fprintf(stderr, "usage: act_net_driver STATE apply|verify|rollback [--dry-run] KIND "
			"key=value...\n       act_net_driver STATE refresh SECONDS\n");
	return 2;
}

static int refresh(const struct act_ctx *ctx, const char *arg)
{
	uint64_t s;
	if (parse_u64(arg, 10, UINT32_MAX, &s) < 0)
		return usage();
	int r = act_isolate_refresh(ctx, (uint32_t)s);
	printf("refresh: %s\n", r < 0 ? strerror(-r) : "ok");
	return r < 0 ? 1 : 0;
}

static int step(const struct act_ctx *ctx, const char *op, const Action *a, const char *undo_path)
{
	static const char *const names[] = { "?",	"verified",    "failed",
					     "refused", "rolled_back", "dry_run" };
	const struct act_ops *ops = act_lookup(a->kind);
	struct act_result res = { 0 };
	json_t *undo = NULL;
	enum act_status s;
	if (!ops)
		return usage();
	if (!strcmp(op, "apply")) {
		s = ops->apply(ctx, a, &undo, &res);
		char *text = undo ? json_dumps(undo, JSON_COMPACT) : NULL;
		if (text && file_write_atomic(undo_path, text, strlen(text), 0600) < 0)
			s = ACT_FAILED;
		free(text);
	} else if (!strcmp(op, "verify")) {
		s = ops->verify(ctx, a, &res);
	} else if (!strcmp(op, "rollback")) {
		undo = json_load_file(undo_path, 0, NULL);
		s = ops->rollback(ctx, a, undo ? undo : json_object(), &res);
	} else {
		return usage();
	}
	printf("%s: %s\n", names[s <= ACT_DRY_RUN ? s : 0], res.message);
	json_decref(undo);
	json_decref(res.detail);
	return s == ACT_VERIFIED || s == ACT_ROLLED_BACK || s == ACT_DRY_RUN ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	struct act_ctx ctx = { .state_dir = argv[1],
			       .uid = "00000000000000000000000000000001",
			       .nft_table = getenv("IMMUNE_NFT_TABLE") };
	if (!strcmp(argv[2], "refresh"))
		return refresh(&ctx, argv[3]);
	int i = 3;
	if (!strcmp(argv[i], "--dry-run")) {
		ctx.dry_run = true;
		i++;
	}
	if (i >= argc)
		return usage();
	int kind = action_kind_by_name(argv[i]);
	char err[256], undo_path[PATH_MAX];
	json_t *params = NULL;
	Action *a = NULL;
	if (kind < 0 ||
	    action_params_from_args(argc - i - 1, argv + i + 1, &params, err, sizeof(err)) < 0 ||
	    action_from_json((Immune__V1__ActionKind)kind, params, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "act_net_driver: %s\n", kind < 0 ? "unknown kind" : err);
		json_decref(params);
		return 2;
	}
	json_decref(params);
	snprintf(undo_path, sizeof(undo_path), "%s/undo.json", argv[1]);
	int r = step(&ctx, argv[2], a, undo_path);
	action_free(a);
	return r;
}
