/* The sshd_config table: sshd's effective configuration, as `sshd -T` prints it for the global
 * context, plus the settings of Match blocks (with their criteria in the match column).
 *
 * Reading follows sshd's rules: keywords are case-insensitive, "key value" and "key=value"
 * are both accepted, arguments may be quoted, Include expands glob patterns (relative to
 * /etc/ssh) to a depth of 16, the first value obtained for a keyword wins (list keywords such
 * as AllowUsers or Port accumulate every value). An unknown keyword, a bad value or a line
 * that is not text is an error for the table, as sshd would refuse to start. Keywords never
 * set in the global context get a row with OpenSSH 9.2's default value (source "default"). */
#include "inventory/collectors.h"
#include "inventory/parsers.h"
#include "lib/str.h"

#include <ctype.h>
#include <fnmatch.h>

#define SSHD_CONFIG "/etc/ssh/sshd_config"
#define SSHD_DIR "/etc/ssh"
#define SSHD_FILE_MAX (1024 * 1024)
#define SSHD_DEPTH_MAX 16
#define SSHD_SETTINGS_MAX 4096
#define SSHD_VALUE_MAX (64 * 1024)
#define T "sshd_config"

enum kw_kind {
	KW_TEXT,    /* kept as written (yes/no/none/any lower-cased) */
	KW_LOWER,   /* keyword values: lower-cased, each argument checked against values */
	KW_UPPER,   /* keyword values sshd -T prints in upper case (loglevel, syslogfacility) */
	KW_INT,	    /* a non-negative integer */
	KW_TIME,    /* a time interval, printed in seconds */
	KW_INCLUDE, /* Include */
	KW_MATCH,   /* Match */
	KW_IGNORED, /* deprecated or unsupported: sshd accepts it and ignores it */
	KW_ALGS,    /* algorithm list: "+list", "-list" and "^list" edit the default list */
};

struct keyword {
	const char *name;
	enum kw_kind kind;
	bool multi;	    /* every occurrence adds to the value */
	const char *values; /* allowed values, space-separated (NULL: any) */
	const char *def;    /* OpenSSH's default (NULL: none printed) */
};

#define YESNO "yes no"
#define KEYALGS                                                                                    \
	"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"               \
	"ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"       \
	"sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"         \
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"         \
	"ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"  \
	"sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
#define CASIGALGS                                                                                  \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"                 \
	"sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,"              \
	"rsa-sha2-256"
#define CIPHERS                                                                                    \
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"                          \
	"aes128-gcm@openssh.com,aes256-gcm@openssh.com"
#define MACS                                                                                       \
	"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"          \
	"hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"             \
	"umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
#define KEX                                                                                        \
	"sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,"       \
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"                                \
	"diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"                      \
	"diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
#define FORWARD "yes no all local remote"
#define FACILITIES                                                                                 \
	"daemon user auth authpriv local0 local1 local2 local3 local4 local5 local6 local7"
#define LEVELS "quiet fatal error info verbose debug debug1 debug2 debug3"

/* OpenSSH 9.x server keywords (upstream, plus the Debian and Red Hat GSSAPI/Kerberos patches),
 * in name order. */
static const struct keyword keywords[] = {
	{ "acceptenv", KW_TEXT, true, NULL, NULL },
	{ "addressfamily", KW_LOWER, false, "any inet inet6", "any" },
	{ "allowagentforwarding", KW_LOWER, false, YESNO, "yes" },
	{ "allowgroups", KW_TEXT, true, NULL, NULL },
	{ "allowstreamlocalforwarding", KW_LOWER, false, FORWARD, "yes" },
	{ "allowtcpforwarding", KW_LOWER, false, FORWARD, "yes" },
	{ "allowusers", KW_TEXT, true, NULL, NULL },
	{ "authenticationmethods", KW_TEXT, false, NULL, "any" },
	{ "authorizedkeyscommand", KW_TEXT, false, NULL, "none" },
	{ "authorizedkeyscommanduser", KW_TEXT, false, NULL, "none" },
	{ "authorizedkeysfile", KW_TEXT, false, NULL,
	  ".ssh/authorized_keys .ssh/authorized_keys2" },
	{ "authorizedprincipalscommand", KW_TEXT, false, NULL, "none" },
	{ "authorizedprincipalscommanduser", KW_TEXT, false, NULL, "none" },
	{ "authorizedprincipalsfile", KW_TEXT, false, NULL, "none" },
	{ "banner", KW_TEXT, false, NULL, "none" },
	{ "casignaturealgorithms", KW_ALGS, false, NULL, CASIGALGS },
	{ "channeltimeout", KW_TEXT, false, NULL, "none" },
	{ "chrootdirectory", KW_TEXT, false, NULL, "none" },
	{ "ciphers", KW_ALGS, false, NULL, CIPHERS },
	{ "clientalivecountmax", KW_INT, false, NULL, "3" },
	{ "clientaliveinterval", KW_TIME, false, NULL, "0" },
	{ "compression", KW_LOWER, false, "yes no delayed", "yes" },
	{ "debianbanner", KW_LOWER, false, YESNO, NULL },
	{ "denygroups", KW_TEXT, true, NULL, NULL },
	{ "denyusers", KW_TEXT, true, NULL, NULL },
	{ "disableforwarding", KW_LOWER, false, YESNO, "no" },
	{ "exposeauthinfo", KW_LOWER, false, YESNO, "no" },
	{ "fingerprinthash", KW_UPPER, false, "md5 sha256", "SHA256" },
	{ "forcecommand", KW_TEXT, false, NULL, "none" },
	{ "gatewayports", KW_LOWER, false, "yes no clientspecified", "no" },
	{ "gssapiauthentication", KW_LOWER, false, YESNO, "no" },
	{ "gssapicleanupcredentials", KW_LOWER, false, YESNO, "yes" },
	{ "gssapienablek5users", KW_LOWER, false, YESNO, NULL },
	{ "gssapikeyexchange", KW_LOWER, false, YESNO, NULL },
	{ "gssapikexalgorithms", KW_TEXT, false, NULL, NULL },
	{ "gssapistorecredentialsonrekey", KW_LOWER, false, YESNO, NULL },
	{ "gssapistrictacceptorcheck", KW_LOWER, false, YESNO, "yes" },
	{ "hostbasedacceptedalgorithms", KW_ALGS, false, NULL, KEYALGS },
	{ "hostbasedauthentication", KW_LOWER, false, YESNO, "no" },
	{ "hostbasedusesnamefrompacketonly", KW_LOWER, false, YESNO, "no" },
	{ "hostcertificate", KW_TEXT, true, NULL, NULL },
	{ "hostkey", KW_TEXT, true, NULL,
	  "/etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key" },
	{ "hostkeyagent", KW_TEXT, false, NULL, NULL },
	{ "hostkeyalgorithms", KW_ALGS, false, NULL, KEYALGS },
	{ "ignorerhosts", KW_LOWER, false, "yes no shosts-only", "yes" },
	{ "ignoreuserknownhosts", KW_LOWER, false, YESNO, "no" },
	{ "include", KW_INCLUDE, false, NULL, NULL },
	{ "ipqos", KW_LOWER, false, NULL, "af21 cs1" },
	{ "kbdinteractiveauthentication", KW_LOWER, false, YESNO, "yes" },
	{ "kerberosauthentication", KW_LOWER, false, YESNO, "no" },
	{ "kerberosgetafstoken", KW_LOWER, false, YESNO, "no" },
	{ "kerberosorlocalpasswd", KW_LOWER, false, YESNO, "yes" },
	{ "kerberosticketcleanup", KW_LOWER, false, YESNO, "yes" },
	{ "kerberosusekuserok", KW_LOWER, false, YESNO, NULL },
	{ "kexalgorithms", KW_ALGS, false, NULL, KEX },
	{ "listenaddress", KW_TEXT, true, NULL, "[::]:22 0.0.0.0:22" },
	{ "logingracetime", KW_TIME, false, NULL, "120" },
	{ "loglevel", KW_UPPER, false, LEVELS, "INFO" },
	{ "logverbose", KW_TEXT, false, NULL, NULL },
	{ "macs", KW_ALGS, false, NULL, MACS },
	{ "match", KW_MATCH, false, NULL, NULL },
	{ "maxauthtries", KW_INT, false, NULL, "6" },
	{ "maxsessions", KW_INT, false, NULL, "10" },
	{ "maxstartups", KW_TEXT, false, NULL, "10:30:100" },
	{ "modulifile", KW_TEXT, false, NULL, "/etc/ssh/moduli" },
	{ "passwordauthentication", KW_LOWER, false, YESNO, "yes" },
	{ "permitemptypasswords", KW_LOWER, false, YESNO, "no" },
	{ "permitlisten", KW_TEXT, false, NULL, "any" },
	{ "permitopen", KW_TEXT, false, NULL, "any" },
	{ "permitrootlogin", KW_LOWER, false,
	  "yes no prohibit-password without-password forced-commands-only", "prohibit-password" },
	{ "permittty", KW_LOWER, false, YESNO, "yes" },
	{ "permittunnel", KW_LOWER, false, "yes no point-to-point ethernet", "no" },
	{ "permituserenvironment", KW_TEXT, false, NULL, "no" },
	{ "permituserrc", KW_LOWER, false, YESNO, "yes" },
	{ "persourcemaxstartups", KW_TEXT, false, NULL, "none" },
	{ "persourcenetblocksize", KW_TEXT, false, NULL, "32:128" },
	{ "persourcepenalties", KW_TEXT, false, NULL, NULL },
	{ "persourcepenaltyexemptlist", KW_TEXT, false, NULL, NULL },
	{ "pidfile", KW_TEXT, false, NULL, "/run/sshd.pid" },
	{ "port", KW_TEXT, true, NULL, "22" },
	{ "printlastlog", KW_LOWER, false, YESNO, "yes" },
	{ "printmotd", KW_LOWER, false, YESNO, "yes" },
	{ "pubkeyacceptedalgorithms", KW_ALGS, false, NULL, KEYALGS },
	{ "pubkeyauthentication", KW_LOWER, false, YESNO, "yes" },
	{ "pubkeyauthoptions", KW_LOWER, false, "none touch-required verify-required", "none" },
	{ "rdomain", KW_TEXT, false, NULL, NULL },
	{ "rekeylimit", KW_TEXT, false, NULL, "0 0" },
	{ "requiredrsasize", KW_INT, false, NULL, "1024" },
	{ "revokedkeys", KW_TEXT, false, NULL, "none" },
	{ "securitykeyprovider", KW_TEXT, false, NULL, "internal" },
	{ "setenv", KW_TEXT, false, NULL, NULL },
	{ "sshdsessionpath", KW_TEXT, false, NULL, NULL },
	{ "streamlocalbindmask", KW_TEXT, false, NULL, "0177" },
	{ "streamlocalbindunlink", KW_LOWER, false, YESNO, "no" },
	{ "strictmodes", KW_LOWER, false, YESNO, "yes" },
	{ "subsystem", KW_TEXT, true, NULL, NULL },
	{ "syslogfacility", KW_UPPER, false, FACILITIES, "AUTH" },
	{ "tcpkeepalive", KW_LOWER, false, YESNO, "yes" },
	{ "trustedusercakeys", KW_TEXT, false, NULL, "none" },
	{ "unusedconnectiontimeout", KW_TEXT, false, NULL, "none" },
	{ "usedns", KW_LOWER, false, YESNO, "no" },
	{ "usepam", KW_LOWER, false, YESNO, "no" },
	{ "versionaddendum", KW_TEXT, false, NULL, "none" },
	{ "x11displayoffset", KW_INT, false, NULL, "10" },
	{ "x11forwarding", KW_LOWER, false, YESNO, "no" },
	{ "x11uselocalhost", KW_LOWER, false, YESNO, "yes" },
	{ "xauthlocation", KW_TEXT, false, NULL, "/usr/bin/xauth" },
};

/* Older names sshd still accepts for a keyword (and the deprecated ones it ignores). */
static const struct {
	const char *alias, *name;
} aliases[] = {
	{ "authorizedkeysfile2", "authorizedkeysfile" },
	{ "challengeresponseauthentication", "kbdinteractiveauthentication" },
	{ "dsaauthentication", "pubkeyauthentication" },
	{ "hostbasedacceptedkeytypes", "hostbasedacceptedalgorithms" },
	{ "hostdsakey", "hostkey" },
	{ "pubkeyacceptedkeytypes", "pubkeyacceptedalgorithms" },
	{ "skeyauthentication", "kbdinteractiveauthentication" },
};

static const char *const ignored[] = {
	"afstokenpassing",
	"keyregenerationinterval",
	"kerberostgtpassing",
	"pamauthenticationviakbdint",
	"protocol",
	"reversemappingcheck",
	"rhostsauthentication",
	"rhostsrsaauthentication",
	"rsaauthentication",
	"serverkeybits",
	"uselogin",
	"useprivilegeseparation",
	"verifyreversemapping",
};

static const struct keyword ignored_kw = { "", KW_IGNORED, false, NULL, NULL };

static const struct keyword *keyword_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		if (strcmp(name, ignored[i]) == 0)
			return &ignored_kw;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		if (strcmp(name, keywords[i].name) == 0)
			return &keywords[i];
	return NULL;
}

struct setting {
	const struct keyword *kw;
	char *match; /* "" for the global context */
	struct buf value;
	char *file;
	unsigned line;
};

struct file_id {
	dev_t dev;
	ino_t ino;
};

struct sshd_parse {
	struct inv_ctx *ctx;
	struct setting *set;
	size_t n, alloc;
	struct file_id stack[SSHD_DEPTH_MAX + 2]; /* files being read, for loop detection */
	unsigned depth;
	bool overflow; /* SSHD_SETTINGS_MAX reached (reported once) */
};

static void parse_free(struct sshd_parse *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->set[i].match);
		buf_free(&p->set[i].value);
		free(p->set[i].file);
	}
	free(p->set);
}

/* Splits the arguments of a line as sshd does: white space separates them, single or double
 * quotes group them, a backslash escapes a quote, a backslash or a blank, and an unquoted '#'
 * at the start of an argument ends the line. Returns 0 or -EINVAL (unterminated quote). */
static int split_args(const char *s, strv *out)
{
	strv v = xcalloc(1, sizeof(char *));
	struct buf arg;
	int r = 0;

	buf_init(&arg, SSHD_FILE_MAX);
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			break;
		char quote = 0;
		buf_reset(&arg);
		for (; *s; s++) {
			if (!quote && (*s == ' ' || *s == '\t' || *s == '\r'))
				break;
			if (*s == '\\' && s[1] && strchr(quote ? "\\\"'" : "\\\"' \t", s[1])) {
				s++;
			} else if (!quote && (*s == '"' || *s == '\'')) {
				quote = *s;
				continue;
			} else if (quote && *s == quote) {
				quote = 0;
				continue;
			}
			(void)buf_append(&arg, s, 1);
		}
		if (quote) {
			r = -EINVAL;
			break;
		}
		strv_push(&v, buf_str(&arg));
	}
	buf_free(&arg);
	if (r < 0) {
		strv_free(v);
		return r;
	}
	*out = v;
	return 0;
}

/* Converts an sshd time interval ("90", "2m", "1h30m") to seconds. */
static int parse_time(const char *s, int64_t *out)
{
	int64_t total = 0;
	if (!*s)
		return -EINVAL;
	while (*s) {
		int64_t n = 0, mult = 1;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		for (; isdigit((unsigned char)*s); s++) {
			if (n > (INT32_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (*s - '0');
		}
		switch (tolower((unsigned char)*s)) {
		case '\0': break;
		case 's': s++; break;
		case 'm': mult = 60, s++; break;
		case 'h': mult = 3600, s++; break;
		case 'd': mult = 86400, s++; break;
		case 'w': mult = 604800, s++; break;
		default: return -EINVAL;
		}
		total += n * mult;
		if (total > INT32_MAX)
			return -ERANGE;
	}
	*out = total;
	return 0;
}

/* Builds the value of a setting from its arguments, as sshd -T would print it. Returns 0, or
 * -EINVAL with a reason in why. */
static int make_value(const struct keyword *kw, char **args, struct buf *out, const char **why)
{
	int64_t n;
	/* keywords taking one value: sshd (8.7 and later) refuses extra arguments */
	bool single = kw->kind == KW_INT || kw->kind == KW_TIME || kw->kind == KW_UPPER ||
		      (kw->kind == KW_LOWER && kw->values && strcmp(kw->name, "pubkeyauthoptions"));
	if (single && args[0] && args[1]) {
		*why = "extra arguments at end of line";
		return -EINVAL;
	}
	for (size_t i = 0; args[i]; i++) {
		char *arg = args[i];
		if (kw->kind == KW_LOWER || kw->kind == KW_UPPER || str_case_eq(arg, "yes") ||
		    str_case_eq(arg, "no") || str_case_eq(arg, "none") || str_case_eq(arg, "any"))
			str_lower(arg);
		if (kw->values && !str_list_has(kw->values, arg, " ", false)) {
			*why = "unsupported value";
			return -EINVAL;
		}
		if (kw->kind == KW_UPPER)
			for (char *c = arg; *c; c++)
				*c = (char)toupper((unsigned char)*c);
		const char *a = arg;
		if (strcmp(kw->name, "permitrootlogin") == 0 && strcmp(a, "without-password") == 0)
			a = "prohibit-password";
		_cleanup_free_ char *num = NULL;
		if (kw->kind == KW_INT && parse_i64(a, 0, INT32_MAX, &n) < 0) {
			*why = "not a non-negative integer";
			return -EINVAL;
		}
		if (kw->kind == KW_TIME) {
			if (parse_time(a, &n) < 0) {
				*why = "not a time interval";
				return -EINVAL;
			}
			a = num = xasprintf("%lld", (long long)n);
		}
		if ((i && buf_puts(out, " ") < 0) || buf_puts(out, a) < 0) {
			*why = "value too long";
			return -EINVAL;
		}
	}
	return 0;
}

static bool in_list(char **items, const char *name, bool patterns)
{
	for (size_t i = 0; items[i]; i++)
		if (patterns ? fnmatch(items[i], name, 0) == 0 : strcmp(items[i], name) == 0)
			return true;
	return false;
}

/* Expands an algorithm list relative to the default as sshd does: "+a,b" appends, "^a,b"
 * prepends, "-a,b*" removes (wildcards allowed). Other lists are kept as written. */
static int expand_algs(const struct keyword *kw, struct buf *value)
{
	const char *v = buf_str(value);
	char op = v[0];
	if (!kw->def || (op != '+' && op != '-' && op != '^'))
		return 0;
	_cleanup_strv_ strv edit = str_split(v + 1, ",");
	_cleanup_strv_ strv def = str_split(kw->def, ",");
	_cleanup_strv_ strv out = xcalloc(1, sizeof(char *));
	if (op == '^')
		for (size_t i = 0; edit[i]; i++)
			if (!strv_contains(out, edit[i]))
				strv_push(&out, edit[i]);
	for (size_t i = 0; def[i]; i++)
		if (!(op == '-' && in_list(edit, def[i], true)) && !strv_contains(out, def[i]))
			strv_push(&out, def[i]);
	if (op == '+')
		for (size_t i = 0; edit[i]; i++)
			if (!strv_contains(out, edit[i]))
				strv_push(&out, edit[i]);
	buf_reset(value);
	for (size_t i = 0; out[i]; i++)
		if (buf_printf(value, "%s%s", i ? "," : "", out[i]) < 0)
			return -EINVAL;
	return 0;
}

static struct setting *setting_find(struct sshd_parse *p, const struct keyword *kw,
				    const char *match)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->set[i].kw == kw && strcmp(p->set[i].match, match) == 0)
			return &p->set[i];
	return NULL;
}

/* Records one setting: the first occurrence wins, list keywords accumulate. */
static void setting_add(struct sshd_parse *p, const struct keyword *kw, const char *match,
			const struct buf *value, const char *file, unsigned line)
{
	struct setting *s = setting_find(p, kw, match);
	if (s) {
		if (kw->multi &&
		    (buf_puts(&s->value, " ") < 0 || buf_puts(&s->value, buf_str(value)) < 0))
			inv_error(p->ctx, T, file, -EMSGSIZE, "%s:%u: %s", file, line, kw->name);
		return;
	}
	if (p->n == SSHD_SETTINGS_MAX) {
		if (!p->overflow)
			inv_error(p->ctx, T, file, -E2BIG, "%s:%u: too many settings", file, line);
		p->overflow = true;
		return;
	}
	if (p->n == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 64;
		p->set = xrealloc(p->set, p->alloc * sizeof(*p->set));
	}
	s = &p->set[p->n++];
	s->kw = kw;
	s->match = xstrdup(match);
	buf_init(&s->value, SSHD_VALUE_MAX);
	(void)buf_puts(&s->value, buf_str(value));
	s->file = xstrdup(file);
	s->line = line;
}

static void parse_file(struct sshd_parse *p, const char *path, const char *match, bool top);

/* Include: every argument is a glob pattern, relative to /etc/ssh unless absolute. */
static void do_include(struct sshd_parse *p, char **args, const char *match, const char *file,
		       unsigned line)
{
	for (size_t i = 0; args[i]; i++) {
		_cleanup_free_ char *pattern = args[i][0] == '/'
						       ? xstrdup(args[i])
						       : xasprintf("%s/%s", SSHD_DIR, args[i]);
		if (p->depth >= SSHD_DEPTH_MAX) {
			inv_error(p->ctx, T, file, -ELOOP, "%s:%u: Include depth exceeded", file,
				  line);
			return;
		}
		if (!strpbrk(pattern, "*?[")) {
			parse_file(p, pattern, match, false);
			continue;
		}
		_cleanup_strv_ strv paths = NULL;
		int r = fsroot_glob(p->ctx->root, pattern, &paths);
		if (r < 0) {
			inv_error(p->ctx, T, pattern, r, "%s:%u: Include %s", file, line, pattern);
			continue;
		}
		for (size_t j = 0; paths[j]; j++)
			parse_file(p, paths[j], match, false);
	}
}

/* Parses one line. *match is the current Match criteria (owned, replaced by Match). Returns
 * false when the rest of the file must be skipped. */
static bool parse_line(struct sshd_parse *p, const char *path, unsigned lineno, const char *text,
		       size_t len, char **match)
{
	if (!str_is_text(text, len)) {
		inv_error(p->ctx, T, path, -EBADMSG, "%s:%u: line is not text", path, lineno);
		return false;
	}
	_cleanup_free_ char *copy = xstrndup(text, len);
	char *s = copy;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#')
		return true;
	char *end = s + strcspn(s, " \t\r=");
	char *rest = end, sep = *end;
	if (sep) {
		/* the keyword ends at white space or at one '=', itself maybe after white space */
		*rest++ = '\0';
		rest += strspn(rest, " \t\r");
		if (sep != '=' && *rest == '=')
			rest++;
	}
	_cleanup_free_ char *name = str_lower(xstrdup(s));
	const struct keyword *kw = keyword_find(name);
	if (!kw) {
		inv_error(p->ctx, T, path, -EINVAL, "%s:%u: unknown keyword %s", path, lineno, s);
		return true;
	}
	_cleanup_strv_ strv args = NULL;
	if (split_args(rest, &args) < 0) {
		inv_error(p->ctx, T, path, -EINVAL, "%s:%u: unterminated quote", path, lineno);
		return true;
	}
	if (!args[0] && kw->kind != KW_IGNORED) {
		inv_error(p->ctx, T, path, -EINVAL, "%s:%u: %s: missing argument", path, lineno,
			  kw->name);
		return true;
	}
	switch (kw->kind) {
	case KW_IGNORED: return true;
	case KW_INCLUDE: do_include(p, args, *match, path, lineno); return true;
	case KW_MATCH: {
		struct buf crit;
		buf_init(&crit, SSHD_VALUE_MAX);
		for (size_t i = 0; args[i]; i++)
			(void)buf_printf(&crit, "%s%s", i ? " " : "", args[i]);
		free(*match);
		*match = buf_steal(&crit);
		return true;
	}
	default: break;
	}
	struct buf value;
	const char *why = "value too long";
	buf_init(&value, SSHD_VALUE_MAX);
	if (make_value(kw, args, &value, &why) < 0 || expand_algs(kw, &value) < 0)
		inv_error(p->ctx, T, path, -EINVAL, "%s:%u: %s: %s", path, lineno, kw->name, why);
	else
		setting_add(p, kw, *match, &value, path, lineno);
	buf_free(&value);
	return true;
}

static void parse_text(struct sshd_parse *p, const char *path, const char *data, size_t len,
		       const char *match)
{
	struct cursor c;
	const char *line;
	size_t n;
	unsigned lineno = 0;
	_cleanup_free_ char *cur = xstrdup(match);

	cursor_init(&c, data, len);
	while (cursor_get_line(&c, &line, &n) > 0)
		if (!parse_line(p, path, ++lineno, line, n, &cur))
			break;
}

/* Reads and parses one file; a Match inside it ends at its end (sshd restores the context of
 * the Include line). */
static void parse_file(struct sshd_parse *p, const char *path, const char *match, bool top)
{
	struct stat st;
	int r = fsroot_stat(p->ctx->root, path, true, &st);
	if (r == -ENOENT && !top)
		return;
	if (r < 0) {
		if (r != -ENOENT)
			inv_error(p->ctx, T, path, r, "reading %s", path);
		return;
	}
	for (unsigned i = 0; i < p->depth; i++)
		if (p->stack[i].dev == st.st_dev && p->stack[i].ino == st.st_ino) {
			inv_error(p->ctx, T, path, -ELOOP, "Include loop: %s includes itself",
				  path);
			return;
		}

	struct buf b;
	buf_init(&b, SSHD_FILE_MAX);
	r = fsroot_read(p->ctx->root, path, SSHD_FILE_MAX, &b);
	if (r < 0) {
		inv_error(p->ctx, T, path, r, "reading %s", path);
		buf_free(&b);
		return;
	}
	p->stack[p->depth++] = (struct file_id){ st.st_dev, st.st_ino };
	parse_text(p, path, buf_str(&b), buf_len(&b), match);
	p->depth--;
	buf_free(&b);
}

static void emit_rows(struct sshd_parse *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct setting *s = &p->set[i];
		json_t *row = inv_row(p->ctx, T);
		inv_set_str(row, "key", s->kw->name);
		inv_set_str(row, "value", buf_str(&s->value));
		inv_set_str(row, "source", "file");
		inv_set_str(row, "match", s->match);
		inv_set_str(row, "file", s->file);
		inv_set_int(row, "line", s->line);
	}
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		const struct keyword *kw = &keywords[i];
		if (!kw->def || setting_find(p, kw, ""))
			continue;
		json_t *row = inv_row(p->ctx, T);
		inv_set_str(row, "key", kw->name);
		inv_set_str(row, "value", kw->def);
		inv_set_str(row, "source", "default");
		inv_set_str(row, "match", "");
	}
}

void sshd_config_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len)
{
	struct sshd_parse p = { .ctx = ctx };
	struct stat st;

	if (fsroot_stat(ctx->root, path, true, &st) == 0)
		p.stack[p.depth++] = (struct file_id){ st.st_dev, st.st_ino };
	parse_text(&p, path, data, len, "");
	emit_rows(&p);
	parse_free(&p);
}

void collect_sshd_config(struct inv_ctx *ctx)
{
	struct buf b;
	buf_init(&b, SSHD_FILE_MAX);
	int r = fsroot_read(ctx->root, SSHD_CONFIG, SSHD_FILE_MAX, &b);
	if (r == -ENOENT) {
		buf_free(&b);
		return;
	}
	if (r < 0)
		inv_error(ctx, T, SSHD_CONFIG, r, "reading %s", SSHD_CONFIG);
	else
		sshd_config_parse_buffer(ctx, SSHD_CONFIG, buf_str(&b), buf_len(&b));
	buf_free(&b);
}
