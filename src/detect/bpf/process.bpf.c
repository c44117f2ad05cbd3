// SPDX-License-Identifier: GPL-2.0
/* Process exec and exit for the process sensor (docs/sensors.md): tp_btf tracepoints, CO-RE,
 * one ring buffer; failed reservations are counted in the "lost" map, never dropped silently. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "records.h"

char LICENSE[] SEC("license") = "GPL";

/* The reader is woken only when a quarter of the ring is pending; it also drains the ring on
 * a short timer (sensor_mech.h), so a burst costs one wakeup rather than one per exec. */
#define RING_BYTES (512 << 10)
#define WAKEUP_BYTES (RING_BYTES / 4)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} events SEC(".maps");

struct exec_buf {
	struct rec_exec h;
	char data[REC_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_buf);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&lost, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

struct walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *m;
	char *buf;
	__u32 off;
	int cut;
};

/* One step up the path: a component, or a mount crossing. Returns 1 to stop. */
static long walk_step(__u64 i, struct walk *w)
{
	struct vfsmount *vm = w->vm;
	struct dentry *d = w->d;
	struct mount *m = w->m;
	struct dentry *root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == root || d == parent) {
		if (d != root)
			return 1;
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (mp == m)
			return 1;
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = mp;
		w->vm = &mp->mnt;
		return 0;
	}
	__u32 off = w->off;
	if (off >= REC_PATH_MAX) {
		w->cut = 1;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long n = bpf_probe_read_kernel_str(w->buf + (off & (REC_PATH_MAX - 1)), REC_NAME_MAX, name);
	if (n <= 0)
		return 1;
	w->off = off + n;
	w->d = parent;
	if (i == REC_PATH_DEPTH - 1)
		w->cut = 1;
	return 0;
}

/* Writes the components of path from the leaf up (crossing mounts), each NUL-terminated,
 * into buf; returns the bytes used and sets *cut when the path did not fit. */
static __always_inline __u32 read_path(struct path *path, char *buf, int *cut)
{
	struct walk w = { .buf = buf };
	struct vfsmount *vm = BPF_CORE_READ(path, mnt);
	w.d = BPF_CORE_READ(path, dentry);
	w.vm = vm;
	w.m = container_of(vm, struct mount, mnt);
	bpf_loop(REC_PATH_DEPTH, walk_step, &w, 0);
	*cut = w.cut;
	return w.off;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 k = 0;
	struct exec_buf *b = bpf_map_lookup_elem(&scratch, &k);
	if (!b)
		return 0;
	struct rec_exec *r = &b->h;
	r->type = REC_EXEC;
	r->pid = BPF_CORE_READ(p, tgid);
	r->time_ns = bpf_ktime_get_boot_ns();
	r->ppid = BPF_CORE_READ(p, real_parent, tgid);
	r->uid = BPF_CORE_READ(p, cred, uid.val);
	r->euid = BPF_CORE_READ(p, cred, euid.val);
	r->loginuid = BPF_CORE_READ(p, loginuid.val);
	r->flags = 0;
	struct tty_struct *tty = BPF_CORE_READ(p, signal, tty);
	if (tty) {
		r->tty_major = BPF_CORE_READ(tty, driver, major);
		r->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	} else {
		r->tty_major = 0;
		r->tty_minor = 0;
	}
	r->cgroup_id = BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), p->comm);

	int cut = 0;
	struct path path;
	struct file *f = BPF_CORE_READ(bprm, file);
	__u32 e = 0, c, a = 0;
	if (f) {
		bpf_core_read(&path, sizeof(path), &f->f_path);
		e = read_path(&path, b->data, &cut) & 2047;
		if (cut)
			r->flags |= REC_F_EXE_CUT;
	}
	cut = 0;
	bpf_core_read(&path, sizeof(path), &p->fs->pwd);
	c = read_path(&path, b->data + e, &cut) & 2047;
	if (cut)
		r->flags |= REC_F_CWD_CUT;

	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > REC_ARGS_MAX) {
		len = REC_ARGS_MAX;
		r->flags |= REC_F_ARGS_CUT;
	}
	if (len > 0 && bpf_probe_read_user(b->data + e + c, len, (void *)start) == 0)
		a = len;
	r->exe_len = e;
	r->cwd_len = c;
	r->args_len = a;
	__u64 size = sizeof(*r) + e + c + a;
	if (size > sizeof(*b))
		return 0;
	if (bpf_ringbuf_output(&events, b, size, wakeup_flag()) != 0)
		count_lost();
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a thread, not a process */
	struct rec_fork *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_lost();
		return 0;
	}
	r->type = REC_FORK;
	r->pid = BPF_CORE_READ(child, tgid);
	r->time_ns = bpf_ktime_get_boot_ns();
	r->ppid = BPF_CORE_READ(parent, tgid);
	r->pad = 0;
	bpf_ringbuf_submit(r, wakeup_flag());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
		return 0; /* a thread, not the process */
	struct rec_exit *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_lost();
		return 0;
	}
	r->type = REC_EXIT;
	r->pid = BPF_CORE_READ(p, tgid);
	r->time_ns = bpf_ktime_get_boot_ns();
	r->ppid = BPF_CORE_READ(p, real_parent, tgid);
	r->exit_code = BPF_CORE_READ(p, exit_code);
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), p->comm);
	bpf_ringbuf_submit(r, wakeup_flag());
	return 0;
}
