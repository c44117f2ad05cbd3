#!/usr/bin/env bash
# immune-server as a daemon: first start (data directory 0700, client.yaml 0600, the ready
# line), the API over TLS with the operator token, SIGTERM exits 0, a restart keeps the
# operator, usage errors exit 2.
set -euo pipefail
immune=$1
server=$(dirname "$immune")/immune-server
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

start() {
	"$server" --data "$tmp/data" --listen 127.0.0.1:0 --api 127.0.0.1:0 \
		--catalog "$IMMUNE_SOURCE_DIR/policies" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "listening for agents" "$tmp/out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || fail "server exited: $(cat "$tmp/err")"
		sleep 0.1
	done
	grep -q "listening for agents" "$tmp/out" || fail "no ready line: $(cat "$tmp/out" "$tmp/err")"
	api_port=$(sed -n 's/.*API on [^ ]*:\([0-9]*\),.*/\1/p' "$tmp/out" | head -1)
	[ -n "$api_port" ] || fail "no API port in: $(cat "$tmp/out")"
	# without --rules, the shipped rules (grouped in subdirectories) go to agents, every one
	local n want
	n=$(cat "$tmp/out" "$tmp/err" | sed -n 's/.*detection rules for agents: \([0-9]*\) files.*/\1/p' | head -1)
	want=$(find "$IMMUNE_SOURCE_DIR/rules/linux" -name '*.yml' | wc -l)
	[ -n "$n" ] && [ "$n" -eq "$want" ] && [ "$n" -gt 0 ] ||
		fail "rules for agents: '$n' files, want $want: $(cat "$tmp/out" "$tmp/err")"
}

stop() {
	kill -TERM "$pid"
	set +e; wait "$pid"; rc=$?; set -e
	pid=
	[ $rc -eq 0 ] || fail "SIGTERM exit $rc: $(cat "$tmp/err")"
}

api() { # path [token]
	curl -s --max-time 10 --cacert "$tmp/data/ca.crt" -o "$tmp/body" -w '%{http_code}' \
		${2:+-H "Authorization: Bearer $2"} "https://127.0.0.1:$api_port$1"
}

start
[ "$(stat -c %a "$tmp/data")" = 700 ] || fail "data directory mode $(stat -c %a "$tmp/data")"
[ "$(stat -c %a "$tmp/data/client.yaml")" = 600 ] || fail "client.yaml mode"
grep -q "client.yaml" "$tmp/out" && grep -q "token create" "$tmp/out" || fail "first start hints: $(cat "$tmp/out")"
token=$(sed -n 's/^token: //p' "$tmp/data/client.yaml")
[ ${#token} -eq 64 ] || fail "operator token '$token'"
grep -q "^api: https://127.0.0.1:$api_port$" "$tmp/data/client.yaml" || fail "api line: $(cat "$tmp/data/client.yaml")"
grep -q "^ca: /" "$tmp/data/client.yaml" || fail "ca line"

code=$(api /v1/status) || fail "curl"
[ "$code" = 401 ] || fail "no token: $code"
code=$(api /v1/status "$token")
[ "$code" = 200 ] || fail "status: $code $(cat "$tmp/body")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["counters"]["enroll_ok"]==0 and d["hosts"]==0, d' "$tmp/body" \
	|| fail "status body $(cat "$tmp/body")"
stop

# a restart is not a first start, and the operator token still works
start
grep -q "first start" "$tmp/out" && fail "second start says first start"
code=$(api /v1/hosts "$token")
[ "$code" = 200 ] || fail "hosts after restart: $code"
stop

set +e
"$server" --help >/dev/null; [ $? -eq 0 ] || fail "--help"
"$server" --cert-lifetime 5x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad duration"
"$server" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad option"
"$server" extra >/dev/null 2>&1; [ $? -eq 2 ] || fail "extra argument"
set -e
echo OK
