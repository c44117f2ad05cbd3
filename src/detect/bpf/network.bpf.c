// SPDX-License-Identifier: GPL-2.0
/* TCP listen, connect and accept for the network sensor (docs/sensors.md) from the
 * inet_sock_set_state tracepoint. listen() and connect() run in the owner's context, so the
 * current task is the owner; an accepted connection completes in softirq, where it is not:
 * the sensor maps it to the listening socket's owner. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "records.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

enum {
	S_ESTABLISHED = 1,
	S_SYN_SENT = 2,
	S_SYN_RECV = 3,
	S_CLOSE = 7,
	S_LISTEN = 10,
};

/* The reader is woken only when a quarter of the ring is pending; it also drains the ring on
 * a short timer (sensor_mech.h). */
#define RING_BYTES (256 << 10)
#define WAKEUP_BYTES (RING_BYTES / 4)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* listening socket -> its port: by the time a listener closes, an automatically bound port
 * has been released and reads as 0 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u16);
} listen_port SEC(".maps");

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 what;
	if (newstate == S_LISTEN)
		what = REC_NET_LISTEN;
	else if (oldstate == S_LISTEN && newstate == S_CLOSE)
		what = REC_NET_LISTEN_CLOSE;
	else if (oldstate == S_CLOSE && newstate == S_SYN_SENT)
		what = REC_NET_CONNECT;
	else if (oldstate == S_SYN_RECV && newstate == S_ESTABLISHED)
		what = REC_NET_ACCEPT;
	else
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	struct rec_net *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__u32 k = 0;
		__u64 *v = bpf_map_lookup_elem(&lost, &k);
		if (v)
			__sync_fetch_and_add(v, 1);
		return 0;
	}
	r->type = REC_NET;
	r->what = what;
	r->time_ns = bpf_ktime_get_boot_ns();
	r->pid = what == REC_NET_ACCEPT ? 0 : bpf_get_current_pid_tgid() >> 32;
	r->family = family;
	r->pad = 0;
	r->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u64 key = (__u64)sk;
	if (what == REC_NET_LISTEN) {
		__u16 port = r->sport;
		bpf_map_update_elem(&listen_port, &key, &port, BPF_ANY);
	} else if (what == REC_NET_LISTEN_CLOSE) {
		__u16 *port = bpf_map_lookup_elem(&listen_port, &key);
		if (port) {
			if (r->sport == 0)
				r->sport = *port;
			bpf_map_delete_elem(&listen_port, &key);
		}
	}
	r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	if (family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(r->saddr, &s, 4);
		__builtin_memcpy(r->daddr, &d, 4);
	} else {
		BPF_CORE_READ_INTO(&r->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	if (what == REC_NET_ACCEPT)
		__builtin_memset(r->comm, 0, sizeof(r->comm));
	else
		bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, wakeup_flag());
	return 0;
}
