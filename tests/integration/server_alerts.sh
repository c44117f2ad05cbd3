#!/usr/bin/env bash
# Alerts, events, baselines and sensor health at the server, end to end: records put into a
# real enrolled immune-agent's spool (tests/integration/spool_put) are delivered to the real
# immune-server on loopback; then the API (GET /v1/alerts with filters, cursor and fleet
# view, GET /v1/alerts/ID, GET /v1/hosts/ID/baseline, sensor health in GET /v1/hosts/ID),
# the CLI (immune alerts, alert show, baseline show, host show), bad payloads counted and
# skipped, and an alert delivered twice (a new spool copy) counted once.
# usage: server_alerts.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT SPOOL-PUT
set -euo pipefail
immune=$1
server=$2
agent=$3
spool_put=$4
src=$IMMUNE_SOURCE_DIR

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-alerts
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server

fleet_enroll "$state"

# ---- the records: alerts, events, a baseline, sensor health, and garbage ----
mkdir "$tmp/rec"
python3 - "$tmp/rec" <<'PY'
import json, os, sys, time
d = sys.argv[1]
now = int(time.time() * 1000)
def event(t, user, ip):
    return {"class_uid": 3002, "activity_id": 1, "category_uid": 3, "type_uid": 300201,
            "time": t, "severity_id": 1, "metadata": {"product": {"name": "Immune"},
            "version": "1.1.0", "uid": str(t)}, "unmapped": {"kind": "auth_logon"},
            "user": {"name": user}, "src_endpoint": {"ip": ip}, "status": "Failure",
            "actor": {"process": {"file": {"path": "/usr/sbin/sshd"}}}}
def alert(name, rule, title, level, sev, key, t, users, tags):
    uid = os.urandom(16).hex()
    a = {"class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401,
         "time": t, "severity_id": sev, "metadata": {"product": {"name": "Immune"},
         "version": "1.1.0", "uid": uid},
         "finding_info": {"uid": uid, "title": title, "analytic": {"uid": rule,
             "name": title, "type_id": 1, "type": "Rule"},
             "attacks": [{"technique": {"uid": x}} for x in tags], "types": ["correlation"]},
         "evidence": [event(t - 1000 * (i + 1), u, "192.0.2.7") for i, u in enumerate(users)],
         "unmapped": {"source": "correlation", "level": level, "group_key": key,
             "explanation": "%d users failed from 192.0.2.7" % len(users)}}
    open(os.path.join(d, name), "w").write(json.dumps(a))
alert("a1", "spray-1", "SSH password spraying", "high", 4, "192.0.2.7", now - 300000,
      ["alice", "bob"], ["T1110.003"])
alert("a2", "spray-1", "SSH password spraying", "high", 4, "192.0.2.7", now - 200000,
      ["carol"], ["T1110.003"])
alert("a3", "spray-1", "SSH password spraying", "high", 4, "192.0.2.7", now - 100000,
      ["dave"], ["T1110.003"])
alert("b1", "cron-2", "Cron persistence", "medium", 3, "", now - 50000, ["root"],
      ["T1053.003", "T1543.002"])
open(os.path.join(d, "bad"), "w").write('{"class_uid":2004,"finding_info":{}}')
open(os.path.join(d, "ev1"), "w").write(json.dumps(event(now, "erin", "198.51.100.4")))
open(os.path.join(d, "badev"), "w").write("not json")
open(os.path.join(d, "baseline"), "w").write(json.dumps({"learning": False,
    "counts": {"new_executable": 120, "login_new_network": 2},
    "users": {"alice": {"networks": ["192.0.2.0/24"], "hours": [9, 10, 11]}}}))
open(os.path.join(d, "sensors"), "w").write(json.dumps([
    {"name": "process", "mechanism": "ebpf", "active": True, "events": 10, "lost": 0,
     "skipped": 0, "message": ""},
    {"name": "fim", "mechanism": "inotify", "active": True, "events": 3, "lost": 0,
     "skipped": 0, "message": "fanotify needs CAP_SYS_ADMIN"}]))
PY
r=$tmp/rec
"$spool_put" "$state/spool" alerts 5 "$r/a1" "$r/a2" "$r/a3" "$r/b1" "$r/bad" >/dev/null || fail "spool_put alerts"
"$spool_put" "$state/spool" events 1 "$r/ev1" "$r/badev" >/dev/null || fail "spool_put events"
"$spool_put" "$state/spool" state 8 "$r/baseline" >/dev/null || fail "spool_put baseline"
"$spool_put" "$state/spool" state 9 "$r/sensors" >/dev/null || fail "spool_put sensors"

start_agent() {
	"$agent" run --no-detect --state "$state" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
		--catalog "$src/policies" --no-collect >>"$tmp/agent.log" 2>&1 &
	apid=$!
}
stop_agent() {
	kill "$apid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || true
	apid=""
}
# waits until the server committed seq $2 on stream $1 (events, state, alerts) of the host
wait_committed() {
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
start_agent
wait_committed alerts 5
wait_committed events 2
wait_committed state 2

# ---- immune alerts ----
run "$immune" alerts --server-config "$cfg"
[ $rc -eq 1 ] || fail "alerts: exit $rc (1 when alerts are listed): $(cat "$tmp/err")"
grep -q "SSH password spraying" "$tmp/out" && grep -q "Cron persistence" "$tmp/out" \
	&& grep -q "T1053.003 +1" "$tmp/out" && grep -q "^2 of 2 alert groups (4 alerts)" "$tmp/out" \
	&& grep -q "Across the fleet" "$tmp/out" || fail "alerts table: $(cat "$tmp/out")"
grep "SSH password spraying" "$tmp/out" | head -1 | grep -q " high .* 3 " || fail "spray row: $(cat "$tmp/out")"
run "$immune" alerts --json --server-config "$cfg"
python3 - "$tmp/out" "$host" <<'PY' || fail "alerts --json: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"] == 2 and d["count"] == 4 and d["next"] is None, d
a = d["alerts"]
assert [g["rule_id"] for g in a] == ["cron-2", "spray-1"], a
s = a[1]
assert s["count"] == 3 and s["host"] == sys.argv[2] and s["severity"] == "high", s
assert s["techniques"] == ["T1110.003"] and s["group_key"] == "192.0.2.7", s
assert s["explanation"] == "1 users failed from 192.0.2.7", s
assert d["by_severity"] == {"high": 1, "medium": 1}, d["by_severity"]
assert {f["rule_id"]: f["hosts"] for f in d["fleet"]} == {"spray-1": 1, "cron-2": 1}, d["fleet"]
open(sys.argv[1] + ".id", "w").write(s["id"])
PY
sid=$(cat "$tmp/out.id")
run "$immune" alerts --severity high --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"]==1, d' "$tmp/out" || fail "--severity high"
run "$immune" alerts --severity critical --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^No alerts." "$tmp/out" || fail "--severity critical ($rc): $(cat "$tmp/out")"
hn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host"]["hostname"])' "$tmp/host.json")
for since in 1h 2000-01-01T00:00:00Z; do
	run "$immune" alerts --since "$since" --host "$hn" --json --server-config "$cfg"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"]==2, d' "$tmp/out" || fail "--since $since --host $hn"
done
run "$immune" alerts --since 2200-01-01T00:00:00Z --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"]==0, d' "$tmp/out" || fail "--since future"
run "$immune" alerts --limit 1 --server-config "$cfg"
cur=$(grep -o -- "--cursor [^ ]*" "$tmp/out" | cut -d' ' -f2)
[ -n "$cur" ] || fail "--limit 1: no cursor: $(cat "$tmp/out")"
grep -q "Cron persistence" "$tmp/out" || fail "--limit 1 page 1"
run "$immune" alerts --limit 1 --cursor "$cur" --server-config "$cfg"
grep -q "SSH password spraying" "$tmp/out" && ! grep -q -- "--cursor" "$tmp/out" || fail "page 2: $(cat "$tmp/out")"
# usage errors and refused parameters
run "$immune" alerts --severity extreme --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "unknown severity 'extreme'" "$tmp/err" || fail "--severity extreme ($rc)"
run "$immune" alerts --since yesterday --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "since must be an RFC 3339 time" "$tmp/err" || fail "--since yesterday ($rc): $(cat "$tmp/err")"
run "$immune" alerts --cursor nope --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "cursor" "$tmp/err" || fail "--cursor nope ($rc): $(cat "$tmp/err")"
run "$immune" alerts --limit 0 --server-config "$cfg"
[ $rc -eq 2 ] || fail "--limit 0 ($rc)"

# ---- immune alert show ----
run "$immune" alert show "$sid" --server-config "$cfg"
[ $rc -eq 0 ] || fail "alert show exit $rc: $(cat "$tmp/err")"
for pat in "^Alert: SSH password spraying (id $sid)" "Rule: *spray-1 (correlation)" \
	"Techniques: *T1110.003" "Count: *3 (first" "Explanation: *1 users failed" \
	"^Evidence (4 events" "auth_logon" "user.name *alice" "src_endpoint.ip *192.0.2.7" \
	"actor.process.file.path *\/usr\/sbin\/sshd"; do
	grep -q "$pat" "$tmp/out" || fail "alert show lacks '$pat': $(cat "$tmp/out")"
done
run "$immune" alert show "$sid" --json --server-config "$cfg"
python3 -c '
import json,sys
g=json.load(open(sys.argv[1]))["alert"]
assert len(g["evidence"])==4 and g["finding"]["class_uid"]==2004 and "evidence" not in g["finding"], g
t=[e["time"] for e in g["evidence"]]; assert t==sorted(t), t' "$tmp/out" || fail "alert show --json: $(cat "$tmp/out")"
run "$immune" alert show 0123456789abcdef0123456789abcdef --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "404" "$tmp/err" || fail "alert show unknown ($rc): $(cat "$tmp/err")"
run "$immune" alert show --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "missing verb\|show wants" "$tmp/err" || fail "alert show without id ($rc)"

# ---- baseline, sensors, counters ----
run "$immune" baseline show "$host" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Baseline of host $host" "$tmp/out" && grep -q "new_executable: 120" "$tmp/out" \
	&& grep -q "192.0.2.0/24" "$tmp/out" || fail "baseline show ($rc): $(cat "$tmp/out" "$tmp/err")"
run "$immune" baseline show "$host" --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["summary"]["learning"] is False and d["host"]==sys.argv[2], d' \
	"$tmp/out" "$host" || fail "baseline show --json: $(cat "$tmp/out")"
run "$immune" baseline show ffffffffffffffffffffffffffffffff --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "404" "$tmp/err" || fail "baseline of an unknown host ($rc)"
# by hostname: the one host with that name
run "$immune" baseline show "$hn" --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["host"]==sys.argv[2], d' \
	"$tmp/out" "$host" || fail "baseline show $hn: $(cat "$tmp/out" "$tmp/err")"
run "$immune" baseline show no-such-host.example --server-config "$cfg"
[ $rc -eq 2 ] && grep -q "no host with this id or name" "$tmp/err" || fail "baseline show unknown name ($rc)"
run "$immune" host show "$hn" --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["host"]["id"]==sys.argv[2], d["host"]' \
	"$tmp/out" "$host" || fail "host show $hn: $(cat "$tmp/out" "$tmp/err")"
run "$immune" host show "$host" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Sensors (2)" "$tmp/out" && grep -q "process *ebpf *yes *10" "$tmp/out" \
	&& grep -q "fanotify needs CAP_SYS_ADMIN" "$tmp/out" || fail "host show sensors: $(cat "$tmp/out")"
run "$immune" server status --json --server-config "$cfg"
python3 -c '
import json,sys
c=json.load(open(sys.argv[1]))["counters"]
assert c["records_unparsed"]==2 and c["alerts_duplicate"]==0 and c["alerts_grouped"]==2, c' "$tmp/out" \
	|| fail "counters: $(cat "$tmp/out")"

# ---- the same alert spooled again (a new sequence number): counted once ----
stop_agent
"$spool_put" "$state/spool" alerts 5 "$r/a3" >/dev/null || fail "spool_put again"
start_agent
wait_committed alerts 6
run "$immune" alerts --rule spray-1 --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==3, d' "$tmp/out" || fail "re-delivered alert counted"
run "$immune" server status --json --server-config "$cfg"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counters"]; assert c["alerts_duplicate"]==1, c' \
	"$tmp/out" || fail "alerts_duplicate: $(cat "$tmp/out")"
stop_agent
echo "server_alerts: OK"
