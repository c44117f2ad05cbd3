/* The authentication log decoder (authlog.h, docs/sensor-auth.md). */
#include "detect/authlog.h"

#include "lib/str.h"

#include <time.h>

#define NSEC_PER_SEC INT64_C(1000000000)
#define PROG_MAX 48

/* ---- patterns ----------------------------------------------------------------------------- */

struct cap {
	const char *p;
	size_t n;
};

#define CAPS_MAX 8

/* Matches the whole NUL-terminated s against pat. Literal bytes match themselves; captures:
 * "%s" a non-empty run of bytes other than space and the first byte of the literal after it;
 * "%q" a possibly empty run of bytes other than '\''; "%u" any run (possibly empty), the
 * longest that lets the rest match (at most one %u per pattern: the cost stays linear in
 * each position); "%*" the rest of s. Captures go to caps[ci...]. */
static bool match_at(const char *s, const char *pat, struct cap *caps, unsigned ci)
{
	while (*pat) {
		if (pat[0] != '%' || !pat[1]) {
			if (*s != *pat)
				return false;
			s++;
			pat++;
			continue;
		}
		char t = pat[1];
		size_t n = 0;
		pat += 2;
		if (ci >= CAPS_MAX)
			return false;
		switch (t) {
		case '*': n = strlen(s); break;
		case 's': {
			char stop = (*pat && *pat != '%') ? *pat : ' ';
			while (s[n] && s[n] != ' ' && s[n] != stop)
				n++;
			if (!n)
				return false;
			break;
		}
		case 'q':
			while (s[n] && s[n] != '\'')
				n++;
			break;
		case 'u': {
			size_t len = strlen(s);
			for (size_t k = len + 1; k-- > 0;) {
				if (*pat && *pat != '%' && s[k] != *pat)
					continue;
				if (match_at(s + k, pat, caps, ci + 1)) {
					caps[ci] = (struct cap){ s, k };
					return true;
				}
			}
			return false;
		}
		default: return false;
		}
		caps[ci++] = (struct cap){ s, n };
		s += n;
	}
	return *s == '\0';
}

static bool match(const char *s, const char *pat, struct cap *caps)
{
	return match_at(s, pat, caps, 0);
}

static void set_cap(struct host_event *ev, enum event_field f, struct cap c)
{
	(void)host_event_set(ev, f, c.p, c.n);
}

static void set_str(struct host_event *ev, enum event_field f, const char *s)
{
	(void)host_event_set_str(ev, f, s);
}

static bool cap_eq(struct cap c, const char *s)
{
	return strlen(s) == c.n && memcmp(c.p, s, c.n) == 0;
}

/* ---- time --------------------------------------------------------------------------------- */

static int digits(const char *s, size_t len, size_t at, size_t n, int *out)
{
	int v = 0;
	if (at + n > len)
		return -EINVAL;
	for (size_t i = at; i < at + n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool tm_valid(const struct tm *tm)
{
	return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 && tm->tm_mday <= 31 &&
	       tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

static int parse_hms(const char *s, size_t len, size_t at, struct tm *tm)
{
	if (digits(s, len, at, 2, &tm->tm_hour) < 0 || at + 8 > len || s[at + 2] != ':' ||
	    digits(s, len, at + 3, 2, &tm->tm_min) < 0 || s[at + 5] != ':' ||
	    digits(s, len, at + 6, 2, &tm->tm_sec) < 0)
		return -EINVAL;
	return 0;
}

static int parse_rfc3164_time(const char *s, size_t len, int64_t now_ns, int64_t *time_ns)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = { 0 };
	int day = 0;

	if (len < 15 || s[3] != ' ' || s[6] != ' ')
		return -EINVAL;
	tm.tm_mon = -1;
	for (int m = 0; m < 12; m++)
		if (memcmp(s, months + 3 * m, 3) == 0)
			tm.tm_mon = m;
	if (s[4] == ' ') {
		if (digits(s, len, 5, 1, &day) < 0)
			return -EINVAL;
	} else if (digits(s, len, 4, 2, &day) < 0) {
		return -EINVAL;
	}
	tm.tm_mday = day;
	if (parse_hms(s, len, 7, &tm) < 0 || !tm_valid(&tm))
		return -EINVAL;

	time_t now = (time_t)(now_ns / NSEC_PER_SEC);
	struct tm now_tm;
	if (!localtime_r(&now, &now_tm))
		return -EINVAL;
	/* The latest year that does not put the line more than a month in the future. The
	 * line's local time is converted with the offset from UTC in force now (mktime() would
	 * read the time zone again for every line). */
	for (int back = 0; back < 2; back++) {
		struct tm t = tm;
		t.tm_year = now_tm.tm_year - back;
		time_t v = timegm(&t);
		if (v == (time_t)-1)
			return -EINVAL;
		v -= now_tm.tm_gmtoff;
		if (back == 1 || v <= now + 31 * 86400) {
			*time_ns = (int64_t)v * NSEC_PER_SEC;
			return 15;
		}
	}
	return -EINVAL;
}

static int parse_iso_time(const char *s, size_t len, int64_t *time_ns)
{
	struct tm tm = { 0 };
	int year, mon;
	size_t at = 19;
	int64_t frac = 0, scale = NSEC_PER_SEC, off = 0;

	if (digits(s, len, 0, 4, &year) < 0 || len < 19 || s[4] != '-' ||
	    digits(s, len, 5, 2, &mon) < 0 || s[7] != '-' ||
	    digits(s, len, 8, 2, &tm.tm_mday) < 0 || (s[10] != 'T' && s[10] != ' ') ||
	    parse_hms(s, len, 11, &tm) < 0)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	if (year < 1970 || year > 2261 || !tm_valid(&tm)) /* int64 ns end in 2262 */
		return -EINVAL;
	if (at < len && s[at] == '.') {
		size_t start = ++at;
		while (at < len && s[at] >= '0' && s[at] <= '9') {
			if (at - start < 9) {
				frac = frac * 10 + (s[at] - '0');
				scale /= 10;
			}
			at++;
		}
		if (at == start)
			return -EINVAL;
		frac *= scale;
	}
	if (at < len && s[at] == 'Z') {
		at++;
	} else if (at < len && (s[at] == '+' || s[at] == '-')) {
		int hh, mm;
		if (digits(s, len, at + 1, 2, &hh) < 0 || at + 3 >= len || s[at + 3] != ':' ||
		    digits(s, len, at + 4, 2, &mm) < 0 || hh > 23 || mm > 59)
			return -EINVAL;
		off = (hh * 3600 + mm * 60) * (s[at] == '-' ? -1 : 1);
		at += 6;
	} else {
		return -EINVAL;
	}
	if (at < len && s[at] != ' ')
		return -EINVAL;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*time_ns = ((int64_t)t - off) * NSEC_PER_SEC + frac;
	return (int)at;
}

int authlog_parse_time(const char *s, size_t len, int64_t now_ns, int64_t *time_ns)
{
	if (len >= 4 && s[0] >= '0' && s[0] <= '9')
		return parse_iso_time(s, len, time_ns);
	return parse_rfc3164_time(s, len, now_ns, time_ns);
}

/* ---- syslog header ------------------------------------------------------------------------ */

struct header {
	int64_t time_ns;
	char prog[PROG_MAX + 1];
	const char *msg;
};

/* Reads a word of s (up to a space or the end) at *at and skips the spaces after it. */
static struct cap next_word(const char *s, size_t *at)
{
	struct cap c = { s + *at, 0 };
	while (s[*at] && s[*at] != ' ')
		(*at)++;
	c.n = (size_t)(s + *at - c.p);
	while (s[*at] == ' ')
		(*at)++;
	return c;
}

/* Reads "prog[pid]:" or "prog:" (prog may be a path: its base name is kept). */
static bool parse_tag(struct cap w, char *prog)
{
	size_t i = 0, start = 0;
	while (i < w.n && w.p[i] != '[' && w.p[i] != ':') {
		unsigned char c = (unsigned char)w.p[i];
		if (!(c == '-' || c == '_' || c == '.' || c == '/' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
		if (c == '/')
			start = i + 1;
		i++;
	}
	if (i == start || i - start > PROG_MAX)
		return false;
	size_t end = i;
	if (i < w.n && w.p[i] == '[') {
		size_t d = ++i;
		while (i < w.n && w.p[i] >= '0' && w.p[i] <= '9')
			i++;
		if (i == d || i >= w.n || w.p[i] != ']')
			return false;
		i++;
	}
	if (i + 1 != w.n || w.p[i] != ':')
		return false;
	memcpy(prog, w.p + start, end - start);
	prog[end - start] = '\0';
	return true;
}

/* RFC 5424 after "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]. */
static int parse_rfc5424(const char *s, size_t at, int64_t now_ns, struct header *h)
{
	size_t len = strlen(s);
	if (s[at] == '-' && s[at + 1] == ' ') {
		h->time_ns = now_ns;
		at += 2;
	} else {
		int n = parse_iso_time(s + at, len - at, &h->time_ns);
		if (n < 0 || s[at + (size_t)n] != ' ')
			return -EBADMSG;
		at += (size_t)n + 1;
	}
	struct cap w[4];
	for (int i = 0; i < 4; i++) {
		if (s[at] == ' ' || !s[at])
			return -EBADMSG;
		w[i] = (struct cap){ s + at, 0 };
		while (s[at] && s[at] != ' ')
			at++;
		w[i].n = (size_t)(s + at - w[i].p);
		if (s[at] != ' ')
			return -EBADMSG;
		at++;
	}
	if (w[1].n > PROG_MAX || cap_eq(w[1], "-"))
		return -EBADMSG;
	memcpy(h->prog, w[1].p, w[1].n);
	h->prog[w[1].n] = '\0';
	/* STRUCTURED-DATA: "-" or [elements] with \] escapes inside values. */
	if (s[at] == '-') {
		at++;
	} else {
		if (s[at] != '[')
			return -EBADMSG;
		while (s[at] == '[') {
			bool quoted = false;
			at++;
			while (s[at] && (quoted || s[at] != ']')) {
				if (quoted && s[at] == '\\' && s[at + 1])
					at++;
				else if (s[at] == '"')
					quoted = !quoted;
				at++;
			}
			if (s[at] != ']')
				return -EBADMSG;
			at++;
		}
	}
	if (s[at] == ' ')
		at++;
	else if (s[at])
		return -EBADMSG;
	if (strncmp(s + at, "\xef\xbb\xbf", 3) == 0)
		at += 3;
	h->msg = s + at;
	return 0;
}

static int parse_header(const char *s, int64_t now_ns, struct header *h)
{
	size_t at = 0, len = strlen(s);

	if (s[0] == '<') {
		int pri = 0;
		at = 1;
		while (s[at] >= '0' && s[at] <= '9' && at < 4)
			pri = pri * 10 + (s[at++] - '0');
		if (at == 1 || s[at] != '>' || pri > 191)
			return -EBADMSG;
		at++;
		if (s[at] == '1' && s[at + 1] == ' ')
			return parse_rfc5424(s, at + 2, now_ns, h);
	}
	int n = authlog_parse_time(s + at, len - at, now_ns, &h->time_ns);
	if (n < 0 || s[at + (size_t)n] != ' ')
		return -EBADMSG;
	at += (size_t)n;
	while (s[at] == ' ')
		at++;
	/* HOSTNAME, then the tag; lines received on /dev/log have no host. */
	struct cap w = next_word(s, &at);
	if (!parse_tag(w, h->prog)) {
		if (!w.n)
			return -EBADMSG;
		w = next_word(s, &at);
		if (!parse_tag(w, h->prog))
			return -EBADMSG;
	}
	h->msg = s + at;
	return 0;
}

/* ---- shared PAM lines --------------------------------------------------------------------- */

/* "user(uid=N)" or "user": sets the name and, unless uid is EF_COUNT, the uid. */
static void set_user_uid(struct host_event *ev, enum event_field name, enum event_field uid,
			 struct cap c)
{
	size_t i = 0;
	while (i < c.n && c.p[i] != '(')
		i++;
	if (c.n - i > 6 && memcmp(c.p + i, "(uid=", 5) == 0 && c.p[c.n - 1] == ')') {
		if (uid != EF_COUNT)
			(void)host_event_set(ev, uid, c.p + i + 5, c.n - i - 6);
		c.n = i;
	}
	if (c.n)
		set_cap(ev, name, c);
}

/* "key=value key=value ..." of pam_unix's authentication failure line. */
static void pam_kv(struct host_event *ev, const char *list)
{
	static const struct {
		const char *key;
		enum event_field f;
	} keys[] = {
		{ "user=", EF_TARGET_USER },
		{ "ruser=", EF_ACTOR_USER },
		{ "rhost=", EF_SRC_IP },
		{ "tty=", EF_TTY },
	};
	size_t at = 0;
	while (list[at]) {
		while (list[at] == ' ')
			at++;
		struct cap w = next_word(list, &at);
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			size_t kl = strlen(keys[k].key);
			if (w.n > kl && memcmp(w.p, keys[k].key, kl) == 0)
				set_cap(ev, keys[k].f, (struct cap){ w.p + kl, w.n - kl });
		}
	}
}

enum pam_kind { PAM_NONE, PAM_OPEN, PAM_CLOSE, PAM_AUTHFAIL, PAM_CHAUTHTOK };

/* Reads pam_unix(service:type) lines into fields of ev; returns what the line was. */
static enum pam_kind pam_line(struct host_event *ev, const char *m)
{
	struct cap c[CAPS_MAX];
	if (match(m, "pam_unix(%s): session opened for user %u by %*", c)) {
		set_user_uid(ev, EF_TARGET_USER, EF_TARGET_UID, c[1]);
		set_user_uid(ev, EF_ACTOR_USER, EF_COUNT, c[2]);
		return PAM_OPEN;
	}
	if (match(m, "pam_unix(%s): session closed for user %u", c)) {
		set_cap(ev, EF_TARGET_USER, c[1]);
		return PAM_CLOSE;
	}
	if (match(m, "pam_unix(%s): authentication failure;%*", c)) {
		pam_kv(ev, c[1].p); /* the rest of m: NUL-terminated */
		set_str(ev, EF_OUTCOME, "failure");
		return PAM_AUTHFAIL;
	}
	if (match(m, "pam_unix(%s): password changed for %u", c)) {
		set_cap(ev, EF_TARGET_USER, c[1]);
		return PAM_CHAUTHTOK;
	}
	return PAM_NONE;
}

/* ---- sshd --------------------------------------------------------------------------------- */

/* " ssh2: TYPE SHA256:fp" or the certificate form after the port. */
static void sshd_key(struct host_event *ev, const char *rest)
{
	struct cap c[CAPS_MAX];
	if (match(rest, " ssh2: %s %s ID %u (serial %s) CA %s %s", c)) {
		set_cap(ev, EF_KEY_FINGERPRINT, c[1]);
		set_cap(ev, EF_CERT_ID, c[2]);
	} else if (match(rest, " ssh2: %s %s", c)) {
		set_cap(ev, EF_KEY_FINGERPRINT, c[1]);
	}
}

static void user_ip_port(struct host_event *ev, const struct cap *c)
{
	set_cap(ev, EF_TARGET_USER, c[0]);
	set_cap(ev, EF_SRC_IP, c[1]);
	set_cap(ev, EF_SRC_PORT, c[2]);
}

static bool sshd_auth(struct host_event *ev, const char *m)
{
	struct cap c[CAPS_MAX];
	bool ok = false;
	if (match(m, "Accepted %s for %u from %s port %s%*", c)) {
		ok = true;
	} else if (!match(m, "Failed %s for invalid user %u from %s port %s%*", c) &&
		   !match(m, "Failed %s for %u from %s port %s%*", c)) {
		return false;
	}
	ev->kind = EVENT_AUTH_LOGON;
	set_str(ev, EF_OUTCOME, ok ? "success" : "failure");
	set_cap(ev, EF_AUTH_METHOD, c[0]);
	user_ip_port(ev, c + 1);
	sshd_key(ev, c[4].p); /* the rest of m: NUL-terminated */
	return true;
}

/* Lines about a user at an address that are not themselves a logon decision. */
static bool sshd_other(struct host_event *ev, const char *m)
{
	static const char *const user_ip_port_pats[] = {
		"Connection closed by authenticating user %u %s port %s",
		"Connection closed by invalid user %u %s port %s",
		"Disconnected from authenticating user %u %s port %s",
		"Disconnected from invalid user %u %s port %s",
		"Disconnecting authenticating user %u %s port %s:%*",
		"Disconnecting invalid user %u %s port %s:%*",
	};
	static const char *const ip_port_pats[] = {
		"Connection closed by %s port %s",
		"Disconnected from %s port %s",
		"Received disconnect from %s port %s:%*",
		"Connection reset by %s port %s",
	};
	struct cap c[CAPS_MAX];

	if (match(m, "Disconnected from user %u %s port %s", c)) {
		ev->kind = EVENT_AUTH_LOGOFF;
		user_ip_port(ev, c);
		return true;
	}
	if (match(m,
		  "maximum authentication attempts exceeded for invalid user %u from %s port "
		  "%s%*",
		  c) ||
	    match(m, "maximum authentication attempts exceeded for %u from %s port %s%*", c)) {
		user_ip_port(ev, c);
		set_str(ev, EF_OUTCOME, "failure");
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(user_ip_port_pats); i++)
		if (match(m, user_ip_port_pats[i], c)) {
			user_ip_port(ev, c);
			return true;
		}
	for (size_t i = 0; i < ARRAY_SIZE(ip_port_pats); i++)
		if (match(m, ip_port_pats[i], c)) {
			set_cap(ev, EF_SRC_IP, c[0]);
			set_cap(ev, EF_SRC_PORT, c[1]);
			return true;
		}
	return false;
}

/* Returns true when m is one of the sshd messages this decoder knows. */
static bool decode_sshd(struct host_event *ev, char *m)
{
	struct cap c[CAPS_MAX];

	/* "error: ", "fatal: " and the "[preauth]" suffix do not change what a line says. */
	bool tagged = str_has_prefix(m, "error: ") || str_has_prefix(m, "fatal: ");
	if (tagged)
		m += 7;
	size_t n = strlen(m);
	if (n >= 10 && strcmp(m + n - 10, " [preauth]") == 0)
		m[n - 10] = '\0';

	if (sshd_auth(ev, m))
		return true;
	bool port = match(m, "Invalid user %u from %s port %s", c);
	if (port || match(m, "Invalid user %u from %s", c)) {
		ev->kind = EVENT_AUTH_LOGON;
		set_str(ev, EF_OUTCOME, "failure");
		set_cap(ev, EF_TARGET_USER, c[0]);
		set_cap(ev, EF_SRC_IP, c[1]);
		if (port)
			set_cap(ev, EF_SRC_PORT, c[2]);
		return true;
	}
	if (sshd_other(ev, m))
		return true;
	enum pam_kind pk = pam_line(ev, m);
	if (pk != PAM_NONE)
		return true;
	static const char *const known[] = {
		"Server listening on ",
		"Received signal ",
		"Postponed ",
		"Starting session: ",
		"Close session: ",
		"User child is on pid ",
		"Connection from ",
		"Accepted key ",
		"Accepted certificate ID ",
		"Authentication refused",
		"Timeout before authentication",
		"Unable to negotiate ",
		"banner exchange: ",
		"kex_exchange_identification: ",
		"Bad protocol version ",
		"Did not receive identification string ",
		"Protocol major versions differ",
		"drop connection ",
		"Transferred: ",
		"Partial publickey for ",
		"Authentication tried for ",
		"Changed root directory ",
		"Corrupted MAC",
		"Bad packet length",
		"ssh_dispatch_run_fatal: ",
		"Read error from ",
		"error: ",
		"fatal: ",
		"debug",
		"Set /proc/self/oom_score_adj",
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (str_has_prefix(m, known[i]))
			return true;
	return tagged; /* sshd's own error and fatal messages */
}

/* ---- sudo --------------------------------------------------------------------------------- */

/* "alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id" */
static bool decode_sudo(struct host_event *ev, char *m)
{
	static const struct {
		const char *key;
		enum event_field f;
	} keys[] = {
		{ "TTY=", EF_TTY },
		{ "PWD=", EF_CURRENT_DIRECTORY },
		{ "USER=", EF_TARGET_USER },
	};
	struct cap c[CAPS_MAX];

	enum pam_kind pk = pam_line(ev, m);
	if (pk == PAM_AUTHFAIL)
		ev->kind = EVENT_AUTH_LOGON;
	if (pk != PAM_NONE)
		return true;
	while (*m == ' ')
		m++;
	if (!match(m, "%s : %*", c))
		return false;
	bool failed = false, any = false;
	const char *p = c[1].p;
	while (*p) {
		if (str_has_prefix(p, "COMMAND=")) {
			set_str(ev, EF_SUDO_COMMAND, p + 8);
			set_str(ev, EF_COMMAND_LINE, p + 8);
			any = true;
			break;
		}
		const char *end = strstr(p, " ; ");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			size_t kl = strlen(keys[k].key);
			if (n >= kl && memcmp(p, keys[k].key, kl) == 0) {
				(void)host_event_set(ev, keys[k].f, p + kl, n - kl);
				known = any = true;
			}
		}
		/* Other KEY=value items (ENV=, GROUP=, CHROOT=) are kept in the message only;
		 * free text is the reason sudo refused. */
		const char *eq = memchr(p, '=', n);
		if (!known && (!eq || memchr(p, ' ', (size_t)(eq - p))))
			failed = true;
		p += n;
		if (end)
			p += 3;
	}
	if (!any)
		return false;
	ev->kind = EVENT_SUDO;
	set_cap(ev, EF_ACTOR_USER, c[0]);
	set_str(ev, EF_OUTCOME, failed ? "failure" : "success");
	return true;
}

/* ---- su ----------------------------------------------------------------------------------- */

static bool decode_su(struct host_event *ev, char *m)
{
	struct cap c[CAPS_MAX];
	bool ok;

	if (match(m, "(to %s) %u on %s", c))
		ok = true;
	else if (match(m, "FAILED SU (to %s) %u on %s", c) ||
		 match(m, "FAILED RUNUSER (to %s) %u on %s", c))
		ok = false;
	else if (match(m, "Successful su for %s by %s", c))
		ok = true, c[2] = (struct cap){ "", 0 };
	else if (match(m, "FAILED su for %s by %s", c))
		ok = false, c[2] = (struct cap){ "", 0 };
	else
		return pam_line(ev, m) != PAM_NONE;
	ev->kind = EVENT_SU;
	set_cap(ev, EF_TARGET_USER, c[0]);
	set_cap(ev, EF_ACTOR_USER, c[1]);
	if (c[2].n && !cap_eq(c[2], "none"))
		set_cap(ev, EF_TTY, c[2]);
	set_str(ev, EF_OUTCOME, ok ? "success" : "failure");
	return true;
}

/* ---- shadow account tools ----------------------------------------------------------------- */

struct acct_pat {
	const char *pat;
	enum event_kind kind;
	/* the field each capture goes to; EF_COUNT: none */
	enum event_field f[3];
};

static const struct acct_pat acct_pats[] = {
	{ "new user: name=%s, UID=%s, GID=%s, %*",
	  EVENT_ACCOUNT_CREATE,
	  { EF_TARGET_USER, EF_TARGET_UID, EF_COUNT } },
	{ "delete user '%q'", EVENT_ACCOUNT_DELETE, { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "change user '%q' password",
	  EVENT_ACCOUNT_PASSWORD,
	  { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "change user '%q' UID from '%q' to '%q'",
	  EVENT_ACCOUNT_MODIFY,
	  { EF_TARGET_USER, EF_COUNT, EF_TARGET_UID } },
	{ "change user name '%q' to '%q'",
	  EVENT_ACCOUNT_MODIFY,
	  { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "change user '%q' %*", EVENT_ACCOUNT_MODIFY, { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "lock user '%q' password", EVENT_ACCOUNT_MODIFY, { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "unlock user '%q' password",
	  EVENT_ACCOUNT_MODIFY,
	  { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "changed password expiry for %s",
	  EVENT_ACCOUNT_MODIFY,
	  { EF_TARGET_USER, EF_COUNT, EF_COUNT } },
	{ "password for '%q' changed by '%q'",
	  EVENT_ACCOUNT_PASSWORD,
	  { EF_TARGET_USER, EF_ACTOR_USER, EF_COUNT } },
	{ "add '%q' to group '%q'",
	  EVENT_GROUP_CHANGE,
	  { EF_TARGET_USER, EF_GROUP_NAME, EF_COUNT } },
	{ "delete '%q' from group '%q'",
	  EVENT_GROUP_CHANGE,
	  { EF_TARGET_USER, EF_GROUP_NAME, EF_COUNT } },
	{ "new group: name=%s, GID=%s", EVENT_GROUP_CHANGE, { EF_GROUP_NAME, EF_COUNT, EF_COUNT } },
	{ "group '%q' removed", EVENT_GROUP_CHANGE, { EF_GROUP_NAME, EF_COUNT, EF_COUNT } },
	{ "removed group '%q' owned by '%q'",
	  EVENT_GROUP_CHANGE,
	  { EF_GROUP_NAME, EF_TARGET_USER, EF_COUNT } },
	{ "user %s added by %s to group %s",
	  EVENT_GROUP_CHANGE,
	  { EF_TARGET_USER, EF_ACTOR_USER, EF_GROUP_NAME } },
	{ "user %s removed by %s from group %s",
	  EVENT_GROUP_CHANGE,
	  { EF_TARGET_USER, EF_ACTOR_USER, EF_GROUP_NAME } },
	{ "members of group %s set by %s to %*",
	  EVENT_GROUP_CHANGE,
	  { EF_GROUP_NAME, EF_ACTOR_USER, EF_COUNT } },
	/* the same changes in the shadow files: log lines with their fields */
	{ "add '%q' to shadow group '%q'",
	  EVENT_LOG_LINE,
	  { EF_TARGET_USER, EF_GROUP_NAME, EF_COUNT } },
	{ "delete '%q' from shadow group '%q'",
	  EVENT_LOG_LINE,
	  { EF_TARGET_USER, EF_GROUP_NAME, EF_COUNT } },
	{ "removed shadow group '%q' owned by '%q'",
	  EVENT_LOG_LINE,
	  { EF_GROUP_NAME, EF_TARGET_USER, EF_COUNT } },
	{ "group added to %s: name=%s, GID=%s",
	  EVENT_LOG_LINE,
	  { EF_COUNT, EF_GROUP_NAME, EF_COUNT } },
	{ "group added to %s: name=%s", EVENT_LOG_LINE, { EF_COUNT, EF_GROUP_NAME, EF_COUNT } },
	{ "group '%q' removed from %*", EVENT_LOG_LINE, { EF_GROUP_NAME, EF_COUNT, EF_COUNT } },
	{ "change '%q' to '%q' in %*", EVENT_LOG_LINE, { EF_COUNT, EF_TARGET_USER, EF_COUNT } },
};

static bool decode_account(struct host_event *ev, char *m)
{
	struct cap c[CAPS_MAX];

	switch (pam_line(ev, m)) {
	case PAM_CHAUTHTOK: ev->kind = EVENT_ACCOUNT_PASSWORD; return true;
	case PAM_NONE: break;
	default: return true;
	}
	if (str_has_prefix(m, "group changed in /etc/group (group ")) {
		const char *g = m + strlen("group changed in /etc/group (group ");
		ev->kind = EVENT_GROUP_CHANGE;
		(void)host_event_set(ev, EF_GROUP_NAME, g, strcspn(g, "/,)"));
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(acct_pats); i++) {
		const struct acct_pat *p = &acct_pats[i];
		if (!match(m, p->pat, c))
			continue;
		ev->kind = p->kind;
		for (int k = 0; k < 3; k++)
			if (p->f[k] != EF_COUNT)
				set_cap(ev, p->f[k], c[k]);
		return true;
	}
	return false;
}

/* ---- the decoder -------------------------------------------------------------------------- */

static bool prog_is(const char *prog, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(prog, *names) == 0)
			return true;
	return false;
}

static int decode_message(struct host_event *ev, const char *prog, char *m, int64_t time_ns,
			  bool bare)
{
	static const char *const sshd[] = { "sshd", "sshd-session", NULL };
	static const char *const accounts[] = { "useradd",  "userdel", "usermod",  "passwd",
						"chpasswd", "chage",   "groupadd", "groupdel",
						"groupmod", "gpasswd", "newusers", NULL };
	const char *service = prog;
	bool known;

	if (prog_is(prog, sshd))
		service = "sshd";
	else if (strcmp(prog, "sudo") != 0 && strcmp(prog, "su") != 0 && !prog_is(prog, accounts))
		return 0;

	host_event_reset(ev, EVENT_LOG_LINE, time_ns);
	set_str(ev, EF_SERVICE, service);
	set_str(ev, EF_MESSAGE, m);
	if (strcmp(service, "sshd") == 0)
		known = decode_sshd(ev, m);
	else if (strcmp(service, "sudo") == 0)
		known = decode_sudo(ev, m);
	else if (strcmp(service, "su") == 0)
		known = decode_su(ev, m);
	else
		known = decode_account(ev, m);
	if (bare && !known)
		return -EBADMSG;
	return 1;
}

/* Replaces control bytes (but tab) and bytes that are not valid UTF-8 with '?', so that every
 * field is text the JSON form can carry (jansson refuses invalid UTF-8). */
static void sanitize(char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				s[i] = '?';
			i++;
			continue;
		}
		size_t n = (c >= 0xc2 && c <= 0xdf)   ? 2
			   : (c >= 0xe0 && c <= 0xef) ? 3
			   : (c >= 0xf0 && c <= 0xf4) ? 4
						      : 0;
		bool ok = n && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok && n > 2) {
			unsigned char d = (unsigned char)s[i + 1];
			/* overlong forms, UTF-16 surrogates, past U+10FFFF */
			if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0) ||
			    (c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90))
				ok = false;
		}
		if (!ok) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

int authlog_decode(const char *line, size_t len, const struct authlog_opts *opts,
		   struct host_event *ev)
{
	if (len > AUTHLOG_LINE_MAX)
		len = AUTHLOG_LINE_MAX;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (!len || memchr(line, '\0', len))
		return -EBADMSG;

	char s[AUTHLOG_LINE_MAX + 1];
	memcpy(s, line, len);
	s[len] = '\0';
	sanitize(s, len);

	if (opts->format != AUTHLOG_SSHD) {
		struct header h;
		if (parse_header(s, opts->now_ns, &h) == 0) {
			/* The message part is a copy: decoders may cut suffixes. */
			char *m = s + (h.msg - s);
			return decode_message(ev, h.prog, m, h.time_ns, false);
		}
		if (opts->format == AUTHLOG_SYSLOG)
			return -EBADMSG;
	}
	char *m = s;
	while (*m == ' ')
		m++;
	return decode_message(ev, "sshd", m, opts->now_ns, opts->format == AUTHLOG_AUTO);
}
