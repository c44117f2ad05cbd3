/* Helpers the process and network sensors share (sensor_mech.c). */
#pragma once

#include "lib/common.h"

struct event;

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
