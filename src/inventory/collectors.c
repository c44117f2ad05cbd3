/* The collector table. Collectors run in this order; one that reads another's table (users
 * reads login_defs, duplicates reads users and groups, firewall reads packages and services,
 * file_permissions reads users and groups) must come after it. */
#include "inventory/collectors.h"

#define TABLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct inv_collector collectors[] = {
	{ "os", TABLES("os"), collect_os },
	{ "login_defs", TABLES("login_defs"), collect_login_defs },
	{ "pwquality", TABLES("pwquality"), collect_pwquality },
	{ "accounts", TABLES("users", "shadow", "groups", "duplicates"), collect_accounts },
	{ "pam", TABLES("pam"), collect_pam },
	{ "sudoers", TABLES("sudoers", "sudoers_defaults"), collect_sudoers },
	{ "authorized_keys", TABLES("authorized_keys"), collect_authorized_keys },
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
