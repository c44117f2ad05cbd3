/* Fuzzes the KRL reader: whatever it accepts holds sorted, disjoint serial ranges without
 * serial 0, within the limits, and answers revocation questions without crashing. */
#include "access/sshcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct krl k;
	size_t entries = 0;

	if (krl_parse(data, size, &k) != 0)
		return 0;
	if (k.n_cas > KRL_MAX_SECTIONS || !k.comment)
		abort();
	for (size_t i = 0; i < k.n_cas; i++) {
		const struct krl_ca *ca = &k.cas[i];

		entries += ca->n_serials + ca->n_key_ids;
		for (size_t j = 0; j < ca->n_serials; j++) {
			const struct krl_range *r = &ca->serials[j];

			if (r->lo == 0 || r->lo > r->hi ||
			    (j > 0 && ca->serials[j - 1].hi >= r->lo))
				abort();
			if (!krl_revokes(&k, &ca->key, r->lo, NULL) ||
			    !krl_revokes(&k, &ca->key, r->hi, NULL))
				abort();
		}
		for (size_t j = 0; j < ca->n_key_ids; j++)
			if (!krl_revokes(&k, &ca->key, 0, ca->key_ids[j]))
				abort();
	}
	if (entries > KRL_MAX_ENTRIES)
		abort();
	krl_free(&k);
	return 0;
}
