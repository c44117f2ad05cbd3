#!/usr/bin/env bash
# bench/response: time from the triggering event on the host to the verified result recorded
# at the server, for an edge step and for a server-decided step, on loopback.
#
# Starts immune-server (its own rules and playbooks) and an enrolled `immune-agent run` with
# the process sensor only. Two Sigma rules fire on the exec of two marker programs (copies of
# sleep with names unique to the run). Playbook "edge": kill-process {{pid}}, local, auto: the
# agent kills at once and sends the result. Playbook "server": the same step without local:
# the alert travels to the server, whose playbook sends the action back, and the agent's
# result returns. For each run the driver notes the wall clock just before it starts the
# marker, then waits for the verified action at the server; the figure is the server's
# recorded time of that result (actions.recorded_ns, stamped when the store writes it)
# minus the start time. Runs alternate between the paths, one at a time. Prints p50, p99 and
# max per path, and the time until the process was gone as the driver saw it.
# Needs root (the process sensor, the executor).
# usage: bench/response.sh [BUILD-DIR (build)] [RUNS-PER-PATH (100)]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
runs=${2:-100}
immune=$build/src/immune
agent=$build/src/immune-agent
[ "$(id -u)" = 0 ] || { echo "response: needs root (the process sensor, the executor)" >&2; exit 2; }
. "$top/tests/integration/fleet_lib.sh"
fleet_init bench-response
chmod 755 "$tmp"
uniq=immbench$$x$RANDOM
cp "$(command -v sleep)" "$tmp/edge-$uniq"
cp "$(command -v sleep)" "$tmp/server-$uniq"
mkdir -p "$tmp/rules" "$tmp/playbooks"
for path in edge server; do
	id=$(python3 -c 'import uuid; print(uuid.uuid4())')
	cat >"$tmp/rules/$path.yml" <<EOF
title: Benchmark marker $path-$uniq ran
id: $id
status: test
level: high
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: /$path-$uniq
  condition: sel
EOF
	local=false
	[ "$path" = edge ] && local=true
	cat >"$tmp/playbooks/$path.yml" <<EOF
id: bench-$path
title: Kill the $path benchmark marker
trigger:
  rule: $id
steps:
  - action: kill-process
    params: {pid: "{{pid}}"}
    mode: auto
    local: $local
EOF
done
# no circuit breaker in the way of the server path
printf 'guardrails:\n  rate_limits: {kill-process: 100000}\n' >"$tmp/playbooks/guardrails.yml"

"$build/src/immune-server" --data "$tmp/data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$top/policies" --rules "$tmp/rules" --playbooks "$tmp/playbooks" \
	>"$tmp/server.log" 2>&1 &
spid=$!
cfg=$tmp/data/client.yaml
fleet_wait_server
fleet_enroll "$tmp/agent"
printf 'sensors:\n  process:\n    mechanism: auto\n  network:\n    mechanism: "off"\n  auth:\n    mechanism: "off"\n  fim:\n    mechanism: "off"\n' \
	>"$tmp/agent.yaml"
"$agent" run --state "$tmp/agent" --config "$tmp/agent.yaml" --no-collect --no-access >"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 150); do
	grep -q "responder: 2 playbooks loaded" "$tmp/agent.log" &&
		grep -q "detection rules: 2 loaded" "$tmp/agent.log" && break
	sleep 0.2
done
grep -q "responder: 2 playbooks loaded" "$tmp/agent.log" || fail "the agent did not load the pushed playbooks"
sleep 1 # the process sensor reports itself active
grep "sensor process:" "$tmp/agent.log" | tail -1

python3 - "$tmp" "$uniq" "$runs" "$tmp/data/immune.db" <<'PY' || fail "the benchmark driver failed"
import json, os, sqlite3, subprocess, sys, time
tmp, uniq, runs, dbpath = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
db = sqlite3.connect("file:%s?mode=ro" % dbpath, uri=True, timeout=5)
lat = {"edge": [], "server": []}
gone = {"edge": [], "server": []}
def recorded(pid, origin):
    for params, rec in db.execute(
            "SELECT params, recorded_ns FROM actions WHERE kind = 'kill-process'"
            " AND state = 'verified' AND origin = ? AND recorded_ns > 0", (origin,)):
        if json.loads(params).get("pid") == pid:
            return rec
    return None
for i in range(2 * runs):
    path = "edge" if i % 2 == 0 else "server"
    t0 = time.time_ns()
    p = subprocess.Popen([os.path.join(tmp, "%s-%s" % (path, uniq)), "30"])
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    if p.returncode is None:
        p.kill()
        sys.exit("run %d (%s): the marker %d was not killed in 20 s" % (i, path, p.pid))
    gone[path].append((time.time_ns() - t0) / 1e6)
    rec = None
    while rec is None and time.monotonic() < deadline:
        rec = recorded(p.pid, path)
        if rec is None:
            time.sleep(0.002)
    if rec is None:
        sys.exit("run %d (%s): no verified result at the server in 20 s" % (i, path))
    lat[path].append((rec - t0) / 1e6)
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print("response: %d runs per path, event on the host -> verified result recorded at the server" % runs)
for path in ("edge", "server"):
    v, g = lat[path], gone[path]
    print("  %-6s step: p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms   (process gone: p50 %.1f ms, p99 %.1f ms)"
          % (path, pct(v, .5), pct(v, .99), max(v), pct(g, .5), pct(g, .99)))
PY
