/* nftables configuration reader: a bounded tokenizer and a statement walker that tracks
 * table and chain blocks. See nftconf.h. */
#include "inventory/nftconf.h"

#define NFT_TOKENS 32	  /* tokens kept per statement (the rest are dropped) */
#define NFT_TOKEN_LEN 256 /* bytes kept per token (longer ones are truncated) */
#define NFT_NEST 32	  /* block nesting tracked */
#define NFT_CHAINS 256	  /* chains tracked */
#define NFT_NAME 64

enum frame_kind { FRAME_OTHER, FRAME_TABLE, FRAME_CHAIN };

struct chain {
	char family[NFT_NAME], table[NFT_NAME], name[NFT_NAME];
	int hook; /* enum nft_hook, or -1 */
	bool filter;
	enum nft_policy policy;
};

struct frame {
	enum frame_kind kind;
	char family[NFT_NAME], table[NFT_NAME];
	int chain; /* index in chains for FRAME_CHAIN, else -1 */
};

struct nft_parser {
	nft_include_fn include;
	void *userdata;
	unsigned depth;
	char tok[NFT_TOKENS][NFT_TOKEN_LEN];
	size_t ntok;
	struct frame stack[NFT_NEST];
	size_t nstack, overflow; /* frames kept, and frames past NFT_NEST */
	struct chain chains[NFT_CHAINS];
	size_t nchains;
};

struct nft_parser *nft_parser_new(nft_include_fn include, void *userdata)
{
	struct nft_parser *p = xcalloc(1, sizeof(*p));
	p->include = include;
	p->userdata = userdata;
	return p;
}

void nft_parser_free(struct nft_parser *p)
{
	free(p);
}

unsigned nft_depth(const struct nft_parser *p)
{
	return p->depth;
}

static void copy_name(char dst[NFT_NAME], const char *src)
{
	snprintf(dst, NFT_NAME, "%s", src);
}

static bool is_family(const char *s)
{
	static const char *const fams[] = { "ip", "ip6", "inet", "arp", "bridge", "netdev" };
	for (size_t i = 0; i < ARRAY_SIZE(fams); i++)
		if (strcmp(s, fams[i]) == 0)
			return true;
	return false;
}

static bool filters_ip(const char *family)
{
	return !strcmp(family, "ip") || !strcmp(family, "ip6") || !strcmp(family, "inet");
}

static int find_chain(struct nft_parser *p, const char *family, const char *table, const char *name)
{
	for (size_t i = 0; i < p->nchains; i++) {
		struct chain *c = &p->chains[i];
		if (!strcmp(c->family, family) && !strcmp(c->table, table) &&
		    !strcmp(c->name, name))
			return (int)i;
	}
	if (p->nchains == NFT_CHAINS)
		return -1;
	struct chain *c = &p->chains[p->nchains];
	*c = (struct chain){ .hook = -1 };
	copy_name(c->family, family);
	copy_name(c->table, table);
	copy_name(c->name, name);
	return (int)p->nchains++;
}

/* Index of the first token after an optional "add"/"create" verb. */
static size_t verb_skip(const struct nft_parser *p)
{
	return p->ntok > 0 && (!strcmp(p->tok[0], "add") || !strcmp(p->tok[0], "create")) ? 1 : 0;
}

/* A '{' ends the current statement: decides what kind of block it opens. */
static void open_block(struct nft_parser *p)
{
	if (p->nstack == NFT_NEST) {
		p->overflow++;
		return;
	}
	struct frame *top = p->nstack ? &p->stack[p->nstack - 1] : NULL;
	struct frame f = { .kind = FRAME_OTHER, .chain = -1 };
	size_t i = verb_skip(p), left = p->ntok - i;

	if (left >= 2 && !strcmp(p->tok[i], "table")) {
		bool fam = left >= 3 && is_family(p->tok[i + 1]);
		f.kind = FRAME_TABLE;
		copy_name(f.family, fam ? p->tok[i + 1] : "ip");
		copy_name(f.table, p->tok[i + (fam ? 2 : 1)]);
	} else if (left >= 2 && !strcmp(p->tok[i], "chain")) {
		const char *family, *table, *name;
		if (top && top->kind == FRAME_TABLE && left == 2) {
			family = top->family;
			table = top->table;
			name = p->tok[i + 1];
		} else if (left >= 4 && is_family(p->tok[i + 1])) {
			family = p->tok[i + 1];
			table = p->tok[i + 2];
			name = p->tok[i + 3];
		} else if (left >= 3) {
			family = "ip";
			table = p->tok[i + 1];
			name = p->tok[i + 2];
		} else {
			family = table = "";
			name = p->tok[i + 1];
		}
		f.kind = FRAME_CHAIN;
		f.chain = find_chain(p, family, table, name);
	}
	p->stack[p->nstack++] = f;
}

static void close_block(struct nft_parser *p)
{
	if (p->overflow)
		p->overflow--;
	else if (p->nstack)
		p->nstack--;
}

static int hook_of(const char *s)
{
	if (!strcmp(s, "input"))
		return NFT_HOOK_INPUT;
	if (!strcmp(s, "forward"))
		return NFT_HOOK_FORWARD;
	if (!strcmp(s, "output"))
		return NFT_HOOK_OUTPUT;
	return -2; /* a hook that is none of ours (prerouting, ingress, ...) */
}

/* A statement inside a chain block: "type filter hook input priority 0" or "policy drop". */
static void chain_statement(struct nft_parser *p, struct chain *c)
{
	if (!strcmp(p->tok[0], "type") && p->ntok >= 2) {
		c->filter = !strcmp(p->tok[1], "filter");
		for (size_t i = 2; i + 1 < p->ntok; i++)
			if (!strcmp(p->tok[i], "hook"))
				c->hook = hook_of(p->tok[i + 1]);
	} else if (!strcmp(p->tok[0], "policy") && p->ntok >= 2) {
		if (!strcmp(p->tok[1], "drop"))
			c->policy = NFT_POLICY_DROP;
		else if (!strcmp(p->tok[1], "accept"))
			c->policy = NFT_POLICY_ACCEPT;
	}
}

static void end_statement(struct nft_parser *p)
{
	if (!p->ntok)
		return;
	struct frame *top = p->nstack && !p->overflow ? &p->stack[p->nstack - 1] : NULL;
	if (!strcmp(p->tok[0], "include") && p->ntok >= 2) {
		char pattern[NFT_TOKEN_LEN];
		snprintf(pattern, sizeof(pattern), "%s", p->tok[1]);
		p->ntok = 0;
		if (p->include)
			p->include(p, pattern, p->userdata);
		return;
	}
	if (top && top->kind == FRAME_CHAIN && top->chain >= 0)
		chain_statement(p, &p->chains[top->chain]);
	p->ntok = 0;
}

static void add_token(struct nft_parser *p, const char *s, size_t n)
{
	if (p->ntok == NFT_TOKENS)
		return;
	if (n >= NFT_TOKEN_LEN)
		n = NFT_TOKEN_LEN - 1;
	memcpy(p->tok[p->ntok], s, n);
	p->tok[p->ntok][n] = '\0';
	p->ntok++;
}

static bool is_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f') ||
		    ch == 0x7f)
			return false;
	}
	return true;
}

static bool word_char(char ch)
{
	return !strchr(" \t\r\f\n;{}#\"\\", ch);
}

/* Walks the tokens of text; every index is checked against len. */
static void tokenize(struct nft_parser *p, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		char ch = s[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f') {
			i++;
		} else if (ch == '\\') {
			i++;
			if (i < len && s[i] == '\n')
				i++; /* line continuation */
			else if (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n')
				i += 2;
		} else if (ch == '#') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (ch == '\n' || ch == ';') {
			end_statement(p);
			i++;
		} else if (ch == '{') {
			open_block(p);
			p->ntok = 0;
			i++;
		} else if (ch == '}') {
			end_statement(p);
			close_block(p);
			i++;
		} else if (ch == '"') {
			size_t start = ++i;
			while (i < len && s[i] != '"' && s[i] != '\n')
				i++;
			add_token(p, s + start, i - start);
			if (i < len && s[i] == '"')
				i++;
		} else {
			size_t start = i;
			while (i < len && word_char(s[i]))
				i++;
			add_token(p, s + start, i - start);
		}
	}
	end_statement(p);
}

int nft_parse_text(struct nft_parser *p, const char *text, size_t len)
{
	if (len > NFT_CONF_MAX)
		return -EMSGSIZE;
	if (!is_text(text, len))
		return -EBADMSG;
	if (p->depth >= NFT_INCLUDE_DEPTH)
		return -ELOOP;
	/* An included file starts its own statements; the includer's block context remains. */
	p->depth++;
	p->ntok = 0;
	tokenize(p, text, len);
	p->depth--;
	p->ntok = 0;
	return 0;
}

enum nft_policy nft_policy(const struct nft_parser *p, enum nft_hook hook)
{
	enum nft_policy best = NFT_POLICY_NONE;
	for (size_t i = 0; i < p->nchains; i++) {
		const struct chain *c = &p->chains[i];
		if (c->hook != (int)hook || !c->filter || !filters_ip(c->family))
			continue;
		if (c->policy == NFT_POLICY_DROP)
			return NFT_POLICY_DROP;
		best = NFT_POLICY_ACCEPT; /* a base chain without policy accepts */
	}
	return best;
}

unsigned nft_base_chains(const struct nft_parser *p)
{
	unsigned n = 0;
	for (size_t i = 0; i < p->nchains; i++)
		if (p->chains[i].hook >= 0 && p->chains[i].filter &&
		    filters_ip(p->chains[i].family))
			n++;
	return n;
}
