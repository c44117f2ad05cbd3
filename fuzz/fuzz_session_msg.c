/* The agent's handling of what a session recorder (running as any user) sends over
 * STATE/access.sock (session_agent.c): each input is split at NUL bytes into messages from
 * one peer, so sequences of start, data and end are explored; inputs with an odd first byte
 * run with a CA key, so certificates are decoded and checked too. */
#include "agent/session_agent.h"
#include "agent/session_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void emit(void *arg, const char *payload, size_t len, int64_t time_ns)
{
	json_t *o = json_loadb(payload, len, 0, NULL);

	(void)arg;
	(void)time_ns;
	if (!json_is_object(o) || !session_id_ok(json_string_value(json_object_get(o, "session"))))
		__builtin_trap();
	json_decref(o);
}

static bool any(uid_t uid, const char *account)
{
	(void)uid;
	return account != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_agent_options o = { .account_ok = any };
	struct session_agent *sa;
	size_t start = 0;

	if (size > 4 * SESSION_MSG_MAX)
		return 0;
	sa = session_agent_new(&o, emit, NULL);
	if (size && (data[0] & 1)) { /* half the inputs: identities checked against a CA */
		struct ssh_ed25519_key ca;

		memset(ca.pub, 0x5a, sizeof(ca.pub));
		session_agent_set_ca(sa, &ca);
	}
	for (size_t i = 0; i <= size; i++) {
		json_t *ans = NULL;

		if (i < size && data[i] != 0)
			continue;
		if (session_agent_handle_raw(sa, data + start, i - start, 1000, 42, &ans) == 0) {
			if (!json_is_boolean(json_object_get(ans, "ok")))
				__builtin_trap();
			json_decref(ans);
		}
		start = i + 1;
	}
	if (session_agent_count(sa) > SESSION_AGENT_MAX_PER_UID)
		__builtin_trap();
	session_agent_free(sa);
	return 0;
}
