/* The collectors: each fills one or more inventory tables from files below the root.
 * Every collector returns 0; what it cannot read it records with inv_error(). */
#pragma once

#include "inventory/inventory.h"

struct inv_collector {
	const char *name;
	const char *const *tables; /* tables it fills, NULL-terminated */
	const char *const
		*needs; /* tables of earlier collectors it reads, NULL-terminated or NULL */
	void (*collect)(struct inv_ctx *ctx);
};

/* Returns the collectors in the order they run, and their number in *n. */
const struct inv_collector *inv_collectors(size_t *n);

void collect_os(struct inv_ctx *ctx);
/* accounts.c: users, shadow, groups, duplicates (after login_defs: reads UID_MIN). */
void collect_accounts(struct inv_ctx *ctx);
/* passwords.c: login_defs and pwquality. */
void collect_login_defs(struct inv_ctx *ctx);
void collect_pwquality(struct inv_ctx *ctx);
/* pam.c: pam. */
void collect_pam(struct inv_ctx *ctx);
/* sudoers.c: sudoers and sudoers_defaults. */
void collect_sudoers(struct inv_ctx *ctx);
/* authorized_keys.c: authorized_keys (after accounts: reads the users table). */
void collect_authorized_keys(struct inv_ctx *ctx);
void collect_mounts(struct inv_ctx *ctx);
void collect_cron(struct inv_ctx *ctx);
void collect_banners(struct inv_ctx *ctx);
void collect_file_permissions(struct inv_ctx *ctx);

/* Parsers behind the collectors, for the fuzzers and tests (ctx->root is not used). */
/* Adds a mounts row per entry of fstab-format text (fstab, /proc/self/mounts) from file;
 * source is "fstab" or "runtime". Malformed lines are recorded with inv_error(). */
void inv_parse_fstab(struct inv_ctx *ctx, const char *file, const char *source, const char *text,
		     size_t len);
/* Adds a cron row per entry of crontab text from file: user NULL for a system crontab (user
 * field present), else the owner of a user crontab. Malformed lines are inv_error()s. */
void inv_parse_crontab(struct inv_ctx *ctx, const char *file, const char *user, const char *text,
		       size_t len);
/* Returns true when banner text holds \m, \r, \s, \v or one of words as a whole word
 * (ignoring case). */
bool inv_banner_reveals_os(const char *text, size_t len, char *const *words, size_t nwords);
void collect_packages(struct inv_ctx *ctx);
void collect_sshd_config(struct inv_ctx *ctx);
void collect_kernel_modules(struct inv_ctx *ctx);
void collect_sysctl(struct inv_ctx *ctx);
/* services.c, firewall.c, timesync.c, audit.c, logging.c, procs.c: services, firewall,
 * time_sync, audit_rules and auditd_conf, journald_conf and rsyslog_conf, listening_sockets,
 * processes (each reads unit links itself: no ordering needed). */
void collect_services(struct inv_ctx *ctx);
void collect_firewall(struct inv_ctx *ctx);
void collect_time_sync(struct inv_ctx *ctx);
void collect_audit(struct inv_ctx *ctx);
void collect_logging(struct inv_ctx *ctx);
void collect_sockets(struct inv_ctx *ctx);
void collect_processes(struct inv_ctx *ctx);
