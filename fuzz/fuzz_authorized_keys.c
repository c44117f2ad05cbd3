/* Fuzzes the authorized_keys line parser (options, key type, base64, SSH wire blob), one
 * line of the input at a time, as the collector calls it. */
#include "inventory/authorized_keys.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c;
	const char *line;
	size_t len;

	cursor_init(&c, data, size);
	while (cursor_get_line(&c, &line, &len) > 0) {
		struct authkey k = { 0 };
		const char *why = NULL;
		int r = authkey_parse(line, len, &k, &why);
		if (r < 0 && !why)
			abort();
		if (r == 0 && (!k.type || !k.fingerprint || k.bits <= 0))
			abort();
		authkey_clear(&k);
	}
	return 0;
}
