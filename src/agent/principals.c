/* immune-agent principals [--state DIR] ACCOUNT CERT_BASE64 [CONNECTION]: sshd's
 * AuthorizedPrincipalsCommand (docs/access.md). Asks the running agent over
 * STATE/access.sock and prints ACCOUNT when the login is allowed; prints nothing when it is
 * denied or on any error (fail closed). Always exits 0 (2 for a usage error): sshd treats
 * the empty output as "no principal". Runs once per login, as the principals user. */
#include "agent/access.h"

#include <unistd.h>

static bool chars_in(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && strspn(s, set) == n;
}

#define B64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
#define ACCT "abcdefghijklmnopqrstuvwxyz0123456789_-.$"
#define CONN "0123456789abcdefABCDEF.:% "

int agent_principals_main(int argc, char **argv)
{
	const char *state = AGENT_DEFAULT_STATE_DIR;
	int i = 1;
	if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
		printf("usage: immune-agent principals [--state DIR] ACCOUNT CERT_BASE64 "
		       "[CONNECTION]\n\n"
		       "sshd's AuthorizedPrincipalsCommand (%%u %%k, and %%C where sshd has it): "
		       "prints ACCOUNT when the agent allows the login.\n");
		return 0;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--state")) {
		state = argv[i + 1];
		i += 2;
	}
	if (argc - i != 3 && argc - i != 2) {
		fprintf(stderr,
			"immune-agent principals: ACCOUNT CERT_BASE64 [CONNECTION] expected\n");
		return 2;
	}
	const char *account = argv[i], *cert = argv[i + 1];
	const char *conn = argc - i == 3 ? argv[i + 2] : NULL;
	/* checked here so the message needs no escaping; the agent checks again */
	if (!chars_in(account, ACCT, 32) || !chars_in(cert, B64, ACCESS_MSG_MAX - 512) ||
	    (conn && !chars_in(conn, CONN, 256)))
		return 0;
	size_t cap = strlen(cert) + 512;
	char *msg = malloc(cap);
	if (!msg)
		return 0;
	int n = snprintf(msg, cap, "{\"type\":\"login\",\"account\":\"%s\",\"cert\":\"%s\"%s%s%s}",
			 account, cert, conn ? ",\"connection\":\"" : "", conn ? conn : "",
			 conn ? "\"" : "");
	char answer[1024];
	int r = n > 0 && (size_t)n < cap
			? access_sock_call(state, msg, (size_t)n, answer, sizeof(answer),
					   ACCESS_CONNECT_TIMEOUT_MS)
			: -EMSGSIZE;
	free(msg);
	if (r < 0)
		return 0;
	json_t *a = json_loads(answer, 0, NULL);
	bool allow = json_is_true(json_object_get(a, "allow"));
	json_decref(a);
	if (allow)
		printf("%s\n", account);
	return 0;
}
