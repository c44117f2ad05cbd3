#!/usr/bin/env bash
# The access role inside `immune-agent run`, end to end with a real immune-server on loopback:
# an enrolled agent gets the server's access bundle (its SSH CA, one policy pushed with
# `immune policy push`) with access.manage_sshd false. The role writes ca.pub and revoked.krl (and no
# drop-in), opens STATE/access.sock, and `immune-agent principals` asks it: alice's
# certificate for the permitted account prints the account, for another account nothing.
# Both decisions reach the server as RECORD_ACCESS_EVENT records (kind 10) through the
# spool; status.json counts them; the socket is gone when the agent stops. An agent run with
# --root (another root than this host's) answers all the same and writes nothing for sshd.
# Root only (the principals command is asked as root); exit 77 otherwise.
# usage: agent_access.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT ACCESS-DRIVER
set -euo pipefail
immune=$1
server=$2
agent=$3
driver=$4
src=$IMMUNE_SOURCE_DIR

if [ "$(id -u)" != 0 ]; then
	echo "agent_access: needs root; skipped"
	exit 77
fi

. "$(dirname "$0")/fleet_lib.sh"
fleet_init agent-access
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" >>"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
fleet_enroll "$state" --machine-id-file ""

# the server's bundle: its SSH CA and the policy pushed through the API
cat >"$tmp/team.policy" <<EOF
permit team {
  principal: group ops
  action: login as deploy
}
EOF
"$immune" policy push "$tmp/team.policy" --server-config "$cfg" >/dev/null || fail "policy push"
[ -s "$data/ssh-ca.pem" ] || fail "the server has no SSH CA"
"$driver" ca-pub "$data/ssh-ca.pem" >"$tmp/ca.pub" || fail "no CA"
cat >"$tmp/agent.yaml" <<EOF
sensors:
  process: {mechanism: "off"}
  network: {mechanism: "off"}
  auth: {mechanism: "off"}
  fim: {mechanism: "off"}
access:
  dir: $tmp/ssh
  manage_sshd: false
EOF
"$agent" run --state "$state" --no-collect --config "$tmp/agent.yaml" >>"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do
	[ -S "$state/access.sock" ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
[ -S "$state/access.sock" ] || fail "no access socket"
for _ in $(seq 1 100); do
	grep -q "bundle version [0-9]* loaded (1 policies" "$tmp/agent.log" && break
	sleep 0.1
done
[ -s "$tmp/ssh/ca.pub" ] || fail "ca.pub was not written"
[ -s "$tmp/ssh/revoked.krl" ] || fail "revoked.krl was not written"
cmp -s <(awk '{print $1, $2}' "$tmp/ca.pub") <(awk '{print $1, $2}' "$tmp/ssh/ca.pub") ||
	fail "ca.pub is not the bundle's CA"
grep -q "bundle version [0-9]* loaded (1 policies" "$tmp/agent.log" || fail "the bundle was not loaded"

ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey"
"$driver" sign "$data/ssh-ca.pem" "$tmp/userkey.pub" 4711 alice/-/4711 deploy \
	'{"name": "alice", "groups": ["ops"]}' >"$tmp/cert" || fail "cannot sign"
cert=$(awk '{print $2}' "$tmp/cert")
out=$("$agent" principals --state "$state" deploy "$cert" "10.1.2.3 5000 10.0.0.1 22")
[ "$out" = deploy ] || fail "principals did not allow alice as deploy (got '$out')"
out=$("$agent" principals --state "$state" root "$cert" "10.1.2.3 5000 10.0.0.1 22")
[ -z "$out" ] || fail "principals allowed a certificate for deploy as root"

# both decisions reach the server's store (kind 10: RECORD_ACCESS_EVENT)
events() {
	python3 - "$data/immune.db" <<'PY'
import json, sqlite3, subprocess, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for enc, payload in db.execute("SELECT encoding, payload FROM records WHERE kind = 10 ORDER BY seq"):
    if enc != 0:
        payload = subprocess.run(["zstd", "-dc"], input=payload, capture_output=True).stdout
    print(json.dumps(json.loads(payload), sort_keys=True))
PY
}
for _ in $(seq 1 100); do
	[ "$(events 2>/dev/null | wc -l)" -ge 2 ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.2
done
events >"$tmp/events.jsonl" || fail "cannot read the server's records"
grep '"event": "login"' "$tmp/events.jsonl" | grep -q '"identity": "alice"' ||
	fail "no login record at the server: $(cat "$tmp/events.jsonl")"
grep '"event": "login"' "$tmp/events.jsonl" | grep -q '"source": "10.1.2.3"' ||
	fail "the login record has no source"
grep '"event": "denied"' "$tmp/events.jsonl" | grep -q '"account": "root"' ||
	fail "no denied record at the server"

for _ in $(seq 1 100); do
	python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["access"]
sys.exit(0 if a and a["logins"] == 1 and a["denied"] == 1 and a["bundle"] else 1)' \
		"$state/status.json" 2>/dev/null && break
	sleep 0.2
done
python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["access"]
sys.exit(0 if a and a["logins"] == 1 and a["denied"] == 1 and a["bundle"] else 1)' \
	"$state/status.json" || fail "status.json does not count the decisions"

kill "$apid"
wait "$apid" || fail "the agent did not stop cleanly"
apid=""
[ ! -e "$state/access.sock" ] || fail "the socket was left behind"

# an agent watching another root decides all the same but writes nothing for sshd
mkdir -p "$tmp/otherroot"
sed -i "s|dir: $tmp/ssh\$|dir: $tmp/ssh2|" "$tmp/agent.yaml"
"$agent" run --state "$state" --root "$tmp/otherroot" --no-collect --config "$tmp/agent.yaml" \
	>>"$tmp/agent2.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do
	[ -S "$state/access.sock" ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
out=$("$agent" principals --state "$state" deploy "$cert" "10.1.2.3 5000 10.0.0.1 22")
[ "$out" = deploy ] || fail "principals did not answer an agent with --root"
[ ! -e "$tmp/ssh2" ] || fail "an agent with --root wrote files for sshd"
grep -q "not this host: no files for sshd" "$tmp/agent2.log" || fail "no word of it in the log"
kill "$apid"
wait "$apid" || fail "the agent did not stop cleanly"
apid=""
echo "agent_access: OK"
