#!/usr/bin/env bash
# Recorded sessions end to end (docs/sessions.md).
# 1. immune-agent session against a stand-in for the agent's socket (session_sock, which
#    serves the messages with the agent's own session_agent code): on a PTY (window size,
#    raw relay, the command's output with increasing times, valid asciicast v2), with pipes
#    (stdout and stderr, exit status), refused when the agent cannot be reached (the
#    command never runs) unless --fail-open, ended by SIGTERM (what the agent sends at
#    offboarding), and the identity from the certificate sshd exposes (SSH_USER_AUTH).
# 2. With a real immune-server and an enrolled immune-agent: the recorded parts delivered
#    through the agent's spool, then `immune session list` and `immune session play --raw`.
# usage: session_record.sh IMMUNE-AGENT SESSION-SOCK IMMUNE [IMMUNE-SERVER SPOOL-PUT]
set -euo pipefail
agent=$1
sock_exe=$2
immune=$3
server=${4:-}
spool_put=${5:-}

. "$(dirname "$0")/fleet_lib.sh"
fleet_init session-record
sockpid=""
sshdpid=""
sshuser=""
cleanup_all() {
	[ -n "$sockpid" ] && kill "$sockpid" 2>/dev/null || true
	[ -n "$sshdpid" ] && kill "$sshdpid" 2>/dev/null || true
	[ -n "$sshuser" ] && userdel "$sshuser" 2>/dev/null || true
	fleet_cleanup
}
trap cleanup_all EXIT

rec=$tmp/records.jsonl
sock=$tmp/access.sock
: >"$rec"
# the SSH CA: the stand-in, like the agent, checks identities against its certificates
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ca" && ssh-keygen -q -t ed25519 -N '' -f "$tmp/user"
"$sock_exe" "$sock" "$rec" --ca "$tmp/ca.pub" >"$tmp/sock.log" 2>&1 &
sockpid=$!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "the stand-in socket did not start"

# Runs the recorder on a PTY of COLSxROWS with SSH_ORIGINAL_COMMAND=$2; output in $tmp/out,
# exit status in $rc.
on_pty() {
	set +e
	timeout 30 python3 - "$agent" "$sock" "$1" "$2" >"$tmp/out" 2>"$tmp/err" <<'PY'
import fcntl, os, struct, sys, termios
agent, sock, size, cmd = sys.argv[1:5]
cols, rows = (int(x) for x in size.split("x"))
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
env = dict(os.environ, SSH_ORIGINAL_COMMAND=cmd, TERM="xterm-256color")
pid = os.fork()
if pid == 0:
    os.close(m)
    os.setsid()
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(s, fd)
    os.execve(agent, [agent, "session", "--socket", sock], env)
os.close(s)
out = b""
resize = os.environ.get("RESIZE_TO")
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
    if resize and b"\n" in out:  # after the first line: the window changes
        c, r = (int(x) for x in resize.split("x"))
        fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
        resize = None
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
PY
	rc=$?
	set -e
}

# Checks the records of the last session in $rec: arguments are python assertions over
# `first` (part 0), `cast` (the header then every event, as text), `events` (parsed),
# `last` (the closing part).
check_last() {
	python3 - "$rec" "$@" <<'PY' || fail "records: $(tail -c 3000 "$rec")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sid = recs[-1]["session"]
parts = sorted((r for r in recs if r["session"] == sid), key=lambda r: r["part"])
assert [p["part"] for p in parts] == list(range(len(parts))), parts
first, last = parts[0], parts[-1]
assert "ended_ns" in last, last
cast = "".join(p["cast"] for p in parts)
lines = cast.splitlines()
header = json.loads(lines[0])
assert header["version"] == 2, header
events = [json.loads(l) for l in lines[1:]]
times = [e[0] for e in events]
assert times == sorted(times) and all(t >= 0 for t in times), times
assert all(len(e) == 3 and e[1] in ("o", "r") and isinstance(e[2], str) for e in events)
out = "".join(e[2] for e in events if e[1] == "o")
for expr in sys.argv[2:]:
    assert eval(expr), (expr, first, last, out, header)
PY
}

# ---- on a PTY ----
on_pty 100x30 'stty size; tty >/dev/null && echo on-a-tty; echo one; sleep 0.3; echo two; exit 4'
[ "$rc" -eq 4 ] || fail "pty: exit $rc, not the command's 4: $(cat "$tmp/err")"
grep -q "30 100" "$tmp/out" && grep -q on-a-tty "$tmp/out" && grep -q two "$tmp/out" \
	|| fail "pty output: $(cat "$tmp/out")"
check_last 'header["width"] == 100 and header["height"] == 30' \
	'header["env"]["TERM"] == "xterm-256color"' \
	'"30 100" in out and "on-a-tty" in out' \
	'out.index("one") < out.index("two")' \
	'[e[0] for e in events if "two" in e[2]][0] - [e[0] for e in events if "one" in e[2]][0] >= 0.25' \
	'last["exit"] == 4 and first["command"].startswith("stty size")' \
	'first["account"] and first["identity"] is None and first["pid"] > 0'

# a window change reaches the command and the recording
RESIZE_TO=120x40 on_pty 100x30 'stty size; sleep 0.5; stty size'
[ "$rc" -eq 0 ] && grep -q "40 120" "$tmp/out" || fail "resize: exit $rc: $(cat "$tmp/out")"
check_last 'any(e[1] == "r" and e[2] == "120x40" for e in events)' \
	'"30 100" in out and "40 120" in out' \
	'[e[0] for e in events if e[1] == "r"][0] <= [e[0] for e in events if "40 120" in e[2]][0]'

# bytes that are not UTF-8, and a UTF-8 character cut between two writes
on_pty 80x24 "printf 'a\\342\\202'; sleep 0.2; printf '\\254b\\377\\n'"
[ "$rc" -eq 0 ] || fail "pty utf-8: exit $rc"
check_last 'out == "a\u20acb\ufffd\r\n"'

# ---- with pipes (no PTY): stdout and stderr both recorded ----
set +e
SSH_ORIGINAL_COMMAND='echo to-out; echo to-err >&2; read x; echo "got $x"; exit 7' \
	timeout 30 "$agent" session --socket "$sock" <<<"input-line" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 7 ] || fail "pipes: exit $rc: $(cat "$tmp/err")"
grep -q to-out "$tmp/out" && grep -q "got input-line" "$tmp/out" && grep -q to-err "$tmp/err" \
	|| fail "pipes output: $(cat "$tmp/out") / $(cat "$tmp/err")"
check_last '"to-out" in out and "to-err" in out and "got input-line" in out' 'last["exit"] == 7' \
	'header["width"] == 80 and header["height"] == 24'

# a command that stops reading its input while input still comes: the session goes on
set +e
head -c 3000000 /dev/zero | SSH_ORIGINAL_COMMAND='exec 0<&-; sleep 0.3; echo closed-stdin' \
	timeout 20 "$agent" session --socket "$sock" >"$tmp/out" 2>"$tmp/err"
rc=${PIPESTATUS[1]}
set -e
[ "$rc" -eq 0 ] && grep -q closed-stdin "$tmp/out" || fail "closed input: exit $rc: $(cat "$tmp/err")"

# ---- SIGTERM (the agent ending an identity's sessions) hangs the command up ----
set +e
SSH_ORIGINAL_COMMAND='echo started; exec sleep 60' timeout 30 "$agent" session --socket "$sock" \
	</dev/null >"$tmp/out" 2>"$tmp/err" &
rpid=$!
for _ in $(seq 1 100); do grep -q started "$tmp/out" && break; sleep 0.05; done
kill -TERM "$rpid"
wait "$rpid"
rc=$?
set -e
[ "$rc" -ne 124 ] || fail "the recorder did not end its session on SIGTERM"
check_last '"started" in out' 'last["exit"] is not None and last["exit"] >= 128'

# ---- refused when the agent cannot be reached; --fail-open runs it unrecorded ----
n_before=$(wc -l <"$rec")
set +e
SSH_ORIGINAL_COMMAND="touch $tmp/ran" timeout 30 "$agent" session --socket "$tmp/none.sock" \
	</dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 255 ] || fail "unreachable agent: exit $rc (255 expected)"
[ ! -e "$tmp/ran" ] || fail "the command ran although the session could not be recorded"
grep -q "refused" "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
set +e
SSH_ORIGINAL_COMMAND="touch $tmp/ran" timeout 30 "$agent" session --socket "$tmp/none.sock" \
	--fail-open </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 0 ] && [ -e "$tmp/ran" ] || fail "--fail-open: exit $rc, ran: $(ls "$tmp")"
grep -q "not recorded" "$tmp/err" || fail "--fail-open says nothing: $(cat "$tmp/err")"
[ "$(wc -l <"$rec")" -eq "$n_before" ] || fail "records appeared for an unrecorded session"

# ---- the agent going away in the middle ends the session (unless --fail-open) ----
for mode in closed open; do
	"$sock_exe" "$tmp/gone.sock" "$tmp/gone.jsonl" >>"$tmp/sock.log" 2>&1 &
	gpid=$!
	for _ in $(seq 1 100); do [ -S "$tmp/gone.sock" ] && break; sleep 0.05; done
	set +e
	SSH_ORIGINAL_COMMAND='sleep 1; echo still-here' timeout 30 "$agent" session \
		--socket "$tmp/gone.sock" $([ $mode = open ] && echo --fail-open) \
		</dev/null >"$tmp/out" 2>"$tmp/err" &
	rpid=$!
	sleep 0.3
	kill "$gpid"
	wait "$gpid"
	wait "$rpid"
	rc=$?
	set -e
	if [ $mode = closed ]; then
		[ "$rc" -eq 255 ] && ! grep -q still-here "$tmp/out" && grep -q "went away" "$tmp/err" \
			|| fail "agent gone: exit $rc: $(cat "$tmp/out" "$tmp/err")"
	else
		[ "$rc" -eq 0 ] && grep -q still-here "$tmp/out" && grep -q "unrecorded" "$tmp/err" \
			|| fail "agent gone, --fail-open: exit $rc: $(cat "$tmp/out" "$tmp/err")"
	fi
done

# ---- the identity from the certificate (ExposeAuthInfo's SSH_USER_AUTH) ----
ssh-keygen -q -s "$tmp/ca" -I "alice/grant-7/12345" -n "$(id -un)" -V -1m:+5m "$tmp/user.pub" \
	2>/dev/null
printf 'publickey %s\n' "$(cut -d' ' -f1-2 "$tmp/user-cert.pub")" >"$tmp/auth-info"
set +e
SSH_USER_AUTH=$tmp/auth-info SSH_ORIGINAL_COMMAND='echo hi' timeout 30 "$agent" session \
	--socket "$sock" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "with a certificate: exit $rc: $(cat "$tmp/err")"
check_last 'first["identity"] == "alice" and first["identity_verified"]' '"hi" in out'
# a certificate from another CA does not vouch: the session is refused
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ca2"
cp "$tmp/user.pub" "$tmp/user2.pub"
ssh-keygen -q -s "$tmp/ca2" -I "alice/grant-7/1" -n "$(id -un)" -V -1m:+5m "$tmp/user2.pub" \
	2>/dev/null
printf 'publickey %s\n' "$(cut -d' ' -f1-2 "$tmp/user2-cert.pub")" >"$tmp/auth-info2"
set +e
SSH_USER_AUTH=$tmp/auth-info2 SSH_ORIGINAL_COMMAND="touch $tmp/ran2" timeout 30 "$agent" \
	session --socket "$sock" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 255 ] && [ ! -e "$tmp/ran2" ] && grep -q "vouches" "$tmp/err" \
	|| fail "another CA's certificate: exit $rc: $(cat "$tmp/err")"

# ---- through a real sshd: the certificate's force-command runs the recorder ----
if [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/sshd ] && command -v useradd >/dev/null; then
	user=imsr$$
	useradd -M -d "$tmp/home" -s /bin/bash "$user"
	sshuser=$user
	mkdir -p "$tmp/home" && chown "$user" "$tmp/home"
	usermod -p '*' "$user"
	chmod 0711 "$tmp" # the account reaches the socket (0666) and nothing else
	# the stand-in checks, like the agent, that the account is the caller's
	kill "$sockpid"; wait "$sockpid" 2>/dev/null || true
	"$sock_exe" "$sock" "$rec" --ca "$tmp/ca.pub" >>"$tmp/sock.log" 2>&1 &
	sockpid=$!
	for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
	read -r PS < <(python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
	cat >"$tmp/sshd_config" <<EOF_SSHD
Port $PS
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
TrustedUserCAKeys $tmp/ca.pub
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
ExposeAuthInfo yes
EOF_SSHD
	/usr/sbin/sshd -D -e -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
	sshdpid=$!
	ssh-keygen -q -s "$tmp/ca" -I "alice/grant-9/777" -n "$user" -V -1m:+5m \
		-O force-command="$agent session --socket $sock" -O clear -O permit-pty \
		"$tmp/user.pub" 2>/dev/null
	sshc() {
		timeout 30 ssh -F /dev/null -i "$tmp/user" -o CertificateFile="$tmp/user-cert.pub" \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
			-o LogLevel=ERROR -p "$PS" "$@"
	}
	for _ in $(seq 1 100); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
			"$PS" 2>/dev/null && break
		sleep 0.05
	done
	set +e
	sshc -tt "$user@127.0.0.1" 'echo via-sshd; tty; exit 6' </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	[ "$rc" -eq 6 ] || fail "ssh -tt: exit $rc: $(cat "$tmp/out" "$tmp/err" "$tmp/sshd.log")"
	grep -q via-sshd "$tmp/out" && grep -q /dev/pts "$tmp/out" || fail "ssh -tt output: $(cat "$tmp/out")"
	check_last "first['account'] == '$user' and first['identity'] == 'alice'" \
		'first["identity_verified"]' \
		'"via-sshd" in out and "/dev/pts" in out' 'last["exit"] == 6'
	set +e
	sshc "$user@127.0.0.1" 'echo no-pty; echo err >&2; exit 5' </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	[ "$rc" -eq 5 ] && grep -q no-pty "$tmp/out" || fail "ssh: exit $rc: $(cat "$tmp/out" "$tmp/err")"
	check_last "first['account'] == '$user'" '"no-pty" in out and "err" in out' 'last["exit"] == 5'
	kill "$sshdpid" 2>/dev/null || true
	wait "$sshdpid" 2>/dev/null || true
	echo "sshd: ok"
else
	echo "not root or no sshd: the sshd part is skipped"
fi

kill "$sockpid"
wait "$sockpid" 2>/dev/null || true
sockpid=""
echo "recorder: ok ($(wc -l <"$rec") records)"

# ---- through a real agent and server ----
if [ -z "$server" ]; then
	echo "no immune-server built: the server part is skipped"
	exit 0
fi
data=$tmp/data
state=$tmp/agent
cfg=$data/client.yaml
"$server" --data "$data" --listen "127.0.0.1:$PA" --api "127.0.0.1:$PB" \
	--catalog "$IMMUNE_SOURCE_DIR/policies" >"$tmp/server.log" 2>&1 &
spid=$!
fleet_wait_server
fleet_enroll "$state"

# every record the stand-in made, as RECORD_SESSION (11) on the alerts stream
mkdir "$tmp/parts"
python3 - "$rec" "$tmp/parts" <<'PY'
import sys
for i, l in enumerate(open(sys.argv[1])):
    open("%s/%04d" % (sys.argv[2], i), "w").write(l.rstrip("\n"))
PY
"$spool_put" "$state/spool" alerts 11 "$tmp"/parts/* >/dev/null || fail "spool_put"
nparts=$(ls "$tmp/parts" | wc -l)
"$agent" run --no-detect --no-collect --state "$state" --catalog "$IMMUNE_SOURCE_DIR/policies" \
	--root "$IMMUNE_FIXTURES/os/debian12-hardened" >>"$tmp/agent.log" 2>&1 &
apid=$!
nsessions=$(python3 -c '
import json, sys
print(len({json.loads(l)["session"] for l in open(sys.argv[1])}))' "$rec")
ok=""
for _ in $(seq 1 300); do
	set +e
	"$immune" session list --json --server-config "$cfg" >"$tmp/list.json" 2>"$tmp/err"
	src=$?
	set -e
	if [ "$src" -ne 0 ] && grep -q "no such endpoint: /v1/sessions" "$tmp/err"; then
		# the API's router does not call api_route_sessions yet (it comes with the roles
		# of the identities work): the recorder parts ran, the API part cannot
		echo "SKIP: GET /v1/sessions is not routed by this server build"
		exit 77
	fi
	[ "$src" -eq 0 ] || fail "immune session list (exit $src): $(cat "$tmp/err")"
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["count"] == int(sys.argv[2]) and all(s["ended"] for s in d["sessions"]) else 1)' \
		"$tmp/list.json" "$nsessions"
	then
		ok=1
		break
	fi
	kill -0 "$apid" 2>/dev/null || fail "the agent exited"
	sleep 0.1
done
[ -n "$ok" ] || fail "immune session list: not $nsessions ended sessions: $(cat "$tmp/list.json")"
# every session as the agent recorded it
python3 - "$tmp/list.json" "$rec" <<'PY' || fail "session list: $(cat "$tmp/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = {s["id"]: s for s in d["sessions"]}
recs = [json.loads(l) for l in open(sys.argv[2])]
starts = sorted(s["started"] for s in d["sessions"])
assert [s["started"] for s in d["sessions"]] == starts[::-1], "not newest first"
for r in recs:
    s = got[r["session"]]
    if r["part"] == 0:
        for k in ("identity", "identity_verified", "account", "command", "width", "height",
                  "uid"):
            assert s[k] == r[k], (k, s, r)
    if "ended_ns" in r:
        assert s["exit"] == r["exit"] and s["parts"] == r["part"] + 1, (s, r)
    assert s["bytes"] > 0
pty = [x for x in d["sessions"] if (x["command"] or "").startswith("stty size; tty")][0]
assert pty["height"] == 30 and pty["command"].startswith("stty size") and pty["exit"] == 4, pty
open(sys.argv[1] + ".id", "w").write(pty["id"])
PY
id=$(cat "$tmp/list.json.id")
nalice=$(python3 -c '
import json, sys
print(len({json.loads(l)["session"] for l in open(sys.argv[1]) if json.loads(l).get("identity") == "alice"}))' "$rec")
run "$immune" session list --identity alice --server-config "$cfg"
[ "$rc" -eq 0 ] && grep -q alice "$tmp/out" && grep -q "^$nalice session" "$tmp/out" \
	|| fail "session list --identity alice ($rc): $(cat "$tmp/out" "$tmp/err")"
run "$immune" session list --identity nobody --json --server-config "$cfg"
[ "$rc" -eq 0 ] && grep -q '"count": 0' "$tmp/out" || fail "--identity nobody: $(cat "$tmp/out")"
run "$immune" session play "$id" --raw --server-config "$cfg"
[ "$rc" -eq 0 ] || fail "play --raw ($rc): $(cat "$tmp/err")"
python3 - "$tmp/out" <<'PY' || fail "play --raw: $(cat "$tmp/out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
h = json.loads(lines[0])
assert h["version"] == 2 and h["width"] == 100 and h["height"] == 30, h
ev = [json.loads(l) for l in lines[1:]]
out = "".join(e[2] for e in ev if e[1] == "o")
assert "on-a-tty" in out and out.index("one") < out.index("two"), out
PY
run "$immune" session play "$id" --speed 100 --server-config "$cfg"
[ "$rc" -eq 0 ] && grep -q "on-a-tty" "$tmp/out" && grep -q two "$tmp/out" \
	|| fail "play ($rc): $(cat "$tmp/out" "$tmp/err")"
run "$immune" session play 00000000000000000000000000000000 --raw --server-config "$cfg"
[ "$rc" -eq 2 ] || fail "play of an unknown session: exit $rc"
echo "server: ok ($nparts parts, $nsessions sessions)"
