/* Sensors: the agent's sources of events (docs/sensors.md).
 *
 * A sensor starts on the detector's libevent base, registers its own descriptors and
 * timers there, and hands each event to ctx->emit. A sensor that needs a thread of its own
 * (hashing files under a CPU budget) may call emit from that thread: emit serializes.
 * The event passed to emit is only valid during the call.
 *
 * Each sensor chooses its mechanism at start by probing the kernel and falls back (process:
 * eBPF -> netlink proc connector; files: fanotify -> inotify), and reports which one is
 * active, or why none is, through health(). start() fails only for bad configuration; a
 * missing mechanism is a health state, not an error. */
#pragma once

#include "detect/event.h"

struct event_base;

typedef void (*sensor_emit_fn)(struct host_event *ev, void *arg);

struct sensor_config {
	const char *root;      /* "/" on a host; tests point sensors at a directory */
	const char *state_dir; /* the agent's state directory (offsets, vault) */
	/* process */
	const char *process_mechanism; /* "auto" (default), "ebpf", "proc_connector", "off" */
	/* network */
	const char *network_mechanism; /* "auto", "ebpf", "poll", "off" */
	uint32_t network_poll_ms;      /* poll fallback interval, default 1000 */
	/* authentication */
	char **auth_logs;  /* NULL-terminated log files to follow ("/var/log/auth.log") */
	bool auth_journal; /* also read the journal when one exists */
	const char *auth_journal_dir; /* tests: journal files in this directory, not the host's */
	/* file integrity */
	char **fim_paths;	      /* NULL: the defaults (docs/sensors.md) */
	char **fim_read_paths;	      /* files whose opens are reported (file_read; fanotify
					 only); NULL: /etc/shadow and /etc/gshadow */
	const char *fim_mechanism;    /* "auto", "fanotify", "inotify", "off" */
	uint32_t fim_scan_interval_s; /* periodic SHA-256 scan, default 3600; 0: off */
	uint32_t fim_cpu_percent;     /* budget for the scan, default 10 (% of one core) */
	uint32_t fim_snapshot_max;    /* text files up to this size go to the vault, 64 KiB */
};

struct sensor_health {
	const char *name;      /* "process", "network", "auth", "fim" */
	const char *mechanism; /* "ebpf", "proc_connector", "poll", "logfile", "journal",
				  "fanotify", "inotify", or "none" */
	bool active;
	uint64_t events;   /* emitted */
	uint64_t lost;	   /* known lost (ring buffer overruns, ENOBUFS, queue overflow) */
	uint64_t skipped;  /* input that was not understood (garbage log lines), counted */
	char message[256]; /* why it fell back or is inactive; empty when all is well */
};

struct sensor_ctx {
	struct event_base *base;
	const struct sensor_config *cfg;
	sensor_emit_fn emit;
	void *emit_arg;
};

struct sensor_ops {
	const char *name;
	/* Returns 0 with *state, or a negative errno for bad configuration. */
	int (*start)(const struct sensor_ctx *ctx, void **state);
	void (*health)(void *state, struct sensor_health *out);
	/* Called on the base's thread; joins any thread the sensor started. */
	void (*stop)(void *state);
};

extern const struct sensor_ops sensor_process; /* src/detect/sensor_process.c */
extern const struct sensor_ops sensor_network; /* src/detect/sensor_network.c */
extern const struct sensor_ops sensor_auth;    /* src/detect/sensor_auth.c */
extern const struct sensor_ops sensor_fim;     /* src/detect/sensor_fim.c */
