#include "inventory/schema.h"

/* clang-format off */
/* Columns every row read from a configuration file carries, for evidence. */
#define WHERE                                                                      \
	{ "file", INV_STR, "file the row was read from (path inside the root)" },  \
	{ "line", INV_INT, "1-based line number in file" }

#define END { NULL, 0, NULL }
/* clang-format on */

static const struct inv_column os_cols[] = {
	{ "id", INV_STR, "os-release ID (debian, ubuntu, rhel, rocky, almalinux, ...)" },
	{ "id_like", INV_STR, "os-release ID_LIKE" },
	{ "version_id", INV_STR, "os-release VERSION_ID (\"12\", \"22.04\", \"9.4\")" },
	{ "version_major", INV_INT, "major version number from VERSION_ID" },
	{ "name", INV_STR, "os-release NAME" },
	{ "pretty_name", INV_STR, "os-release PRETTY_NAME" },
	{ "family", INV_STR, "debian, rhel, suse, alpine or unknown" },
	{ "kernel_release", INV_STR, "running kernel release (host root only)" },
	{ "kernel_version", INV_STR, "running kernel version string (host root only)" },
	{ "arch", INV_STR, "machine architecture (host root only)" },
	{ "hostname", INV_STR, "host name (/etc/hostname, or the running system's)" },
	END,
};

static const struct inv_column users_cols[] = {
	{ "name", INV_STR, "account name" },
	{ "uid", INV_INT, "user id" },
	{ "gid", INV_INT, "primary group id" },
	{ "gecos", INV_STR, "comment field" },
	{ "home", INV_STR, "home directory" },
	{ "shell", INV_STR, "login shell" },
	{ "interactive", INV_BOOL, "shell is not nologin/false/sync/shutdown/halt and not empty" },
	{ "system", INV_BOOL, "uid below UID_MIN from login.defs (default 1000)" },
	{ "home_exists", INV_BOOL, "home directory exists" },
	{ "home_mode", INV_INT, "mode bits of the home directory" },
	{ "home_owner_uid", INV_INT, "owner uid of the home directory" },
	WHERE,
	END,
};

static const struct inv_column shadow_cols[] = {
	{ "name", INV_STR, "account name" },
	{ "password_status", INV_STR,
	  "set, locked (! or * prefix on a hash), disabled (* or !! alone), empty" },
	{ "hash_algorithm", INV_STR,
	  "yescrypt, sha512, sha256, md5, bcrypt, des, none or unknown" },
	{ "last_change", INV_INT, "days since epoch of the last change (absent when empty)" },
	{ "min_days", INV_INT, "minimum days between changes" },
	{ "max_days", INV_INT, "maximum days a password is valid" },
	{ "warn_days", INV_INT, "days of warning before expiry" },
	{ "inactive_days", INV_INT, "days after expiry until the account is disabled" },
	{ "expire", INV_INT, "account expiry, days since epoch" },
	{ "last_change_in_future", INV_BOOL, "last_change lies after today" },
	WHERE,
	END,
};

static const struct inv_column groups_cols[] = {
	{ "name", INV_STR, "group name" },
	{ "gid", INV_INT, "group id" },
	{ "members", INV_STR, "comma-separated member list" },
	{ "password_status", INV_STR, "from gshadow when present: set, locked, disabled, empty" },
	WHERE,
	END,
};

static const struct inv_column duplicates_cols[] = {
	{ "kind", INV_STR, "uid, gid, user_name or group_name" },
	{ "value", INV_STR, "the duplicated id or name" },
	{ "count", INV_INT, "how many entries share it" },
	{ "names", INV_STR, "comma-separated names of the entries" },
	END,
};

static const struct inv_column sudoers_cols[] = {
	{ "user", INV_STR, "user, %group or +netgroup the rule grants (aliases expanded)" },
	{ "host", INV_STR, "host list item (ALL, name)" },
	{ "runas", INV_STR, "run-as user list (ALL, root, ...)" },
	{ "command", INV_STR, "one command the rule allows (ALL for any)" },
	{ "nopasswd", INV_BOOL, "the command runs without authentication" },
	{ "negated", INV_BOOL, "the command is a !command exclusion" },
	WHERE,
	END,
};

static const struct inv_column sudoers_defaults_cols[] = {
	{ "name", INV_STR, "Defaults option name (use_pty, logfile, timestamp_timeout, ...)" },
	{ "value", INV_STR, "value; \"true\"/\"false\" for flags (!flag is false)" },
	{ "scope", INV_STR, "empty for global, else the binding (@host, :user, >runas, !cmd)" },
	WHERE,
	END,
};

static const struct inv_column sshd_cols[] = {
	{ "key", INV_STR, "keyword, lower-case (permitrootlogin)" },
	{ "value", INV_STR, "effective value as sshd -T would print it (lower-case keywords)" },
	{ "source", INV_STR,
	  "file when set in a configuration file, default when OpenSSH's default" },
	{ "match", INV_STR, "empty for the global configuration, else the Match criteria" },
	WHERE,
	END,
};

static const struct inv_column authorized_keys_cols[] = {
	{ "user", INV_STR, "account whose file it is" },
	{ "type", INV_STR, "key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...)" },
	{ "bits", INV_INT, "key size in bits" },
	{ "options", INV_STR, "options before the key (from=, command=, ...)" },
	{ "comment", INV_STR, "comment after the key" },
	{ "fingerprint", INV_STR, "SHA256:base64 fingerprint as ssh-keygen prints it" },
	{ "file_mode", INV_INT, "mode bits of the file" },
	WHERE,
	END,
};

static const struct inv_column kv_cols[] = {
	{ "key", INV_STR, "setting name (case as written)" },
	{ "value", INV_STR, "setting value" },
	WHERE,
	END,
};

static const struct inv_column pam_cols[] = {
	{ "service", INV_STR, "PAM service (file name under pam.d)" },
	{ "type", INV_STR, "auth, account, password or session (leading - dropped)" },
	{ "control", INV_STR, "control (required, requisite, sufficient, [..], include, ...)" },
	{ "module", INV_STR, "module file name (pam_unix.so)" },
	{ "arguments", INV_STR, "space-separated module arguments" },
	WHERE,
	END,
};

static const struct inv_column packages_cols[] = {
	{ "name", INV_STR, "package name" },
	{ "version", INV_STR, "version" },
	{ "arch", INV_STR, "architecture" },
	{ "source", INV_STR, "dpkg or rpm" },
	END,
};

static const struct inv_column sockets_cols[] = {
	{ "protocol", INV_STR, "tcp, tcp6, udp or udp6" },
	{ "address", INV_STR, "local address" },
	{ "port", INV_INT, "local port" },
	{ "inode", INV_INT, "socket inode" },
	{ "pid", INV_INT, "owning process id, when known" },
	{ "process", INV_STR, "owning process name, when known" },
	END,
};

static const struct inv_column processes_cols[] = {
	{ "pid", INV_INT, "process id" },
	{ "ppid", INV_INT, "parent process id" },
	{ "uid", INV_INT, "real user id" },
	{ "name", INV_STR, "command name (comm)" },
	{ "exe", INV_STR, "executable path, when readable" },
	{ "cmdline", INV_STR, "arguments joined by spaces (capped)" },
	END,
};

static const struct inv_column modules_cols[] = {
	{ "name", INV_STR, "module name (dashes as underscores)" },
	{ "loaded", INV_BOOL, "listed in /proc/modules" },
	{ "blacklisted", INV_BOOL, "a blacklist line names it in modprobe.d" },
	{ "install_command", INV_STR, "command of an install line, when any" },
	{ "disabled", INV_BOOL, "install line runs /bin/false or /bin/true" },
	{ "available", INV_BOOL, "a module file exists for the running kernel (host root only)" },
	END,
};

static const struct inv_column sysctl_cols[] = {
	{ "key", INV_STR, "dotted key (net.ipv4.ip_forward)" },
	{ "runtime_value", INV_STR, "value under /proc/sys (white space folded)" },
	{ "configured_value", INV_STR, "last value set in sysctl.conf / sysctl.d, when any" },
	WHERE,
	END,
};

static const struct inv_column mounts_cols[] = {
	{ "device", INV_STR, "mounted device or source" },
	{ "mount_point", INV_STR, "mount point" },
	{ "fstype", INV_STR, "file system type" },
	{ "options", INV_STR, "comma-separated mount options" },
	{ "source", INV_STR, "runtime (/proc/mounts) or fstab" },
	WHERE,
	END,
};

static const struct inv_column special_files_cols[] = {
	{ "path", INV_STR, "file path" },
	{ "kind", INV_STR,
	  "suid, sgid, world_writable, world_writable_dir_no_sticky, unowned or ungrouped" },
	{ "mode", INV_INT, "mode bits (07777)" },
	{ "uid", INV_INT, "owner uid" },
	{ "gid", INV_INT, "group gid" },
	END,
};

static const struct inv_column walk_cols[] = {
	{ "files", INV_INT, "entries examined by the file system walk" },
	{ "truncated", INV_BOOL,
	  "the walk stopped at its entry limit, or did not enter directories past depth 256" },
	{ "skipped", INV_STR,
	  "comma-separated mount points skipped (pseudo or network file systems)" },
	{ "rows_truncated", INV_BOOL,
	  "more special files were found than the 10,000 rows special_files holds" },
	{ "elapsed_ms", INV_INT, "wall time of the walk in milliseconds" },
	{ "threads", INV_INT, "walker threads used" },
	END,
};

static const struct inv_column cron_cols[] = {
	{ "user", INV_STR, "user the entry runs as" },
	{ "schedule", INV_STR, "schedule (five fields or @keyword)" },
	{ "command", INV_STR, "command" },
	WHERE,
	END,
};

static const struct inv_column services_cols[] = {
	{ "name", INV_STR, "unit name (sshd.service)" },
	{ "enabled", INV_BOOL, "linked into a .wants or .requires directory of a target" },
	{ "masked", INV_BOOL, "unit is linked to /dev/null" },
	{ "target", INV_STR, "target that wants it, when enabled" },
	END,
};

static const struct inv_column firewall_cols[] = {
	{ "name", INV_STR, "nftables, iptables, ufw or firewalld" },
	{ "installed", INV_BOOL, "its binary is present (nft, iptables*, ufw, firewalld)" },
	{ "enabled", INV_BOOL, "its service is enabled" },
	{ "config_file", INV_STR, "configuration read, when any" },
	{ "input_policy", INV_STR,
	  "default policy of the input chain/hook, when known (accept, drop, reject)" },
	{ "forward_policy", INV_STR, "default policy of the forward chain/hook, when known" },
	{ "output_policy", INV_STR, "default policy of the output chain/hook, when known" },
	END,
};

static const struct inv_column time_sync_cols[] = {
	{ "name", INV_STR, "chrony, systemd-timesyncd or ntp" },
	{ "installed", INV_BOOL, "daemon binary or configuration file present" },
	{ "enabled", INV_BOOL, "service enabled" },
	{ "servers", INV_STR, "comma-separated configured servers/pools" },
	{ "run_as", INV_STR, "user the daemon is configured to run as, when known" },
	END,
};

static const struct inv_column audit_rules_cols[] = {
	{ "rule", INV_STR, "rule text, white space folded" },
	{ "key", INV_STR, "-k / key= value, when any" },
	WHERE,
	END,
};

static const struct inv_column file_perm_cols[] = {
	{ "path", INV_STR, "path of a security-relevant file or directory" },
	{ "exists", INV_BOOL, "the path exists" },
	{ "type", INV_STR, "file, directory, symlink or other" },
	{ "mode", INV_INT, "mode bits (07777)" },
	{ "uid", INV_INT, "owner uid" },
	{ "gid", INV_INT, "group gid" },
	END,
};

static const struct inv_column banner_cols[] = {
	{ "path", INV_STR, "/etc/issue, /etc/issue.net or /etc/motd" },
	{ "exists", INV_BOOL, "the file exists" },
	{ "reveals_os", INV_BOOL, "contains \\m, \\r, \\s, \\v or the OS name" },
	{ "empty", INV_BOOL, "the file has no text" },
	END,
};

static const struct inv_column errors_cols[] = {
	{ "table", INV_STR, "table whose collection met the error" },
	{ "path", INV_STR, "path that could not be read" },
	{ "error", INV_STR, "what went wrong" },
	END,
};

static const struct inv_table tables[] = {
	{ "os", "operating system release and running kernel (one row)", os_cols },
	{ "users", "accounts from /etc/passwd", users_cols },
	{ "shadow", "password state from /etc/shadow", shadow_cols },
	{ "groups", "groups from /etc/group (and /etc/gshadow)", groups_cols },
	{ "duplicates", "ids and names used by more than one account or group", duplicates_cols },
	{ "sudoers", "sudo rules, one row per (user, command), aliases expanded", sudoers_cols },
	{ "sudoers_defaults", "sudo Defaults settings", sudoers_defaults_cols },
	{ "sshd_config", "sshd effective configuration: every keyword, with OpenSSH defaults",
	  sshd_cols },
	{ "authorized_keys", "keys in users' authorized_keys files", authorized_keys_cols },
	{ "login_defs", "settings in /etc/login.defs", kv_cols },
	{ "pwquality", "settings in /etc/security/pwquality.conf(.d)", kv_cols },
	{ "pam", "PAM stack lines under /etc/pam.d", pam_cols },
	{ "packages", "installed packages (dpkg status, rpm database)", packages_cols },
	{ "listening_sockets", "listening TCP and bound UDP sockets with their processes",
	  sockets_cols },
	{ "processes", "running processes (host root only)", processes_cols },
	{ "kernel_modules", "kernel modules loaded, blacklisted or disabled", modules_cols },
	{ "sysctl", "kernel parameters, runtime and configured", sysctl_cols },
	{ "mounts", "mounted file systems and fstab entries", mounts_cols },
	{ "special_files", "SUID/SGID, world-writable, unowned files found by one bounded walk",
	  special_files_cols },
	{ "walk", "statistics of the file system walk (one row)", walk_cols },
	{ "cron", "cron entries (system crontab, cron.d, user crontabs)", cron_cols },
	{ "services", "systemd units enabled or masked (unit links)", services_cols },
	{ "firewall", "firewall front ends present and their default policies", firewall_cols },
	{ "time_sync", "time synchronisation daemons", time_sync_cols },
	{ "audit_rules", "audit rules from /etc/audit/rules.d and audit.rules", audit_rules_cols },
	{ "auditd_conf", "settings in /etc/audit/auditd.conf", kv_cols },
	{ "file_permissions", "owner and mode of security-relevant files", file_perm_cols },
	{ "banners", "login banners", banner_cols },
	{ "journald_conf", "settings in /etc/systemd/journald.conf(.d)", kv_cols },
	{ "rsyslog_conf", "directives in /etc/rsyslog.conf and rsyslog.d (key = first word)",
	  kv_cols },
	{ "errors", "what could not be read while collecting", errors_cols },
};

const struct inv_table *inv_schema_table(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		if (strcmp(tables[i].name, name) == 0)
			return &tables[i];
	return NULL;
}

const struct inv_column *inv_schema_column(const struct inv_table *t, const char *name)
{
	for (const struct inv_column *c = t->columns; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const struct inv_table *inv_schema_tables(size_t *n)
{
	*n = ARRAY_SIZE(tables);
	return tables;
}

const char *inv_type_name(enum inv_type t)
{
	return t == INV_INT ? "integer" : t == INV_BOOL ? "boolean" : "string";
}
