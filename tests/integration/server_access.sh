#!/usr/bin/env bash
# The server's access directory with a real immune-server on loopback (--playbooks none) and
# the immune CLI: operator roles on every API call (a viewer gets 403 on changes, an auditor
# reads, an identity without a role sees only itself, a disabled identity's token gets 401),
# identities and groups, directory import (good file; bad file refused with FILE:LINE),
# policy push (refused with FILE:LINE:COL), policy test with its explanation, and offboarding:
# `immune user disable` sends access-revoke to a connected real agent (--no-respond).
# usage: server_access.sh IMMUNE IMMUNE-SERVER IMMUNE-AGENT
set -euo pipefail
immune=$1
server=$2
agent=$3
src=$IMMUNE_SOURCE_DIR

. "$(dirname "$0")/fleet_lib.sh"
fleet_init server-access
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml

"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$src/policies" --playbooks none >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server

jq_py() { # FILE EXPR: prints a Python expression over the JSON document d
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(*v) if isinstance(v, tuple) else print(v)' "$1" "$2"
}
ok() { # CMD...: runs the CLI as admin, must succeed
	run "$immune" "$@" --server-config "$cfg"
	[ "$rc" -eq 0 ] || fail "immune $*: exit $rc: $(cat "$tmp/err")"
}
as() { # CONFIG CMD...: runs the CLI with another identity's configuration
	local c=$1
	shift
	run "$immune" "$@" --server-config "$c"
}
config_for() { # NAME: a client configuration with NAME's new token
	ok user token "$1" --json
	local t
	t=$(jq_py "$tmp/out" 'd["token"]')
	sed "s/^token:.*/token: $t/; s/^operator:.*/operator: $1/" "$cfg" >"$tmp/$1.yaml"
	chmod 600 "$tmp/$1.yaml"
}

# --- the first start's admin is an identity with role admin
ok user list --json
[ "$(jq_py "$tmp/out" '[u["role"] for u in d["users"] if u["name"] == "admin"][0]')" = admin ] ||
	fail "no admin identity: $(cat "$tmp/out")"

# --- identities and groups
ok user add alice --group ops --attr team=sre --attr location=de --role viewer --account alice --json
[ "$(jq_py "$tmp/out" 'd["groups"], d["attributes"]["team"], d["status"], d["kind"]')" = \
	"['ops'] sre active person" ] || fail "alice: $(cat "$tmp/out")"
ok user add bob --role auditor
ok user add carol
ok user add ci-deployer --machine --group deploy --json
[ "$(jq_py "$tmp/out" 'd["kind"]')" = machine ] || fail "machine identity: $(cat "$tmp/out")"
run "$immune" user add 'Bad!' --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "name must be 1-64" "$tmp/err" || fail "bad name accepted: $(cat "$tmp/err")"
run "$immune" user add alice --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "exists" "$tmp/err" || fail "duplicate identity: $(cat "$tmp/err")"
run "$immune" user add dave --role root --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "role must be" "$tmp/err" || fail "bad role accepted"
ok group add ops --description "operations" --attr oncall=yes
ok group add deploy
run "$immune" group add ops --server-config "$cfg"
[ "$rc" -eq 2 ] || fail "duplicate group accepted"
ok group list --json
[ "$(jq_py "$tmp/out" '[g["members"] for g in d["groups"] if g["name"] == "ops"][0]')" = "['alice']" ] ||
	fail "group members: $(cat "$tmp/out")"
ok user set alice --attr team=dba --group ops --group leads --json
[ "$(jq_py "$tmp/out" 'd["attributes"], d["groups"]')" = "{'team': 'dba'} ['ops', 'leads']" ] ||
	fail "user set: $(cat "$tmp/out")"
ok user show alice
grep -q "groups *ops,leads" "$tmp/out" || fail "user show: $(cat "$tmp/out")"

# the last admin cannot lose the role nor be disabled
run "$immune" user set admin --role viewer --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "last admin" "$tmp/err" || fail "the last admin was demoted: $(cat "$tmp/err")"
run "$immune" user disable admin --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "last admin" "$tmp/err" || fail "the last admin was disabled"

# --- roles on every call
config_for alice
config_for bob
config_for carol
as "$tmp/alice.yaml" hosts
[ "$rc" -eq 0 ] || fail "a viewer cannot list hosts: $(cat "$tmp/err")"
as "$tmp/alice.yaml" token create
[ "$rc" -eq 2 ] && grep -q "this needs the admin role; alice has viewer" "$tmp/err" ||
	fail "a viewer created a join token: $rc $(cat "$tmp/err")"
as "$tmp/alice.yaml" user add eve
[ "$rc" -eq 2 ] && grep -q "403" "$tmp/err" || fail "a viewer added an identity"
as "$tmp/bob.yaml" user list --json
[ "$rc" -eq 0 ] || fail "an auditor cannot read identities: $(cat "$tmp/err")"
as "$tmp/bob.yaml" policy push "$tmp/alice.yaml"
[ "$rc" -eq 2 ] && grep -q "this needs the admin role; bob has auditor" "$tmp/err" ||
	fail "an auditor pushed policies: $(cat "$tmp/err")"
as "$tmp/carol.yaml" user show carol --json
[ "$rc" -eq 0 ] || fail "carol cannot see herself: $(cat "$tmp/err")"
as "$tmp/carol.yaml" user show alice
[ "$rc" -eq 2 ] && grep -q "carol has no role" "$tmp/err" || fail "carol saw alice: $(cat "$tmp/err")"
as "$tmp/carol.yaml" hosts
[ "$rc" -eq 2 ] && grep -q "403" "$tmp/err" || fail "carol listed hosts"
# a role change applies to the identity's token at once
ok user set carol --role approver
as "$tmp/carol.yaml" user show alice
[ "$rc" -eq 0 ] || fail "carol as approver cannot read: $(cat "$tmp/err")"
ok user set carol --role none --json
[ "$(jq_py "$tmp/out" 'd["role"]')" = None ] || fail "role none: $(cat "$tmp/out")"
as "$tmp/carol.yaml" hosts
[ "$rc" -eq 2 ] || fail "carol kept the approver role"

# --- policies
mkdir -p "$tmp/pol"
cat >"$tmp/pol/ops.policy" <<'EOF'
permit ops-login {
  principal: group ops
  action: login as $principal
  host: label env=prod
  when: principal.team == "dba"
}
EOF
cat >"$tmp/pol/deny.policy" <<'EOF'
forbid no-contractors {
  principal: group ops
  action: login as $principal
  host: label env=prod
  when: principal.employment == "contractor"
}
EOF
ok policy push "$tmp/pol" --json
[ "$(jq_py "$tmp/out" 'd["files"], d["policies"]')" = "2 2" ] || fail "policy push: $(cat "$tmp/out")"
ok policy list --json
[ "$(jq_py "$tmp/out" 'sorted((p["name"], p["effect"], p["file"], p["line"]) for p in d["policies"])')" = \
	"[('no-contractors', 'forbid', 'deny.policy', 1), ('ops-login', 'permit', 'ops.policy', 1)]" ] ||
	fail "policy list: $(cat "$tmp/out")"
printf 'permit broken {\n  principal: group ops\n  action: fly\n}\n' >"$tmp/broken.policy"
run "$immune" policy push "$tmp/broken.policy" --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "broken.policy:3:" "$tmp/err" || fail "bad policy accepted: $(cat "$tmp/err")"
ok policy list --json
[ "$(jq_py "$tmp/out" 'len(d["policies"])')" = 2 ] || fail "a refused push changed the policies"

# --- policy test at the server (the host comes from the store: enroll one)
fleet_enroll "$state" --label env=prod
"$agent" run --no-detect --state "$state" --root "$IMMUNE_FIXTURES/os/debian12-hardened" \
	--catalog "$src/policies" --no-collect --no-respond >>"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 1 300); do
	"$immune" host show "$host" --json --server-config "$cfg" >"$tmp/host.json" 2>/dev/null || true
	[ "$(jq_py "$tmp/host.json" 'd["host"]["connected"]' 2>/dev/null)" = True ] && break
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
[ "$(jq_py "$tmp/host.json" 'd["host"]["connected"]')" = True ] || fail "the agent did not connect"
run "$immune" policy test --server --principal alice --account alice --host "$host" --json \
	--server-config "$cfg"
[ "$rc" -eq 0 ] || fail "policy test: $rc $(cat "$tmp/out" "$tmp/err")"
[ "$(jq_py "$tmp/out" 'd["allow"], d["decided_by"]["policy"]')" = "True ops-login" ] ||
	fail "policy test: $(cat "$tmp/out")"
ok user set alice --attr team=sre
run "$immune" policy test --server --principal alice --as alice --host "$host" \
	--server-config "$cfg"
[ "$rc" -eq 1 ] && grep -q "DENY" "$tmp/out" && grep -q 'principal.team == "dba"' "$tmp/out" ||
	fail "policy test explanation: $rc $(cat "$tmp/out" "$tmp/err")"

# --- offboarding: access-revoke to the connected agent, the token refused
ok user disable alice --json
[ "$(jq_py "$tmp/out" 'd["identity"], d["hosts_notified"]')" = "alice 1" ] ||
	fail "disable: $(cat "$tmp/out")"
as "$tmp/alice.yaml" hosts
[ "$rc" -eq 2 ] && grep -q "unknown operator token" "$tmp/err" || fail "a disabled identity's token works"
ok user show alice --json
[ "$(jq_py "$tmp/out" 'd["status"], d["offboarding"]["hosts_notified"]')" = "disabled 1" ] ||
	fail "disabled identity: $(cat "$tmp/out")"
run "$immune" user set alice --role admin --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "disabled" "$tmp/err" || fail "a disabled identity was changed"
run "$immune" user token alice --server-config "$cfg"
[ "$rc" -eq 2 ] || fail "a disabled identity got a token"
run "$immune" user disable alice --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "already disabled" "$tmp/err" || fail "disabled twice"
grep -q "identity alice disabled" "$tmp/server.log" || fail "no offboarding in the server's log"
# the agent acted on it at once
for _ in $(seq 1 100); do
	grep -q "access: identity alice revoked" "$tmp/agent.log" && break
	sleep 0.1
done
grep -q "access: identity alice revoked" "$tmp/agent.log" || fail "the agent did not act on access-revoke"
grep -q "access: bundle version [0-9]* loaded" "$tmp/agent.log" || fail "the agent holds no access bundle"
# --- directory import
cat >"$tmp/people.csv" <<'EOF'
name,kind,groups,role,accounts,team
frank,person,ops;leads,viewer,frank,sre
grace,machine,deploy,,,ci
EOF
ok user import "$tmp/people.csv" --json
[ "$(jq_py "$tmp/out" 'd["users_created"]')" = 2 ] || fail "import: $(cat "$tmp/out")"
ok user show grace --json
[ "$(jq_py "$tmp/out" 'd["kind"], d["groups"]')" = "machine ['deploy']" ] ||
	fail "imported identity: $(cat "$tmp/out")"
printf 'name,kind,groups,role,accounts\nhenry,person,,,\nBAD NAME,person,,,\n' >"$tmp/bad.csv"
run "$immune" user import "$tmp/bad.csv" --server-config "$cfg"
[ "$rc" -eq 2 ] && grep -q "bad.csv:3" "$tmp/err" || fail "bad import: $rc $(cat "$tmp/err")"
run "$immune" user show henry --server-config "$cfg"
[ "$rc" -eq 2 ] || fail "a refused import created henry"
# the directory says frank left: imported again, he is offboarded; grace is unchanged
cat >"$tmp/people.yaml" <<'EOF'
identities:
  - name: frank
    kind: person
    groups: [ops, leads]
    status: disabled
  - name: grace
    kind: machine
    groups: [deploy]
    attributes: {team: ci}
EOF
ok user import "$tmp/people.yaml" --json
[ "$(jq_py "$tmp/out" 'd["users_disabled"], d["users_unchanged"], d["users_created"]')" = "1 1 0" ] ||
	fail "import of a leaver: $(cat "$tmp/out")"
ok user show frank --json
[ "$(jq_py "$tmp/out" 'd["status"], d["offboarding"]["hosts_notified"]')" = "disabled 1" ] ||
	fail "the leaver was not offboarded: $(cat "$tmp/out")"

echo "server_access: ok"
