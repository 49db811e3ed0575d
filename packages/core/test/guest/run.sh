#!/bin/sh
# Runs @kprobecov/core's tests against the real device. Meant for a throw-away
# guest, as root (kmod/tests/run-in-guest.sh calls it; alone:
# scripts/guest-run.sh -- packages/core/test/guest/run.sh RESULT_DIR):
#
#   packages/core/test/guest/run.sh RESULT_DIR
#
# Loads kmod/kprobecov.ko ($KPROBECOV_KO) and kmod/tests/target/kpc_target.ko
# ($KPROBECOV_TARGET_KO) unless they are loaded, and leaves them loaded (the
# caller unloads them). Runs the *.test.ts of this directory with
# scripts/node-suite.sh in two Node processes (Node starts slowly under TCG):
# the library's tests, which write RESULT_DIR/core-guest.result ("passed N
# failed M") and their measurements to RESULT_DIR/core-guest-cost.txt; then
# the CLI's (cli.test.ts), which write RESULT_DIR/core-guest-cli.result. The
# CLI's run apart because they unload and load kpc_target, which the
# library's tests keep open. Exits 1 if a test failed or a module did not
# load, 2 on bad usage.
#
# Node runs with --liftoff-only: under QEMU TCG about one Node start in five
# that strips a few dozen .ts files crashed in V8's tier-up of WebAssembly
# (Node strips types with a WebAssembly module) with "Check failed:
# it->second.Size() > offset"; never with Liftoff only (0 of 40).
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
		for r in core-guest core-guest-cli; do
			echo "passed 0 failed 1" >"$results/$r.result"
			echo "# not run: $1 did not load" >>"$results/$r.result"
		done
		exit 1
	fi
done

export KPROBECOV_NODE_FLAGS="${KPROBECOV_NODE_FLAGS:---liftoff-only}"
library=
for t in "$here"/*.test.ts; do
	[ "$(basename "$t")" = cli.test.ts ] || library="$library $t"
done
# shellcheck disable=SC2086 # file names without spaces
KPROBECOV_GUEST_RESULTS=$results "$root/scripts/node-suite.sh" "$results/core-guest.result" \
	--test-isolation=none $library
KPROBECOV_GUEST_RESULTS=$results "$root/scripts/node-suite.sh" "$results/core-guest-cli.result" \
	--test-isolation=none "$here/cli.test.ts"
grep -q '^passed [0-9]* failed 0$' "$results/core-guest.result" &&
	grep -q '^passed [0-9]* failed 0$' "$results/core-guest-cli.result"
