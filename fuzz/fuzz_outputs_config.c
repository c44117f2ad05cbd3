/* Fuzzes the outputs configuration parser (outputs_parse: the `outputs:` list of
 * /etc/immune/agent.yaml). Any input must give a set of outputs or an error naming the file,
 * never a crash or a leak. Nothing is opened: the set is parsed, listed and freed. */
#include "detect/output.h"
#include "lib/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outputs *o = NULL;
	struct output_stats st[40];
	char err[512] = "";

	if (size > 256 * 1024)
		return 0;
	if (outputs_parse((const char *)data, size, "agent.yaml", &o, err, sizeof(err)) == 0) {
		size_t n = outputs_stats(o, st, ARRAY_SIZE(st));
		for (size_t i = 0; i < n && i < ARRAY_SIZE(st); i++)
			if (strnlen(st[i].name, sizeof(st[i].name)) == sizeof(st[i].name))
				abort();
		outputs_event(o, "{}", 2); /* not started: goes nowhere */
		outputs_free(o);
	} else if (o || strncmp(err, "agent.yaml:", 11) != 0) {
		abort();
	}
	return 0;
}
