#!/usr/bin/env bash
# The network actions between two network namespaces joined by a veth pair (ip netns): the
# "host" namespace runs each step in a separate short-lived process (act_net_driver), the
# "peer" namespace listens on 10.232.0.2 and 10.232.0.3. Checks that a block really cuts
# one address, that isolation keeps only the allowed peer, and that the isolation lifts by
# itself when nothing refreshes its lease (the process that applied it is long gone). The
# host's own firewall is listed before and after and must not change. Needs root, ip and
# python3; exits 77 without them.
# usage: respond_net.sh ACT_NET_DRIVER
set -euo pipefail
drv=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: needs ip"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

H=imneth$$ P=imnetp$$ VA=imva$$ VB=imvb$$
tmp=$(mktemp -d)
cleanup() {
	ip netns pids "$P" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$H" 2>/dev/null || true
	ip netns del "$P" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
before=$(nft list tables 2>/dev/null || true)

ip netns add "$H" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip netns add "$P"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$H"
ip link set "$VB" netns "$P"
ip -n "$H" addr add 10.232.0.1/24 dev "$VA"
ip -n "$P" addr add 10.232.0.2/24 dev "$VB"
ip -n "$P" addr add 10.232.0.3/24 dev "$VB"
for ns in "$H" "$P"; do ip -n "$ns" link set lo up; done
ip -n "$H" link set "$VA" up
ip -n "$P" link set "$VB" up
ip netns exec "$P" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64)
while True: s.accept()[0].close()
' &

hx() { ip netns exec "$H" "$@"; }
reach() { hx timeout 2 bash -c "exec 3<>/dev/tcp/$1/8080" 2>/dev/null; }
reach_soon() { for _ in $(seq 10); do reach "$1" && return 0; sleep 0.5; done; return 1; }
act() { hx "$drv" "$tmp" "$@"; }

reach_soon 10.232.0.2 || fail "peer .2 not reachable before any action"
reach_soon 10.232.0.3 || fail "peer .3 not reachable before any action"

# dry run: nothing is created
act apply --dry-run block-address address=10.232.0.2 || fail "dry run"
hx nft list table inet immune >/dev/null 2>&1 && fail "dry run created the table"
reach 10.232.0.2 || fail "dry run cut .2"

# block: .2 is cut both ways, .3 is not; rollback restores it
act apply block-address address=10.232.0.2 duration=10m || fail "block apply"
act verify block-address address=10.232.0.2 || fail "block verify"
reach 10.232.0.2 && fail "blocked .2 still reachable"
reach 10.232.0.3 || fail "block cut .3 too"
set_text=$(hx nft list set inet immune blocked4)
grep -q "10.232.0.2 timeout 10m" <<<"$set_text" || fail "element: $set_text"
act rollback block-address address=10.232.0.2 || fail "block rollback"
act verify block-address address=10.232.0.2 && fail "verify after rollback"
reach_soon 10.232.0.2 || fail ".2 unreachable after rollback"

# isolation keeps the allowed peer only; rollback lifts it
act apply isolate-host allow=10.232.0.3 duration=1h || fail "isolate apply"
act verify isolate-host || fail "isolate verify"
reach 10.232.0.3 || fail "allowed .3 cut by isolation"
reach 10.232.0.2 && fail ".2 reachable while isolated"
act rollback isolate-host || fail "isolate rollback"
reach_soon 10.232.0.2 || fail ".2 unreachable after lifting"

# the dead-man switch: a 2 s lease, nobody alive to refresh it
act apply isolate-host allow=10.232.0.3 duration=1h || fail "isolate apply (lease)"
act refresh 2 || fail "refresh"
reach 10.232.0.2 && fail ".2 reachable right after the refresh"
reach_soon 10.232.0.2 || fail "the isolation did not lift by itself"
act verify isolate-host && fail "verify passed after the lease ran out"
act refresh 60 && fail "a refresh re-isolated the host after the lease ran out"
reach 10.232.0.2 || fail ".2 cut again after the refresh"

after=$(nft list tables 2>/dev/null || true)
[ "$before" = "$after" ] || fail "the host's own tables changed"
echo "respond_net: ok"
