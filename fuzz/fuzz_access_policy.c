/* Fuzzes the access policy language: parse, build, then decide and explain one request
 * against whatever compiled. */
#include "access/policy.h"
#include "lib/common.h"

#include <netinet/in.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	if (size > 65536)
		return 0;
	struct access_policy_builder *b = access_policy_builder_new();
	if (access_policy_add(b, "fuzz.policy", (const char *)data, size, err, sizeof(err)) < 0) {
		access_policy_builder_free(b);
		return 0;
	}
	struct access_policy_set *set = NULL;
	if (access_policy_build(b, &set, err, sizeof(err)) < 0)
		return 0;
	const char *groups[] = { "ops", "web" };
	struct access_attr attrs[] = { { "team", "sre" }, { "level", "3" } };
	struct access_attr labels[] = { { "env", "prod" }, { "role", "web" } };
	struct access_request req = {
		.principal = { "alice", groups, 2, attrs, 2 },
		.action = ACCESS_LOGIN,
		.account = "deploy",
		.host = { "0123456789abcdef0123456789abcdef", "web-01", labels, 2 },
		.context = { .now = 1796724000, .posture = 80 },
	};
	struct sockaddr_in *in = (struct sockaddr_in *)&req.context.source;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x0a010203);
	for (int a = 0; a < ACCESS_ACTION_COUNT; a++) {
		req.action = (enum access_action)a;
		req.command = a == ACCESS_SUDO_COMMAND ? "/bin/ls" : NULL;
		struct access_decision d;
		access_decide(set, &req, &d);
		free(access_explain(set, &req, &d));
		const char *ap[8];
		int64_t max;
		(void)access_grant_approvers(set, &req, ap, 8, &max);
	}
	for (size_t i = 0; i < access_policy_count(set); i++)
		(void)access_policy_get(set, i);
	access_policy_set_free(set);
	return 0;
}
