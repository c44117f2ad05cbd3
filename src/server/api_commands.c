/* POST /v1/hosts/ID/commands: sends a command to a connected agent (docs/api.md), and the
 * send every command to an agent goes through (response actions too). */
#include "server/api_int.h"

#include "lib/log.h"

/* The commands an agent understands; later issues add response actions. */
static const char *const known_commands[] = {
	"scan-now",	 /* collect the inventory and scan now */
	"inventory-now", /* collect the inventory now (scan only if it changed) */
};

static bool command_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_commands); i++)
		if (!strcmp(name, known_commands[i]))
			return true;
	return false;
}

/* Unique per server run and increasing across restarts: wall-clock microseconds at the
 * first command, then one more each time. */
static uint64_t next_command_id(void)
{
	static uint64_t last;
	uint64_t now = (uint64_t)server_now_ns() / 1000;
	last = now > last ? now : last + 1;
	return last;
}

int command_send(struct server *s, const char *host_id, Immune__V1__Command *cmd)
{
	struct conn *c = hostmap_get(&s->hosts, host_id);
	if (!c)
		return -ENOTCONN;
	cmd->id = next_command_id();
	Frame f = IMMUNE__V1__FRAME__INIT;
	f.body_case = IMMUNE__V1__FRAME__BODY_COMMAND;
	f.command = cmd;
	if (conn_send(c, &f) < 0)
		return -EPIPE;
	server_count(s, CTR_COMMANDS_SENT);
	return 0;
}

void api_host_command(struct server *s, struct evhttp_request *req, const char *id)
{
	json_t *body = api_body_object(req);
	if (!body)
		return;
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || json_object_size(body) != 1) {
		api_error(req, 400, "the body must be {\"name\": COMMAND}");
		goto out;
	}
	if (!command_known(name)) {
		api_error(req, 400, "unknown command '%s' (known: scan-now, inventory-now)", name);
		goto out;
	}
	struct store_host h;
	int r = store_host_get(s->store, id, &h);
	if (r == -ENOENT) {
		api_error(req, 404, "no such host: %s", id);
		goto out;
	}
	if (r < 0) {
		api_error(req, 500, "cannot read host %s", id);
		goto out;
	}
	bool revoked = h.revoked;
	store_host_free(&h);
	if (revoked) {
		api_error(req, 409, "host %s was removed from the fleet", id);
		goto out;
	}
	Immune__V1__Command cmd = IMMUNE__V1__COMMAND__INIT;
	cmd.name = (char *)name;
	r = command_send(s, id, &cmd);
	if (r == -ENOTCONN) {
		api_error(req, 409, "host %s is not connected; commands go only to connected hosts",
			  id);
		goto out;
	}
	if (r < 0) {
		api_error(req, 503, "the connection to host %s failed while sending", id);
		goto out;
	}
	log_info("sent command '%s' (id %llu) to host %s", name, (unsigned long long)cmd.id, id);
	api_reply(req, 202,
		  json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)cmd.id, "host", id, "name",
			    name, "delivered", 1));
out:
	json_decref(body);
}
