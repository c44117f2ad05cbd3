/* Fuzzes the OCSF event reader (event_from_json_text): any input gives an event or
 * -EBADMSG, and an event read back writes JSON that reads again to the same fields. */
#include "detect/event_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event a, b;

	event_init(&a);
	event_init(&b);
	if (event_from_json_text((const char *)data, size, &a) == 0) {
		char *line = event_to_json_line(&a);
		if (event_from_json_text(line, strlen(line), &b) != 0 || b.kind != a.kind ||
		    b.present != a.present)
			abort();
		for (int f = 0; f < EF_COUNT; f++)
			if (event_has(&a, f) &&
			    strcmp(event_get(&a, f, NULL), event_get(&b, f, NULL)) != 0)
				abort();
		free(line);
	}
	event_free(&a);
	event_free(&b);
	return 0;
}
