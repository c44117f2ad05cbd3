/* The executor: the agent's privileged process for response actions (executor.h). */
#include "respond/executor.h"

#include "detect/vault.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "proto/msg.h"
#include "respond/act.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXEC_HEADER 4
#define EXEC_DETAIL_MAX (EXEC_FRAME_MAX / 2) /* a longer detail is replaced by a note */
#define EXEC_MESSAGE_MAX 1024		     /* of a reply's message, checked by the client */
/* The vault is shared with the FIM sensor, which opens it with these sizes; opening it with
 * a smaller total would trim the sensor's snapshots. */
#define EXEC_VAULT_FILE (64u * 1024)
#define EXEC_VAULT_TOTAL (32u * 1024 * 1024)
#define EXEC_MAX_PROTECTED 64

struct executor {
	const struct executor_options *o;
	char *respond_dir; /* STATE/respond */
	char *undo_dir;	   /* STATE/respond/undo */
	const char *protected_users[EXEC_MAX_PROTECTED + 2];
	struct vault *vault;
};

/* What one request comes to: the reply's fields. */
struct outcome {
	Immune__V1__ExecStatus status;
	char message[640];
	json_t *detail;
};

static Immune__V1__ExecStatus exec_status_of(enum act_status s)
{
	switch (s) {
	case ACT_VERIFIED: return IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED;
	case ACT_FAILED: return IMMUNE__V1__EXEC_STATUS__EXEC_FAILED;
	case ACT_REFUSED: return IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED;
	case ACT_ROLLED_BACK: return IMMUNE__V1__EXEC_STATUS__EXEC_ROLLED_BACK;
	case ACT_DRY_RUN: return IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN;
	}
	return IMMUNE__V1__EXEC_STATUS__EXEC_FAILED;
}

static void outcome_set(struct outcome *oc, Immune__V1__ExecStatus status, const char *fmt, ...)
	_printf_(3, 4);
static void outcome_set(struct outcome *oc, Immune__V1__ExecStatus status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(oc->message, sizeof(oc->message), fmt, ap);
	va_end(ap);
	oc->status = status;
}

/* Takes res's status, message and detail (res no longer owns the detail). */
static void outcome_take(struct outcome *oc, enum act_status st, struct act_result *res)
{
	oc->status = exec_status_of(st);
	snprintf(oc->message, sizeof(oc->message), "%s", res->message);
	if (res->detail) {
		json_decref(oc->detail);
		oc->detail = res->detail;
		res->detail = NULL;
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- framing --- */

/* Waits until fd is ready for events, or the deadline (ms on the monotonic clock; < 0: no
 * deadline) passes. Returns 0 or -ETIMEDOUT / a negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	if (deadline < 0)
		return 0;
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Reads exactly n bytes. Returns 1, 0 on end of file before the first byte, -EPIPE on end
 * of file within them, -ETIMEDOUT or a negative errno. */
static int read_exact(int fd, void *p, size_t n, int64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		int r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (k == 0)
			return got == 0 ? 0 : -EPIPE;
		got += (size_t)k;
	}
	return 1;
}

static int write_all(int fd, const void *p, size_t n, int64_t deadline)
{
	size_t done = 0;
	while (done < n) {
		int r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		ssize_t k = send(fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		done += (size_t)k;
	}
	return 0;
}

/* Reads one frame's body into body. Returns 1, 0 on a clean end of file, -EMSGSIZE (an
 * empty or oversized frame), -EPIPE, -ETIMEDOUT or a negative errno. */
static int read_frame(int fd, int64_t deadline, struct buf *body)
{
	unsigned char hdr[EXEC_HEADER];
	size_t len;
	int r = read_exact(fd, hdr, sizeof(hdr), deadline);
	if (r <= 0)
		return r;
	r = frame_peek(hdr, sizeof(hdr), EXEC_FRAME_MAX, &len);
	if (r < 0)
		return r;
	buf_reset(body);
	_cleanup_free_ unsigned char *p = malloc(len);
	if (!p)
		return -ENOMEM;
	r = read_exact(fd, p, len, deadline);
	if (r <= 0)
		return r == 0 ? -EPIPE : r;
	return buf_append(body, p, len) < 0 ? -EMSGSIZE : 1;
}

static int write_frame(int fd, const ProtobufCMessage *m, int64_t deadline)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n == 0 || n > EXEC_FRAME_MAX)
		return -EMSGSIZE;
	_cleanup_free_ unsigned char *p = malloc(EXEC_HEADER + n);
	if (!p)
		return -ENOMEM;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	protobuf_c_message_pack(m, p + EXEC_HEADER);
	return write_all(fd, p, EXEC_HEADER + n, deadline);
}

/* --- requests and replies --- */

/* protobuf-c decoding under msg.h's allocation budget: -EBADMSG or -ENOMEM. */
static int request_unpack(const void *p, size_t n, ExecRequest **out)
{
	struct msg_budget b;
	if (n == 0)
		return -EBADMSG;
	msg_budget_init(&b, n);
	ExecRequest *r = immune__v1__exec_request__unpack(&b.allocator, n, p);
	if (!r)
		return b.exceeded ? -ENOMEM : -EBADMSG;
	*out = r;
	return 0;
}

static int request_check(const ExecRequest *r, char *err, size_t errlen)
{
	if (!action_uid_ok(r->uid)) {
		snprintf(err, errlen, "the action id is not %d lowercase hex characters",
			 ACTION_UID_LEN);
		return -EINVAL;
	}
	if (!action_op_name(r->op) && r->op != IMMUNE__V1__ACTION_OP__OP_REFRESH) {
		snprintf(err, errlen, "unknown operation %d", (int)r->op);
		return -EINVAL;
	}
	if (!r->action) {
		snprintf(err, errlen, "the request carries no action");
		return -EINVAL;
	}
	return action_check(r->action, err, errlen);
}

int exec_request_decode(const void *p, size_t n, ExecRequest **out, char *err, size_t errlen)
{
	ExecRequest *r;
	int ret = request_unpack(p, n, &r);
	if (ret < 0) {
		snprintf(err, errlen, "%s",
			 ret == -ENOMEM ? "over the allocation budget" : "not an executor request");
		return ret;
	}
	ret = request_check(r, err, errlen);
	if (ret < 0) {
		exec_request_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void exec_request_free(ExecRequest *r)
{
	if (r)
		immune__v1__exec_request__free_unpacked(r, NULL);
}

void exec_reply_free(ExecReply *r)
{
	if (r)
		immune__v1__exec_reply__free_unpacked(r, NULL);
}

static int reply_decode(const void *p, size_t n, ExecReply **out)
{
	struct msg_budget b;
	if (n == 0)
		return -EBADMSG;
	msg_budget_init(&b, n);
	ExecReply *r = immune__v1__exec_reply__unpack(&b.allocator, n, p);
	if (!r)
		return b.exceeded ? -ENOMEM : -EBADMSG;
	if (!exec_status_name(r->status) || (r->uid && r->uid[0] && !action_uid_ok(r->uid)) ||
	    (r->message && strnlen(r->message, EXEC_MESSAGE_MAX + 1) > EXEC_MESSAGE_MAX)) {
		exec_reply_free(r);
		return -EBADMSG;
	}
	*out = r;
	return 0;
}

/* --- undo records --- */

static char *undo_path(const char *state_dir, const char *uid)
{
	return xasprintf("%s/respond/undo/%s.json", state_dir, uid);
}

static int undo_bad(char *err, size_t errlen, const char *uid, const char *why)
{
	snprintf(err, errlen, "the undo record of %s is damaged: %s", uid, why);
	return -EBADMSG;
}

int exec_undo_read(const char *state_dir, const char *uid, Action **action, json_t **undo,
		   char *err, size_t errlen)
{
	if (!action_uid_ok(uid)) {
		snprintf(err, errlen, "'%.40s' is not an action id", uid ? uid : "");
		return -EINVAL;
	}
	_cleanup_free_ char *path = undo_path(state_dir, uid);
	struct buf b;
	buf_init(&b, EXEC_UNDO_MAX);
	int r = file_read_capped(path, EXEC_UNDO_MAX, &b);
	if (r < 0) {
		buf_free(&b);
		if (r == -ENOENT) {
			snprintf(err, errlen, "no undo record for %s", uid);
			return r;
		}
		if (r == -EFBIG || r == -EINVAL)
			return undo_bad(err, errlen, uid,
					r == -EFBIG ? "too large" : "not a regular file");
		snprintf(err, errlen, "reading the undo record of %s: %s", uid, strerror(-r));
		return r;
	}
	json_error_t je;
	json_t *doc = json_loadb(buf_str(&b), buf_len(&b), JSON_REJECT_DUPLICATES, &je);
	buf_free(&b);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return undo_bad(err, errlen, uid, "not a JSON object");
	}
	const char *ruid = json_string_value(json_object_get(doc, "uid"));
	int kind = action_kind_by_name(json_string_value(json_object_get(doc, "kind")));
	json_t *params = json_object_get(doc, "params");
	json_t *u = json_object_get(doc, "undo");
	Action *a = NULL;
	char why[256];
	if (!ruid || strcmp(ruid, uid) != 0)
		r = undo_bad(err, errlen, uid, "it names another action");
	else if (kind < 0)
		r = undo_bad(err, errlen, uid, "unknown kind");
	else if (u && !json_is_object(u) && !json_is_null(u))
		r = undo_bad(err, errlen, uid, "the undo data is not an object");
	else if (action_from_json((Immune__V1__ActionKind)kind, params, &a, why, sizeof(why)) < 0)
		r = undo_bad(err, errlen, uid, why);
	if (r < 0) {
		json_decref(doc);
		return r;
	}
	*action = a;
	*undo = json_is_object(u) ? json_incref(u) : NULL;
	json_decref(doc);
	return 0;
}

static int undo_write(const struct executor *ex, const char *uid, const Action *a,
		      const json_t *undo)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "uid", json_string(uid));
	json_object_set_new(doc, "kind", json_string(action_kind_name(a->kind)));
	json_object_set_new(doc, "params", action_params_json(a));
	json_object_set(doc, "undo", undo ? (json_t *)undo : json_null());
	json_object_set_new(doc, "applied_ns", json_integer(real_ns()));
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	size_t n = strlen(text);
	if (n > EXEC_UNDO_MAX)
		return -EFBIG;
	_cleanup_free_ char *path = undo_path(ex->o->state_dir, uid);
	return file_write_atomic(path, text, n, 0600);
}

static bool same_action(const Action *a, const Action *b)
{
	if (a->kind != b->kind)
		return false;
	json_t *pa = action_params_json(a), *pb = action_params_json(b);
	bool same = json_equal(pa, pb);
	json_decref(pa);
	json_decref(pb);
	return same;
}

/* --- the operations --- */

static void init_ctx(const struct executor *ex, const ExecRequest *rq, struct act_ctx *ctx)
{
	*ctx = (struct act_ctx){
		.state_dir = ex->respond_dir,
		.uid = rq->uid,
		.vault = ex->vault,
		.protected_users = ex->protected_users,
		.dry_run = rq->dry_run,
		.nft_table = ex->o->nft_table ? ex->o->nft_table : "immune",
		.passwd_root = NULL,
		.isolation_lease_s = ex->o->isolation_lease_s,
	};
}

/* Stores the undo record of a fresh application (the first one is kept: it holds the state
 * before the action). When it cannot be stored, the effect is undone at once, since an
 * action nobody can roll back must not stay. Returns true when the outcome may go on. */
static bool keep_undo(const struct executor *ex, const ExecRequest *rq, const struct act_ops *ops,
		      const struct act_ctx *ctx, const json_t *undo, struct outcome *oc)
{
	Action *old = NULL;
	json_t *old_undo = NULL;
	char err[256];
	int r = exec_undo_read(ex->o->state_dir, rq->uid, &old, &old_undo, err, sizeof(err));
	if (r == 0) {
		action_free(old);
		json_decref(old_undo);
		return true; /* a repeated apply: the pre-action state stays recorded */
	}
	r = undo_write(ex, rq->uid, rq->action, undo);
	if (r == 0)
		return true;
	struct act_result res = { 0 };
	enum act_status st = ops->rollback(ctx, rq->action, undo, &res);
	json_decref(res.detail);
	outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED,
		    "the undo record could not be stored (%s); the action was %s", strerror(-r),
		    st == ACT_ROLLED_BACK ? "undone" : "NOT undone");
	return false;
}

static void op_apply(const struct executor *ex, const ExecRequest *rq, const struct act_ops *ops,
		     const struct act_ctx *ctx, struct outcome *oc)
{
	/* The same id for another action would mix two actions' undo states. */
	Action *old = NULL;
	json_t *old_undo = NULL;
	char err[256];
	if (exec_undo_read(ex->o->state_dir, rq->uid, &old, &old_undo, err, sizeof(err)) == 0) {
		bool same = same_action(old, rq->action);
		action_free(old);
		json_decref(old_undo);
		if (!same) {
			outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
				    "action id %s already names another applied action", rq->uid);
			return;
		}
	}

	json_t *undo = NULL;
	struct act_result res = { 0 };
	enum act_status st = ops->apply(ctx, rq->action, &undo, &res);
	if (rq->dry_run) {
		json_decref(undo);
		outcome_take(oc, st == ACT_VERIFIED ? ACT_DRY_RUN : st, &res);
		return;
	}
	if (st == ACT_DRY_RUN || st == ACT_ROLLED_BACK) {
		json_decref(undo);
		json_decref(res.detail);
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED,
			    "the implementation answered '%s' to apply",
			    st == ACT_DRY_RUN ? "dry_run" : "rolled_back");
		return;
	}
	/* A failed apply that left some effect says so with an undo record. */
	if ((st == ACT_VERIFIED || (st == ACT_FAILED && undo)) &&
	    !keep_undo(ex, rq, ops, ctx, undo, oc)) {
		json_decref(undo);
		json_decref(res.detail);
		return;
	}
	json_decref(undo);
	outcome_take(oc, st, &res);
	if (st != ACT_VERIFIED)
		return;

	struct act_result vres = { 0 };
	enum act_status vst = ops->verify(ctx, rq->action, &vres);
	if (vst != ACT_VERIFIED) {
		oc->status = IMMUNE__V1__EXEC_STATUS__EXEC_FAILED;
		snprintf(oc->message, sizeof(oc->message), "applied, but not in place: %s",
			 vres.message);
	}
	json_decref(vres.detail);
}

static void op_verify(const ExecRequest *rq, const struct act_ops *ops, const struct act_ctx *ctx,
		      struct outcome *oc)
{
	struct act_result res = { 0 };
	enum act_status st = ops->verify(ctx, rq->action, &res);
	if (st != ACT_VERIFIED && st != ACT_REFUSED)
		st = ACT_FAILED;
	outcome_take(oc, st, &res);
}

static void op_rollback(const struct executor *ex, const ExecRequest *rq, const struct act_ops *ops,
			const struct act_ctx *ctx, const Action *recorded, const json_t *undo,
			struct outcome *oc)
{
	struct act_result res = { 0 };
	enum act_status st = ops->rollback(ctx, recorded, undo, &res);
	if (rq->dry_run && st == ACT_ROLLED_BACK)
		st = ACT_DRY_RUN;
	if (st == ACT_VERIFIED)
		st = ACT_FAILED; /* rollback answers rolled_back or why not */
	outcome_take(oc, st, &res);
	if (st == ACT_ROLLED_BACK && !rq->dry_run) {
		_cleanup_free_ char *path = undo_path(ex->o->state_dir, rq->uid);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("executor: removing %s: %s", path, strerror(errno));
	}
}

/* A rollback needs the undo record of the very action named. */
static bool rollback_record(const struct executor *ex, const ExecRequest *rq, Action **recorded,
			    json_t **undo, struct outcome *oc)
{
	char err[256];
	if (exec_undo_read(ex->o->state_dir, rq->uid, recorded, undo, err, sizeof(err)) < 0) {
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "%s", err);
		return false;
	}
	if (!same_action(*recorded, rq->action)) {
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
			    "the undo record of %s is for another action (%s)", rq->uid,
			    action_kind_name((*recorded)->kind));
		return false;
	}
	return true;
}

/* OP_REFRESH: the responder's dead-man refresh of the isolation (docs/agent.md,
 * "Responder"), isolate-host only, for duration_seconds (the lease). */
static void op_refresh(const struct executor *ex, const ExecRequest *rq, struct outcome *oc)
{
	if (rq->action->kind != IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST || rq->dry_run) {
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED,
			    "refresh is for isolate-host only, not as a dry run");
		return;
	}
	struct act_ctx ctx;
	init_ctx(ex, rq, &ctx);
	uint32_t lease =
		rq->action->duration_seconds ? rq->action->duration_seconds : ACT_ISOLATE_LEASE_S;
	int r = act_isolate_refresh(&ctx, lease);
	if (r == 0)
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED,
			    "isolation refreshed for %us", lease);
	else if (r == -ENOENT)
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "the host is not isolated");
	else
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_FAILED,
			    "refreshing the isolation: %s", strerror(-r));
}

static void handle(const struct executor *ex, const ExecRequest *rq, struct outcome *oc)
{
	char err[256];
	if (request_check(rq, err, sizeof(err)) < 0) {
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "%s", err);
		return;
	}
	if (rq->op == IMMUNE__V1__ACTION_OP__OP_REFRESH) {
		op_refresh(ex, rq, oc);
		return;
	}
	_cleanup_(action_freep) Action *recorded = NULL;
	json_t *undo = NULL;
	bool rollback = rq->op == IMMUNE__V1__ACTION_OP__OP_ROLLBACK;
	if (rollback && !rollback_record(ex, rq, &recorded, &undo, oc))
		goto out;
	const char *kn = action_kind_name(rq->action->kind);
	const struct act_ops *ops = act_lookup(rq->action->kind);
	if (!ops) {
		outcome_set(oc, IMMUNE__V1__EXEC_STATUS__EXEC_REFUSED, "this agent cannot %s", kn);
		goto out;
	}
	struct act_ctx ctx;
	init_ctx(ex, rq, &ctx);
	if (rollback)
		op_rollback(ex, rq, ops, &ctx, recorded, undo, oc);
	else if (rq->op == IMMUNE__V1__ACTION_OP__OP_VERIFY)
		op_verify(rq, ops, &ctx, oc);
	else
		op_apply(ex, rq, ops, &ctx, oc);
out:
	json_decref(undo);
}

static int send_reply(int fd, const ExecRequest *rq, struct outcome *oc)
{
	ExecReply rep = IMMUNE__V1__EXEC_REPLY__INIT;
	_cleanup_free_ char *detail = NULL;
	if (oc->detail)
		detail = json_dumps(oc->detail, JSON_COMPACT | JSON_SORT_KEYS);
	if (!detail || strlen(detail) > EXEC_DETAIL_MAX) {
		free(detail);
		detail = xstrdup(oc->detail ? "{\"truncated\":true}" : "{}");
	}
	/* One line for operators: a newline from below would break logs and tables. */
	for (char *c = oc->message; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	rep.uid = action_uid_ok(rq->uid) ? rq->uid : (char *)"";
	rep.status = oc->status;
	rep.message = oc->message;
	rep.detail_json = detail;
	return write_frame(fd, &rep.base, -1);
}

/* --- the process --- */

static void executor_done(struct executor *ex)
{
	vault_free(ex->vault);
	free(ex->respond_dir);
	free(ex->undo_dir);
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 077) && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

static int executor_init(struct executor *ex, const struct executor_options *o)
{
	int r;
	*ex = (struct executor){ .o = o };
	ex->respond_dir = xasprintf("%s/respond", o->state_dir);
	ex->undo_dir = xasprintf("%s/respond/undo", o->state_dir);
	size_t n = 0;
	ex->protected_users[n++] = "root";
	for (size_t i = 0; o->protected_users && o->protected_users[i]; i++)
		if (n < EXEC_MAX_PROTECTED + 1 && strcmp(o->protected_users[i], "root") != 0)
			ex->protected_users[n++] = o->protected_users[i];
	ex->protected_users[n] = NULL;
	if ((r = make_dir(ex->respond_dir)) < 0)
		return log_errno(r, "executor: %s", ex->respond_dir);
	if ((r = make_dir(ex->undo_dir)) < 0)
		return log_errno(r, "executor: %s", ex->undo_dir);
	r = vault_open(o->state_dir, EXEC_VAULT_FILE, EXEC_VAULT_TOTAL, &ex->vault);
	if (r < 0) {
		log_warn("executor: the vault in %s: %s (restore-file unavailable)", o->state_dir,
			 strerror(-r));
		ex->vault = NULL;
	}
	return 0;
}

static void log_outcome(const ExecRequest *rq, const struct outcome *oc)
{
	const char *kn = rq->action ? action_kind_name(rq->action->kind) : NULL;
	const char *op = action_op_name(rq->op);
	log_msg(oc->status == IMMUNE__V1__EXEC_STATUS__EXEC_VERIFIED ||
				oc->status == IMMUNE__V1__EXEC_STATUS__EXEC_ROLLED_BACK ||
				oc->status == IMMUNE__V1__EXEC_STATUS__EXEC_DRY_RUN
			? LOG_LEVEL_INFO
			: LOG_LEVEL_WARN,
		"executor: %s %s%s %.40s: %s: %s", op ? op : "?", kn ? kn : "?",
		rq->dry_run ? " (dry run)" : "", action_uid_ok(rq->uid) ? rq->uid : "-",
		exec_status_name(oc->status), oc->message);
}

int executor_serve(int fd, const struct executor_options *o)
{
	struct executor ex;
	int r = executor_init(&ex, o);
	if (r < 0) {
		executor_done(&ex);
		return r;
	}
	struct buf body;
	buf_init(&body, EXEC_FRAME_MAX);
	for (;;) {
		r = read_frame(fd, -1, &body);
		if (r == 0)
			break; /* the agent closed its end */
		if (r < 0) {
			log_errno(r, "executor: reading a request");
			break;
		}
		ExecRequest *rq;
		r = request_unpack(buf_str(&body), buf_len(&body), &rq);
		if (r < 0) {
			log_errno(r, "executor: a malformed request (%zu bytes); closing",
				  buf_len(&body));
			break;
		}
		struct outcome oc = { .status = IMMUNE__V1__EXEC_STATUS__EXEC_FAILED };
		handle(&ex, rq, &oc);
		/* a refresh every 30 s is logged only when it did not refresh */
		if (rq->op != IMMUNE__V1__ACTION_OP__OP_REFRESH ||
		    oc.status == IMMUNE__V1__EXEC_STATUS__EXEC_FAILED)
			log_outcome(rq, &oc);
		r = send_reply(fd, rq, &oc);
		json_decref(oc.detail);
		exec_request_free(rq);
		if (r < 0) {
			log_errno(r, "executor: sending a reply");
			break;
		}
	}
	buf_free(&body);
	executor_done(&ex);
	return r;
}

static _Noreturn void child_main(int fd, pid_t parent, const struct executor_options *o)
{
	sigset_t none;
	/* The agent's handlers and masks are not ours: a SIGTERM ends the executor. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1); /* the agent is already gone */
	prctl(PR_SET_NAME, "immune-exec");
	/* Files the actions create or programs they start (systemctl) get the modes an
	 * administrator's root shell would give, whatever the agent's own umask; the executor's
	 * own files have explicit modes. */
	umask(022);
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
	/* Keep the standard descriptors (the log goes to stderr) and our end, nothing else. */
	if (close_range(4, ~0u, 0) < 0)
		_exit(1);
	_exit(executor_serve(fd, o) < 0 ? 1 : 0);
}

int executor_spawn(const struct executor_options *o, int *fd, pid_t *pid)
{
	int sv[2];
	if (!o || !o->state_dir)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t parent = getpid();
	fflush(NULL); /* buffered output must not be written twice */
	pid_t p = fork();
	if (p < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (p == 0) {
		close(sv[0]);
		child_main(sv[1], parent, o);
	}
	close(sv[1]);
	*fd = sv[0];
	*pid = p;
	return 0;
}

int exec_call(int fd, const ExecRequest *req, int timeout_ms, ExecReply **reply)
{
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : EXEC_TIMEOUT_MS);
	int r = write_frame(fd, &req->base, deadline);
	if (r < 0)
		return r;
	struct buf body;
	buf_init(&body, EXEC_FRAME_MAX);
	r = read_frame(fd, deadline, &body);
	if (r == 0)
		r = -EPIPE;
	if (r == -EMSGSIZE)
		r = -EBADMSG;
	if (r > 0)
		r = reply_decode(buf_str(&body), buf_len(&body), reply);
	buf_free(&body);
	return r;
}
