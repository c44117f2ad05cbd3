/* Recorded sessions, agent side, and the asciicast v2 helpers the recorder shares
 * (session_agent.h, session_msg.h, docs/sessions.md). The recorder runs as the user: the
 * agent believes nothing of what it says beyond its shape, and ties every session to the
 * uid and pid the kernel reports for its socket. */
#include "agent/session_agent.h"

#include "agent/session_msg.h"

#include <pwd.h>
#include <time.h>
#include <unistd.h>

/* ---- asciicast v2 ---- */

bool session_id_ok(const char *s)
{
	if (!s || strlen(s) != SESSION_ID_LEN)
		return false;
	for (size_t i = 0; i < SESSION_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The length of the UTF-8 sequence at p[0..n): > 0 when complete and valid, 0 when it is a
 * valid beginning cut short, -1 when p[0] starts no valid sequence. */
static int utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	int len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return -1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return -1;
	}
	return len;
}

/* Appends bytes p[0..n) as the inside of a JSON string; an unfinished sequence at the end
 * is left for later: returns how many bytes were used. */
static size_t json_escape(const unsigned char *p, size_t n, bool final, struct buf *out, int *err)
{
	size_t i = 0;

	while (i < n && *err == 0) {
		unsigned char c = p[i];
		int l = utf8_len(p + i, n - i);

		if (l == 0 && !final)
			break;
		if (l == 0) { /* a sequence cut short by the end: one character */
			*err = buf_puts(out, "\\ufffd");
			i = n;
			continue;
		}
		if (l < 0) {
			*err = buf_puts(out, "\\ufffd");
			i++;
			continue;
		}
		if (l > 1) {
			*err = buf_append(out, p + i, (size_t)l);
		} else if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			*err = buf_append(out, e, 2);
		} else if (c == '\n') {
			*err = buf_puts(out, "\\n");
		} else if (c == '\r') {
			*err = buf_puts(out, "\\r");
		} else if (c == '\t') {
			*err = buf_puts(out, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			*err = buf_printf(out, "\\u%04x", c);
		} else {
			*err = buf_append(out, &c, 1);
		}
		i += (size_t)l;
	}
	return i;
}

static int cast_event(struct session_cast_writer *w, double t, const char *type, const void *p,
		      size_t n, bool final, struct buf *out)
{
	size_t before = buf_len(out), used, total = w->n_carry + n;
	_cleanup_free_ unsigned char *all = xmalloc(total ? total : 1);
	int err = 0;

	if (total == 0)
		return 0;
	memcpy(all, w->carry, w->n_carry);
	if (n)
		memcpy(all + w->n_carry, p, n);
	/* nothing whole yet: keep it all (a sequence is at most 4 bytes) */
	if (!final && total < sizeof(w->carry) && utf8_len(all, total) == 0) {
		memcpy(w->carry, all, total);
		w->n_carry = total;
		return 0;
	}
	err = buf_printf(out, "[%.6f, \"%s\", \"", t < 0 ? 0.0 : t, type);
	used = err ? 0 : json_escape(all, total, final, out, &err);
	if (!err)
		err = buf_puts(out, "\"]\n");
	if (err) {
		out->len = before; /* unchanged, as the contract says */
		if (out->data)
			out->data[before] = '\0';
		return err;
	}
	w->n_carry = total - used;
	memcpy(w->carry, all + used, w->n_carry);
	return (int)(buf_len(out) - before);
}

int session_cast_event(struct session_cast_writer *w, double t, const char *type, const void *p,
		       size_t n, struct buf *out)
{
	return cast_event(w, t, type, p, n, false, out);
}

int session_cast_finish(struct session_cast_writer *w, double t, struct buf *out)
{
	if (w->n_carry == 0)
		return 0;
	return cast_event(w, t, "o", NULL, 0, true, out);
}

int session_cast_header(unsigned width, unsigned height, int64_t timestamp, const char *command,
			const char *term, const char *shell, struct buf *out)
{
	json_t *env = json_object(), *h = json_object();
	char *s;
	int r;

	json_object_set_new(h, "version", json_integer(2));
	json_object_set_new(h, "width", json_integer(width));
	json_object_set_new(h, "height", json_integer(height));
	json_object_set_new(h, "timestamp", json_integer(timestamp));
	if (command)
		json_object_set_new(h, "command", json_string(command));
	if (term)
		json_object_set_new(env, "TERM", json_string(term));
	if (shell)
		json_object_set_new(env, "SHELL", json_string(shell));
	json_object_set_new(h, "env", env);
	s = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(h);
	if (!s)
		return -EINVAL; /* a string that is not UTF-8 */
	r = buf_printf(out, "%s\n", s);
	free(s);
	return r;
}

static int check_event_line(const char *line, size_t n, double *last)
{
	json_t *a = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	const char *type;
	double t;
	int r = -EBADMSG;

	if (!json_is_array(a) || json_array_size(a) != 3 || !json_is_number(json_array_get(a, 0)) ||
	    !json_is_string(json_array_get(a, 1)) || !json_is_string(json_array_get(a, 2)))
		goto out;
	t = json_number_value(json_array_get(a, 0));
	type = json_string_value(json_array_get(a, 1));
	if (!(t >= *last) || t > 1e9 || strlen(type) != 1 || !strchr("orim", type[0]))
		goto out;
	*last = t;
	r = 0;
out:
	json_decref(a);
	return r;
}

int session_cast_check_events(const char *text, size_t len, double *last_time)
{
	double last = *last_time;
	size_t start = 0;

	if (len && text[len - 1] != '\n')
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '\n')
			continue;
		if (i == start || check_event_line(text + start, i - start, &last) < 0)
			return -EBADMSG;
		start = i + 1;
	}
	*last_time = last;
	return 0;
}

/* ---- the agent's sessions ---- */

struct rec_session {
	char id[SESSION_ID_LEN + 1];
	uid_t uid;
	pid_t pid;
	char *identity; /* NULL: none */
	char *account;
	int64_t next_part;
	double last_time;
};

struct session_agent {
	struct session_agent_options o;
	bool has_ca;
	struct ssh_ed25519_key ca;
	session_agent_emit_fn emit;
	void *arg;
	struct rec_session *v[SESSION_AGENT_MAX];
	size_t n;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool default_account_ok(uid_t uid, const char *account)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || !res)
		return false;
	return !strcmp(res->pw_name, account);
}

struct session_agent *session_agent_new(const struct session_agent_options *o,
					session_agent_emit_fn emit, void *arg)
{
	struct session_agent *sa = xcalloc(1, sizeof(*sa));

	if (o)
		sa->o = *o;
	if (!sa->o.account_ok)
		sa->o.account_ok = default_account_ok;
	sa->emit = emit;
	sa->arg = arg;
	return sa;
}

void session_agent_set_ca(struct session_agent *sa, const struct ssh_ed25519_key *ca)
{
	sa->has_ca = ca != NULL;
	if (ca)
		sa->ca = *ca;
}

/* Whether the certificate cert (base64) vouches for identity logging in as account: signed
 * by the CA, account among its principals, key id "identity/...". */
static bool cert_vouches(const struct session_agent *sa, const char *cert, const char *identity,
			 const char *account)
{
	struct buf blob;
	struct sshcert c;
	bool ok = false;
	size_t n = strlen(identity);

	buf_init(&blob, SESSION_MAX_CERT);
	if (sshcert_blob_from_base64(cert, &blob) < 0 ||
	    sshcert_parse(buf_str(&blob), buf_len(&blob), &c) < 0) {
		buf_free(&blob);
		return false;
	}
	if (c.signature_valid && c.type == 1 &&
	    !memcmp(c.signature_key.pub, sa->ca.pub, sizeof(sa->ca.pub)) && c.key_id &&
	    !strncmp(c.key_id, identity, n) && (c.key_id[n] == '/' || c.key_id[n] == '\0'))
		for (size_t i = 0; i < c.n_principals && !ok; i++)
			ok = !strcmp(c.principals[i], account);
	sshcert_free(&c);
	buf_free(&blob);
	return ok;
}

static void session_free(struct rec_session *s)
{
	if (!s)
		return;
	free(s->identity);
	free(s->account);
	free(s);
}

/* Emits record (stolen). Returns false, emitting nothing, when it cannot be encoded within
 * SESSION_AGENT_RECORD_MAX (the caller refuses the message that asked for it). */
static bool emit(struct session_agent *sa, json_t *record)
{
	char *s = json_dumps(record, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;
	bool ok = s && n <= SESSION_AGENT_RECORD_MAX;

	json_decref(record);
	if (ok && sa->emit)
		sa->emit(sa->arg, s, n, now_ns());
	free(s);
	return ok;
}

static json_t *part_record(const struct rec_session *s, int64_t part)
{
	return json_pack("{s:s, s:I}", "session", s->id, "part", (json_int_t)part);
}

/* Emits the closing part of s (exit < 0: unknown) and removes it. */
static void session_close(struct session_agent *sa, size_t i, int exit_code)
{
	struct rec_session *s = sa->v[i];
	json_t *r = part_record(s, s->next_part);

	json_object_set_new(r, "cast", json_string(""));
	json_object_set_new(r, "ended_ns", json_integer(now_ns()));
	json_object_set_new(r, "exit", exit_code >= 0 ? json_integer(exit_code) : json_null());
	emit(sa, r);
	session_free(s);
	sa->v[i] = sa->v[--sa->n];
	sa->v[sa->n] = NULL;
}

void session_agent_free(struct session_agent *sa)
{
	if (!sa)
		return;
	while (sa->n)
		session_close(sa, sa->n - 1, -1);
	free(sa);
}

static json_t *answer_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static json_t *answer_err(const char *why)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

/* The string member key of o: NULL when absent or null (*bad stays), else a string of
 * 1..max bytes without NUL, or *bad is set. */
static const char *opt_str(json_t *o, const char *key, size_t max, bool *bad)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (!v || json_is_null(v))
		return NULL;
	n = json_is_string(v) ? json_string_length(v) : 0;
	if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static bool int_member(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

static ssize_t find(struct session_agent *sa, const char *id)
{
	for (size_t i = 0; i < sa->n; i++)
		if (!strcmp(sa->v[i]->id, id))
			return (ssize_t)i;
	return -1;
}

static bool account_text_ok(const char *a)
{
	for (const char *p = a; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-$", *p)))
			return false;
	return a[0] != '-';
}

static json_t *handle_start(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid)
{
	bool bad = false;
	const char *id = opt_str(msg, "session", SESSION_ID_LEN, &bad);
	const char *identity = opt_str(msg, "identity", SESSION_MAX_IDENTITY, &bad);
	const char *account = opt_str(msg, "account", SESSION_MAX_ACCOUNT, &bad);
	const char *command = opt_str(msg, "command", SESSION_MAX_COMMAND, &bad);
	const char *term = opt_str(msg, "term", SESSION_MAX_TEXT, &bad);
	const char *shell = opt_str(msg, "shell", SESSION_MAX_TEXT, &bad);
	const char *cert = opt_str(msg, "cert", SESSION_MAX_CERT, &bad);
	bool verified = false;
	int64_t w, h, child = 0, ts;
	struct buf header;
	size_t mine = 0;
	json_t *r;

	if (bad || !session_id_ok(id) || !account || !account_text_ok(account) ||
	    !int_member(msg, "width", 1, SESSION_MAX_SIZE, &w) ||
	    !int_member(msg, "height", 1, SESSION_MAX_SIZE, &h) ||
	    !int_member(msg, "timestamp", 0, INT64_C(1) << 40, &ts) ||
	    (json_object_get(msg, "pid") && !int_member(msg, "pid", 0, INT32_MAX, &child)))
		return answer_err("malformed session-start");
	if (!sa->o.account_ok(uid, account))
		return answer_err("the account is not the caller's");
	if (sa->has_ca && identity) {
		if (!cert || !cert_vouches(sa, cert, identity, account))
			return answer_err("no certificate of the CA vouches for this identity and "
					  "account");
		verified = true;
	}
	if (find(sa, id) >= 0)
		return answer_err("session id in use");
	for (size_t i = 0; i < sa->n; i++)
		mine += sa->v[i]->uid == uid;
	if (sa->n >= SESSION_AGENT_MAX || mine >= SESSION_AGENT_MAX_PER_UID)
		return answer_err("too many open sessions");
	buf_init(&header, SESSION_MSG_MAX);
	if (session_cast_header((unsigned)w, (unsigned)h, ts, command, term, shell, &header) < 0) {
		buf_free(&header);
		return answer_err("malformed session-start");
	}

	struct rec_session *s = xcalloc(1, sizeof(*s));
	memcpy(s->id, id, SESSION_ID_LEN + 1);
	s->uid = uid;
	s->pid = pid;
	s->identity = identity ? xstrdup(identity) : NULL;
	s->account = xstrdup(account);
	s->next_part = 1;
	sa->v[sa->n++] = s;

	r = part_record(s, 0);
	json_object_set_new(r, "identity", identity ? json_string(identity) : json_null());
	json_object_set_new(r, "identity_verified", json_boolean(verified));
	json_object_set_new(r, "account", json_string(account));
	json_object_set_new(r, "uid", json_integer(uid));
	json_object_set_new(r, "pid", json_integer(pid));
	json_object_set_new(r, "command", command ? json_string(command) : json_null());
	json_object_set_new(r, "width", json_integer(w));
	json_object_set_new(r, "height", json_integer(h));
	json_object_set_new(r, "started_ns", json_integer(now_ns()));
	json_object_set_new(r, "cast", json_string(buf_str(&header)));
	buf_free(&header);
	if (!emit(sa, r)) {
		session_free(sa->v[--sa->n]); /* the one just added */
		sa->v[sa->n] = NULL;
		return answer_err("session-start too large for one record");
	}
	return answer_ok();
}

/* The open session id of the caller, or an answer saying why not. */
static ssize_t own_session(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid,
			   json_t **err)
{
	bool bad = false;
	const char *id = opt_str(msg, "session", SESSION_ID_LEN, &bad);
	ssize_t i = session_id_ok(id) ? find(sa, id) : -1;

	if (!session_id_ok(id))
		*err = answer_err("malformed session id");
	else if (i < 0 || sa->v[i]->uid != uid || sa->v[i]->pid != pid)
		*err = answer_err("no such session");
	return *err ? -1 : i;
}

static json_t *handle_data(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid)
{
	json_t *err = NULL, *data = json_object_get(msg, "data"), *r;
	ssize_t i = own_session(sa, msg, uid, pid, &err);
	struct rec_session *s;
	int64_t part;
	double last;

	if (i < 0)
		return err;
	s = sa->v[i];
	last = s->last_time;
	if (!int_member(msg, "part", 1, INT64_MAX, &part) || !json_is_string(data))
		return answer_err("malformed session-data");
	if (part != s->next_part)
		return answer_err("part out of order");
	if (session_cast_check_events(json_string_value(data), json_string_length(data), &last) < 0)
		return answer_err("data is not asciicast v2 event lines");
	r = part_record(s, s->next_part);
	json_object_set(r, "cast", data);
	if (!emit(sa, r))
		return answer_err("data too large for one record");
	s->last_time = last;
	s->next_part++;
	return answer_ok();
}

static json_t *handle_end(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid)
{
	json_t *err = NULL;
	ssize_t i = own_session(sa, msg, uid, pid, &err);
	int64_t code;

	if (i < 0)
		return err;
	if (!int_member(msg, "exit", 0, 255, &code))
		return answer_err("malformed session-end");
	session_close(sa, (size_t)i, (int)code);
	return answer_ok();
}

int session_agent_handle(struct session_agent *sa, json_t *msg, uid_t uid, pid_t pid,
			 json_t **answer)
{
	const char *type = json_string_value(json_object_get(msg, "type"));

	if (!type)
		return -EINVAL;
	if (!strcmp(type, SESSION_MSG_START))
		*answer = handle_start(sa, msg, uid, pid);
	else if (!strcmp(type, SESSION_MSG_DATA))
		*answer = handle_data(sa, msg, uid, pid);
	else if (!strcmp(type, SESSION_MSG_END))
		*answer = handle_end(sa, msg, uid, pid);
	else
		return -EINVAL;
	return 0;
}

int session_agent_handle_raw(struct session_agent *sa, const void *msg, size_t len, uid_t uid,
			     pid_t pid, json_t **answer)
{
	json_t *m;
	int r;

	if (len == 0 || len > SESSION_MSG_MAX) {
		*answer = answer_err("message too large");
		return 0;
	}
	m = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		*answer = answer_err("not a JSON object");
		return 0;
	}
	r = session_agent_handle(sa, m, uid, pid, answer);
	json_decref(m);
	return r;
}

size_t session_agent_pids_of(struct session_agent *sa, const char *identity, pid_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sa->n; i++) {
		if (!sa->v[i]->identity || strcmp(sa->v[i]->identity, identity))
			continue;
		if (n < max)
			out[n] = sa->v[i]->pid;
		n++;
	}
	return n;
}

void session_agent_peer_gone(struct session_agent *sa, pid_t pid)
{
	for (size_t i = sa->n; i-- > 0;)
		if (sa->v[i]->pid == pid)
			session_close(sa, i, -1);
}

size_t session_agent_count(const struct session_agent *sa)
{
	return sa->n;
}
