#!/bin/sh
# The KCOV backend's tests, in a throw-away guest of the debug kernel (CONFIG_KCOV,
# KCOV_INSTRUMENT_ALL, KCOV_ENABLE_COMPARISONS; scripts/debug-kernel.sh), as root, with the
# modules `make build-debug` built against it. kmod/tests/run-in-debug-guest.sh calls it
# after the other debug suites; alone:
#
#   scripts/guest-run.sh --kernel "$DEBUG_KERNEL_IMAGE" --out build/kcov-guest -- \
#       packages/core/test/kcov/run-in-guest.sh RESULT_DIR
#
# Runs, each adding to the counts:
#   native    build/native/kpc-tests: KCOV itself (this thread, a barrier of threads,
#             overflow, comparison operands) besides the host's checks
#   backend   backend.test.ts: exact lines of a driver path, libuv's pool, child processes,
#             module_init, the cross-check against kprobes, kprobecov run --backend kcov,
#             kprobecov cmp, comparisons from the API
#   runners   examples/kvstore's Vitest and Jest suites with KPROBECOV_BACKEND=kcov (the
#             functions each test file covers), and the cross-check of the Vitest suite
#             under both backends (the lines each test file covers)
# A kernel warning (lockdep, KASAN, ...) in dmesg while it runs is one more failure.
# Writes RESULT_DIR/kcov.result ("passed N failed M") and RESULT_DIR/kcov/ (logs). Loads
# kprobecov and kvstore ($KPROBECOV_KO, $KPROBECOV_KVSTORE_KO; default build/debug/) and
# unloads them at the end. Exits 1 if anything failed, 2 on bad usage.
set -u

[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
example=$root/examples/kvstore
logs=$results/kcov
rm -rf "$logs" && mkdir -p "$logs"
KPROBECOV_KO=${KPROBECOV_KO:-$root/build/debug/kmod/kprobecov.ko}
KPROBECOV_KVSTORE_KO=${KPROBECOV_KVSTORE_KO:-$root/build/debug/examples/kvstore/driver/kvstore.ko}
export KPROBECOV_KO KPROBECOV_KVSTORE_KO
export KPROBECOV_NODE_FLAGS="${KPROBECOV_NODE_FLAGS:---liftoff-only}"
node="node --liftoff-only"
splat='WARNING:|BUG:|Oops|general protection|circular locking|inconsistent lock state'
splat="$splat|recursive locking|suspicious RCU usage|sleeping function called from invalid context"
splat="$splat|KASAN:|UBSAN:|kernel BUG|Call Trace:"
passed=0 failed=0
dmesg_before=$(dmesg | wc -l)

finish() {
	new=$(dmesg | tail -n +"$((dmesg_before + 1))")
	if [ -n "$new" ]; then
		echo "$new" >"$logs/dmesg.log"
		if echo "$new" | grep -q -E "$splat"; then
			echo "not ok - the kernel stayed quiet (see $logs/dmesg.log)"
			failed=$((failed + 1))
		fi
	fi
	echo "passed $passed failed $failed" >"$results/kcov.result"
	echo "# kcov: passed $passed failed $failed"
	[ "$failed" -eq 0 ]
	exit
}

check() { # name, then a command that succeeds when the check holds
	name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
	fi
}

# Adds a suite's "passed N failed M" (from a line matching $2 in file $1) to the counts.
add_counts() { # file sed-expression name
	line=$(sed -n "$2" "$1" 2>/dev/null | tail -n 1)
	suite=$3
	if [ -z "$line" ]; then
		echo "not ok - $suite reported nothing"
		failed=$((failed + 1))
		return
	fi
	set -- $line
	passed=$((passed + $1))
	failed=$((failed + $2))
	echo "# $suite: passed $1 failed $2"
}

if [ ! -e /sys/kernel/debug/kcov ]; then
	echo "kcov: /sys/kernel/debug/kcov is missing: this is not the debug kernel (uname -r: $(uname -r))" >&2
	failed=1
	finish
fi
for ko in "$KPROBECOV_KO" "$KPROBECOV_KVSTORE_KO"; do
	[ -f "$ko" ] || { echo "kcov: $ko is missing: make build-debug" >&2; failed=1; finish; }
done

# --- native: KCOV itself
echo "# ---- native"
"$root/build/native/kpc-tests" "$root/build/native/fixture" "$root/native/tests/fixture/kpc_fixture.c" \
	"$root/build/native/fixture-kcov" "$root/build/native/fixture-ibt" >"$logs/native.log" 2>&1
grep -E '^(ok|not ok) .*kcov_|^#   ' "$logs/native.log"
add_counts "$logs/native.log" 's/^# passed \([0-9]*\) failed \([0-9]*\)$/\1 \2/p' native

# --- backend: the library and the CLI against the driver
echo "# ---- backend"
[ -e /sys/module/kprobecov/initstate ] || insmod "$KPROBECOV_KO" || { echo "kcov: cannot load $KPROBECOV_KO" >&2; failed=$((failed + 1)); }
[ -e /sys/module/kvstore/initstate ] || insmod "$KPROBECOV_KVSTORE_KO" || { echo "kcov: cannot load $KPROBECOV_KVSTORE_KO" >&2; failed=$((failed + 1)); }
KPROBECOV_GUEST_RESULTS=$logs "$root/scripts/node-suite.sh" "$logs/backend.result" --test-isolation=none \
	"$here/backend.test.ts" 2>&1 | tee "$logs/backend.log"
add_counts "$logs/backend.result" 's/^passed \([0-9]*\) failed \([0-9]*\)$/\1 \2/p' backend

# --- runners: the example's suites with KCOV, and Vitest's under both backends
echo "# ---- runners"
[ -e /sys/module/kvstore/initstate ] || insmod "$KPROBECOV_KVSTORE_KO"
run() { # name backend command...
	n=$1 b=$2
	shift 2
	echo "# ---- $n: KPROBECOV_BACKEND=$b $*"
	(cd "$example" && KPROBECOV_BACKEND=$b "$@") >"$logs/$n.log" 2>&1
	echo $? >"$logs/$n.rc"
}
rc_is() { [ "$(cat "$logs/$1.rc")" = "$2" ]; }
fns() { sed -n 's/^FNDA:[1-9][0-9]*,//p' "$1" | sort | tr '\n' ' '; }
# The covered lines of an lcov file, among those both files list.
lines_common() { # mine other
	sed -n 's/^DA:\([0-9]*\),.*/\1/p' "$2" | sort -n >"$logs/other.lines"
	sed -n 's/^DA:\([0-9]*\),[1-9][0-9]*$/\1/p' "$1" | sort -n | grep -x -F -f "$logs/other.lines" | tr '\n' ' '
}
same() { [ "$1" = "$2" ] || { echo "# expected: $2"; echo "# got:      $1"; return 1; }; }
STORE_FNS='kvstore_find kvstore_ioctl kvstore_ioctl_get kvstore_read kvstore_valid_key kvstore_valid_value kvstore_write '
ERRORS_FNS='kvstore_find kvstore_valid_key kvstore_write '
STATS_FNS='kvstore_find kvstore_ioctl kvstore_ioctl_get kvstore_valid_key '
vconfig=test/kcov/vitest.config.ts
run vitest-kcov kcov $node node_modules/vitest/vitest.mjs run --config $vconfig --coverage.provider=kprobe
vk=$example/coverage/vitest-kcov/per-test/test/vitest
check "vitest, kcov: exit 0" rc_is vitest-kcov 0
check "vitest, kcov: store.test.ts covers its functions" same "$(fns "$vk/store.test.ts/lcov.info")" "$STORE_FNS"
check "vitest, kcov: errors.test.ts covers its functions" same "$(fns "$vk/errors.test.ts/lcov.info")" "$ERRORS_FNS"
check "vitest, kcov: stats.test.ts covers its functions" same "$(fns "$vk/stats.test.ts/lcov.info")" "$STATS_FNS"
check "vitest, kcov: no warning from the backend" sh -c "! grep -a -q '^kprobecov: ' $logs/vitest-kcov.log"
run vitest-kprobe kprobe $node node_modules/vitest/vitest.mjs run --config $vconfig --coverage.provider=kprobe
vp=$example/coverage/vitest-kprobe/per-test/test/vitest
check "vitest, kprobe: exit 0" rc_is vitest-kprobe 0
for t in store errors stats; do
	check "cross-check: $t.test.ts covers the same lines under kprobes and KCOV" same \
		"$(lines_common "$vk/$t.test.ts/lcov.info" "$vp/$t.test.ts/lcov.info")" "$(lines_common "$vp/$t.test.ts/lcov.info" "$vk/$t.test.ts/lcov.info")"
done
run jest-kcov kcov $node node_modules/jest/bin/jest.js --ci --config test/kcov/jest.config.cjs
jk=$example/coverage/jest-kcov/per-test/test/jest
check "jest, kcov: exit 0" rc_is jest-kcov 0
check "jest, kcov: store.test.ts covers its functions" same "$(fns "$jk/store.test.ts/lcov.info")" "$STORE_FNS"
check "jest, kcov: stats.test.ts covers its functions" same "$(fns "$jk/stats.test.ts/lcov.info")" "$STATS_FNS"
for t in store errors stats; do
	check "jest and vitest under KCOV: $t.test.ts covers the same lines" same \
		"$(lines_common "$jk/$t.test.ts/lcov.info" "$vk/$t.test.ts/lcov.info")" "$(lines_common "$vk/$t.test.ts/lcov.info" "$jk/$t.test.ts/lcov.info")"
done

rmmod kvstore 2>/dev/null
rmmod kprobecov 2>/dev/null
finish
