/* POST /v1/tokens and GET /v1/tokens (docs/api.md). */
#include "server/api_int.h"
#include "lib/log.h"
#include "server/duration.h"
#include "store/store.h"
#include "trust/token.h"

#include <openssl/crypto.h>

#define TTL_MAX_S (366 * 86400)
#define USES_MAX 1000000000

static const char *parse_ttl(json_t *v, int64_t *ttl)
{
	if (json_is_integer(v)) {
		*ttl = json_integer_value(v);
		return *ttl > 0 && *ttl <= TTL_MAX_S ? NULL : "ttl must be 1 second to 366 days";
	}
	if (json_is_string(v) && duration_parse(json_string_value(v), TTL_MAX_S, ttl) == 0 &&
	    *ttl > 0)
		return NULL;
	return "ttl must be seconds, or a duration such as \"1h\" or \"7d\"";
}

static const char *parse_labels(json_t *v, struct api_token_request *t)
{
	if (!json_is_object(v))
		return "labels must be an object of strings";
	const char *key;
	json_t *val;
	json_object_foreach(v, key, val) {
		if (t->n_labels == MSG_MAX_LABELS)
			return "too many labels";
		size_t klen = strlen(key);
		if (!json_is_string(val) || klen == 0 || klen > MSG_MAX_ID ||
		    strlen(json_string_value(val)) > MSG_MAX_STRING)
			return "a label needs a key of 1-64 characters and a string value";
		t->labels[t->n_labels++] =
			(struct store_label){ (char *)key, (char *)json_string_value(val) };
	}
	return NULL;
}

const char *api_token_request_parse(json_t *body, struct api_token_request *t)
{
	const char *key;
	json_t *v;
	*t = (struct api_token_request){ .ttl = 3600, .uses = 1 };
	json_object_foreach(body, key, v) {
		const char *err = NULL;
		if (!strcmp(key, "ttl"))
			err = parse_ttl(v, &t->ttl);
		else if (!strcmp(key, "uses"))
			err = json_is_integer(v) && json_integer_value(v) >= 0 &&
					      json_integer_value(v) <= USES_MAX
				      ? (t->uses = json_integer_value(v), NULL)
				      : "uses must be a whole number >= 0 (0: unlimited)";
		else if (!strcmp(key, "labels"))
			err = parse_labels(v, t);
		else
			err = "unknown key (allowed: ttl, uses, labels)";
		if (err)
			return err;
	}
	return NULL;
}

static json_t *labels_json(const struct store_label *l, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, l[i].key, json_string(l[i].value ? l[i].value : ""));
	return o;
}

void api_tokens_create(struct server *s, struct evhttp_request *req)
{
	json_t *body = api_body_object(req);
	if (!body)
		return;
	struct api_token_request t;
	const char *err = api_token_request_parse(body, &t);
	if (err) {
		api_error(req, 400, "%s", err);
		json_decref(body);
		return;
	}
	struct join_token tok;
	unsigned char hash[32];
	char text[TOKEN_TEXT_MAX];
	int64_t expires = server_now_s() + t.ttl;
	int r = token_generate(pki_ca_pin(s->ca), &tok);
	if (r == 0) {
		token_secret_hash(&tok, hash);
		r = store_token_add(s->store, tok.id, hash, expires, t.uses ? t.uses : -1, t.labels,
				    t.n_labels);
	}
	if (r < 0) {
		token_wipe(&tok);
		api_error(req, 500, "cannot create the token: %s", strerror(-r));
		json_decref(body);
		return;
	}
	token_format(&tok, text);
	json_t *out = json_pack("{s:s, s:s, s:o, s:I, s:o}", "token", text, "id", tok.id, "expires",
				api_time(expires), "uses", (json_int_t)t.uses, "labels",
				labels_json(t.labels, t.n_labels));
	OPENSSL_cleanse(text, sizeof(text));
	token_wipe(&tok);
	json_decref(body);
	api_reply(req, 201, out);
}

void api_tokens_list(struct server *s, struct evhttp_request *req)
{
	struct store_token *toks = NULL;
	size_t n = 0;
	int r = store_tokens_list(s->store, &toks, &n);
	if (r < 0) {
		api_error(req, 500, "cannot list tokens: %s", strerror(-r));
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct store_token *t = &toks[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:o, s:o, s:o, s:I, s:o}", "id", t->id, "created",
				       api_time(t->created), "expires", api_time(t->expires),
				       "uses_left",
				       t->uses_left < 0 ? json_null() : json_integer(t->uses_left),
				       "uses", (json_int_t)t->uses, "labels",
				       labels_json(t->labels, t->n_labels)));
	}
	store_tokens_free(toks, n);
	api_reply(req, 200, json_pack("{s:o}", "tokens", arr));
}
