/* Helpers the process and network sensors share (sensor_mech.c). */
#pragma once

#include "lib/common.h"

#include <time.h>

struct event;
struct event_base;

/* The time on clock id in ns. */
int64_t sensor_clock_ns(clockid_t id);
/* libevent's event_free(), accepting NULL. */
void sensor_loop_event_free(struct event *loop_ev);
/* The sum over CPUs of index 0 of a BPF per-CPU array of u64 (0 when it cannot be read). */
uint64_t sensor_percpu_sum(int map_fd);

#define SENSOR_MAX_FDS 8
/* Runs load(arg, fds, max) in a forked child and returns the descriptors it produced (BPF
 * maps and links) to the caller over a socketpair: loading BPF parses the kernel's BTF
 * (megabytes), which then never counts in the sensor process's memory. load returns the
 * number of descriptors or a negative errno. Returns that number with fds[] set, or a
 * negative errno. */
int sensor_load_in_child(int (*load)(void *arg, int *fds, size_t max), void *arg, int *fds,
			 size_t max);

/* BPF programs a sensor loaded (in a child, above) and the ring buffer it reads on the loop.
 * The programs wake the reader only when a quarter of the ring is pending (the BPF side of
 * each sensor); a timer drains the rest every SENSOR_RING_DRAIN_MS, so a burst of records
 * costs one wakeup, not one per record, and a record waits at most that long. */
#define SENSOR_RING_DRAIN_MS 50

struct ring_buffer;
typedef int (*sensor_record_fn)(void *arg, void *data, size_t size);

struct sensor_bpf {
	int fds[SENSOR_MAX_FDS]; /* maps and links, as load() returned them */
	int nfds;
	struct ring_buffer *rb;
	struct event *ready, *drain;
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, refreshed per batch */
};

/* Loads the programs in a child (sensor_load_in_child), then reads the ring buffer map at
 * fds[ring_index] on base, calling fn(arg, record, size) per record. Returns 0, or a
 * negative errno with everything released. */
int sensor_bpf_start(struct sensor_bpf *b, struct event_base *base,
		     int (*load)(void *arg, int *fds, size_t max), size_t nfds, size_t ring_index,
		     sensor_record_fn fn, void *arg);
void sensor_bpf_stop(struct sensor_bpf *b);
