#!/usr/bin/env bash
# The fleet commands of immune (token, hosts, host, findings, report, server): usage errors,
# configuration errors, a server that is not running, TLS verification failures, and the
# commands' output against a stand-in HTTPS server (openssl s_server -WWW serving the API
# answers of tests/fixtures/fleet/ under the fleet CA made here).
set -euo pipefail
immune=$1	# $2, $3: immune-server and immune-agent (default: next to immune)
fx=$IMMUNE_FIXTURES/fleet
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

run() { set +e; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }
expect() { # expect RC PATTERN-IN-STDERR command...
	local want=$1 pat=$2; shift 2
	run "$@"
	[ $rc -eq "$want" ] || fail "$* exit $rc, expected $want: $(cat "$tmp/err")"
	grep -q -- "$pat" "$tmp/err" || fail "$*: stderr lacks '$pat': $(cat "$tmp/err")"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=$(printf '%064d' 7)

# ---- usage errors: exit 2, say what was wrong ----
expect 2 "missing verb (create or list)" "$immune" token
expect 2 "unknown verb 'delete'" "$immune" token delete
expect 2 "--ttl '5x' is not a duration" "$immune" token create --ttl 5x
expect 2 "--uses '-1' is not a number" "$immune" token create --uses -1
expect 2 "--label wants KEY=VALUE" "$immune" token create --label novalue
expect 2 "are for 'token create'" "$immune" token list --ttl 1h
expect 2 "unexpected argument 'extra'" "$immune" hosts extra
expect 2 "missing verb (show, remove or command)" "$immune" host
expect 2 "show wants a host id" "$immune" host show
expect 2 "--table is for 'host show'" "$immune" host remove abc --table users
expect 2 "unknown status 'broken'" "$immune" findings --status broken
expect 2 "unknown framework 'nope' (valid: cis" "$immune" findings --framework nope
expect 2 "--framework KEY is required" "$immune" report
expect 2 "unknown format 'pdf'" "$immune" report --framework cis --format pdf
expect 2 "unknown verb 'stop'" "$immune" server stop
expect 2 "invalid option" "$immune" hosts --bogus
for c in "token --help" "hosts --help" "host --help" "findings --help" "report --help" "server --help"; do
	run "$immune" $c
	[ $rc -eq 0 ] && grep -q "^usage: immune" "$tmp/out" || fail "$c ($rc)"
done
run "$immune" --help
for c in token hosts host findings report server; do
	grep -q "^  $c " "$tmp/out" || fail "immune --help lacks $c"
done

# ---- configuration ----
export HOME=$tmp/home
unset IMMUNE_SERVER_CONFIG
expect 2 "cannot read the server configuration $tmp/home/.config/immune/server.yaml" "$immune" hosts
printf 'api: https://127.0.0.1:1\nca: ca.crt\ntoken: %s\nagent: x\n' "$token" >"$tmp/bad.yaml"
expect 2 "$tmp/bad.yaml:4:1: unknown key 'agent'" "$immune" hosts --server-config "$tmp/bad.yaml"
printf 'api: https://127.0.0.1:1\nca: ca.crt\n' >"$tmp/notoken.yaml"
IMMUNE_SERVER_CONFIG=$tmp/notoken.yaml expect 2 "notoken.yaml:1:1: missing 'token'" "$immune" server status

# ---- no server running: cannot reach, exit 2 ----
port=$(free_port)
printf 'api: https://127.0.0.1:%s\nagents: 127.0.0.1:7443\nca: %s\ntoken: %s\n' "$port" "$fx/ca.crt" "$token" >"$tmp/down.yaml"
for c in "hosts" "token list" "findings" "server status" "host show abc" "report --framework cis"; do
	expect 2 "cannot reach the server at https://127.0.0.1:$port: Connection refused" \
		"$immune" $c --server-config "$tmp/down.yaml"
	grep -q "immune-server must be running" "$tmp/err" || fail "$c: no hint"
done

# the configuration named before the command, as immune-server's first start prints it
expect 2 "cannot reach the server at https://127.0.0.1:$port" "$immune" --server-config "$tmp/down.yaml" hosts
expect 2 "cannot read the server configuration /nonexistent.yaml" "$immune" --server-config=/nonexistent.yaml token list
expect 2 "wants a FILE" "$immune" --server-config

command -v openssl >/dev/null || { echo "openssl missing: skipping the TLS part"; exit 0; }

# ---- a stand-in server: the fleet CA, a server certificate for 127.0.0.1 ----
cd "$tmp"
openssl req -x509 -newkey ed25519 -keyout ca.key -out ca.crt -days 2 -nodes -subj /CN=fleet-ca 2>/dev/null
openssl req -newkey ed25519 -keyout srv.key -out srv.csr -nodes -subj /CN=immune-server 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext 2>/dev/null
openssl req -x509 -newkey ed25519 -keyout other.key -out other.crt -days 2 -nodes -subj /CN=other \
	-addext subjectAltName=IP:127.0.0.1 2>/dev/null
# s_server -WWW maps /v1/hosts to the file www/v1/hosts: /v1/hosts/ID is served from www2
mkdir -p www/v1 www2/v1/hosts
cp "$fx/hosts.json" www/v1/hosts
cp "$fx/findings.json" "www/v1/findings?framework=cis&status=all"
cp "$fx/findings.json" www/v1/findings
python3 - "$fx" <<'PY'
import json, sys
fx = sys.argv[1]
hosts = json.load(open(fx + "/hosts.json"))["hosts"]
finds = json.load(open(fx + "/findings.json"))["findings"]
web = [h for h in hosts if h["hostname"] == "web-1"][0]
show = {"host": web, "inventory": {"users": [{"name": "root", "uid": 0}, {"name": "bob\u001b[31m", "uid": 1000}]},
        "streams": [{"stream": "events", "committed_seq": 12, "records": 12, "gaps": 0, "dropped": 0}],
        "findings": [f for f in finds if f["host"] == web["id"] and f["status"] in ("fail", "error")]}
json.dump(show, open("www2/v1/hosts/" + web["id"], "w"))
json.dump({"version": "0.1.0", "uptime_s": 3700, "agents_connected": 2, "hosts": 3,
           "counters": {"enroll_ok": 3, "tls_handshake_failed": 1}}, open("www/v1/status", "w"))
json.dump({"tokens": [{"id": "0123456789abcdef", "created": "2026-11-23T10:00:00Z",
           "expires": "2026-11-23T11:00:00Z", "uses_left": 1, "uses": 1, "labels": {"env": "prod"}}]},
          open("www/v1/tokens", "w"))
PY

start_server() { # cert key [www directory [protocol]]
	port=$(free_port)
	(cd "${3:-www}" && exec openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/$1" -key "$tmp/$2" \
		"${4:--tls1_3}" -WWW -quiet) >"$tmp/s_server.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "s_server did not start: $(cat "$tmp/s_server.log")"
}
stop_server() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

# a server whose certificate the fleet CA did not issue: TLS verification fails, exit 2
start_server other.crt other.key
printf 'api: https://127.0.0.1:%s\nagents: 127.0.0.1:7443\nca: ca.crt\ntoken: %s\n' "$port" "$token" >"$tmp/c.yaml"
expect 2 "TLS verification of the server at https://127.0.0.1:$port failed" "$immune" hosts --server-config "$tmp/c.yaml"
stop_server

# a server that offers only TLS 1.2: the handshake fails (TLS 1.3 only), exit 2
start_server srv.crt srv.key www -tls1_2
printf 'api: https://127.0.0.1:%s\nagents: 127.0.0.1:7443\nca: ca.crt\ntoken: %s\n' "$port" "$token" >"$tmp/c.yaml"
expect 2 "TLS handshake with the server at https://127.0.0.1:$port failed" "$immune" hosts --server-config "$tmp/c.yaml"
stop_server

# the stand-in API
start_server srv.crt srv.key
printf 'api: https://127.0.0.1:%s\nagents: 127.0.0.1:7443\nca: ca.crt\ntoken: %s\n' "$port" "$token" >"$tmp/c.yaml"
export IMMUNE_SERVER_CONFIG=$tmp/c.yaml

run "$immune" server status
[ $rc -eq 0 ] && grep -q "agents connected  2" out && grep -q "tls_handshake_failed  1" out \
	|| fail "server status ($rc): $(cat out err)"
run "$immune" server status --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["hosts"]==3' out || fail "server status --json"

run "$immune" token list
[ $rc -eq 0 ] && grep -q "^0123456789abcdef  2026-11-23T10:00:00Z" out && grep -q "env=prod" out \
	|| fail "token list ($rc): $(cat out err)"

run "$immune" findings
[ $rc -eq 1 ] || fail "findings with failures listed: exit $rc"
head -1 out | grep -q "^HOST  *STATUS  *SEVERITY  *CHECK  *MESSAGE" || fail "findings header: $(head -1 out)"
grep -q "^web-1  *error  *medium  *audit-enabled" out || fail "findings rows: $(cat out)"
run "$immune" findings --json
[ $rc -eq 1 ] && python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["findings"])==9' out \
	|| fail "findings --json ($rc)"

run "$immune" hosts
[ $rc -eq 0 ] || fail "hosts exit $rc: $(cat err)"
head -1 out | grep -q "^ID  *NAME  *OS  *LABELS  *CONNECTED  *LAST SEEN  *SCORE  *FAILED" || fail "hosts header: $(cat out)"
grep -q "^5555eeee6666ffff  db-1  .*  never  *not scanned  *0$" out || fail "hosts: db-1 row: $(cat out)"
grep -q "^1111aaaa2222bbbb  web-1  *Debian GNU/Linux 12 (bookworm)  *env=prod  *yes .* 33.3  *1$" out || fail "hosts: web-1 row: $(cat out)"
run "$immune" hosts --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["hosts"])==3' out || fail "hosts --json"

for fmt in json html oscal; do
	run "$immune" report --framework cis --format $fmt -o "report.$fmt"
	[ $rc -eq 0 ] || fail "report $fmt exit $rc: $(cat err)"
	grep -q "3 hosts, 5 controls, fleet score 50.0" err || fail "report $fmt summary: $(cat err)"
done
python3 - <<'PY' || fail "report content"
import json
d = json.load(open("report.json"))
assert d["schema"] == "immune.fleet-report/v1"
assert d["summary"]["score"] == 50.0 and d["summary"]["hosts_scanned"] == 2, d["summary"]
assert [c["id"] for c in d["controls"]] == ["4.1.1", "5.1.6", "5.1.10", "5.1.20", "6.2.1.1"]
o = json.load(open("report.oscal"))["assessment-results"]
assert len(o["results"]) == 1 and len(o["results"][0]["findings"]) == 5
h = open("report.html").read()
assert "<script>" not in h and "&lt;script&gt;" in h
PY
# host show: from the second document tree
stop_server
start_server srv.crt srv.key www2
printf 'api: https://127.0.0.1:%s\nagents: 127.0.0.1:7443\nca: ca.crt\ntoken: %s\n' "$port" "$token" >"$tmp/c.yaml"
run "$immune" host show 1111aaaa2222bbbb
[ $rc -eq 0 ] || fail "host show exit $rc: $(cat err)"
grep -q "Host web-1 (id 1111aaaa2222bbbb)" out && grep -q "Failing checks (3)" out \
	&& grep -q "at /etc/ssh/sshd_config:32" out && grep -q "^  users  2" out || fail "host show: $(cat out)"
run "$immune" host show 1111aaaa2222bbbb --table users
[ $rc -eq 0 ] && grep -q "^bob?\[31m  1000" out || fail "host show --table ($rc): $(cat -v out)"
! grep -q $'\e' out || fail "control bytes from the server reached the terminal"
expect 2 "has no inventory table 'nope'" "$immune" host show 1111aaaa2222bbbb --table nope
stop_server
unset IMMUNE_SERVER_CONFIG

# ---- the real immune-server (built next to immune), on free loopback ports ----
server=${2:-${IMMUNE_SERVER_BIN:-$(dirname "$immune")/immune-server}}
if [ ! -x "$server" ]; then
	echo "immune-server not built: skipping the run against the real server"
	exit 0
fi
aport=$(free_port)
port=$(free_port)
"$server" --data "$tmp/data" --listen "127.0.0.1:$aport" --api "127.0.0.1:$port" \
	>"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
	[ -s "$tmp/data/client.yaml" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
	kill -0 "${pids[-1]}" 2>/dev/null || fail "immune-server exited: $(cat "$tmp/server.log")"
	sleep 0.1
done
[ -s "$tmp/data/client.yaml" ] || fail "immune-server wrote no client.yaml: $(cat "$tmp/server.log")"
cfg=$tmp/data/client.yaml

run "$immune" --server-config "$cfg" token create --ttl 1h --uses 2 --label env=test
[ $rc -eq 0 ] || fail "token create exit $rc: $(cat err)"
grep -q "immune-agent enroll --server 127.0.0.1:$aport --token imt1\." out || fail "token create: $(cat out)"
secret=$(grep -o 'imt1\.[^ ]*' out | head -1)
run "$immune" token create --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "token create --json exit $rc: $(cat err)"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["token"].startswith("imt1.") and d["uses"]==1, d' out \
	|| fail "token create --json: $(cat out)"
run "$immune" token list --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "env=test" out || fail "token list ($rc): $(cat out err)"
run "$immune" token list --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["tokens"])==2, d' out || fail "token list --json"
! grep -qF "$(echo "$secret" | cut -d. -f3)" out || fail "token list shows a secret"

run "$immune" hosts --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "No hosts are enrolled" out || fail "hosts ($rc): $(cat out err)"
run "$immune" hosts --json --server-config "$cfg"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))=={"hosts":[]}' out || fail "hosts --json: $(cat out)"
run "$immune" findings --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "No findings" out || fail "findings ($rc): $(cat out err)"
run "$immune" findings --json --framework cis --status all --server-config "$cfg"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))=={"findings":[]}' out || fail "findings --json: $(cat out)"
run "$immune" server status --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "agents connected  0" out && grep -q "enroll_ok" out || fail "server status ($rc): $(cat out err)"
run "$immune" server status --json --server-config "$cfg"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["hosts"]==0 and "enroll_ok" in d["counters"], d' out \
	|| fail "server status --json: $(cat out)"

for fmt in json html oscal; do
	run "$immune" report --framework cis --format $fmt -o "real.$fmt" --server-config "$cfg"
	[ $rc -eq 0 ] || fail "report $fmt against the server: exit $rc: $(cat err)"
done
python3 - <<'PY' || fail "reports against the server"
import json
d = json.load(open("real.json"))
assert d["schema"] == "immune.fleet-report/v1" and d["summary"]["hosts"] == 0, d["summary"]
assert d["summary"]["score"] is None and d["controls"] == []
o = json.load(open("real.oscal"))["assessment-results"]
assert o["metadata"]["oscal-version"] == "1.1.2" and len(o["results"]) == 1
assert open("real.html").read().startswith("<!DOCTYPE html>")
PY

expect 2 "DELETE /v1/hosts/0000000000000000: the server answered 404" \
	"$immune" host remove 0000000000000000 --server-config "$cfg"
expect 2 "nosuch: no host with this id or name" "$immune" host show nosuch --server-config "$cfg"
expect 2 "GET /v1/hosts/ffffffffffffffffffffffffffffffff: the server answered 404" "$immune" host show ffffffffffffffffffffffffffffffff --server-config "$cfg"
sed "s/^token: .*/token: $token/" "$cfg" >"$tmp/wrong-token.yaml"
expect 2 "refused the token in $tmp/wrong-token.yaml (401" "$immune" hosts --server-config "$tmp/wrong-token.yaml"

# ---- with immune-agent built too: a real host enrolls, scans a fixture root, is removed ----
agent=${3:-${IMMUNE_AGENT_BIN:-$(dirname "$immune")/immune-agent}}
if [ ! -x "$agent" ]; then
	echo "immune-agent not built: skipping the enrolled-host part"
	exit 0
fi
run "$immune" token create --label env=ci --server-config "$cfg"
[ $rc -eq 0 ] || fail "token create for the agent: $(cat err)"
jt=$(grep -o 'imt1\.[^ ]*' out | head -1)
run "$agent" enroll --server "127.0.0.1:$aport" --token "$jt" --state "$tmp/agent"
[ $rc -eq 0 ] || fail "agent enroll exit $rc: $(cat out err)"
"$agent" run --no-detect --state "$tmp/agent" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
	--catalog "$IMMUNE_SOURCE_DIR/policies" >"$tmp/agent.log" 2>&1 &
pids+=($!)
# wait (bounded) until the server has the host's scan
for _ in $(seq 600); do
	"$immune" hosts --json --server-config "$cfg" >hosts.json 2>/dev/null || true
	python3 -c 'import json,sys; h=json.load(open("hosts.json"))["hosts"]; sys.exit(0 if h and h[0]["scanned_at"] else 1)' 2>/dev/null && break
	sleep 0.2
done
python3 - <<'PY' || fail "hosts after the agent scanned: $(cat hosts.json) $(cat "$tmp/agent.log")"
import json
h = json.load(open("hosts.json"))["hosts"]
assert len(h) == 1 and h[0]["labels"].get("env") == "ci" and h[0]["scanned_at"], h
open("host.id", "w").write(h[0]["id"])
PY
hid=$(cat host.id)
run "$immune" hosts --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^$hid .*env=ci  *yes" out || fail "hosts row: $(cat out)"
run "$immune" host show "$hid" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Host .* (id $hid)" out && grep -q "^Inventory (" out && grep -q "^Failing checks (" out \
	|| fail "host show of the enrolled host ($rc): $(cat out err)"
run "$immune" host show "$hid" --table os --json --server-config "$cfg"
[ $rc -eq 0 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[0]["id"]=="debian"' out \
	|| fail "host show --table os --json ($rc): $(cat out err)"
run "$immune" findings --host "$hid" --framework cis --status all --json --server-config "$cfg"
[ $rc -eq 0 ] || [ $rc -eq 1 ] || fail "findings of the host exit $rc: $(cat err)"
run "$immune" report --framework cis --format json -o host-report.json --server-config "$cfg"
[ $rc -eq 0 ] || fail "report with a host exit $rc: $(cat err)"
python3 - "$hid" <<'PY' || fail "report with a host"
import json, sys
d = json.load(open("host-report.json"))
s = d["summary"]
assert s["hosts"] == 1 and s["hosts_scanned"] == 1 and s["controls"] > 0, s
assert s["results"] == s["pass"] + s["fail"] + s["error"] + s["not_applicable"] > 0, s
assert d["hosts"][0]["id"] == sys.argv[1]
PY
run "$immune" host remove "$hid" --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "^Host $hid revoked" out || fail "host remove ($rc): $(cat out err)"
run "$immune" hosts --json --server-config "$cfg"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hosts"]; assert h[0]["revoked"] is True, h' out \
	|| fail "the removed host is not revoked: $(cat out)"
exit 0
