/* The collector table. Collectors run in this order; one that reads another's table (users
 * reads login_defs, duplicates reads users and groups,
 * file_permissions reads users and groups) must come after it. firewall and time_sync read
 * unit links themselves (services.h), not the services table. */
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
	{ "packages", TABLES("packages"), collect_packages },
	{ "sshd_config", TABLES("sshd_config"), collect_sshd_config },
	{ "kernel_modules", TABLES("kernel_modules"), collect_kernel_modules },
	{ "sysctl", TABLES("sysctl"), collect_sysctl },
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
