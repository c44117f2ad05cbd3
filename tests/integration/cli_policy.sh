#!/usr/bin/env bash
# immune policy check / immune policy test: counts and FILE:LINE:COLUMN errors across files,
# decisions with their explanation and exit codes (0 allow, 1 deny or errors, 2 usage),
# grant approvers, unknown context, and the JSON schemas.
set -euo pipefail
immune=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { set +e; timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }
expect_rc() { [ "$rc" = "$1" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$2: exit $rc, wanted $1"; }; }
has() { grep -qF -- "$1" "$tmp/$2" || { cat "$tmp/$2" >&2; fail "missing in $2: $1"; }; }

mkdir -p "$tmp/p"
cat >"$tmp/p/10-hosts.policy" <<'P'
# host groups
hostgroup web: label role=web, host db-01
P
cat >"$tmp/p/20-ops.policy" <<'P'
permit ops-login-prod {
  principal: group ops, user alice
  action: login as deploy, login as $principal, sudo as postgres, port-forward
  host: label env=prod, hostgroup web
  when: principal.team == "sre" and context.posture >= 80
        and context.source in 10.0.0.0/8 and context.hour in 8..18
  unless: context.alerts.critical > 0 or host.label.tier == "pci"
}
permit jit-db {
  principal: group dev
  action: login as postgres
  host: hostgroup web
  grant: required; approvers: group leads, user carol; max: 4h
}
forbid compromised-hosts {
  when: context.alerts.critical > 0 or context.attestation == "failed"
}
P
echo "not a policy" >"$tmp/p/README"

# check: a directory and a file together
run "$immune" policy check "$tmp/p"
expect_rc 0 "check ok"
has "3 policies in 2 file(s): ok" out
run "$immune" policy check "$tmp/p" --json
expect_rc 0 "check --json"
has '"schema": "immune.policy_check/v1"' out
has '"policies": 3' out

# errors in two files are both reported, with positions
printf 'permit a {\n  when: context.source in 10.0.0.1/8\n}\n' >"$tmp/bad1.policy"
printf 'permit b {\n  host: hostgroup web\n  action: login as\n}\n' >"$tmp/bad2.policy"
run "$immune" policy check "$tmp/bad1.policy" "$tmp/bad2.policy"
expect_rc 1 "check errors"
has "$tmp/bad1.policy:2:27: bad CIDR '10.0.0.1/8'" err
has "$tmp/bad2.policy:4:1: expected account name, found '}'" err
has "2 error(s) in 2 file(s)" out
# cross-file: duplicate names, unknown host group
printf 'permit jit-db { }\n' >"$tmp/dup.policy"
run "$immune" policy check "$tmp/p" "$tmp/dup.policy"
expect_rc 1 "duplicate"
has "$tmp/dup.policy:1:1: duplicate policy name 'jit-db' (first at $tmp/p/20-ops.policy:9)" err
printf 'permit x { host: hostgroup nope }\n' >"$tmp/nogroup.policy"
run "$immune" policy check "$tmp/nogroup.policy" --json
expect_rc 1 "unknown host group"
has '"message": "unknown host group '"'"'nope'"'"'"' out
has '"column": 18' out
run "$immune" policy check "$tmp/missing"
expect_rc 2 "missing path"

base=(policy test --policies "$tmp/p" --principal alice --group ops --attr team=sre
      --action login --as deploy --host web-01 --label env=prod --source 10.1.2.3
      --posture 90 --time 2026-12-08T10:00:00Z)
run "$immune" "${base[@]}"
expect_rc 0 "allow"
has "allow by permit ops-login-prod ($tmp/p/20-ops.policy:1)" out
has "compromised-hosts" out
# a critical alert: the forbid wins
run "$immune" "${base[@]}" --alerts critical=1,high=2
expect_rc 1 "forbid"
has "deny by forbid compromised-hosts" out
has "does not apply: unless: context.alerts.critical > 0" out
# outside the hours
run "$immune" "${base[@]/2026-12-08T10:00:00Z/2026-12-08T22:00:00+02:00}"
expect_rc 1 "hours"
has "when: context.hour in 8..18" out
# unknown posture: the condition does not hold
run "$immune" policy test --policies "$tmp/p" --principal alice --group ops --attr team=sre \
	--action login --as deploy --host web-01 --label env=prod --source 10.1.2.3 \
	--time 2026-12-08T10:00:00Z
expect_rc 1 "unknown posture"
has "when: context.posture >= 80 (unknown)" out
# a grant is needed: approvers
run "$immune" policy test --policies "$tmp/p" --principal dan --group dev --action login \
	--as postgres --host db-01 --json
expect_rc 1 "grant needed"
has '"schema": "immune.policy_test/v1"' out
has '"group:leads"' out
has '"user:carol"' out
has '"max_grant_s": 14400' out
has '"reason": "grant: required (no active grant)"' out
run "$immune" policy test --policies "$tmp/p" --principal dan --group dev --action login \
	--as postgres --host db-01 --grant
expect_rc 0 "with grant"
has "allow by permit jit-db" out
# default deny
run "$immune" policy test --policies "$tmp/p" --principal eve --action sudo --host web-01
expect_rc 1 "default deny"
has "deny: no policy permits this" out

# usage errors
run "$immune" policy test --policies "$tmp/p" --principal a --action reboot --host h
expect_rc 2 "bad action"
has "unknown action 'reboot'" err
run "$immune" policy test --principal a --action login --host h
expect_rc 2 "no policies"
has "test wants --policies" err
run "$immune" policy test --policies "$tmp/p" --principal a --action login --host h --time yesterday
expect_rc 2 "bad time"
run "$immune" policy test --policies "$tmp/none" --principal a --action login --host h
expect_rc 2 "missing policy dir"
run "$immune" policy frobnicate
expect_rc 2 "unknown subcommand"
run "$immune" policy --help
expect_rc 0 "help"
has "immune policy check" out
echo "cli_policy: ok"
