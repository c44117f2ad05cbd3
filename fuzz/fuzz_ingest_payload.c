/* Fuzzes the parsers of record payloads agents send to the server (src/store/ingest_parse.c).
 * The first byte chooses the record kind and the encoding: bits 0-2 the kind (scan, inventory
 * table, inventory gone, gap), bit 7 set means the rest is zstd-compressed. */
#include "store/ingest_parse.h"

#include "proto/immune.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(unsigned kind, const void *p, size_t len)
{
	struct ingest_scan scan;
	struct ingest_inventory inv;
	struct ingest_gap gap;
	size_t i;

	switch (kind % 4) {
	case 0:
		if (ingest_parse_scan(p, len, &scan) == 0) {
			/* touch everything the store reads */
			for (i = 0; i < scan.n_findings; i++)
				if (strlen(scan.findings[i].id) == 0 || !scan.findings[i].status)
					abort();
			ingest_scan_free(&scan);
		}
		break;
	case 1:
	case 2:
		if (ingest_parse_inventory(p, len, kind % 4 == 2, &inv) == 0) {
			if (!inv.table || strlen(inv.table) > INGEST_MAX_TABLE_NAME)
				abort();
			ingest_inventory_free(&inv);
		}
		break;
	default:
		if (ingest_parse_gap(p, len, &gap) == 0 && gap.first_seq > gap.last_seq)
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *owned = NULL;
	const void *p;
	size_t len;
	uint32_t enc;

	if (size < 1)
		return 0;
	enc = (data[0] & 0x80) ? IMMUNE__V1__ENCODING__ENCODING_ZSTD
			       : IMMUNE__V1__ENCODING__ENCODING_RAW;
	if (ingest_decode(enc, data + 1, size - 1, &owned, &p, &len) == 0)
		parse(data[0] & 7, p, len);
	free(owned);
	return 0;
}
