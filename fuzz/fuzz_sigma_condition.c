/* Fuzzes the Sigma condition parser against a fixed set of selection names. */
#include "detect/sigma_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssel sel[] = { { .name = (char *)"selection" },
			      { .name = (char *)"filter_a" },
			      { .name = (char *)"filter_b" },
			      { .name = (char *)"_hidden" },
			      { .name = (char *)"kw" } };
	struct scond *c;
	char err[256];
	char *text;

	if (size > 16384)
		return 0;
	text = xstrndup((const char *)data, size);
	if (scond_parse(text, sel, ARRAY_SIZE(sel), &c, err, sizeof(err)) == 0)
		scond_free(c);
	free(text);
	return 0;
}
