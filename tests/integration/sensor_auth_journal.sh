#!/usr/bin/env bash
# The authentication sensor's journal source against real journal files: records in the
# journal's export format are written to a journal file by systemd-journal-remote, in a
# directory the sensor reads (auth_journal_dir, through the driver's --journal). Asserts the
# decoded events (a failed password with user and source, an accepted publickey with its
# fingerprint, a sudo command, a new account) with the journal's own times; a restart with the
# saved cursor reads only what was added since; a first start reads nothing old; a missing
# journal is a health state. Exits 77 (skip) without systemd-journal-remote or libsystemd.
set -euo pipefail
driver=$1

remote=$(command -v systemd-journal-remote || true)
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
	[ -z "$remote" ] && [ -x "$p" ] && remote=$p
done
[ -n "$remote" ] || { echo "no systemd-journal-remote: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

tmp=$(mktemp -d)
driver_pid=
cleanup() {
	[ -n "$driver_pid" ] && kill "$driver_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.err "$tmp"/*.events; do
		[ -f "$f" ] && sed "s|^|$(basename "$f"): |" "$f" >&2
	done
	exit 1
}

mkdir -p "$tmp/journal" "$tmp/state" "$tmp/fresh"
boot=0123456789abcdef0123456789abcdef
machine=fedcba9876543210fedcba9876543210
# 2026-11-22T10:00:00Z in microseconds
t0=1795341600000000
fp="SHA256:Zq3Yy8d1xJmWb0u4V2pXo5s7t9QeRkLcNaHgFiDjE1M"

# entry USEC IDENT PID MESSAGE [COMM]: one record in export format (_COMM: the sender as
# journald saw it)
entry() {
	printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=%s\n' "$1" \
		"$(($1 - t0 + 1000000))" "$boot"
	printf '_MACHINE_ID=%s\n_HOSTNAME=jhost\nPRIORITY=6\nSYSLOG_IDENTIFIER=%s\n' "$machine" "$2"
	[ -n "$3" ] && printf 'SYSLOG_PID=%s\n_PID=%s\n' "$3" "$3"
	[ -n "${5:-}" ] && printf '_COMM=%s\n' "$5"
	printf 'MESSAGE=%s\n\n' "$4"
}
write_journal() { # FILE < export
	"$remote" -o "$1" - 2>"$tmp/remote.log" || { cat "$tmp/remote.log" >&2; fail "journal-remote"; }
}
# start NAME STATE ARGS...: the driver in the background, waits for "ready"
start() {
	local name=$1 state=$2
	shift 2
	"$driver" --state "$state" --duration 60 "$@" >"$tmp/$name.events" 2>"$tmp/$name.err" &
	driver_pid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/$name.err" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$tmp/$name.err" || fail "$name: driver did not start"
}
# wait_events NAME COUNT, then stop the driver (it prints its health)
stop_after() {
	local name=$1 want=$2
	for _ in $(seq 100); do
		[ "$(grep -c . "$tmp/$name.events" || true)" -ge "$want" ] && break
		sleep 0.1
	done
	sleep 1 # anything more than expected would show now (4 ticks)
	kill -TERM "$driver_pid"
	wait "$driver_pid" || fail "$name: driver exit status"
	driver_pid=
}

# Run 1: the sensor first, on an empty directory; the journal file appears afterwards.
start run1 "$tmp/state" --journal "$tmp/journal"
grep -q "health" "$tmp/run1.err" && fail "run1: stopped early"
{
	entry $((t0 + 123456)) sshd 4242 "Failed password for alice from 192.0.2.7 port 50022 ssh2"
	entry $((t0 + 1000000)) CRON 77 "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
	entry $((t0 + 1500000)) sshd 4260 "Failed password for root from 203.0.113.66 port 1 ssh2" logger
	entry $((t0 + 2000000)) sshd-session 4250 "Accepted publickey for bob from 198.51.100.9 port 41000 ssh2: ED25519 $fp" sshd-session
	entry $((t0 + 3000000)) sudo "" "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u"
	entry $((t0 + 4000000)) useradd 4300 "new user: name=carol, UID=1001, GID=1001, home=/home/carol, shell=/bin/sh, from=/dev/pts/0"
} | write_journal "$tmp/journal/one.journal"
stop_after run1 4
if grep -q "this build has no libsystemd" "$tmp/run1.err"; then
	echo "built without libsystemd: skipped"
	exit 77
fi
# the record a program called logger wrote as sshd is counted, not decoded
grep -q "health: name=auth mechanism=journal active=1 events=4 skipped=1" "$tmp/run1.err" ||
	fail "run1: health: $(grep health "$tmp/run1.err")"
grep -q "^immune-auth-journal 1$" "$tmp/state/auth-journal-cursor" || fail "run1: no cursor kept"

python3 - "$tmp/run1.events" "$fp" "$t0" <<'PY' || fail "run1: events"
import json, sys
path, fp, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
evs = [json.loads(l) for l in open(path) if l.strip()]
def get(e, p):
    for k in p.split("."):
        if not isinstance(e, dict) or k not in e:
            return None
        e = e[k]
    return e
assert len(evs) == 4, evs
kinds = [get(e, "unmapped.kind") for e in evs]
assert kinds == ["auth_logon", "auth_logon", "sudo", "account_create"], kinds
fail, ok, sudo, acct = evs
# the times are the journal's (OCSF time in ms), not the time of reading
assert get(fail, "time") == (t0 + 123456) // 1000, fail
assert get(ok, "time") == (t0 + 2000000) // 1000, ok
assert get(sudo, "time") == (t0 + 3000000) // 1000, sudo
assert get(fail, "status") == "failure", fail
assert get(fail, "user.name") == "alice", fail
assert get(fail, "src_endpoint.ip") == "192.0.2.7", fail
assert get(fail, "src_endpoint.port") == 50022, fail
assert get(fail, "auth_protocol") == "password", fail
assert get(fail, "service.name") == "sshd", fail
assert get(ok, "status") == "success", ok
assert get(ok, "user.name") == "bob", ok
assert get(ok, "src_endpoint.ip") == "198.51.100.9", ok
assert get(ok, "auth_protocol") == "publickey", ok
assert get(ok, "unmapped.key_fingerprint") == fp, ok
assert get(ok, "service.name") == "sshd", ok
assert get(sudo, "unmapped.sudo_command") == "/usr/bin/id -u", sudo
assert get(sudo, "actor.user.name") == "alice", sudo
assert get(sudo, "user.name") == "root", sudo
assert get(sudo, "status") == "success", sudo
assert get(sudo, "actor.process.session.terminal") == "pts/0", sudo
assert get(acct, "user.name") == "carol" and get(acct, "user.uid") == "1001", acct
assert get(acct, "service.name") == "useradd", acct
PY

# Run 2: a restart with the saved cursor; a second file brings new records. Only they come out.
{
	entry $((t0 + 60000000)) su 4400 "(to root) alice on pts/1"
	entry $((t0 + 61000000)) sshd 4410 "Failed password for invalid user mallory from 203.0.113.5 port 60000 ssh2"
} | write_journal "$tmp/journal/two.journal"
start run2 "$tmp/state" --journal "$tmp/journal"
stop_after run2 2
grep -q "health: name=auth mechanism=journal active=1 events=2 skipped=0" "$tmp/run2.err" ||
	fail "run2: health"
python3 - "$tmp/run2.events" <<'PY' || fail "run2: events"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(evs) == 2, evs
assert evs[0]["unmapped"]["kind"] == "su", evs[0]
assert evs[1]["user"]["name"] == "mallory" and evs[1]["status"] == "failure", evs[1]
PY

# Run 3: a first start (no cursor) on a journal with records: history is not news.
start run3 "$tmp/fresh" --journal "$tmp/journal"
stop_after run3 0
[ ! -s "$tmp/run3.events" ] || fail "run3: old records were read"
grep -q "health: name=auth mechanism=journal active=1 events=0" "$tmp/run3.err" ||
	fail "run3: health"

# No journal there: the mechanism is none and health says why.
start run4 "$tmp/fresh" --journal "$tmp/no-such-dir"
stop_after run4 0
grep -q "health: name=auth mechanism=none active=0 .*the journal is not read: no directory" \
	"$tmp/run4.err" || fail "run4: health"

echo "ok: $(cat "$tmp"/run1.events "$tmp"/run2.events | grep -c .) events; $(grep health: "$tmp/run1.err")"
