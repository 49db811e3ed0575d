#!/bin/sh
# The kernel suites again, in a throw-away guest of the debug kernel (KCOV, lockdep,
# KASAN, DEBUG_ATOMIC_SLEEP, DWARF: scripts/debug-kernel.sh), as root, with the modules
# that `make build-debug` built against it (build/debug/). `make test` runs it as
#
#   scripts/guest-run.sh --kernel "$DEBUG_KERNEL_IMAGE" -- kmod/tests/run-in-debug-guest.sh RESULT_DIR
#
# In one boot, each writing RESULT_DIR/<suite>.result ("passed N failed M") and its log:
#   1. the C selftests, stress tests included: kmod/tests/run-in-guest.sh with the debug
#      build's modules and no TypeScript suite (core's guest tests check what the stock
#      kernel's build of kpc_target compiles to, line by line, and the distribution's
#      modules: facts of the stock kernel; the example's front ends run in 3, under both
#      backends);
#   2. built-in code: packages/core/test/debug-guest/*.test.ts against the debug kernel's
#      own vmlinux ($KPROBECOV_DEBUG_VMLINUX, with DWARF) and its sources
#      ($KPROBECOV_KERNEL_SRC: the files of the kernel's tree the tests read) -> vmlinux;
#   3. the KCOV backend: packages/core/test/kcov/run-in-guest.sh -> kcov;
#   4. the fidelity corpus against gcov, both backends: test/fidelity/run-in-guest.sh -> fidelity;
#   5. the fuzzer of /dev/kprobecov, a bounded run: kmod/tests/fuzz/run-in-guest.sh -> fuzz.
# Every suite runs whatever the others did. guest-run.sh fails the run on a kernel warning,
# lockdep or KASAN report in the guest's log; each suite also counts one in its own window.
# Exits 1 if a suite's result counts a failure, 2 on bad usage or when this is not the
# debug kernel.
set -u

[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $(uname -r) in
*-kprobecov-debug) ;;
*) echo "run-in-debug-guest: $(uname -r) is not the debug kernel: boot it with scripts/guest-run.sh --kernel \"\$DEBUG_KERNEL_IMAGE\"" >&2; exit 2 ;;
esac
: "${KPROBECOV_DEBUG_VMLINUX:?the debug kernel's vmlinux (make test sets it)}"
: "${KPROBECOV_KERNEL_SRC:?the debug kernel's sources (make test sets it)}"

KPROBECOV_KO=$root/build/debug/kmod/kprobecov.ko
KPROBECOV_TARGET_KO=$root/build/debug/kmod/tests/target/kpc_target.ko
KPROBECOV_ENTRY_KO=$root/build/debug/kmod/tests/target/kpc_entry.ko
KPROBECOV_UNWATCHED_KO=$root/build/debug/kmod/tests/target/kpc_unwatched.ko
KPROBECOV_FAIL_KO=$root/build/debug/kmod/tests/target/kpc_fail.ko
KPROBECOV_TAIL_KO=$root/build/debug/kmod/tests/target/kpc_tail.ko
KPROBECOV_KVSTORE_KO=$root/build/debug/examples/kvstore/driver/kvstore.ko
KPROBECOV_NODE_FLAGS=${KPROBECOV_NODE_FLAGS:---liftoff-only}
export KPROBECOV_KO KPROBECOV_TARGET_KO KPROBECOV_ENTRY_KO KPROBECOV_UNWATCHED_KO KPROBECOV_FAIL_KO KPROBECOV_TAIL_KO KPROBECOV_KVSTORE_KO KPROBECOV_NODE_FLAGS
status=0

echo "# ==== selftests (debug kernel $(uname -r))"
# Its exit status also counts skips, which the debug build has (kprobes do not optimize
# probes whose window holds KASAN's or KCOV's calls): the results decide, below.
# teardown_test (10,000 probes, ~100 s on the stock kernel) is left to the stock guest:
# KASAN's and lockdep's cost per registration would make it many minutes here.
KPROBECOV_GUEST_SUITES= KPROBECOV_SKIP_SELFTESTS=teardown_test "$here/run-in-guest.sh" "$results"

echo "# ==== built-in code (vmlinux)"
if insmod "$KPROBECOV_KO"; then
	"$root/scripts/node-suite.sh" "$results/vmlinux.result" "$root"/packages/core/test/debug-guest/*.test.ts \
		2>&1 | tee "$results/vmlinux.log"
	rmmod kprobecov || { echo "run-in-debug-guest: kprobecov does not unload after the vmlinux tests" >&2; status=1; }
else
	echo "passed 0 failed 1" >"$results/vmlinux.result"
fi

echo "# ==== KCOV backend"
"$root/packages/core/test/kcov/run-in-guest.sh" "$results"

echo "# ==== fidelity against gcov"
"$root/test/fidelity/run-in-guest.sh" "$results"

echo "# ==== the fuzzer of /dev/kprobecov"
"$here/fuzz/run-in-guest.sh" "$results" fuzz

for f in "$results"/*.result; do
	grep -qx 'passed [0-9]* failed 0' "$f" || { echo "run-in-debug-guest: failures in $f" >&2; status=1; }
done
exit "$status"
