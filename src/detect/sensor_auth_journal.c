/* The journal source of the authentication sensor (sensor_auth_journal.h). */
#include "config.h"

#include "detect/sensor_auth_journal.h"

#include "detect/authlog.h"
#include "lib/buf.h"
#include "lib/fileio.h"

#include <sys/stat.h>
#include <time.h>

#if HAVE_LIBSYSTEMD

#include <systemd/sd-journal.h>

#define CURSOR_MAGIC "immune-auth-journal 1"
#define CURSOR_MAX 1024	      /* sd-journal's cursors are about 150 bytes */
#define RECORDS_PER_READ 4096 /* so that a burst cannot hold the event loop */

struct auth_journal {
	sd_journal *j;
	char *state_path; /* NULL: the cursor is not kept */
	char *cursor;	  /* of the last record handled; NULL before any */
	char *skip;	  /* the saved cursor: that record was handled by an earlier run */
	bool dirty;
	char line[AUTHLOG_LINE_MAX + 1];
};

/* The programs whose records are read (authlog.c decodes the same set). */
static const char *const idents[] = {
	"sshd",	    "sshd-session", "sudo",	"su",	 "useradd",  "userdel",
	"usermod",  "passwd",	    "chpasswd", "chage", "groupadd", "groupdel",
	"groupmod", "gpasswd",	    "newusers", NULL,
};

static bool dir_exists(const char *root, const char *path)
{
	struct stat st;
	_cleanup_free_ char *p = NULL;
	if (root && root[0] && strcmp(root, "/") != 0)
		p = xasprintf("%s%s", root, path);
	return stat(p ? p : path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A cursor as sd-journal writes it: printable ASCII without spaces. */
static bool cursor_ok(const char *s, size_t n)
{
	if (!n || n > CURSOR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	return true;
}

/* The saved cursor, or NULL (no file, or one that is not ours: read from the end). */
static char *cursor_load(const char *path)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;
	char *out = NULL;

	buf_init(&b, 4 * CURSOR_MAX);
	if (file_read_capped(path, 4 * CURSOR_MAX, &b) < 0)
		goto done;
	cursor_init(&c, buf_str(&b), buf_len(&b));
	if (cursor_get_line(&c, &line, &len) != 1 || len != strlen(CURSOR_MAGIC) ||
	    memcmp(line, CURSOR_MAGIC, len) != 0)
		goto done;
	if (cursor_get_line(&c, &line, &len) == 1 && cursor_ok(line, len))
		out = xstrndup(line, len);
done:
	buf_free(&b);
	return out;
}

void auth_journal_save(struct auth_journal *j)
{
	if (!j || !j->state_path || !j->dirty || !j->cursor)
		return;
	_cleanup_free_ char *text = xasprintf("%s\n%s\n", CURSOR_MAGIC, j->cursor);
	/* A failed write keeps the previous cursor: at worst records are read again. */
	if (file_write_atomic(j->state_path, text, strlen(text), 0600) == 0)
		j->dirty = false;
}

static void set_msg(char *msg, size_t n, const char *what, int err)
{
	snprintf(msg, n, "the journal is not read: %s: %s", what, strerror(err));
}

/* Positions j: after the saved cursor, else after the last record present now. */
static int position(struct auth_journal *j)
{
	int r;
	if (j->state_path)
		j->skip = cursor_load(j->state_path);
	if (j->skip) {
		r = sd_journal_seek_cursor(j->j, j->skip);
		if (r == 0) {
			j->cursor = xstrdup(j->skip);
			return 0;
		}
		free(j->skip);
		j->skip = NULL;
	}
	/* First start: what is in the journal already is history, not news. */
	r = sd_journal_seek_tail(j->j);
	if (r < 0)
		return r;
	r = sd_journal_previous(j->j);
	if (r < 0)
		return r;
	if (r == 0)
		return sd_journal_seek_head(j->j); /* nothing yet: every record is new */
	char *c = NULL;
	if (sd_journal_get_cursor(j->j, &c) >= 0) {
		j->cursor = c;
		j->dirty = true;
	}
	return 0;
}

struct auth_journal *auth_journal_open(const char *root, const char *dir, const char *state_path,
				       char *msg, size_t msg_len)
{
	struct auth_journal *j;
	sd_journal *sj = NULL;
	bool other_root = root && root[0] && strcmp(root, "/") != 0;
	int r;

	if (dir) {
		if (!dir_exists(NULL, dir)) {
			snprintf(msg, msg_len, "the journal is not read: no directory %s", dir);
			return NULL;
		}
		r = sd_journal_open_directory(&sj, dir, 0);
	} else if (!other_root && !dir_exists(NULL, "/run/systemd/journal")) {
		/* a journal directory without journald gets no new records */
		snprintf(msg, msg_len,
			 "the journal is not read: journald is not running (no "
			 "/run/systemd/journal)");
		return NULL;
	} else if (other_root && !dir_exists(root, "/var/log/journal")) {
		snprintf(msg, msg_len, "the journal is not read: no %s/var/log/journal", root);
		return NULL;
	} else if (other_root) {
		r = sd_journal_open_directory(&sj, root, SD_JOURNAL_OS_ROOT);
	} else {
		r = sd_journal_open(&sj, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	}
	if (r < 0) {
		set_msg(msg, msg_len, "sd_journal_open", -r);
		return NULL;
	}
	for (size_t i = 0; idents[i] && r >= 0; i++) {
		char m[64];
		snprintf(m, sizeof(m), "SYSLOG_IDENTIFIER=%s", idents[i]);
		r = sd_journal_add_match(sj, m, 0);
	}
	/* MESSAGE= and the line's prefix fit in a line; longer messages are cut as in files */
	if (r >= 0)
		r = sd_journal_set_data_threshold(sj, AUTHLOG_LINE_MAX + 16);
	/* the inotify descriptor: files that appear later (rotation, a new boot) are seen */
	if (r >= 0)
		r = sd_journal_get_fd(sj);
	if (r < 0) {
		set_msg(msg, msg_len, "sd_journal", -r);
		sd_journal_close(sj);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->j = sj;
	j->state_path = state_path ? xstrdup(state_path) : NULL;
	r = position(j);
	if (r < 0) {
		set_msg(msg, msg_len, "positioning", -r);
		auth_journal_close(j);
		return NULL;
	}
	return j;
}

/* The value of FIELD in the current record, or false when it is absent. */
static bool field(sd_journal *sj, const char *name, const char **val, size_t *len)
{
	const void *d;
	size_t n, k = strlen(name);
	if (sd_journal_get_data(sj, name, &d, &n) < 0 || n <= k)
		return false;
	*val = (const char *)d + k + 1; /* past "NAME=" */
	*len = n - k - 1;
	return true;
}

/* Whether the program journald saw send the record (_COMM, a trusted field it adds itself,
 * cut to 15 bytes like the kernel's comm) can be the one its SYSLOG_IDENTIFIER names:
 * `logger -t sshd` writes records that say sshd, from a program called logger. Records
 * without _COMM (imported journals) are taken as they are. */
static bool sender_matches(sd_journal *sj, const char *ident, size_t ident_len)
{
	const char *comm;
	size_t comm_len;
	if (!field(sj, "_COMM", &comm, &comm_len))
		return true;
	bool sshd_family = (ident_len == 4 && !memcmp(ident, "sshd", 4)) ||
			   (ident_len == 12 && !memcmp(ident, "sshd-session", 12));
	if (sshd_family) /* the listener and its per-connection process log as either */
		return (comm_len == 4 && !memcmp(comm, "sshd", 4)) ||
		       (comm_len == 12 && !memcmp(comm, "sshd-session", 12));
	size_t n = ident_len < 15 ? ident_len : 15;
	return comm_len == n && !memcmp(comm, ident, n);
}

/* Writes the current record into j->line as a syslog line; returns its length, or 0 when it
 * has no identifier or message, or was not sent by the program it names. */
static size_t record_line(struct auth_journal *j, int64_t *time_ns)
{
	const char *ident, *pid = NULL, *text;
	size_t ident_len, pid_len = 0, text_len;
	uint64_t usec = 0;
	struct tm tm;
	char stamp[64];

	if (!field(j->j, "SYSLOG_IDENTIFIER", &ident, &ident_len) ||
	    !field(j->j, "MESSAGE", &text, &text_len) || ident_len > 64 ||
	    !sender_matches(j->j, ident, ident_len))
		return 0;
	if (!field(j->j, "SYSLOG_PID", &pid, &pid_len) && !field(j->j, "_PID", &pid, &pid_len))
		pid_len = 0;
	if (pid_len > 20)
		pid_len = 0;
	if (sd_journal_get_realtime_usec(j->j, &usec) < 0 || usec > (uint64_t)INT64_MAX / 1000)
		usec = 0;
	*time_ns = (int64_t)usec * 1000;
	time_t secs = (time_t)(usec / 1000000);
	if (!gmtime_r(&secs, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	int n = snprintf(j->line, sizeof(j->line), "%s.%06u+00:00 %.*s%s%.*s%s: ", stamp,
			 (unsigned)(usec % 1000000), (int)ident_len, ident, pid_len ? "[" : "",
			 (int)pid_len, pid_len ? pid : "", pid_len ? "]" : "");
	if (n < 0 || (size_t)n >= sizeof(j->line))
		return 0;
	size_t room = sizeof(j->line) - 1 - (size_t)n;
	size_t take = text_len < room ? text_len : room;
	memcpy(j->line + n, text, take);
	j->line[n + take] = '\0';
	return (size_t)n + take;
}

int auth_journal_read(struct auth_journal *j, auth_journal_line_fn fn, void *arg)
{
	int count = 0, r;

	(void)sd_journal_process(j->j); /* takes in new and removed files */
	while (count < RECORDS_PER_READ) {
		r = sd_journal_next(j->j);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (j->skip) {
			/* the first record after a restart: the saved one, when it still exists */
			bool seen = sd_journal_test_cursor(j->j, j->skip) > 0;
			free(j->skip);
			j->skip = NULL;
			if (seen)
				continue;
		}
		count++;
		int64_t t = 0;
		size_t n = record_line(j, &t);
		fn(arg, j->line, n, t);
	}
	if (count) {
		char *c = NULL;
		if (sd_journal_get_cursor(j->j, &c) >= 0) {
			free(j->cursor);
			j->cursor = c;
			j->dirty = true;
		}
	}
	return count;
}

void auth_journal_close(struct auth_journal *j)
{
	if (!j)
		return;
	sd_journal_close(j->j);
	free(j->state_path);
	free(j->cursor);
	free(j->skip);
	free(j);
}

#else /* !HAVE_LIBSYSTEMD */

struct auth_journal {
	int unused;
};

struct auth_journal *auth_journal_open(const char *root, const char *dir, const char *state_path,
				       char *msg, size_t msg_len)
{
	(void)root;
	(void)dir;
	(void)state_path;
	snprintf(msg, msg_len, "the journal is not read: this build has no libsystemd");
	return NULL;
}

int auth_journal_read(struct auth_journal *j, auth_journal_line_fn fn, void *arg)
{
	(void)j;
	(void)fn;
	(void)arg;
	return 0;
}

void auth_journal_save(struct auth_journal *j)
{
	(void)j;
}

void auth_journal_close(struct auth_journal *j)
{
	free(j);
}

#endif
