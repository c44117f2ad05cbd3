#!/usr/bin/env bash
# The host actions on this machine through act_host_driver (apply/verify/rollback called directly):
#  - lock-user on a fresh account ends its processes and locks it (passwd -S shows L, the
#    account expired); verify agrees; rollback unlocks (P, no expiry); protected and root
#    accounts are refused;
#  - kill-process kills a process tree (a shell with children and a grandchild) whole; a
#    wrong start_time is refused (the pid was reused) and leaves the process alone; the right
#    one kills it; the test's own shell (an ancestor of the driver) is refused; rollback is
#    refused;
#  - remove-authorized-key in the account's real home keeps owner and mode, restores on
#    rollback, and refuses a symlinked authorized_keys;
#  - when immune-agent is given as well: lock-user and remove-authorized-key through
#    `immune-agent respond` (the real executor), each undone by `--rollback UID` alone.
# Needs root (a fresh local account); exits 77 (skip) otherwise.
set -euo pipefail
driver=$1
agent=${2:-}
fail() {
	echo "FAIL: $*" >&2
	[ -f "${tmp:-}/out" ] && sed 's/^/driver: /' "$tmp/out" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
for t in useradd userdel passwd chage setpriv ssh-keygen; do
	command -v $t >/dev/null || { echo "no $t: skipped"; exit 77; }
done

tmp=$(mktemp -d)
user="ir$$$RANDOM"
user=${user:0:16}
uid=
pids=()
# The processes (not zombies) whose real uid is the test account's.
user_procs() { ps -e -o pid=,ruid=,stat= | awk -v u="$uid" '$2 == u && $3 !~ /^Z/ { print $1 }'; }
# The pids of the process tree under $1 (itself included).
tree_of() {
	ps -e -o pid=,ppid= | awk -v r="$1" '
		{ parent[$1] = $2 }
		END { for (p in parent) { q = p; while (q in parent && q != r) q = parent[q]; if (q == r) printf "%s ", p } }'
}
cleanup() {
	for r in "${pids[@]}"; do
		for p in $(tree_of "$r"); do kill -9 "$p" 2>/dev/null || true; done
	done
	if [ -n "$uid" ]; then
		for p in $(user_procs); do kill -9 "$p" 2>/dev/null || true; done
	fi
	userdel -r "$user" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -m 0700 "$tmp/state"

# Runs the driver; $1 is the exit status expected, the rest its arguments. Output in $tmp/out.
drive() {
	local want=$1
	shift
	local rc=0
	timeout 60 "$driver" --state "$tmp/state" "$@" >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || fail "act_host_driver $* exited $rc, expected $want"
}
status_is() { grep -q "\"status\":\"$1\"" "$tmp/out" || fail "status is not $1"; }
# True when the process is gone (or a zombie waiting for its parent).
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# Starts a command as the test account, detached from this shell (so nothing here reaps it).
as_user() { setsid setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" </dev/null >/dev/null 2>&1 & }

useradd -m -s /bin/sh -U "$user"
usermod -p '$6$immunetest$x' "$user"
uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)

echo "# lock-user"
passwd -S "$user" | awk '{print $2}' | grep -qx P || fail "the account is not usable at first"
as_user sleep 600
as_user sh -c 'sleep 600 & sleep 600; wait'
for _ in $(seq 50); do [ "$(user_procs | wc -l)" -ge 3 ] && break; sleep 0.1; done
[ "$(user_procs | wc -l)" -ge 3 ] || fail "the account's processes did not start"
drive 0 --undo "$tmp/lock.undo" lock-user apply user="$user"
status_is verified
passwd -S "$user" | awk '{print $2}' | grep -qx L || fail "passwd -S does not show L"
LC_ALL=C chage -l "$user" | grep -q 'Account expires.*1970' || fail "the account did not expire"
[ -z "$(user_procs)" ] || fail "processes of $user are still running"
drive 0 lock-user verify user="$user"
status_is verified
drive 0 --undo "$tmp/lock.undo" lock-user rollback user="$user"
status_is rolled_back
passwd -S "$user" | awk '{print $2}' | grep -qx P || fail "rollback did not unlock"
LC_ALL=C chage -l "$user" | grep -q 'Account expires.*never' || fail "rollback did not restore the expiry"
drive 1 lock-user verify user="$user"
drive 3 --protect "$user" lock-user apply user="$user"
status_is refused
drive 3 lock-user apply user=root
passwd -S "$user" | awk '{print $2}' | grep -qx P || fail "a refused lock changed the account"

echo "# kill-process"
# A tree: sh -> (sleep, sh -> sleep), detached from this shell.
setsid sh -c 'sleep 600 & sh -c "sleep 600 & wait" & wait' </dev/null >/dev/null 2>&1 &
root_pid=$!
pids+=("$root_pid")
for _ in $(seq 50); do
	tree=$(tree_of "$root_pid")
	[ "$(wc -w <<<"$tree")" -ge 4 ] && break
	sleep 0.1
done
[ "$(wc -w <<<"$tree")" -ge 4 ] || fail "the tree did not start: $tree"
start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$root_pid/stat")
drive 3 kill-process apply pid="$root_pid" start_time=$((start + 1)) tree=true
status_is refused
grep -q reused "$tmp/out" || fail "the refusal does not say the pid was reused"
for p in $tree; do if gone "$p"; then fail "a refused kill killed $p"; fi; done
drive 0 kill-process apply pid="$root_pid" start_time="$start" tree=true
status_is verified
for p in $tree; do if ! gone "$p"; then fail "process $p of the tree is still alive"; fi; done
pids=() # gone: its pid may name another process from now on
drive 0 kill-process verify pid="$root_pid" start_time="$start"
status_is verified
drive 0 kill-process apply pid="$root_pid" start_time="$start"
status_is verified # already gone
drive 3 --undo "$tmp/lock.undo" kill-process rollback pid="$root_pid"
status_is refused
drive 3 kill-process apply pid=$$
status_is refused
kill -0 $$ || fail "the test shell is gone"

echo "# remove-authorized-key"
ssh-keygen -q -t ed25519 -N '' -C one -f "$tmp/k1"
ssh-keygen -q -t rsa -N '' -C two -f "$tmp/k2"
fp1=$(ssh-keygen -lf "$tmp/k1.pub" | awk '{print $2}')
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
cat "$tmp/k1.pub" "$tmp/k2.pub" >"$home/.ssh/authorized_keys"
chown "$user:$user" "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
drive 0 --uid 0123456789abcdef0123456789abcdef --undo "$tmp/key.undo" \
	remove-authorized-key apply user="$user" fingerprint="$fp1"
status_is verified
grep -qF "$(cut -d' ' -f2 "$tmp/k1.pub")" "$home/.ssh/authorized_keys" && fail "the key is still there"
grep -qF "$(cut -d' ' -f2 "$tmp/k2.pub")" "$home/.ssh/authorized_keys" || fail "the other key was removed"
[ "$(stat -c '%U %a' "$home/.ssh/authorized_keys")" = "$user 600" ] || fail "owner or mode changed"
[ "$(stat -c '%a' "$tmp/state/quarantine/keys/0123456789abcdef0123456789abcdef.json")" = 600 ] ||
	fail "the quarantine file is not 0600"
drive 0 remove-authorized-key verify user="$user" fingerprint="$fp1"
drive 0 --uid 0123456789abcdef0123456789abcdef --undo "$tmp/key.undo" \
	remove-authorized-key rollback user="$user" fingerprint="$fp1"
status_is rolled_back
grep -qF "$(cut -d' ' -f2 "$tmp/k1.pub")" "$home/.ssh/authorized_keys" || fail "rollback did not restore the key"
[ "$(stat -c '%U %a' "$home/.ssh/authorized_keys")" = "$user 600" ] || fail "owner or mode changed on rollback"
# A symlinked authorized_keys is refused and its target left alone.
cp "$tmp/k1.pub" "$tmp/target"
rm "$home/.ssh/authorized_keys"
ln -s "$tmp/target" "$home/.ssh/authorized_keys"
drive 3 remove-authorized-key apply user="$user" fingerprint="$fp1"
status_is refused
cmp -s "$tmp/k1.pub" "$tmp/target" || fail "the symlink's target was changed"

if [ -n "$agent" ]; then
	echo "# through immune-agent respond"
	rm "$home/.ssh/authorized_keys"
	cat "$tmp/k1.pub" "$tmp/k2.pub" >"$home/.ssh/authorized_keys"
	chown "$user:$user" "$home/.ssh/authorized_keys"
	respond() { timeout 60 "$agent" respond --state "$tmp/agent" --json "$@" >"$tmp/out" 2>&1; }
	field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/out" "$1"; }
	as_user sleep 600
	for _ in $(seq 50); do [ -n "$(user_procs)" ] && break; sleep 0.1; done
	respond lock-user user="$user" || fail "immune-agent respond lock-user"
	[ "$(field status)" = verified ] || fail "lock-user status $(field status)"
	id=$(field uid)
	passwd -S "$user" | awk '{print $2}' | grep -qx L || fail "not locked through the executor"
	[ -z "$(user_procs)" ] || fail "processes of $user survived the executor's lock"
	respond --rollback "$id" || fail "immune-agent respond --rollback (lock-user)"
	[ "$(field status)" = rolled_back ] || fail "unlock status $(field status)"
	passwd -S "$user" | awk '{print $2}' | grep -qx P || fail "not unlocked through the executor"

	respond remove-authorized-key user="$user" fingerprint="$fp1" || fail "immune-agent respond remove-authorized-key"
	[ "$(field status)" = verified ] || fail "remove-authorized-key status $(field status)"
	id=$(field uid)
	grep -qF "$(cut -d' ' -f2 "$tmp/k1.pub")" "$home/.ssh/authorized_keys" && fail "the executor left the key"
	[ -f "$tmp/agent/respond/quarantine/keys/$id.json" ] || fail "no quarantine under the agent's state"
	respond --rollback "$id" || fail "immune-agent respond --rollback (remove-authorized-key)"
	[ "$(field status)" = rolled_back ] || fail "restore status $(field status)"
	grep -qF "$(cut -d' ' -f2 "$tmp/k1.pub")" "$home/.ssh/authorized_keys" || fail "the executor did not restore the key"
fi
echo "ok"
