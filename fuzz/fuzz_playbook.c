/* Fuzzes the playbook loader (respond/playbook.h) through playbook_load_buffer: any text
 * loads what is valid and names the file for everything it refuses; whatever loaded then
 * matches a synthetic alert and a failing check without a crash, and every step it returns
 * holds an action that passes action_check. */
#include "respond/playbook.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *field(void *arg, const char *name)
{
	(void)arg;
	if (!strcmp(name, "pid"))
		return "4242";
	if (!strcmp(name, "src_ip"))
		return "198.51.100.23";
	if (!strcmp(name, "target_user"))
		return "alice";
	if (!strcmp(name, "target_filename"))
		return "/home/alice/.ssh/authorized_keys";
	return NULL;
}

static void match(struct playbook_set *s, const struct playbook_input *in)
{
	struct playbook_steps st = { 0 };
	assert(playbook_match(s, in, false, false, 0, &st) == 0);
	for (size_t i = 0; i < st.n; i++) {
		assert(st.v[i].action && action_check(st.v[i].action, NULL, 0) == 0);
		assert(playbook_mode_name(st.v[i].mode));
	}
	for (size_t i = 0; i < st.n_skipped; i++)
		assert(st.skipped[i] && st.skipped[i][0]);
	playbook_steps_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct playbook_set *s = NULL;
	strv errors = NULL;
	assert(playbook_load_buffer("fuzz.yml", (const char *)data, size, &s, &errors) == 0);
	for (size_t i = 0; errors && errors[i]; i++)
		assert(strncmp(errors[i], "fuzz.yml:", 9) == 0);
	const char *const tags[] = { "attack.t1110.001", "attack.credential_access" };
	const char *keys[] = { "env" }, *values[] = { "prod" };
	struct playbook_input in = {
		.source = "rule",
		.rule_id = "r1",
		.level = 4,
		.tags = tags,
		.n_tags = 2,
		.hostname = "web-1",
		.label_keys = keys,
		.label_values = values,
		.n_labels = 1,
		.field = field,
	};
	match(s, &in);
	struct playbook_input chk = {
		.source = "check",
		.rule_id = "c1",
		.level = 3,
		.fix_json = "{\"type\":\"sysctl_set\",\"key\":\"a\",\"value\":\"1\"}",
	};
	match(s, &chk);
	assert(playbook_user_protected(s, "root"));
	playbook_rate_allow(s, IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST, "h1", 1);
	playbook_set_free(s);
	strv_free(errors);
	return 0;
}
