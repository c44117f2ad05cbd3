/* Fuzzes the nftables configuration reader; include statements re-enter the parser with the
 * included name as text, so nesting and the depth limit are exercised too. */
#include "inventory/nftconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void include_name(struct nft_parser *p, const char *pattern, void *userdata)
{
	unsigned *calls = userdata;
	if ((*calls)++ < 64)
		nft_parse_text(p, pattern, strlen(pattern));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned calls = 0;
	struct nft_parser *p = nft_parser_new(include_name, &calls);
	nft_parse_text(p, (const char *)data, size);
	for (int h = 0; h < NFT_HOOK_COUNT; h++)
		nft_policy(p, (enum nft_hook)h);
	nft_base_chains(p);
	nft_parser_free(p);
	return 0;
}
