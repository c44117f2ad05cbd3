/* Fuzzes the resolv.conf reader of isolate-host (respond/act_net.h) and, line by line, the
 * address parser and printer it uses: a printed address parses back to the same network. */
#include "lib/buf.h"
#include "respond/act_net.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_addr out[NET_MAX_RESOLVERS];
	size_t n = net_resolv_parse((const char *)data, size, out, NET_MAX_RESOLVERS);
	assert(n <= NET_MAX_RESOLVERS);

	struct cursor c;
	const char *line;
	size_t len;
	cursor_init(&c, data, size);
	while (cursor_get_line(&c, &line, &len) > 0) {
		char text[128];
		if (len >= sizeof(text) || memchr(line, '\0', len))
			continue;
		memcpy(text, line, len);
		text[len] = '\0';
		struct net_addr a, b;
		char back[NET_ADDR_TEXT];
		if (net_addr_parse(text, &a) < 0)
			continue;
		net_addr_format(&a, back);
		assert(net_addr_parse(back, &b) == 0 && net_addr_eq(&a, &b));
	}
	return 0;
}
