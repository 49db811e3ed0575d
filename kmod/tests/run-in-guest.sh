#!/bin/sh
# Runs kprobecov's kernel selftests. Meant for a throw-away guest, as root:
#
#   scripts/guest-run.sh -- kmod/tests/run-in-guest.sh RESULT_DIR
#
# Loads kmod/kprobecov.ko (or $KPROBECOV_KO), runs each test program (they
# load and unload kmod/tests/target/kpc_target.ko themselves, and reload
# kprobecov from the same file), then unloads both modules and checks that
# they go. For each program it writes RESULT_DIR/<program>.log (its output)
# and RESULT_DIR/<program>.result, whose line `passed N failed M` is what
# counts (skips are a comment); a kernel warning that appears in dmesg while
# a program runs counts as one more failure of that program. The unload
# check is RESULT_DIR/kmod-unload.result. Before the unload, the TypeScript
# tests (packages/core/test/guest/run.sh, examples/kvstore/test/guest/run.sh) write
# RESULT_DIR/core-guest.result and RESULT_DIR/frontends.result the same way
# ($KPROBECOV_GUEST_SUITES, unset: "core-guest frontends", says which; empty: none). Exits 1 if anything failed or was
# skipped (in the guest everything a test needs is there), 2 on bad usage.
#
# Build first, on the host: make -C kmod KDIR=... && make -C kmod/tests KDIR=...
set -u

[ $# -eq 1 ] || { echo "usage: $0 RESULT_DIR" >&2; exit 2; }
results=$1
here=$(cd "$(dirname "$0")" && pwd)
kmod=$(dirname "$here")
KPROBECOV_KO=${KPROBECOV_KO:-$kmod/kprobecov.ko}
export KPROBECOV_KO
# KPROBECOV_SKIP_SELFTESTS: programs left out of this boot (make test: a kernel's known
# problem, named where it is set).
programs=
for p in abi_test probes_test module_test attach_test events_test stress_test ftrace_test privilege_test robust_test teardown_test; do
	case " ${KPROBECOV_SKIP_SELFTESTS-} " in *" $p "*) ;; *) programs="$programs $p" ;; esac
done
splat='WARNING:|BUG:|Oops|general protection|circular locking|inconsistent lock state'
splat="$splat|recursive locking|suspicious RCU usage|sleeping function called from invalid context"
splat="$splat|KASAN:|UBSAN:|kernel BUG|Call Trace:"

mkdir -p "$results" || exit 2
status=0

# $1 program, $2 passed, $3 failed, $4 skipped, $5 note
result() {
	{
		echo "passed $2 failed $3"
		echo "# skipped $4"
		[ -n "$5" ] && echo "# $5"
	} >"$results/$1.result"
}

# What the kernel said since dmesg line $1, appended to the log $2 and shown; a warning
# in it counts as one more failure (adds to $failed and $note of the caller).
kernel_said() { # before log
	new=$(dmesg | tail -n +"$(($1 + 1))")
	[ -n "$new" ] || return 0
	echo "$new" | sed 's/^/# dmesg: /' | tee -a "$2"
	if echo "$new" | grep -q -E "$splat"; then
		failed=$((failed + 1))
		note="${note:+$note; }kernel warning in dmesg while it ran"
	fi
}

# Loads a module unless it is loaded already.
load() { # name path
	[ -e "/sys/module/$1/initstate" ] && return 0
	insmod "$2"
}

if ! load kprobecov "$KPROBECOV_KO"; then
	echo "run-in-guest: cannot load $KPROBECOV_KO" >&2
	for p in $programs; do
		result "$p" 0 1 0 "not run: kprobecov.ko did not load"
	done
	exit 1
fi

for p in $programs; do
	log=$results/$p.log
	if [ ! -x "$here/$p" ]; then
		echo "run-in-guest: $here/$p is not built" >&2
		result "$p" 0 1 0 "not built"
		status=1
		continue
	fi
	before=$(dmesg | wc -l)
	echo "# ---- $p"
	{ "$here/$p"; echo $? >"$results/$p.status"; } 2>&1 | tee "$log"
	rc=$(cat "$results/$p.status")
	rm -f "$results/$p.status"
	summary=$(sed -n 's/^# passed \([0-9]*\) failed \([0-9]*\) skipped \([0-9]*\)$/\1 \2 \3/p' \
		"$log" | tail -n 1)
	note=
	if [ -z "$summary" ]; then
		summary="0 1 0"
		note="exited with status $rc without a summary line"
	fi
	set -- $summary
	passed=$1 failed=$2 skipped=$3
	kernel_said "$before" "$log"
	result "$p" "$passed" "$failed" "$skipped" "$note"
	if [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$rc" -ne 0 ]; then
		status=1
	fi
	echo "# $p: passed $passed failed $failed skipped $skipped (exit $rc)${note:+ ($note)}"
done

# Suites of TypeScript tests against the device, each a script writing
# RESULT_DIR/<name>.result: @kprobecov/core's (packages/core/test/guest/run.sh, which
# leaves kprobecov and kpc_target loaded) and the Vitest and Jest front ends against the
# example driver (examples/kvstore/test/guest/run.sh). A kernel warning while one runs
# counts as one more failure.
ts_suite() { # name script
	name=$1
	log=$results/$name.log
	rm -f "$results/$name.result"
	before=$(dmesg | wc -l)
	echo "# ---- $name"
	{ "$2" "$results"; echo $? >"$results/$name.status"; } 2>&1 | tee "$log"
	rc=$(cat "$results/$name.status")
	rm -f "$results/$name.status"
	summary=$(sed -n 's/^passed \([0-9]*\) failed \([0-9]*\)$/\1 \2/p' "$results/$name.result" 2>/dev/null | head -n 1)
	note=
	if [ -z "$summary" ]; then
		summary="0 1"
		note="exited with status $rc without a result"
	fi
	set -- $summary
	passed=$1 failed=$2
	kernel_said "$before" "$log"
	result "$name" "$passed" "$failed" 0 "$note"
	if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
		status=1
	fi
	echo "# $name: passed $passed failed $failed (exit $rc)${note:+ ($note)}"
}
project=$(dirname "$kmod")
for suite in ${KPROBECOV_GUEST_SUITES-core-guest frontends}; do
	case $suite in
	core-guest) ts_suite core-guest "$project/packages/core/test/guest/run.sh" ;;
	frontends) ts_suite frontends "$project/examples/kvstore/test/guest/run.sh" ;;
	*) echo "run-in-guest: unknown suite $suite in KPROBECOV_GUEST_SUITES" >&2; exit 2 ;;
	esac
done

# Nothing may be left behind: both modules unload.
unload_failed=0
if [ -e /sys/module/kpc_target ] && ! rmmod kpc_target; then
	echo "run-in-guest: kpc_target does not unload" >&2
	unload_failed=1
fi
if ! rmmod kprobecov; then
	refcnt=$(cat /sys/module/kprobecov/refcnt 2>/dev/null)
	echo "run-in-guest: kprobecov does not unload (refcnt $refcnt)" >&2
	unload_failed=1
fi
if [ "$unload_failed" -eq 0 ]; then
	result kmod-unload 1 0 0 ""
else
	result kmod-unload 0 1 0 "a module did not unload after the tests"
	status=1
fi
exit "$status"
