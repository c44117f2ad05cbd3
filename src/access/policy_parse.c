/* The access policy language's parser: text into policies and host groups
 * (docs/access-policy.md). Tokens first, then a recursive descent that reports
 * FILE:LINE:COLUMN for every error. Newlines are insignificant: lists are comma-separated
 * and a clause starts with "keyword:". */
#include "access/policy_lex.h"
#include "lib/buf.h"
#include "lib/str.h"

/* ---- hosts ---- */

static int parse_label(struct parser *p, struct tok *t, struct pol_host *h)
{
	const char *eq = t->t == T_WORD || t->t == T_STRING ? strchr(t->s, '=') : NULL;
	if (!eq || eq == t->s || !eq[1])
		return terr(p, t, "expected a label as key=value, found %s", tok_text(t));
	size_t klen = (size_t)(eq - t->s);
	if (klen > ACCESS_NAME_MAX)
		return terr(p, t, "label key longer than %d characters", ACCESS_NAME_MAX);
	if (strlen(eq + 1) > POLICY_VALUE_MAX)
		return terr(p, t, "label value longer than %u characters", POLICY_VALUE_MAX);
	h->kind = HOST_LABEL;
	h->key = xstrndup(t->s, klen);
	h->value = xstrdup(eq + 1);
	return 0;
}

static void hosts_free(struct pol_host *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].key);
		free(h[i].value);
	}
	free(h);
}

/* host-item (',' host-item)*: host NAME | label K=V | hostgroup NAME (when allowed). */
static int parse_hosts(struct parser *p, bool allow_groups, struct pol_host **out, size_t *n_out)
{
	struct pol_host *hs = NULL;
	size_t n = 0;
	int r = 0;
	for (;;) {
		struct tok *kw = next(p);
		struct pol_host h = { .line = kw->line, .col = kw->col };
		if (is_word(kw, "host")) {
			struct tok *t = peek(p);
			if (t->t != T_WORD && t->t != T_STRING) {
				r = terr(p, t, "expected a hostname or host id after 'host'");
				goto fail;
			}
			if (strlen(t->s) == 0 || strlen(t->s) > 253) {
				r = terr(p, t, "hostname must be 1 to 253 characters");
				goto fail;
			}
			next(p);
			h.kind = HOST_NAME;
			h.value = xstrdup(t->s);
		} else if (is_word(kw, "label")) {
			r = parse_label(p, next(p), &h);
			if (r < 0)
				goto fail;
		} else if (is_word(kw, "hostgroup")) {
			if (!allow_groups) {
				r = terr(p, kw, "a host group cannot include another host group");
				goto fail;
			}
			h.kind = HOST_GROUP;
			r = take_name(p, "host group name", &h.key);
			if (r < 0)
				goto fail;
		} else {
			r = terr(p, kw, "expected 'host', 'label' or 'hostgroup', found %s",
				 tok_text(kw));
			goto fail;
		}
		hs = xrealloc(hs, (n + 1) * sizeof(*hs));
		hs[n++] = h;
		if (peek(p)->t != T_COMMA)
			break;
		next(p);
	}
	*out = hs;
	*n_out = n;
	return 0;
fail:
	hosts_free(hs, n);
	return r;
}

static int parse_hostgroup(struct parser *p, struct tok *kw)
{
	struct hostgroup g = { .file = p->file, .line = kw->line, .col = kw->col };
	int r = take_name(p, "host group name", &g.name);
	if (r < 0)
		return r;
	r = expect(p, T_COLON, "':' after the host group's name", NULL);
	if (r >= 0)
		r = parse_hosts(p, false, &g.items, &g.n_items);
	if (r < 0) {
		free(g.name);
		return r;
	}
	struct access_policy_builder *b = p->b;
	if (b->n_groups == b->cap_groups) {
		b->cap_groups = b->cap_groups ? b->cap_groups * 2 : 16;
		b->groups = xrealloc(b->groups, b->cap_groups * sizeof(*b->groups));
	}
	b->groups[b->n_groups++] = g;
	return 0;
}

/* ---- principals and actions ---- */

static int parse_principals(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		bool group;
		if (is_word(kw, "group"))
			group = true;
		else if (is_word(kw, "user"))
			group = false;
		else
			return terr(p, kw, "expected 'group' or 'user', found %s", tok_text(kw));
		char *name;
		int r = take_name(p, group ? "group name" : "user name", &name);
		if (r < 0)
			return r;
		pol->principals = xrealloc(pol->principals,
					   (pol->n_principals + 1) * sizeof(*pol->principals));
		pol->principals[pol->n_principals++] = (struct pol_principal){ group, name };
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

/* Optional "as ACCOUNT" / "as $principal". */
static int parse_as(struct parser *p, struct pol_action *a)
{
	if (!is_word(peek(p), "as"))
		return 0;
	next(p);
	struct tok *t = peek(p);
	if (is_word(t, "$principal")) {
		next(p);
		a->acct = ACCT_SELF;
		return 0;
	}
	int r = take_name(p, "account name", &a->account);
	if (r < 0)
		return r;
	a->acct = ACCT_NAMED;
	return 0;
}

static int parse_actions(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		struct pol_action a = { 0 };
		int r;
		if (kw->t != T_WORD) {
			return terr(p, kw, "expected an action, found %s", tok_text(kw));
		} else if (strcmp(kw->s, "login") == 0) {
			a.action = ACCESS_LOGIN;
		} else if (strcmp(kw->s, "sudo") == 0) {
			a.action = ACCESS_SUDO;
		} else if (strcmp(kw->s, "port-forward") == 0) {
			a.action = ACCESS_PORT_FORWARD;
		} else if (strcmp(kw->s, "sudo-command") == 0) {
			a.action = ACCESS_SUDO_COMMAND;
			struct tok *c = peek(p);
			if (c->t != T_STRING)
				return terr(p, c,
					    "expected the command as a quoted string after "
					    "'sudo-command'");
			if (c->s[0] == '\0')
				return terr(p, c, "empty command");
			next(p);
			a.command = xstrdup(c->s);
		} else {
			return terr(p, kw,
				    "unknown action '%s' (login, sudo, sudo-command, port-forward)",
				    kw->s);
		}
		r = parse_as(p, &a);
		if (r < 0) {
			free(a.command);
			return r;
		}
		pol->actions = xrealloc(pol->actions, (pol->n_actions + 1) * sizeof(*pol->actions));
		pol->actions[pol->n_actions++] = a;
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

/* ---- grant, approvers, max, create ---- */

static int parse_duration(struct parser *p, struct tok *t, int64_t *out)
{
	if (t->t != T_WORD)
		return terr(p, t, "expected a duration such as 30m, 4h or 1d");
	size_t n = strlen(t->s);
	int64_t unit;
	switch (n ? t->s[n - 1] : 0) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return terr(p, t, "expected a duration such as 30m, 4h or 1d, found %s", t->s);
	}
	char *num = xstrndup(t->s, n - 1);
	int64_t v;
	int r = parse_i64(num, 1, 366 * 86400, &v);
	free(num);
	if (r < 0 || v * unit > 366 * 86400)
		return terr(p, t, "duration '%s' out of range (1s to 366d)", t->s);
	*out = v * unit;
	return 0;
}

static int parse_approvers(struct parser *p, struct policy *pol)
{
	for (;;) {
		struct tok *kw = next(p);
		const char *kind;
		if (is_word(kw, "group"))
			kind = "group";
		else if (is_word(kw, "user"))
			kind = "user";
		else
			return terr(p, kw, "expected 'group' or 'user', found %s", tok_text(kw));
		char *name;
		int r = take_name(p, "approver", &name);
		if (r < 0)
			return r;
		char *s = xasprintf("%s:%s", kind, name);
		free(name);
		if (strv_contains(pol->approvers, s))
			free(s);
		else
			strv_push_take(&pol->approvers, s);
		if (peek(p)->t != T_COMMA)
			return 0;
		next(p);
	}
}

static int parse_create(struct parser *p, struct policy *pol)
{
	pol->info.create = true;
	for (;;) {
		struct tok *t = peek(p);
		if (t->t == T_RBRACE || at_clause(p))
			return 0;
		next(p);
		if (t->t == T_SEMI)
			continue;
		if (is_word(t, "sudo")) {
			pol->info.create_sudo = true;
		} else if (is_word(t, "groups")) {
			for (;;) {
				char *g;
				int r = take_name(p, "group name", &g);
				if (r < 0)
					return r;
				if (strv_contains(pol->create_groups, g))
					free(g);
				else
					strv_push_take(&pol->create_groups, g);
				if (peek(p)->t != T_COMMA)
					break;
				next(p);
			}
		} else if (is_word(t, "account")) {
			/* "create: account" alone: provision with defaults */
		} else {
			return terr(p, t,
				    "expected 'groups NAME,...', 'sudo' or 'account' in "
				    "'create', found %s",
				    tok_text(t));
		}
	}
}

/* ---- policies ---- */

enum clause {
	CL_PRINCIPAL,
	CL_ACTION,
	CL_HOST,
	CL_WHEN,
	CL_UNLESS,
	CL_GRANT,
	CL_APPROVERS,
	CL_MAX,
	CL_CREATE,
	CL_COUNT
};
static const char *const clause_names[CL_COUNT] = { "principal", "action", "host",
						    "when",	 "unless", "grant",
						    "approvers", "max",	   "create" };

static int parse_clause(struct parser *p, struct policy *pol, struct tok *kw, int cl)
{
	switch (cl) {
	case CL_PRINCIPAL: return parse_principals(p, pol);
	case CL_ACTION: return parse_actions(p, pol);
	case CL_HOST: return parse_hosts(p, true, &pol->hosts, &pol->n_hosts);
	case CL_WHEN: return policy_parse_condition(p, &pol->when);
	case CL_UNLESS: return policy_parse_condition(p, &pol->unless);
	case CL_GRANT: {
		struct tok *t = next(p);
		if (is_word(t, "required"))
			pol->grant_required = true;
		else if (!is_word(t, "none"))
			return terr(p, t, "expected 'required' or 'none' after 'grant:'");
		return 0;
	}
	case CL_APPROVERS: return parse_approvers(p, pol);
	case CL_MAX: return parse_duration(p, next(p), &pol->info.max_grant_s);
	case CL_CREATE:
		if (pol->info.forbid)
			return terr(p, kw, "'create' belongs in a permit policy");
		return parse_create(p, pol);
	}
	return 0;
}

static int parse_body(struct parser *p, struct policy *pol)
{
	struct tok *clause_tok[CL_COUNT] = { 0 };
	for (;;) {
		struct tok *t = peek(p);
		if (t->t == T_RBRACE) {
			next(p);
			break;
		}
		if (t->t == T_SEMI) {
			next(p);
			continue;
		}
		if (t->t == T_EOF)
			return terr(p, t, "missing '}' at the end of policy '%s' (line %u)",
				    pol->info.name, pol->info.line);
		if (!at_clause(p))
			return terr(p, t, "expected a clause such as 'when:' or '}', found %s",
				    tok_text(t));
		int cl = -1;
		for (int i = 0; i < CL_COUNT; i++)
			if (strcmp(t->s, clause_names[i]) == 0)
				cl = i;
		if (cl < 0)
			return terr(p, t,
				    "unknown clause '%s' (principal, action, host, when, unless, "
				    "grant, approvers, max, create)",
				    t->s);
		if (clause_tok[cl])
			return terr(p, t, "duplicate clause '%s' (first on line %u)", t->s,
				    clause_tok[cl]->line);
		clause_tok[cl] = t;
		next(p);
		next(p); /* ':' */
		int r = parse_clause(p, pol, t, cl);
		if (r < 0)
			return r;
		struct tok *after = peek(p);
		if (after->t == T_EOF)
			return terr(p, after, "missing '}' at the end of policy '%s' (line %u)",
				    pol->info.name, pol->info.line);
		if (after->t != T_RBRACE && after->t != T_SEMI && !at_clause(p))
			return terr(p, after, "unexpected %s after the '%s' clause",
				    tok_text(after), t->s);
	}
	if (pol->info.forbid &&
	    (clause_tok[CL_GRANT] || clause_tok[CL_APPROVERS] || clause_tok[CL_MAX])) {
		struct tok *t = clause_tok[CL_GRANT]	   ? clause_tok[CL_GRANT]
				: clause_tok[CL_APPROVERS] ? clause_tok[CL_APPROVERS]
							   : clause_tok[CL_MAX];
		return terr(p, t, "'%s' belongs in a permit policy", t->s);
	}
	if (!pol->grant_required && (clause_tok[CL_APPROVERS] || clause_tok[CL_MAX])) {
		struct tok *t =
			clause_tok[CL_APPROVERS] ? clause_tok[CL_APPROVERS] : clause_tok[CL_MAX];
		return terr(p, t, "'%s' needs 'grant: required'", t->s);
	}
	return 0;
}

static int parse_policy(struct parser *p, struct tok *kw)
{
	struct access_policy_builder *b = p->b;
	if (b->n_policies >= POLICY_COUNT_MAX)
		return terr(p, kw, "more than %u policies", POLICY_COUNT_MAX);
	struct policy *pol = xcalloc(1, sizeof(*pol));
	pol->info.forbid = kw->s[0] == 'f';
	pol->info.file = p->file;
	pol->info.line = kw->line;
	pol->col = kw->col;
	char *name = NULL;
	int r = take_name(p, "policy name", &name);
	if (r < 0)
		goto fail;
	pol->info.name = name;
	r = expect(p, T_LBRACE, "'{' after the policy's name", NULL);
	if (r < 0)
		goto fail;
	r = parse_body(p, pol);
	if (r < 0)
		goto fail;
	pol->info.approvers = (const char *const *)pol->approvers;
	pol->info.n_approvers = strv_len(pol->approvers);
	pol->info.grant_required = pol->grant_required;
	pol->info.create_groups = (const char *const *)pol->create_groups;
	pol->info.n_create_groups = strv_len(pol->create_groups);
	if (b->n_policies == b->cap_policies) {
		b->cap_policies = b->cap_policies ? b->cap_policies * 2 : 64;
		b->policies = xrealloc(b->policies, b->cap_policies * sizeof(*b->policies));
	}
	b->policies[b->n_policies++] = pol;
	return 0;
fail:
	policy_free(pol);
	return r;
}

int policy_parse(struct access_policy_builder *b, const char *file, const char *text, size_t len,
		 char *err, size_t err_len)
{
	strv_push(&b->files, file ? file : "<policy>");
	struct parser p = { .b = b,
			    .file = b->files[strv_len(b->files) - 1],
			    .text = text,
			    .len = len,
			    .err = err,
			    .err_len = err_len };
	int r;
	if (len > POLICY_FILE_MAX) {
		r = perr(&p, 1, 1, "file larger than %u bytes", POLICY_FILE_MAX);
		goto out;
	}
	r = policy_lex(&p);
	if (r < 0)
		goto out;
	for (;;) {
		struct tok *t = next(&p);
		if (t->t == T_EOF)
			break;
		if (is_word(t, "permit") || is_word(t, "forbid"))
			r = parse_policy(&p, t);
		else if (is_word(t, "hostgroup"))
			r = parse_hostgroup(&p, t);
		else if (t->t == T_RBRACE)
			r = terr(&p, t, "'}' without a policy to close");
		else
			r = terr(&p, t, "expected 'permit', 'forbid' or 'hostgroup', found %s",
				 tok_text(t));
		if (r < 0)
			break;
	}
out:
	for (size_t i = 0; i < p.n; i++)
		free(p.toks[i].s);
	free(p.toks);
	return r;
}

void cond_clear(struct cond *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->nodes[i].key);
		free(c->nodes[i].val.s);
		free(c->nodes[i].text);
	}
	for (size_t i = 0; i < c->n_vals; i++)
		free(c->vals[i].s);
	free(c->nodes);
	free(c->vals);
	memset(c, 0, sizeof(*c));
}

void policy_free(struct policy *pol)
{
	if (!pol)
		return;
	free((char *)pol->info.name);
	for (size_t i = 0; i < pol->n_principals; i++)
		free(pol->principals[i].name);
	free(pol->principals);
	for (size_t i = 0; i < pol->n_actions; i++) {
		free(pol->actions[i].account);
		free(pol->actions[i].command);
	}
	free(pol->actions);
	hosts_free(pol->hosts, pol->n_hosts);
	cond_clear(&pol->when);
	cond_clear(&pol->unless);
	strv_free(pol->approvers);
	strv_free(pol->create_groups);
	free(pol);
}

void hostgroup_clear(struct hostgroup *g)
{
	free(g->name);
	hosts_free(g->items, g->n_items);
	memset(g, 0, sizeof(*g));
}
