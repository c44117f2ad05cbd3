#!/usr/bin/env bash
# bench/offboard: how long offboarding takes to reach a connected fleet. For each N given
# (default 1000 and 10000), bench/fleetsim starts immune-server on loopback, enrolls and
# connects N simulated agents, creates an identity and times POST /v1/users/NAME/disable:
# from just before the request is sent to the moment each agent received its Command
# access-revoke (CLOCK_MONOTONIC of the same machine). Prints p50, p99 and max over the
# agents, the API's answer time and how many agents were notified.
# usage: bench/offboard.sh [BUILD-DIR (build)] [N...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
fleetsim=$build/bench/fleetsim
[ -x "$fleetsim" ] || { echo "offboard: $fleetsim is missing (ninja -C $build)" >&2; exit 2; }
for n in "${sizes[@]}"; do
	echo "== offboarding with $n connected agents"
	"$fleetsim" --agents "$n" --phases connect,offboard --concurrency 256 \
		--server-arg=--playbooks --server-arg=none | grep -E '^(fleetsim|connect: [0-9]|offboard|server: peak)'
done
