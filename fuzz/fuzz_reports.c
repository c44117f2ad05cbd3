/* Fuzzes the HTML and OSCAL report writers with arbitrary JSON documents: whatever the
 * types and shapes of the members, writing must neither crash nor emit raw markup. */
#include "policy/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(int (*w)(const json_t *, FILE *, const struct report_options *), const json_t *scan)
{
	struct report_options opt = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	w(scan, f, &opt);
	fclose(f);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *scan = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);

	if (!json_is_object(scan)) {
		json_decref(scan);
		return 0;
	}
	/* reach past the writers' first checks as often as possible */
	json_object_set_new(scan, "schema", json_string("immune.scan/v1"));
	if (!json_is_array(json_object_get(scan, "results")))
		json_object_set_new(scan, "results", json_array());
	if (!json_is_string(json_object_get(scan, "started_at")))
		json_object_set_new(scan, "started_at", json_string("2026-11-23T13:45:40Z"));
	run(report_write_html, scan);
	run(report_write_oscal, scan);
	json_decref(scan);
	return 0;
}
