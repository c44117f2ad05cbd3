/* Network actions through libnftables (docs/actions-network.md): block-address and
 * isolate-host.
 *
 * Everything lives in one table of our own, "table inet immune" (ctx->nft_table in tests),
 * created on first use by an idempotent skeleton that every change carries in the same
 * transaction: the sets, the isolation chains and three base chains (input, output,
 * forward) at priority filter - 10 whose rules are flushed and re-added each time. No other
 * table is ever read or written.
 *
 * Isolation is a dead-man switch: the base chains jump to the isolation chains only while
 * the set "isolation" (type nf_proto) holds an element with a timeout, so the kernel lifts
 * the isolation by itself when nobody refreshes the element (act_isolate_refresh). Every
 * string written into an nft command is a checked table name or an address this file
 * printed itself from its binary form. */
#include "respond/act.h"
#include "respond/act_net.h"

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NET_CMD_CAP (256u * 1024)	/* one nft transaction */
#define NET_OUT_CAP (16u * 1024 * 1024) /* nft's JSON listing of one set or chain */
#define NET_STATE_CAP 4096		/* STATE/respond/isolation.json */
#define NET_STATE_FILE "isolation.json"
#define NET_PRIORITY "filter - 10"

/* ---- addresses ---- */

int net_addr_parse(const char *s, struct net_addr *out)
{
	char text[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, n);
	text[n] = '\0';

	struct net_addr a = { 0 };
	unsigned max;
	if (inet_pton(AF_INET, text, a.bin) == 1) {
		a.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, a.bin) == 1) {
		a.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	a.prefix = max;
	if (slash) {
		uint64_t p;
		if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
		    strlen(slash + 1) > 3 || parse_u64(slash + 1, 10, max, &p) < 0)
			return -EINVAL;
		a.prefix = (unsigned)p;
	}
	for (unsigned bit = a.prefix; bit < max; bit++)
		a.bin[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	*out = a;
	return 0;
}

static unsigned addr_bits(const struct net_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

void net_addr_format(const struct net_addr *a, char out[NET_ADDR_TEXT])
{
	char text[INET6_ADDRSTRLEN];
	if (!inet_ntop(a->family, a->bin, text, sizeof(text)))
		text[0] = '\0';
	if (a->prefix == addr_bits(a))
		snprintf(out, NET_ADDR_TEXT, "%s", text);
	else
		snprintf(out, NET_ADDR_TEXT, "%s/%u", text, a->prefix);
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->bin, b->bin, a->family == AF_INET ? 4 : 16);
}

/* True when network a contains address b (b's full length). */
static bool addr_contains(const struct net_addr *a, const struct net_addr *b)
{
	if (a->family != b->family)
		return false;
	struct net_addr m = *b;
	for (unsigned bit = a->prefix; bit < addr_bits(&m); bit++)
		m.bin[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return !memcmp(a->bin, m.bin, a->family == AF_INET ? 4 : 16);
}

size_t net_resolv_parse(const char *text, size_t len, struct net_addr *out, size_t max)
{
	struct cursor c;
	const char *line;
	size_t n, count = 0;
	cursor_init(&c, text, len);
	while (count < max && cursor_get_line(&c, &line, &n) > 0) {
		char l[256];
		if (n >= sizeof(l) || memchr(line, '\0', n))
			continue;
		memcpy(l, line, n);
		l[n] = '\0';
		char *p = l + strspn(l, " \t");
		if (!str_has_prefix(p, "nameserver") || !strchr(" \t", p[10]) || !p[10])
			continue;
		p += 10;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\r#;%")] = '\0';
		if (strchr(p, '/'))
			continue; /* a nameserver is an address, not a network */
		struct net_addr a;
		if (net_addr_parse(p, &a) == 0)
			out[count++] = a;
	}
	return count;
}

bool net_table_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 32 || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* ---- libnftables ---- */

/* Keeps the first line of nft's error text ("Error: Could not process rule: ...") in err
 * and maps the common errno strings back to numbers. */
static int nft_error(const char *text, char *err, size_t errlen)
{
	if (!text || !*text)
		text = "nft failed without saying why";
	size_t n = strcspn(text, "\n");
	snprintf(err, errlen, "%.*s", (int)(n > 300 ? 300 : n), text);
	if (strstr(text, "No such file or directory") || strstr(text, "does not exist"))
		return -ENOENT;
	if (strstr(text, "Operation not permitted"))
		return -EPERM;
	if (strstr(text, "File exists"))
		return -EEXIST;
	return -EIO;
}

/* Runs one nft transaction (cmd may hold many lines; all apply or none). With out, parses
 * the JSON listing (at most NET_OUT_CAP bytes) into *out. With dry, nft checks the commands
 * against the kernel's state but commits nothing. Returns 0 or a negative errno with nft's
 * error in err. */
static int nft_exec(const char *cmd, bool dry, json_t **out, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int r = 0;
	if (!nft) {
		snprintf(err, errlen, "cannot start libnftables");
		return -ENOMEM;
	}
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		snprintf(err, errlen, "cannot buffer libnftables output");
		r = -ENOMEM;
		goto out;
	}
	if (out)
		nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	nft_ctx_set_dry_run(nft, dry);
	if (nft_run_cmd_from_buffer(nft, cmd) != 0) {
		r = nft_error(nft_ctx_get_error_buffer(nft), err, errlen);
		goto out;
	}
	if (out) {
		const char *o = nft_ctx_get_output_buffer(nft);
		size_t n = o ? strnlen(o, NET_OUT_CAP + 1) : 0;
		if (n > NET_OUT_CAP) {
			snprintf(err, errlen, "nft listing over %u bytes", NET_OUT_CAP);
			r = -EFBIG;
			goto out;
		}
		json_error_t je;
		*out = json_loadb(o ? o : "", n, JSON_REJECT_DUPLICATES, &je);
		if (!*out) {
			snprintf(err, errlen, "nft listing is not JSON: %.100s", je.text);
			r = -EBADMSG;
		}
	}
out:
	nft_ctx_free(nft);
	return r;
}

/* The first object named kind ("set", "chain") in an nft JSON listing, or NULL. */
static json_t *nft_find(json_t *root, const char *kind)
{
	json_t *items = json_object_get(root, "nftables"), *it;
	size_t i;
	json_array_foreach(items, i, it) {
		json_t *o = json_object_get(it, kind);
		if (json_is_object(o))
			return o;
	}
	return NULL;
}

/* The rules of a chain listing, each the "expr" array of one rule, into rules (max). */
static size_t nft_rules(json_t *root, json_t **rules, size_t max)
{
	json_t *items = json_object_get(root, "nftables"), *it;
	size_t i, n = 0;
	json_array_foreach(items, i, it) {
		json_t *expr = json_object_get(json_object_get(it, "rule"), "expr");
		if (json_is_array(expr) && n < max)
			rules[n++] = expr;
	}
	return n;
}

/* Lists one set ("list set") or chain ("list chain") of the table. */
static int nft_list(const char *what, const char *table, const char *name, json_t **out, char *err,
		    size_t errlen)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "list %s inet %s %s\n", what, table, name);
	return nft_exec(cmd, false, out, err, errlen);
}

/* An element's value in a listing as an address: "192.0.2.1" or {"prefix": {"addr": ...,
 * "len": N}}. Elements with a timeout are wrapped as {"elem": {"val": ..., "expires": N}}. */
static int elem_addr(json_t *e, struct net_addr *a, json_int_t *expires)
{
	json_t *w = json_object_get(e, "elem");
	*expires = -1;
	if (json_is_object(w)) {
		json_t *x = json_object_get(w, "expires");
		if (json_is_integer(x))
			*expires = json_integer_value(x);
		e = json_object_get(w, "val");
	}
	if (json_is_string(e))
		return net_addr_parse(json_string_value(e), a);
	json_t *p = json_object_get(e, "prefix");
	json_t *addr = json_object_get(p, "addr"), *len = json_object_get(p, "len");
	if (!json_is_string(addr) || !json_is_integer(len) || json_integer_value(len) < 0 ||
	    json_integer_value(len) > 128)
		return -EINVAL;
	char text[NET_ADDR_TEXT];
	snprintf(text, sizeof(text), "%.45s/%d", json_string_value(addr),
		 (int)json_integer_value(len));
	return net_addr_parse(text, a);
}

/* Looks for a in the table's set. Returns 2 (that very element), 1 (inside a wider element,
 * written to *cover), 0 (not there), or a negative errno (-ENOENT: no such table or set)
 * with err. *expires gets the seconds left of the element found, or -1. */
static int set_find(const char *table, const char *set, const struct net_addr *a,
		    struct net_addr *cover, json_int_t *expires, char *err, size_t errlen)
{
	json_t *root = NULL;
	int r = nft_list("set", table, set, &root, err, errlen);
	if (r < 0)
		return r;
	json_t *elems = json_object_get(nft_find(root, "set"), "elem"), *e;
	size_t i;
	r = 0;
	json_array_foreach(elems, i, e) {
		struct net_addr got;
		json_int_t x;
		if (elem_addr(e, &got, &x) < 0)
			continue;
		if (net_addr_eq(&got, a)) {
			*expires = x;
			r = 2;
			break;
		}
		if (got.prefix < a->prefix && addr_contains(&got, a)) {
			*cover = got;
			*expires = x;
			r = 1;
		}
	}
	json_decref(root);
	return r;
}

/* The values of the nf_proto set "isolation" ("ipv4", "ipv6") as bits 1 and 2, with the
 * smallest expiry seen. Returns the bits or a negative errno. */
static int isolation_elems(const char *table, json_int_t *expires, char *err, size_t errlen)
{
	json_t *root = NULL;
	int r = nft_list("set", table, "isolation", &root, err, errlen);
	if (r < 0)
		return r;
	json_t *elems = json_object_get(nft_find(root, "set"), "elem"), *e;
	size_t i;
	*expires = -1;
	json_array_foreach(elems, i, e) {
		json_t *w = json_object_get(e, "elem");
		json_t *v = json_is_object(w) ? json_object_get(w, "val") : e;
		json_t *x = json_object_get(w, "expires");
		const char *s = json_string_value(v);
		if (s && !strcmp(s, "ipv4"))
			r |= 1;
		else if (s && !strcmp(s, "ipv6"))
			r |= 2;
		if (json_is_integer(x) && (*expires < 0 || json_integer_value(x) < *expires))
			*expires = json_integer_value(x);
	}
	json_decref(root);
	return r;
}

/* ---- the table ---- */

static const char *table_of(const struct act_ctx *ctx)
{
	return ctx->nft_table ? ctx->nft_table : NET_TABLE_DEFAULT;
}

/* Appends the idempotent skeleton of the table: sets and chains are added (a no-op when
 * present), the base chains' rules flushed and re-added, all in the caller's transaction. */
static int skeleton(struct buf *b, const char *t)
{
	static const char *const sets[][2] = {
		{ "blocked4", "type ipv4_addr; flags interval,timeout;" },
		{ "blocked6", "type ipv6_addr; flags interval,timeout;" },
		{ "isolation", "type nf_proto; flags timeout;" },
		{ "iso_allow4", "type ipv4_addr; flags interval; auto-merge;" },
		{ "iso_allow6", "type ipv6_addr; flags interval; auto-merge;" },
		{ "iso_dns4", "type ipv4_addr; flags interval; auto-merge;" },
		{ "iso_dns6", "type ipv6_addr; flags interval; auto-merge;" },
	};
	int r = buf_printf(b, "add table inet %s\n", t);
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		r = r ?: buf_printf(b, "add set inet %s %s { %s }\n", t, sets[i][0], sets[i][1]);
	r = r
		    ?: buf_printf(b,
				  "add chain inet %s isolate_in\nadd chain inet %s isolate_out\n"
				  "add chain inet %s isolate_fwd\n",
				  t, t, t);
	static const char *const hooks[] = { "input", "output", "forward" };
	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++) {
		const char *h = hooks[i];
		r = r
			    ?: buf_printf(b,
					  "add chain inet %s %s { type filter hook %s priority %s; "
					  "policy accept; }\nflush chain inet %s %s\n",
					  t, h, h, NET_PRIORITY, t, h);
		bool in = i != 1, out = i != 0;
		if (in)
			r = r
				    ?: buf_printf(b,
						  "add rule inet %s %s ip saddr @blocked4 drop\n"
						  "add rule inet %s %s ip6 saddr @blocked6 drop\n",
						  t, h, t, h);
		if (out)
			r = r
				    ?: buf_printf(b,
						  "add rule inet %s %s ip daddr @blocked4 drop\n"
						  "add rule inet %s %s ip6 daddr @blocked6 drop\n",
						  t, h, t, h);
		r = r
			    ?: buf_printf(b,
					  "add rule inet %s %s meta nfproto @isolation jump %s\n",
					  t, h,
					  i == 0   ? "isolate_in"
					  : i == 1 ? "isolate_out"
						   : "isolate_fwd");
	}
	return r;
}

static bool table_ok(const struct act_ctx *ctx, const char *kn, struct act_result *res)
{
	if (net_table_name_ok(table_of(ctx)))
		return true;
	act_set(res, ACT_REFUSED, "%s: table name '%.40s' is not [a-z][a-z0-9_]{0,31}", kn,
		table_of(ctx));
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- block-address ---- */

/* The set and canonical element of an address; refuses networks so wide they would cut the
 * host off (shorter than /8 or /16) or that hold a loopback address. */
static bool block_target(const char *address, struct net_addr *na, const char **set,
			 char elem[NET_ADDR_TEXT], struct act_result *res)
{
	static const char *const kn = "block-address";
	struct net_addr lo4, lo6;
	if (!address || net_addr_parse(address, na) < 0) {
		act_set(res, ACT_REFUSED, "%s: '%.64s' is not an IP address or network", kn,
			address ? address : "");
		return false;
	}
	net_addr_parse("127.0.0.1", &lo4);
	net_addr_parse("::1", &lo6);
	net_addr_format(na, elem);
	if (na->prefix < (na->family == AF_INET ? 8u : 16u) || addr_contains(na, &lo4) ||
	    addr_contains(na, &lo6)) {
		act_set(res, ACT_REFUSED, "%s: refusing to block %s (too wide or loopback)", kn,
			elem);
		return false;
	}
	*set = na->family == AF_INET ? "blocked4" : "blocked6";
	return true;
}

static enum act_status block_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				   struct act_result *res)
{
	struct net_addr na;
	const char *set, *t = table_of(ctx);
	char elem[NET_ADDR_TEXT], err[400];
	if (!table_ok(ctx, "block-address", res) || !block_target(a->address, &na, &set, elem, res))
		return res->status;
	uint32_t dur = a->duration_seconds ? a->duration_seconds : ACTION_BLOCK_DEFAULT_S;

	/* An address inside a network already blocked is in place: nothing is added, and so
	 * nothing is removed at rollback (the kernel refuses overlapping elements anyway). */
	struct net_addr cover;
	json_int_t expires;
	char wide[NET_ADDR_TEXT];
	if (set_find(t, set, &na, &cover, &expires, err, sizeof(err)) == 1) {
		net_addr_format(&cover, wide);
		res->detail = json_pack("{s:s, s:s, s:s, s:s}", "table", t, "set", set, "element",
					elem, "covered_by", wide);
		if (ctx->dry_run)
			return act_set(res, ACT_DRY_RUN, "would leave %s alone: %s is blocked",
				       elem, wide);
		*undo = json_pack("{s:s, s:s, s:s, s:s, s:s}", "family", "inet", "table", t, "set",
				  set, "element", elem, "covered_by", wide);
		return act_set(res, ACT_VERIFIED,
			       "%s is already blocked within %s (inet %s %s, %llds left)", elem,
			       wide, t, set, (long long)expires);
	}

	/* Adding first makes the delete safe when the element is new; the second add sets the
	 * timeout afresh when it was already there (re-apply refreshes). */
	_cleanup_(buf_free) struct buf cmd;
	buf_init(&cmd, NET_CMD_CAP);
	char el[200];
	snprintf(el, sizeof(el), "element inet %s %s { %s", t, set, elem);
	int r = skeleton(&cmd, t);
	r = r
		    ?: buf_printf(&cmd, "add %s timeout %us }\ndelete %s }\nadd %s timeout %us }\n",
				  el, dur, el, el, dur);
	if (r < 0)
		return act_set(res, ACT_FAILED, "block-address: command too long");
	r = nft_exec(buf_str(&cmd), ctx->dry_run, NULL, err, sizeof(err));
	if (r < 0)
		return act_set(res, ACT_FAILED, "block-address: %s: %s", elem, err);

	res->detail = json_pack("{s:s, s:s, s:s, s:s, s:I}", "family", "inet", "table", t, "set",
				set, "element", elem, "timeout_s", (json_int_t)dur);
	if (ctx->dry_run)
		return act_set(res, ACT_DRY_RUN,
			       "would add %s to set %s of table inet %s for %us (traffic from and "
			       "to it dropped)",
			       elem, set, t, dur);
	*undo = json_pack("{s:s, s:s, s:s, s:s, s:I}", "family", "inet", "table", t, "set", set,
			  "element", elem, "until", (json_int_t)(now_ms() / 1000 + dur));
	return act_set(res, ACT_VERIFIED, "blocked %s for %us (inet %s %s)", elem, dur, t, set);
}

static enum act_status block_verify(const struct act_ctx *ctx, const Action *a,
				    struct act_result *res)
{
	struct net_addr na;
	const char *set, *t = table_of(ctx);
	char elem[NET_ADDR_TEXT], err[400];
	if (!table_ok(ctx, "block-address", res) || !block_target(a->address, &na, &set, elem, res))
		return res->status;
	json_int_t expires;
	struct net_addr cover;
	char wide[NET_ADDR_TEXT];
	int r = set_find(t, set, &na, &cover, &expires, err, sizeof(err));
	if (r < 0)
		return act_set(res, ACT_FAILED, "block-address: cannot read inet %s %s: %s", t, set,
			       err);
	if (r == 0)
		return act_set(res, ACT_FAILED, "block-address: %s is not in inet %s %s", elem, t,
			       set);
	if (r == 1) {
		net_addr_format(&cover, wide);
		res->detail = json_pack("{s:s, s:s, s:I}", "element", elem, "covered_by", wide,
					"expires_s", expires);
		return act_set(res, ACT_VERIFIED, "%s is blocked within %s (inet %s %s)", elem,
			       wide, t, set);
	}
	res->detail = json_pack("{s:s, s:I}", "element", elem, "expires_s", expires);
	if (expires < 0)
		return act_set(res, ACT_VERIFIED, "%s is in inet %s %s (no expiry)", elem, t, set);
	return act_set(res, ACT_VERIFIED, "%s is in inet %s %s (expires in %llds)", elem, t, set,
		       (long long)expires);
}

static enum act_status block_rollback(const struct act_ctx *ctx, const Action *a,
				      const json_t *undo, struct act_result *res)
{
	(void)a;
	(void)ctx;
	const char *t = json_string_value(json_object_get(undo, "table"));
	const char *set = json_string_value(json_object_get(undo, "set"));
	const char *e = json_string_value(json_object_get(undo, "element"));
	struct net_addr na;
	char elem[NET_ADDR_TEXT], err[400];
	if (!net_table_name_ok(t) || !set || !e || net_addr_parse(e, &na) < 0 ||
	    strcmp(set, na.family == AF_INET ? "blocked4" : "blocked6"))
		return act_set(res, ACT_FAILED, "block-address: the undo record is malformed");
	net_addr_format(&na, elem);
	const char *cover = json_string_value(json_object_get(undo, "covered_by"));
	if (cover)
		return act_set(res, ACT_ROLLED_BACK,
			       "nothing to undo: %s was inside %.64s, blocked by another action",
			       elem, cover);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "delete element inet %s %s { %s }\n", t, set, elem);
	int r = nft_exec(cmd, false, NULL, err, sizeof(err));
	bool was_gone = r == -ENOENT; /* expired already, or the table is gone */
	if (r < 0 && !was_gone)
		return act_set(res, ACT_FAILED, "block-address: removing %s: %s", elem, err);
	json_int_t expires;
	struct net_addr wider;
	r = set_find(t, set, &na, &wider, &expires, err, sizeof(err));
	if (r == 2)
		return act_set(res, ACT_FAILED, "block-address: %s is still in inet %s %s", elem, t,
			       set);
	if (r < 0 && r != -ENOENT)
		return act_set(res, ACT_FAILED, "block-address: cannot check inet %s %s: %s", t,
			       set, err);
	return act_set(res, ACT_ROLLED_BACK, "unblocked %s%s", elem,
		       was_gone ? " (it had already expired)" : "");
}

const struct act_ops act_block_address_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_BLOCK_ADDRESS,
	.apply = block_apply,
	.verify = block_verify,
	.rollback = block_rollback,
};

/* ---- isolate-host ---- */

/* Reads the resolvers of path into out[*n..max). A missing or unreadable file adds none. */
static void read_resolvers(const char *path, struct net_addr *out, size_t *n, size_t max)
{
	_cleanup_(buf_free) struct buf b;
	buf_init(&b, NET_RESOLV_CAP);
	if (file_read_capped(path, NET_RESOLV_CAP, &b) < 0)
		return;
	*n += net_resolv_parse(buf_str(&b), buf_len(&b), out + *n, max - *n);
}

/* Appends "add element inet T SET { a, b }" for the addresses of one family. */
static int add_elements(struct buf *b, const char *t, const char *set, int family,
			const struct net_addr *v, size_t n, json_t *list)
{
	bool first = true;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (v[i].family != family)
			continue;
		char text[NET_ADDR_TEXT];
		net_addr_format(&v[i], text);
		r = first ? buf_printf(b, "add element inet %s %s { %s", t, set, text)
			  : buf_printf(b, ", %s", text);
		json_array_append_new(list, json_string(text));
		first = false;
	}
	return r ?: (first ? 0 : buf_puts(b, " }\n"));
}

/* Appends the isolation chains' rules. */
static int isolate_rules(struct buf *b, const char *t)
{
	static const char *const in[] = {
		"iif lo accept",
		"ct state related accept",
		"ip saddr @iso_allow4 accept",
		"ip6 saddr @iso_allow6 accept",
		"ip saddr @iso_dns4 udp sport 53 ct state established accept",
		"ip saddr @iso_dns4 tcp sport 53 ct state established accept",
		"ip6 saddr @iso_dns6 udp sport 53 ct state established accept",
		"ip6 saddr @iso_dns6 tcp sport 53 ct state established accept",
		"udp sport 67 udp dport 68 accept",
		"udp sport 547 udp dport 546 accept",
		("icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, "
		 "nd-redirect } accept"),
		"drop",
	};
	static const char *const out[] = {
		"oif lo accept",
		"ct state related accept",
		"ip daddr @iso_allow4 accept",
		"ip6 daddr @iso_allow6 accept",
		"ip daddr @iso_dns4 udp dport 53 accept",
		"ip daddr @iso_dns4 tcp dport 53 accept",
		"ip6 daddr @iso_dns6 udp dport 53 accept",
		"ip6 daddr @iso_dns6 tcp dport 53 accept",
		"udp sport 68 udp dport 67 accept",
		"udp sport 546 udp dport 547 accept",
		"icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept",
		"drop",
	};
	int r = buf_printf(b,
			   "flush chain inet %s isolate_in\nflush chain inet %s isolate_out\n"
			   "flush chain inet %s isolate_fwd\nadd rule inet %s isolate_fwd drop\n",
			   t, t, t, t);
	for (size_t i = 0; i < ARRAY_SIZE(in); i++)
		r = r ?: buf_printf(b, "add rule inet %s isolate_in %s\n", t, in[i]);
	for (size_t i = 0; i < ARRAY_SIZE(out); i++)
		r = r ?: buf_printf(b, "add rule inet %s isolate_out %s\n", t, out[i]);
	return r;
}

/* Appends the transaction that sets the isolation element's timeout to ms, whether or not it
 * is present (add, delete, add). */
static int isolation_element(struct buf *b, const char *t, uint64_t ms)
{
	return buf_printf(b,
			  "add element inet %s isolation { ipv4 timeout %llums, ipv6 timeout "
			  "%llums }\ndelete element inet %s isolation { ipv4, ipv6 }\n"
			  "add element inet %s isolation { ipv4 timeout %llums, ipv6 timeout "
			  "%llums }\n",
			  t, (unsigned long long)ms, (unsigned long long)ms, t, t,
			  (unsigned long long)ms, (unsigned long long)ms);
}

static int state_path(const struct act_ctx *ctx, char *path, size_t n)
{
	if (!ctx->state_dir)
		return -EINVAL;
	int w = snprintf(path, n, "%s/%s", ctx->state_dir, NET_STATE_FILE);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/* The isolation's state: {"uid", "table", "until_ms", "lease_s"}. */
static int state_write(const struct act_ctx *ctx, const char *t, uint64_t until_ms,
		       uint32_t lease_s)
{
	char path[PATH_MAX];
	int r = state_path(ctx, path, sizeof(path));
	if (r < 0)
		return r;
	json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "uid", ctx->uid ? ctx->uid : "", "table", t,
			      "until_ms", (json_int_t)until_ms, "lease_s", (json_int_t)lease_s);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	r = file_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

static int state_read(const struct act_ctx *ctx, uint64_t *until_ms)
{
	char path[PATH_MAX];
	int r = state_path(ctx, path, sizeof(path));
	if (r < 0)
		return r;
	_cleanup_(buf_free) struct buf b;
	buf_init(&b, NET_STATE_CAP);
	r = file_read_capped(path, NET_STATE_CAP, &b);
	if (r < 0)
		return r;
	json_t *o = json_loadb(buf_str(&b), buf_len(&b), JSON_REJECT_DUPLICATES, NULL);
	json_t *u = json_object_get(o, "until_ms");
	const char *t = json_string_value(json_object_get(o, "table"));
	r = json_is_integer(u) && json_integer_value(u) > 0 && t && !strcmp(t, table_of(ctx))
		    ? 0
		    : -EBADMSG;
	if (r == 0)
		*until_ms = (uint64_t)json_integer_value(u);
	json_decref(o);
	return r;
}

static void state_remove(const struct act_ctx *ctx)
{
	char path[PATH_MAX];
	if (state_path(ctx, path, sizeof(path)) == 0)
		unlink(path);
}

/* Removes the isolation element and rules in one transaction. Returns 0, -ENOENT when the
 * table does not exist, or a negative errno with err. */
static int isolation_lift(const char *t, char *err, size_t errlen)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "flush set inet %s isolation\nflush chain inet %s isolate_in\n"
		 "flush chain inet %s isolate_out\nflush chain inet %s isolate_fwd\n"
		 "flush set inet %s iso_allow4\nflush set inet %s iso_allow6\n"
		 "flush set inet %s iso_dns4\nflush set inet %s iso_dns6\n",
		 t, t, t, t, t, t, t, t);
	return nft_exec(cmd, false, NULL, err, errlen);
}

static enum act_status isolate_apply(const struct act_ctx *ctx, const Action *a, json_t **undo,
				     struct act_result *res)
{
	static const char *const kn = "isolate-host";
	const char *t = table_of(ctx);
	char err[400];
	if (!table_ok(ctx, kn, res))
		return res->status;
	if (!ctx->state_dir && !ctx->dry_run)
		return act_set(res, ACT_REFUSED, "%s: no state directory for the lease", kn);

	struct net_addr allow[ACTION_MAX_ALLOW], dns[2 * NET_MAX_RESOLVERS];
	size_t nallow = 0, ndns = 0;
	for (size_t i = 0; i < a->n_allow && nallow < ARRAY_SIZE(allow); i++)
		if (net_addr_parse(a->allow[i], &allow[nallow++]) < 0)
			return act_set(res, ACT_REFUSED, "%s: allowed '%.64s' is not an address",
				       kn, a->allow[i]);
	read_resolvers("/etc/resolv.conf", dns, &ndns, NET_MAX_RESOLVERS);
	/* systemd-resolved's stub listens on loopback; its upstream servers are here. */
	read_resolvers("/run/systemd/resolve/resolv.conf", dns, &ndns, ARRAY_SIZE(dns));

	uint32_t dur = a->duration_seconds ? a->duration_seconds : ACTION_ISOLATE_DEFAULT_S;
	uint32_t lease = ctx->isolation_lease_s ? ctx->isolation_lease_s : ACT_ISOLATE_LEASE_S;
	if (dur < lease)
		lease = dur;
	uint64_t until_ms = now_ms() + (uint64_t)dur * 1000;

	_cleanup_(buf_free) struct buf cmd;
	buf_init(&cmd, NET_CMD_CAP);
	json_t *jallow = json_array(), *jdns = json_array();
	int r = skeleton(&cmd, t);
	r = r
		    ?: buf_printf(&cmd,
				  "flush set inet %s iso_allow4\nflush set inet %s iso_allow6\n"
				  "flush set inet %s iso_dns4\nflush set inet %s iso_dns6\n",
				  t, t, t, t);
	r = r ?: add_elements(&cmd, t, "iso_allow4", AF_INET, allow, nallow, jallow);
	r = r ?: add_elements(&cmd, t, "iso_allow6", AF_INET6, allow, nallow, jallow);
	r = r ?: add_elements(&cmd, t, "iso_dns4", AF_INET, dns, ndns, jdns);
	r = r ?: add_elements(&cmd, t, "iso_dns6", AF_INET6, dns, ndns, jdns);
	r = r ?: isolate_rules(&cmd, t);
	r = r ?: isolation_element(&cmd, t, (uint64_t)lease * 1000);
	res->detail = json_pack("{s:s, s:O, s:O, s:I, s:I}", "table", t, "allow", jallow, "dns",
				jdns, "duration_s", (json_int_t)dur, "lease_s", (json_int_t)lease);
	size_t na = json_array_size(jallow), nd = json_array_size(jdns);
	if (r < 0)
		act_set(res, ACT_FAILED, "%s: command too long", kn);
	else if ((r = nft_exec(buf_str(&cmd), ctx->dry_run, NULL, err, sizeof(err))) < 0)
		act_set(res, ACT_FAILED, "%s: %s", kn, err);
	else if (ctx->dry_run)
		act_set(res, ACT_DRY_RUN,
			"would isolate the host for %us (lease %us) in table inet %s, keeping "
			"loopback, %zu allowed and %zu DNS addresses",
			dur, lease, t, na, nd);
	else if ((r = state_write(ctx, t, until_ms, lease)) < 0) {
		/* Without its end on record nobody could refresh it: lift it now. */
		isolation_lift(t, err, sizeof(err));
		act_set(res, ACT_FAILED, "%s: cannot write the lease state: %s", kn, strerror(-r));
	} else {
		*undo = json_pack("{s:s, s:s, s:I, s:O}", "family", "inet", "table", t, "until_ms",
				  (json_int_t)until_ms, "allow", jallow);
		act_set(res, ACT_VERIFIED,
			"isolated for %us in table inet %s (lease %us; %zu allowed, %zu DNS)", dur,
			t, lease, na, nd);
	}
	json_decref(jallow);
	json_decref(jdns);
	return res->status;
}

/* True when one of the chain's rules jumps to target. */
static bool rules_jump(json_t *const *rules, size_t n, const char *target)
{
	for (size_t i = 0; i < n; i++) {
		json_t *e;
		size_t j;
		json_array_foreach(rules[i], j, e) {
			const char *to = json_string_value(
				json_object_get(json_object_get(e, "jump"), "target"));
			if (to && !strcmp(to, target))
				return true;
		}
	}
	return false;
}

/* True when the chain's last rule is a bare drop. */
static bool rules_end_drop(json_t *const *rules, size_t n)
{
	return n > 0 && json_array_size(rules[n - 1]) == 1 &&
	       json_object_get(json_array_get(rules[n - 1], 0), "drop");
}

/* Checks one chain: base chains must jump to target, isolation chains end in a drop (or
 * with empty, are empty). Returns 0, -ENOENT, or -EPROTO with the reason in err. */
static int check_chain(const char *t, const char *chain, const char *target, bool empty, char *err,
		       size_t errlen)
{
	json_t *root = NULL, *rules[64];
	int r = nft_list("chain", t, chain, &root, err, errlen);
	if (r < 0)
		return r;
	size_t n = nft_rules(root, rules, ARRAY_SIZE(rules));
	if (empty ? n != 0 : (target ? !rules_jump(rules, n, target) : !rules_end_drop(rules, n))) {
		snprintf(err, errlen, "chain %s %s", chain,
			 empty	  ? "still has rules"
			 : target ? "does not jump to the isolation"
				  : "does not end in a drop");
		r = -EPROTO;
	}
	json_decref(root);
	return r;
}

static enum act_status isolate_verify(const struct act_ctx *ctx, const Action *a,
				      struct act_result *res)
{
	(void)a;
	static const char *const kn = "isolate-host";
	static const char *const chains[][2] = {
		{ "input", "isolate_in" },    { "output", "isolate_out" },
		{ "forward", "isolate_fwd" }, { "isolate_in", NULL },
		{ "isolate_out", NULL },      { "isolate_fwd", NULL },
	};
	const char *t = table_of(ctx);
	char err[400];
	if (!table_ok(ctx, kn, res))
		return res->status;
	json_int_t expires;
	int r = isolation_elems(t, &expires, err, sizeof(err));
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: cannot read inet %s isolation: %s", kn, t,
			       err);
	if (r != 3)
		return act_set(res, ACT_FAILED,
			       "%s: the isolation element is gone (lease expired "
			       "or lifted)",
			       kn);
	for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
		if ((r = check_chain(t, chains[i][0], chains[i][1], false, err, sizeof(err))) < 0)
			return act_set(res, ACT_FAILED, "%s: %s", kn, err);
	res->detail = json_pack("{s:s, s:I}", "table", t, "lease_left_s", expires);
	return act_set(res, ACT_VERIFIED,
		       "host isolated by table inet %s (lifts in %llds unless "
		       "refreshed)",
		       t, (long long)expires);
}

static enum act_status isolate_rollback(const struct act_ctx *ctx, const Action *a,
					const json_t *undo, struct act_result *res)
{
	(void)a;
	static const char *const kn = "isolate-host";
	const char *t = json_string_value(json_object_get(undo, "table"));
	char err[400];
	if (!t)
		t = table_of(ctx);
	if (!net_table_name_ok(t))
		return act_set(res, ACT_FAILED, "%s: the undo record is malformed", kn);
	int r = isolation_lift(t, err, sizeof(err));
	if (r == -ENOENT) {
		state_remove(ctx);
		return act_set(res, ACT_ROLLED_BACK, "%s: not isolated (no table inet %s)", kn, t);
	}
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: lifting: %s", kn, err);
	state_remove(ctx);
	json_int_t expires;
	r = isolation_elems(t, &expires, err, sizeof(err));
	if (r < 0)
		return act_set(res, ACT_FAILED, "%s: cannot check inet %s isolation: %s", kn, t,
			       err);
	if (r != 0)
		return act_set(res, ACT_FAILED, "%s: the isolation element is still there", kn);
	static const char *const chains[] = { "isolate_in", "isolate_out", "isolate_fwd" };
	for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
		if ((r = check_chain(t, chains[i], NULL, true, err, sizeof(err))) < 0)
			return act_set(res, ACT_FAILED, "%s: %s", kn, err);
	return act_set(res, ACT_ROLLED_BACK, "isolation lifted (table inet %s)", t);
}

const struct act_ops act_isolate_host_ops = {
	.kind = IMMUNE__V1__ACTION_KIND__ACTION_ISOLATE_HOST,
	.apply = isolate_apply,
	.verify = isolate_verify,
	.rollback = isolate_rollback,
};

int act_isolate_refresh(const struct act_ctx *ctx, uint32_t lease_s)
{
	const char *t = table_of(ctx);
	char err[400];
	uint64_t until_ms;
	if (lease_s == 0 || !net_table_name_ok(t))
		return -EINVAL;
	int r = state_read(ctx, &until_ms);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : r;
	uint64_t now = now_ms();
	if (now >= until_ms) {
		/* The isolation's own end has passed: lift it now rather than at the lease. */
		isolation_lift(t, err, sizeof(err));
		state_remove(ctx);
		return -ENOENT;
	}
	uint64_t ms = (uint64_t)lease_s * 1000;
	if (until_ms - now < ms)
		ms = until_ms - now;
	/* Delete then add in one transaction: when the element has expired (the dead-man
	 * switch fired) the delete fails and nothing is re-isolated behind the operator's
	 * back. */
	char cmd[400];
	snprintf(cmd, sizeof(cmd),
		 "delete element inet %s isolation { ipv4, ipv6 }\n"
		 "add element inet %s isolation { ipv4 timeout %llums, ipv6 timeout %llums }\n",
		 t, t, (unsigned long long)ms, (unsigned long long)ms);
	return nft_exec(cmd, false, NULL, err, sizeof(err));
}
