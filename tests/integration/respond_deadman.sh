#!/usr/bin/env bash
# The isolation's dead-man switch, end to end: a real immune-server and an enrolled
# immune-agent (responder on, isolation lease 3 s from agent.yaml) on loopback, all inside a
# network namespace of this test's own (the script re-runs itself under `unshare --net`), so
# the host's firewall is never touched. `immune respond HOST isolate-host --for 1h` becomes
# verified at the server and the kernel set `isolation` holds its elements; while the server
# runs the isolation outlives several leases (the agent refreshes it); once the server is
# killed (-9) the refreshes stop and the kernel lifts the isolation by itself within two
# leases and a refresh period (plus a margin), while the agent keeps running; when the
# server comes back nothing isolates the host again. Root only; exit 77 otherwise.
# usage: respond_deadman.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT
set -euo pipefail
immune=$1
server=$2
agent=$3
src=$IMMUNE_SOURCE_DIR

if [ "$(id -u)" != 0 ]; then
	echo "respond_deadman: needs root (nftables, a network namespace); skipped"
	exit 77
fi
for p in unshare ip nft timeout python3; do
	command -v "$p" >/dev/null || { echo "respond_deadman: no $p; skipped"; exit 77; }
done
if [ -z "${RESPOND_DEADMAN_NETNS:-}" ]; then
	# everything below (server, agent, executor, nftables) lives in a fresh namespace
	unshare --net true 2>/dev/null || { echo "respond_deadman: cannot unshare the network; skipped"; exit 77; }
	RESPOND_DEADMAN_NETNS=1 exec timeout 110 unshare --net -- "$0" "$@"
fi
ip link set lo up

. "$(dirname "$0")/fleet_lib.sh"
RUN_TIMEOUT=30
fleet_init respond-deadman
trap 'exit 143' TERM INT # the EXIT trap cleans up after a timeout too
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
LEASE=3           # seconds (agent.yaml response.isolation_lease)
REFRESH_MS=750    # a quarter of the lease
MARGIN_MS=2500    # scheduling slack on a shared machine

start_server() {
	"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
		--catalog "$src/policies" >>"$tmp/server.log" 2>&1 &
	spid=$!
	fleet_wait_server
}

# the number of elements (ipv4, ipv6) in the set isolation of table inet immune (0 when the
# set or the table is absent)
iso_elems() {
	local out
	out=$(nft list set inet immune isolation 2>/dev/null) || { echo 0; return; }
	local n=0
	grep -q 'elements = {.*ipv4' <<<"$out" && n=$((n + 1))
	grep -q 'elements = {.*ipv6' <<<"$out" && n=$((n + 1))
	echo "$n"
}
agent_alive() { kill -0 "$apid" 2>/dev/null || fail "the agent exited"; }
now_ms() { date +%s%3N; }

nft list tables | grep -q 'inet immune' && fail "the new namespace already has table inet immune"
start_server
fleet_enroll "$state" --machine-id-file ""

cat >"$tmp/agent.yaml" <<EOF
response:
  isolation_lease: ${LEASE}s
EOF
"$agent" run --state "$state" --no-collect --no-detect --no-access --config "$tmp/agent.yaml" \
	>>"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do
	grep -q "responder: executor started" "$tmp/agent.log" && break
	agent_alive
	sleep 0.1
done

# ---- isolate: verified at the server, the elements are in the kernel ----
run "$immune" respond "$host" isolate-host --for 1h --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "immune respond isolate-host ($rc): $(cat "$tmp/err")"
uid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["action"]["uid"])' "$tmp/out")
verified() {
	run "$immune" action show "$uid" --json --server-config "$cfg"
	python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["action"]["state"] == "verified" else 1)' \
		"$tmp/out" 2>/dev/null
}
for _ in $(seq 1 150); do
	verified && break
	agent_alive
	sleep 0.2
done
verified || fail "the isolation did not become verified at the server: $(cat "$tmp/out")"
[ "$(iso_elems)" = 2 ] || fail "no isolation elements: $(nft list set inet immune isolation 2>&1)"
grep -q "isolated for 3600s .*lease ${LEASE}s" "$tmp/agent.log" ||
	fail "the first lease was not the configured ${LEASE} s"

# ---- while the server runs the isolation outlives the lease (refreshed) ----
hold_ms=$((2 * LEASE * 1000 + 1000))
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt $hold_ms ]; do
	n=$(iso_elems)
	[ "$n" = 2 ] || fail "the isolation lapsed after $(($(now_ms) - t0)) ms with the server up ($n elements)"
	agent_alive
	sleep 0.2
done
refreshes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["responder"]["isolation_refreshes"])' \
	"$state/status.json")
[ "$refreshes" -ge 1 ] || fail "status.json counts no isolation refreshes"
echo "respond_deadman: isolation held ${hold_ms} ms with the server up ($refreshes refreshes in status.json)"

# ---- the server is gone: the kernel lifts the isolation by itself ----
kill -9 "$spid"
wait "$spid" 2>/dev/null || true
spid=""
t0=$(now_ms)
bound_ms=$((2 * LEASE * 1000 + REFRESH_MS + MARGIN_MS))
while [ "$(iso_elems)" != 0 ]; do
	[ $(($(now_ms) - t0)) -lt $bound_ms ] ||
		fail "still isolated ${bound_ms} ms after the server was killed"
	agent_alive
	sleep 0.1
done
lifted_ms=$(($(now_ms) - t0))
agent_alive
grep -q "the server is unreachable: the isolation is not refreshed" "$tmp/agent.log" ||
	fail "the agent did not log that it stopped refreshing"
nft list chain inet immune isolate_in >/dev/null 2>&1 || fail "the isolation's rules vanished too"
echo "respond_deadman: the isolation lifted ${lifted_ms} ms after the server was killed (bound ${bound_ms} ms)"

# ---- the server is back: nothing isolates the host again ----
start_server
for _ in $(seq 1 150); do
	grep -q "responder: the host is no longer isolated" "$tmp/agent.log" && break
	agent_alive
	sleep 0.2
done
grep -q "responder: the host is no longer isolated" "$tmp/agent.log" ||
	fail "after the server came back the agent did not learn the isolation had lifted"
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt $((2 * LEASE * 1000)) ]; do
	[ "$(iso_elems)" = 0 ] || fail "the host was isolated again after the server came back"
	agent_alive
	sleep 0.2
done

kill "$apid"
wait "$apid" || fail "the agent exited with $? on SIGTERM"
apid=""
echo "respond_deadman: OK"
