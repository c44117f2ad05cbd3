/* The collector table. Collectors run in this order; one that reads another's table (users
 * reads login_defs, duplicates and authorized_keys read users (and groups),
 * file_permissions reads users and groups) must come after it. firewall and time_sync read
 * unit links themselves (services.h), not the services table. */
#include "inventory/collectors.h"

#define TABLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct inv_collector collectors[] = {
	{ "os", TABLES("os"), NULL, collect_os },
	{ "login_defs", TABLES("login_defs"), NULL, collect_login_defs },
	{ "pwquality", TABLES("pwquality"), NULL, collect_pwquality },
	{ "accounts", TABLES("users", "shadow", "groups", "duplicates"), TABLES("login_defs"),
	  collect_accounts },
	{ "pam", TABLES("pam"), NULL, collect_pam },
	{ "sudoers", TABLES("sudoers", "sudoers_defaults"), NULL, collect_sudoers },
	{ "authorized_keys", TABLES("authorized_keys"), TABLES("users"), collect_authorized_keys },
	{ "mounts", TABLES("mounts"), NULL, collect_mounts },
	{ "cron", TABLES("cron"), NULL, collect_cron },
	{ "file_permissions", TABLES("file_permissions"), NULL, collect_file_permissions },
	{ "banners", TABLES("banners"), NULL, collect_banners },
	{ "packages", TABLES("packages"), NULL, collect_packages },
	{ "sshd_config", TABLES("sshd_config"), NULL, collect_sshd_config },
	{ "kernel_modules", TABLES("kernel_modules"), NULL, collect_kernel_modules },
	{ "sysctl", TABLES("sysctl"), NULL, collect_sysctl },
	{ "services", TABLES("services"), NULL, collect_services },
	{ "firewall", TABLES("firewall"), NULL, collect_firewall },
	{ "time_sync", TABLES("time_sync"), NULL, collect_time_sync },
	{ "audit", TABLES("audit_rules", "auditd_conf"), NULL, collect_audit },
	{ "logging", TABLES("journald_conf", "rsyslog_conf"), NULL, collect_logging },
	{ "listening_sockets", TABLES("listening_sockets"), NULL, collect_sockets },
	{ "processes", TABLES("processes"), NULL, collect_processes },
};

const struct inv_collector *inv_collectors(size_t *n)
{
	*n = ARRAY_SIZE(collectors);
	return collectors;
}
