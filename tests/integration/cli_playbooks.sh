#!/usr/bin/env bash
# immune playbooks check / immune playbooks test: the shipped playbooks load; problems are
# listed as FILE:LINE: ID: reason while the others load; test prints the steps an alert or a
# failing check would bring, skipped steps with their reason, --json; exit codes (0 ok,
# 1 rejected playbooks, 2 usage or unreadable input).
set -euo pipefail
immune=$1
src=$IMMUNE_SOURCE_DIR
fixtures=$src/tests/fixtures/playbooks
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { set +e; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }
has() { grep -qF -- "$1" "$tmp/$2" || { cat "$tmp/out" "$tmp/err" >&2; fail "no '$1' in $2"; }; }

# the shipped playbooks
run "$immune" playbooks check "$src/rules/playbooks"
[ "$rc" = 0 ] || { cat "$tmp/out"; fail "shipped playbooks: exit $rc"; }
has "7 playbooks loaded, 0 errors" out

# a directory with a good playbook and two broken ones
mkdir -p "$tmp/pb/sub"
cat >"$tmp/pb/good.yml" <<'Y'
id: good
trigger: {tag: attack.t1059}
steps:
  - action: kill-process
    params: {pid: "{{pid}}", tree: true}
    mode: auto
    local: true
Y
cat >"$tmp/pb/sub/bad.yml" <<'Y'
id: bad
trigger: {rule: r1}
steps:
  - action: block-address
    params: {address: "{{src_ip}}", port: 22}
---
id: worse
trigger: {rule: r1}
colour: red
steps: [{action: isolate-host}]
Y
run "$immune" playbooks check "$tmp/pb"
[ "$rc" = 1 ] || fail "check with errors: exit $rc, want 1"
has "1 playbooks loaded, 2 errors" out
has "$tmp/pb/sub/bad.yml:5: bad: block-address: unknown parameter 'port'" out
has "$tmp/pb/sub/bad.yml:9: worse: unknown key 'colour'" out
run "$immune" playbooks check "$tmp/pb" --json
[ "$rc" = 1 ] || fail "check --json: exit $rc"
python3 - "$tmp/out" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.playbooks_check/v1", d
assert d["loaded"] == 1 and d["errors_count"] == 2, d
P

# an alert in one JSON document: the brute force source is blocked
run "$immune" playbooks test "$src/rules/playbooks" --alert "$fixtures/ssh_brute_force.json"
[ "$rc" = 0 ] || { cat "$tmp/err"; fail "test brute force: exit $rc"; }
has "ssh-brute-force-block step 0: auto block-address (local)" out
has "address=203.0.113.7" out

# a key added to alice's authorized_keys (the FIM event names it): removed after approval
run "$immune" playbooks test "$src/rules/playbooks" --alert "$fixtures/authorized_key_added.json"
[ "$rc" = 0 ] || { cat "$tmp/err"; fail "test authorized key: exit $rc"; }
has "ssh-authorized-key-remove step 0: approve remove-authorized-key user=alice,fingerprint=SHA256:vWXTMeKV/DvAS4F+knNORdkwgqpXbeMBkIoHDwOVGWU" out

# alerts one per line; a core host is never isolated; the near miss matches nothing
run "$immune" playbooks test "$src/rules/playbooks" --label tier=core \
	--alert "$fixtures/reverse_shell.jsonl"
[ "$rc" = 0 ] || fail "test reverse shell: exit $rc"
has "reverse-shell-contain step 0: auto kill-process (local) pid=4242" out
has "skipped: reverse-shell-contain step 1: protected host 'web-1'" out
has "no playbook matches" out
run "$immune" playbooks test "$src/rules/playbooks" --json \
	--alert "$fixtures/reverse_shell.jsonl"
python3 - "$tmp/out" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "immune.playbooks_test/v1", d
r = d["results"]
assert len(r) == 2, r
steps = r[0]["steps"]
assert [s["action"] for s in steps] == ["kill-process", "isolate-host"], steps
assert steps[0]["params"] == {"pid": 4242, "tree": True}, steps[0]
assert steps[1]["mode"] == "approve" and steps[1]["local"] is False, steps[1]
assert r[1]["steps"] == [] and r[1]["skipped"] == [], r[1]
P

# a failing check: its fix from the catalog
run "$immune" playbooks test "$src/rules/playbooks" --check ssh-permit-root-login
[ "$rc" = 0 ] || { cat "$tmp/err"; fail "test check: exit $rc"; }
has "sshd-config-drift-fix-logins step 0: approve apply-fix" out
has "PermitRootLogin" out

# a template whose field the alert lacks: skipped with the reason
cat >"$tmp/user.yml" <<'Y'
id: lock
trigger: {rule: 8dc3f66f-d238-4128-a98b-08874d7d3554}
steps: [{action: lock-user, params: {user: "{{actor_user}}"}}]
Y
run "$immune" playbooks test "$tmp/user.yml" --alert "$fixtures/ssh_brute_force.json"
[ "$rc" = 0 ] || fail "test missing field: exit $rc"
has "skipped: lock step 0: no actor_user in the event" out

# unreadable input and usage errors
echo 'not json' >"$tmp/bad.json"
run "$immune" playbooks test "$src/rules/playbooks" --alert "$tmp/bad.json"
[ "$rc" = 2 ] || fail "unreadable alert: exit $rc, want 2"
has "bad.json:1: not an alert" err
run "$immune" playbooks test "$src/rules/playbooks"
[ "$rc" = 2 ] || fail "test without input: exit $rc"
run "$immune" playbooks check --alert x
[ "$rc" = 2 ] || fail "check --alert: exit $rc"
run "$immune" playbooks check "$tmp/none"
[ "$rc" = 2 ] || fail "missing path: exit $rc"
run "$immune" playbooks frobnicate
[ "$rc" = 2 ] || fail "unknown verb: exit $rc"
echo ok
