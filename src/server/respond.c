/* Response orchestration at the server (docs/response-server.md): sending typed actions to
 * agents, and running the server steps of the playbooks on newly stored alerts. */
#include "server/server_int.h"

#include "lib/log.h"
#include "respond/action.h"

int respond_send(struct server *s, const char *host_id, const char *uid,
		 const Immune__V1__Action *a, Immune__V1__ActionOp op)
{
	Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
	int r;

	cmd.name = "action";
	cmd.action = (Immune__V1__Action *)a;
	cmd.op = op;
	cmd.action_uid = (char *)uid;
	r = command_send(s, host_id, &cmd);
	if (r == 0)
		log_info("sent action %s (%s %s) to host %s", uid, action_kind_name(a->kind),
			 action_op_name(op), host_id);
	return r;
}

int respond_init(struct server *s)
{
	(void)s;
	return 0;
}

void respond_fini(struct server *s)
{
	(void)s;
}

void respond_alerts(struct server *s, const char *host_id, char *const *alerts, size_t n)
{
	(void)s;
	(void)host_id;
	(void)alerts;
	(void)n;
}
