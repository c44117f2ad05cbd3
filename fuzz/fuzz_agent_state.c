/* Fuzzes the agent's state-file parsers: agent.yaml (agent_config_load) and inventory.state
 * (collect_state_load). The first byte chooses the file; the rest is its content. */
#include "agent/agent_config.h"
#include "agent/collect.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp_dir[64];

static void remove_dir(void)
{
	rmdir(tmp_dir);
}

static const char *state_dir(void)
{
	if (!tmp_dir[0]) {
		snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/immune-fuzz-agent-%ld", (long)getpid());
		agent_state_init(tmp_dir);
		atexit(remove_dir);
	}
	return tmp_dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *dir = state_dir();
	bool config = data[0] & 1;
	_cleanup_free_ char *path =
		agent_state_path(dir, config ? "agent.yaml" : "inventory.state");
	if (file_write_atomic(path, data + 1, size - 1, 0600) < 0)
		return 0;
	if (config) {
		struct agent_config cfg = { 0 };
		char err[512];
		if (agent_config_load(dir, &cfg, err, sizeof(err)) == 0)
			agent_config_free(&cfg);
	} else {
		struct collect_state st;
		collect_state_load(path, &st);
		free(collect_state_dump(&st));
		collect_state_free(&st);
	}
	unlink(path);
	return 0;
}
