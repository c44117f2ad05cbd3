#!/usr/bin/env bash
# The agent's access role with a real sshd on a loopback port. An access bundle (a CA made
# by access_driver, four policies, two grants, a disabled identity, a revoked serial) is
# written into a test state; access_driver runs the role (src/agent/access.c), which writes
# ca.pub, revoked.krl and the sshd drop-in (after sshd -t); sshd then runs with a config that
# includes the drop-in, and `immune-agent principals` decides every certificate login:
#  - alice (group ops) logs in as the first account: allowed, a "login" record;
#  - alice as the second account: forbidden by policy (no-second), a "denied" record;
#  - bob (disabled in the bundle) and carol (serial revoked in the KRL) are refused;
#  - dave logs in as the third account with his active grant; without a grant, or with an
#    expired one, he is refused;
#  - principals answers root, but not another user (peer credentials); another user holding
#    connections gets 32 and does not lock root out;
#  - a session of alice registered over the socket, and a recorded session of hers
#    (immune-agent session as the certificate's force-command, its identity checked against
#    the certificate), are ended by access-revoke (kill of their process trees), her account
#    locked, her next login refused, a "revoked" record written;
#    a user cannot register another user's process;
#  - after a restart the revocation holds (STATE/access-local.json);
#  - a bundle without access.json refuses every login, until a good one is back;
#  - a critical alert raised on the host refuses dave's login (forbid on-alert).
# Needs root, sshd, ssh and ssh-keygen; exits 77 (skip) otherwise.
set -euo pipefail
driver=$(realpath "$1")
agent=$(realpath "$2")
fail() {
	echo "FAIL: $*" >&2
	for f in drv.out drv.err sshd.log ssh.err; do
		[ -f "${tmp:-}/$f" ] && tail -n 30 "$tmp/$f" | sed "s/^/$f: /" >&2
	done
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
for t in /usr/sbin/sshd ssh ssh-keygen useradd userdel usermod setpriv timeout; do
	command -v $t >/dev/null || { echo "no $t: skipped"; exit 77; }
done
id nobody >/dev/null 2>&1 || { echo "no user nobody: skipped"; exit 77; }

tmp=$(mktemp -d)
chmod 0711 "$tmp" # the principals user reaches STATE/access.sock through it
# sshd runs AuthorizedPrincipalsCommand only from a path no one but root can change (no
# group- or world-writable directory up to /, which rules out a checkout below /tmp)
bindir=$(mktemp -d /run/immune-access-XXXXXX)
chmod 0755 "$bindir"
install -m 0755 "$agent" "$bindir/immune-agent"
agent=$bindir/immune-agent
u1="aa$$${RANDOM}"
u1=${u1:0:14}a
u2=${u1:0:14}b
u3=${u1:0:14}c
sshd_pid=
drv_pid=
bg_pid=
rec_pid=
cleanup() {
	exec 3>&- 2>/dev/null || true
	for p in $bg_pid $rec_pid $sshd_pid $drv_pid; do kill "$p" 2>/dev/null || true; done
	for u in "$u1" "$u2" "$u3"; do
		pkill -9 -u "$u" 2>/dev/null || true
		userdel -r "$u" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp" "$bindir"
}
trap cleanup EXIT

for u in "$u1" "$u2" "$u3"; do
	useradd -m -s /bin/sh "$u"
	usermod -p '*' "$u"
done
mkdir -p /run/sshd
state=$tmp/state
mkdir -m 0700 "$state" "$state/access"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey"
"$driver" ca-pub "$tmp/ca.pem" >"$tmp/ca.pub" || fail "no CA"
now=$(date +%s)

cat >"$state/access/access.json" <<EOF
{"version": 1, "ca": "$(cat "$tmp/ca.pub")",
 "grants": [
  {"id": "g1", "identity": "dave", "host": null, "label": "env=test", "account": "$u3",
   "sudo": false, "starts": $((now - 60)), "expires": $((now + 3600)), "ticket": "T-1"},
  {"id": "g2", "identity": "dave", "host": null, "label": null, "account": "$u3",
   "starts": "2020-01-01T00:00:00Z", "expires": "2020-01-02T00:00:00Z"}],
 "disabled": ["bob"], "revoked_serials": [666], "revoked_key_ids": [],
 "record_sessions": false}
EOF
cat >"$state/access/test.policy" <<EOF
permit team-login {
  principal: group ops
  action: login as $u1, login as $u2
}
forbid no-second {
  action: login as $u2
}
permit jit {
  principal: user dave
  action: login as $u3
  grant: required
}
forbid on-alert {
  when: context.alerts.critical > 0
}
EOF
port=$((20000 + RANDOM % 20000))
cat >"$tmp/sshd_config" <<EOF
Include $tmp/sshd.d/*.conf
ListenAddress 127.0.0.1
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
access:
  dir: $tmp/ssh
  sshd_dropin: $tmp/sshd.d/50-immune-access.conf
  sshd_config: $tmp/sshd_config
  sshd_pid_file: $tmp/sshd.pid
  principals_command: $agent
  alert_window: 1h
EOF

# The driver reads commands from a fifo; its answers go to drv.out.
mkfifo "$tmp/cmd"
start_driver() {
	: >"$tmp/drv.out"
	"$driver" run "$state" "$tmp/agent.yaml" 0123456789abcdef0123456789abcdef env=test \
		<"$tmp/cmd" >>"$tmp/drv.out" 2>>"$tmp/drv.err" &
	drv_pid=$!
	exec 3>"$tmp/cmd"
	for _ in $(seq 100); do grep -q '^ready' "$tmp/drv.out" && return; sleep 0.1; done
	fail "the driver did not start"
}
stop_driver() {
	echo quit >&3
	exec 3>&-
	wait "$drv_pid" || fail "the driver failed"
	drv_pid=
}
# Sends a command and waits for its answer line ($2: the answer's first word).
cmd() {
	local n
	n=$(wc -l <"$tmp/drv.out")
	echo "$1" >&3
	for _ in $(seq 100); do
		[ "$(tail -n +$((n + 1)) "$tmp/drv.out" | grep -c "^${2:-ok}")" -gt 0 ] && return
		sleep 0.1
	done
	fail "no answer to '$1'"
}
records() { cmd records end; }

# sign SERIAL KEY_ID ACCOUNT IDENTITY GROUP: the certificate to tmp/cert
sign() { # ... [FORCE_COMMAND]
	"$driver" sign "$tmp/ca.pem" "$tmp/userkey.pub" "$1" "$2" "$3" \
		"{\"name\":\"$4\",\"groups\":[\"$5\"],\"attributes\":{\"team\":\"sre\"}}" \
		${6:+"$6"} >"$tmp/cert" || fail "cannot sign"
}
login() { # ACCOUNT: 0 when the login worked
	env -u SSH_AUTH_SOCK timeout 20 ssh -F /dev/null -i "$tmp/userkey" \
		-o CertificateFile="$tmp/cert" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
		-o LogLevel=ERROR -p "$port" "$1@127.0.0.1" echo logged-in >"$tmp/ssh.out" \
		2>"$tmp/ssh.err" && grep -qx logged-in "$tmp/ssh.out"
}
cert_b64() { awk '{print $2}' "$tmp/cert"; }
principals() { # ACCOUNT [USER]: what immune-agent principals prints
	local conn="127.0.0.1 40000 127.0.0.1 $port"
	if [ -n "${2:-}" ]; then
		setpriv --reuid="$(id -u "$2")" --regid="$(id -g "$2")" --clear-groups \
			"$agent" principals --state "$state" \
			"$1" "$(cert_b64)" "$conn"
	else
		"$agent" principals --state "$state" "$1" "$(cert_b64)" "$conn"
	fi
}

echo "# the role writes the sshd files"
start_driver
for f in "$tmp/ssh/ca.pub" "$tmp/ssh/revoked.krl" "$tmp/sshd.d/50-immune-access.conf"; do
	[ -s "$f" ] || fail "$f was not written"
done
drop=$tmp/sshd.d/50-immune-access.conf
grep -qx "TrustedUserCAKeys $tmp/ssh/ca.pub" "$drop" || fail "no TrustedUserCAKeys"
grep -qx "RevokedKeys $tmp/ssh/revoked.krl" "$drop" || fail "no RevokedKeys"
grep -Eqx "AuthorizedPrincipalsCommand $agent principals --state $state %u %k( %C)?" "$drop" ||
	fail "no AuthorizedPrincipalsCommand"
grep -qx "AuthorizedPrincipalsCommandUser nobody" "$drop" || fail "no principals user"
ssh-keygen -Q -l -f "$tmp/ssh/revoked.krl" >/dev/null 2>&1 || true
[ "$(stat -c %a "$state/access.sock")" = 666 ] || fail "the socket is not 0666"

/usr/sbin/sshd -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do grep -q 'Server listening' "$tmp/sshd.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'Server listening' "$tmp/sshd.log" || fail "sshd did not start"

echo "# permitted"
sign 1001 "alice/-/1001" "$u1" alice ops
login "$u1" || fail "alice could not log in as $u1"
echo "# forbidden by policy"
sign 1002 "alice/-/1002" "$u2" alice ops
login "$u2" && fail "alice logged in as $u2"
records
grep -q "\"event\":\"login\".*" "$tmp/drv.out" || fail "no login record"
grep '"event":"login"' "$tmp/drv.out" | grep -q '"identity":"alice"' || fail "the login record names no alice"
grep '"event":"login"' "$tmp/drv.out" | grep -q '"source":"127.0.0.1"' ||
	fail "the login record does not give the client's address"
grep '"event":"denied"' "$tmp/drv.out" | grep -q '"policy":"no-second"' ||
	fail "the denied record does not name no-second"

echo "# disabled identity, revoked serial"
sign 1003 "bob/-/1003" "$u1" bob ops
login "$u1" && fail "disabled bob logged in"
sign 666 "carol/-/666" "$u1" carol ops
login "$u1" && fail "carol logged in with a revoked serial"
[ -z "$(principals "$u1")" ] || fail "principals allowed a revoked serial"

echo "# grants"
sign 2001 "dave/g1/2001" "$u3" dave dev
login "$u3" || fail "dave could not log in with his grant"
sign 2002 "dave/-/2002" "$u3" dave dev
login "$u3" && fail "dave logged in without a grant"
sign 2003 "dave/g2/2003" "$u3" dave dev
login "$u3" && fail "dave logged in with an expired grant"
records
grep '"event":"login"' "$tmp/drv.out" | grep -q '"grant":"g1"' || fail "no login record with grant g1"

echo "# who may ask"
sign 1004 "alice/-/1004" "$u1" alice ops
[ "$(principals "$u1")" = "$u1" ] || fail "principals did not allow alice for root"
[ -z "$(principals "$u1" "$u2")" ] || fail "principals answered another user"
[ -z "$(principals "$u1" nobody)" ] && fail "principals refused the principals user"

if [ -x /usr/bin/python3 ]; then
	echo "# another user holding connections does not lock sshd out"
	# as the second account: 40 connections, each asked something; count those answered
	setpriv --reuid="$(id -u "$u2")" --regid="$(id -g "$u2")" --clear-groups /usr/bin/python3 -c '
import socket, sys, time
held, answered = [], 0
for i in range(40):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    try:
        s.connect(sys.argv[1])
        s.send(b"{\"type\": \"nothing\"}")
        if s.recv(1024):
            answered += 1
    except OSError:
        pass
    held.append(s)
print(answered)
sys.stdout.flush()
time.sleep(3)
' "$state/access.sock" >"$tmp/held" 2>"$tmp/held.err" &
	holder=$!
	for _ in $(seq 200); do [ -s "$tmp/held" ] && break; sleep 0.1; done
	[ "$(cat "$tmp/held")" = 32 ] || fail "another user got $(cat "$tmp/held") connections, not 32: $(cat "$tmp/held.err")"
	[ "$(principals "$u1")" = "$u1" ] || fail "root was locked out by another user's connections"
	wait "$holder" || true
fi

echo "# access-revoke ends a live session"
env -u SSH_AUTH_SOCK timeout 120 ssh -F /dev/null -i "$tmp/userkey" -o CertificateFile="$tmp/cert" \
	-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$port" "$u1@127.0.0.1" \
	'exec sleep 300' </dev/null >/dev/null 2>&1 &
bg_pid=$!
spid=
for _ in $(seq 100); do
	spid=$(pgrep -u "$u1" -x sleep | head -n1 || true)
	[ -n "$spid" ] && break
	sleep 0.1
done
[ -n "$spid" ] || fail "the session did not start"
setpriv --reuid="$(id -u "$u2")" --regid="$(id -g "$u2")" --clear-groups \
	"$driver" register "$state" "$spid" alice s-1 2>/dev/null && fail "another user registered the session"
"$driver" register "$state" "$spid" alice s-1 || fail "the session was not registered"
# a recorded session of alice as the first account: the recorder (immune-agent session, the
# certificate's force-command), whose identity the agent checks against the certificate
"$agent" help | grep -q '^ *session ' || fail "this immune-agent has no session recorder"
sign 1005 "alice/-/1005" "$u1" alice ops "$agent session --state $state"
cp "$tmp/cert" "$tmp/cert.rec"
env -u SSH_AUTH_SOCK timeout 120 ssh -F /dev/null -i "$tmp/userkey" \
	-o CertificateFile="$tmp/cert.rec" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-p "$port" "$u1@127.0.0.1" 'sleep 301' </dev/null >"$tmp/rec.out" 2>"$tmp/rec.err" &
rec_pid=$!
for _ in $(seq 100); do pgrep -u "$u1" -f 'sleep 301' >/dev/null && break; sleep 0.1; done
pgrep -u "$u1" -f 'sleep 301' >/dev/null ||
	fail "the recorded session did not start: $(cat "$tmp/rec.err")"
cmd "revoke alice 1004,1001 $u1"
for _ in $(seq 100); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$bg_pid" 2>/dev/null && fail "the session still runs"
bg_pid=
grep -q '^action kill-process 1 ' "$tmp/drv.out" || fail "the session was not killed"
grep -q '^action lock-user 1 ' "$tmp/drv.out" || fail "the account was not locked"
login "$u1" && fail "alice logged in after her revocation"
records
for _ in $(seq 100); do kill -0 "$rec_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$rec_pid" 2>/dev/null && fail "the recorded session still runs"
rec_pid=
grep '"event":"revoked"' "$tmp/drv.out" | grep -q '"sessions_ended":2' ||
	fail "no revoked record with two sessions ended"
grep -q '"cast":' "$tmp/drv.out" || fail "no record of the recorded session"
grep -q '"identity_verified":true' "$tmp/drv.out" ||
	fail "the recorded session's identity was not checked against the certificate"
grep -q '"alice"' "$state/access-local.json" || fail "the revocation was not saved"

echo "# a restart keeps the revocation"
stop_driver
start_driver
[ -z "$(principals "$u1")" ] || fail "alice is allowed again after a restart"
sign 2004 "dave/g1/2004" "$u3" dave dev
login "$u3" || fail "dave could not log in after the restart"

echo "# a bundle without access.json refuses every login; a good one comes back"
mv "$state/access/access.json" "$tmp/access.json.saved"
cmd reload
[ -z "$(principals "$u3")" ] || fail "allowed without access.json"
mv "$tmp/access.json.saved" "$state/access/access.json"
cmd reload
[ "$(principals "$u3")" = "$u3" ] || fail "not allowed once access.json is back"

echo "# a critical alert on the host"
cmd "alert critical"
login "$u3" && fail "dave logged in with a critical alert open"
records
grep '"event":"denied"' "$tmp/drv.out" | grep -q '"policy":"on-alert"' || fail "no denial by on-alert"
stop_driver
[ ! -e "$state/access.sock" ] || fail "the socket was left behind"
echo "ok"
