#!/usr/bin/env bash
# sensor_fim through tests/integration/fim_watch (events as OCSF JSON lines): create, modify
# (with a diff), chmod, rename and delete in a temporary directory with fanotify (filesystem
# marks see the whole filesystem: the sensor filters to the directory) and with inotify
# forced; changes made while the sensor was stopped found by the scan at start; a damaged
# database replaced by a new baseline.
set -euo pipefail
watch=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/immune-fim-test.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE KIND PATH: waits up to 20 s for an event of KIND on PATH in FILE.
wait_for() {
	for _ in $(seq 200); do
		grep -F "\"kind\":\"$2\"" "$1" | grep -qF "\"path\":\"$3\"" && return 0
		sleep 0.1
	done
	return 1
}

# wait_health FILE: waits up to 20 s for the health line.
wait_health() {
	for _ in $(seq 200); do
		grep -q '"health"' "$1" && return 0
		sleep 0.1
	done
	return 1
}

start() { # start OUT ARGS...
	local out=$1
	shift
	"$watch" "$@" >"$out" 2>"$tmp/err" &
	pid=$!
	wait_health "$out" || fail "no health line: $(cat "$tmp/err")"
}

stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "fim_watch exit $?: $(cat "$tmp/err")"
	pid=
}

w=$tmp/w
state=$tmp/state
mkdir -p "$w/sub" "$state"
printf 'line1\nline2\nline3\n' >"$w/a.txt"
printf 'keep\n' >"$w/sub/b.txt"
printf 'gone\n' >"$w/sub/c.txt"

printf 'hash\n' >"$w/secret.txt"

# 1. fanotify (opens of secret.txt are reported too)
start "$tmp/out1" --state "$state" --path "$w" --read "$w/secret.txt" --scan-interval 3600
grep -q '"mechanism":"fanotify","active":true' "$tmp/out1" || fail "not fanotify: $(head -1 "$tmp/out1")"
for _ in $(seq 100); do [ -s "$state/fim.db" ] && break; sleep 0.1; done
[ -s "$state/fim.db" ] || fail "no baseline database"
echo created >"$w/new.txt"
sleep 0.3
printf 'line1\nLINE2\nline3\n' >"$w/a.txt"
sleep 0.3
chmod 600 "$w/new.txt"
sleep 0.3
mv "$w/new.txt" "$w/renamed.txt"
sleep 0.3
rm "$w/renamed.txt"
echo outside >"$tmp/outside.txt"
(exec 3<"$w/secret.txt"; sleep 1; :) # a reader, still bash (no exec of sleep) when its open is read
wait_for "$tmp/out1" file_delete "$w/renamed.txt" || fail "no delete: $(cat "$tmp/out1")"
wait_for "$tmp/out1" file_read "$w/secret.txt" || fail "no read: $(cat "$tmp/out1")"
stop
python3 - "$tmp/out1" "$w" "$(sha256sum "$w/a.txt" | cut -c1-64)" <<'PY' || fail "fanotify events: $(cat "$tmp/out1")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
w, sha_a = sys.argv[2], sys.argv[3]
ev = [d for d in lines if "health" not in d]
for d in ev:
    assert d["file"]["path"].startswith(w + "/"), ("outside the watched directory", d)
    assert d["metadata"]["log_provider"] == "fim", d
def one(kind, path):
    m = [d for d in ev if d["unmapped"]["kind"] == kind and d["file"]["path"] == w + "/" + path]
    assert m, (kind, path)
    return m[0]
c = one("file_create", "new.txt")
assert c["file"]["hashes"][0]["algorithm"] == "SHA-256", c
m = one("file_modify", "a.txt")
assert m["file"]["hashes"][0]["value"] == sha_a, m
assert len(m["unmapped"]["prev_sha256"]) == 64 and m["unmapped"]["prev_sha256"] != sha_a, m
diff = m["unmapped"]["diff"]
assert "-line2\n+LINE2\n" in diff and " line1\n" in diff and diff.startswith("--- "), diff
a = one("file_attr", "new.txt")
assert a["unmapped"]["mode"] == "0600", a
r = one("file_rename", "new.txt")
assert r["file_result"]["path"] == w + "/renamed.txt", r
d = one("file_delete", "renamed.txt")
# the pid always; the image when the process still runs when the event is read
assert int(d["actor"]["process"]["pid"]) > 0, d
assert d["actor"]["process"].get("file", {"path": "/rm"})["path"].endswith("/rm"), d
kinds = [d["unmapped"]["kind"] for d in ev]
assert kinds.count("file_modify") == 1, kinds
rd = one("file_read", "secret.txt")
assert rd["class_uid"] == 1001 and rd["activity_id"] == 2, rd
assert rd["actor"]["process"]["file"]["path"].endswith("bash"), rd
# reads are reported for the listed files only, and the scan's own reads not at all
assert {d["file"]["path"] for d in ev if d["unmapped"]["kind"] == "file_read"} == {w + "/secret.txt"}, kinds
PY

# 2. changes made while stopped are found by the scan at start
printf 'keep\nchanged\n' >"$w/sub/b.txt"
rm "$w/sub/c.txt"
echo later >"$w/sub/d.txt"
start "$tmp/out2" --state "$state" --path "$w" --scan-interval 3600
wait_for "$tmp/out2" file_modify "$w/sub/b.txt" || fail "scan modify: $(cat "$tmp/out2")"
wait_for "$tmp/out2" file_delete "$w/sub/c.txt" || fail "scan delete: $(cat "$tmp/out2")"
wait_for "$tmp/out2" file_create "$w/sub/d.txt" || fail "scan create: $(cat "$tmp/out2")"
stop
python3 - "$tmp/out2" <<'PY' || fail "scan events: $(cat "$tmp/out2")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
m = [d for d in ev if d.get("unmapped", {}).get("kind") == "file_modify"][0]
assert "+changed\n" in m["unmapped"]["diff"], m
assert len(m["unmapped"]["prev_sha256"]) == 64, m
assert not any(d.get("file", {}).get("path", "").endswith("a.txt") for d in ev), "a.txt did not change"
PY

# 3. a damaged database: reported in health, replaced by a new baseline without events
printf 'IMFIMDB\001garbage' >"$state/fim.db"
start "$tmp/out3" --state "$state" --path "$w" --scan-interval 3600
grep -q 'unusable' "$tmp/out3" || fail "damaged database not reported: $(head -1 "$tmp/out3")"
for _ in $(seq 100); do [ "$(stat -c %s "$state/fim.db")" -gt 100 ] && break; sleep 0.1; done
stop
python3 -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])]; assert all("health" in d for d in ev), ev' \
	"$tmp/out3" || fail "baseline emitted events: $(cat "$tmp/out3")"
start "$tmp/out4" --state "$state" --path "$w" --scan-interval 3600
grep -q '"message":""' "$tmp/out4" || fail "new baseline not loaded: $(head -1 "$tmp/out4")"
stop

# 4. inotify forced: health says so, and the same events arrive
start "$tmp/out5" --state "$state" --path "$w" --mechanism inotify
grep -q '"mechanism":"inotify","active":true' "$tmp/out5" || fail "not inotify: $(head -1 "$tmp/out5")"
grep -q 'inotify forced' "$tmp/out5" || fail "inotify message: $(head -1 "$tmp/out5")"
mkdir "$w/newdir"
sleep 0.3
echo hi >"$w/newdir/f.txt"
sleep 0.3
printf 'keep\nchanged again\n' >"$w/sub/b.txt"
sleep 0.3
mv "$w/newdir/f.txt" "$w/newdir/g.txt"
rm "$w/newdir/g.txt"
wait_for "$tmp/out5" file_delete "$w/newdir/g.txt" || fail "inotify delete: $(cat "$tmp/out5")"
stop
python3 - "$tmp/out5" "$w" <<'PY' || fail "inotify events: $(cat "$tmp/out5")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
w = sys.argv[2]
got = {(d["unmapped"]["kind"], d["file"]["path"]) for d in ev if "health" not in d}
for want in [("file_create", w + "/newdir/f.txt"), ("file_modify", w + "/sub/b.txt"),
             ("file_rename", w + "/newdir/f.txt"), ("file_delete", w + "/newdir/g.txt")]:
    assert want in got, (want, got)
m = [d for d in ev if d.get("unmapped", {}).get("kind") == "file_modify"][0]
assert "-changed\n+changed again\n" in m["unmapped"]["diff"], m
PY
echo "sensor_fim: ok"
