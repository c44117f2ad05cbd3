# Shared by the integration tests that run immune-server and immune-agent on loopback.
# Source it after `set -euo pipefail`, then call `fleet_init NAME`, which sets:
#   tmp     a new directory /tmp/immune-NAME-XXXXXX, removed at exit (unless KEEP is set),
#           after the server ($spid) and agent ($apid) processes are killed;
#   PA, PB  two free loopback ports (agents, API).
# fail MESSAGE prints the message and the tail of every $tmp/*.log, and exits 1.
# run CMD... runs CMD with a timeout (RUN_TIMEOUT seconds, default 60): output in $tmp/out and
# $tmp/err, exit code in $rc.

fleet_cleanup() {
	[ -n "${apid:-}" ] && kill -9 "$apid" 2>/dev/null || true
	[ -n "${spid:-}" ] && kill -9 "$spid" 2>/dev/null || true
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}

fleet_init() {
	tmp=$(mktemp -d "/tmp/immune-$1-XXXXXX")
	spid=""
	apid=""
	trap fleet_cleanup EXIT
	read -r PA PB < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
}

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 40 "$f"; } >&2
	done
	exit 1
}

run() { set +e; timeout "${RUN_TIMEOUT:-60}" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }

# fleet_wait_server: waits until the server ($spid) answers the API described by $cfg.
fleet_wait_server() {
	for _ in $(seq 1 100); do
		[ -f "$cfg" ] && "$immune" server status --server-config "$cfg" >/dev/null 2>&1 && return 0
		kill -0 "$spid" 2>/dev/null || fail "the server exited"
		sleep 0.1
	done
	fail "the server did not answer (no usable $cfg)"
}

# fleet_enroll STATE [ENROLL-OPTIONS...]: creates a join token through $immune and enrolls
# $agent into STATE against 127.0.0.1:$PA; sets host to the new host id.
fleet_enroll() {
	local st=$1 tok
	shift
	run "$immune" token create --json --server-config "$cfg"
	[ "$rc" -eq 0 ] || fail "token create: $(cat "$tmp/err")"
	tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/out")
	"$agent" enroll --server "127.0.0.1:$PA" --token "$tok" --state "$st" --json "$@" \
		>"$tmp/enroll.json" || fail "enroll"
	host=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$tmp/enroll.json")
}
