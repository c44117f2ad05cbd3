/* The link role (docs/agent.md): the durable spool, the mutual-TLS connection to the server
 * and command intake.
 *
 * The link keeps one connection: Hello, Welcome (which says what the server committed), then
 * batches from the spool in a bounded window per stream; acks delete spooled data. It
 * reconnects with backoff (backoff.h), rewinding the spool after every disconnect, renews
 * the host certificate past half its lifetime, saves catalogs the server sends and passes
 * commands to its owner through callbacks. Runs on the owner's libevent loop. */
#pragma once

#include "agent/pushed_files.h"

#include "agent/agent_config.h"
#include "agent/agent_msg.h"
#include "proto/immune.pb-c.h"

#include <jansson.h>

struct event_base;
struct spool;
struct link;

#define LINK_WINDOW_BATCHES 8
#define LINK_WINDOW_BYTES (8u * 1024 * 1024)
#define LINK_BATCH_BYTES (1024u * 1024)
#define LINK_DEFAULT_BATCH_RECORDS 4096
#define LINK_EVENTS_LINGER_MS 200 /* events wait this long at most to be sent in a batch */
#define LINK_DEFAULT_HEARTBEAT_S 30
#define LINK_HELLO_TIMEOUT_S 30
#define LINK_STABLE_S 60 /* a connection up this long resets the backoff */
#define LINK_REVOKED_CAP_MS (15u * 60 * 1000)

struct link_options {
	const char *state_dir;
	uint64_t spool_max; /* 0: default */
	const struct agent_config *cfg;
	uint32_t scan_interval_s; /* reported in Hello */
};

struct link_callbacks {
	/* a Command from the server ("scan-now", "inventory-now", "action" with action_uid,
	 * action and op): borrowed for the call only; nothing in it is checked yet */
	void (*command)(void *arg, const Immune__V1__Command *cmd);
	/* ConfigUpdate: a new scan interval (0: unchanged), and whether a new catalog, new
	 * rules, new playbooks or a new access bundle were saved (link_pushed_dir() tells
	 * where) */
	void (*config)(void *arg, uint32_t scan_interval_s, bool catalog_changed,
		       bool rules_changed, bool playbooks_changed, bool access_changed);
	/* state records that waited for spool space are all spooled now */
	void (*drained)(void *arg);
	/* state records were lost to a renumbering (the server knew more of the state stream
	 * than this spool): the whole state must be sent again */
	void (*resync)(void *arg);
	void *arg;
};

/* Loads the identity (STATE/host.key, host.crt, ca.crt), opens the spool (STATE/spool) and
 * the catalog digest. Returns 0 or a negative errno, with a message in err. */
int link_new(struct event_base *base, const struct link_options *o, const struct link_callbacks *cb,
	     struct link **out, char *err, size_t errsize);
void link_free(struct link *l);
/* Starts connecting (and keeps reconnecting until link_free). */
void link_start(struct link *l);

/* Spools state records (taking them from recs): those the spool cannot take yet (-ENOSPC)
 * wait in memory and are retried after acks. Returns 0 when all are spooled, 1 when some
 * wait. */
int link_submit(struct link *l, struct agent_records *recs);
/* Appends one telemetry event (RECORD_EVENT on STREAM_EVENTS). Returns 0 or a negative
 * errno from spool_append. */
int link_append_event(struct link *l, const void *payload, size_t len);
/* The number the next event appended gets. */
uint64_t link_events_next_seq(const struct link *l);
/* Tells the link that the scan interval changed (for the next Hello). */
void link_set_scan_interval(struct link *l, uint32_t seconds);
/* The directory of a set the server sent (STATE/catalog, rules, playbooks, access) when
 * one was saved, else NULL. */
const char *link_pushed_dir(const struct link *l, enum pushed_set set);
/* True while a connection is up (Welcome received, not yet lost). */
bool link_connected(const struct link *l);
/* A JSON object describing the link and the spool (for STATE/status.json). */
json_t *link_status(const struct link *l);
