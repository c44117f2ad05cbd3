#!/usr/bin/env bash
# sensor_fim and authorized_keys (docs/sensor-fim.md, "SSH keys added"): keys generated with
# ssh-keygen at test time are added to authorized_keys files in a temporary root; each added
# key gives one event whose key_fingerprint is what `ssh-keygen -lf` prints and whose
# target_user names the account, for a modify (fanotify and inotify), a new file, a change
# made while the sensor was stopped (the scan), a change that adds no key, and a file moved
# in over a known one.
set -euo pipefail
watch=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v ssh-keygen >/dev/null || { echo "sensor_fim_keys: no ssh-keygen, skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "sensor_fim_keys: needs root, skipped"; exit 77; }
getent passwd nobody >/dev/null || { echo "sensor_fim_keys: no account nobody, skipped"; exit 77; }
tmp=$(mktemp -d /tmp/immune-fim-keys.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_n FILE KIND PATH N: waits up to 20 s for N events of KIND on PATH in FILE.
wait_n() {
	for _ in $(seq 200); do
		[ "$(grep -F "\"kind\":\"$2\"" "$1" | grep -cF "\"path\":\"$3\"")" -ge "$4" ] && return 0
		sleep 0.1
	done
	return 1
}

start() { # start OUT ARGS...
	local out=$1
	shift
	"$watch" "$@" >"$out" 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 200); do grep -q '"health"' "$out" && break; sleep 0.1; done
	grep -q '"health"' "$out" || fail "no health line: $(cat "$tmp/err")"
	# the baseline scan (with the vault's snapshots) is done when the database is saved
	for _ in $(seq 200); do [ -s "$state/fim.db" ] && break; sleep 0.1; done
	[ -s "$state/fim.db" ] || fail "no baseline database"
}

stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "fim_watch exit $?: $(cat "$tmp/err")"
	pid=
}

key() { # key NAME: a new ed25519 key; prints its public line
	ssh-keygen -q -t ed25519 -N '' -C "$1@test" -f "$tmp/keys/$1" >/dev/null
	cat "$tmp/keys/$1.pub"
}
fp() { ssh-keygen -lf "$tmp/keys/$1.pub" | cut -d' ' -f2; }

# events OUT KIND PATH: "FINGERPRINT USER" of each event of KIND on PATH, one per line
events() {
	python3 - "$@" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if "health" in d or d["unmapped"]["kind"] != sys.argv[2] or d["file"]["path"] != sys.argv[3]:
        continue
    print(d["unmapped"].get("key_fingerprint", "-"), d.get("user", {}).get("name", "-"))
PY
}

root=$tmp/root
state=$tmp/state
mkdir -p "$tmp/keys" "$state" "$root/root/.ssh" "$root/srv/app/.ssh" "$root/srv/new"
chmod 700 "$root/root/.ssh"
key k1 >"$root/root/.ssh/authorized_keys"
key k0 >"$root/srv/app/.ssh/authorized_keys"
# /root is root's home: the account comes from the home directory even though the file is
# someone else's; /srv/app is no account's home: the file's owner is the account
chown nobody "$root/root/.ssh/authorized_keys" "$root/srv/app/.ssh/authorized_keys"
ak=/root/.ssh/authorized_keys
app=/srv/app/.ssh/authorized_keys

# 1. fanotify: one key appended, then two at once, then a new file, then an edit adding none
start "$tmp/out1" --root "$root" --state "$state" --path /root --path /srv --scan-interval 3600
key k2 >>"$root$ak"
wait_n "$tmp/out1" file_modify "$ak" 1 || fail "no modify: $(cat "$tmp/out1")"
[ "$(events "$tmp/out1" file_modify "$ak")" = "$(fp k2) root" ] ||
	fail "one key appended: $(events "$tmp/out1" file_modify "$ak")"
{ key k3; echo '# a comment'; key k4; } >>"$root$app"
wait_n "$tmp/out1" file_modify "$app" 2 || fail "two keys: $(cat "$tmp/out1")"
mkdir "$root/srv/new/.ssh"
key k5 >"$root/srv/new/.ssh/authorized_keys2"
wait_n "$tmp/out1" file_create /srv/new/.ssh/authorized_keys2 1 || fail "new file: $(cat "$tmp/out1")"
sed -i 's/k1@test/renamed comment/' "$root$ak" # rewritten by a rename: same keys
wait_n "$tmp/out1" file_modify "$ak" 2 || fail "edit without a new key: $(cat "$tmp/out1")"
sleep 0.3
stop
[ "$(events "$tmp/out1" file_modify "$app")" = "$(printf '%s nobody\n%s nobody' "$(fp k3)" "$(fp k4)")" ] ||
	fail "two keys appended: $(events "$tmp/out1" file_modify "$app")"
[ "$(events "$tmp/out1" file_create /srv/new/.ssh/authorized_keys2)" = "$(fp k5) root" ] ||
	fail "new file: $(events "$tmp/out1" file_create /srv/new/.ssh/authorized_keys2)"
[ "$(events "$tmp/out1" file_modify "$ak" | sed -n 2p)" = "- root" ] ||
	fail "edit without a new key: $(events "$tmp/out1" file_modify "$ak")"
python3 - "$tmp/out1" <<'PY' || fail "event ids: $(cat "$tmp/out1")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ev = [d for d in ev if "health" not in d]
# the two events of one change are two events, with the same file content
two = [d for d in ev if d["file"]["path"] == "/srv/app/.ssh/authorized_keys"]
assert len(two) == 2 and two[0]["file"]["hashes"] == two[1]["file"]["hashes"], two
assert two[0]["unmapped"]["key_fingerprint"] != two[1]["unmapped"]["key_fingerprint"], two
# other files carry no key fields
assert all("key_fingerprint" not in d["unmapped"] for d in ev if "authorized_keys" not in d["file"]["path"]), ev
PY

# 2. a key added while the sensor was stopped: the scan at start reports it
key k6 >>"$root$app"
start "$tmp/out2" --root "$root" --state "$state" --path /root --path /srv --scan-interval 3600
wait_n "$tmp/out2" file_modify "$app" 1 || fail "scan: $(cat "$tmp/out2")"
stop
[ "$(events "$tmp/out2" file_modify "$app")" = "$(fp k6) nobody" ] ||
	fail "scan: $(events "$tmp/out2" file_modify "$app")"

# 3. inotify: the same for an appended key; a file moved in from outside over a known one
# (a create of the name) names only the key the known content did not have
start "$tmp/out3" --root "$root" --state "$state" --path /root --path /srv --mechanism inotify
key k7 >>"$root$ak"
wait_n "$tmp/out3" file_modify "$ak" 1 || fail "inotify: $(cat "$tmp/out3")"
{ cat "$root$app"; key k8; } >"$root/outside"
mv "$root/outside" "$root$app"
wait_n "$tmp/out3" file_create "$app" 1 || fail "moved in: $(cat "$tmp/out3")"
stop
[ "$(events "$tmp/out3" file_modify "$ak")" = "$(fp k7) root" ] ||
	fail "inotify: $(events "$tmp/out3" file_modify "$ak")"
[ "$(events "$tmp/out3" file_create "$app")" = "$(fp k8) root" ] ||
	fail "moved in: $(events "$tmp/out3" file_create "$app")"
echo "sensor_fim_keys: ok"
