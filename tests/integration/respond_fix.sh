#!/usr/bin/env bash
# apply-fix config_set on sshd_config against a real sshd (docs/actions-files.md): in a
# private mount namespace, /etc/ssh and /run are bind mounts of temporary directories, so
# the fix edits /etc/ssh/sshd_config and signals the sshd of /run/sshd.pid without touching
# the host's. Checks: a value sshd refuses is refused and changes nothing; a good value is
# validated, written, and sshd reloaded (SIGHUP) so that it serves the new setting; rollback
# puts the file back. Needs root, unshare and sshd; exits 77 (skip) otherwise.
set -euo pipefail
driver=$1

[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
sshd=/usr/sbin/sshd
[ -x "$sshd" ] && command -v unshare >/dev/null && command -v ssh-keygen >/dev/null ||
	{ echo "no sshd/unshare/ssh-keygen: skipped"; exit 77; }

if [ "${IMMUNE_RESPOND_FIX_NS:-}" != 1 ]; then
	IMMUNE_RESPOND_FIX_NS=1 exec timeout 100 unshare -m --propagation private "$0" "$@"
fi

tmp=$(mktemp -d)
cleanup() {
	if [ -s /run/sshd.pid ]; then
		spid=$(cat /run/sshd.pid)
		kill "$spid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
	fi
	umount /etc/ssh 2>/dev/null || true
	umount /run 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/sshd.log" ] && sed 's/^/sshd.log: /' "$tmp/sshd.log" >&2
	exit 1
}

mkdir -p "$tmp/etc-ssh/sshd_config.d" "$tmp/run/sshd" "$tmp/state/respond"
chmod 0755 "$tmp" "$tmp/run" "$tmp/run/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/etc-ssh/hostkey"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/etc-ssh/sshd_config" <<CONF
# test configuration
Include /etc/ssh/sshd_config.d/*.conf
Port $port
ListenAddress 127.0.0.1
HostKey /etc/ssh/hostkey
PidFile /run/sshd.pid
UsePAM no
PermitRootLogin yes
CONF
chmod 0640 "$tmp/etc-ssh/sshd_config"
mount --bind "$tmp/etc-ssh" /etc/ssh
mount --bind "$tmp/run" /run

"$sshd" -E "$tmp/sshd.log"
for _ in $(seq 50); do [ -s /run/sshd.pid ] && break; sleep 0.1; done
[ -s /run/sshd.pid ] || fail "sshd did not start"
pid=$(cat /run/sshd.pid)

uid=0123456789abcdef0123456789abcdef
# act OP FIX-PARAMS UNDO-FILE
act() { "$driver" "$tmp/state/respond" "$uid" "$1" apply-fix "$2" "$3"; }
before=$(sha256sum </etc/ssh/sshd_config)

# a value sshd refuses: refused, the file unchanged
bad='{"fix":{"type":"config_set","file":"/etc/ssh/sshd_config","key":"PermitRootLogin","value":"sometimes"}}'
out=$(act apply "$bad" "$tmp/undo-bad.json") && fail "a bad value was applied: $out"
echo "$out" | grep -q "^refused .*sshd refuses" || fail "bad value: $out"
[ "$(sha256sum </etc/ssh/sshd_config)" = "$before" ] || fail "the file changed on refusal"

# a good value: validated, written, sshd reloaded and serving it
good='{"fix":{"type":"config_set","file":"/etc/ssh/sshd_config","key":"PermitRootLogin","value":"no"}}'
out=$(act apply "$good" "$tmp/undo.json") || fail "apply: $out"
echo "$out" | grep -q "SIGHUP to sshd $pid" || fail "no reload: $out"
grep -qx "PermitRootLogin no" /etc/ssh/sshd_config || fail "not written"
grep -qx "# test configuration" /etc/ssh/sshd_config || fail "comment lost"
[ "$(stat -c %a /etc/ssh/sshd_config)" = 640 ] || fail "mode not kept"
for _ in $(seq 50); do grep -q "Received SIGHUP" "$tmp/sshd.log" && break; sleep 0.1; done
grep -q "Received SIGHUP" "$tmp/sshd.log" || fail "sshd did not receive SIGHUP"
for _ in $(seq 50); do [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null && break; sleep 0.1; done
kill -0 "$(cat /run/sshd.pid)" 2>/dev/null || fail "sshd is not running after its reload"
effective=$("$sshd" -T -f /etc/ssh/sshd_config) || fail "sshd -T"
grep -qx "permitrootlogin no" <<<"$effective" || fail "sshd -T does not show the new value"
out=$(act verify "$good" "$tmp/unused.json") || fail "verify: $out"
out=$(act apply "$good" "$tmp/undo-again.json") || fail "second apply: $out"
echo "$out" | grep -q already || fail "the second apply changed something: $out"

# rollback: the previous file, byte for byte, and sshd reloaded again
out=$(act rollback "$good" "$tmp/undo.json") || fail "rollback: $out"
[ "$(sha256sum </etc/ssh/sshd_config)" = "$before" ] || fail "rollback did not restore the file"
out=$(act verify "$good" "$tmp/unused.json") && fail "verify after rollback: $out"

# a drop-in the fix creates: validated alone, then with the whole configuration; rollback
# removes it
drop='{"fix":{"type":"config_set","file":"/etc/ssh/sshd_config.d/60-immune.conf","key":"MaxAuthTries","value":"3"}}'
uid=fedcba9876543210fedcba9876543210
out=$(act apply "$drop" "$tmp/undo-drop.json") || fail "drop-in apply: $out"
echo "$out" | grep -q "SIGHUP to sshd" || fail "drop-in: no reload: $out"
[ "$(cat /etc/ssh/sshd_config.d/60-immune.conf)" = "MaxAuthTries 3" ] || fail "drop-in content"
effective=$("$sshd" -T -f /etc/ssh/sshd_config) || fail "sshd -T with the drop-in"
grep -qx "maxauthtries 3" <<<"$effective" || fail "sshd -T does not show the drop-in"
out=$(act rollback "$drop" "$tmp/undo-drop.json") || fail "drop-in rollback: $out"
[ ! -e /etc/ssh/sshd_config.d/60-immune.conf ] || fail "the drop-in was not removed"
uid=00000000000000000000000000000001
baddrop='{"fix":{"type":"config_set","file":"/etc/ssh/sshd_config.d/60-immune.conf","key":"NoSuchOption","value":"1"}}'
out=$(act apply "$baddrop" "$tmp/undo-baddrop.json") && fail "a bad drop-in was applied: $out"
echo "$out" | grep -q "^refused" || fail "bad drop-in: $out"
[ ! -e /etc/ssh/sshd_config.d/60-immune.conf ] || fail "a refused drop-in was left"
kill -0 "$(cat /run/sshd.pid)" 2>/dev/null || fail "sshd is not running at the end"
echo "respond_fix: ok"
