/* The server's parser of recorded-session records (RECORD_SESSION, ingest_session.c). */
#include "agent/session_msg.h"
#include "store/ingest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_session_part p;

	if (size > 2 * INGEST_MAX_SESSION_JSON)
		return 0;
	if (ingest_parse_session_part(data, size, &p) < 0)
		return 0;
	if (!session_id_ok(p.session) || p.part < 0 || !p.cast || strlen(p.cast) > p.cast_len ||
	    (p.part == 0 && (!p.account || p.width < 1 || p.height < 1 || p.end)) || p.exit < -1 ||
	    p.exit > 255 || (p.exit >= 0 && !p.end))
		__builtin_trap();
	ingest_session_part_free(&p);
	return 0;
}
