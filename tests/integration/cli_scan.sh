#!/usr/bin/env bash
# immune scan / immune checks: exit codes, JSON output, catalog errors with file:line:col,
# usage errors naming valid values, a missing root.
set -euo pipefail
immune=$1
fx=$IMMUNE_FIXTURES
cat=$fx/engine/catalog
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { set +e; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }

# all checks pass or are not applicable: exit 0
run "$immune" scan --catalog "$cat" --root "$fx/os/debian12-hardened"
[ $rc -eq 0 ] || fail "debian scan exit $rc: $(cat "$tmp/err")"
grep -q "3 checks: 2 pass, 0 fail, 0 error, 1 not applicable" "$tmp/out" || fail "summary: $(cat "$tmp/out")"

# a failing check: exit 1; the JSON parses and says why
run "$immune" scan --catalog "$cat" --root "$fx/os/rhel9-hardened" --json
[ $rc -eq 1 ] || fail "rhel scan exit $rc"
python3 - "$tmp/out" <<'PY' || fail "scan --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.scan/v1", d["schema"]
assert d["summary"]["fail"] == 2 and d["summary"]["pass"] == 1, d["summary"]
r = {x["id"]: x for x in d["results"]}
f = r["engine-os-debian-family"]
assert f["status"] == "fail" and f["evidence"][0]["value"] == "rhel", f
assert f["evidence"][0]["expected"] == "eq debian", f["evidence"][0]
assert d["host"]["os_id"] == "rhel" and d["filter"] == {"framework": None, "check": None}
assert [x["key"] for x in d["frameworks"]][0] == "cis"
PY

# --format json -o FILE, and filters
run "$immune" scan --catalog "$cat" --root "$fx/os/rhel9-hardened" --format json -o "$tmp/r.json" --framework pci_dss
[ $rc -eq 1 ] || fail "framework filter exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [r["id"] for r in d["results"]]==["engine-os-hostname-set"], d["results"]; assert len(d["frameworks"])==1' "$tmp/r.json" \
	|| fail "framework filter content"
run "$immune" scan --catalog "$cat" --root "$fx/os/rhel9-hardened" --check engine-rhel-only
[ $rc -eq 0 ] || fail "check filter exit $rc"

# html and oscal writers
run "$immune" scan --catalog "$cat" --root "$fx/os/rhel9-hardened" --format html -o "$tmp/r.html"
[ $rc -eq 1 ] && grep -qi "<html" "$tmp/r.html" || fail "html report ($rc)"
run "$immune" scan --catalog "$cat" --root "$fx/os/rhel9-hardened" --format oscal
[ $rc -eq 1 ] || fail "oscal exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "assessment-results" in d, list(d)' "$tmp/out" \
	|| fail "oscal report"

# a check in error: exit 2 (a directory where os-release should be)
mkdir -p "$tmp/root/etc/os-release"
run "$immune" scan --catalog "$cat" --root "$tmp/root" --json --check engine-os-debian-family
[ $rc -eq 2 ] || fail "scan with a check in error exit $rc"
python3 - "$tmp/out" <<'PY' || fail "check in error content"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"][0]
assert r["status"] == "error" and d["summary"]["error"] == 1, r
assert r["evidence"][0]["path"] == "/etc/os-release" and r["evidence"][0]["error"], r["evidence"]
PY

# catalog error: file:line:col and check id, exit 2, nothing collected
mkdir -p "$tmp/badcat"
cat >"$tmp/badcat/a.yml" <<'YML'
checks:
  - id: broken-check
    title: t
    section: ssh
    severity: high
    description: d
    rationale: r
    remediation: m
    mappings: {}
    condition:
      table: sshd_config
      expect: { nosuchcolumn: 1 }
YML
run "$immune" scan --catalog "$tmp/badcat" --root /nonexistent-immune-root
[ $rc -eq 2 ] || fail "catalog error exit $rc"
grep -q "$tmp/badcat/a.yml:12:17: check broken-check: unknown column 'nosuchcolumn'" "$tmp/err" \
	|| fail "catalog error message: $(cat "$tmp/err")"
grep -q nonexistent-immune-root "$tmp/err" && fail "collected despite a catalog error"

# missing root
run "$immune" scan --catalog "$cat" --root /nonexistent-immune-root
[ $rc -eq 2 ] || fail "missing root exit $rc"
grep -q "cannot read root directory '/nonexistent-immune-root'" "$tmp/err" || fail "missing root: $(cat "$tmp/err")"

# usage errors name the valid values
run "$immune" scan --catalog "$cat" --framework hipaa
[ $rc -eq 2 ] || fail "unknown framework exit $rc"
grep -q "valid: cis, pci_dss" "$tmp/err" || fail "unknown framework message: $(cat "$tmp/err")"
run "$immune" scan --catalog "$cat" --check engine-os
[ $rc -eq 2 ] || fail "unknown check exit $rc"
grep -q "valid: engine-os-debian-family, engine-os-hostname-set" "$tmp/err" || fail "unknown check message: $(cat "$tmp/err")"
run "$immune" scan --format pdf
[ $rc -eq 2 ] || fail "unknown format exit $rc"

# immune checks list / show
run "$immune" checks --catalog "$cat" list --json
[ $rc -eq 0 ] || fail "checks list exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["checks"])==3 and d["checks"][0]["frameworks"]==["cis","soc2","mitre"], d' "$tmp/out" \
	|| fail "checks list --json"
run "$immune" checks --catalog "$cat" --section services list
grep -q engine-rhel-only "$tmp/out" && ! grep -q engine-os-hostname-set "$tmp/out" || fail "checks list --section"
run "$immune" checks --catalog "$cat" show engine-os-hostname-set
[ $rc -eq 0 ] || fail "checks show exit $rc"
grep -q "os: every row has hostname exists true and hostname regex" "$tmp/out" || fail "checks show condition: $(cat "$tmp/out")"
grep -q "file_mode: path='/etc/hostname' mode='0644'" "$tmp/out" || fail "checks show fix: $(cat "$tmp/out")"
run "$immune" checks --catalog "$cat" show engine-os-hostname-set --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["fix"]["type"]=="file_mode" and d["condition"]["table"]=="os" and d["mappings"]["pci_dss"]==["2.2.1"]' "$tmp/out" \
	|| fail "checks show --json"
run "$immune" checks --catalog "$cat" show nosuch
[ $rc -eq 2 ] || fail "checks show unknown exit $rc"

# the default catalog (the source tree's policies/) loads
run "$immune" checks list
[ $rc -eq 0 ] || fail "default catalog: $(cat "$tmp/err")"
echo "cli_scan: ok"
