/* Fuzzes the OCSF event reader (host_event_from_json_text): any input gives an event or
 * -EBADMSG, and an event read back writes JSON that reads again to the same fields. */
#include "detect/event_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host_event a, b;

	host_event_init(&a);
	host_event_init(&b);
	if (host_event_from_json_text((const char *)data, size, &a) == 0) {
		char *line = host_event_to_json_line(&a);
		if (host_event_from_json_text(line, strlen(line), &b) != 0 || b.kind != a.kind ||
		    b.present != a.present)
			abort();
		for (int f = 0; f < EF_COUNT; f++)
			if (host_event_has(&a, f) &&
			    strcmp(host_event_get(&a, f, NULL), host_event_get(&b, f, NULL)) != 0)
				abort();
		free(line);
	}
	host_event_free(&a);
	host_event_free(&b);
	return 0;
}
