/* The server's parser of access-event records (RECORD_ACCESS_EVENT, ingest_access.c): what
 * agents report of login decisions and revocations. Whatever comes in, a parsed event has a
 * well-formed name and bounded strings. */
#include "store/ingest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s)
{
	if (s && (strlen(s) == 0 || strlen(s) > INGEST_MAX_ACCESS_STRING))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_access_event e;

	if (size > 2 * INGEST_MAX_ACCESS_JSON)
		return 0;
	if (ingest_parse_access_event(data, size, &e) < 0)
		return 0;
	if (!e.event || !*e.event || strlen(e.event) > 32 || !json_is_object(e.root) ||
	    json_object_size(e.root) > INGEST_MAX_ACCESS_KEYS || e.time_ns < 0)
		__builtin_trap();
	check_str(e.identity);
	check_str(e.account);
	check_str(e.grant);
	check_str(e.reason);
	ingest_access_event_free(&e);
	return 0;
}
