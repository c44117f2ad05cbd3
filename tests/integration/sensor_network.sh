#!/usr/bin/env bash
# The network sensor on the real kernel: a listen on a loopback port, a connect to it, the
# accepted connection and the listener's close appear with the right pid and image, through
# each mechanism (auto: eBPF where it loads; poll over sock_diag). Needs root; exits 77 when
# a mechanism is missing.
# usage: sensor_network.sh IMMUNE_AGENT  (runs `IMMUNE_AGENT watch`)
set -euo pipefail
watch=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
py=$(command -v python3) || { echo "SKIP: needs python3"; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "echo kept $tmp" EXIT

cat >"$tmp/peer.py" <<'PY'
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
port = s.getsockname()[1]
print(os.getpid(), port, flush=True)
c = socket.create_connection(("127.0.0.1", port))
a, _ = s.accept()
time.sleep(float(sys.argv[1]))  # long enough for a poll to see both ends
a.close(); c.close(); s.close()
time.sleep(float(sys.argv[1]))
PY

run_case() {
	local mech=$1
	local args=(watch --no-rules --sensors network --duration 30)
	[ "$mech" != auto ] && args+=(--network-mechanism "$mech" --poll-ms 100)
	"$watch" "${args[@]}" >"$tmp/$mech.out" 2>"$tmp/$mech.err" &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/$mech.err" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$tmp/$mech.err" || fail "$mech: watcher did not start: $(cat "$tmp/$mech.err")"
	"$py" "$tmp/peer.py" 0.5 >"$tmp/$mech.peer"
	sleep 0.5
	kill -TERM "$pid"; wait "$pid" || true; pid=
	local health
	health=$(grep "^health network" "$tmp/$mech.err") || fail "$mech: no health line"
	if ! grep -q " active=1 " <<<"$health"; then
		echo "SKIP ($mech): $health"
		return 77
	fi
	python3 - "$tmp/$mech.out" "$tmp/$mech.peer" "$mech" "$health" "$py" <<'PY' || fail "$mech: events"
import json, os, sys
path, peer, mech, health, py = sys.argv[1:]
ppid, port = map(int, open(peer).read().split())
if mech != "auto":
    assert "mechanism=%s " % mech in health, health
evs = [json.loads(l) for l in open(path) if l.strip()]
def find(kind, pred):
    return [e for e in evs if e["unmapped"]["kind"] == kind and pred(e)]
def owner(e):
    a = e["actor"]["process"]
    assert a["pid"] == ppid, (a, ppid)
    assert "python" in a["file"]["path"], a
listen = find("net_listen", lambda e: e["src_endpoint"].get("port") == port)
assert listen, "no listen on %d in %d events" % (port, len(evs))
owner(listen[0])
assert listen[0]["src_endpoint"]["ip"] == "127.0.0.1"
conn = find("net_connect", lambda e: e.get("dst_endpoint", {}).get("port") == port)
assert conn, "no connect to %d" % port
owner(conn[0])
assert conn[0]["connection_info"]["direction"] == "outbound"
acc = find("net_accept", lambda e: e["src_endpoint"].get("port") == port)
assert acc, "no accept on %d" % port
owner(acc[0])
closed = find("net_listen_close", lambda e: e["src_endpoint"].get("port") == port)
assert closed, "no listen close on %d" % port
assert " lost=0 " in health, health
print("ok", mech, health)
PY
}

rc_auto=0; run_case auto || rc_auto=$?
rc_poll=0; run_case poll || rc_poll=$?
[ $rc_auto -eq 77 ] && [ $rc_poll -eq 77 ] && exit 77
[ $rc_auto -eq 0 ] || [ $rc_auto -eq 77 ] || exit $rc_auto
[ $rc_poll -eq 0 ] || [ $rc_poll -eq 77 ] || exit $rc_poll
exit 0
