#!/usr/bin/env bash
# immune-agent respond: usage errors (exit 2 with a reason), refusals (exit 2), then, for the
# kinds this build has, through the real executor process:
#  - kill-process on a child sleep: --dry-run leaves it running and records nothing, the
#    apply (--json) is verified and the process is gone, --verify UID alone agrees, and
#    --rollback UID alone is refused (a kill cannot be undone);
#  - quarantine-file on a file in a temporary directory: the file goes, its undo record
#    holds the action, --rollback UID alone (no kind, no parameters) brings it back with the
#    same content and removes the record, and a second --rollback is refused;
#  - block-address in a private network namespace (unshare -n, root): the address is in the
#    namespace's ruleset, --verify UID agrees, --rollback UID removes it and its record.
# Every run has a timeout; the temporary directory and any process left are removed on exit.
set -euo pipefail
agent=$1
fail() {
	echo "FAIL: $*" >&2
	[ -f "${tmp:-}/out" ] && sed 's/^/out: /' "$tmp/out" >&2
	[ -f "${tmp:-}/err" ] && sed 's/^/err: /' "$tmp/err" >&2
	exit 1
}
tmp=$(mktemp -d)
sleeper=
cleanup() {
	[ -n "$sleeper" ] && kill -9 "$sleeper" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
state=$tmp/state

run() { set +e; timeout 60 "$agent" respond --state "$state" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }
expect_rc() { [ "$rc" = "$1" ] || fail "exit $rc, want $1 ($2)"; }
err_has() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1'"; }
out_has() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks '$1'"; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/out" "$1"; }
# True when this build has kind: a dry run of it is not refused as unsupported.
supported() { run --dry-run "$@"; ! grep -qF "this agent cannot" "$tmp/out"; }

# --- usage ---
run
expect_rc 2 "no kind"
err_has "name an action kind"
run format-disk
expect_rc 2 "unknown kind"
err_has "unknown action kind 'format-disk'"
run kill-process pid=1
expect_rc 2 "pid 1"
err_has "pid 1 is out of range"
run kill-process pid
expect_rc 2 "not key=value"
err_has "is not key=value"
run quarantine-file path=/tmp/../etc/shadow
expect_rc 2 "path with .."
err_has "must be absolute and normalized"
run --rollback XYZ
expect_rc 2 "bad id"
err_has "is not an action id"
run --rollback 0123456789abcdef0123456789abcdef
expect_rc 2 "no record"
err_has "no undo record for 0123456789abcdef0123456789abcdef"
run --rollback 0123456789abcdef0123456789abcdef --verify 0123456789abcdef0123456789abcdef
expect_rc 2 "both"
"$agent" respond --help | grep -q "immune-agent respond KIND" || fail "help"
# a rollback naming the action but without a record is refused by the executor
run --rollback 0123456789abcdef0123456789abcdef lock-user user=nobody --json
expect_rc 2 "rollback without undo"
[ "$(field status)" = refused ] || fail "status $(field status)"
out_has "no undo record"

# --- kill-process ---
sleep 60 &
sleeper=$!
if supported kill-process pid=$sleeper; then
	expect_rc 0 "dry run"
	out_has "status   dry_run"
	kill -0 "$sleeper" || fail "the dry run killed the process"
	[ -z "$(ls -A "$state/respond/undo")" ] || fail "the dry run left an undo record"

	run kill-process pid=$sleeper --json
	expect_rc 0 "kill"
	[ "$(field status)" = verified ] || fail "status $(field status)"
	[ "$(field kind)" = kill-process ] || fail "kind"
	uid=$(field uid)
	[[ $uid =~ ^[0-9a-f]{32}$ ]] || fail "uid '$uid'"
	wait "$sleeper" 2>/dev/null || true
	kill -0 "$sleeper" 2>/dev/null && fail "the process is still there"
	sleeper=
	[ -f "$state/respond/undo/$uid.json" ] || fail "no undo record"
	[ "$(stat -c %a "$state/respond/undo/$uid.json")" = 600 ] || fail "record mode"
	[ "$(stat -c %a "$state/respond/undo")" = 700 ] || fail "undo directory mode"

	run --verify "$uid"
	expect_rc 0 "verify by id"
	out_has "status   verified"
	run --rollback "$uid" --json
	expect_rc 2 "a kill cannot be undone"
	[ "$(field status)" = refused ] || fail "rollback status $(field status)"
	echo "kill-process: ok"
else
	echo "kill-process not in this build: skipped"
	kill -9 "$sleeper"
	sleeper=
fi

# --- quarantine-file and rollback by id alone ---
mkdir -p "$tmp/data"
printf 'payload\n' >"$tmp/data/dropper.sh"
chmod 0750 "$tmp/data/dropper.sh"
if supported quarantine-file path="$tmp/data/dropper.sh"; then
	[ -f "$tmp/data/dropper.sh" ] || fail "the dry run moved the file"
	run quarantine-file path="$tmp/data/dropper.sh" --json
	expect_rc 0 "quarantine"
	[ "$(field status)" = verified ] || fail "status $(field status)"
	uid=$(field uid)
	[ ! -e "$tmp/data/dropper.sh" ] || fail "the file is still there"
	grep -qF '"kind":"quarantine-file"' "$state/respond/undo/$uid.json" || fail "record"

	run --rollback "$uid"
	expect_rc 0 "rollback by id"
	out_has "status   rolled_back"
	[ "$(cat "$tmp/data/dropper.sh")" = payload ] || fail "content after rollback"
	[ ! -e "$state/respond/undo/$uid.json" ] || fail "the record stayed"
	run --rollback "$uid"
	expect_rc 2 "second rollback"
	err_has "no undo record"
	echo "quarantine-file: ok"
else
	echo "quarantine-file not in this build: skipped"
fi
# --- block-address in a private network namespace (the host's firewall is never touched) ---
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v nft >/dev/null &&
	unshare -n true 2>/dev/null && supported block-address address=203.0.113.7; then
	cat >"$tmp/block.sh" <<'S'
set -euo pipefail
agent=$1 state=$2 tmp=$3
fail() { echo "FAIL (namespace): $*" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/out" "$1"; }
timeout 60 "$agent" respond --state "$state" block-address address=203.0.113.7 duration=10m \
	--json >"$tmp/out" || fail "block: exit $?"
[ "$(field status)" = verified ] || fail "status $(field status)"
uid=$(field uid)
nft list ruleset | grep -q 203.0.113.7 || fail "the address is not in the ruleset"
timeout 60 "$agent" respond --state "$state" --verify "$uid" >"$tmp/out" || fail "verify"
timeout 60 "$agent" respond --state "$state" --rollback "$uid" >"$tmp/out" || fail "rollback"
grep -qF "status   rolled_back" "$tmp/out" || fail "rollback status"
if nft list ruleset | grep -q 203.0.113.7; then fail "still blocked after rollback"; fi
[ ! -e "$state/respond/undo/$uid.json" ] || fail "the record stayed"
S
	timeout 120 unshare -n bash "$tmp/block.sh" "$agent" "$state" "$tmp" || fail "block-address"
	echo "block-address: ok"
else
	echo "block-address not in this build, or no root / unshare / nft: skipped"
fi
echo "respond_cmd: ok"
