#!/usr/bin/env bash
# immune-agent watch end to end, without root: the auth sensor follows a temporary log file,
# failed SSH logins are appended, and the output is checked: every event as an OCSF line,
# the brute-force correlation alert once with its evidence, no alert per failure (the
# correlation's generate is false), --alerts-only, a malformed rule reported while the other
# rules load, --stats, SIGTERM stops cleanly, the temporary state directory is removed, and
# usage errors exit 2.
# usage: agent_watch.sh IMMUNE_AGENT
set -euo pipefail
agent=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/rules" "$tmp/tmpdir"
cat >"$tmp/rules/brute.yml" <<'EOF'
title: SSH login failed
id: 7d0e4c1a-0000-4000-8000-000000000001
name: ssh_failed
level: low
logsource:
  product: linux
  service: sshd
detection:
  sel:
    outcome: failure
  condition: sel
---
title: SSH brute force
id: 7d0e4c1a-0000-4000-8000-000000000002
level: high
tags: [attack.credential_access, attack.t1110.001]
correlation:
  type: event_count
  rules: [ssh_failed]
  group-by: [SourceIp]
  timespan: 60s
  condition:
    gte: 5
EOF
cat >"$tmp/rules/broken.yml" <<'EOF'
title: Broken
id: 7d0e4c1a-0000-4000-8000-0000000000ff
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|nosuchmodifier: /x
  condition: sel
EOF

# start NAME ARGS...: starts the watcher on a fresh log, waits for "ready"
start() {
	local name=$1
	shift
	: >"$tmp/$name.log"
	TMPDIR="$tmp/tmpdir" "$agent" watch --sensors auth --auth-log "$tmp/$name.log" \
		--rules "$tmp/rules" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	for _ in $(seq 100); do grep -q '^ready' "$tmp/$name.err" 2>/dev/null && break; sleep 0.1; done
	grep -q '^ready' "$tmp/$name.err" || fail "$name: did not start: $(cat "$tmp/$name.err")"
}

# failures LOG N IP: appends N failed password lines from IP (timestamps of now)
failures() {
	local i
	for i in $(seq "$2"); do
		echo "$(LC_ALL=C date '+%b %e %H:%M:%S') web1 sshd[$((100 + i))]: Failed password for root from $3 port $((40000 + i)) ssh2" >>"$1"
	done
}

stop() {
	sleep 1.5
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	pid=
	[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM: $(cat "$tmp/$1.err")"
}

# 1. every event and the correlation, with --stats
start all --stats
failures "$tmp/all.log" 4 198.51.100.1
failures "$tmp/all.log" 6 203.0.113.9
stop all
grep -q "broken.yml:.*7d0e4c1a-0000-4000-8000-0000000000ff" "$tmp/all.err" ||
	fail "the malformed rule is not reported: $(cat "$tmp/all.err")"
grep -q "^rules: 2 loaded from .*, 1 skipped" "$tmp/all.err" || fail "rules line: $(cat "$tmp/all.err")"
grep -q "^health auth mechanism=logfile active=1 events=10 lost=0 " "$tmp/all.err" ||
	fail "health: $(cat "$tmp/all.err")"
grep -q "^pipeline events=10 alerts=1 rule_matches=10 anomalies=0 output_errors=0" "$tmp/all.err" ||
	fail "pipeline line: $(cat "$tmp/all.err")"
python3 - "$tmp/all.out" "$tmp/all.err" <<'PY' || fail "output"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
events = [o for o in lines if o["class_uid"] == 3002]
alerts = [o for o in lines if o["class_uid"] == 2004]
assert len(events) == 10, len(events)
assert all(e["device"]["hostname"] for e in events), events[0]
assert len(alerts) == 1, [a["finding_info"]["analytic"]["uid"] for a in alerts]
a = alerts[0]
assert a["finding_info"]["analytic"]["uid"] == "7d0e4c1a-0000-4000-8000-000000000002", a
assert a["unmapped"]["source"] == "correlation" and a["unmapped"]["level"] == "high", a
assert a["unmapped"]["group_key"] == "203.0.113.9", a
assert len(a["evidence"]) == 5, len(a["evidence"])
assert all(e["src_endpoint"]["ip"] == "203.0.113.9" for e in a["evidence"])
# the alert comes right after the event that completed it
i = lines.index(a)
assert lines[i - 1]["class_uid"] == 3002 and lines[i - 1]["src_endpoint"]["ip"] == "203.0.113.9"
stats = json.loads([l for l in open(sys.argv[2]) if l.startswith("{")][-1])
assert stats["pipeline"]["events"] == 10 and stats["pipeline"]["alerts"] == 1, stats
assert stats["pipeline"]["rules"] == 2 and stats["pipeline"]["rule_errors"] == 1, stats
assert stats["sensors"][0]["name"] == "auth" and stats["sensors"][0]["active"], stats
assert stats["vm_hwm_kib"] > 0 and stats["cpu_user_s"] >= 0, stats
print("ok all")
PY

# 2. --alerts-only: the alert and nothing else
start alerts --alerts-only
failures "$tmp/alerts.log" 5 192.0.2.50
stop alerts
python3 - "$tmp/alerts.out" <<'PY' || fail "alerts-only output"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [o["class_uid"] for o in lines] == [2004], lines
print("ok alerts-only")
PY

# 3. the temporary state directories were removed
[ -z "$(ls -A "$tmp/tmpdir")" ] || fail "temporary state left: $(ls -A "$tmp/tmpdir")"

# 4. --state keeps the auth offsets and baselines
"$agent" watch --sensors auth --auth-log "$tmp/all.log" --no-rules --duration 1 \
	--state "$tmp/state" >/dev/null 2>"$tmp/state.err" || fail "--state: $(cat "$tmp/state.err")"
[ -n "$(ls -A "$tmp/state")" ] || fail "nothing kept in --state"

# 5. usage errors exit 2 with a message
for bad in "--sensors bogus" "--process-mechanism nope" "--poll-ms 1" "--duration 0" \
	"--rules $tmp/rules --no-rules" "--frobnicate"; do
	rc=0
	# shellcheck disable=SC2086
	"$agent" watch $bad >/dev/null 2>"$tmp/bad.err" || rc=$?
	[ $rc -eq 2 ] || fail "'$bad' exits $rc"
	grep -q "immune-agent watch:" "$tmp/bad.err" || fail "'$bad': no message"
done
rc=0
"$agent" watch --rules "$tmp/nonexistent" --duration 1 >/dev/null 2>"$tmp/bad.err" || rc=$?
[ $rc -eq 2 ] || fail "unreadable rules exit $rc"
echo ok
