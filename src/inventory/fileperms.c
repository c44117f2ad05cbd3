/* The file_permissions table: owner, group and mode of a fixed list of security-relevant paths
 * (the files and directories the CIS benchmarks check). Fixed paths get a row even when
 * missing (exists false); patterns add a row per existing match. Paths are not followed when
 * they are symlinks (type symlink), so a link cannot lend its target's permissions. */
#include "inventory/collectors.h"
#include "lib/str.h"

static const char *const fixed_paths[] = {
	/* accounts */
	"/etc/passwd",
	"/etc/passwd-",
	"/etc/shadow",
	"/etc/shadow-",
	"/etc/group",
	"/etc/group-",
	"/etc/gshadow",
	"/etc/gshadow-",
	"/etc/shells",
	"/etc/security/opasswd",
	"/etc/security/opasswd.old",
	"/etc/login.defs",
	/* ssh */
	"/etc/ssh/sshd_config",
	"/etc/ssh/sshd_config.d",
	/* cron and at */
	"/etc/crontab",
	"/etc/cron.hourly",
	"/etc/cron.daily",
	"/etc/cron.weekly",
	"/etc/cron.monthly",
	"/etc/cron.yearly",
	"/etc/cron.d",
	"/etc/cron.allow",
	"/etc/cron.deny",
	"/etc/at.allow",
	"/etc/at.deny",
	/* boot loader */
	"/boot/grub/grub.cfg",
	"/boot/grub/user.cfg",
	"/boot/grub2/grub.cfg",
	"/boot/grub2/user.cfg",
	"/boot/grub2/grubenv",
	"/etc/default/grub",
	/* sudo */
	"/etc/sudoers",
	"/etc/sudoers.d",
	/* banners */
	"/etc/issue",
	"/etc/issue.net",
	"/etc/motd",
	/* logging and audit */
	"/var/log",
	"/var/log/audit",
	"/etc/rsyslog.conf",
	"/etc/rsyslog.d",
	"/etc/systemd/journald.conf",
	"/etc/audit",
	"/etc/audit/auditd.conf",
	"/etc/audit/audit.rules",
	"/etc/audit/rules.d",
	"/sbin/auditctl",
	"/sbin/aureport",
	"/sbin/ausearch",
	"/sbin/autrace",
	"/sbin/auditd",
	"/sbin/augenrules",
	/* network access */
	"/etc/hosts.allow",
	"/etc/hosts.deny",
	"/etc/hosts",
	/* pam and limits */
	"/etc/security/pwquality.conf",
	"/etc/security/faillock.conf",
	"/etc/security/limits.conf",
};

static const char *const patterns[] = {
	"/etc/ssh/ssh_host_*_key",
	"/etc/ssh/ssh_host_*_key.pub",
	"/etc/ssh/sshd_config.d/*.conf",
	"/etc/cron.d/*",
	"/etc/sudoers.d/*",
	"/etc/rsyslog.d/*.conf",
	"/etc/audit/rules.d/*.rules",
	"/var/log/*",
	"/var/log/audit/*",
};

static const char *type_of(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "directory" : S_ISLNK(m) ? "symlink" : "other";
}

/* Adds the row of one path; missing is a row with exists false unless only_existing. */
static void add_path(struct inv_ctx *ctx, const char *path, bool only_existing)
{
	struct stat st;
	int r = fsroot_stat(ctx->root, path, false, &st);
	if (r == -ENOENT || r == -ENOTDIR) {
		if (!only_existing) {
			json_t *row = inv_row(ctx, "file_permissions");
			inv_set_str(row, "path", path);
			inv_set_bool(row, "exists", false);
		}
		return;
	}
	if (r < 0) {
		inv_error(ctx, "file_permissions", path, r, "stat %s", path);
		return;
	}
	json_t *row = inv_row(ctx, "file_permissions");
	inv_set_str(row, "path", path);
	inv_set_bool(row, "exists", true);
	inv_set_str(row, "type", type_of(st.st_mode));
	inv_set_int(row, "mode", st.st_mode & 07777);
	inv_set_int(row, "uid", st.st_uid);
	inv_set_int(row, "gid", st.st_gid);
}

void collect_file_permissions(struct inv_ctx *ctx)
{
	_cleanup_strv_ strv seen = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ARRAY_SIZE(fixed_paths); i++) {
		add_path(ctx, fixed_paths[i], false);
		strv_push(&seen, fixed_paths[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		_cleanup_strv_ strv paths = NULL;
		int r = fsroot_glob(ctx->root, patterns[i], &paths);
		if (r < 0) {
			inv_error(ctx, "file_permissions", patterns[i], r, "listing %s",
				  patterns[i]);
			continue;
		}
		for (size_t j = 0; paths[j]; j++) {
			if (strv_contains(seen, paths[j]))
				continue;
			add_path(ctx, paths[j], true);
			strv_push(&seen, paths[j]);
		}
	}
}
