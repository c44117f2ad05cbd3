/* Parsing of the record payloads agents send; see ingest_parse.h. */
#include "store/ingest_parse.h"

#include "proto/immune.pb-c.h"

#include <math.h>
#include <time.h>
#include <zstd.h>

#define GAP_MAX_BYTES 1024

static int decompress(const void *payload, size_t len, void **owned, size_t *out_len)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer in = { payload, len, 0 };
	size_t alloc = len < 16384 ? 65536 : len * 4;
	unsigned char *out = NULL;
	size_t used = 0, ret = 1;
	int r = 0;

	if (!dctx)
		return -ENOMEM;
	if (alloc > INGEST_MAX_DECOMPRESSED)
		alloc = INGEST_MAX_DECOMPRESSED;
	out = xmalloc(alloc);
	for (;;) {
		ZSTD_outBuffer ob = { out, alloc, used };

		ret = ZSTD_decompressStream(dctx, &ob, &in);
		used = ob.pos;
		if (ZSTD_isError(ret)) {
			r = -EBADMSG;
			break;
		}
		if (ret == 0) {
			/* one frame done: anything after it is not accepted */
			if (in.pos != in.size)
				r = -EBADMSG;
			break;
		}
		if (used == alloc) {
			if (alloc >= INGEST_MAX_DECOMPRESSED) {
				r = -EMSGSIZE;
				break;
			}
			alloc = alloc * 2 > INGEST_MAX_DECOMPRESSED ? INGEST_MAX_DECOMPRESSED
								    : alloc * 2;
			out = xrealloc(out, alloc);
		} else if (in.pos == in.size) {
			/* input consumed, frame not complete */
			r = -EBADMSG;
			break;
		}
	}
	ZSTD_freeDCtx(dctx);
	if (r < 0) {
		free(out);
		return r;
	}
	*owned = out;
	*out_len = used;
	return 0;
}

int ingest_decode(uint32_t encoding, const void *payload, size_t len, void **owned,
		  const void **out, size_t *out_len)
{
	void *buf = NULL;
	size_t n = 0;
	int r;

	switch (encoding) {
	case IMMUNE__V1__ENCODING__ENCODING_RAW:
		*owned = NULL;
		*out = payload;
		*out_len = len;
		return 0;
	case IMMUNE__V1__ENCODING__ENCODING_ZSTD:
		r = decompress(payload, len, &buf, &n);
		if (r < 0)
			return r;
		*owned = buf;
		*out = buf;
		*out_len = n;
		return 0;
	default: return -EPROTONOSUPPORT;
	}
}

static const char *opt_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *load(const void *p, size_t len)
{
	/* NUL bytes inside strings are rejected (the default) */
	return json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
}

static int64_t parse_rfc3339(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s)
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return 0;
	if (*end == '.') {
		end++;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z") != 0)
		return 0;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (int64_t)t;
}

static int parse_finding(json_t *r, struct ingest_finding *f)
{
	json_t *m, *e;

	if (!json_is_object(r))
		return -EBADMSG;
	f->id = opt_string(r, "id");
	f->status = opt_string(r, "status");
	if (!f->id || !f->status || !*f->id)
		return -EBADMSG;
	f->title = opt_string(r, "title");
	f->section = opt_string(r, "section");
	f->severity = opt_string(r, "severity");
	f->message = opt_string(r, "message");
	m = json_object_get(r, "mappings");
	e = json_object_get(r, "evidence");
	f->mappings = json_is_object(m) ? m : NULL;
	f->evidence = json_is_array(e) ? e : NULL;
	m = json_object_get(r, "fix");
	f->fix = json_is_object(m) ? m : NULL;
	return 0;
}

int ingest_parse_scan(const void *p, size_t len, struct ingest_scan *out)
{
	struct ingest_scan s = { 0 };
	json_t *results, *host, *v;
	const char *schema;
	size_t i;

	s.root = load(p, len);
	if (!json_is_object(s.root))
		goto bad;
	schema = opt_string(s.root, "schema");
	if (!schema || strcmp(schema, "immune.scan/v1") != 0)
		goto bad;
	results = json_object_get(s.root, "results");
	s.summary = json_object_get(s.root, "summary");
	if (!json_is_array(results) || !json_is_object(s.summary))
		goto bad;
	if (json_array_size(results) > INGEST_MAX_RESULTS)
		goto bad;
	host = json_object_get(s.root, "host");
	s.os = json_is_object(host) ? opt_string(host, "os") : NULL;
	v = json_object_get(s.summary, "score");
	s.score = json_is_number(v) ? json_number_value(v) : NAN;
	v = json_object_get(s.summary, "fail");
	s.checks_failed =
		json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : 0;
	s.started_at = parse_rfc3339(opt_string(s.root, "started_at"));
	s.n_findings = json_array_size(results);
	s.findings = xcalloc(s.n_findings ? s.n_findings : 1, sizeof(*s.findings));
	for (i = 0; i < s.n_findings; i++)
		if (parse_finding(json_array_get(results, i), &s.findings[i]) < 0)
			goto bad;
	*out = s;
	return 0;
bad:
	ingest_scan_free(&s);
	return -EBADMSG;
}

void ingest_scan_free(struct ingest_scan *s)
{
	if (!s)
		return;
	free(s->findings);
	json_decref(s->root);
	memset(s, 0, sizeof(*s));
}

static bool valid_table_name(const char *t)
{
	size_t n = 0;

	if (!t)
		return false;
	for (; t[n]; n++) {
		char c = t[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0 && n <= INGEST_MAX_TABLE_NAME;
}

int ingest_parse_inventory(const void *p, size_t len, bool gone, struct ingest_inventory *out)
{
	struct ingest_inventory inv = { 0 };
	json_t *row;
	size_t i;

	inv.root = load(p, len);
	if (!json_is_object(inv.root))
		goto bad;
	inv.table = opt_string(inv.root, "table");
	if (!valid_table_name(inv.table))
		goto bad;
	if (!gone) {
		inv.rows = json_object_get(inv.root, "rows");
		if (!json_is_array(inv.rows) || json_array_size(inv.rows) > INGEST_MAX_ROWS)
			goto bad;
		json_array_foreach(inv.rows, i, row)
			if (!json_is_object(row))
				goto bad;
		if (strcmp(inv.table, "os") == 0 && json_array_size(inv.rows) > 0)
			inv.os_pretty = opt_string(json_array_get(inv.rows, 0), "pretty_name");
	}
	*out = inv;
	return 0;
bad:
	ingest_inventory_free(&inv);
	return -EBADMSG;
}

void ingest_inventory_free(struct ingest_inventory *inv)
{
	if (!inv)
		return;
	json_decref(inv->root);
	memset(inv, 0, sizeof(*inv));
}

int ingest_parse_gap(const void *p, size_t len, struct ingest_gap *out)
{
	Immune__V1__Gap *g;

	if (len > GAP_MAX_BYTES)
		return -EBADMSG;
	g = immune__v1__gap__unpack(NULL, len, p);
	if (!g)
		return -EBADMSG;
	if (g->first_seq > g->last_seq) {
		immune__v1__gap__free_unpacked(g, NULL);
		return -EBADMSG;
	}
	*out = (struct ingest_gap){
		.first_seq = g->first_seq,
		.last_seq = g->last_seq,
		.count = g->count,
		.first_time_ns = g->first_time_ns,
		.last_time_ns = g->last_time_ns,
	};
	immune__v1__gap__free_unpacked(g, NULL);
	return 0;
}

void ingest_format_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}
