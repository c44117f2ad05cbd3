#!/usr/bin/env bash
# bench/fleetsim in miniature: 50 agents enroll, connect, send records for 2 s, survive a
# reconnect storm; every acknowledged record is stored exactly once (checked through the API).
# Asserts outcomes only, never timings. Registered from bench/meson.build.
set -euo pipefail
fleetsim=$1
server=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set +e
timeout 100 "$fleetsim" --agents 50 --workers 2 --duration 2 --batch 20 --verify 0 \
	--server-bin "$server" --json >"$tmp/out.json" 2>"$tmp/err"
rc=$?
set -e
cat "$tmp/err"
[ $rc -eq 0 ] || fail "fleetsim exit $rc"
python3 - "$tmp/out.json" <<'PY' || fail "fleetsim --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True, d
assert d["enroll"]["enrolled"] == 50 and d["enroll"]["failed"] == 0, d["enroll"]
assert d["connect"]["held"] == 50 and d["connect"]["failed"] == 0, d["connect"]
for k in ("ingest_max", "ingest_half"):
    i = d[k]
    assert i["records_acked_after_drain"] > 0, i
    assert i["batches_unacked"] == 0, i
assert d["storm"]["held"] == 50 and d["storm"]["failed"] == 0, d["storm"]
v = d["verify"]
assert v["hosts"] == 50 and v["match"] == 50, v
assert v["mismatch"] == 0 and v["errors"] == 0, v
assert v["records_stored"] == v["records_acked"] > 0, v
PY
echo "fleetsim smoke: ok"
