/* Client of the server's HTTPS JSON API (docs/api.md): the client configuration file and
 * one request at a time over TLS 1.3 (libevent evhttp over bufferevent_openssl), verified
 * against the fleet CA, with the operator's bearer token. Functions do not log: errors come
 * back as a negative errno plus a one-line message in struct api_error. */
#pragma once

#include "lib/common.h"

#include <jansson.h>

#define API_TIMEOUT_S 30
#define API_ANSWER_MAX (256u << 20) /* answers larger than this are refused */
#define API_CONFIG_MAX (64u << 10)

struct api_config {
	char *path;	/* the file it was read from */
	char *api;	/* https://host:port */
	char *agents;	/* host:port agents dial (NULL when absent) */
	char *ca;	/* CA certificate file, absolute or relative to the config's directory */
	char *token;	/* operator token (secret: wiped on free) */
	char *operator; /* NULL when absent */
};

struct api_error {
	int status; /* HTTP status of the answer, 0 when there was none */
	char msg[1024];
};

/* Returns the configuration path to use: explicit (--server-config) when set, else
 * $IMMUNE_SERVER_CONFIG, else ~/.config/immune/server.yaml (a new string, or NULL when
 * none can be named: no HOME). */
char *api_config_path(const char *explicit_path);
/* Parses a configuration document (YAML, keys api, agents, ca, token, operator; api, ca
 * and token required; unknown keys are errors). path names the file in messages and
 * anchors a relative ca. Returns 0 with *out, or -EBADMSG with err->msg
 * "path:line:col: what". */
int api_config_parse(const char *data, size_t len, const char *path, struct api_config **out,
		     struct api_error *err);
/* Reads and parses the file at path; -ENOENT etc. with a message saying what to do. */
int api_config_load(const char *path, struct api_config **out, struct api_error *err);
void api_config_free(struct api_config *c);
static inline void api_config_freep(struct api_config **c)
{
	api_config_free(*c);
}

/* Performs one request: method "GET", "POST", "PUT", "PATCH" or "DELETE", path such as "/v1/hosts" (the
 * caller escapes query values), body NULL or a JSON object to send. On a 2xx answer returns
 * 0 with *answer (a new reference: the parsed JSON body, or an empty object when the body is
 * empty) and *status. Otherwise returns a negative errno with err filled:
 *   -ECONNREFUSED etc.  the server could not be reached (the message names the URL, the
 *                       error text and says immune-server must run);
 *   -ETIMEDOUT          no answer within API_TIMEOUT_S seconds;
 *   -EPERM              TLS verification of the server failed (the message says why);
 *   -EPROTO             TLS handshake failed, or the answer is not JSON;
 *   -EACCES             401: the token in the configuration was refused;
 *   -ENOENT             404, -EINVAL other 4xx, -EIO 5xx: err->msg carries the server's
 *                       {"error"} text and err->status the code;
 *   -EMSGSIZE           the answer exceeds API_ANSWER_MAX. */
int api_request(const struct api_config *cfg, const char *method, const char *path,
		const json_t *body, json_t **answer, struct api_error *err);

struct buf;
/* GET path whose answer is not JSON (a session's asciicast): as api_request, but a 2xx
 * answer's body is appended to out as it is (-EMSGSIZE past out's cap). */
int api_request_text(const struct api_config *cfg, const char *path, struct buf *out,
		     struct api_error *err);

/* Returns s percent-encoded for a path segment or query value (a new string; free()). */
char *api_escape(const char *s);
