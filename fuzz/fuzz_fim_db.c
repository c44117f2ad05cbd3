/* Fuzzes the file integrity hash database parser (fim_db_parse), and the line diff over two
 * texts. The first byte chooses: 0, the database file as it is; 1, the rest with a correct
 * checksum appended (so that inputs reach the entries past the SHA-256 check); 2, two texts
 * separated by the first NUL for vault_diff_text. */
#include "detect/fim_scan.h"
#include "detect/vault.h"

#include <openssl/evp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const uint8_t *p, size_t n)
{
	struct fim_db *db = fim_db_new();
	struct fim_entry e;
	if (fim_db_parse(db, p, n) == 0) {
		size_t count = fim_db_count(db);
		if (count > FIM_DB_MAX_ENTRIES)
			abort();
		fim_db_get(db, "/etc/passwd", &e);
	} else if (fim_db_count(db) != 0) {
		abort(); /* a refused file leaves the database empty */
	}
	fim_db_free(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (data[0] == 0) {
		parse(p, n);
	} else if (data[0] == 1) {
		uint8_t *c = xmalloc(n + FIM_SHA256_LEN);
		unsigned len = 0;
		memcpy(c, p, n);
		if (EVP_Digest(p, n, c + n, &len, EVP_sha256(), NULL))
			parse(c, n + FIM_SHA256_LEN);
		free(c);
	} else if (data[0] == 2) {
		const uint8_t *nul = memchr(p, 0, n);
		size_t alen = nul ? (size_t)(nul - p) : n;
		const char *b = nul ? (const char *)nul + 1 : "";
		size_t blen = nul ? n - alen - 1 : 0;
		struct buf out;
		buf_init(&out, 4096);
		if (vault_diff_text((const char *)p, alen, b, blen, "f", 4096, &out) == 0 &&
		    buf_len(&out) > 4096)
			abort();
		buf_free(&out);
	}
	return 0;
}
