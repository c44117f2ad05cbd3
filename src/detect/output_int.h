/* Internals shared by output.c (configuration, dispatch), output_file.c (JSON lines files)
 * and output_net.c (syslog and webhook senders, each with a queue and a thread). */
#pragma once

#include <pthread.h>

#include "detect/output.h"
#include "lib/common.h"
#include "lib/str.h"

enum output_type { OUTPUT_FILE, OUTPUT_SYSLOG, OUTPUT_WEBHOOK };

#define OUTPUT_EVENTS 1u
#define OUTPUT_ALERTS 2u

#define OUTPUT_MAX 32			 /* outputs in one configuration */
#define OUTPUT_RECORD_MAX (1024u * 1024) /* one record's JSON */
#define OUTPUT_QUEUE_BYTES (64u << 20)	 /* bytes queued by one network output */
#define OUTPUT_DEFAULT_MAX_SIZE (100u << 20)
#define OUTPUT_DEFAULT_KEEP 5
#define OUTPUT_DEFAULT_QUEUE 10000
#define OUTPUT_DEFAULT_BATCH 100
#define OUTPUT_DEFAULT_INTERVAL_MS 1000
#define OUTPUT_DEFAULT_FACILITY 4 /* auth: security messages */

struct output_record {
	char *json;
	size_t len;
	bool alert;
};

struct output_net; /* output_net.c */

struct output {
	enum output_type type;
	unsigned what; /* OUTPUT_EVENTS | OUTPUT_ALERTS */
	char stats_name[64];

	/* file */
	char *path;
	uint64_t max_size;
	unsigned keep;
	pthread_mutex_t file_lock;
	int fd;
	uint64_t size;

	/* syslog and webhook */
	char *host, *port;
	bool tls;
	char *ca;	/* NULL: the system store */
	char *hostname; /* syslog HOSTNAME (NULL: the machine's) */
	char *app_name;
	unsigned facility;
	char *url_path; /* webhook request target, "/..." */
	bool insecure;
	strv headers; /* webhook: name, value, name, value, ... (values are secrets) */
	size_t batch;
	unsigned interval_ms;
	size_t queue_max;
	struct output_net *net;

	/* statistics, updated with __atomic builtins */
	uint64_t sent, dropped, errors;
	bool connected;
};

static inline void output_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline void output_set_connected(struct output *out, bool v)
{
	__atomic_store_n(&out->connected, v, __ATOMIC_RELAXED);
}

/* output_file.c: opens the file (creating it 0600). Returns 0 or a negative errno. */
int output_file_open(struct output *out);
/* Appends one JSON line, rotating first when it would pass max_size. */
void output_file_write(struct output *out, const char *json, size_t len);
void output_file_close(struct output *out);

/* output_net.c: creates the TLS context (when tls) and starts the sender thread. Returns 0
 * or a negative errno with err filled. */
int output_net_start(struct output *out, char *err, size_t errlen);
/* Queues a copy of the record, or counts it as dropped when the queue is full. Never blocks
 * on the network. */
void output_net_push(struct output *out, const char *json, size_t len, bool alert);
/* Lets the thread send what it can until deadline_ms (CLOCK_MONOTONIC), then stops it and
 * frees the sender. Accepts an output that was never started. */
void output_net_stop(struct output *out, uint64_t deadline_ms);
/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t output_now_ms(void);
