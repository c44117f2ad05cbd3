/* Fuzzes certificate requests as the CA receives them (EnrollRequest and RenewRequest). */
#include "trust/pki.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pki_ca *fuzz_ca;
static char fuzz_dir[] = "/tmp/immune-fuzz-csr-XXXXXX";

static void cleanup(void)
{
	const char *names[] = { "ca.key", "ca.crt", "server.key", "server.crt" };

	pki_ca_free(fuzz_ca);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", fuzz_dir, names[i]);
		unlink(p);
	}
	rmdir(fuzz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *cert;

	if (!fuzz_ca) {
		if (!mkdtemp(fuzz_dir) || pki_ca_open(fuzz_dir, NULL, &fuzz_ca) < 0)
			abort();
		atexit(cleanup);
	}
	if (pki_ca_issue_host(fuzz_ca, data, size, "h-fuzz", 3600, &cert) == 0)
		X509_free(cert);
	return 0;
}
