/* The server's API request checks: a POST /v1/tokens body (any bytes, as JSON) and
 * durations (the same bytes as a string). */
#include "server/api_int.h"
#include "server/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(body)) {
		struct api_token_request t;
		if (!api_token_request_parse(body, &t)) {
			if (t.ttl <= 0 || t.uses < 0 || t.n_labels > MSG_MAX_LABELS)
				__builtin_trap();
		}
	}
	json_decref(body);
	char *text = xstrndup((const char *)data, size);
	int64_t v;
	if (duration_parse(text, INT64_MAX, &v) == 0 && v < 0)
		__builtin_trap();
	free(text);
	return 0;
}
