/* The authentication sensor (sensor.h, docs/sensor-auth.md): follows log files of sshd, sudo,
 * su and the account tools, decodes each line (authlog.h) and emits one event per line it
 * understands.
 *
 * Files are polled on a timer: each tick reads what was appended, then checks the path for
 * rotation (a new inode at the path: the old file is read to its end first) and truncation
 * (copytruncate: the file shrank below the offset: read again from 0). A file that does not
 * exist yet is opened when it appears. Offsets (device, inode, start of the next line) are
 * kept in <state_dir>/auth-offsets so that a restart resumes where the last run stopped.
 *
 * With auth_journal set, the systemd journal is read too, on the same timer
 * (sensor_auth_journal.c: its records become the syslog lines the decoder reads); while it
 * is read, the default log files are not followed (rsyslog writes the same records there). */
#include "lib/common.h"

#include <event2/event.h>

#include "detect/authlog.h"
#include "detect/sensor.h"
#include "detect/sensor_auth_journal.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 250
#define READ_CHUNK 65536
#define READ_PER_TICK (4u << 20) /* per file, so one busy file cannot hold the loop */
#define STATE_FILE "auth-offsets"
#define STATE_MAGIC "immune-auth-offsets 1"
#define STATE_CAP (1u << 20)
#define PERSIST_EVERY_NS INT64_C(1000000000)

struct auth_file {
	char *path; /* as read (cfg->root prepended) */
	enum authlog_format format;
	int fd; /* -1 while the file is missing */
	dev_t dev;
	ino_t ino;
	uint64_t pos;	  /* bytes of the open file consumed */
	uint64_t line_at; /* where the line in progress starts: the persisted offset */
	struct buf line;  /* the line in progress */
	bool skipping;	  /* inside an over-long line: dropping bytes up to the next newline */
	bool seen;	  /* the file was opened at least once by this run */
	/* from the state file, until the file is first opened */
	bool saved;
	dev_t saved_dev;
	ino_t saved_ino;
	uint64_t saved_off;
};

struct auth_sensor {
	struct sensor_ctx ctx;
	struct auth_file *files;
	size_t n_files;
	char *state_path;	      /* NULL: offsets are not kept */
	struct auth_journal *journal; /* NULL: the journal is not read (message says why) */
	struct event *timer;
	struct host_event ev;
	char *chunk; /* READ_CHUNK bytes */
	uint64_t events, skipped;
	bool dirty;
	int64_t persisted_ns, journal_saved_ns;
	char message[160]; /* a note for health(), such as why the journal is not read */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* ---- offsets ------------------------------------------------------------------------------ */

/* Each line: "<dev> <ino> <offset> <path>". */
static void state_load(struct auth_sensor *s)
{
	struct buf b;
	struct cursor c;
	const char *line;
	size_t len;

	buf_init(&b, STATE_CAP);
	if (file_read_capped(s->state_path, STATE_CAP, &b) < 0)
		goto out;
	cursor_init(&c, buf_str(&b), buf_len(&b));
	if (cursor_get_line(&c, &line, &len) != 1 || len != strlen(STATE_MAGIC) ||
	    memcmp(line, STATE_MAGIC, len) != 0)
		goto out;
	while (cursor_get_line(&c, &line, &len) == 1) {
		_cleanup_free_ char *copy = xstrndup(line, len);
		char *path = NULL;
		uint64_t dev, ino, off;
		/* the path is the rest after the third space */
		char *sp = copy;
		for (int i = 0; i < 3 && sp; i++) {
			sp = strchr(sp, ' ');
			if (sp)
				*sp++ = '\0';
		}
		if (!sp)
			continue;
		path = sp;
		char *p1 = copy, *p2 = p1 + strlen(p1) + 1, *p3 = p2 + strlen(p2) + 1;
		if (parse_u64(p1, 10, UINT64_MAX, &dev) < 0 ||
		    parse_u64(p2, 10, UINT64_MAX, &ino) < 0 ||
		    parse_u64(p3, 10, INT64_MAX, &off) < 0)
			continue;
		for (size_t i = 0; i < s->n_files; i++) {
			struct auth_file *f = &s->files[i];
			if (strcmp(f->path, path) != 0)
				continue;
			f->saved = true;
			f->saved_dev = (dev_t)dev;
			f->saved_ino = (ino_t)ino;
			f->saved_off = off;
		}
	}
out:
	buf_free(&b);
}

static void state_save(struct auth_sensor *s)
{
	struct buf b;

	if (!s->state_path || !s->dirty)
		return;
	buf_init(&b, STATE_CAP);
	int r = buf_puts(&b, STATE_MAGIC "\n");
	for (size_t i = 0; i < s->n_files && r == 0; i++) {
		const struct auth_file *f = &s->files[i];
		if (f->fd >= 0)
			r = buf_printf(&b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
				       (uint64_t)f->dev, (uint64_t)f->ino, f->line_at, f->path);
		else if (f->saved)
			r = buf_printf(&b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
				       (uint64_t)f->saved_dev, (uint64_t)f->saved_ino, f->saved_off,
				       f->path);
	}
	/* A failed write leaves the previous offsets: at worst lines are read again. */
	if (r == 0 && file_write_atomic(s->state_path, buf_str(&b), buf_len(&b), 0600) == 0)
		s->dirty = false;
	s->persisted_ns = mono_ns(); /* after a failure too: retried a second later */
	buf_free(&b);
}

/* ---- lines -------------------------------------------------------------------------------- */

static void handle_line(struct auth_sensor *s, struct auth_file *f, const char *p, size_t n)
{
	struct authlog_opts o = { .format = f->format, .now_ns = now_ns() };

	int r = authlog_decode(p, n, &o, &s->ev);
	if (r < 0) {
		s->skipped++;
		return;
	}
	if (r == 0)
		return;
	s->events++;
	s->ctx.emit(&s->ev, s->ctx.emit_arg);
}

/* A journal record as a syslog line; the event's time is the record's. */
static void handle_journal_line(void *arg, const char *p, size_t n, int64_t time_ns)
{
	struct auth_sensor *s = arg;
	struct authlog_opts o = { .format = AUTHLOG_SYSLOG, .now_ns = now_ns() };

	int r = authlog_decode(p, n, &o, &s->ev);
	if (r < 0) {
		s->skipped++;
		return;
	}
	if (r == 0)
		return;
	if (time_ns > 0)
		s->ev.time_ns = time_ns;
	s->events++;
	s->ctx.emit(&s->ev, s->ctx.emit_arg);
}

/* Feeds n bytes read from f into its line buffer, handling each complete line. */
static void feed(struct auth_sensor *s, struct auth_file *f, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (f->skipping) {
			/* the rest of an over-long line, already counted */
		} else if (buf_len(&f->line) + take > AUTHLOG_LINE_MAX) {
			s->skipped++;
			f->skipping = true;
			buf_reset(&f->line);
		} else {
			(void)buf_append(&f->line, p, take);
		}
		f->pos += take;
		p += take;
		n -= take;
		if (!nl)
			break;
		/* the newline */
		p++;
		n--;
		f->pos++;
		if (!f->skipping)
			handle_line(s, f, buf_str(&f->line), buf_len(&f->line));
		f->skipping = false;
		buf_reset(&f->line);
		f->line_at = f->pos;
		s->dirty = true;
	}
}

/* Reads what f has past its position, up to READ_PER_TICK. Returns true at end of file. */
static bool drain(struct auth_sensor *s, struct auth_file *f)
{
	size_t total = 0;

	while (total < READ_PER_TICK) {
		ssize_t r = pread(f->fd, s->chunk, READ_CHUNK, (off_t)f->pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return true;
		feed(s, f, s->chunk, (size_t)r);
		total += (size_t)r;
	}
	return false;
}

static void reset_position(struct auth_file *f, uint64_t at)
{
	f->pos = f->line_at = at;
	f->skipping = false;
	buf_reset(&f->line);
}

static void close_file(struct auth_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* The file was rotated while the sensor was stopped: when <path>.1 is the file the offset
 * was saved for, its lines past that offset are read before the new file. */
static void read_rotated_tail(struct auth_sensor *s, struct auth_file *f)
{
	_cleanup_free_ char *old = xasprintf("%s.1", f->path);
	struct stat st;
	int fd = open(old, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == f->saved_dev &&
	    st.st_ino == f->saved_ino && (uint64_t)st.st_size > f->saved_off) {
		int keep = f->fd;
		f->fd = fd;
		reset_position(f, f->saved_off);
		while (!drain(s, f))
			;
		if (buf_len(&f->line) && !f->skipping)
			handle_line(s, f, buf_str(&f->line), buf_len(&f->line));
		f->fd = keep;
	}
	close(fd);
}

/* Opens f->path if it exists; positions at the saved offset when it is the same file, at
 * the end for a file present at the first start, else at 0. */
static void open_file(struct auth_sensor *s, struct auth_file *f)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	bool same = f->saved && f->saved_dev == st.st_dev && f->saved_ino == st.st_ino;
	if (f->saved && !same)
		read_rotated_tail(s, f);
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (same && f->saved_off <= (uint64_t)st.st_size)
		reset_position(f, f->saved_off);
	else if (!f->seen && !f->saved)
		reset_position(f, (uint64_t)st.st_size);
	else
		reset_position(f, 0);
	f->saved = false;
	f->seen = true;
	s->dirty = true;
}

static void poll_file(struct auth_sensor *s, struct auth_file *f)
{
	struct stat st, cur;

	if (f->fd < 0) {
		open_file(s, f);
		if (f->fd < 0)
			return;
	}
	if (!drain(s, f))
		return; /* more next tick */
	if (fstat(f->fd, &cur) == 0 && (uint64_t)cur.st_size < f->pos) {
		/* copytruncate: the file was emptied (and maybe written again) under us */
		reset_position(f, 0);
		s->dirty = true;
		drain(s, f);
		return;
	}
	if (stat(f->path, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
		/* renamed or removed: the old file is read to its end; a new one replaces it */
		if (stat(f->path, &st) < 0 || !S_ISREG(st.st_mode))
			return;
		if (buf_len(&f->line) && !f->skipping)
			handle_line(s, f, buf_str(&f->line), buf_len(&f->line));
		close_file(f);
		open_file(s, f);
		if (f->fd >= 0)
			drain(s, f);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct auth_sensor *s = arg;
	(void)fd;
	(void)what;

	for (size_t i = 0; i < s->n_files; i++)
		poll_file(s, &s->files[i]);
	if (s->journal) {
		int r = auth_journal_read(s->journal, handle_journal_line, s);
		if (r < 0)
			snprintf(s->message, sizeof(s->message), "reading the journal: %s",
				 strerror(-r));
		/* the cursor, when it moved: at most once a second */
		if (mono_ns() - s->journal_saved_ns >= PERSIST_EVERY_NS) {
			auth_journal_save(s->journal);
			s->journal_saved_ns = mono_ns();
		}
	}
	if (s->dirty && mono_ns() - s->persisted_ns >= PERSIST_EVERY_NS)
		state_save(s);
}

/* ---- the sensor --------------------------------------------------------------------------- */

static void auth_free(struct auth_sensor *s)
{
	if (!s)
		return;
	if (s->timer)
		event_free(s->timer);
	auth_journal_close(s->journal);
	for (size_t i = 0; i < s->n_files; i++) {
		close_file(&s->files[i]);
		free(s->files[i].path);
		buf_free(&s->files[i].line);
	}
	free(s->files);
	free(s->state_path);
	free(s->chunk);
	host_event_free(&s->ev);
	free(s);
}

/* "sshd:/path" marks a file sshd writes itself (sshd -E): bare lines are sshd's. */
static int add_file(struct auth_sensor *s, const char *spec)
{
	enum authlog_format fmt = AUTHLOG_AUTO;
	const char *root = s->ctx.cfg->root;

	if (str_has_prefix(spec, "sshd:")) {
		fmt = AUTHLOG_SSHD;
		spec += 5;
	} else if (str_has_prefix(spec, "syslog:")) {
		fmt = AUTHLOG_SYSLOG;
		spec += 7;
	}
	if (spec[0] != '/' || strchr(spec, '\n'))
		return -EINVAL;
	struct auth_file *f = &s->files[s->n_files++];
	f->format = fmt;
	f->fd = -1;
	if (root && root[0] && strcmp(root, "/") != 0)
		f->path = xasprintf("%s%s", root, spec);
	else
		f->path = xstrdup(spec);
	buf_init(&f->line, AUTHLOG_LINE_MAX + 1);
	return 0;
}

static int auth_start(const struct sensor_ctx *ctx, void **state)
{
	const struct sensor_config *cfg = ctx->cfg;
	struct auth_sensor *s = xcalloc(1, sizeof(*s));
	/* NULL: where Debian and RHEL write authentication messages */
	static const char *const defaults[] = { "/var/log/auth.log", "/var/log/secure", NULL };
	char *const *logs = cfg->auth_logs ? cfg->auth_logs : (char *const *)defaults;
	size_t n;
	int r;

	s->ctx = *ctx;
	if (cfg->state_dir && cfg->state_dir[0])
		s->state_path = xasprintf("%s/%s", cfg->state_dir, STATE_FILE);
	if (cfg->auth_journal) {
		_cleanup_free_ char *cursor_path =
			s->state_path ? xasprintf("%s/%s", cfg->state_dir, AUTH_JOURNAL_CURSOR_FILE)
				      : NULL;
		s->journal = auth_journal_open(cfg->root, cfg->auth_journal_dir, cursor_path,
					       s->message, sizeof(s->message));
		if (s->journal && !cfg->auth_logs)
			logs = (char *const *)defaults + 2; /* the journal replaces the defaults */
	}
	n = strv_len(logs);
	host_event_init(&s->ev);
	s->chunk = xmalloc(READ_CHUNK);
	s->files = xcalloc(n ? n : 1, sizeof(*s->files));
	for (size_t i = 0; i < n; i++) {
		r = add_file(s, logs[i]);
		if (r < 0) {
			auth_free(s);
			return r;
		}
	}
	if (s->state_path)
		state_load(s);
	if (n || s->journal) {
		struct timeval tv = { 0, POLL_MS * 1000 };
		s->timer = event_new(ctx->base, -1, EV_PERSIST, on_tick, s);
		if (!s->timer || event_add(s->timer, &tv) < 0) {
			auth_free(s);
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->n_files; i++) {
			/* A file with a saved offset is opened at the first tick (nothing is
			 * emitted from start()); one without is positioned at its end now. */
			if (!s->files[i].saved)
				open_file(s, &s->files[i]);
			s->files[i].seen = true; /* one that appears later is read from 0 */
		}
	}
	*state = s;
	return 0;
}

static void auth_health(void *state, struct sensor_health *out)
{
	struct auth_sensor *s = state;
	size_t open = 0, missing = 0;
	const char *first_missing = NULL;

	for (size_t i = 0; i < s->n_files; i++) {
		if (s->files[i].fd >= 0) {
			open++;
		} else {
			missing++;
			if (!first_missing)
				first_missing = s->files[i].path;
		}
	}
	memset(out, 0, sizeof(*out));
	out->name = "auth";
	out->mechanism = s->journal ? "journal" : open ? "logfile" : "none";
	out->active = s->journal || open > 0;
	out->events = s->events;
	out->skipped = s->skipped;
	if (!s->n_files && s->journal)
		snprintf(out->message, sizeof(out->message), "%s", s->message);
	else if (!s->n_files)
		snprintf(out->message, sizeof(out->message), "no authentication log configured%s%s",
			 s->message[0] ? "; " : "", s->message);
	else if (missing)
		snprintf(out->message, sizeof(out->message), "waiting for %s%s%s%s", first_missing,
			 missing > 1 ? " and others" : "", s->message[0] ? "; " : "", s->message);
	else
		snprintf(out->message, sizeof(out->message), "%s", s->message);
}

static void auth_stop(void *state)
{
	struct auth_sensor *s = state;
	if (!s)
		return;
	state_save(s);
	auth_journal_save(s->journal);
	auth_free(s);
}

const struct sensor_ops sensor_auth = {
	.name = "auth",
	.start = auth_start,
	.health = auth_health,
	.stop = auth_stop,
};
