#!/usr/bin/env bash
# The server's playbook steps, with a real immune-server (--playbooks DIR) and an enrolled
# immune-agent on loopback: alerts put into the agent's spool (spool_put) reach the server,
# whose playbooks turn their server steps into actions: auto steps sent to the connected
# host with parameters from the newest evidence event, approve steps waiting for an
# operator, notify steps recorded only, dry-run steps sent as dry runs, protected users skipped, local steps
# left to the agent; an alert delivered twice runs its playbooks once.
# usage: server_playbooks.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT SPOOL-PUT
set -euo pipefail
immune=$1
server=$2
agent=$3
spool_put=$4
src=$IMMUNE_SOURCE_DIR

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-playbooks
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml

mkdir "$tmp/pb"
cat >"$tmp/pb/test.yml" <<'EOF'
id: test-lock
title: Lock the account of a suspicious logon once approved; note its source
trigger:
  rule: test-rule-lock
steps:
  - action: lock-user
    params: {user: "{{target_user}}"}
    mode: approve
  - action: block-address
    params: {address: "{{src_ip}}", duration: 10m}
    mode: notify
---
id: test-kill
title: Kill the process at the server's word
trigger:
  rule: test-rule-kill
steps:
  - action: kill-process
    params: {pid: "{{pid}}"}
    mode: auto
  - action: lock-user
    params: {user: root}
    mode: auto
  - action: block-address
    params: {address: 192.0.2.200}
    mode: auto
    local: true
---
id: test-dry
title: Only describe
trigger:
  rule: test-rule-kill
dry_run: true
steps:
  - action: isolate-host
    mode: auto
EOF
cat >"$tmp/pb/guardrails.yml" <<'EOF'
guardrails:
  protected_users: [root]
  rate_limits: {kill-process: 5}
EOF

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" --playbooks "$tmp/pb" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
grep -q "response playbooks: 3 from $tmp/pb" "$tmp/server.log" || fail "playbooks not loaded"

fleet_enroll "$state"

mkdir "$tmp/rec"
python3 - "$tmp/rec" <<'PY'
import json, os, sys, time
d = sys.argv[1]
now = int(time.time() * 1000)
meta = {"product": {"name": "Immune"}, "version": "1.1.0"}
logon = {"class_uid": 3002, "activity_id": 1, "category_uid": 3, "type_uid": 300201,
         "time": now - 2000, "severity_id": 1, "metadata": meta,
         "unmapped": {"kind": "auth_logon"}, "user": {"name": "mallory"},
         "src_endpoint": {"ip": "203.0.113.5"}, "status": "Success"}
proc = {"class_uid": 1007, "activity_id": 1, "category_uid": 1, "type_uid": 100701,
        "time": now - 1000, "severity_id": 1, "metadata": meta,
        "unmapped": {"kind": "process_exec"},
        "process": {"pid": 4242, "name": "nc", "file": {"path": "/usr/bin/nc"},
                    "user": {"name": "www-data"}}}
def alert(name, rule, ev):
    uid = os.urandom(16).hex()
    a = {"class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401,
         "time": now, "severity_id": 4, "metadata": dict(meta, uid=uid),
         "finding_info": {"uid": uid, "title": "Test " + rule,
                          "analytic": {"uid": rule, "name": rule, "type_id": 1, "type": "Rule"},
                          "attacks": [], "types": ["rule"]},
         "evidence": [ev], "unmapped": {"source": "rule", "level": "high"}}
    open(os.path.join(d, name), "w").write(json.dumps(a))
alert("lock", "test-rule-lock", logon)
alert("kill", "test-rule-kill", proc)
alert("other", "no-playbook-rule", proc)
PY
r=$tmp/rec
"$spool_put" "$state/spool" alerts 5 "$r/lock" "$r/kill" "$r/other" >/dev/null || fail "spool_put"

# the responder is off (--no-respond): what the server decided stays as it sent it
start_agent() {
	"$agent" run --no-detect --no-respond --state "$state" \
		--root "$IMMUNE_FIXTURES/os/debian12-hardened" \
		--catalog "$src/policies" --no-collect >>"$tmp/agent.log" 2>&1 &
	apid=$!
}
stop_agent() {
	kill "$apid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || true
	apid=""
}
wait_actions() { # until at least $1 actions exist
	for _ in $(seq 1 300); do
		"$immune" actions --json --server-config "$cfg" >"$tmp/out" 2>/dev/null || true
		python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["count"] >= int(sys.argv[2]) else 1)' \
			"$tmp/out" "$1" 2>/dev/null && return 0
		kill -0 "$apid" 2>/dev/null || fail "the agent exited"
		sleep 0.1
	done
	fail "fewer than $1 actions: $(cat "$tmp/out")"
}
start_agent
wait_actions 4
sleep 0.5 # nothing more comes
run "$immune" actions --json --server-config "$cfg"
python3 - "$tmp/out" "$host" <<'PY' || fail "playbook actions: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
host = sys.argv[2]
assert d["count"] == 4, d
by = {(a["trigger"]["playbook"], a["trigger"]["step"]): a for a in d["actions"]}
assert set(by) == {("test-lock", 0), ("test-lock", 1), ("test-kill", 0), ("test-dry", 0)}, by.keys()
for a in d["actions"]:
    assert a["host"] == host and a["origin"] == "server" and a["op"] == "apply", a
    assert a["requested_by"] == "playbook " + a["trigger"]["playbook"], a
    assert a["trigger"]["rule_id"].startswith("test-rule-"), a
lock = by[("test-lock", 0)]
assert lock["kind"] == "lock-user" and lock["params"] == {"user": "mallory"}, lock
assert lock["mode"] == "approve" and lock["state"] == "pending_approval", lock
note = by[("test-lock", 1)]
assert note["kind"] == "block-address" and note["params"] == {"address": "203.0.113.5", "duration": 600}, note
assert note["mode"] == "notify" and note["state"] == "notified", note
kill = by[("test-kill", 0)]
assert kill["kind"] == "kill-process" and kill["params"] == {"pid": 4242}, kill
assert kill["mode"] == "auto" and kill["state"] == "sent" and kill["sent"] is not None, kill
dry = by[("test-dry", 0)]
assert dry["kind"] == "isolate-host" and dry["state"] == "sent", dry  # sent as a dry run
PY
kill_uid=$(python3 -c '
import json,sys
print([a["uid"] for a in json.load(open(sys.argv[1]))["actions"] if a["kind"] == "kill-process"][0])' "$tmp/out")
grep -q "sent action $kill_uid (kill-process apply) to host $host" "$tmp/server.log" || fail "kill not sent"
grep -q "sent action [0-9a-f]* (isolate-host apply, dry run) to host $host" "$tmp/server.log" \
	|| fail "the dry run was not sent as one"
grep -q "test-kill step 1.*root" "$tmp/server.log" || fail "the protected user's step was not logged as skipped"
run "$immune" actions --state pending_approval --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "lock-user *user=mallory *pending_approval *server" "$tmp/out" \
	|| fail "pending table: $(cat "$tmp/out")"

# the same alert delivered again (a new spool record): stored once, no new actions
stop_agent
"$spool_put" "$state/spool" alerts 5 "$r/kill" >/dev/null || fail "spool_put again"
start_agent
for _ in $(seq 1 300); do
	run "$immune" server status --json --server-config "$cfg"
	python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["counters"]["alerts_duplicate"] == 1 else 1)' \
		"$tmp/out" && break
	sleep 0.1
done
run "$immune" actions --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"] == 4, d' "$tmp/out" \
	|| fail "a re-delivered alert ran the playbooks again: $(cat "$tmp/out")"
stop_agent
echo "server_playbooks: OK"
