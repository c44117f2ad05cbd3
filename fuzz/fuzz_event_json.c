/* Fuzzes the OCSF event reader (host_event_from_json_text): any input gives an event or
 * -EBADMSG, and an event read back writes JSON that reads again to the same fields. Every
 * event is also written both ways, as the direct line (host_event_to_json_line) and as the
 * tree (host_event_to_json), and the two must be the same JSON: the decoded event, and an
 * event whose fields are the input's raw bytes (so invalid UTF-8 and control bytes, which a
 * JSON text cannot carry into an event, reach the writer too). */
#include "detect/event_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless the line parses to an object equal to the tree form. */
static void check_both_ways(const struct host_event *ev)
{
	char *line = host_event_to_json_line(ev);
	json_t *parsed = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	json_t *tree = host_event_to_json(ev);

	if (!parsed || !json_equal(parsed, tree))
		abort();
	json_decref(parsed);
	json_decref(tree);
	free(line);
}

/* An event from raw bytes: the first byte picks the kind, the second the flags, then each
 * '|'-separated piece is a field value, fields taken in turn from the third byte on. */
static void raw_event(const uint8_t *data, size_t size, struct host_event *ev)
{
	if (size < 3)
		return;
	host_event_reset(ev, data[0] % EVENT_KIND_COUNT, (int64_t)data[1] * INT64_C(86400000000));
	ev->id = data[1] & 1 ? 0 : (uint64_t)data[2] << 40;
	ev->truncated = data[1] & 2;
	unsigned f = data[2] % EF_COUNT;
	const char *p = (const char *)data + 3, *end = (const char *)data + size;
	while (p <= end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *stop = bar ? bar : end;
		host_event_set(ev, f, p, (size_t)(stop - p));
		f = (f + 1) % EF_COUNT;
		p = stop + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host_event a, b;

	host_event_init(&a);
	host_event_init(&b);
	if (host_event_from_json_text((const char *)data, size, &a) == 0) {
		check_both_ways(&a);
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
	raw_event(data, size, &b);
	check_both_ways(&b);
	host_event_free(&a);
	host_event_free(&b);
	return 0;
}
