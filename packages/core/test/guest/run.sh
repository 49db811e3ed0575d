#!/bin/sh
# Runs @kprobecov/core's tests against the real device. Meant for a throw-away
# guest, as root (kmod/tests/run-in-guest.sh calls it; alone:
# scripts/guest-run.sh -- packages/core/test/guest/run.sh RESULT_DIR):
#
#   packages/core/test/guest/run.sh RESULT_DIR
#
# Loads kmod/kprobecov.ko ($KPROBECOV_KO) and kmod/tests/target/kpc_target.ko
# ($KPROBECOV_TARGET_KO) unless they are loaded, and leaves them loaded (the
# caller unloads them). Runs every *.test.ts of this directory in ONE Node
# process (Node starts slowly under TCG) with scripts/node-suite.sh, which
# writes RESULT_DIR/core-guest.result ("passed N failed M"). The tests write
# their measurements to RESULT_DIR/core-guest-cost.txt. Exits 1 if a test
# failed or a module did not load, 2 on bad usage.
set -u

[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
mkdir -p "$results" || exit 2
results=$(cd "$results" && pwd)

load() { # name path
	[ -e "/sys/module/$1/initstate" ] && return 0
	insmod "$2"
}
for m in "kprobecov ${KPROBECOV_KO:-$root/kmod/kprobecov.ko}" \
	"kpc_target ${KPROBECOV_TARGET_KO:-$root/kmod/tests/target/kpc_target.ko}"; do
	set -- $m
	if ! load "$1" "$2"; then
		echo "core-guest: cannot load $2" >&2
		echo "passed 0 failed 1" >"$results/core-guest.result"
		echo "# not run: $1 did not load" >>"$results/core-guest.result"
		exit 1
	fi
done

KPROBECOV_GUEST_RESULTS=$results "$root/scripts/node-suite.sh" "$results/core-guest.result" \
	--test-isolation=none "$here"/*.test.ts
grep -q '^passed [0-9]* failed 0$' "$results/core-guest.result"
