/* The collector table. Collectors run in this order; one that reads another's table (users
 * reads login_defs, duplicates reads users and groups, firewall reads packages and services,
 * file_permissions reads users and groups) must come after it. */
#include "inventory/collectors.h"

#define TABLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct inv_collector collectors[] = {
	{ "os", TABLES("os"), collect_os },
	{ "services", TABLES("services"), collect_services },
	{ "firewall", TABLES("firewall"), collect_firewall },
	{ "time_sync", TABLES("time_sync"), collect_time_sync },
	{ "audit", TABLES("audit_rules", "auditd_conf"), collect_audit },
	{ "logging", TABLES("journald_conf", "rsyslog_conf"), collect_logging },
	{ "listening_sockets", TABLES("listening_sockets"), collect_sockets },
	{ "processes", TABLES("processes"), collect_processes },
};

const struct inv_collector *inv_collectors(size_t *n)
{
	*n = ARRAY_SIZE(collectors);
	return collectors;
}
