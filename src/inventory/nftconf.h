/* A bounded reader of nftables configuration files (nft -f syntax), enough to find the base
 * filter chains of the ip, ip6 and inet families and their default policies.
 *
 * Tokens are words, "strings", ';', newlines, '{' and '}'; '#' starts a comment and '\' joins
 * lines. Statements, tokens, block nesting, chains and include depth are all capped. */
#pragma once

#include "lib/common.h"

#define NFT_CONF_MAX (1024 * 1024) /* bytes of one configuration file */
#define NFT_INCLUDE_DEPTH 8	   /* nested include levels */

enum nft_hook { NFT_HOOK_INPUT, NFT_HOOK_FORWARD, NFT_HOOK_OUTPUT, NFT_HOOK_COUNT };
enum nft_policy { NFT_POLICY_NONE, NFT_POLICY_ACCEPT, NFT_POLICY_DROP };

struct nft_parser;

/* Called for an `include "pattern"` statement: reads the matching files and feeds each one to
 * nft_parse_text() on the same parser (which tracks the depth). */
typedef void (*nft_include_fn)(struct nft_parser *p, const char *pattern, void *userdata);

/* Returns a new parser; include may be NULL (include statements are then ignored). */
struct nft_parser *nft_parser_new(nft_include_fn include, void *userdata);
/* Frees a parser; accepts NULL. */
void nft_parser_free(struct nft_parser *p);
static inline void nft_parser_freep(struct nft_parser **p)
{
	nft_parser_free(*p);
}
/* Parses one file's text. Returns 0, -EBADMSG when it is not text (NUL or control bytes; the
 * text is then ignored), -EMSGSIZE over NFT_CONF_MAX, or -ELOOP past NFT_INCLUDE_DEPTH. */
int nft_parse_text(struct nft_parser *p, const char *text, size_t len);
/* Returns the include depth of the text being parsed (0 outside nft_parse_text). */
unsigned nft_depth(const struct nft_parser *p);
/* Returns the default policy of hook: DROP when a base filter chain on it drops, ACCEPT when
 * such chains exist and all accept, NONE when there is none. */
enum nft_policy nft_policy(const struct nft_parser *p, enum nft_hook hook);
/* Returns the number of base filter chains found (ip, ip6 and inet families). */
unsigned nft_base_chains(const struct nft_parser *p);
