/* Fuzzes the fleet report builder and its JSON, HTML and OSCAL writers with arbitrary API
 * answers: the input is one JSON object whose "hosts" and "findings" members stand for the
 * answers of GET /v1/hosts and GET /v1/findings (the same object is passed as both). The
 * first byte picks the framework, so mappings keyed by other frameworks are reached too.
 * Whatever the shapes and types, building and writing must neither crash nor leak. */
#include "policy/fleet_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(int (*w)(const json_t *, FILE *), const json_t *doc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	w(doc, f);
	fclose(f);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const frameworks[] = { "cis", "pci_dss", "nist_800_53", "x-y" };
	const char *fw;
	json_t *in, *doc = NULL;

	if (size < 1 || size > (1u << 20))
		return 0;
	fw = frameworks[data[0] % ARRAY_SIZE(frameworks)];
	in = json_loadb((const char *)data + 1, size - 1, JSON_ALLOW_NUL, NULL);
	if (!in)
		return 0;
	if (fleet_report_build(in, in, fw, 1795437000, &doc) == 0) {
		run(fleet_report_write_json, doc);
		run(fleet_report_write_html, doc);
		run(fleet_report_write_oscal, doc);
		json_decref(doc);
	}
	json_decref(in);
	return 0;
}
