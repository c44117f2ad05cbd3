/* Fuzzes the join token parser: anything accepted formats back to the same text. */
#include "trust/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = xstrndup((const char *)data, size);
	struct join_token t;
	char out[TOKEN_TEXT_MAX];

	if (token_parse(text, &t) == 0) {
		token_format(&t, out);
		if (strcmp(out, text) != 0)
			abort();
		token_wipe(&t);
	}
	return 0;
}
