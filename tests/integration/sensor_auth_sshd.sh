#!/usr/bin/env bash
# The authentication sensor against a real sshd on loopback (sshd -D -E LOGFILE): a failed
# password login, a failed publickey login, a publickey login and a certificate login must
# come out as auth_logon events with user, source address, method, fingerprint and cert id.
# Needs root (a fresh local account); exits 77 (skip) otherwise.
set -euo pipefail
driver=$1
fail() {
	echo "FAIL: $*" >&2
	[ -f "${tmp:-}/sshd.log" ] && sed 's/^/sshd.log: /' "$tmp/sshd.log" >&2
	[ -f "${tmp:-}/driver.err" ] && sed 's/^/driver: /' "$tmp/driver.err" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null &&
	command -v useradd >/dev/null || { echo "no sshd/ssh/useradd: skipped"; exit 77; }

tmp=$(mktemp -d)
user="ia$$$RANDOM"
user=${user:0:16}
sshd_pid=
driver_pid=
cleanup() {
	[ -n "$driver_pid" ] && kill "$driver_pid" 2>/dev/null || true
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	userdel -r "$user" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

useradd -m -s /bin/sh "$user"
usermod -p '*' "$user" # unlocked, and no password matches
mkdir -p /run/sshd
chmod 0755 "$tmp"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/otherkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ca"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/certkey"
certid="immune-test-$user"
ssh-keygen -q -s "$tmp/ca" -I "$certid" -n "$user" -z 4242 "$tmp/certkey.pub"
cp "$tmp/userkey.pub" "$tmp/authorized_keys"
chmod 0644 "$tmp/authorized_keys"
fp_user=$(ssh-keygen -l -f "$tmp/userkey.pub" | awk '{print $2}')
fp_cert=$(ssh-keygen -l -f "$tmp/certkey.pub" | awk '{print $2}')

cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
TrustedUserCAKeys $tmp/ca.pub
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
MaxAuthTries 6
EOF

# The sensor first: the log does not exist yet, so it is read from its start when it appears.
"$driver" --state "$tmp" --duration 90 "$tmp/sshd.log" >"$tmp/events" 2>"$tmp/driver.err" &
driver_pid=$!
for _ in $(seq 50); do grep -q ready "$tmp/driver.err" 2>/dev/null && break; sleep 0.1; done

"$sshd" -D -E "$tmp/sshd.log" -f "$tmp/sshd_config" -p "$port" &
sshd_pid=$!
for _ in $(seq 100); do
	grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "Server listening" "$tmp/sshd.log" || fail "sshd did not start"

ssh_opts=(-F /dev/null -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o ConnectTimeout=10 -o LogLevel=ERROR -o IdentitiesOnly=yes)
# a failed password (the account has none that matches)
printf '#!/bin/sh\necho wrong-password\n' >"$tmp/askpass"
chmod +x "$tmp/askpass"
SSH_ASKPASS="$tmp/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 timeout 20 ssh "${ssh_opts[@]}" \
	-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 \
	"$user@127.0.0.1" true </dev/null && fail "password login succeeded"
# a failed publickey (a key that is not authorized)
timeout 20 ssh "${ssh_opts[@]}" -o BatchMode=yes -o PreferredAuthentications=publickey \
	-i "$tmp/otherkey" "$user@127.0.0.1" true </dev/null && fail "unauthorized key accepted"
# a publickey login
timeout 20 ssh "${ssh_opts[@]}" -o BatchMode=yes -o PreferredAuthentications=publickey \
	-i "$tmp/userkey" "$user@127.0.0.1" true </dev/null || fail "publickey login"
# a certificate login
timeout 20 ssh "${ssh_opts[@]}" -o BatchMode=yes -o PreferredAuthentications=publickey \
	-i "$tmp/certkey" -o CertificateFile="$tmp/certkey-cert.pub" "$user@127.0.0.1" true \
	</dev/null || fail "certificate login"

# wait for the four logons, then stop the sensor (it prints its health)
for _ in $(seq 100); do
	[ "$(grep -c '"auth_logon"' "$tmp/events" || true)" -ge 4 ] &&
		grep -q "$certid" "$tmp/events" && break
	sleep 0.2
done
kill -TERM "$driver_pid"
wait "$driver_pid" || fail "driver exit status"
driver_pid=

python3 - "$tmp/events" "$user" "$fp_user" "$fp_cert" "$certid" <<'PY' || fail "events"
import json, sys
path, user, fp_user, fp_cert, certid = sys.argv[1:]
evs = [json.loads(l) for l in open(path) if l.strip()]
def get(e, p):
    for k in p.split("."):
        if not isinstance(e, dict) or k not in e:
            return None
        e = e[k]
    return e
logons = [e for e in evs if get(e, "unmapped.kind") == "auth_logon" and get(e, "user.name") == user]
def find(status, method, pred=lambda e: True):
    for e in logons:
        if get(e, "status") == status and get(e, "auth_protocol") == method and pred(e):
            return e
    raise SystemExit("no %s %s logon in %s" % (status, method, json.dumps(logons, indent=1)))
for e in logons:
    assert get(e, "class_uid") == 3002, e
    assert get(e, "src_endpoint.ip") == "127.0.0.1", e
    assert isinstance(get(e, "src_endpoint.port"), int), e
    assert get(e, "service.name") == "sshd", e
    assert get(e, "raw_data"), e
find("failure", "password")
find("failure", "publickey")
ok = find("success", "publickey", lambda e: get(e, "unmapped.cert_id") is None)
assert get(ok, "unmapped.key_fingerprint") == fp_user, ok
cert = find("success", "publickey", lambda e: get(e, "unmapped.cert_id") is not None)
assert get(cert, "unmapped.cert_id") == certid, cert
assert get(cert, "unmapped.key_fingerprint") == fp_cert, cert
PY
grep -q "health: name=auth mechanism=logfile active=1" "$tmp/driver.err" || fail "health"
# the offset was kept for the next run
grep -q " $tmp/sshd.log\$" "$tmp/auth-offsets" || fail "offsets not saved"
echo "ok: $(grep -c . "$tmp/events") events; $(grep health: "$tmp/driver.err")"
