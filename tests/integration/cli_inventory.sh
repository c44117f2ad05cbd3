#!/usr/bin/env bash
# immune inventory: JSON output parses, bad arguments are usage errors, a missing root is clear.
set -euo pipefail
immune=$1
fx=$IMMUNE_FIXTURES/os
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$immune" inventory --root "$fx/debian12-hardened" --json)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tables"]["os"][0]["id"]=="debian", d' \
	|| fail "inventory --json of a fixture"

set +e
err=$("$immune" inventory --root /nonexistent-immune 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "missing root exit code $rc"
grep -q "nonexistent-immune" <<<"$err" || fail "missing root message: $err"

set +e
"$immune" inventory --table nosuchtable >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown table exit code $rc"

"$immune" inventory --schema --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "sshd_config" in d' \
	|| fail "schema"
echo "cli_inventory: ok"
