/* Fuzzes the client configuration parser of the immune command (api_config_parse: the
 * server.yaml / DATA/client.yaml file). Any input must give a configuration or an error
 * with a message, never a crash or a leak. */
#include "cli/api_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_config *c = NULL;
	struct api_error err;

	if (size > API_CONFIG_MAX)
		return 0;
	if (api_config_parse((const char *)data, size, "fuzz/server.yaml", &c, &err) == 0)
		api_config_free(c);
	else if (!err.msg[0])
		abort();
	return 0;
}
