/* The collector table. Collectors run in this order; one that reads another's table (users
 * reads login_defs, duplicates reads users and groups, firewall reads packages and services,
 * file_permissions reads users and groups) must come after it. */
#include "inventory/collectors.h"

#define TABLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct inv_collector collectors[] = {
	{ "os", TABLES("os"), collect_os },
	{ "mounts", TABLES("mounts"), collect_mounts },
	{ "cron", TABLES("cron"), collect_cron },
	{ "file_permissions", TABLES("file_permissions"), collect_file_permissions },
	{ "banners", TABLES("banners"), collect_banners },
};

const struct inv_collector *inv_collectors(size_t *n)
{
	*n = ARRAY_SIZE(collectors);
	return collectors;
}
