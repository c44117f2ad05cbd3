#!/usr/bin/env bash
# bench/agent_load: the real agent under an exec load. Starts immune-server on loopback and
# an enrolled `immune-agent run` (detection on, the shipped rules pushed by the server, the
# process sensor only so that a first FIM scan does not blur the figure; no inventory), then
# drives RATE execs/s for SECONDS with bench_sensors, which counts the marked exec events in
# what the agent wrote (`immune-agent events --follow --json`, i.e. after the pipeline).
# The agent starts once to receive the catalog and the rules (its peak RSS then is printed:
# a one-off), and is restarted for the load, as a host runs it from then on. Prints
# bench_sensors' figures, then the agent's own CPU over the load (utime + stime from /proc, %
# of one core) and its peak RSS (VmHWM). Needs root (the process sensor).
# usage: bench/agent_load.sh [BUILD-DIR (build)] [RATE (1000)] [SECONDS (60)]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
rate=${2:-1000}
seconds=${3:-60}
immune=$build/src/immune
agent=$build/src/immune-agent
[ "$(id -u)" = 0 ] || { echo "agent_load: needs root (the process sensor)" >&2; exit 2; }
. "$top/tests/integration/fleet_lib.sh"
fleet_init agent-load
chmod 755 "$tmp"

"$build/src/immune-server" --data "$tmp/data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$top/policies" --rules "$top/rules/linux" >"$tmp/server.log" 2>&1 &
spid=$!
cfg=$tmp/data/client.yaml
for _ in $(seq 100); do
	[ -f "$cfg" ] && "$immune" server status --server-config "$cfg" >/dev/null 2>&1 && break
	sleep 0.1
done
run "$immune" token create --json --server-config "$cfg"
[ "$rc" = 0 ] || fail "token create"
tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/out")
"$agent" enroll --server "127.0.0.1:$PA" --token "$tok" --state "$tmp/agent" >/dev/null
printf 'sensors:\n  process:\n    mechanism: auto\n  network:\n    mechanism: off\n  auth:\n    mechanism: off\n  fim:\n    mechanism: off\n' \
	>"$tmp/agent.yaml"
# start_agent LOG: runs the agent until it has loaded the rules the server pushed
start_agent() {
	"$agent" run --state "$tmp/agent" --config "$tmp/agent.yaml" --no-collect --no-access >"$tmp/$1" 2>&1 &
	apid=$!
	for _ in $(seq 150); do
		grep -q "detection rules: [1-9][0-9]* loaded from $tmp/agent/rules" "$tmp/$1" && break
		sleep 0.2
	done
	grep -q "loaded from $tmp/agent/rules" "$tmp/$1" || fail "the agent did not load the pushed rules"
}
# The first start receives the catalog and the rules (a one-off peak); the load runs against
# a restarted agent, as a host runs it from then on.
start_agent first.log
sleep 2
echo "agent peak rss at its first start (catalog and rules received): $(grep VmHWM "/proc/$apid/status" | tr -s ' \t' ' ')"
kill "$apid"
wait "$apid" || true
start_agent agent.log
grep "sensor process:" "$tmp/agent.log" | tail -1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$apid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N)
c0=$(cpu_ticks)
"$build/bench/bench_sensors" --rate "$rate" --seconds "$seconds" -- /bin/sh -c \
	'echo ready >&2; exec "$0" events --follow --json --state "$1"' "$agent" "$tmp/agent" |
	grep -v '^watcher'
c1=$(cpu_ticks)
t1=$(date +%s.%N)
python3 - "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
c0, c1, hz, t0, t1 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
cpu = (c1 - c0) / hz
print("agent cpu: %.2f s in %.1f s wall = %.2f%% of one core" % (cpu, t1 - t0, 100 * cpu / (t1 - t0)))
PY
echo "agent peak rss: $(grep VmHWM "/proc/$apid/status" | tr -s ' \t' ' ')"
