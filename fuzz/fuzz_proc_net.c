/* Fuzzes the /proc/net/{tcp,tcp6,udp,udp6} line parser with every line of the input, in each
 * of the four address/protocol modes. */
#include "inventory/procs.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c;
	const char *line;
	size_t len;
	struct procnet_entry e;

	cursor_init(&c, data, size);
	while (cursor_get_line(&c, &line, &len) > 0)
		for (int mode = 0; mode < 4; mode++)
			procnet_parse_line(line, len, mode & 1, mode & 2, &e);
	return 0;
}
