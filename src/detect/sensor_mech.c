/* Helpers the process and network sensors share (sensor_mech.h). */
#include "detect/sensor_mech.h"

#include "detect/bpf/bpf_config.h"

#include <event2/event.h>
#include <stdlib.h>

#if IMMUNE_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

void sensor_loop_event_free(struct event *loop_ev)
{
	if (!loop_ev)
		return;
	event_del(loop_ev);
	free(loop_ev);
}

uint64_t sensor_percpu_sum(int map_fd)
{
#if IMMUNE_HAVE_BPF
	int ncpu = libbpf_num_possible_cpus();
	if (map_fd < 0 || ncpu <= 0 || ncpu > 4096)
		return 0;
	uint64_t *v = xcalloc((size_t)ncpu, sizeof(*v));
	uint32_t k = 0;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(map_fd, &k, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
#else
	(void)map_fd;
	return 0;
#endif
}
