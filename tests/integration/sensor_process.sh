#!/usr/bin/env bash
# The process sensor on the real kernel: exec with full argv, cwd, uid and parent image, and
# exit with its code, through each mechanism (auto: eBPF where it loads; proc_connector);
# health names the active mechanism. Needs root; exits 77 when a mechanism is missing.
# usage: sensor_process.sh IMMUNE_AGENT  (runs `IMMUNE_AGENT watch`)
set -euo pipefail
watch=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# run_case MECHANISM: starts the watcher, runs the marked processes, stops it, checks.
run_case() {
	local mech=$1
	local marker="immune-proc-test-$$-$RANDOM-$mech"
	local args=(watch --no-rules --sensors process --duration 30)
	[ "$mech" != auto ] && args+=(--process-mechanism "$mech")
	"$watch" "${args[@]}" >"$tmp/$mech.out" 2>"$tmp/$mech.err" &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/$mech.err" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$tmp/$mech.err" || fail "$mech: watcher did not start: $(cat "$tmp/$mech.err")"
	mkdir -p "$tmp/cwd-$mech"
	(cd "$tmp/cwd-$mech" && /bin/true "$marker" "two words" && /bin/sh -c 'sleep 0.3; exit 3' "$marker-sh") || true
	sleep 1
	kill -TERM "$pid"; wait "$pid" || true; pid=
	grep -q "^health process" "$tmp/$mech.err" || fail "$mech: no health line"
	local health active
	health=$(grep "^health process" "$tmp/$mech.err")
	active=$(sed -n 's/.* active=\([01]\) .*/\1/p' <<<"$health")
	if [ "$active" != 1 ]; then
		echo "SKIP ($mech): $health"
		return 77
	fi
	python3 - "$tmp/$mech.out" "$marker" "$tmp/cwd-$mech" "$mech" "$health" <<'PY' || fail "$mech: events"
import json, sys
path, marker, cwd, mech, health = sys.argv[1:]
evs = [json.loads(l) for l in open(path) if l.strip()]
want = "ebpf" if mech == "auto" else mech
if mech != "auto":
    assert "mechanism=%s " % mech in health, health
execs = [e for e in evs if e["unmapped"]["kind"] == "process_exec"
         and marker in e["process"].get("cmd_line", "")]
sh = [e for e in execs if e["process"]["cmd_line"].endswith(marker + "-sh")]
assert sh, "no exec of sh with the marker (%d events)" % len(evs)
p = sh[0]["process"]
assert p["cmd_line"] == "/bin/sh -c sleep 0.3; exit 3 %s-sh" % marker, p["cmd_line"]
assert p["working_directory"] == cwd, p
assert p["user"]["uid"] == "0" and p["user"]["name"] == "root", p
assert p["parent_process"]["file"]["path"].endswith("bash"), p
assert p["file"]["path"] in ("/bin/dash", "/usr/bin/dash", "/bin/sh", "/usr/bin/sh",
                             "/bin/bash", "/usr/bin/bash"), p
exits = [e for e in evs if e["unmapped"]["kind"] == "process_exit"
         and e["process"]["pid"] == p["pid"]]
assert exits and exits[0]["exit_code"] == 3, exits
if "mechanism=ebpf" in health:
    # eBPF reads argv in the kernel: even /bin/true, gone at once, is complete
    t = [e for e in execs if e["process"]["cmd_line"] == "/bin/true %s two words" % marker]
    assert t, [e["process"]["cmd_line"] for e in execs]
    tp = t[0]["process"]
    assert tp["file"]["path"].endswith("/true") and tp["working_directory"] == cwd, tp
    assert tp["parent_process"]["file"]["path"].endswith("bash"), tp
    ex = [e for e in evs if e["unmapped"]["kind"] == "process_exit"
          and e["process"]["pid"] == tp["pid"]]
    assert ex and ex[0]["exit_code"] == 0, ex
assert " lost=0 " in health, health
print("ok", mech, health)
PY
}

rc_auto=0; run_case auto || rc_auto=$?
rc_nl=0; run_case proc_connector || rc_nl=$?
[ $rc_auto -eq 77 ] && [ $rc_nl -eq 77 ] && exit 77
[ $rc_auto -eq 0 ] || [ $rc_auto -eq 77 ] || exit $rc_auto
[ $rc_nl -eq 0 ] || [ $rc_nl -eq 77 ] || exit $rc_nl
exit 0
