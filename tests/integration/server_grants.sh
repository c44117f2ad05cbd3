#!/usr/bin/env bash
# SSH signing and just-in-time access at the real immune-server on loopback (docs/access.md):
# identities and policies through the API; immune ssh --print allowed and denied (with the
# server's reason), the certificate's fields read back by ssh-keygen -L (principal, key id,
# source-address 127.0.0.1/32, force-command, the identity extension); immune ssh running a
# stand-in ssh with the certificate, then removing its key directory; a request approved by
# the wrong person (403), by the requester (403), then by an approver named by the policy;
# signing with the grant, revoke, signing refused; break-glass (at once, at most 1 h, a
# critical alert, review); a grant expiring; login events the agent delivers
# (RECORD_ACCESS_EVENT) counted by the least-privilege review.
# usage: server_grants.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT SPOOL-PUT
set -euo pipefail
immune=$1
server=$2
agent=$3
spool_put=$4
src=$IMMUNE_SOURCE_DIR

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-grants
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
command -v ssh-keygen >/dev/null || { echo "SKIP: no ssh-keygen"; exit 77; }

# the session recorder stand-in the certificates force (readable by the test account)
sdir=$(mktemp -d /tmp/immune-grants-session-XXXXXX)
chmod 755 "$sdir"
printf '#!/bin/sh\necho "recorded: $SSH_ORIGINAL_COMMAND"\n' >"$sdir/session"
chmod 755 "$sdir/session"
acct=igr$$
cleanup_grants() {
	[ -n "${sshd_pid:-}" ] && kill "$sshd_pid" 2>/dev/null || true
	id "$acct" >/dev/null 2>&1 && userdel -r "$acct" >/dev/null 2>&1 || true
	rm -rf "$sdir"
	fleet_cleanup
}
trap cleanup_grants EXIT

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" --playbooks none \
	--session-command "$sdir/session" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
fleet_enroll "$state"
"$immune" host show "$host" --json --server-config "$cfg" >"$tmp/host.json" || fail "host show"
hn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host"]["hostname"])' "$tmp/host.json")

# api CONFIG METHOD PATH [BODY]: prints the answer; exits with 0, or the HTTP status / 100.
cat >"$tmp/api.py" <<'PY'
import json, ssl, sys, urllib.request, urllib.error, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
ca = cfg["ca"] if cfg["ca"].startswith("/") else sys.argv[1].rsplit("/", 1)[0] + "/" + cfg["ca"]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(cfg["api"] + sys.argv[3], data=body, method=sys.argv[2],
                             headers={"Authorization": "Bearer " + cfg["token"],
                                      "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.read().decode())
    sys.exit(e.code // 100)
PY
api() { python3 "$tmp/api.py" "$@"; }

# ---- identities, their configurations, the policies ----
# user NAME ROLE GROUPS-JSON: creates the identity and writes $tmp/NAME.yaml with its token
user() {
	local body
	body=$(python3 -c 'import json,sys; d={"name":sys.argv[1],"kind":"person","groups":json.loads(sys.argv[3]),"attributes":{"team":"sre"}}
if sys.argv[2]: d["role"]=sys.argv[2]
print(json.dumps(d))' "$1" "$2" "$3")
	api "$cfg" POST /v1/users "$body" >"$tmp/u.json" || fail "POST /v1/users $1: $(cat "$tmp/u.json")"
	api "$cfg" POST "/v1/users/$1/token" >"$tmp/t.json" || fail "token for $1: $(cat "$tmp/t.json")"
	python3 - "$cfg" "$tmp/t.json" "$tmp/$1.yaml" "$1" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
ca = c["ca"] if c["ca"].startswith("/") else sys.argv[1].rsplit("/", 1)[0] + "/" + c["ca"]
c.update(token=json.load(open(sys.argv[2]))["token"], operator=sys.argv[4], ca=ca)
open(sys.argv[3], "w").write(yaml.safe_dump(c))
PY
}
# identities come with the identities' API (api_users.c); without it there is nothing to test
if ! api "$cfg" GET /v1/users >"$tmp/u.json" 2>&1 && grep -q "no such endpoint" "$tmp/u.json"; then
	echo "SKIP: this server has no /v1/users"
	exit 77
fi
user alice "" '["ops"]'
user carol approver '["leads"]'
user dave approver '["ops"]'

policies=$(python3 -c 'import json, sys; print(json.dumps({"files": [{"name": "access.policy", "content": """
permit ops-login {
  principal: group ops
  action: login as $principal
}
permit local-test {
  principal: user alice
  action: login as ACCOUNT
}
permit deploy-jit {
  principal: group ops
  action: login as deploy
  grant: required; approvers: group leads; max: 4h
}
""".replace("ACCOUNT", sys.argv[1])}]}))' "$acct")
api "$cfg" PUT /v1/policies "$policies" >"$tmp/p.json" || fail "PUT /v1/policies: $(cat "$tmp/p.json")"

A=$tmp/alice.yaml
C=$tmp/carol.yaml
D=$tmp/dave.yaml

# ---- the CA ----
api "$A" GET /v1/ssh/ca >"$tmp/ca.json" || fail "GET /v1/ssh/ca: $(cat "$tmp/ca.json")"
python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["public_key"]; assert k.startswith("ssh-ed25519 "), k; open(sys.argv[2],"w").write(k+"\n")' \
	"$tmp/ca.json" "$tmp/ca.pub" || fail "CA key: $(cat "$tmp/ca.json")"

# ---- signing allowed: alice as alice ----
run "$immune" ssh --print --json "alice@$hn" --server-config "$A"
[ $rc -eq 0 ] || fail "ssh --print alice@$hn ($rc): $(cat "$tmp/err")"
python3 - "$tmp/out" "$tmp/cert.pub" "$host" <<'PY' || fail "sign answer: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["certificate"].startswith("ssh-ed25519-cert-v01@openssh.com "), d
assert d["principals"] == ["alice"] and d["host"]["id"] == sys.argv[3], d
assert d["key_id"].startswith("alice/-/") and d["key_id"].endswith("/" + d["serial"]), d
open(sys.argv[2], "w").write(d["certificate"] + "\n")
PY
ssh-keygen -L -f "$tmp/cert.pub" >"$tmp/cert.txt" || fail "ssh-keygen -L"
for pat in "Type: ssh-ed25519-cert-v01@openssh.com user certificate" 'Key ID: "alice/-/' \
	"source-address 127.0.0.1/32" "force-command $sdir/session" "permit-pty" \
	"immune-identity@immune"; do
	grep -q -- "$pat" "$tmp/cert.txt" || fail "certificate lacks '$pat': $(cat "$tmp/cert.txt")"
done
grep -A2 "Principals:" "$tmp/cert.txt" | grep -q "^ *alice$" || fail "principal: $(cat "$tmp/cert.txt")"
! grep -q "permit-port-forwarding" "$tmp/cert.txt" || fail "port forwarding granted"
ca_fp=$(ssh-keygen -l -f "$tmp/ca.pub" | awk '{print $2}')
grep -q "Signing CA: ED25519 $ca_fp" "$tmp/cert.txt" || fail "signed by another CA: $(cat "$tmp/cert.txt")"
# valid for about 5 minutes, from a minute ago
python3 - "$tmp/cert.txt" <<'PY' || fail "validity: $(grep Valid "$tmp/cert.txt")"
import datetime, re, sys
m = re.search(r"Valid: from (\S+) to (\S+)", open(sys.argv[1]).read())
a, b = (datetime.datetime.fromisoformat(x) for x in m.groups())
assert 350 <= (b - a).total_seconds() <= 370, (a, b)
PY

# ---- signing denied ----
run "$immune" ssh --print "deploy@$hn" --server-config "$A"
[ $rc -eq 1 ] && grep -q "denied: .*no policy permits alice to log in as deploy on $hn" "$tmp/err" \
	|| fail "deploy without a grant ($rc): $(cat "$tmp/err")"
run "$immune" ssh --print "root@$hn" --server-config "$C"
[ $rc -eq 1 ] || fail "carol as root ($rc): $(cat "$tmp/err")"

# ---- immune ssh with a stand-in ssh: arguments, the certificate, the directory removed ----
cat >"$tmp/fakessh" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/ssh.args"
for a in "\$@"; do case "\$a" in CertificateFile=*) f=\${a#CertificateFile=}; cp "\$f" "$tmp/used-cert.pub"; dirname "\$f" >"$tmp/ssh.dir";; esac; done
exit 7
EOF
chmod +x "$tmp/fakessh"
run "$immune" ssh --ssh "$tmp/fakessh" --port 2222 "$hn" --server-config "$A" -- -o HostName=127.0.0.1 uptime
[ $rc -eq 7 ] || fail "immune ssh exit $rc (ssh's 7 expected): $(cat "$tmp/err")"
grep -qx -- "-p" "$tmp/ssh.args" && grep -qx "2222" "$tmp/ssh.args" && grep -qx "IdentitiesOnly=yes" "$tmp/ssh.args" \
	&& grep -qx "HostName=127.0.0.1" "$tmp/ssh.args" && grep -qx "alice@$hn" "$tmp/ssh.args" \
	&& [ "$(tail -n 1 "$tmp/ssh.args")" = uptime ] || fail "ssh arguments: $(cat "$tmp/ssh.args")"
ssh-keygen -L -f "$tmp/used-cert.pub" | grep -q 'Key ID: "alice/-/' || fail "the certificate ssh got"
[ ! -e "$(cat "$tmp/ssh.dir")" ] || fail "the key directory was left behind"

# ---- a real login: sshd trusting the CA, the certificate's force-command and source ----
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ] && command -v useradd >/dev/null; then
	useradd -m -s /bin/sh "$acct" && usermod -p '*' "$acct" || fail "useradd $acct"
	mkdir "$tmp/sshd"
	ssh-keygen -q -t ed25519 -N "" -f "$tmp/sshd/hostkey" || fail "host key"
	sp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'HostKey %s\nTrustedUserCAKeys %s\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPidFile none\n' \
		"$tmp/sshd/hostkey" "$tmp/ca.pub" >"$tmp/sshd/config"
	/usr/sbin/sshd -D -e -f "$tmp/sshd/config" -p "$sp" -E "$tmp/sshd.log" &
	sshd_pid=$!
	for _ in $(seq 1 50); do grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && break; sleep 0.1; done
	sshopts=(-o HostName=127.0.0.1 -p "$sp" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		-o BatchMode=yes -o ConnectTimeout=10)
	run "$immune" ssh "$acct@$hn" --server-config "$A" -- "${sshopts[@]}" hello world
	[ $rc -eq 0 ] && grep -qx "recorded: hello world" "$tmp/out" || fail "login through sshd ($rc): $(cat "$tmp/out" "$tmp/err")"
	grep -q "Accepted publickey for $acct from 127.0.0.1 .* ID alice/-/" "$tmp/sshd.log" || fail "sshd log: $(cat "$tmp/sshd.log")"
	# from another address the certificate's source-address refuses it
	run "$immune" ssh "$acct@$hn" --server-config "$A" -- "${sshopts[@]}" -o BindAddress=127.0.0.2 hello
	[ $rc -eq 255 ] || fail "login from 127.0.0.2 ($rc): $(cat "$tmp/out" "$tmp/err")"
	kill "$sshd_pid"
	wait "$sshd_pid" 2>/dev/null || true
	sshd_pid=""
else
	echo "server_grants: no root, sshd or useradd: the real login is not tried"
fi

# ---- just-in-time: request, wrong approvers, approval, use, revoke ----
run "$immune" access request --host "$hn" --as deploy --for 2h --reason "deploy the fix" --ticket OPS-1 --json --server-config "$A"
[ $rc -eq 0 ] || fail "access request ($rc): $(cat "$tmp/err")"
rid=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["state"]=="pending" and d["approvers"]==["group:leads"] and d["for"]==7200, d; print(d["id"])' "$tmp/out") \
	|| fail "request: $(cat "$tmp/out")"
run "$immune" access request --host "$hn" --as root --reason "nothing permits this" --server-config "$A"
[ $rc -eq 2 ] && grep -q "no policy would permit alice" "$tmp/err" || fail "request for root ($rc): $(cat "$tmp/err")"
run "$immune" access request --host "$hn" --as deploy --server-config "$A"
[ $rc -eq 2 ] && grep -q -- "--reason" "$tmp/err" || fail "request without a reason ($rc)"
run "$immune" access approve "$rid" --server-config "$D"
[ $rc -eq 1 ] && grep -q "dave is not among the approvers" "$tmp/err" || fail "dave approves ($rc): $(cat "$tmp/err")"
run "$immune" access approve "$rid" --server-config "$A"
[ $rc -eq 1 ] || fail "alice approves her own ($rc): $(cat "$tmp/err")"
run "$immune" access requests --json --server-config "$A"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==1 and d["requests"][0]["state"]=="pending", d' "$tmp/out" \
	|| fail "requests: $(cat "$tmp/out")"
run "$immune" access approve "$rid" --json --server-config "$C"
[ $rc -eq 0 ] || fail "carol approves ($rc): $(cat "$tmp/err")"
gid=$(python3 -c '
import json, sys, datetime
g = json.load(open(sys.argv[1]))
s = datetime.datetime.fromisoformat(g["starts"].replace("Z", "+00:00"))
e = datetime.datetime.fromisoformat(g["expires"].replace("Z", "+00:00"))
assert (e - s).total_seconds() == 7200 and g["approved_by"] == "carol" and g["account"] == "deploy", g
assert g["ticket"] == "OPS-1" and g["review"] is None, g
print(g["id"])' "$tmp/out") || fail "grant: $(cat "$tmp/out")"
run "$immune" access approve "$rid" --server-config "$C"
[ $rc -eq 2 ] && grep -q "not pending" "$tmp/err" || fail "second approval ($rc): $(cat "$tmp/err")"
run "$immune" ssh --print --json "deploy@$hn" --server-config "$A"
[ $rc -eq 0 ] || fail "deploy with the grant ($rc): $(cat "$tmp/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["key_id"].startswith("alice/"+sys.argv[2]+"/") and d["principals"]==["deploy"], d' \
	"$tmp/out" "$gid" || fail "key id with the grant: $(cat "$tmp/out")"
run "$immune" access grants --server-config "$A"
[ $rc -eq 0 ] && grep -q "$gid" "$tmp/out" && grep -q "active" "$tmp/out" || fail "grants: $(cat "$tmp/out")"
run "$immune" access revoke "$gid" --server-config "$A"
[ $rc -eq 0 ] || fail "revoke ($rc): $(cat "$tmp/err")"
run "$immune" ssh --print "deploy@$hn" --server-config "$A"
[ $rc -eq 1 ] && grep -q "denied" "$tmp/err" || fail "deploy after revoke ($rc): $(cat "$tmp/err")"

# ---- break-glass ----
run "$immune" access request --host "$hn" --as deploy --for 3h --reason "outage" --break-glass --json --server-config "$A"
[ $rc -eq 0 ] || fail "break-glass ($rc): $(cat "$tmp/err")"
bg=$(python3 -c '
import json, sys, datetime
d = json.load(open(sys.argv[1]))
g = d["grant_doc"]
assert d["state"] == "granted" and d["break_glass"] is True and g["review"] == "required", d
s = datetime.datetime.fromisoformat(g["starts"].replace("Z", "+00:00"))
e = datetime.datetime.fromisoformat(g["expires"].replace("Z", "+00:00"))
assert (e - s).total_seconds() == 3600, g
print(g["id"])' "$tmp/out") || fail "break-glass answer: $(cat "$tmp/out")"
run "$immune" ssh --print "deploy@$hn" --server-config "$A"
[ $rc -eq 0 ] || fail "deploy with break-glass ($rc): $(cat "$tmp/err")"
run "$immune" alerts --json --server-config "$cfg"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = [g for g in d["alerts"] if g["rule_id"] == "access.break_glass"]
assert len(a) == 1 and a[0]["severity"] == "critical", d' "$tmp/out" || fail "break-glass alert: $(cat "$tmp/out")"
run "$immune" access review --done "$bg" --server-config "$A"
[ $rc -eq 1 ] || fail "alice reviews her own break-glass ($rc)"
run "$immune" access review --done "$bg" --server-config "$C"
[ $rc -eq 0 ] || fail "carol reviews ($rc): $(cat "$tmp/err")"
run "$immune" access review --done "$bg" --server-config "$C"
[ $rc -eq 2 ] && grep -q "needs no review" "$tmp/err" || fail "second review ($rc)"
run "$immune" access revoke "$bg" --server-config "$C"
[ $rc -eq 0 ] || fail "carol revokes ($rc)"

# ---- expiry: a grant for 2 seconds ----
run "$immune" access request --host "$hn" --as deploy --for 2 --reason "short" --json --server-config "$A"
rid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/out")
run "$immune" access approve "$rid" --json --server-config "$C"
gid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/out") || fail "approve short"
sleep 3
run "$immune" ssh --print "deploy@$hn" --server-config "$A"
[ $rc -eq 1 ] || fail "deploy after expiry ($rc)"
for _ in $(seq 1 150); do
	api "$A" GET /v1/access/grants >"$tmp/g.json"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(g["id"]==sys.argv[2] and g.get("expired") for g in d["grants"]) else 1)' \
		"$tmp/g.json" "$gid" && break
	sleep 0.1
done
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(g["id"]==sys.argv[2] and g.get("expired") for g in d["grants"]), d' \
	"$tmp/g.json" "$gid" || fail "the tick did not expire the grant"

# ---- access events: a login with the grant, delivered by the agent ----
mkdir "$tmp/rec"
python3 - "$tmp/rec" "$gid" <<'PY'
import json, sys
d, gid = sys.argv[1:3]
open(d + "/login", "w").write(json.dumps({"event": "login", "identity": "alice",
    "account": "deploy", "grant": gid, "serial": "42", "source": "127.0.0.1",
    "policy": "deploy-jit", "reason": None}))
open(d + "/bad", "w").write('{"event": 7}')
PY
"$spool_put" "$state/spool" alerts 10 "$tmp/rec/login" "$tmp/rec/bad" >/dev/null || fail "spool_put"
"$agent" run --no-detect --state "$state" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
	--catalog "$src/policies" --no-collect >>"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 1 300); do
	api "$cfg" GET "/v1/access/review?unused=1h" >"$tmp/rv.json"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["accounts"] or "alice" not in d["identities"] else 1)' "$tmp/rv.json" && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
python3 - "$tmp/rv.json" <<'PY' || fail "review after the login: $(cat "$tmp/rv.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert "alice" not in d["identities"] and "carol" in d["identities"], d
assert d["accounts"] == [], d
PY
api "$cfg" GET "/v1/access/review?unused=1s" >"$tmp/rv.json"
sleep 1.1
api "$cfg" GET "/v1/access/review?unused=1s" >"$tmp/rv.json"
python3 - "$tmp/rv.json" <<'PY' || fail "review 1s: $(cat "$tmp/rv.json")"
import json, sys
d = json.load(open(sys.argv[1]))
a = d["accounts"]
assert len(a) == 1 and a[0]["identity"] == "alice" and a[0]["account"] == "deploy" and a[0]["logins"] == 1, a
PY
api "$A" GET /v1/access/grants >"$tmp/g.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=[g for g in d["grants"] if g["id"]==sys.argv[2]][0]; assert g["last_used"], g' \
	"$tmp/g.json" "$gid" || fail "last_used of the grant: $(cat "$tmp/g.json")"
kill "$apid"; wait "$apid" 2>/dev/null || true; apid=""

# ---- review: roles and listing ----
run "$immune" access review --server-config "$A"
[ $rc -eq 1 ] || fail "alice may not review ($rc)"
run "$immune" access review --unused 1d --json --server-config "$cfg"
[ $rc -eq 0 ] || fail "review ($rc): $(cat "$tmp/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["unused_s"]==86400 and "grants" in d and "identities" in d, d' "$tmp/out" \
	|| fail "review: $(cat "$tmp/out")"
run "$immune" access review --unused 1d --server-config "$cfg"
[ $rc -eq 0 ] && grep -q "Unused for 1 day" "$tmp/out" || fail "review text: $(cat "$tmp/out")"
echo "server_grants: ok"
