/* Compiling a loaded Sigma rule: logsource to event kinds, field names to event fields,
 * values and modifiers to matchers (struct svalue), the condition to a tree; correlation
 * rules to references and fields. Everything that can fail fails here, with the line of the
 * offending node, so that evaluation never meets an error. */
#include "detect/sigma_int.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <sys/socket.h>

#define MAX_VARIANTS 64
#define MAX_VALUE_LEN 4096

#define KB(k) (1u << (k))

/* Which kinds a field can be filled on (a rule's kinds must meet a field's groups). */
enum {
	G_ANY = 0xffffffffu,
	G_PROC = KB(EVENT_PROCESS_EXEC) | KB(EVENT_PROCESS_EXIT),
	G_FILE = KB(EVENT_FILE_CREATE) | KB(EVENT_FILE_READ) | KB(EVENT_FILE_MODIFY) |
		 KB(EVENT_FILE_DELETE) | KB(EVENT_FILE_RENAME) | KB(EVENT_FILE_ATTR),
	G_NET = KB(EVENT_NET_CONNECT) | KB(EVENT_NET_ACCEPT) | KB(EVENT_NET_LISTEN) |
		KB(EVENT_NET_LISTEN_CLOSE),
	G_AUTH = KB(EVENT_AUTH_LOGON) | KB(EVENT_AUTH_LOGOFF) | KB(EVENT_SUDO) | KB(EVENT_SU) |
		 KB(EVENT_ACCOUNT_CREATE) | KB(EVENT_ACCOUNT_MODIFY) | KB(EVENT_ACCOUNT_PASSWORD) |
		 KB(EVENT_ACCOUNT_DELETE) | KB(EVENT_GROUP_CHANGE),
	G_LOG = KB(EVENT_LOG_LINE),
	G_ACTOR = G_PROC | G_FILE | G_NET | G_AUTH | KB(EVENT_MODULE_LOAD),
};

_Static_assert(EVENT_KIND_COUNT <= 32, "kind masks are 32 bits");

struct fmap {
	const char *name;
	int field;
	uint32_t groups;
};

/* Sigma's names (Sysmon-style, as the linux rules use them) for our fields. */
static const struct fmap sigma_fields[] = {
	{ "Image", EF_IMAGE, G_ACTOR },
	{ "CommandLine", EF_COMMAND_LINE, G_ACTOR },
	{ "CurrentDirectory", EF_CURRENT_DIRECTORY, G_ACTOR },
	{ "User", EF_USER, G_ACTOR },
	{ "LogonId", EF_LOGIN_UID, G_ACTOR },
	{ "ProcessId", EF_PID, G_ACTOR },
	{ "ParentImage", EF_PARENT_IMAGE, G_ACTOR },
	{ "ParentCommandLine", EF_PARENT_COMMAND_LINE, G_ACTOR },
	{ "ParentProcessId", EF_PPID, G_ACTOR },
	{ "TargetFilename", SF_TARGET, G_FILE },
	{ "DestinationIp", EF_DST_IP, G_NET },
	{ "DestinationPort", EF_DST_PORT, G_NET },
	{ "SourceIp", EF_SRC_IP, G_NET | G_AUTH },
	{ "SourcePort", EF_SRC_PORT, G_NET | G_AUTH },
	{ "Protocol", EF_PROTOCOL, G_NET },
	{ "Initiated", EF_DIRECTION, G_NET },
	{ "TargetUserName", EF_TARGET_USER, G_AUTH },
	{ "SubjectUserName", EF_ACTOR_USER, G_AUTH },
	{ "IpAddress", EF_SRC_IP, G_AUTH },
	{ "ImageLoaded", EF_MODULE_NAME, KB(EVENT_MODULE_LOAD) },
	/* sudo's log line: USER=target COMMAND=... */
	{ "USER", EF_TARGET_USER, G_AUTH },
	{ "COMMAND", EF_SUDO_COMMAND, G_AUTH },
};

/* auditd's record fields that our events fill (approximately: docs/sigma.md, "auditd"). */
static const struct fmap audit_fields[] = {
	{ "type", SF_AUDIT_TYPE, G_ANY },
	{ "exe", EF_IMAGE, G_ANY },
	{ "comm", EF_PROCESS_NAME, G_ANY },
	{ "cwd", EF_CURRENT_DIRECTORY, G_ANY },
	{ "name", EF_TARGET_FILENAME, G_FILE },
	{ "pid", EF_PID, G_ANY },
	{ "ppid", EF_PPID, G_ANY },
	{ "uid", EF_UID, G_ANY },
	{ "euid", EF_EUID, G_ANY },
	{ "auid", EF_LOGIN_UID, G_ANY },
	{ "tty", EF_TTY, G_ANY },
};

int sigma_field_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sigma_fields); i++)
		if (!strcmp(sigma_fields[i].name, name))
			return sigma_fields[i].field;
	return event_field_by_name(name);
}

struct cctx {
	struct sigma_ruleset *rs;
	struct srule *r;
	uint32_t kinds;
	bool auditd;
	char err[600];
	unsigned err_line;
};

static int cfail(struct cctx *c, const struct ynode *n, const char *fmt, ...) _printf_(3, 4);
static int cfail(struct cctx *c, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->err_line = c->r->line_base + (n ? n->line : c->r->doc->line);
	return -EBADMSG;
}

static bool is_null(const struct ynode *n)
{
	return n->type == YNODE_SCALAR && !n->quoted &&
	       (!n->scalar[0] || !strcmp(n->scalar, "null") || !strcmp(n->scalar, "~") ||
		!strcmp(n->scalar, "Null") || !strcmp(n->scalar, "NULL"));
}

/* --- logsource --------------------------------------------------------------------------- */

static uint32_t kinds_of_category(const char *cat)
{
	uint32_t m = 0;

	if (!strcmp(cat, "process_creation"))
		return KB(EVENT_PROCESS_EXEC);
	if (!strcmp(cat, "file_event"))
		return KB(EVENT_FILE_CREATE) | KB(EVENT_FILE_MODIFY) | KB(EVENT_FILE_RENAME);
	for (int k = 1; k < EVENT_KIND_COUNT; k++) {
		const char *c = event_kind_sigma_category((enum event_kind)k);
		if (c && !strcmp(c, cat))
			m |= KB(k);
	}
	return m;
}

static int map_logsource(struct cctx *c, struct sdetect *d)
{
	const struct ynode *ls = ynode_get(c->r->doc, "logsource");
	const struct ynode *prod, *cat, *svc;
	uint32_t kinds = G_ANY;

	if (!ls || ls->type != YNODE_MAP)
		return cfail(c, ls, "logsource: expected a map");
	prod = ynode_get(ls, "product");
	cat = ynode_get(ls, "category");
	svc = ynode_get(ls, "service");
	if (prod && (prod->type != YNODE_SCALAR || !str_case_eq(prod->scalar, "linux")))
		return cfail(c, prod, "logsource product '%s' is not supported (only linux)",
			     prod->type == YNODE_SCALAR ? prod->scalar : "?");
	if (!cat && !svc) {
		/* product linux alone: generic logs, and the command lines of new processes */
		if (!prod)
			return cfail(c, ls, "logsource needs a product, a category or a service");
		kinds = G_LOG | KB(EVENT_PROCESS_EXEC);
	}
	if (cat) {
		if (cat->type != YNODE_SCALAR)
			return cfail(c, cat, "logsource category: expected a string");
		kinds = kinds_of_category(cat->scalar);
		if (!kinds)
			return cfail(c, cat, "logsource category '%s' is not supported",
				     cat->scalar);
	}
	if (svc) {
		uint32_t sk;
		const char *s;
		if (svc->type != YNODE_SCALAR)
			return cfail(c, svc, "logsource service: expected a string");
		s = svc->scalar;
		if (!strcmp(s, "auditd")) {
			sk = G_PROC | G_FILE;
			c->auditd = true;
		} else if (!strcmp(s, "auth")) {
			sk = G_AUTH | G_LOG;
		} else if (!strcmp(s, "sshd")) {
			sk = G_AUTH | G_LOG;
			d->service = xstrdup("sshd");
		} else if (!strcmp(s, "sudo")) {
			sk = KB(EVENT_SUDO) | G_LOG;
			d->service = xstrdup("sudo");
		} else if (!strcmp(s, "su")) {
			sk = KB(EVENT_SU) | G_LOG;
			d->service = xstrdup("su");
		} else if (!strcmp(s, "syslog")) {
			sk = G_LOG;
		} else
			return cfail(c, svc, "logsource service '%s' is not supported", s);
		kinds &= sk;
		if (!kinds)
			return cfail(c, svc, "logsource category and service cover no event");
	}
	d->kinds = kinds;
	c->kinds = kinds;
	return 0;
}

/* --- values ------------------------------------------------------------------------------ */

enum mods {
	M_CONTAINS = 1 << 0,
	M_STARTS = 1 << 1,
	M_ENDS = 1 << 2,
	M_ALL = 1 << 3,
	M_RE = 1 << 4,
	M_I = 1 << 5,
	M_M = 1 << 6,
	M_S = 1 << 7,
	M_CIDR = 1 << 8,
	M_B64 = 1 << 9,
	M_B64OFF = 1 << 10,
	M_EXISTS = 1 << 11,
	M_GT = 1 << 12,
	M_GTE = 1 << 13,
	M_LT = 1 << 14,
	M_LTE = 1 << 15,
	M_FIELDREF = 1 << 16,
	M_WINDASH = 1 << 17,
};

static const struct {
	const char *name;
	unsigned bit;
} mod_names[] = {
	{ "contains", M_CONTAINS },
	{ "startswith", M_STARTS },
	{ "endswith", M_ENDS },
	{ "all", M_ALL },
	{ "re", M_RE },
	{ "i", M_I },
	{ "m", M_M },
	{ "s", M_S },
	{ "cidr", M_CIDR },
	{ "base64", M_B64 },
	{ "base64offset", M_B64OFF },
	{ "exists", M_EXISTS },
	{ "gt", M_GT },
	{ "gte", M_GTE },
	{ "lt", M_LT },
	{ "lte", M_LTE },
	{ "fieldref", M_FIELDREF },
	{ "windash", M_WINDASH },
};

/* A string list grown by value transformations. */
struct vlist {
	char **s;
	size_t *len;
	size_t n;
};

static void vl_push(struct vlist *v, const char *s, size_t len)
{
	v->s = xrealloc(v->s, (v->n + 1) * sizeof(*v->s));
	v->len = xrealloc(v->len, (v->n + 1) * sizeof(*v->len));
	v->s[v->n] = xstrndup(s, len);
	v->len[v->n++] = len;
}

static void vl_free(struct vlist *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->s[i]);
	free(v->s);
	free(v->len);
	memset(v, 0, sizeof(*v));
}

/* Resolves \*, \? and \\ (the value is then taken literally). */
static char *unescape(const char *s, size_t *len)
{
	size_t n = strlen(s), j = 0;
	char *o = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\'))
			i++;
		o[j++] = s[i];
	}
	o[j] = '\0';
	*len = j;
	return o;
}

static void b64(const unsigned char *in, size_t n, struct buf *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63] };
		buf_append(out, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], '=', '=' };
		buf_append(out, q, 4);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '=' };
		buf_append(out, q, 4);
	}
}

/* base64offset: the value encoded at the three byte offsets a longer text could put it, with
 * the characters that depend on the neighbours cut off. */
static void b64_offsets(const char *s, size_t n, struct vlist *out)
{
	static const size_t start[3] = { 0, 2, 3 };
	static const size_t endcut[3] = { 0, 3, 2 };

	for (size_t i = 0; i < 3; i++) {
		struct buf in, enc;
		buf_init(&in, n + 4);
		buf_init(&enc, 2 * n + 16);
		buf_append(&in, "  ", i);
		buf_append(&in, s, n);
		b64((const unsigned char *)buf_str(&in), buf_len(&in), &enc);
		size_t len = buf_len(&enc), cut = endcut[(n + i) % 3];
		if (len > start[i] + cut)
			vl_push(out, buf_str(&enc) + start[i], len - start[i] - cut);
		buf_free(&in);
		buf_free(&enc);
	}
}

/* windash: every '-' or '/' that starts a word in any of -, /, en dash, em dash, bar. */
static int windash(const char *s, size_t n, struct vlist *out)
{
	static const char *const dashes[] = { "-", "/", "\xe2\x80\x93", "\xe2\x80\x94",
					      "\xe2\x80\x95" };
	size_t pos[8], np = 0, total = 1;

	for (size_t i = 0; i < n; i++)
		if ((s[i] == '-' || s[i] == '/') && (i == 0 || s[i - 1] == ' ')) {
			if (np == ARRAY_SIZE(pos))
				return -E2BIG;
			pos[np++] = i;
			total *= ARRAY_SIZE(dashes);
		}
	if (total > MAX_VARIANTS)
		return -E2BIG;
	for (size_t v = 0; v < total; v++) {
		struct buf b;
		size_t x = v, last = 0;
		buf_init(&b, 3 * n + 1);
		for (size_t k = 0; k < np; k++) {
			buf_append(&b, s + last, pos[k] - last);
			buf_puts(&b, dashes[x % ARRAY_SIZE(dashes)]);
			x /= ARRAY_SIZE(dashes);
			last = pos[k] + 1;
		}
		buf_append(&b, s + last, n - last);
		vl_push(out, buf_str(&b), buf_len(&b));
		buf_free(&b);
	}
	return 0;
}

/* Builds a pattern value: lower-cased text with wildcards (unless literal), wrapped in '*' as
 * the contains/startswith/endswith modifiers ask, then reduced to the cheapest matcher. */
static void make_pattern(struct svalue *v, const char *s, size_t n, bool wildcards, bool pre,
			 bool post)
{
	char *lit = xmalloc(n + 3);
	uint8_t *wild = xmalloc(n + 3);
	size_t j = 0, nstar = 0, nq = 0;

	if (pre) {
		lit[j] = '*';
		wild[j++] = '*';
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		uint8_t w = 0;
		if (wildcards && ch == '\\' && i + 1 < n &&
		    (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\'))
			ch = s[++i];
		else if (wildcards && (ch == '*' || ch == '?'))
			w = (uint8_t)ch;
		if (w == '*' && j && wild[j - 1] == '*')
			continue;
		lit[j] = (char)tolower((unsigned char)ch);
		wild[j++] = w;
	}
	if (post && !(j && wild[j - 1] == '*')) {
		lit[j] = '*';
		wild[j++] = '*';
	}
	lit[j] = '\0';
	for (size_t i = 0; i < j; i++) {
		nstar += wild[i] == '*';
		nq += wild[i] == '?';
	}
	bool lead = j && wild[0] == '*', trail = j > 1 && wild[j - 1] == '*';
	if (!nstar && !nq) {
		v->op = SM_EQ;
	} else if (nq == 0 && j == 1) {
		v->op = SM_ANY;
	} else if (nq == 0 && nstar == 2 && lead && trail) {
		v->op = SM_CONTAINS;
		memmove(lit, lit + 1, j - 2);
		j -= 2;
	} else if (nq == 0 && nstar == 1 && lead) {
		v->op = SM_ENDS;
		memmove(lit, lit + 1, j - 1);
		j -= 1;
	} else if (nq == 0 && nstar == 1 && wild[j - 1] == '*') {
		v->op = SM_STARTS;
		j -= 1;
	} else {
		v->op = SM_GLOB;
		v->wild = wild;
		wild = NULL;
	}
	lit[j] = '\0';
	v->lit = lit;
	v->len = j;
	free(wild);
}

static int parse_cidr(const char *s, struct svalue *v)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int64_t prefix;
	unsigned max;

	if (alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, v->cidr.addr) == 1) {
		v->cidr.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, v->cidr.addr) == 1) {
		v->cidr.family = AF_INET6;
		max = 128;
	} else
		return -EINVAL;
	prefix = max;
	if (slash && parse_i64(slash + 1, 0, max, &prefix) < 0)
		return -EINVAL;
	v->cidr.prefix = (unsigned)prefix;
	v->op = SM_CIDR;
	return 0;
}

static int compile_re(struct cctx *c, const struct ynode *n, const char *s, unsigned mods,
		      struct svalue *v)
{
	uint32_t opts = 0;
	int code;
	PCRE2_SIZE off;

	if (mods & M_I)
		opts |= PCRE2_CASELESS;
	if (mods & M_M)
		opts |= PCRE2_MULTILINE;
	if (mods & M_S)
		opts |= PCRE2_DOTALL;
	v->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!v->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return cfail(c, n, "bad regular expression at offset %zu: %s", (size_t)off,
			     (const char *)msg);
	}
	/* without JIT support the interpreter runs the pattern */
	(void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE);
	v->op = SM_RE;
	v->src = xstrdup(s);
	return 0;
}

static uint32_t audit_type_kinds(const char *t)
{
	if (str_case_eq(t, "EXECVE") || str_case_eq(t, "PROCTITLE") || str_case_eq(t, "CWD"))
		return KB(EVENT_PROCESS_EXEC);
	if (str_case_eq(t, "SYSCALL"))
		return KB(EVENT_PROCESS_EXEC) | G_FILE;
	if (str_case_eq(t, "PATH"))
		return G_FILE;
	return 0;
}

/* Appends to f the matchers for one YAML value under modifiers. */
static int add_value(struct cctx *c, struct sfield *f, const struct ynode *n, unsigned mods)
{
	struct vlist vl = { 0 };
	const char *s;
	int r = 0;

	if (n->type != YNODE_SCALAR)
		return cfail(c, n, "expected a value, found a %s",
			     n->type == YNODE_MAP ? "map" : "list");
	s = n->scalar;
	if (strlen(s) > MAX_VALUE_LEN)
		return cfail(c, n, "value longer than %u bytes", MAX_VALUE_LEN);
	if (is_null(n)) {
		if (mods)
			return cfail(c, n, "a null value takes no modifiers");
		f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
		f->v[f->n++] = (struct svalue){ .op = SM_NULL, .ref = -1 };
		return 0;
	}
	if (f->field == SF_AUDIT_TYPE) {
		uint32_t k = audit_type_kinds(s);
		if (mods)
			return cfail(c, n, "auditd type takes no modifiers");
		if (!k)
			return cfail(c, n, "auditd record type '%s' is not produced", s);
		f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
		f->v[f->n++] = (struct svalue){ .op = SM_KINDS, .kinds = k, .ref = -1 };
		return 0;
	}
	/* Initiated: true/false is the connection's direction */
	if (f->field == EF_DIRECTION && !mods &&
	    (str_case_eq(s, "true") || str_case_eq(s, "false")))
		s = str_case_eq(s, "true") ? "outbound" : "inbound";

	struct svalue base = { .ref = -1 };
	if (mods & M_EXISTS) {
		bool yes;
		if (mods & ~M_EXISTS)
			return cfail(c, n, "exists takes no other modifier");
		if (str_case_eq(s, "true") || str_case_eq(s, "yes"))
			yes = true;
		else if (str_case_eq(s, "false") || str_case_eq(s, "no"))
			yes = false;
		else
			return cfail(c, n, "exists: expected true or false");
		base.op = SM_EXISTS;
		base.neg = !yes;
		goto push_one;
	}
	if (mods & (M_GT | M_GTE | M_LT | M_LTE)) {
		if (mods & ~(M_GT | M_GTE | M_LT | M_LTE | M_ALL) ||
		    __builtin_popcount(mods & (M_GT | M_GTE | M_LT | M_LTE)) != 1)
			return cfail(c, n, "gt, gte, lt and lte take no other modifier");
		if (parse_i64(s, INT64_MIN, INT64_MAX, &base.num) < 0)
			return cfail(c, n, "'%s' is not an integer", s);
		base.op = SM_NUM;
		base.cmp = mods & M_GT	  ? SN_GT
			   : mods & M_GTE ? SN_GTE
			   : mods & M_LT  ? SN_LT
					  : SN_LTE;
		goto push_one;
	}
	if (mods & M_CIDR) {
		if (mods & ~(M_CIDR | M_ALL))
			return cfail(c, n, "cidr takes no other modifier");
		if (parse_cidr(s, &base) < 0)
			return cfail(c, n, "'%s' is not an IPv4 or IPv6 network", s);
		goto push_one;
	}
	if (mods & M_RE) {
		if (mods & ~(M_RE | M_I | M_M | M_S | M_ALL))
			return cfail(c, n, "re takes only the i, m and s modifiers");
		r = compile_re(c, n, s, mods, &base);
		if (r < 0)
			return r;
		goto push_one;
	}
	if (mods & (M_I | M_M | M_S))
		return cfail(c, n, "the i, m and s modifiers need re");
	if (__builtin_popcount(mods & (M_CONTAINS | M_STARTS | M_ENDS)) > 1)
		return cfail(c, n, "contains, startswith and endswith exclude each other");
	if (mods & M_FIELDREF) {
		int ref;
		if (mods & (M_B64 | M_B64OFF | M_WINDASH))
			return cfail(c, n, "fieldref takes no transformation");
		ref = c->auditd ? -ENOENT : sigma_field_by_name(s);
		if (ref < 0)
			return cfail(c, n, "fieldref: field '%s' is not available", s);
		base.ref = ref;
		base.op = mods & M_CONTAINS ? SM_CONTAINS
			  : mods & M_STARTS ? SM_STARTS
			  : mods & M_ENDS   ? SM_ENDS
					    : SM_EQ;
		goto push_one;
	}

	/* transformations, then the match kind */
	bool wildcards = true;
	{
		size_t len;
		char *u = NULL;
		if (mods & (M_B64 | M_B64OFF)) {
			if ((mods & M_B64) && (mods & M_B64OFF))
				return cfail(c, n, "base64 and base64offset exclude each other");
			u = unescape(s, &len);
			wildcards = false;
		}
		if (mods & M_WINDASH) {
			if (windash(u ? u : s, u ? len : strlen(s), &vl) < 0) {
				free(u);
				vl_free(&vl);
				return cfail(c, n, "windash: too many variants");
			}
		} else
			vl_push(&vl, u ? u : s, u ? len : strlen(s));
		free(u);
		if (mods & M_B64) {
			struct vlist o = { 0 };
			for (size_t i = 0; i < vl.n; i++) {
				struct buf b;
				buf_init(&b, 2 * vl.len[i] + 16);
				b64((const unsigned char *)vl.s[i], vl.len[i], &b);
				vl_push(&o, buf_str(&b), buf_len(&b));
				buf_free(&b);
			}
			vl_free(&vl);
			vl = o;
		} else if (mods & M_B64OFF) {
			struct vlist o = { 0 };
			for (size_t i = 0; i < vl.n; i++)
				b64_offsets(vl.s[i], vl.len[i], &o);
			vl_free(&vl);
			vl = o;
			/* base64offset finds the value inside a longer encoded text */
			mods |= M_CONTAINS;
		}
	}
	if (vl.n > 1 && (f->all || (mods & M_ALL))) {
		/* variants of one value are alternatives, which |all cannot express */
		vl_free(&vl);
		return cfail(c, n, "all cannot combine with windash or base64offset");
	}
	for (size_t i = 0; i < vl.n; i++) {
		struct svalue v = { .ref = -1 };
		make_pattern(&v, vl.s[i], vl.len[i], wildcards, mods & (M_CONTAINS | M_ENDS),
			     mods & (M_CONTAINS | M_STARTS));
		f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
		f->v[f->n++] = v;
	}
	vl_free(&vl);
	return 0;

push_one:
	f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
	f->v[f->n++] = base;
	return 0;
}

/* --- selections -------------------------------------------------------------------------- */

static int map_field(struct cctx *c, const struct ynode *key, const char *name, int *out)
{
	const struct fmap *tab = c->auditd ? audit_fields : sigma_fields;
	size_t n = c->auditd ? ARRAY_SIZE(audit_fields) : ARRAY_SIZE(sigma_fields);

	if (c->auditd && name[0] == 'a' && isdigit((unsigned char)name[1])) {
		int64_t i;
		if (parse_i64(name + 1, 0, SF_ARG_LAST - SF_ARG0, &i) == 0) {
			*out = SF_ARG0 + (int)i;
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name)) {
			if (!(tab[i].groups & c->kinds))
				return cfail(c, key, "field '%s' is not filled for this logsource",
					     name);
			*out = tab[i].field;
			return 0;
		}
	if (!c->auditd) {
		int f = event_field_by_name(name);
		if (f >= 0) {
			*out = f;
			return 0;
		}
	}
	return cfail(c, key, "field '%s' is not available%s", name,
		     c->auditd ? " for auditd rules" : "");
}

static int parse_key(struct cctx *c, const struct ynode *key, int *field, unsigned *mods)
{
	_cleanup_strv_ strv parts = NULL;
	const char *k = key->scalar;
	const char *bar = strchr(k, '|');
	size_t flen = bar ? (size_t)(bar - k) : strlen(k);
	_cleanup_free_ char *fname = xstrndup(k, flen);
	int r;

	*mods = 0;
	if (bar) {
		parts = str_split(bar + 1, "|");
		for (size_t i = 0; parts[i]; i++) {
			size_t j;
			for (j = 0; j < ARRAY_SIZE(mod_names); j++)
				if (!strcmp(parts[i], mod_names[j].name))
					break;
			if (j == ARRAY_SIZE(mod_names))
				return cfail(c, key, "unknown modifier '%s'", parts[i]);
			*mods |= mod_names[j].bit;
		}
	}
	if (!fname[0]) {
		*field = SF_KEYWORDS;
		return 0;
	}
	r = map_field(c, key, fname, field);
	return r;
}

static int add_field(struct cctx *c, struct salt *a, const struct ynode *key,
		     const struct ynode *val)
{
	struct sfield f = { 0 };
	unsigned mods;
	int r;

	if (key->type != YNODE_SCALAR)
		return cfail(c, key, "expected a field name");
	r = parse_key(c, key, &f.field, &mods);
	if (r < 0)
		return r;
	f.all = mods & M_ALL;
	mods &= ~(unsigned)M_ALL;
	if (val->type == YNODE_SEQ) {
		if (!val->n)
			return cfail(c, val, "empty list of values");
		for (size_t i = 0; i < val->n && r == 0; i++)
			r = add_value(c, &f, val->items[i], mods);
	} else
		r = add_value(c, &f, val, mods);
	a->f = xrealloc(a->f, (a->n + 1) * sizeof(*a->f));
	a->f[a->n++] = f;
	return r;
}

static int add_map_alt(struct cctx *c, struct ssel *s, const struct ynode *m)
{
	struct salt *a;
	int r = 0;

	if (!m->n)
		return cfail(c, m, "empty selection");
	s->alt = xrealloc(s->alt, (s->n + 1) * sizeof(*s->alt));
	a = &s->alt[s->n++];
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < m->n && r == 0; i++)
		r = add_field(c, a, m->keys[i], m->items[i]);
	return r;
}

static int compile_selection(struct cctx *c, struct ssel *s, const struct ynode *n)
{
	struct salt *kw = NULL;
	int r = 0;

	if (n->type == YNODE_MAP)
		return add_map_alt(c, s, n);
	if (n->type == YNODE_SCALAR && !is_null(n)) {
		/* a single keyword */
	} else if (n->type != YNODE_SEQ || !n->n)
		return cfail(c, n, "selection: expected a map, a list of maps or keywords");
	size_t cnt = n->type == YNODE_SEQ ? n->n : 1;
	for (size_t i = 0; i < cnt && r == 0; i++) {
		const struct ynode *it = n->type == YNODE_SEQ ? n->items[i] : n;
		if (it->type == YNODE_MAP) {
			r = add_map_alt(c, s, it);
			kw = NULL; /* the array moved; find the keyword alternative again */
			continue;
		}
		if (it->type != YNODE_SCALAR)
			return cfail(c, it, "selection: lists nest no lists");
		if (!kw) {
			for (size_t j = 0; j < s->n; j++)
				if (s->alt[j].n == 1 && s->alt[j].f[0].field == SF_KEYWORDS &&
				    !s->alt[j].f[0].all)
					kw = &s->alt[j];
			if (!kw) {
				s->alt = xrealloc(s->alt, (s->n + 1) * sizeof(*s->alt));
				kw = &s->alt[s->n++];
				kw->n = 1;
				kw->f = xcalloc(1, sizeof(*kw->f));
				kw->f[0].field = SF_KEYWORDS;
			}
		}
		r = add_value(c, &kw->f[0], it, M_CONTAINS);
	}
	return r;
}

static int compile_detection(struct cctx *c, struct sdetect *d)
{
	const struct ynode *det = ynode_get(c->r->doc, "detection");
	const struct ynode *cond = NULL;
	_cleanup_free_ char *text = NULL;
	char err[512];
	int r;

	if (!det || det->type != YNODE_MAP)
		return cfail(c, det, "detection: expected a map");
	for (size_t i = 0; i < det->n; i++) {
		const char *name = det->keys[i]->scalar;
		if (!strcmp(name, "condition")) {
			cond = det->items[i];
			continue;
		}
		if (!strcmp(name, "timeframe"))
			continue;
		d->sel = xrealloc(d->sel, (d->n_sel + 1) * sizeof(*d->sel));
		struct ssel *s = &d->sel[d->n_sel++];
		memset(s, 0, sizeof(*s));
		s->name = xstrdup(name);
		r = compile_selection(c, s, det->items[i]);
		if (r < 0)
			return r;
	}
	if (!cond)
		return cfail(c, det, "detection has no condition");
	if (cond->type == YNODE_SCALAR) {
		text = xstrdup(cond->scalar);
	} else if (cond->type == YNODE_SEQ && cond->n) {
		/* a list of conditions: any of them */
		struct buf b;
		buf_init(&b, 65536);
		for (size_t i = 0; i < cond->n; i++) {
			if (cond->items[i]->type != YNODE_SCALAR) {
				buf_free(&b);
				return cfail(c, cond->items[i], "condition: expected a string");
			}
			buf_printf(&b, "%s(%s)", i ? " or " : "", cond->items[i]->scalar);
		}
		text = xstrdup(buf_str(&b));
		buf_free(&b);
	} else
		return cfail(c, cond, "condition: expected a string");
	r = scond_parse(text, d->sel, d->n_sel, &d->cond, err, sizeof(err));
	if (r < 0)
		return cfail(c, cond, "%s", err);
	return 0;
}

static void svalue_free(struct svalue *v)
{
	free(v->lit);
	free(v->wild);
	free(v->src);
	pcre2_code_free(v->re);
}

void sdetect_free(struct sdetect *d)
{
	for (size_t i = 0; i < d->n_sel; i++) {
		struct ssel *s = &d->sel[i];
		for (size_t j = 0; j < s->n; j++) {
			for (size_t k = 0; k < s->alt[j].n; k++) {
				struct sfield *f = &s->alt[j].f[k];
				for (size_t l = 0; l < f->n; l++)
					svalue_free(&f->v[l]);
				free(f->v);
			}
			free(s->alt[j].f);
		}
		free(s->alt);
		free(s->name);
	}
	free(d->sel);
	scond_free(d->cond);
	free(d->service);
	memset(d, 0, sizeof(*d));
}

int sigma_compile_rule(struct sigma_ruleset *rs, struct srule *r)
{
	struct cctx c = { .rs = rs, .r = r };
	int ret;

	ret = map_logsource(&c, &r->det);
	if (ret == 0)
		ret = compile_detection(&c, &r->det);
	if (ret < 0) {
		sigma_error_add(rs, r->pub.file, c.err_line, r->pub.id, "%s", c.err);
		sdetect_free(&r->det);
		return ret;
	}
	r->compiled = true;
	return 0;
}

/* --- correlations ------------------------------------------------------------------------ */

/* Whether correlation r refers to detection rules only: a correlation may refer to such a
 * correlation, which keeps nesting to one level and references free of cycles. */
static bool corr_of_detections(const struct sigma_ruleset *rs, const struct srule *r)
{
	for (size_t i = 0; r->corr_refs && r->corr_refs[i]; i++) {
		ssize_t x = sigma_ruleset_find(rs, r->corr_refs[i]);
		if (x >= 0 && rs->rules[x]->pub.correlation)
			return false;
	}
	return true;
}

int sigma_compile_correlation(struct sigma_ruleset *rs, struct srule *r)
{
	struct sigma_correlation *k = &r->corr;
	size_t n = strv_len(r->corr_refs);

	k->refs = xcalloc(n, sizeof(size_t));
	k->n_refs = 0;
	for (size_t i = 0; i < n; i++) {
		ssize_t x = sigma_ruleset_find(rs, r->corr_refs[i]);
		const char *why =
			x < 0			? "is not loaded"
			: rs->rules[x]->dropped ? "was dropped"
			: rs->rules[x] == r	? "is this correlation"
			: rs->rules[x]->pub.correlation && !corr_of_detections(rs, rs->rules[x])
				? "is a correlation of correlations (one level of nesting)"
				: NULL;
		if (why) {
			sigma_error_add(rs, r->pub.file, r->corr_line, r->pub.id,
					"correlation rule '%s' %s", r->corr_refs[i], why);
			return -ENOENT;
		}
		k->refs[k->n_refs++] = (size_t)x;
	}
	n = strv_len(r->corr_group_by);
	k->group_by = xcalloc(n ? n : 1, sizeof(*k->group_by));
	k->n_group_by = 0;
	for (size_t i = 0; i < n; i++) {
		int f = sigma_field_by_name(r->corr_group_by[i]);
		if (f == SF_TARGET)
			f = EF_TARGET_FILENAME;
		if (f < 0 || f >= EF_COUNT) {
			sigma_error_add(rs, r->pub.file, r->corr_line, r->pub.id,
					"correlation group-by field '%s' is not available",
					r->corr_group_by[i]);
			return -ENOENT;
		}
		k->group_by[k->n_group_by++] = (enum event_field)f;
	}
	if (r->corr_value_field) {
		int f = sigma_field_by_name(r->corr_value_field);
		if (f == SF_TARGET)
			f = EF_TARGET_FILENAME;
		if (f < 0 || f >= EF_COUNT) {
			sigma_error_add(rs, r->pub.file, r->corr_line, r->pub.id,
					"correlation value field '%s' is not available",
					r->corr_value_field);
			return -ENOENT;
		}
		k->value_field = (enum event_field)f;
	}
	return 0;
}
