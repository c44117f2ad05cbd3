/* Records the BPF programs write to their ring buffers (process.bpf.c, network.bpf.c) and the
 * sensors read (sensor_process.c, sensor_network.c). Shared by both sides: fixed layouts,
 * explicit lengths, every length checked again in user space. */
#pragma once

#define REC_EXEC 1
#define REC_EXIT 2
#define REC_NET 3
#define REC_FORK 4

#define REC_PATH_MAX 1024 /* a path's components, leaf first, each NUL-terminated */
#define REC_NAME_MAX 256  /* one component, with its NUL */
#define REC_ARGS_MAX 8192 /* argv as NUL-separated strings */
#define REC_PATH_DEPTH 32

#define REC_F_EXE_CUT 0x1u
#define REC_F_CWD_CUT 0x2u
#define REC_F_ARGS_CUT 0x4u

/* An exec record is this header followed by exe_len + cwd_len + args_len bytes: the image
 * path's components, the working directory's, then argv; each path's components run from
 * the leaf up, each NUL-terminated. Records are as long as their data (ring buffer space). */
struct rec_exec {
	__u32 type;
	__u32 pid;
	__u64 time_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u32 ppid, uid, euid, loginuid;
	__u32 tty_major, tty_minor; /* 0, 0: no terminal */
	__u64 cgroup_id;
	__u32 exe_len, cwd_len, args_len, flags;
	char comm[16];
};

/* The BPF program builds a record in a per-CPU buffer of this size before copying the used
 * part to the ring buffer: exe at 0 (< 2048), cwd after it (< 2048), argv after that. */
#define REC_DATA_MAX 16384

struct rec_exit {
	__u32 type;
	__u32 pid;
	__u64 time_ns;
	__u32 ppid;
	__u32 exit_code; /* the wait status */
	char comm[16];
};

/* A new process (not a thread): it runs its parent's image until it execs, so the reader
 * gives it the parent's cache entry; a child exec'ing before its parent does then names the
 * right parent image even when the records are read later in a batch. */
struct rec_fork {
	__u32 type;
	__u32 pid;
	__u64 time_ns;
	__u32 ppid;
	__u32 pad;
};

#define REC_NET_LISTEN 1
#define REC_NET_LISTEN_CLOSE 2
#define REC_NET_CONNECT 3
#define REC_NET_ACCEPT 4 /* in softirq: pid is not the owner's */

struct rec_net {
	__u32 type;
	__u32 pid; /* the current task for listen/connect; 0 for accept */
	__u64 time_ns;
	__u32 what;			 /* REC_NET_* */
	__u16 family, sport, dport, pad; /* ports in host order */
	__u8 saddr[16], daddr[16];
	char comm[16];
};

/* index 0 of the "lost" per-CPU array: ring buffer reservations that failed */
