/* Fuzzes the comparison of two authorized_keys texts that names the keys a change added (the
 * FIM sensor's key_fingerprint, respond/authkeys.h). The input is the old text, a NUL byte,
 * then the new text (no NUL: a new file). Every key named added must be in the new text and
 * not in the old one, each once; a text compared with itself adds nothing. */
#include "respond/authkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	const char *old = nul ? text : NULL, *cur = nul ? nul + 1 : text;
	size_t oldlen = nul ? (size_t)(nul - text) : 0, curlen = size - (size_t)(cur - text);
	char fps[MAX][AUTHKEYS_FP_LEN + 1];

	if (size > AUTHKEYS_FILE_MAX)
		return 0;
	int n = authkeys_added(old, oldlen, cur, curlen, fps, MAX);
	if (n < 0)
		abort();
	for (int i = 0; i < n && i < MAX; i++) {
		if (authkeys_count(cur, curlen, fps[i]) == 0 ||
		    (old && authkeys_count(old, oldlen, fps[i]) != 0))
			abort();
		for (int j = 0; j < i; j++)
			if (strcmp(fps[i], fps[j]) == 0)
				abort();
	}
	if (authkeys_added(cur, curlen, cur, curlen, fps, MAX) != 0)
		abort();
	return 0;
}
