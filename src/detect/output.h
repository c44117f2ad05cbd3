/* Outputs: where events and alerts also go besides the server (docs/detection.md "Outputs").
 *
 * Three kinds, any number of each, configured in the `outputs:` list of the agent's
 * configuration file (/etc/immune/agent.yaml):
 *   file:    JSON lines (OCSF), appended, rotated at max_size (keep N old files);
 *   syslog:  RFC 5424 messages over TCP (octet-counted framing, RFC 6587) or TLS (RFC 5425);
 *   webhook: HTTPS POST of a JSON array of objects, batched.
 * Each output says what it takes: events, alerts or both (default: alerts).
 *
 * Sending never blocks the caller (a sensor's thread): network outputs have a bounded queue
 * and a thread of their own that reconnects with backoff; what does not fit is dropped and
 * counted, never silently. Secrets (webhook headers) are never logged. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outputs;

/* Parses the `outputs:` list from YAML text (a whole agent configuration file; other keys
 * are ignored). No list means no outputs (*out is still set). On bad configuration returns
 * -EINVAL with a message naming the line in err. Does not open anything. */
int outputs_parse(const char *text, size_t len, const char *name, struct outputs **out, char *err,
		  size_t errlen);
/* Reads and parses path, then opens every output (files opened, threads started). A missing
 * file is no outputs. Returns 0 or a negative errno, with err filled. */
int outputs_open(const char *path, struct outputs **out, char *err, size_t errlen);
/* Starts the outputs of a parsed set (outputs_open = outputs_parse + this). */
int outputs_start(struct outputs *o, char *err, size_t errlen);
/* Flushes what it can within a second, stops the threads, frees. */
void outputs_free(struct outputs *o);

/* One OCSF JSON object (len bytes, no newline), to the outputs that take it. Thread-safe. */
void outputs_event(struct outputs *o, const char *json, size_t len);
void outputs_alert(struct outputs *o, const char *json, size_t len);

struct output_stats {
	char name[64];	  /* "file:/var/log/immune/events.jsonl", "syslog:host:6514", ... */
	uint64_t sent;	  /* records written or acknowledged */
	uint64_t dropped; /* queue full */
	uint64_t errors;  /* write or connection failures */
	bool connected;	  /* files: open */
};
/* Fills up to max entries; returns the number of outputs. */
size_t outputs_stats(const struct outputs *o, struct output_stats *out, size_t max);
