#!/usr/bin/env bash
# Zero-trust SSH end to end, every part real on loopback: immune-server (the access
# authority and SSH CA), an enrolled `immune-agent run` managing a real sshd (it writes the
# CA key, the KRL and the drop-in with AuthorizedPrincipalsCommand, then reloads sshd), the
# session recorder as the certificates' force-command, the system ssh client.
#  - alice (group ops) logs in with `immune ssh`; the session is recorded at the server;
#  - an account no policy permits: the server refuses to sign;
#  - a certificate still valid is refused at connection time once the policy changed;
#  - from outside the certificate's source-address (127.0.0.2): refused by sshd;
#  - an expired certificate: refused;
#  - a just-in-time grant approved by the approver the policy names lets alice in as a
#    second account; after it expires she is refused;
#  - `immune user disable alice` ends her live session and her valid certificate no longer
#    logs in; her token is refused.
# Needs root, sshd, ssh and ssh-keygen; exits 77 (skip) otherwise.
# usage: access_e2e.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT
set -euo pipefail
immune=$1
server=$2
[ "$(id -u)" = 0 ] || { echo "access_e2e: needs root; skipped"; exit 77; }
for t in /usr/sbin/sshd ssh ssh-keygen useradd userdel usermod; do
	command -v $t >/dev/null || { echo "access_e2e: no $t; skipped"; exit 77; }
done

. "$(dirname "$0")/fleet_lib.sh"
fleet_init access-e2e
chmod 0711 "$tmp" # the recorder (as the account) and the principals user reach the socket
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
# sshd runs AuthorizedPrincipalsCommand only from a path that no one but root can change
bindir=$(mktemp -d /run/immune-e2e-XXXXXX)
chmod 0755 "$bindir"
install -m 0755 "$3" "$bindir/immune-agent"
agent=$bindir/immune-agent
acct="ie$$${RANDOM}"
acct=${acct:0:14}a
acct2=${acct:0:14}b
sshd_pid=""
live_pid=""
cleanup_e2e() {
	for p in $live_pid $sshd_pid; do kill "$p" 2>/dev/null || true; done
	for u in "$acct" "$acct2"; do
		pkill -9 -u "$u" 2>/dev/null || true
		userdel -r "$u" >/dev/null 2>&1 || true
	done
	rm -rf "$bindir"
	fleet_cleanup
}
trap cleanup_e2e EXIT
for u in "$acct" "$acct2"; do
	useradd -m -s /bin/sh "$u"
	usermod -p '*' "$u"
done

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" --playbooks none \
	--session-command "$agent session --state $state" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
fleet_enroll "$state" --machine-id-file ""

# ---- identities, their client configurations, the policies ----
"$immune" user add alice --group ops --server-config "$cfg" >/dev/null || fail "user add alice"
"$immune" user add carol --group leads --role approver --server-config "$cfg" >/dev/null ||
	fail "user add carol"
client_config() { # NAME: writes $tmp/NAME.yaml holding NAME's own token
	"$immune" user token "$1" --json --server-config "$cfg" >"$tmp/token.json" ||
		fail "user token $1"
	python3 - "$cfg" "$tmp/token.json" "$tmp/$1.yaml" "$1" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["token"] = json.load(open(sys.argv[2]))["token"]
c["operator"] = sys.argv[4]
yaml.safe_dump(c, open(sys.argv[3], "w"))
PY
}
client_config alice
client_config carol
A=$tmp/alice.yaml
C=$tmp/carol.yaml
mkdir -p "$tmp/policies"
cat >"$tmp/policies/ops.policy" <<EOF
permit ops-login {
  principal: group ops
  action: login as $acct
}
permit ops-second-with-grant {
  principal: group ops
  action: login as $acct2
  grant: required; approvers: user carol; max: 1h
}
EOF
"$immune" policy push "$tmp/policies" --server-config "$cfg" >/dev/null || fail "policy push"

# ---- the agent manages this test's sshd ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
mkdir -p /run/sshd "$tmp/sshd.d"
cat >"$tmp/sshd_config" <<EOF
Include $tmp/sshd.d/*.conf
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
Port $port
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
StrictModes no
LogLevel VERBOSE
EOF
cat >"$tmp/agent.yaml" <<EOF
sensors:
  process: {mechanism: "off"}
  network: {mechanism: "off"}
  auth: {mechanism: "off"}
  fim: {mechanism: "off"}
access:
  dir: $tmp/ssh
  sshd_dropin: $tmp/sshd.d/50-immune-access.conf
  sshd_config: $tmp/sshd_config
  sshd_pid_file: $tmp/sshd.pid
  principals_command: $agent
EOF
"$agent" run --state "$state" --no-collect --config "$tmp/agent.yaml" >"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 1 150); do
	[ -s "$tmp/sshd.d/50-immune-access.conf" ] && [ -s "$tmp/ssh/ca.pub" ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
[ -s "$tmp/sshd.d/50-immune-access.conf" ] || fail "the agent wrote no sshd drop-in"
grep -q "^TrustedUserCAKeys $tmp/ssh/ca.pub" "$tmp/sshd.d/50-immune-access.conf" ||
	fail "the drop-in does not trust the CA: $(cat "$tmp/sshd.d/50-immune-access.conf")"
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/sshd.pid" ] && break; sleep 0.1; done
hn=$("$immune" host show "$host" --json --server-config "$cfg" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["host"]["hostname"])')
sshopts=(-p "$port" -o HostName=127.0.0.1 -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)

# ---- a permitted login through immune ssh, recorded ----
RUN_TIMEOUT=30 run "$immune" ssh "$acct@$hn" --server-config "$A" -- "${sshopts[@]}" echo e2e-hello
[ "$rc" -eq 0 ] || fail "immune ssh as $acct: exit $rc: $(cat "$tmp/err")"
grep -q "^e2e-hello" "$tmp/out" || fail "the command's output did not come back: $(cat "$tmp/out")"
for _ in $(seq 1 100); do
	"$immune" session list --identity alice --json --server-config "$cfg" >"$tmp/sessions.json" 2>/dev/null &&
		grep -q e2e-hello "$tmp/sessions.json" && break
	sleep 0.2
done
sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sessions"][0]["id"])' \
	"$tmp/sessions.json") || fail "no recorded session at the server: $(cat "$tmp/sessions.json")"
"$immune" session play "$sid" --raw --server-config "$cfg" >"$tmp/cast" || fail "session play"
grep -q 'e2e-hello' "$tmp/cast" || fail "the recording lacks the output"

# ---- an account no policy permits: no certificate ----
run "$immune" ssh --print "root@$hn" --server-config "$A"
[ "$rc" -eq 1 ] || fail "signing for root: exit $rc"

# ---- certificates kept by the test (key and certificate) ----
ssh-keygen -q -t ed25519 -N '' -f "$tmp/k"
sign() { # ACCOUNT LIFETIME OUT: a certificate for $tmp/k through the API as alice
	python3 - "$A" "$hn" "$1" "$2" "$(cat "$tmp/k.pub")" >"$3" <<'PY'
import json, ssl, sys, urllib.request, yaml
c = yaml.safe_load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=c["ca"])
ctx.check_hostname = False
body = json.dumps({"host": sys.argv[2], "account": sys.argv[3], "lifetime": int(sys.argv[4]),
                   "public_key": sys.argv[5]}).encode()
req = urllib.request.Request(c["api"] + "/v1/ssh/certificates", data=body, method="POST",
                             headers={"Authorization": "Bearer " + c["token"],
                                      "Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, context=ctx, timeout=30))["certificate"])
PY
}
login() { # CERT ACCOUNT [ssh options]: runs `echo in` with the kept key and CERT
	local cert=$1 account=$2
	shift 2
	RUN_TIMEOUT=30 run ssh -i "$tmp/k" -o CertificateFile="$cert" -o IdentitiesOnly=yes \
		"${sshopts[@]}" "$@" -l "$account" 127.0.0.1 echo in
}
sign "$acct" 600 "$tmp/c1.pub" || fail "signing for $acct"
login "$tmp/c1.pub" "$acct"
[ "$rc" -eq 0 ] && grep -q '^in' "$tmp/out" || fail "the kept certificate did not log in: $(cat "$tmp/err")"

# outside the certificate's source-address
login "$tmp/c1.pub" "$acct" -o BindAddress=127.0.0.2 -o HostName=127.0.0.2
[ "$rc" -ne 0 ] || fail "a login from 127.0.0.2 was let in"
grep -q "not from a permitted source address (127.0.0.2)" "$tmp/sshd.log" ||
	fail "sshd did not refuse 127.0.0.2 for the source address"

# expired: valid for 1 s (the server backdates the start by a minute)
sign "$acct" 1 "$tmp/c-short.pub" || fail "signing for 1 s"
sleep 2
login "$tmp/c-short.pub" "$acct"
[ "$rc" -ne 0 ] || fail "an expired certificate was let in"

# the policy changes: the same valid certificate is refused at connection time
cat >"$tmp/policies/freeze.policy" <<EOF
forbid freeze {
  principal: user alice
  action: login as $acct
}
EOF
"$immune" policy push "$tmp/policies" --server-config "$cfg" >/dev/null || fail "policy push"
for _ in $(seq 1 50); do
	login "$tmp/c1.pub" "$acct"
	[ "$rc" -ne 0 ] && break
	sleep 0.2
done
[ "$rc" -ne 0 ] || fail "a forbidden login was let in with a still valid certificate"
rm "$tmp/policies/freeze.policy"
"$immune" policy push "$tmp/policies" --server-config "$cfg" >/dev/null || fail "policy push"
for _ in $(seq 1 50); do
	login "$tmp/c1.pub" "$acct"
	[ "$rc" -eq 0 ] && break
	sleep 0.2
done
[ "$rc" -eq 0 ] || fail "the login did not come back with the policy"

# ---- just in time: a grant for the second account, approved, then expired ----
run "$immune" ssh --print "$acct2@$hn" --server-config "$A"
[ "$rc" -eq 1 ] || fail "signing for $acct2 without a grant: exit $rc"
run "$immune" access request --host "$hn" --as "$acct2" --for 8s --reason "e2e test" --json \
	--server-config "$A"
[ "$rc" -eq 0 ] || fail "access request: $(cat "$tmp/err")"
rid=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print((d.get("request") or d)["id"])' "$tmp/out")
run "$immune" access approve "$rid" --server-config "$A"
[ "$rc" -ne 0 ] || fail "the requester approved her own request"
run "$immune" access approve "$rid" --server-config "$C"
[ "$rc" -eq 0 ] || fail "carol could not approve: $(cat "$tmp/err")"
sign "$acct2" 300 "$tmp/c2.pub" || fail "signing for $acct2 with the grant"
for _ in $(seq 1 25); do
	login "$tmp/c2.pub" "$acct2"
	[ "$rc" -eq 0 ] && break
	sleep 0.2
done
[ "$rc" -eq 0 ] || fail "the granted login failed: $(cat "$tmp/err")"
sleep 9
login "$tmp/c2.pub" "$acct2"
[ "$rc" -ne 0 ] || fail "the login was let in after the grant expired"

# ---- offboarding: a live session ends, a valid certificate no longer logs in ----
ssh -i "$tmp/k" -o CertificateFile="$tmp/c1.pub" -o IdentitiesOnly=yes "${sshopts[@]}" \
	-l "$acct" 127.0.0.1 'echo live; sleep 120' >"$tmp/live.out" 2>&1 &
live_pid=$!
for _ in $(seq 1 100); do grep -q live "$tmp/live.out" && break; sleep 0.1; done
grep -q live "$tmp/live.out" || fail "the live session did not start"
t0=$(date +%s%N)
"$immune" user disable alice --server-config "$cfg" >/dev/null || fail "user disable"
for _ in $(seq 1 100); do kill -0 "$live_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$live_pid" 2>/dev/null && fail "alice's live session outlived her offboarding"
echo "offboarding ended the live session in $((($(date +%s%N) - t0) / 1000000)) ms"
live_pid=""
login "$tmp/c1.pub" "$acct"
[ "$rc" -ne 0 ] || fail "a disabled identity logged in with a valid certificate"
grep -q "revoked by file $tmp/ssh/revoked.krl" "$tmp/sshd.log" ||
	fail "the certificate of a disabled identity is not in the KRL sshd reads"
run "$immune" ssh --print "$acct@$hn" --server-config "$A"
[ "$rc" -ne 0 ] || fail "a disabled identity got a certificate"
echo "access_e2e: OK"
