#!/usr/bin/env bash
# create-account on this machine through act_host_driver (apply/verify/rollback directly):
#  - apply creates the account with a bash shell and a home, in the groups asked, with "*"
#    as its password field (certificate logins, no password), and the sudoers drop-in
#    /etc/sudoers.d/immune-USER that visudo accepts; verify agrees;
#  - apply again changes nothing (same uid, same drop-in);
#  - rollback keeps the account but locks it ("!*", expired) and removes the drop-in; verify
#    then fails; apply again makes it usable;
#  - a missing group, a relative sudo command and a sudo command with a comma are refused,
#    and a refused apply creates nothing.
# Needs root; exits 77 (skip) otherwise. The sudoers part needs sudo (visudo).
set -euo pipefail
driver=$1
fail() {
	echo "FAIL: $*" >&2
	[ -f "${tmp:-}/out" ] && sed 's/^/driver: /' "$tmp/out" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
for t in useradd userdel usermod getent; do
	command -v $t >/dev/null || { echo "no $t: skipped"; exit 77; }
done
have_sudo=0
[ -x /usr/sbin/visudo ] && have_sudo=1

tmp=$(mktemp -d)
user="ca$$$RANDOM"
user=${user:0:16}
other="cb$$$RANDOM"
other=${other:0:16}
cleanup() {
	userdel -r "$user" >/dev/null 2>&1 || true
	userdel -r "$other" >/dev/null 2>&1 || true
	rm -f "/etc/sudoers.d/immune-$user" "/etc/sudoers.d/immune-$user.immune-new"
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -m 0700 "$tmp/state"

drive() {
	local want=$1
	shift
	local rc=0
	timeout 60 "$driver" --state "$tmp/state" "$@" >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || fail "act_host_driver $* exited $rc, expected $want"
}
status_is() { grep -q "\"status\":\"$1\"" "$tmp/out" || fail "status is not $1"; }
pwfield() { getent shadow "$1" | cut -d: -f2; }

sudo_args=()
[ $have_sudo = 1 ] && sudo_args=(sudo_commands=/usr/bin/id,/usr/bin/systemctl)

echo "# apply"
drive 0 --undo "$tmp/u1" create-account apply user="$user" groups=adm,users "${sudo_args[@]}"
status_is verified
getent passwd "$user" | grep -q ':/bin/bash$' || fail "the shell is not bash"
home=$(getent passwd "$user" | cut -d: -f6)
[ -d "$home" ] || fail "no home directory"
[ "$(pwfield "$user")" = '*' ] || fail "the password field is not '*'"
id -nG "$user" | tr ' ' '\n' | grep -qx adm || fail "not in adm"
id -nG "$user" | tr ' ' '\n' | grep -qx users || fail "not in users"
uid=$(id -u "$user")
if [ $have_sudo = 1 ]; then
	f=/etc/sudoers.d/immune-$user
	[ -f "$f" ] || fail "no sudoers drop-in"
	[ "$(stat -c %a "$f")" = 440 ] || fail "the drop-in's mode is not 0440"
	grep -qx "$user ALL=(ALL) NOPASSWD: /usr/bin/id, /usr/bin/systemctl" "$f" ||
		fail "the drop-in does not hold the commands"
	visudo -cf "$f" >/dev/null || fail "visudo refuses the drop-in"
fi
drive 0 create-account verify user="$user" groups=adm,users "${sudo_args[@]}"
status_is verified

echo "# apply twice"
drive 0 --undo "$tmp/u2" create-account apply user="$user" groups=adm,users "${sudo_args[@]}"
status_is verified
grep -q 'already there' "$tmp/out" || fail "the second apply did not find the account"
[ "$(id -u "$user")" = "$uid" ] || fail "the uid changed"

echo "# rollback"
drive 0 --undo "$tmp/u1" create-account rollback user="$user" groups=adm,users "${sudo_args[@]}"
status_is rolled_back
getent passwd "$user" >/dev/null || fail "rollback deleted the account"
[ "$(pwfield "$user")" = '!*' ] || fail "rollback did not lock the account"
[ "$(getent shadow "$user" | cut -d: -f8)" = 1 ] || fail "rollback did not expire the account"
[ ! -e "/etc/sudoers.d/immune-$user" ] || fail "rollback left the drop-in"
drive 1 create-account verify user="$user" groups=adm,users
status_is failed
drive 0 --undo "$tmp/u3" create-account apply user="$user" groups=adm,users
status_is verified
[ "$(pwfield "$user")" = '*' ] || fail "apply after rollback did not make the account usable"
[ -z "$(getent shadow "$user" | cut -d: -f8)" ] || fail "apply after rollback left the expiry"
grep -q '"created":true' "$tmp/u3" || fail "apply after rollback does not lock again on rollback"

echo "# refusals"
drive 3 create-account apply user="$other" groups=nosuchgroup$$
status_is refused
getent passwd "$other" >/dev/null && fail "a refused apply created the account"
drive 2 create-account apply user="$other" sudo_commands=bin/true
drive 2 create-account apply user="$other" 'sudo_commands=/bin/true\,ALL'
drive 2 create-account apply user="Bad;Name"
getent passwd "$other" >/dev/null && fail "a bad action created the account"
echo "ok"
