/* immune-agent respond: a manual response action on this host, through the executor
 * (respond_cmd.h, docs/response.md). */
#include "agent/respond_cmd.h"

#include "agent/agent_config.h"
#include "lib/log.h"
#include "respond/executor.h"

#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { RESPOND_OK = 0, RESPOND_FAILED = 1, RESPOND_ERROR = 2 };

struct respond_opts {
	const char *state_dir;
	const char *rollback; /* uid */
	const char *verify;   /* uid */
	bool dry_run;
	bool json;
};

static void respond_help(void)
{
	printf("usage: immune-agent respond KIND [KEY=VALUE]... [--dry-run] [--state DIR] "
	       "[--json]\n"
	       "       immune-agent respond --rollback UID [KIND KEY=VALUE...] [--dry-run] ...\n"
	       "       immune-agent respond --verify UID [KIND KEY=VALUE...] ...\n\n"
	       "Applies one typed response action on this host through the agent's executor,\n"
	       "then verifies its effect; or verifies or rolls back an action applied before\n"
	       "(its undo record under STATE/respond/undo holds the action, so the id alone is\n"
	       "enough). Kinds: kill-process, block-address, isolate-host, lock-user,\n"
	       "remove-authorized-key, quarantine-file, restore-file, apply-fix,\n"
	       "disable-service, disable-cron; parameters as in docs/response.md, e.g.\n"
	       "  immune-agent respond kill-process pid=4242 tree=true\n"
	       "  immune-agent respond block-address address=203.0.113.7 duration=2h\n\n"
	       "  --rollback UID  undo the action with this id\n"
	       "  --verify UID    check that the action's effect is in place\n"
	       "  --dry-run       check and describe, change nothing\n"
	       "  --state DIR     the agent's state directory (default %s)\n"
	       "  --json          print the result as a JSON object\n\n"
	       "Exit status: 0 verified, rolled back or dry run; 1 failed; 2 refused or an\n"
	       "error.\n",
	       AGENT_DEFAULT_STATE_DIR);
}

static int respond_usage(const char *fmt, ...) _printf_(1, 2);
static int respond_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "immune-agent respond: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'immune-agent respond --help'.\n");
	return RESPOND_ERROR;
}

/* The action named on the command line, or the one the undo record of uid holds. */
static int build_action(const struct respond_opts *ro, const char *uid, int argc, char **argv,
			Action **out)
{
	char err[512];
	if (argc == 0) {
		json_t *undo = NULL;
		if (!uid)
			return respond_usage("name an action kind");
		int r = exec_undo_read(ro->state_dir, uid, out, &undo, err, sizeof(err));
		json_decref(undo);
		if (r == -ENOENT)
			return respond_usage("%s in %s: name the action too (KIND KEY=VALUE...)",
					     err, ro->state_dir);
		if (r < 0) {
			fprintf(stderr, "immune-agent respond: %s\n", err);
			return RESPOND_ERROR;
		}
		return 0;
	}
	int kind = action_kind_by_name(argv[0]);
	if (kind < 0)
		return respond_usage("unknown action kind '%s'", argv[0]);
	json_t *params = NULL;
	if (action_params_from_args(argc - 1, argv + 1, &params, err, sizeof(err)) < 0)
		return respond_usage("%s", err);
	int r = action_from_json((Immune__V1__ActionKind)kind, params, out, err, sizeof(err));
	json_decref(params);
	if (r < 0)
		return respond_usage("%s", err);
	return 0;
}

/* Ends the conversation and waits for the executor to exit: it does once it reads the end
 * of its requests, and its end of the socket closes with it. A stuck one is killed. */
static void finish(int fd, pid_t pid)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	shutdown(fd, SHUT_WR);
	if (poll(&p, 1, 2000) != 1 || read(fd, &c, 1) != 0)
		kill(pid, SIGKILL);
	close(fd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int call_executor(const struct respond_opts *ro, const ExecRequest *rq, ExecReply **rep)
{
	struct executor_options eo = { .state_dir = ro->state_dir };
	int fd;
	pid_t pid;
	if (mkdir(ro->state_dir, 0700) < 0 && errno != EEXIST)
		return log_errno(-errno, "immune-agent respond: %s", ro->state_dir);
	int r = executor_spawn(&eo, &fd, &pid);
	if (r < 0)
		return log_errno(r, "immune-agent respond: starting the executor");
	r = exec_call(fd, rq, EXEC_TIMEOUT_MS, rep);
	if (r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	finish(fd, pid);
	if (r < 0)
		return log_errno(r, "immune-agent respond: the executor did not answer");
	return 0;
}

static void print_result(const struct respond_opts *ro, const ExecRequest *rq, const ExecReply *rep)
{
	json_t *params = action_params_json(rq->action);
	json_t *detail = json_loads(rep->detail_json ? rep->detail_json : "{}", 0, NULL);
	const char *status = exec_status_name(rep->status);
	if (ro->json) {
		json_t *doc =
			json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:b}", "uid", rq->uid, "kind",
				  action_kind_name(rq->action->kind), "op", action_op_name(rq->op),
				  "params", params, "status", status, "message",
				  rep->message ? rep->message : "", "dry_run", rq->dry_run);
		json_object_set(doc, "detail", json_is_object(detail) ? detail : json_object());
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(doc);
	} else {
		_cleanup_free_ char *p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
		printf("status   %s\n", status);
		printf("action   %s %s %s%s\n", action_op_name(rq->op),
		       action_kind_name(rq->action->kind), p ? p : "{}",
		       rq->dry_run ? " (dry run)" : "");
		printf("uid      %s\n", rq->uid);
		printf("message  %s\n", rep->message ? rep->message : "");
	}
	json_decref(detail);
	json_decref(params);
}

static int exit_code(Immune__V1__ExecStatus s)
{
	switch (s) {
	case IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED:
	case IMMUNE__V1__EXEC_STATUS__EXEC_ROLLED_BACK:
	case IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN: return RESPOND_OK;
	case IMMUNE__V1__EXEC_STATUS__EXEC_FAILED: return RESPOND_FAILED;
	default: return RESPOND_ERROR;
	}
}

int agent_respond_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rollback", required_argument, NULL, 'r' },
		{ "verify", required_argument, NULL, 'v' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "state", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct respond_opts ro = { .state_dir = AGENT_DEFAULT_STATE_DIR };
	int c;
	while ((c = getopt_long(argc, argv, "r:v:nd:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': ro.rollback = optarg; break;
		case 'v': ro.verify = optarg; break;
		case 'n': ro.dry_run = true; break;
		case 'd': ro.state_dir = optarg; break;
		case 'j': ro.json = true; break;
		case 'h': respond_help(); return RESPOND_OK;
		default: return respond_usage("unknown option");
		}
	}
	if (ro.rollback && ro.verify)
		return respond_usage("--rollback and --verify exclude each other");
	const char *uid_arg = ro.rollback ? ro.rollback : ro.verify;
	if (uid_arg && !action_uid_ok(uid_arg))
		return respond_usage("'%s' is not an action id (%d lowercase hex characters)",
				     uid_arg, ACTION_UID_LEN);

	_cleanup_(action_freep) Action *action = NULL;
	int r = build_action(&ro, uid_arg, argc - optind, argv + optind, &action);
	if (r != 0)
		return r;

	char uid[ACTION_UID_LEN + 1];
	if (uid_arg)
		snprintf(uid, sizeof(uid), "%s", uid_arg);
	else
		action_new_uid(uid);
	ExecRequest rq = IMMUNE__V1__EXEC_REQUEST__INIT;
	rq.uid = uid;
	rq.op = ro.rollback ? IMMUNE__V1__ACTION_OP__OP_ROLLBACK
		: ro.verify ? IMMUNE__V1__ACTION_OP__OP_VERIFY
			    : IMMUNE__V1__ACTION_OP__OP_APPLY;
	rq.action = action;
	rq.dry_run = ro.dry_run;

	/* The result is printed below; the executor's own log lines would repeat it. */
	if (!log_enabled(LOG_LEVEL_INFO))
		log_set_level(LOG_LEVEL_ERROR);
	ExecReply *rep = NULL;
	if (call_executor(&ro, &rq, &rep) < 0)
		return RESPOND_ERROR;
	print_result(&ro, &rq, rep);
	int code = exit_code(rep->status);
	exec_reply_free(rep);
	return code;
}
