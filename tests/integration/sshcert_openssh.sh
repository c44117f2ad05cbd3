#!/usr/bin/env bash
# Our OpenSSH certificates and KRLs (src/access/sshcert.c, krl.c, through sshcert_driver)
# against the real OpenSSH:
# 1. ssh-keygen -L shows every field as we signed it, ssh-keygen -Q finds our KRL's serials
#    and key ids revoked and the rest not, and we read a KRL ssh-keygen -k wrote;
# 2. (root: a fresh account) a real sshd on loopback with TrustedUserCAKeys and RevokedKeys
#    accepts our certificate, runs its force-command, and refuses it when expired, for
#    another principal, from an address outside source-address, or revoked in our KRL (by
#    serial or key id, also when the KRL changes while sshd runs).
# Without root part 2 is skipped (exit 77 after part 1 passed).
set -euo pipefail
driver=$1
export TZ=UTC
fail() {
	echo "FAIL: $*" >&2
	[ -f "${tmp:-}/sshd.log" ] && tail -n 40 "$tmp/sshd.log" | sed 's/^/sshd.log: /' >&2
	exit 1
}
command -v ssh-keygen >/dev/null || { echo "no ssh-keygen: skipped"; exit 77; }

tmp=$(mktemp -d)
user=
sshd_pid=
cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	[ -n "$user" ] && userdel -r "$user" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"

now=$(date +%s)
"$driver" ca-create "$tmp/ca.pem" || fail "ca-create"
[ "$(stat -c %a "$tmp/ca.pem")" = 600 ] || fail "CA key file mode $(stat -c %a "$tmp/ca.pem")"
"$driver" ca-pub "$tmp/ca.pem" >"$tmp/ca.pub" || fail "ca-pub"
ssh-keygen -l -f "$tmp/ca.pub" >/dev/null || fail "ssh-keygen does not read our CA line"
ca_fp=$(ssh-keygen -l -f "$tmp/ca.pub" | awk '{print $2}')
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key2"

# sign NAME SERIAL KEYID PRINCIPALS AFTER BEFORE [options]: $tmp/NAME-cert.pub for key NAME
sign() {
	local name=$1
	shift
	"$driver" sign "$tmp/ca.pem" "$tmp/$name.pub" "$@" >"$tmp/$name-cert.pub" ||
		fail "sign $*"
}

## 1. ssh-keygen reads what we write
after=$((now - 60))
before=$((now + 600))
sign key 1234567890123 "alice/grant-7/1234567890123" alice,deploy "$after" "$before" \
	source=127.0.0.1/32,10.1.0.0/16 force=/usr/bin/id pty 'ext=immune-identity@immune={"id":"alice"}'
ssh-keygen -L -f "$tmp/key-cert.pub" >"$tmp/L" || fail "ssh-keygen -L refused our certificate"
python3 - "$tmp/L" "$ca_fp" "$(date -d "@$after" +%FT%T)" "$(date -d "@$before" +%FT%T)" <<'PY' ||
import sys
path, ca_fp, after, before = sys.argv[1:]
text = open(path).read()
lines = [l.strip() for l in text.splitlines()]
def section(title):
    i = lines.index(title)
    out = []
    for l in lines[i + 1:]:
        if l.endswith(":") or ": " in l and l.split(": ")[0] in (
                "Type", "Public key", "Signing CA", "Key ID", "Serial", "Valid"):
            break
        out.append(l)
    return out
def want(cond, what):
    if not cond:
        raise SystemExit("%s in:\n%s" % (what, text))
want("Type: ssh-ed25519-cert-v01@openssh.com user certificate" in lines, "type")
want(any(l.startswith("Signing CA: ED25519 " + ca_fp) for l in lines), "signing CA")
want('Key ID: "alice/grant-7/1234567890123"' in lines, "key id")
want("Serial: 1234567890123" in lines, "serial")
want("Valid: from %s to %s" % (after, before) in lines, "validity")
want(section("Principals:") == ["alice", "deploy"], "principals")
want(section("Critical Options:") == ["force-command /usr/bin/id",
                                      "source-address 127.0.0.1/32,10.1.0.0/16"], "options")
ext = section("Extensions:")
want(len(ext) == 2 and ext[0].startswith("immune-identity@immune") and ext[1] == "permit-pty",
     "extensions in order")
PY
	fail "ssh-keygen -L fields"
# and our decoder agrees, with a valid signature
"$driver" parse "$tmp/key-cert.pub" >"$tmp/parsed" || fail "parse"
grep -qx "signature valid" "$tmp/parsed" || fail "signature not valid: $(cat "$tmp/parsed")"
grep -qx "source-address 127.0.0.1/32,10.1.0.0/16" "$tmp/parsed" || fail "parsed options"

# KRL: serials and a key id revoked, others not
sign key 10 "bob/grant-1/10" bob "$after" "$before"
cp "$tmp/key-cert.pub" "$tmp/c10.pub"
sign key 11 "carol/grant-2/11" carol "$after" "$before"
cp "$tmp/key-cert.pub" "$tmp/c11.pub"
sign key 12 "dave/grant-3/12" dave "$after" "$before"
cp "$tmp/key-cert.pub" "$tmp/c12.pub"
sign key 0 "erin/policy/0" erin "$after" "$before"
cp "$tmp/key-cert.pub" "$tmp/c0.pub"
"$driver" krl "$tmp/ca.pem" "$tmp/revoked.krl" 10 3 4 5 6 10 0 id=dave/grant-3/12 ||
	fail "krl build"
check() { # check CERT revoked|ok
	local out
	out=$(ssh-keygen -Q -f "$tmp/revoked.krl" "$1" 2>&1) || true
	case "$2:$out" in
	revoked:*REVOKED*) ;;
	ok:*": ok") ;;
	*) fail "ssh-keygen -Q $1: expected $2, got: $out" ;;
	esac
}
check "$tmp/c10.pub" revoked
check "$tmp/c11.pub" ok
check "$tmp/c12.pub" revoked # by key id
check "$tmp/c0.pub" ok	      # serial 0 is never revoked by serial
ssh-keygen -Q -l -f "$tmp/revoked.krl" >"$tmp/krl.txt" || fail "ssh-keygen -Q -l"
grep -qx "serial: 3-6" "$tmp/krl.txt" && grep -qx "serial: 10" "$tmp/krl.txt" &&
	grep -qx "id: dave/grant-3/12" "$tmp/krl.txt" || fail "KRL listing: $(cat "$tmp/krl.txt")"

# and we read a KRL OpenSSH wrote (ranges, bitmaps or lists, its choice)
printf 'serial: 1-5\nserial: 40\nserial: 42\nserial: 1000\nid: frank\n' >"$tmp/spec"
ssh-keygen -q -k -f "$tmp/openssh.krl" -s "$tmp/ca.pub" "$tmp/spec" || fail "ssh-keygen -k"
"$driver" krl-dump "$tmp/openssh.krl" >"$tmp/dump" || fail "krl-dump of OpenSSH's KRL"
for l in "serials 1-5" "serials 40-40" "serials 42-42" "serials 1000-1000" "key_id frank"; do
	grep -qx "$l" "$tmp/dump" || fail "OpenSSH KRL read: no '$l' in $(cat "$tmp/dump")"
done
grep -q "^ca $(cut -d' ' -f1-2 "$tmp/ca.pub")\$" "$tmp/dump" || fail "KRL CA: $(cat "$tmp/dump")"
echo "ok: ssh-keygen reads our certificates and KRLs"

## 2. a real sshd
[ "$(id -u)" = 0 ] || { echo "not root: sshd part skipped"; exit 77; }
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] && command -v ssh >/dev/null && command -v useradd >/dev/null ||
	{ echo "no sshd/ssh/useradd: skipped"; exit 77; }
u="ic$$$RANDOM"
useradd -m -s /bin/sh "${u:0:16}"
user=${u:0:16}
usermod -p '*' "$user" # unlocked for key logins, no password matches
mkdir -p /run/sshd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
"$driver" krl "$tmp/ca.pem" "$tmp/sshd.krl" 666 id=revoked-id || fail "krl"
cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
AuthorizedKeysFile none
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $tmp/sshd.krl
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
MaxAuthTries 4
EOF
"$sshd" -t -f "$tmp/sshd_config" || fail "sshd -t"
"$sshd" -D -E "$tmp/sshd.log" -f "$tmp/sshd_config" -p "$port" &
sshd_pid=$!
for _ in $(seq 100); do
	grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "Server listening" "$tmp/sshd.log" || fail "sshd did not start"

ssh_opts=(-F /dev/null -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o ConnectTimeout=10 -o LogLevel=ERROR -o IdentitiesOnly=yes -o BatchMode=yes
	-o PreferredAuthentications=publickey)
# login [ssh options...] -- COMMAND: with key2 and its certificate; prints the output
login() {
	local opts=()
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	timeout 20 ssh "${ssh_opts[@]}" "${opts[@]}" -i "$tmp/key2" \
		-o CertificateFile="$tmp/key2-cert.pub" "$user@127.0.0.1" "$@" </dev/null 2>>"$tmp/ssh.err"
}
# refused CASE LOGPATTERN [ssh options]: the login fails and sshd says why
refused() {
	local what=$1 pattern=$2 n
	shift 2
	n=$(grep -Eci "$pattern" "$tmp/sshd.log" || true)
	login "$@" -- true && fail "$what: login accepted"
	for _ in $(seq 50); do
		[ "$(grep -Eci "$pattern" "$tmp/sshd.log" || true)" -gt "$n" ] && return 0
		sleep 0.1
	done
	fail "$what: refused, but sshd.log has no new /$pattern/"
}
valid=("$((now - 60))" "$((now + 600))")

sign key2 777 "$user/grant-1/777" "$user" "${valid[@]}" source=127.0.0.1/32 pty
[ "$(login -- id -un)" = "$user" ] || fail "certificate login"
grep -q "Accepted publickey for $user .*ID $user/grant-1/777 (serial 777)" "$tmp/sshd.log" ||
	fail "sshd did not log the accepted certificate"

# from another loopback address inside source-address
sign key2 778 "$user/grant-1/778" "$user" "${valid[@]}" source=127.0.0.2/32
[ "$(login -b 127.0.0.2 -- id -un)" = "$user" ] || fail "login from 127.0.0.2"
refused "source-address" "not from a permitted source|source address" -b 127.0.0.1

# force-command runs instead of what the client asks for
sign key2 779 "$user/grant-1/779" "$user" "${valid[@]}" "force=/bin/echo forced-by-cert"
[ "$(login -- id -un)" = "forced-by-cert" ] || fail "force-command not run"

sign key2 780 "$user/grant-1/780" "$user" "$((now - 600))" "$((now - 60))"
refused "expired" "expired"
sign key2 781 "$user/grant-1/781" "someone-else" "${valid[@]}"
refused "principal" "not a listed principal|principal"

# revoked in the KRL sshd loaded: by serial, by key id
sign key2 666 "$user/grant-1/666" "$user" "${valid[@]}"
refused "revoked serial" "revoked by file"
sign key2 782 "revoked-id" "$user" "${valid[@]}"
refused "revoked key id" "revoked by file"

# a KRL replaced while sshd runs takes effect at the next login
sign key2 783 "$user/grant-1/783" "$user" "${valid[@]}"
login -- true || fail "login before revocation"
"$driver" krl "$tmp/ca.pem" "$tmp/sshd.krl" 666 783 id=revoked-id || fail "krl update"
refused "revoked while sshd runs" "revoked by file"
out=$(ssh-keygen -Q -f "$tmp/sshd.krl" "$tmp/key2-cert.pub" 2>&1) || true
case $out in *REVOKED*) ;; *) fail "ssh-keygen -Q: $out" ;; esac

echo "ok: sshd accepted our certificate and refused it expired, for another principal," \
	"from outside source-address and revoked"
