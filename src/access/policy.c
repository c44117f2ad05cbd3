/* The access policy engine: compilation of parsed policies into an indexed set, and
 * decisions (docs/access-policy.md). Forbid overrides permit, no permit means deny, and a
 * condition that reads something the request does not know does not hold: the policy it
 * belongs to does not apply, whether it permits or forbids. */
#include "access/policy_int.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/str.h"

#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>

struct access_policy_set {
	struct policy **policies;
	size_t n_policies;
	struct hostgroup *groups;
	size_t n_groups;
	char **files;
	struct policy_index *index;
	struct chunk *arena; /* the policies, packed (policy_pack) */
};

/* ---- packing: each policy's memory together, what decisions read first ----
 *
 * A decision reads a handful of policies chosen by the index; with the parser's scattered
 * allocations each costs several cache misses. Packed, a policy's record, actions and
 * conditions are adjacent, and policies are in file order. */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(16) char data[];
};

#define CHUNK_SIZE (1u << 20)

static void *arena_alloc(struct chunk **a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!*a || (*a)->cap - (*a)->used < n) {
		size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		struct chunk *c = xmalloc(sizeof(*c) + cap);
		c->next = *a;
		c->used = 0;
		c->cap = cap;
		*a = c;
	}
	void *p = (*a)->data + (*a)->used;
	(*a)->used += n;
	return p;
}

static char *arena_str(struct chunk **a, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(a, n);
	memcpy(d, s, n);
	return d;
}

static void *arena_copy(struct chunk **a, const void *p, size_t n)
{
	if (!p || !n)
		return NULL;
	void *d = arena_alloc(a, n);
	memcpy(d, p, n);
	return d;
}

static char **arena_strv(struct chunk **a, char **v)
{
	if (!v)
		return NULL;
	size_t n = strv_len(v);
	char **d = arena_alloc(a, (n + 1) * sizeof(*d));
	for (size_t i = 0; i < n; i++)
		d[i] = arena_str(a, v[i]);
	d[n] = NULL;
	return d;
}

/* The parts of a condition that evaluation reads. */
static void pack_cond_hot(struct chunk **a, struct cond *c)
{
	c->nodes = arena_copy(a, c->nodes, c->n * sizeof(*c->nodes));
	c->cap = c->n;
	for (size_t i = 0; i < c->n; i++) {
		c->nodes[i].key = arena_str(a, c->nodes[i].key);
		c->nodes[i].val.s = arena_str(a, c->nodes[i].val.s);
	}
	c->vals = arena_copy(a, c->vals, c->n_vals * sizeof(*c->vals));
	c->cap_vals = c->n_vals;
	for (size_t i = 0; i < c->n_vals; i++)
		c->vals[i].s = arena_str(a, c->vals[i].s);
}

static void pack_cond_text(struct chunk **a, struct cond *c)
{
	for (size_t i = 0; i < c->n; i++)
		c->nodes[i].text = arena_str(a, c->nodes[i].text);
}

static struct policy *policy_pack(struct chunk **a, const struct policy *p)
{
	struct policy *q = arena_copy(a, p, sizeof(*p));
	q->actions = arena_copy(a, p->actions, p->n_actions * sizeof(*p->actions));
	for (size_t i = 0; i < q->n_actions; i++) {
		q->actions[i].account = arena_str(a, q->actions[i].account);
		q->actions[i].command = arena_str(a, q->actions[i].command);
	}
	pack_cond_hot(a, &q->when);
	pack_cond_hot(a, &q->unless);
	/* what explanations and listings read */
	pack_cond_text(a, &q->when);
	pack_cond_text(a, &q->unless);
	q->info.name = arena_str(a, p->info.name);
	q->principals = arena_copy(a, p->principals, p->n_principals * sizeof(*p->principals));
	for (size_t i = 0; i < q->n_principals; i++)
		q->principals[i].name = arena_str(a, q->principals[i].name);
	q->hosts = arena_copy(a, p->hosts, p->n_hosts * sizeof(*p->hosts));
	for (size_t i = 0; i < q->n_hosts; i++) {
		q->hosts[i].key = arena_str(a, q->hosts[i].key);
		q->hosts[i].value = arena_str(a, q->hosts[i].value);
	}
	q->approvers = arena_strv(a, p->approvers);
	q->create_groups = arena_strv(a, p->create_groups);
	q->info.approvers = (const char *const *)q->approvers;
	q->info.create_groups = (const char *const *)q->create_groups;
	return q;
}

static int build_err(char *err, size_t err_len, const char *file, unsigned line, unsigned col,
		     const char *msg, const char *name)
{
	if (err && err_len)
		snprintf(err, err_len, "%s:%u:%u: %s '%s'", file, line, col, msg, name);
	return -EINVAL;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

/* Duplicate names among policies and among host groups; host group references. */
static int check_names(struct access_policy_builder *b, char *err, size_t err_len)
{
	size_t n = b->n_policies;
	const char **names = xcalloc(n ? n : 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = b->policies[i]->info.name;
	sort_array(names, n, sizeof(*names), cmp_str_ptr);
	const char *dup = NULL;
	for (size_t i = 1; i < n && !dup; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	free(names);
	if (dup) { /* report the second occurrence, naming the first */
		const struct policy *first = NULL;
		for (size_t i = 0; i < n; i++) {
			const struct policy *pol = b->policies[i];
			if (strcmp(pol->info.name, dup) != 0)
				continue;
			if (!first) {
				first = pol;
				continue;
			}
			if (err && err_len)
				snprintf(err, err_len,
					 "%s:%u:%u: duplicate policy name '%s' (first at %s:%u)",
					 pol->info.file, pol->info.line, pol->col, dup,
					 first->info.file, first->info.line);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < b->n_groups; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->groups[i].name, b->groups[j].name) == 0)
				return build_err(err, err_len, b->groups[i].file, b->groups[i].line,
						 b->groups[i].col, "duplicate host group",
						 b->groups[i].name);
	return 0;
}

static int resolve_hostgroups(struct access_policy_builder *b, char *err, size_t err_len)
{
	/* Host groups by name: sorted indices for a binary search. */
	size_t ng = b->n_groups;
	const char **names = xcalloc(ng ? ng : 1, sizeof(*names));
	for (size_t i = 0; i < ng; i++)
		names[i] = b->groups[i].name;
	sort_array(names, ng, sizeof(*names), cmp_str_ptr);
	int r = 0;
	for (size_t i = 0; i < b->n_policies && r == 0; i++) {
		struct policy *pol = b->policies[i];
		for (size_t j = 0; j < pol->n_hosts && r == 0; j++) {
			struct pol_host *h = &pol->hosts[j];
			if (h->kind != HOST_GROUP)
				continue;
			const char **hit = bsearch(&h->key, names, ng, sizeof(*names), cmp_str_ptr);
			if (!hit) {
				r = build_err(err, err_len, pol->info.file, h->line, h->col,
					      "unknown host group", h->key);
				break;
			}
			for (size_t k = 0; k < ng; k++)
				if (b->groups[k].name == *hit)
					h->group = k;
		}
	}
	free(names);
	return r;
}

struct access_policy_builder *access_policy_builder_new(void)
{
	return xcalloc(1, sizeof(struct access_policy_builder));
}

void access_policy_builder_free(struct access_policy_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_policies; i++)
		policy_free(b->policies[i]);
	free(b->policies);
	for (size_t i = 0; i < b->n_groups; i++)
		hostgroup_clear(&b->groups[i]);
	free(b->groups);
	strv_free(b->files);
	free(b);
}

int access_policy_add(struct access_policy_builder *b, const char *file, const char *text,
		      size_t len, char *err, size_t err_len)
{
	return policy_parse(b, file, text, len, err, err_len);
}

int access_policy_build(struct access_policy_builder *b, struct access_policy_set **out, char *err,
			size_t err_len)
{
	int r = check_names(b, err, err_len);
	if (r == 0)
		r = resolve_hostgroups(b, err, err_len);
	if (r < 0) {
		access_policy_builder_free(b);
		return r;
	}
	struct access_policy_set *set = xcalloc(1, sizeof(*set));
	set->policies = b->policies, set->n_policies = b->n_policies;
	set->groups = b->groups, set->n_groups = b->n_groups;
	set->files = b->files;
	free(b);
	for (size_t i = 0; i < set->n_policies; i++) {
		struct policy *packed = policy_pack(&set->arena, set->policies[i]);
		policy_free(set->policies[i]);
		set->policies[i] = packed;
	}
	set->index = policy_index_build(set->policies, set->n_policies, set->groups);
	*out = set;
	return 0;
}

void access_policy_set_free(struct access_policy_set *set)
{
	if (!set)
		return;
	free(set->policies); /* the policies themselves are in the arena */
	while (set->arena) {
		struct chunk *next = set->arena->next;
		free(set->arena);
		set->arena = next;
	}
	for (size_t i = 0; i < set->n_groups; i++)
		hostgroup_clear(&set->groups[i]);
	free(set->groups);
	strv_free(set->files);
	policy_index_free(set->index);
	free(set);
}

size_t access_policy_count(const struct access_policy_set *set)
{
	return set ? set->n_policies : 0;
}

const struct access_policy_info *access_policy_get(const struct access_policy_set *set, size_t i)
{
	if (!set || i >= set->n_policies)
		return NULL;
	return &set->policies[i]->info;
}

static const char *const action_names[ACCESS_ACTION_COUNT] = { "login", "sudo", "sudo-command",
							       "port-forward" };

const char *access_action_name(enum access_action a)
{
	return (unsigned)a < ACCESS_ACTION_COUNT ? action_names[a] : "unknown";
}

int access_action_from_name(const char *name, enum access_action *out)
{
	for (int i = 0; i < ACCESS_ACTION_COUNT; i++)
		if (name && strcmp(name, action_names[i]) == 0) {
			*out = (enum access_action)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- loading a directory ---- */

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int access_policy_load_dir(const char *dir, struct access_policy_set **out, char *err,
			   size_t err_len)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		if (err && err_len)
			snprintf(err, err_len, "%s: %s", dir, strerror(e));
		return e == ENOENT ? -ENOENT : -e;
	}
	_cleanup_strv_ strv names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_has_suffix(de->d_name, ".policy"))
			strv_push(&names, de->d_name);
	closedir(d);
	size_t n = strv_len(names);
	sort_array(names, n, sizeof(*names), cmp_cstr);
	struct access_policy_builder *b = access_policy_builder_new();
	struct buf text;
	buf_init(&text, POLICY_FILE_MAX);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
		r = file_read_capped(path, POLICY_FILE_MAX, &text);
		if (r < 0) {
			if (err && err_len)
				snprintf(err, err_len, "%s:1:1: %s", path,
					 r == -EFBIG ? "file too large" : strerror(-r));
			r = -EINVAL;
			break;
		}
		r = access_policy_add(b, path, buf_str(&text), buf_len(&text), err, err_len);
	}
	buf_free(&text);
	if (r < 0) {
		access_policy_builder_free(b);
		return r;
	}
	return access_policy_build(b, out, err, err_len);
}

/* ---- evaluation ---- */

enum tri { F = 0, T = 1, U = 2 };

/* What a request knows, worked out once per decision. */
struct req_ctx {
	const struct access_request *req;
	int hour, weekday; /* -1: unknown */
	struct cidr src;   /* family 0: unknown */
	bool grant;
};

static void req_ctx_init(struct req_ctx *c, const struct access_request *req)
{
	c->req = req;
	c->grant = req->context.grant;
	if (req->context.now > 0) {
		int64_t days = req->context.now / 86400;
		c->hour = (int)((req->context.now % 86400) / 3600);
		c->weekday = (int)((days + 3) % 7); /* 1970-01-01 was a Thursday; 0 = Monday */
	} else {
		c->hour = c->weekday = -1;
	}
	memset(&c->src, 0, sizeof(c->src));
	const struct sockaddr_storage *ss = &req->context.source;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		c->src.family = 4;
		memcpy(c->src.addr, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			c->src.family = 4;
			memcpy(c->src.addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			c->src.family = 6;
			memcpy(c->src.addr, in6->sin6_addr.s6_addr, 16);
		}
	}
}

static const char *kv_find(const struct access_attr *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i].key && strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

/* An attribute's value: a string or a number. Returns false when unknown. */
struct value {
	const char *s;
	int64_t i;
	bool is_int;
};

static bool attr_value(const struct req_ctx *c, const struct cond_node *n, struct value *v)
{
	const struct access_request *req = c->req;
	v->s = NULL, v->is_int = false;
	switch (n->attr) {
	case ATTR_P_NAME: v->s = req->principal.name; break;
	case ATTR_P_ATTR:
		v->s = kv_find(req->principal.attrs, req->principal.n_attrs, n->key);
		break;
	case ATTR_H_NAME: v->s = req->host.name; break;
	case ATTR_H_ID: v->s = req->host.id; break;
	case ATTR_H_LABEL: v->s = kv_find(req->host.labels, req->host.n_labels, n->key); break;
	case ATTR_C_TICKET: v->s = req->context.ticket; break;
	case ATTR_C_HOUR: v->i = c->hour, v->is_int = c->hour >= 0; return v->is_int;
	case ATTR_C_WEEKDAY: v->i = c->weekday, v->is_int = c->weekday >= 0; return v->is_int;
	case ATTR_C_POSTURE:
		v->i = req->context.posture, v->is_int = req->context.posture >= 0;
		return v->is_int;
	case ATTR_C_ATTEST:
		v->i = req->context.attestation, v->is_int = true;
		return req->context.attestation != ACCESS_ATTEST_UNKNOWN;
	case ATTR_C_ALERT_LOW:
	case ATTR_C_ALERT_MEDIUM:
	case ATTR_C_ALERT_HIGH:
	case ATTR_C_ALERT_CRITICAL:
		v->i = req->context.open_alerts[n->attr - ATTR_C_ALERT_LOW], v->is_int = true;
		return true;
	case ATTR_C_GRANT: v->i = c->grant, v->is_int = true; return true;
	default: return false;
	}
	if (!v->s)
		return false;
	/* Strings compared with numbers: the number they spell, if they spell one. */
	v->is_int = v->s[0] && parse_i64(v->s, INT64_MIN / 2, INT64_MAX / 2, &v->i) == 0;
	return true;
}

static bool cidr_match(const struct cidr *net, const struct cidr *a)
{
	if (!a->family || net->family != a->family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, a->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (a->addr[full] & mask);
}

static enum tri ord(int64_t x, int op, int64_t y)
{
	bool r;
	switch (op) {
	case OP_EQ: r = x == y; break;
	case OP_NE: r = x != y; break;
	case OP_LT: r = x < y; break;
	case OP_LE: r = x <= y; break;
	case OP_GT: r = x > y; break;
	default: r = x >= y; break;
	}
	return r ? T : F;
}

static enum tri eval_cmp(const struct req_ctx *c, const struct cond_node *n)
{
	if (n->vtype == VT_ADDR) {
		if (!c->src.family)
			return U;
		bool eq = cidr_match(&n->val.cidr, &c->src);
		return (n->op == OP_EQ) == eq ? T : F;
	}
	struct value v;
	if (!attr_value(c, n, &v))
		return U;
	if (n->vtype != VT_STR)
		return ord(v.i, n->op, n->val.i);
	if (n->op == OP_EQ || n->op == OP_NE)
		return (strcmp(v.s, n->val.s) == 0) == (n->op == OP_EQ) ? T : F;
	if (!v.is_int)
		return U;
	return ord(v.i, n->op, n->val.i);
}

static enum tri eval_in(const struct req_ctx *c, const struct cond *cd, const struct cond_node *n)
{
	if (n->type == N_IN_CIDR) {
		if (!c->src.family)
			return U;
		for (uint32_t k = 0; k < n->b; k++)
			if (cidr_match(&cd->vals[n->a + k].cidr, &c->src))
				return T;
		return F;
	}
	struct value v;
	if (!attr_value(c, n, &v))
		return U;
	if (n->type == N_IN_RANGE) {
		if (!v.is_int)
			return U;
		return v.i >= n->lo && v.i <= n->hi ? T : F;
	}
	for (uint32_t k = 0; k < n->b; k++) {
		const struct cond_val *x = &cd->vals[n->a + k];
		if (n->vtype == VT_STR ? strcmp(v.s, x->s) == 0 : v.i == x->i)
			return T;
	}
	return F;
}

/* A predicate (a leaf): T, F, or U when it reads something the request does not know. */
static enum tri eval_pred(const struct req_ctx *c, const struct cond *cd, const struct cond_node *n)
{
	const struct access_principal *pr = &c->req->principal;
	switch (n->type) {
	case N_BOOL: return n->lo ? T : F;
	case N_ATTR: return c->grant ? T : F;
	case N_CMP: return eval_cmp(c, n);
	case N_IN_RANGE:
	case N_IN_LIST:
	case N_IN_CIDR: return eval_in(c, cd, n);
	case N_IN_GROUP:
		for (size_t k = 0; k < pr->n_groups; k++)
			if (pr->groups[k] && strcmp(pr->groups[k], n->key) == 0)
				return T;
		return F;
	case N_HAS:
		if (n->attr == ATTR_P_ATTR)
			return kv_find(pr->attrs, pr->n_attrs, n->key) ? T : F;
		return kv_find(c->req->host.labels, c->req->host.n_labels, n->key) ? T : F;
	default: return U;
	}
}

/* A condition: an unknown predicate is false (and "not" of it true). */
static enum tri eval_node(const struct req_ctx *c, const struct cond *cd, uint32_t i)
{
	const struct cond_node *n = &cd->nodes[i];
	switch (n->type) {
	case N_AND: return eval_node(c, cd, n->a) == T && eval_node(c, cd, n->b) == T ? T : F;
	case N_OR: return eval_node(c, cd, n->a) == T || eval_node(c, cd, n->b) == T ? T : F;
	case N_NOT: return eval_node(c, cd, n->a) == T ? F : T;
	default: return eval_pred(c, cd, n) == T ? T : F;
	}
}

static bool action_matches(const struct policy *pol, const struct access_request *req)
{
	if (!pol->n_actions)
		return true;
	for (size_t i = 0; i < pol->n_actions; i++) {
		const struct pol_action *a = &pol->actions[i];
		bool act = a->action == req->action ||
			   (a->action == ACCESS_SUDO && req->action == ACCESS_SUDO_COMMAND);
		if (!act)
			continue;
		if (a->command && (req->action != ACCESS_SUDO_COMMAND || !req->command ||
				   strcmp(a->command, req->command) != 0))
			continue;
		/* sudo without an account is sudo as root */
		const char *acct = req->account;
		if (!acct && (req->action == ACCESS_SUDO || req->action == ACCESS_SUDO_COMMAND))
			acct = "root";
		if (a->acct == ACCT_ANY)
			return true;
		if (!acct)
			continue;
		if (a->acct == ACCT_NAMED && strcmp(a->account, acct) == 0)
			return true;
		if (a->acct == ACCT_SELF && req->principal.name &&
		    strcmp(req->principal.name, acct) == 0)
			return true;
	}
	return false;
}

static bool host_item_matches(const struct pol_host *h, const struct access_host *host)
{
	if (h->kind == HOST_NAME)
		return (host->name && strcmp(host->name, h->value) == 0) ||
		       (host->id && strcmp(host->id, h->value) == 0);
	const char *v = kv_find(host->labels, host->n_labels, h->key);
	return v && strcmp(v, h->value) == 0;
}

static bool host_matches(const struct access_policy_set *set, const struct policy *pol,
			 const struct access_host *host)
{
	if (!pol->n_hosts)
		return true;
	for (size_t i = 0; i < pol->n_hosts; i++) {
		const struct pol_host *h = &pol->hosts[i];
		if (h->kind != HOST_GROUP) {
			if (host_item_matches(h, host))
				return true;
			continue;
		}
		const struct hostgroup *g = &set->groups[h->group];
		for (size_t k = 0; k < g->n_items; k++)
			if (host_item_matches(&g->items[k], host))
				return true;
	}
	return false;
}

/* Whether the policy's principal clause covers the request (the index already did for
 * decisions; explanations and approvers reuse the candidates the same way). */
static bool scope_matches(const struct access_policy_set *set, const struct policy *pol,
			  const struct access_request *req)
{
	return action_matches(pol, req) && host_matches(set, pol, &req->host);
}

/* The when/unless outcome of a policy in scope: T applies, F or U does not. */
static enum tri conds_outcome(const struct req_ctx *c, const struct policy *pol, enum tri *when,
			      enum tri *unless)
{
	*when = pol->when.present ? eval_node(c, &pol->when, pol->when.root) : T;
	*unless = F;
	if (*when != T)
		return F;
	if (pol->unless.present)
		*unless = eval_node(c, &pol->unless, pol->unless.root);
	if (*unless != F)
		return F;
	if (pol->grant_required && !c->grant)
		return F;
	return T;
}

static bool applies(const struct access_policy_set *set, const struct req_ctx *c,
		    const struct policy *pol)
{
	if (!scope_matches(set, pol, c->req))
		return false;
	enum tri w, u;
	return conds_outcome(c, pol, &w, &u) == T;
}

struct decide_state {
	const struct access_policy_set *set;
	const struct req_ctx *c;
	uint32_t forbid, permit; /* lowest matching index, or UINT32_MAX */
};

/* The index matched the principal and the host already: the action's account, the
 * conditions and the grant remain. */
static void scan_list(const uint32_t *v, uint32_t n, void *arg)
{
	struct decide_state *st = arg;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = v[k];
		const struct policy *pol = st->set->policies[i];
		if (pol->info.forbid ? i >= st->forbid
				     : (i >= st->permit || st->forbid != UINT32_MAX))
			continue;
		enum tri w, u;
		if (!action_matches(pol, st->c->req) || conds_outcome(st->c, pol, &w, &u) != T)
			continue;
		if (pol->info.forbid)
			st->forbid = i;
		else
			st->permit = i;
	}
}

void access_decide(const struct access_policy_set *set, const struct access_request *req,
		   struct access_decision *out)
{
	out->allow = false;
	out->decided_by = NULL;
	if (!set || (unsigned)req->action >= ACCESS_ACTION_COUNT)
		return;
	struct req_ctx c;
	req_ctx_init(&c, req);
	struct decide_state st = { set, &c, UINT32_MAX, UINT32_MAX };
	policy_index_scan(set->index, req, scan_list, &st);
	if (st.forbid != UINT32_MAX) {
		out->decided_by = &set->policies[st.forbid]->info;
	} else if (st.permit != UINT32_MAX) {
		out->allow = true;
		out->decided_by = &set->policies[st.permit]->info;
	}
}

/* ---- explanations and approvers (these may allocate) ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct cand {
	uint32_t *v;
	size_t n, cap;
};

static void collect_list(const uint32_t *v, uint32_t n, void *arg)
{
	struct cand *c = arg;
	if (c->n + n > c->cap) {
		c->cap = (c->n + n) * 2;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	memcpy(c->v + c->n, v, n * sizeof(*c->v));
	c->n += n;
}

/* The candidate policies for req, sorted and unique. */
static uint32_t *candidates(const struct access_policy_set *set, const struct access_request *req,
			    size_t *n_out)
{
	struct cand c = { 0 };
	policy_index_scan(set->index, req, collect_list, &c);
	sort_array(c.v, c.n, sizeof(*c.v), cmp_u32);
	size_t u = 0;
	for (size_t i = 0; i < c.n; i++)
		if (!u || c.v[u - 1] != c.v[i])
			c.v[u++] = c.v[i];
	*n_out = u;
	return c.v;
}

/* The first conjunct of an AND chain that is not true (the reason a condition failed). */
static const struct cond_node *first_failing(const struct req_ctx *c, const struct cond *cd,
					     uint32_t i, enum tri want)
{
	const struct cond_node *n = &cd->nodes[i];
	if (want == T && n->type == N_AND) {
		if (eval_node(c, cd, n->a) != T)
			return first_failing(c, cd, n->a, T);
		return first_failing(c, cd, n->b, T);
	}
	if (want == F && n->type == N_OR) { /* unless: the first disjunct that held */
		if (eval_node(c, cd, n->a) != F)
			return first_failing(c, cd, n->a, F);
		return first_failing(c, cd, n->b, F);
	}
	return n;
}

/* " (unknown)" when a predicate (or the one a "not" wraps) read something unknown. */
static const char *is_unknown(const struct req_ctx *c, const struct cond *cd,
			      const struct cond_node *n)
{
	while (n->type == N_NOT)
		n = &cd->nodes[n->a];
	if (n->type == N_AND || n->type == N_OR)
		return "";
	return eval_pred(c, cd, n) == U ? " (unknown)" : "";
}

static char *explain_reason(const struct req_ctx *c, const struct policy *pol, enum tri when,
			    enum tri unless)
{
	if (when != T) {
		const struct cond_node *n = first_failing(c, &pol->when, pol->when.root, T);
		return xasprintf("when: %s%s", n->text, is_unknown(c, &pol->when, n));
	}
	if (unless != F) {
		const struct cond_node *n = first_failing(c, &pol->unless, pol->unless.root, F);
		return xasprintf("unless: %s%s", n->text, is_unknown(c, &pol->unless, n));
	}
	return xstrdup("grant: required (no active grant)");
}

char *access_explain(const struct access_policy_set *set, const struct access_request *req,
		     struct access_decision *out)
{
	access_decide(set, req, out);
	json_t *arr = json_array();
	if (set && (unsigned)req->action < ACCESS_ACTION_COUNT) {
		struct req_ctx c;
		req_ctx_init(&c, req);
		size_t n;
		uint32_t *v = candidates(set, req, &n);
		for (size_t i = 0; i < n; i++) {
			const struct policy *pol = set->policies[v[i]];
			if (!scope_matches(set, pol, req))
				continue;
			enum tri w, u;
			bool matched = conds_outcome(&c, pol, &w, &u) == T;
			json_t *reason = json_null();
			if (!matched) {
				char *s = explain_reason(&c, pol, w, u);
				reason = json_string(s);
				free(s);
			}
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:b, s:o}",
							     "policy", pol->info.name, "effect",
							     pol->info.forbid ? "forbid" : "permit",
							     "file", pol->info.file, "line",
							     (json_int_t)pol->info.line, "matched",
							     matched, "reason", reason));
		}
		free(v);
	}
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s ? s : xstrdup("[]");
}

size_t access_grant_approvers(const struct access_policy_set *set, const struct access_request *req,
			      const char **out, size_t max, int64_t *max_grant_s)
{
	*max_grant_s = 0;
	if (!set || (unsigned)req->action >= ACCESS_ACTION_COUNT)
		return 0;
	struct access_request with = *req, without = *req;
	with.context.grant = true;
	without.context.grant = false;
	struct access_decision d;
	access_decide(set, &with, &d);
	if (!d.allow)
		return 0; /* a grant would not help: nothing permits, or a forbid applies */
	struct req_ctx cw, cwo;
	req_ctx_init(&cw, &with);
	req_ctx_init(&cwo, &without);
	size_t n, written = 0;
	uint32_t *v = candidates(set, req, &n);
	for (size_t i = 0; i < n; i++) {
		const struct policy *pol = set->policies[v[i]];
		if (pol->info.forbid || !applies(set, &cw, pol) || applies(set, &cwo, pol))
			continue;
		if (pol->info.max_grant_s &&
		    (!*max_grant_s || pol->info.max_grant_s < *max_grant_s))
			*max_grant_s = pol->info.max_grant_s;
		for (size_t k = 0; k < pol->info.n_approvers; k++) {
			const char *a = pol->info.approvers[k];
			bool seen = false;
			for (size_t j = 0; j < written && !seen; j++)
				seen = strcmp(out[j], a) == 0;
			if (!seen && written < max)
				out[written++] = a;
		}
	}
	free(v);
	return written;
}
