/* fleetsim: shared definitions between the controller (fleetsim.c), its worker processes
 * (fleetsim_worker.c) and the blocking HTTPS client (fleetsim_http.c).
 *
 * The controller talks to each worker over a SOCK_SEQPACKET socket pair: it sends one
 * struct fs_cmd per phase; the worker answers with struct fs_progress messages while the
 * phase runs and one struct fs_result when it ends (plus struct fs_samples for the
 * verification phase). */
#pragma once

#include "lib/common.h"
#include "trust/pki.h"

#include <netinet/in.h>
#include <time.h>

/* Latency histogram in microseconds, log-linear (HDR style): values below 256 exactly, then
 * 128 linear sub-buckets per power of two (relative error below 1 %). */
/* Attempts per agent and phase before it gives up (with backoff between them). */
#define FS_MAX_TRIES 8

#define HIST_LINEAR 256
#define HIST_SUB 128
#define HIST_BUCKETS (HIST_LINEAR + 40 * HIST_SUB)

struct hist {
	uint64_t n[HIST_BUCKETS];
	uint64_t count;
	uint64_t max;
};

void hist_add(struct hist *h, uint64_t us);
void hist_merge(struct hist *into, const struct hist *from);
/* The value (µs) at quantile q in [0, 1]; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

static inline uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline int64_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

enum fs_phase {
	PH_KEYGEN,  /* generate every agent's key and CSR (untimed preparation) */
	PH_ENROLL,  /* EnrollRequest -> EnrollResponse for every agent */
	PH_CONNECT, /* mutual TLS, Hello -> Welcome, then hold */
	PH_INGEST,  /* RecordBatch -> Ack for a duration */
	PH_STORM,   /* close every connection at once and reconnect */
	PH_SAMPLES, /* report (host id, acked seq) for every stride-th agent */
	PH_CLOSE,   /* close every connection, without reconnecting */
	PH_REVOKES, /* wait for every ready agent's Command access-revoke (offboarding) */
	PH_QUIT,
};

/* Why an attempt failed (counted per attempt; retried with backoff). */
enum fs_fail {
	FAIL_CONNECT,  /* TCP connect refused or reset */
	FAIL_TLS,      /* TLS handshake failed */
	FAIL_CLOSED,   /* the server closed the connection without a Refusal */
	FAIL_TIMEOUT,  /* no answer in time */
	FAIL_PROTOCOL, /* an unexpected or undecodable frame */
	FAIL_LOCAL,    /* socket(), bind() or SSL_new() failed here */
	FAIL_REFUSED,  /* + Refusal.reason (0..9) */
	FAIL_MAX = FAIL_REFUSED + 10,
};

const char *fs_fail_name(int f);

enum fs_msg_type { MSG_CMD = 1, MSG_PROGRESS, MSG_RESULT, MSG_SAMPLES };

struct fs_cmd {
	uint32_t type;
	uint32_t phase;
	double duration;   /* PH_INGEST: seconds */
	double rate;	   /* PH_INGEST: records/s for this worker, 0 = as fast as acks allow */
	uint32_t batch;	   /* PH_INGEST: records per batch */
	uint32_t window;   /* PH_INGEST: batches in flight per agent; else: attempts per worker */
	uint32_t stride;   /* PH_SAMPLES */
	uint32_t inflight; /* PH_INGEST: batches in flight in this worker (rate 0) */
	uint64_t t0_ns;	   /* PH_REVOKES: CLOCK_MONOTONIC ns when the disable was sent */
};

struct fs_progress {
	uint32_t type;
	uint32_t phase;
	uint64_t done;
	uint64_t failed;
	uint64_t records_acked;
};

struct fs_counts {
	uint64_t done;	   /* agents that finished the phase's step */
	uint64_t failed;   /* agents that gave up */
	uint64_t attempts; /* connection attempts */
	uint64_t fail[FAIL_MAX];
	uint64_t held; /* connections ready at the end */
	uint64_t records_sent;
	uint64_t records_acked;	    /* acked inside the measured window */
	uint64_t records_acked_all; /* including the drain after it */
	uint64_t batches_unacked;   /* still in flight when the drain gave up */
	uint64_t disconnects;	    /* ready connections lost outside a storm */
	uint64_t catalogs;	    /* ConfigUpdates with a catalog received */
	uint64_t catalog_bytes;	    /* the catalog's size (sum of its files) */
	double elapsed;		    /* seconds the phase took in this worker */
	double window_s;	    /* PH_INGEST: measured seconds */
	double last_ok_s;	    /* when the phase's last agent succeeded (seconds) */
};

struct fs_result {
	uint32_t type;
	uint32_t phase;
	struct fs_counts c;
	struct hist lat;
};

struct fs_sample {
	char host_id[PKI_HOST_ID_MAX + 1];
	uint64_t acked;
};

#define FS_SAMPLES_PER_MSG 256
struct fs_samples {
	uint32_t type;
	uint32_t n;    /* samples in this message */
	uint32_t last; /* 1 on the final message */
	uint32_t pad;
	struct fs_sample s[FS_SAMPLES_PER_MSG];
};

/* What a worker needs to reach the server. */
struct fs_target {
	struct sockaddr_in agents; /* the agent listener */
	char token[256];	   /* join token (text form) */
	char pin[PKI_PIN_LEN + 1];
	unsigned source_addrs; /* bind sources across 127.1.x.1 (0: let the kernel choose) */
	uint64_t nonce;	       /* makes machine ids unique to this run */
	bool fetch_catalog;    /* every agent fetches the catalog at its first connection */
	bool verbose;
};

/* Runs a worker for agents [first, first + n) on control socket fd; never returns. */
_Noreturn void fs_worker_main(int fd, const struct fs_target *t, uint32_t first, uint32_t n);

/* The parts of DATA/client.yaml fleetsim uses. */
struct fs_client_conf {
	char api_host[256];
	uint16_t api_port;
	char agents[256];
	char ca[4096];
	char token[256];
};

/* Reads client.yaml. Returns 0, -ENOENT when it does not exist (yet), or -EBADMSG. */
int fs_client_conf_load(const char *path, struct fs_client_conf *out);
/* Parses "https://HOST:PORT" into c->api_host/api_port. */
int fs_parse_api_url(const char *url, struct fs_client_conf *c);
/* One blocking HTTPS request (TLS 1.3, server verified against c->ca, operator token).
 * body may be NULL. Returns 0 with *status and *resp (caller frees), or a negative errno. */
int fs_https(const struct fs_client_conf *c, const char *method, const char *path, const char *body,
	     int *status, char **resp);
/* Parses "A.B.C.D:PORT" into sa. */
int fs_parse_addr(const char *s, struct sockaddr_in *sa);
