#!/usr/bin/env bash
# Detection in `immune-agent run`, end to end: a real immune-server on loopback pushes a Sigma
# rule written here (process_creation, Image endswith a program name unique to this run); a
# real enrolled agent runs with --config (process sensor, mechanism auto; auth sensor on a
# temporary log file). Running the program raises an alert that reaches the server; the exec
# event is in `immune-agent events`; sensor health reaches the server; failed-password lines
# appended to the log become auth events. Then the server restarts with another rules
# directory and the agent alerts on the new rule. Also: a configuration file with an unknown
# key is refused with file:line. Root only (the process sensor); exit 77 otherwise.
# usage: agent_detect.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT
set -euo pipefail
immune=$1
server=$2
agent=$3
src=$IMMUNE_SOURCE_DIR

if [ "$(id -u)" != 0 ]; then
	echo "agent_detect: needs root (the process sensor); skipped"
	exit 77
fi

. "$(dirname "$0")/fleet_lib.sh"
RUN_TIMEOUT=30
fleet_init agent-detect
chmod 755 "$tmp"
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
uniq=immdet$$x$RANDOM
prog=$tmp/$uniq
prog2=$tmp/${uniq}b
cp /bin/true "$prog"
cp /bin/true "$prog2"
authlog=$tmp/auth.log
: >"$authlog"

# ---- the rules: one set now, another for the restart ----
write_rule() { # dir id title program
	mkdir -p "$1"
	cat >"$1/$2.yml" <<EOF
title: $3
id: $2
status: test
level: high
tags:
  - attack.execution
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: /$4
  condition: sel
EOF
}
write_rule "$tmp/rules1" 5e1f0000-0000-4000-8000-00000000d001 "Test program $uniq ran" "$uniq"
write_rule "$tmp/rules2" 5e1f0000-0000-4000-8000-00000000d002 "Second program ${uniq}b ran" "${uniq}b"

start_server() { # rules dir
	"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
		--catalog "$src/policies" --rules "$1" --playbooks none >>"$tmp/server.log" 2>&1 &
	spid=$!
	fleet_wait_server
}
stop_server() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=""
}
start_server "$tmp/rules1"

fleet_enroll "$state" --machine-id-file ""

# ---- a bad configuration is refused with file:line ----
printf 'sensors:\n  process:\n    mechanism: auto\n    colour: blue\n' >"$tmp/bad.yaml"
run "$agent" run --state "$state" --no-collect --no-access --config "$tmp/bad.yaml"
[ $rc -eq 2 ] && grep -q "bad.yaml:4:" "$tmp/err" && grep -q "colour" "$tmp/err" ||
	fail "bad configuration ($rc): $(cat "$tmp/err")"

cat >"$tmp/agent.yaml" <<EOF
sensors:
  process:
    mechanism: auto
  network:
    mechanism: "off"
  auth:
    logs: [$authlog]
    journal: false
  fim:
    mechanism: "off"
baseline:
  learning: 1h
EOF
"$agent" run --state "$state" --no-collect --no-access --config "$tmp/agent.yaml" \
	>>"$tmp/agent.log" 2>&1 &
apid=$!

# waits until python condition $2 holds over the JSON that command $1 prints
wait_for() { # what 'command' 'python expression over d' [tries]
	for _ in $(seq 1 "${4:-200}"); do
		# (immune alerts exits 1 when it lists alerts)
		eval "$2" >"$tmp/w.json" 2>/dev/null || true
		if python3 -c "
import json, sys
d = json.load(open(sys.argv[1])) if sys.argv[2] != 'lines' else [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if ($3) else 1)" "$tmp/w.json" "${5:-json}" 2>/dev/null; then
			return 0
		fi
		kill -0 "$apid" 2>/dev/null || fail "the agent exited"
		sleep 0.2
	done
	fail "$1 (last: $(head -c 2000 "$tmp/w.json"))"
}

# the rules arrive from the server, then the sensors run
for _ in $(seq 1 150); do
	[ -f "$state/rules.digest" ] && grep -q "detection rules: 1 loaded from $state/rules" "$tmp/agent.log" && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.2
done
grep -q "detection rules: 1 loaded from $state/rules" "$tmp/agent.log" || fail "the pushed rule was not loaded"

# ---- sensor health at the server ----
wait_for "sensor health at the server" \
	'"$immune" host show "$host" --json --server-config "$cfg"' \
	'any(s["name"] == "process" and s["active"] for s in ((d.get("sensor_health") or {}).get("sensors") or []))'

# ---- the program runs: an exec event, an alert ----
"$prog"
wait_for "the exec event in immune-agent events" \
	'"$agent" events --state "$state" --json' \
	"any(e.get('class_uid') == 1007 and e.get('process', {}).get('file', {}).get('path') == '$prog' for e in d)" \
	100 lines
wait_for "the alert at the server" \
	'"$immune" alerts --json --server-config "$cfg"' \
	"any(a['rule_id'] == '5e1f0000-0000-4000-8000-00000000d001' for a in d['alerts'])"
run "$agent" events --state "$state" --alerts
grep -q "ALERT high *Test program $uniq ran" "$tmp/out" || fail "events --alerts: $(cat "$tmp/out")"
run "$agent" events --state "$state"
grep -q "process_exec *$prog" "$tmp/out" || fail "events (human): $(head -c 3000 "$tmp/out")"
run "$agent" events --state "$state" --since 2200-01-01T00:00:00Z --json
[ $rc -eq 0 ] && [ ! -s "$tmp/out" ] || fail "events --since the future printed something"
run "$agent" events --state "$state" --since yesterday
[ $rc -eq 2 ] || fail "events --since yesterday: exit $rc"

# ---- events --follow reads across a rotation, like tail -F ----
fs=$tmp/follow
mkdir "$fs"
"$agent" events --state "$fs" --follow --json >"$tmp/follow.out" 2>"$tmp/follow.log" &
fpid=$!
line() { echo "{\"class_uid\":1007,\"time\":$1,\"unmapped\":{\"kind\":\"process_exec\"}}"; }
line 1 >>"$fs/events.jsonl"
sleep 0.6
mv "$fs/events.jsonl" "$fs/events.jsonl.1"
line 2 >>"$fs/events.jsonl.1" # written before the writer reopened
printf '%s' "$(line 3)" >"$fs/events.jsonl" # a partial line: not printed yet
sleep 0.6
echo >>"$fs/events.jsonl"
for _ in $(seq 1 50); do
	[ "$(wc -l <"$tmp/follow.out")" -ge 3 ] && break
	sleep 0.1
done
kill -INT "$fpid"
wait "$fpid" || fail "events --follow exited with $? on SIGINT"
[ "$(python3 -c 'import json,sys; print(",".join(str(json.loads(l)["time"]) for l in open(sys.argv[1])))' "$tmp/follow.out")" = "1,2,3" ] ||
	fail "events --follow: $(cat "$tmp/follow.out")"

# ---- failed passwords in the auth log: auth events ----
for i in 1 2 3 4 5; do
	echo "$(date '+%b %e %H:%M:%S') $(hostname) sshd[$((4000 + i))]: Failed password for invalid user u$uniq from 192.0.2.77 port $((50000 + i)) ssh2" >>"$authlog"
done
wait_for "5 auth events" \
	'"$agent" events --state "$state" --json' \
	"sum(1 for e in d if e.get('class_uid') == 3002 and e.get('user', {}).get('name') == 'u$uniq') >= 5" \
	100 lines

# ---- new rules: the server restarts with another rules directory ----
stop_server
start_server "$tmp/rules2"
loads() { grep -c "detection rules: 1 loaded from $state/rules" "$tmp/agent.log" || true; }
for _ in $(seq 1 200); do
	[ "$(loads)" -ge 2 ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.2
done
[ "$(loads)" -ge 2 ] || fail "the new rules were not loaded"
"$prog" # the old rule is gone: no second alert for it
"$prog2"
wait_for "the alert of the new rule at the server" \
	'"$immune" alerts --json --server-config "$cfg"' \
	"any(a['rule_id'] == '5e1f0000-0000-4000-8000-00000000d002' for a in d['alerts'])"
python3 - "$tmp/w.json" <<'PY' || fail "the replaced rule still alerts: $(cat "$tmp/w.json")"
import json, sys
d = json.load(open(sys.argv[1]))
old = [a for a in d["alerts"] if a["rule_id"] == "5e1f0000-0000-4000-8000-00000000d001"]
assert len(old) == 1 and old[0]["count"] == 1, old
PY
# the agent's status file reports the detector
wait_for "the detector in status.json" 'cat "$state/status.json"' \
	"d['detector']['rules_loaded'] == 1 and d['detector']['alerts'] >= 2 and d['detector']['events'] > 0"

kill "$apid"
wait "$apid" || fail "the agent exited with $? on SIGTERM"
apid=""
echo "agent_detect: OK"
