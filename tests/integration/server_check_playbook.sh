#!/usr/bin/env bash
# Check-triggered playbooks at the server, with a real immune-server (--playbooks DIR) and an
# enrolled immune-agent on loopback, running with its responder and scanning a fixture root
# (tests/fixtures/os/debian12-hardened) where a check with a typed fix fails: the first scan
# makes the server's playbook (mode auto, dry_run: true) ask for apply-fix with the check's
# own fix; the agent's executor checks it as a dry run (nothing on this host changes) and
# the action ends dry_run, with origin server and the check in its trigger. A second scan
# where the check still fails triggers nothing more; and a real apply-fix sent by hand is
# refused by an agent that scans a directory (--root). No real fix is applied to this host.
# usage: server_check_playbook.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT
set -euo pipefail
immune=$1
server=$2
agent=$3
src=$IMMUNE_SOURCE_DIR
# the responder forks the executor, which needs root
[ "$(id -u)" = 0 ] || { echo "not root: skipped (the agent's executor)"; exit 77; }

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-check-playbook
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
check_id=net-tcp-syncookies-enabled

mkdir "$tmp/pb"
cat >"$tmp/pb/fix.yml" <<EOF
id: test-check-fix
title: Describe the fix of a failing check (dry run only)
trigger:
  check: [$check_id]
dry_run: true
steps:
  - action: apply-fix
    params: {check: "{{check_id}}", fix: "{{fix}}"}
    mode: auto
EOF

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" --playbooks "$tmp/pb" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
grep -q "response playbooks: 1 from $tmp/pb" "$tmp/server.log" || fail "playbook not loaded"

fleet_enroll "$state"

# the responder is on (no --no-respond): the agent's executor answers the dry run
"$agent" run --no-detect --state "$state" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
	--catalog "$src/policies" >>"$tmp/agent.log" 2>&1 &
apid=$!

wait_action() { # until an action exists and python-condition $1 over it (a) holds
	for _ in $(seq 1 300); do
		"$immune" actions --json --server-config "$cfg" >"$tmp/out" 2>/dev/null || true
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["count"] >= 1 and all(eval(sys.argv[2]) for a in d["actions"]) else 1)' \
			"$tmp/out" "$1" 2>/dev/null && return 0
		kill -0 "$apid" 2>/dev/null || fail "the agent exited"
		sleep 0.2
	done
	fail "no action with $1: $(cat "$tmp/out")"
}
wait_action 'a["state"] == "dry_run"'
python3 - "$tmp/out" "$host" "$check_id" <<'PY' || fail "check action: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
host, check = sys.argv[2], sys.argv[3]
assert d["count"] == 1, d
a = d["actions"][0]
assert a["host"] == host and a["origin"] == "server" and a["kind"] == "apply-fix", a
assert a["op"] == "apply" and a["mode"] == "auto" and a["state"] == "dry_run", a
assert a["trigger"] == {"check_id": check, "playbook": "test-check-fix", "step": 0}, a
assert a["requested_by"] == "playbook test-check-fix", a
assert a["params"]["check"] == check, a
assert a["params"]["fix"]["type"] == "sysctl_set", a
assert a["params"]["fix"]["key"] == "net.ipv4.tcp_syncookies", a
PY
grep -q "sent action [0-9a-f]* (apply-fix apply, dry run) to host $host" "$tmp/server.log" \
	|| fail "the apply-fix was not sent as a dry run"
grep -q "playbook test-check-fix step 0 on check $check_id" "$tmp/server.log" \
	|| fail "the step was not logged with its check"

# a second scan, where the check still fails: nothing new
scanned() {
	"$immune" host show "$host" --json --server-config "$cfg" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["host"].get("scanned_at"))'
}
before=$(scanned)
sleep 1.1 # the next scan starts in another second
run "$immune" host command "$host" scan-now --server-config "$cfg"
[ $rc -eq 0 ] || fail "scan-now ($rc): $(cat "$tmp/err")"
for _ in $(seq 1 300); do
	now=$(scanned || true)
	[ -n "$now" ] && [ "$now" != "$before" ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.2
done
[ "$now" != "$before" ] || fail "the second scan did not arrive ($before)"
sleep 0.5 # the loop hands the batch's checks to response after its commit
run "$immune" actions --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"] == 1, d' "$tmp/out" \
	|| fail "a check that stayed failing triggered again: $(cat "$tmp/out")"

# an agent scanning a directory (--root) refuses a real apply-fix: the checks failed there,
# and the fix would change this host. The value asked for is the host's own (read here), so
# nothing would change even if it were applied.
cur=$(cat /proc/sys/net/ipv4/tcp_syncookies)
run "$immune" respond "$host" apply-fix check=$check_id \
	"fix={\"type\":\"sysctl_set\",\"key\":\"net.ipv4.tcp_syncookies\",\"value\":\"$cur\"}" \
	--json --server-config "$cfg"
[ $rc -eq 0 ] || fail "respond apply-fix ($rc): $(cat "$tmp/err")"
wait_action 'a["state"] in ("dry_run", "refused")'
python3 - "$tmp/out" <<'PY' || fail "apply-fix on a --root agent: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["count"] == 2, d
m = [a for a in d["actions"] if a["origin"] == "manual"][0]
assert m["state"] == "refused" and "not this host" in m["message"], m
PY
echo "server_check_playbook: OK"
