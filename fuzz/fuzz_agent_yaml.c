/* Fuzzes the agent's configuration file parser (/etc/immune/agent.yaml, agent_yaml.h): any
 * text either parses, with every value within its documented range, or is refused with a
 * message naming the file. */
#include "agent/agent_yaml.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_paths(char *const *v)
{
	for (size_t i = 0; v && v[i]; i++)
		assert(v[i][0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_yaml c;
	char err[1024];
	err[0] = '\0';
	int r = agent_yaml_parse((const char *)data, size, "agent.yaml", &c, err, sizeof(err));
	if (r < 0) {
		assert(r == -EINVAL);
		assert(strncmp(err, "agent.yaml:", 11) == 0);
	} else {
		assert(r == 0);
		assert(c.sensors.process_mechanism && c.sensors.network_mechanism &&
		       c.sensors.fim_mechanism);
		assert(c.sensors.fim_cpu_percent >= 1 && c.sensors.fim_cpu_percent <= 100);
		assert(c.sensors.network_poll_ms == 0 || c.sensors.network_poll_ms >= 10);
		assert(c.baseline_learning_ns >= 0);
		check_paths(c.sensors.auth_logs);
		check_paths(c.sensors.fim_paths);
	}
	agent_yaml_free(&c);
	return 0;
}
