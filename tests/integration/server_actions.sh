#!/usr/bin/env bash
# Response actions at the server, with a real immune-server and an enrolled immune-agent on
# loopback: `immune respond` (parameters checked by the server: 400 with the reason; 409 for
# a host that is not connected), `immune actions` with filters, `immune action show`,
# approve / reject / rollback and their refusals in the wrong state, and action-result
# records put into the agent's spool (tests/integration/spool_put) that move actions to
# verified and rolled_back, or create the row of an action taken at the edge. Then, end to
# end (root: the executor), `immune respond HOST kill-process pid=N` kills a process of the
# test through the agent's responder and executor, the result makes the action verified,
# and a rollback of the kill is refused by the agent.
# usage: server_actions.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT SPOOL-PUT
set -euo pipefail
immune=$1
server=$2
agent=$3
spool_put=$4
src=$IMMUNE_SOURCE_DIR

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-actions
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
sleeper=""
cleanup_all() {
	[ -n "$sleeper" ] && kill -9 "$sleeper" 2>/dev/null || true
	fleet_cleanup
}
trap cleanup_all EXIT

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" --playbooks none >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server

fleet_enroll "$state"

# without the responder (--no-respond) the agent leaves actions alone, so that the API's side
# is checked with results the test writes; the end-to-end part runs it
respond=--no-respond
start_agent() {
	"$agent" run --no-detect --state "$state" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
		--catalog "$src/policies" --no-collect $respond >>"$tmp/agent.log" 2>&1 &
	apid=$!
}
stop_agent() {
	kill "$apid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || true
	apid=""
}
wait_connected() { # $1: true or false
	for _ in $(seq 1 300); do
		"$immune" host show "$host" --json --server-config "$cfg" >"$tmp/host.json" 2>/dev/null || true
		python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["host"]["connected"] == (sys.argv[2] == "true") else 1)' \
			"$tmp/host.json" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "host $host connected did not become $1"
}
wait_committed() { # stream $1 reaches seq $2
	for _ in $(seq 1 300); do
		"$immune" host show "$host" --json --server-config "$cfg" >"$tmp/host.json" 2>/dev/null || true
		python3 - "$tmp/host.json" "$1" "$2" <<'PY' 2>/dev/null && return 0
import json, sys
s = {x["stream"]: x for x in json.load(open(sys.argv[1]))["streams"]}
sys.exit(0 if s[sys.argv[2]]["committed_seq"] >= int(sys.argv[3]) else 1)
PY
		kill -0 "$apid" 2>/dev/null || fail "the agent exited"
		sleep 0.1
	done
	fail "stream $1 of $host did not reach $2"
}
# jq-like: python expression over the JSON in $tmp/out as d
check() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert eval(sys.argv[2]), d' "$tmp/out" "$1" \
		|| fail "$2: $(cat "$tmp/out" "$tmp/err")"
}

start_agent
wait_connected true
hn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host"]["hostname"])' "$tmp/host.json")

# ---- validation: the server refuses bad actions with the reason ----
run "$immune" respond "$host" kill-process pid=abc --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "kill-process" "$tmp/err" && grep -q "pid" "$tmp/err" \
	|| fail "pid=abc ($rc): $(cat "$tmp/err")"
run "$immune" respond "$host" kill-process pid=1 --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "pid" "$tmp/err" || fail "pid=1 ($rc): $(cat "$tmp/err")"
run "$immune" respond "$host" block-address address=1.2.3 --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "not an IP address or CIDR" "$tmp/err" || fail "address=1.2.3 ($rc): $(cat "$tmp/err")"
run "$immune" respond "$host" block-address address=192.0.2.1 colour=red --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "colour" "$tmp/err" || fail "unknown param ($rc): $(cat "$tmp/err")"
run "$immune" respond "$host" format-disk --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "unknown action kind 'format-disk'" "$tmp/err" || fail "unknown kind ($rc)"
run "$immune" respond "$host" block-address address=192.0.2.1 notaword --server-config "$cfg"
[ $rc -eq 2 ] || fail "a word without '=' ($rc)"
run "$immune" respond "$host" block-address address=192.0.2.1 duration=1h --for 2h --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "either as 'for'" "$tmp/err" || fail "--for and duration ($rc): $(cat "$tmp/err")"
run "$immune" respond no-such-host.example lock-user user=eve --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "no host with this id or name" "$tmp/err" || fail "unknown host ($rc): $(cat "$tmp/err")"
run "$immune" actions --json --server-config "$cfg"
check 'd["count"] == 0 and d["actions"] == []' "no action stored for refused requests"

# ---- a manual action to the connected host ----
sleep 300 &
sleeper=$!
run "$immune" respond "$hn" kill-process pid=$sleeper --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "respond kill-process ($rc): $(cat "$tmp/err")"
check 'd["action"]["state"] == "sent" and d["action"]["kind"] == "kill-process" and d["action"]["params"] == {"pid": '$sleeper'} and d["action"]["requested_by"] == "admin" and d["action"]["origin"] == "manual" and d["action"]["mode"] == "manual" and d["action"]["host"] == "'$host'"' "respond answer"
kill_uid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["action"]["uid"])' "$tmp/out")
run "$immune" respond "$host" block-address address=192.0.2.9 --for 2h --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Sent block-address to host $host (action [0-9a-f]\{32\})" "$tmp/out" \
	|| fail "respond block-address ($rc): $(cat "$tmp/out" "$tmp/err")"
block_uid=$(grep -o "action [0-9a-f]\{32\}" "$tmp/out" | cut -d' ' -f2)
run "$immune" action show "$block_uid" --json --server-config "$cfg"
check 'd["action"]["params"] == {"address": "192.0.2.9", "duration": 7200} and d["action"]["sent"] is not None' "block --for 2h"
grep -q "sent action $kill_uid (kill-process apply) to host $host" "$tmp/server.log" \
	|| fail "the server did not log the send"

# listing and filters
run "$immune" actions --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "kill-process *pid=$sleeper *sent *manual" "$tmp/out" \
	&& grep -q "block-address *address=192.0.2.9 duration=7200 *sent" "$tmp/out" \
	&& grep -q "^2 actions" "$tmp/out" || fail "actions table: $(cat "$tmp/out")"
run "$immune" actions --host "$hn" --state sent --since 1h --json --server-config "$cfg"
check 'd["count"] == 2 and d["actions"][0]["uid"] == "'$block_uid'"' "actions --host --state --since"
run "$immune" actions --state verified --json --server-config "$cfg"
check 'd["count"] == 0' "actions --state verified"
run "$immune" actions --state bogus --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "state must be one of" "$tmp/err" || fail "--state bogus ($rc)"
run "$immune" action show "$kill_uid" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Action $kill_uid" "$tmp/out" && grep -q "requested by *admin" "$tmp/out" \
	|| fail "action show: $(cat "$tmp/out")"
run "$immune" action show 0123456789abcdef0123456789abcdef --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "no such action" "$tmp/err" || fail "show unknown ($rc): $(cat "$tmp/err")"
# a rollback before any result: refused
run "$immune" action rollback "$block_uid" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "only a verified or failed action can be rolled back" "$tmp/err" \
	|| fail "rollback of a sent action ($rc): $(cat "$tmp/err")"

# ---- actions waiting for approval (as a playbook's approve step leaves them) ----
python3 - "$data/immune.db" "$host" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
hid = db.execute("SELECT hid FROM hosts WHERE id = ?", (sys.argv[2],)).fetchone()[0]
now = time.time_ns()
for uid, user in (("a" * 32, "mallory"), ("b" * 32, "trudy"), ("c" * 32, "oscar")):
    db.execute("INSERT INTO actions(uid, host, kind, op, params, mode, state, origin,"
               " trigger_json, requested_by, created_ns) VALUES(?, ?, 'lock-user', 'apply', ?,"
               " 'approve', 'pending_approval', 'server', ?, 'playbook test-pb', ?)",
               (uid, hid, '{"user": "%s"}' % user,
                '{"alert_uid": "%s", "rule_id": "r1", "playbook": "test-pb", "step": 0}' % ("d" * 32),
                now))
db.commit()
PY
pa=$(printf 'a%.0s' $(seq 32)); pb=$(printf 'b%.0s' $(seq 32)); pc=$(printf 'c%.0s' $(seq 32))
run "$immune" actions --state pending_approval --json --server-config "$cfg"
check 'd["count"] == 3' "pending actions"
run "$immune" actions --server-config "$cfg"
grep -q "^3 waiting for approval: 'immune action approve UID'" "$tmp/out" || fail "pending hint: $(cat "$tmp/out")"
run "$immune" action reject "$pa" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "Action $pa rejected" "$tmp/out" || fail "reject ($rc): $(cat "$tmp/err")"
run "$immune" action show "$pa" --json --server-config "$cfg"
check 'd["action"]["state"] == "rejected" and d["action"]["message"] == "rejected by admin" and d["action"]["finished"] is not None and d["action"]["sent"] is None' "rejected"
run "$immune" action approve "$pa" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "no longer pending approval" "$tmp/err" || fail "approve a rejected action ($rc): $(cat "$tmp/err")"
run "$immune" action reject "$pa" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "not pending approval" "$tmp/err" || fail "reject twice ($rc)"
run "$immune" action approve "$pb" --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "approve ($rc): $(cat "$tmp/err")"
check 'd["action"]["state"] == "sent" and d["action"]["approved_by"] == "admin" and d["action"]["requested_by"] == "playbook test-pb" and d["action"]["trigger"]["playbook"] == "test-pb"' "approved"
run "$immune" action frobnicate "$pb" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "unknown verb" "$tmp/err" || fail "unknown verb ($rc)"

# ---- not connected: 409, nothing sent, pending stays pending ----
stop_agent
wait_connected false
run "$immune" respond "$host" lock-user user=eve --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "is not connected" "$tmp/err" || fail "respond to a disconnected host ($rc): $(cat "$tmp/err")"
run "$immune" action approve "$pc" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "is not connected" "$tmp/err" || fail "approve for a disconnected host ($rc): $(cat "$tmp/err")"
run "$immune" action show "$pc" --json --server-config "$cfg"
check 'd["action"]["state"] == "pending_approval"' "still pending"

# ---- results from the agent: verified, an edge action, a failure ----
mkdir "$tmp/rec"
python3 - "$tmp/rec" "$kill_uid" "$block_uid" "$pb" "$sleeper" <<'PY'
import json, os, sys, time
d, kill_uid, block_uid, pb, pid = sys.argv[1:6]
now = time.time_ns()
def res(name, uid, kind, params, status, origin, message, op="apply", trigger=None):
    r = {"uid": uid, "kind": kind, "op": op, "params": params, "status": status,
         "message": message, "origin": origin, "detail": {"by": "test"},
         "requested_ns": now - 10**9, "finished_ns": now}
    if trigger:
        r["trigger"] = trigger
    open(os.path.join(d, name), "w").write(json.dumps(r))
res("r1", kill_uid, "kill-process", {"pid": int(pid)}, "verified", "manual", "process %s killed" % pid)
res("r2", block_uid, "block-address", {"address": "192.0.2.9", "duration": 7200}, "verified", "manual", "192.0.2.9 blocked")
res("r3", pb, "lock-user", {"user": "trudy"}, "failed", "server", "no such user trudy")
res("r4", "e" * 32, "block-address", {"address": "198.51.100.4", "duration": 3600}, "verified", "edge",
    "198.51.100.4 blocked", trigger={"alert_uid": "f" * 32, "rule_id": "ssh-brute", "playbook": "ssh-block", "step": 0})
open(os.path.join(d, "bad"), "w").write('{"uid": "nope"}')
PY
r=$tmp/rec
"$spool_put" "$state/spool" alerts 6 "$r/r1" "$r/r2" "$r/r3" "$r/r4" "$r/bad" >/dev/null || fail "spool_put results"
start_agent
wait_committed alerts 5
run "$immune" action show "$kill_uid" --json --server-config "$cfg"
check 'd["action"]["state"] == "verified" and d["action"]["message"].startswith("process ") and d["action"]["finished"] is not None and d["action"]["detail"] == {"by": "test"}' "kill verified"
run "$immune" action show "$pb" --json --server-config "$cfg"
check 'd["action"]["state"] == "failed" and d["action"]["message"] == "no such user trudy"' "lock failed"
run "$immune" action show "$(printf 'e%.0s' $(seq 32))" --json --server-config "$cfg"
check 'd["action"]["origin"] == "edge" and d["action"]["state"] == "verified" and d["action"]["trigger"]["playbook"] == "ssh-block" and d["action"]["host"] == "'$host'"' "edge action stored"
run "$immune" actions --state verified --json --server-config "$cfg"
check 'd["count"] == 3' "three verified"
run "$immune" server status --json --server-config "$cfg"
check 'd["counters"]["action_results"] == 4 and d["counters"]["records_unparsed"] == 1' "counters"

# ---- rollback: sent to the connected agent; its result moves the action to rolled_back ----
wait_connected true
run "$immune" action rollback "$block_uid" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "Rollback of action $block_uid sent" "$tmp/out" || fail "rollback ($rc): $(cat "$tmp/err")"
grep -q "sent action $block_uid (block-address rollback)" "$tmp/server.log" || fail "rollback not sent"
run "$immune" action show "$block_uid" --json --server-config "$cfg"
check 'd["action"]["state"] == "verified" and d["action"]["message"] == "rollback requested by admin"' "rollback requested"
stop_agent
python3 - "$tmp/rec" "$block_uid" <<'PY'
import json, os, sys
json.dump({"uid": sys.argv[2], "kind": "block-address", "op": "rollback",
           "params": {"address": "192.0.2.9", "duration": 7200}, "status": "rolled_back",
           "message": "192.0.2.9 unblocked", "origin": "manual"}, open(os.path.join(sys.argv[1], "rb"), "w"))
PY
"$spool_put" "$state/spool" alerts 6 "$r/rb" >/dev/null || fail "spool_put rollback"
start_agent
wait_committed alerts 6
run "$immune" action show "$block_uid" --json --server-config "$cfg"
check 'd["action"]["state"] == "rolled_back" and d["action"]["message"] == "192.0.2.9 unblocked"' "rolled back"
run "$immune" action rollback "$block_uid" --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "is rolled_back" "$tmp/err" || fail "rollback twice ($rc): $(cat "$tmp/err")"
stop_agent

# ---- end to end: the agent's responder and executor carry out `immune respond` ----
if [ "$(id -u)" != 0 ]; then
	echo "server_actions: OK (the end-to-end part needs root: the executor)"
	exit 0
fi
wait_state() { # uid python-condition-over-a (the action)
	for _ in $(seq 1 150); do
		"$immune" action show "$1" --json --server-config "$cfg" >"$tmp/out" 2>/dev/null || true
		python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["action"]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
			"$tmp/out" "$2" 2>/dev/null && return 0
		kill -0 "$apid" 2>/dev/null || fail "the agent exited"
		sleep 0.2
	done
	fail "action $1: $2: $(cat "$tmp/out")"
}
respond=""
start_agent
wait_connected true
sleep 301 &
victim=$!
run "$immune" respond "$hn" kill-process pid=$victim --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "respond kill-process end to end ($rc): $(cat "$tmp/err")"
e2e_uid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["action"]["uid"])' "$tmp/out")
wait_state "$e2e_uid" 'a["state"] == "verified" and a["finished"] is not None'
python3 -c '
import json, sys, datetime
a = json.load(open(sys.argv[1]))["action"]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print("server_actions: sent to finished on the agent: %.0f ms" % (1000 * (t(a["finished"]) - t(a["sent"]))))' \
	"$tmp/out"
set +e
wait "$victim" 2>/dev/null
st=$?
set -e
[ "$st" -ge 128 ] || fail "the process the action named exited by itself (status $st)"
# a kill cannot be undone: the agent refuses the rollback and the action stays verified
run "$immune" action rollback "$e2e_uid" --server-config "$cfg"
[ $rc -eq 0 ] || fail "rollback of the kill ($rc): $(cat "$tmp/err")"
wait_state "$e2e_uid" 'a["state"] == "verified" and a["message"].startswith("rollback refused")'
stop_agent
echo "server_actions: OK"
